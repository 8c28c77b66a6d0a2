// What a Slurm submission would give tasks, without Slurm (no daemons, no sbatch): the dry run's
// script holds exactly the points the submission would (failed ones only with --retry-failed),
// and --point NAME --dry-run says what that point's worker would run, running nothing.
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { checkSlurmOptions, pointsToSubmit } from "../../src/sweep/slurm-backend.ts";
import type { PointState } from "../../src/sweep/point-state.ts";
import { parseSweep, type SweepPoint } from "../../src/sweep/sweep-file.ts";
import { runStaq, tempDir } from "../io/stack-fixtures.ts";

const SWEEP = { out: "runs", base: { env: "CartPole-v1", preset: "quick", totalSteps: 64 }, grid: { seed: [0, 1, 2, 3] } };

/** seed=0 done, seed=1 failed, seed=2 new, seed=3 with a run made with another lr. */
async function mixedSweep(): Promise<{ file: string; points: SweepPoint[] }> {
  const dir = await tempDir();
  const file = join(dir, "sweep.json");
  await writeFile(file, JSON.stringify(SWEEP));
  const { points } = parseSweep(SWEEP, file);
  const run = async (point: SweepPoint, config: object) => {
    await mkdir(join(point.dir, "checkpoint"), { recursive: true });
    await writeFile(join(point.dir, "config.json"), JSON.stringify({ env: point.env, ...point.config, ...config }));
    await writeFile(join(point.dir, "checkpoint", "state.json"), JSON.stringify({ counters: { globalStep: 64 } }));
  };
  await run(points[0], {});
  await mkdir(points[1].dir, { recursive: true });
  await writeFile(join(points[1].dir, "sweep-failed.json"), JSON.stringify({ exitCode: 1, message: "boom", at: "now" }));
  await run(points[3], { lr: 0.5 });
  return { file, points };
}

test("pointsToSubmit leaves out done, running and queued points, and failed ones unless retried", () => {
  const { points } = parseSweep(SWEEP, "/s/sweep.json");
  const states = new Map<SweepPoint, PointState>(
    (["done", "running", "failed", "new"] as const).map((status, i) => [points[i], { status, step: null }]),
  );
  const names = (list: SweepPoint[]) => list.map((p) => p.name);
  assert.deepEqual(names(pointsToSubmit(points, states, new Set(), false)), ["seed=3"]);
  assert.deepEqual(names(pointsToSubmit(points, states, new Set(), true)), ["seed=2", "seed=3"]);
  assert.deepEqual(names(pointsToSubmit(points, states, new Set(["seed=3"]), true)), ["seed=2"]);
  // An unreadable point is reported, never given a task (it would fail on the same damaged file).
  states.set(points[3], { status: "unreadable", step: null, failure: "cut short" });
  assert.deepEqual(names(pointsToSubmit(points, states, new Set(), true)), ["seed=2"]);
});

test("the Slurm dry run's script lists the points the submission would: a failed one only with --retry-failed", async () => {
  const { file } = await mixedSweep();
  const tasks = (script: string) =>
    /points=\(\n([\s\S]*?)\n\)/
      .exec(script)?.[1]
      .split("\n")
      .map((l) => l.trim());
  const plain = await runStaq(["sweep", file, "--backend", "slurm", "--dry-run"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(tasks(plain.stdout), ["seed=2", "seed=3"]);
  assert.match(plain.stdout, /#SBATCH '--array=0-1'|#SBATCH --array=0-1\n/);
  const retried = await runStaq(["sweep", file, "--backend", "slurm", "--dry-run", "--retry-failed"]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.deepEqual(tasks(retried.stdout), ["seed=1", "seed=2", "seed=3"]);
});

test("--point NAME --dry-run prints what the point's worker would do and trains nothing", async () => {
  const { file, points } = await mixedSweep();
  const dry = (name: string, ...more: string[]) => runStaq(["sweep", file, "--point", name, "--dry-run", ...more]);
  const fresh = await dry("seed=2");
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /^seed=2 \(new\): staq train --env CartPole-v1 --preset quick --out \S+seed=2 --seed 2 --steps 64\n$/);
  assert.match((await dry("seed=0")).stdout, /^seed=0 \(done\): nothing to run: it is done\n$/);
  assert.match(
    (await dry("seed=1")).stdout,
    /^seed=1 \(failed\): nothing to run: it failed before \(boom\); --retry-failed trains it again\n$/,
  );
  assert.match((await dry("seed=1", "--retry-failed")).stdout, /^seed=1 \(new\): staq train --env CartPole-v1 .* --seed 1 --steps 64\n$/);
  assert.match(
    (await dry("seed=3")).stdout,
    /^seed=3 \(changed\): nothing to run: it would fail: .*lr \(0\.5 in the run, 0\.001 in the sweep\)/,
  );
  // Nothing was trained or claimed: no directory for the new point, the failure record kept.
  await assert.rejects(readdir(points[2].dir), /ENOENT/);
  assert.deepEqual((await readdir(points[1].dir)).sort(), ["sweep-failed.json"]);
});

/** A fresh sweep of two points, nothing run. */
async function freshSweep(): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  const file = join(dir, "sweep.json");
  await writeFile(file, JSON.stringify({ ...SWEEP, grid: { seed: [0, 1] } }));
  return { dir, file };
}

test("without sbatch on PATH a Slurm submission fails (exit 2) before it writes anything", async () => {
  const { dir, file } = await freshSweep();
  const empty = join(dir, "bin");
  await mkdir(empty);
  for (let attempt = 0; attempt < 2; attempt++) {
    const result = await runStaq(["sweep", file, "--backend", "slurm"], { ...process.env, PATH: empty });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /sbatch was not found: the Slurm backend needs Slurm's client commands \(sbatch, squeue\) on PATH/);
  }
  assert.deepEqual((await readdir(dir)).sort(), ["bin", "sweep.json"], "no script, no point directories");
});

test("a submission sbatch refuses leaves no script behind (a retry does not add one)", async () => {
  const { dir, file } = await freshSweep();
  const bin = join(dir, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "sbatch"), "#!/bin/sh\necho 'sbatch: error: Invalid partition name specified' >&2\nexit 1\n");
  await chmod(join(bin, "sbatch"), 0o755);
  for (let attempt = 0; attempt < 2; attempt++) {
    const result = await runStaq(["sweep", file, "--backend", "slurm"], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /sbatch refused \S+\.sbatch \(exit code 1\): sbatch: error: Invalid partition name specified/);
  }
  assert.deepEqual((await readdir(dir)).sort(), ["bin", "sweep.json"], "the script and the directories it made are removed");
});

test("a Slurm sweep whose out has a % is refused (Slurm would expand it in #SBATCH --output), exit 2", async () => {
  const { dir, file } = await freshSweep();
  const result = await runStaq(["sweep", file, "--backend", "slurm", "--dry-run", "--out", join(dir, "runs%j")]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /output directory \S+runs%j has a "%", which Slurm reads as a pattern .*give an "out" \(or --out\) without "%"/,
  );
  assert.equal(result.stdout, "");
});

test("--time takes Slurm's forms with minutes and seconds up to 59, and names the field that is over", () => {
  const check = (time: string) => () => checkSlurmOptions({ staq: [], cwd: "/", time });
  for (const time of ["30", "90:30", "1:00:00", "48:59:59", "2-00", "2-12:30", "2-12:30:59"]) assert.doesNotThrow(check(time), time);
  assert.throws(check("1:99:99"), /--time 1:99:99: its minutes are 99, more than 59; write the limit in the next larger unit/);
  assert.throws(check("1:00:60"), /its seconds are 60, more than 59/);
  assert.throws(check("10:75"), /its seconds are 75, more than 59/);
  assert.throws(check("2-1:60"), /its minutes are 60, more than 59/);
  assert.throws(check("2-1:00:99"), /its seconds are 99, more than 59/);
  assert.throws(check("1h"), /--time must be a Slurm time limit \(minutes, M:SS, H:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS\); got "1h"/);
});
