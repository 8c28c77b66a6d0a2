// `staq sweep --backend local` as a user runs it (child processes), on tiny CartPole runs: a worker
// killed mid-run and a Ctrl-C of the sweep leave points that the next run of the sweep resumes from
// their checkpoints; done points are skipped; a run directory that does not match the sweep file
// fails its point with a message instead of being reused.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, run, runStaq, tempDir, type Run } from "../io/stack-fixtures.ts";
import { TINY_CONFIG } from "../helpers/tiny-config.ts";

const TINY = { env: "CartPole-v1", preset: "quick", ...TINY_CONFIG };

async function writeSweep(dir: string, totalSteps: number): Promise<string> {
  const file = join(dir, "sweep.json");
  await writeFile(file, JSON.stringify({ out: "runs", base: { ...TINY, totalSteps }, grid: { seed: [0, 1] }, checkpointEvery: 1 }));
  return file;
}

const steps = async (path: string) =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { global_step: number }).global_step);
const stepOf = async (runDir: string) =>
  JSON.parse(await readFile(join(runDir, "checkpoint", "state.json"), "utf8")).counters.globalStep as number;

test("workers killed at their first checkpoint leave points that the next sweep resumes; a done sweep trains nothing", async () => {
  const dir = await tempDir();
  const file = await writeSweep(dir, 96);
  const runs = join(dir, "runs");
  // Preloaded into the sweep and so into its workers (they inherit node's flags): SIGKILL the
  // instant a checkpoint is in place, the worst moment for a crash.
  const killed = await new Promise<Run>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--import", "./test/cli/kill-after-checkpoint.ts", "src/cli/main.ts", "sweep", file],
      {
        cwd: REPO_ROOT,
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  assert.equal(killed.code, 1, `${killed.stdout}\n${killed.stderr}`);
  assert.match(killed.stdout, /2 points in .*runs: 0 done, 2 to run; 1 at a time/);
  assert.match(killed.stdout, /stopped seed=0 \(killed by SIGKILL\) at step 32; running the sweep again resumes it/);
  assert.match(killed.stdout, /stopped seed=1 \(killed by SIGKILL\) at step 32/);
  assert.match(killed.stderr, /0 of 2 points done; the others:\n {2}interrupted \(run the sweep again to resume\): seed=0, seed=1/);

  const status = await runStaq(["sweep", file, "--status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /2 points in .*: 2 partial\n/);
  assert.match(status.stdout, /seed=0 +partial at step 32\/96/);

  const resumed = await runStaq(["sweep", file]);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /all 2 points done/);
  for (const seed of [0, 1]) {
    const run = join(runs, `seed=${seed}`);
    assert.equal(await stepOf(run), 96);
    // Resumed, not started over: one line per iteration, the first from the killed worker.
    assert.deepEqual(await steps(join(run, "metrics.jsonl")), [32, 64, 96]);
    assert.deepEqual(await steps(join(run, "eval.jsonl")), [0, 32, 64, 96]);
    const log = await readFile(join(run, "train.log"), "utf8");
    assert.match(log, /staq train --resume --out \S+ --steps 96 --checkpoint-every 1\n/);
    assert.equal(JSON.parse(await readFile(join(run, "config.json"), "utf8")).seed, seed);
  }

  const again = await runStaq(["sweep", file]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /2 points in .*: 2 done, 0 to run/);
  assert.doesNotMatch(again.stdout, /start /);
});

test("Ctrl-C stops the sweep (exit 130) with the running point's checkpoint saved; the next sweep finishes it", async () => {
  const dir = await tempDir();
  const file = await writeSweep(dir, 640);
  const runs = join(dir, "runs");
  const stopped = await new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "sweep", file], { cwd: REPO_ROOT });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // Once the first point has checkpointed, as a terminal's Ctrl-C would.
    const timer = setInterval(() => {
      void stepOf(join(runs, "seed=0")).then(
        (step) => {
          if (!sent && step > 0) {
            sent = true;
            child.kill("SIGINT");
          }
        },
        () => undefined,
      );
    }, 100);
    child.on("exit", (code) => {
      clearInterval(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  assert.equal(stopped.code, 130, `${stopped.stdout}\n${stopped.stderr}`);
  assert.match(stopped.stdout, /SIGINT: stopping; each running point saves its checkpoint/);
  assert.doesNotMatch(stopped.stdout, /start seed=1/, "no point starts after the stop");
  const savedAt = await stepOf(join(runs, "seed=0"));
  assert.ok(savedAt > 0 && savedAt < 640, `the checkpoint is mid-run: ${savedAt}`);

  const finished = await runStaq(["sweep", file]);
  assert.equal(finished.code, 0, `${finished.stdout}\n${finished.stderr}`);
  const expected = Array.from({ length: 20 }, (_, i) => 32 * (i + 1));
  for (const seed of [0, 1]) assert.deepEqual(await steps(join(runs, `seed=${seed}`, "metrics.jsonl")), expected);
});

test("a run directory whose config differs from the sweep file fails its point, says why, and is not reused", async () => {
  const dir = await tempDir();
  const file = await writeSweep(dir, 32);
  const stale = join(dir, "runs", "seed=1");
  await mkdir(stale, { recursive: true });
  await writeFile(join(stale, "config.json"), JSON.stringify({ ...TINY, hidden: [16], seed: 1 }));
  const result = await runStaq(["sweep", file]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    /FAILED seed=1: \S+seed=1 holds a run whose config differs from the sweep file's: .*hidden \(\[16\] in the run, \[8\] in the sweep\)/,
  );
  assert.match(result.stderr, /1 of 2 points done; the others:\n {2}seed=1: /);
  const status = await runStaq(["sweep", file, "--status"]);
  assert.match(status.stdout, /1 done, 1 failed/);
  // Skipped until asked, and asked again it fails the same way (the directory is still stale).
  const skipped = await runStaq(["sweep", file]);
  assert.match(skipped.stdout, /1 failed before \(skipped; --retry-failed trains them again\)/);
  assert.equal(JSON.parse(await readFile(join(stale, "config.json"), "utf8")).hidden[0], 16, "the stale run is left as it was");
});

test("two sweeps run at once over points a killed worker left claimed: each point is trained once", async () => {
  const dir = await tempDir();
  const file = await writeSweep(dir, 32);
  // Every point's newest claim is a worker on this host that is gone (a process that has exited):
  // both sweeps find it dead, and only one of them may take the point (src/sweep/point-lock.ts).
  const gone = spawn(process.execPath, ["-e", ""]);
  const pid = await new Promise<number>((resolve) => gone.on("exit", () => resolve(gone.pid!)));
  for (const seed of [0, 1]) {
    const claims = join(dir, "runs", `seed=${seed}`, "sweep-claims");
    await mkdir(claims, { recursive: true });
    await writeFile(join(claims, "1.json"), JSON.stringify({ pid, host: hostname(), started: "2026-01-01T00:00:00Z" }));
  }
  const sweeps = await Promise.all([runStaq(["sweep", file]), runStaq(["sweep", file])]);
  for (const result of sweeps) {
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    // All done by this sweep (the other came too late to hold any), or some held by the other.
    assert.match(
      result.stdout,
      /staq sweep: (all 2 points done|[01] of 2 points done in \S+; another worker held the rest when this sweep reached them: seed=[01](, seed=1)? \(`staq sweep \S+ --status` shows where they stand\))/,
    );
  }
  for (const seed of [0, 1]) {
    const run = join(dir, "runs", `seed=${seed}`);
    const log = await readFile(join(run, "train.log"), "utf8");
    assert.equal(log.match(/^# \S+ staq train /gm)?.length, 1, `seed=${seed} was trained once:\n${log}`);
    assert.equal(await stepOf(run), 32);
  }
});

test("bad sweep command lines and files exit 2 with what to fix", async () => {
  const dir = await tempDir();
  const file = await writeSweep(dir, 32);
  const cases: [string[], RegExp][] = [
    [["sweep"], /give one sweep file; got none/],
    [["sweep", file, "--backend", "pbs"], /--backend must be local or slurm; got "pbs"/],
    [["sweep", file, "--jobs", "0"], /--jobs must be an integer >= 1; got "0"/],
    [["sweep", file, "--partition", "gpu"], /--partition is for --backend slurm/],
    [["sweep", file, "--backend", "slurm", "--time", "soon"], /--time must be a Slurm time limit/],
    [["sweep", join(dir, "missing.json")], /Could not read the sweep file .*missing\.json/],
    [["sweep", file, "--point", "seed=7"], /has no point named "seed=7"; it has seed=0, seed=1/],
  ];
  for (const [args, message] of cases) {
    const result = await runStaq(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  await writeFile(join(dir, "bad.json"), `{"out": "o", "base": {"env": "CartPole-v1"}, "grid": {"lr": [0]}}`);
  const bad = await runStaq(["sweep", join(dir, "bad.json")]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.json: point lr=0: config field lr must be a number > 0; got 0/);
});

test("--status piped into a reader that stops early (| head) ends quietly, without an EPIPE crash", async () => {
  const dir = await tempDir();
  const file = join(dir, "big.json");
  // Thousands of lines: far more than a pipe holds once `head` has gone.
  await writeFile(
    file,
    JSON.stringify({ out: "runs", base: { env: "CartPole-v1" }, grid: { seed: Array.from({ length: 5000 }, (_, i) => i) } }),
  );
  // PIPESTATUS[0]: staq's exit code, not head's.
  const result = await run("bash", [
    "-c",
    `"$0" --import tsx src/cli/main.ts sweep "$1" --status | head -n 1; echo "exit \${PIPESTATUS[0]}"`,
    process.execPath,
    file,
  ]);
  assert.match(result.stdout, /^5000 points in \S+: 5000 new\nexit 0\n$/);
  assert.doesNotMatch(result.stderr, /EPIPE|Error/);
});
