// A point's state from hand-made run directories (no training): a run made with another config than
// the sweep file's is "changed", never done, whatever its checkpoint's step; the worker that takes it
// fails it without training, and --status says which fields differ.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { pointState } from "../../src/sweep/point-state.ts";
import { runPoint } from "../../src/sweep/run-point.ts";
import { parseSweep, type Sweep, type SweepPoint } from "../../src/sweep/sweep-file.ts";
import { runStaq, tempDir } from "../io/stack-fixtures.ts";

const SWEEP = { out: "runs", base: { env: "CartPole-v1", preset: "quick", totalSteps: 64 }, grid: { seed: [0] } };

async function sweepIn(dir: string, json: object = SWEEP): Promise<{ file: string; sweep: Sweep; point: SweepPoint }> {
  const file = join(dir, "sweep.json");
  await writeFile(file, JSON.stringify(json));
  const sweep = parseSweep(json, file);
  return { file, sweep, point: sweep.points[0] };
}

/** A run directory as `staq train` leaves it: config.json and a checkpoint at `step`. */
async function fakeRun(point: SweepPoint, config: Record<string, unknown>, step: number): Promise<void> {
  await mkdir(join(point.dir, "checkpoint"), { recursive: true });
  await writeFile(join(point.dir, "config.json"), JSON.stringify({ env: point.env, preset: point.preset, ...config }));
  await writeFile(join(point.dir, "checkpoint", "state.json"), JSON.stringify({ counters: { globalStep: step } }));
}

test("a finished run whose config matches the point is done; a larger totalSteps makes it partial", async () => {
  const { point } = await sweepIn(await tempDir());
  await fakeRun(point, { ...point.config }, 64);
  assert.deepEqual(await pointState(point), { status: "done", step: 64 });
  await fakeRun(point, { ...point.config, totalSteps: 32 }, 32);
  assert.equal((await pointState(point)).status, "partial", "totalSteps is not a change: a larger one extends the run");
});

test("a finished run made with another config is changed, not done, naming the fields and what to do", async () => {
  const { point } = await sweepIn(await tempDir());
  await fakeRun(point, { ...point.config, lr: 0.002 }, 64);
  const state = await pointState(point);
  assert.equal(state.status, "changed");
  assert.match(
    state.failure ?? "",
    /holds a run whose config differs from the sweep file's: lr \(0\.002 in the run, 0\.001 in the sweep\)/,
  );
  assert.match(state.failure ?? "", /Move the directory away .*, or change the sweep file back and run it with --retry-failed/);
});

test("a run made before a config field existed is done, not changed, when the sweep asks for the value the run had", async () => {
  const { point } = await sweepIn(await tempDir());
  // An old run's config.json has no fullPrecomputeEvery (added later): it ran with 1, LATER_FIELDS's value.
  const { fullPrecomputeEvery, ...older } = point.config;
  await fakeRun(point, older, 64);
  assert.deepEqual(await pointState({ ...point, config: { ...point.config, fullPrecomputeEvery: 1 } }), { status: "done", step: 64 });
  // Another value than the one the run had is a change, named with the value the run had.
  assert.notEqual(fullPrecomputeEvery, 1, "the quick preset's value differs from the old runs' 1");
  const changed = await pointState(point);
  assert.equal(changed.status, "changed");
  assert.match(changed.failure ?? "", new RegExp(`fullPrecomputeEvery \\(1 in the run, ${fullPrecomputeEvery} in the sweep\\)`));
});

test("a config.json that is not an object is refused, naming the file", async () => {
  const { point } = await sweepIn(await tempDir());
  await fakeRun(point, { ...point.config }, 64);
  await writeFile(join(point.dir, "config.json"), "[1, 2]");
  await assert.rejects(
    pointState(point),
    /config\.json is not a run's config \(a JSON object\); move the point's directory away to train it again from the start \(its checkpoint's progress is lost\)/,
  );
});

test("the worker fails a changed point without training it (exit 2) and records why; it stays failed", async () => {
  const { sweep, point } = await sweepIn(await tempDir());
  await fakeRun(point, { ...point.config, lr: 0.002 }, 64);
  const outcome = await runPoint(sweep, point);
  assert.equal(outcome.found, "changed");
  assert.equal(outcome.action, "skipped");
  assert.equal(outcome.exitCode, 2);
  assert.match(outcome.message ?? "", /lr \(0\.002 in the run/);
  const failed = JSON.parse(await readFile(join(point.dir, "sweep-failed.json"), "utf8")) as { message: string };
  assert.match(failed.message, /lr \(0\.002 in the run/);
  assert.equal((await pointState(point)).status, "failed");
});

test("--status says changed, with the fields, for a done run the sweep file no longer describes; --point exits 2 with why", async () => {
  const dir = await tempDir();
  const { file, point } = await sweepIn(dir);
  await fakeRun(point, { ...point.config, lr: 0.002 }, 64);
  const status = await runStaq(["sweep", file, "--status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /1 point in \S+: 1 changed\n/);
  assert.match(status.stdout, /seed=0 +changed: \S+ holds a run whose config differs from the sweep file's: lr \(0\.002 in the run/);
  const one = await runStaq(["sweep", file, "--point", "seed=0"]);
  assert.equal(one.code, 2, one.stderr);
  assert.match(one.stdout, /seed=0: skipped \(changed\)/);
  assert.match(one.stderr, /holds a run whose config differs from the sweep file's: lr/);
});

test("--status refuses the flags it would ignore (--jobs, --retry-failed, --point, --dry-run), exit 2", async () => {
  const { file } = await sweepIn(await tempDir());
  for (const flags of [["--jobs", "3"], ["--retry-failed"], ["--point", "seed=0"], ["--dry-run"]]) {
    const result = await runStaq(["sweep", file, "--status", ...flags]);
    assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`--status only reports; give it without ${flags[0]}`));
  }
});

/** seed=0 done; seed=1, 2, 3 each with one file cut short: the checkpoint, sweep-failed.json, config.json. */
async function damagedSweep(): Promise<{ file: string; points: SweepPoint[] }> {
  const json = { ...SWEEP, grid: { seed: [0, 1, 2, 3] } };
  const { file, sweep } = await sweepIn(await tempDir(), json);
  const { points } = sweep;
  for (const point of points) await fakeRun(point, { ...point.config }, 64);
  await writeFile(join(points[1].dir, "checkpoint", "state.json"), '{"counters": {"globalSt');
  await writeFile(join(points[2].dir, "sweep-failed.json"), '{"exitCode": 1, "mess');
  await writeFile(join(points[3].dir, "config.json"), '{"env": "CartPole');
  return { file, points };
}

test("--status reports each damaged point as unreadable with its reason and goes on with the others", async () => {
  const { file } = await damagedSweep();
  const status = await runStaq(["sweep", file, "--status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /4 points in \S+: 1 done, 3 unreadable\n/);
  assert.match(status.stdout, /\nseed=0 +done\n/);
  // The checkpoint's advice says what removing it costs, and offers keeping the progress first.
  assert.match(
    status.stdout,
    /\nseed=1 +unreadable: \S+checkpoint\/state\.json is not valid JSON \(.*\); the checkpoint is damaged: restore it from a copy to keep the point's progress, or move the point's directory away to train it again from the start \(its progress is lost\)\n/,
  );
  assert.match(status.stdout, /\nseed=2 +unreadable: \S+sweep-failed\.json is not valid JSON \(.*\); remove it \(it only records why/);
  assert.match(
    status.stdout,
    /\nseed=3 +unreadable: \S+config\.json is not valid JSON \(.*\); move the point's directory away .*\(its checkpoint's progress is lost\)/,
  );
  assert.doesNotMatch(status.stdout, /state\.json is not valid JSON[^\n]*; remove it/);
});

test("a sweep with unreadable points trains none of them, lists them in its summary and exits 1", async () => {
  const { file, points } = await damagedSweep();
  const before = await readFile(join(points[1].dir, "checkpoint", "state.json"), "utf8");
  const result = await runStaq(["sweep", file]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /staq sweep: 4 points in \S+: 1 done, 0 to run, 3 unreadable \(not trained\)/);
  assert.match(result.stderr, /1 of 4 points done; the others:\n {2}seed=1: unreadable, not trained: \S+state\.json is not valid JSON/);
  assert.match(result.stderr, /\n {2}seed=2: unreadable, not trained: \S+sweep-failed\.json/);
  assert.match(result.stderr, /\n {2}seed=3: unreadable, not trained: \S+config\.json/);
  assert.equal(await readFile(join(points[1].dir, "checkpoint", "state.json"), "utf8"), before, "left as it was");
});
