// What a Slurm submission would give tasks, without Slurm (no daemons, no sbatch): the dry run's
// script holds exactly the points the submission would (failed ones only with --retry-failed),
// and --point NAME --dry-run says what that point's worker would run, running nothing.
import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { pointsToSubmit } from "../../src/sweep/slurm-backend.ts";
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
