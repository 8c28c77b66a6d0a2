// `staq train`, `staq eval` and `staq envs` as a user runs them (a child process each), with tiny
// budgets: the run directory's files, an interrupted run (SIGINT) leaving a loadable checkpoint, a
// resumed run logging exactly what an uninterrupted one does, and clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TIMING_KEYS } from "../../src/agent/metrics.ts";
import { REPO_ROOT, MISSING_MINATAR, ownStderrLines, runStaq, tempDir } from "../io/stack-fixtures.ts";

const TINY = [
  "--num-envs",
  "2",
  "--steps-per-iteration",
  "32",
  "--replay-capacity",
  "128",
  "--gradient-steps",
  "8",
  "--batch-size",
  "8",
  "--memory",
  "2",
  "--hidden",
  "8",
  "--eval-every",
  "32",
  "--eval-episodes",
  "2",
];

const lines = async (path: string) =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const withoutTiming = (records: Record<string, unknown>[]) =>
  records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING_KEYS.includes(k))));

test("staq train writes config, metrics, evaluations, curve and checkpoint; staq eval reads the checkpoint", async () => {
  const out = join(await tempDir(), "run");
  const train = await runStaq([
    "train",
    "--env",
    "CartPole-v1",
    "--preset",
    "quick",
    "--steps",
    "64",
    "--seed",
    "3",
    "--out",
    out,
    ...TINY,
  ]);
  assert.equal(train.code, 0, train.stderr);
  assert.deepEqual((await readdir(out)).sort(), ["checkpoint", "config.json", "curve.svg", "eval.jsonl", "metrics.jsonl"]);
  const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
  assert.equal(config.env, "CartPole-v1");
  assert.equal(config.preset, "quick");
  assert.equal(config.seed, 3);
  assert.equal(config.batchSize, 8);
  const metrics = await lines(join(out, "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.global_step),
    [32, 64],
  );
  for (const key of ["charts/episodic_return", "charts/SPS", "losses/td_loss", "policy/entropy", "policy/kl", "stack/size"])
    assert.ok(key in metrics[0], key);
  assert.deepEqual(
    (await lines(join(out, "eval.jsonl"))).map((e) => e.global_step),
    [0, 32, 64],
  );
  assert.match(await readFile(join(out, "curve.svg"), "utf8"), /^<svg/);
  const stderr = ownStderrLines(train.stderr).join("\n");
  assert.match(stderr, /staq train: CartPole-v1, preset quick, seed 3, 64 steps/);
  assert.match(stderr, /eval at step 64 .*: mean return [\d.]+ ± [\d.]+ over 2 greedy episodes/);
  assert.match(stderr, /done: 64 steps/);

  const evaluation = await runStaq(["eval", "--checkpoint", out, "--episodes", "3"]);
  assert.equal(evaluation.code, 0, evaluation.stderr);
  const result = JSON.parse(evaluation.stdout);
  assert.equal(result["eval/returns"].length, 3);
  assert.equal(result.global_step, 64);
  assert.match(ownStderrLines(evaluation.stderr).join("\n"), /CartPole-v1 after 64 steps \(2 iterations, stack of 2\): mean greedy return/);

  // eval reads the trained policy only: a checkpoint without its replay buffer and networks
  // (shared, or trimmed to save space) gives the same evaluation.
  const trimmed = join(out, "..", "trimmed-checkpoint");
  await mkdir(trimmed);
  for (const file of ["state.json", "stack.safetensors"]) await copyFile(join(out, "checkpoint", file), join(trimmed, file));
  const fromTrimmed = await runStaq(["eval", "--checkpoint", trimmed, "--episodes", "3"]);
  assert.equal(fromTrimmed.code, 0, fromTrimmed.stderr);
  assert.deepEqual(withoutTiming([JSON.parse(fromTrimmed.stdout)]), withoutTiming([result]));

  // --steps that is not a whole number of iterations trains whole iterations, and says so.
  const noEval = await runStaq([
    "train",
    "--env",
    "CartPole-v1",
    "--preset",
    "quick",
    "--steps",
    "20",
    "--out",
    join(out, "..", "no-eval"),
    ...TINY,
    "--eval-every",
    "0",
  ]);
  assert.equal(noEval.code, 0, noEval.stderr);
  assert.match(noEval.stderr, /--steps 20 is not a whole number of iterations \(32 steps each\); training 32 steps/);
  assert.deepEqual(
    (await lines(join(out, "..", "no-eval", "metrics.jsonl"))).map((m) => m.global_step),
    [32],
  );
  assert.match(noEval.stderr, /\(no evaluations, so no curve\)/);

  const again = await runStaq(["train", "--env", "CartPole-v1", "--out", out, ...TINY]);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /already holds a run; continue it with --resume, start over with --force/);

  // Commands that fail must leave the run exactly as it was: --force with a mistake in the new
  // arguments, --resume with --steps below the run's step, a checkpoint whose log positions are invalid.
  const snapshot = async () =>
    Object.fromEntries(
      await Promise.all(
        ["config.json", "metrics.jsonl", "eval.jsonl", "curve.svg", "checkpoint/state.json"].map(async (f) => [
          f,
          await readFile(join(out, f), "utf8"),
        ]),
      ),
    );
  const before = await snapshot();
  const refused: [string[], RegExp][] = [
    [["--env", "CartPol-v1", "--preset", "quick", "--force"], /no environment named "CartPol-v1"/],
    [["--env", "CartPole-v1", "--preset", "bogus", "--force"], /unknown preset "bogus"/],
    [["--env", "CartPole-v1", "--preset", "quick", "--force", "--memory", "0"], /--memory must be an integer >= 1; got "0"/],
    [["--resume", "--steps", "32"], /--steps 32 is below the run's current step, 64: a resumed run can only be extended/],
    // The help promises that a resumed run keeps its config: only --steps may extend it.
    [["--resume", "--lr", "0.5"], /--lr cannot be given with --resume: a resumed run keeps its config/],
    [["--resume", "--seed", "0"], /--seed cannot be given with --resume/],
    // In range, but 0 in float32: caught with the other arguments, before --force removes anything.
    [["--env", "CartPole-v1", "--preset", "quick", "--force", "--lr", "1e-50"], /--lr "1e-50" is outside float32's normal range/],
  ];
  for (const [args, message] of refused) {
    const run = await runStaq(["train", "--out", out, ...(args.includes("--resume") ? [] : TINY), ...args]);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
    assert.deepEqual(await snapshot(), before, `${args.join(" ")} changed the run`);
  }
  const state = JSON.parse(before["checkpoint/state.json"]);
  state.extra.metricsLines = -1;
  await writeFile(join(out, "checkpoint", "state.json"), JSON.stringify(state));
  const negative = await runStaq(["train", "--resume", "--steps", "96", "--out", out]);
  assert.equal(negative.code, 2, negative.stderr);
  assert.match(
    negative.stderr,
    /checkpoint\/state.json: extra.metricsLines must be an integer >= 0 \(the lines of metrics.jsonl the checkpoint follows\); got -1/,
  );
  assert.deepEqual(
    { ...(await snapshot()), "checkpoint/state.json": before["checkpoint/state.json"] },
    before,
    "a refused resume changed the run",
  );
  await writeFile(join(out, "checkpoint", "state.json"), before["checkpoint/state.json"]);

  // A run directory changed behind staq's back: resuming would drop the edit to config.json, mix
  // two runs in one log, or find the damaged log line only after training.
  const changed: [string, string, RegExp][] = [
    [
      "config.json",
      before["config.json"].replace(/"lr": [^,]+,/, '"lr": 0.123,'),
      /config.json says lr 0.123, but the run's checkpoint was made with [0-9.e-]+: the run directory was changed/,
    ],
    [
      "config.json",
      before["config.json"].replace(/"algo": "staq"/, '"algo": "dqn"'),
      /config.json says algo "dqn", but the run's checkpoint was made with "staq"/,
    ],
    ["config.json", before["config.json"].replace(/^\{/, '{ "bogus": 1,'), /config.json has a field staq does not write, "bogus"/],
    [
      "eval.jsonl",
      before["eval.jsonl"].replace(/^\{/, "{garbage"),
      /eval.jsonl line 1 is not a JSON object: .*; the log was changed after the checkpoint/,
    ],
  ];
  for (const [file, text, message] of changed) {
    await writeFile(join(out, file), text);
    const run = await runStaq(["train", "--resume", "--steps", "96", "--out", out]);
    assert.equal(run.code, 2, `${file}: ${run.stderr}`);
    assert.match(run.stderr, message, file);
    assert.deepEqual({ ...(await snapshot()), [file]: before[file] }, before, `a refused resume changed the run (${file})`);
    await writeFile(join(out, file), before[file]);
  }

  // Files of a run without its config.json: a new run there would append to the old logs.
  const stray = join(out, "..", "stray");
  await mkdir(join(stray, "checkpoint"), { recursive: true });
  await writeFile(join(stray, "metrics.jsonl"), '{"global_step":999}\n');
  const strayRun = await runStaq(["train", "--env", "CartPole-v1", "--out", stray, ...TINY]);
  assert.equal(strayRun.code, 2, strayRun.stderr);
  assert.match(strayRun.stderr, /stray holds files of a run \(metrics.jsonl, checkpoint\) but no config.json, so it cannot be resumed/);
  assert.equal(await readFile(join(stray, "metrics.jsonl"), "utf8"), '{"global_step":999}\n');

  // A run that would end before its first fit is refused rather than logging an untrained agent.
  const neverFits = await runStaq([
    "train",
    "--env",
    "CartPole-v1",
    "--out",
    join(out, "..", "never"),
    ...TINY,
    "--steps",
    "96",
    "--learning-starts",
    "200",
  ]);
  assert.equal(neverFits.code, 2, neverFits.stderr);
  assert.match(
    neverFits.stderr,
    /this run would never train: its first fit comes after step 224 \(learningStarts 200, from --learning-starts or the paper-classic preset\), but it ends at step 96; lower --learning-starts or raise --steps/,
  );
});

const ACROBOT = (out: string) => ["train", "--env", "Acrobot-v1", "--preset", "quick", "--steps", "160", "--out", out, ...TINY];
/** The uninterrupted Acrobot run the interrupted ones are compared with (run once, shared by the tests of this file). */
const sharedDir = await tempDir();
let uninterrupted: Promise<string> | undefined;
function uninterruptedRun(): Promise<string> {
  uninterrupted ??= (async () => {
    const out = join(sharedDir, "whole");
    const whole = await runStaq(ACROBOT(out));
    assert.equal(whole.code, 0, whole.stderr);
    return out;
  })();
  return uninterrupted;
}

/** `staq train ARGS` as a child process whose stderr `watch` sees as it grows (to send it signals). */
function spawnTrain(
  args: string[],
  watch: (stderr: string, child: ReturnType<typeof spawn>) => void,
  preload: string[] = [],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", ...preload.flatMap((p) => ["--import", p]), "src/cli/main.ts", ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk;
    watch(stderr, child);
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr })));
}

async function assertSameLogs(out: string, whole: string): Promise<void> {
  for (const file of ["metrics.jsonl", "eval.jsonl"]) {
    assert.deepEqual(withoutTiming(await lines(join(out, file))), withoutTiming(await lines(join(whole, file))), file);
  }
  assert.equal(await readFile(join(out, "curve.svg"), "utf8"), await readFile(join(whole, "curve.svg"), "utf8"), "curve.svg");
}

test("Ctrl-C stops after the iteration with exit code 130 and a checkpoint; --resume then logs what an uninterrupted run logs", async () => {
  const whole = await uninterruptedRun();
  const out = join(await tempDir(), "interrupted");
  let interrupted = false;
  const stopped = await spawnTrain(ACROBOT(out), (stderr, child) => {
    // Interrupt once the first evaluation after training is logged (an iteration has run).
    if (!interrupted && /eval at step 32/.test(stderr)) {
      interrupted = true;
      child.kill("SIGINT");
    }
  });
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /stopping after this iteration and saving a checkpoint/);
  assert.match(
    stopped.stderr,
    /staq train: interrupted at step \d+ of 160; the checkpoint is saved in .*interrupted[/\\]checkpoint; continue with: staq train --resume --out /,
  );
  const stoppedAt = Number(/interrupted at step (\d+)/.exec(stopped.stderr)![1]);
  assert.ok(stoppedAt < 160);

  const resumed = await runStaq(["train", "--resume", "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(ownStderrLines(resumed.stderr).join("\n"), new RegExp(`resuming at step ${stoppedAt}`));
  await assertSameLogs(out, whole);
});

test("a Ctrl-C after the run's last line (while the device is released) leaves exit code 0: the run is finished and on disk", async () => {
  const out = join(await tempDir(), "finished");
  let sent = false;
  const finished = await spawnTrain(
    ACROBOT(out),
    (stderr, child) => {
      if (!sent && /done: 160 steps/.test(stderr)) {
        sent = true;
        child.kill("SIGINT");
      }
    },
    ["./test/cli/linger-after-work.ts"],
  );
  assert.ok(sent, finished.stderr);
  // Before the fix, the run's own handler was gone by then and Node's default ended it by the signal.
  assert.equal(finished.code, 0, finished.stderr);
  // The signal was handled, not lost while no listener watched for it (which also exits 0).
  assert.match(finished.stderr, /linger-after-work: SIGINT reached a listener/);
  assert.doesNotMatch(finished.stderr, /interrupted|stopping after this iteration/);
  assert.equal(JSON.parse(await readFile(join(out, "checkpoint", "state.json"), "utf8")).counters.globalStep, 160);
});

test("a run killed (SIGKILL) the instant a checkpoint is written resumes to exactly the files of an uninterrupted run", async () => {
  const whole = await uninterruptedRun();
  const out = join(await tempDir(), "killed");
  const killed = await spawnTrain([...ACROBOT(out), "--checkpoint-every", "1"], () => undefined, ["./test/cli/kill-after-checkpoint.ts"]);
  assert.equal(killed.code, null, `the child should have been killed: ${killed.stderr}`);
  assert.equal(JSON.parse(await readFile(join(out, "checkpoint", "state.json"), "utf8")).counters.globalStep, 32);
  const resumed = await runStaq(["train", "--resume", "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  await assertSameLogs(out, whole);
});

test("Ctrl-C twice before the first checkpoint quits at once, says that nothing can be resumed, and --resume says how to start over", async () => {
  const out = join(await tempDir(), "quit");
  let signals = 0;
  const quit = await spawnTrain(ACROBOT(out), (stderr, child) => {
    // The first line is printed once the signal handlers are in place; the first checkpoint is a
    // minute away (the default cadence), or at the end of the first iteration once stopping.
    if (signals === 0 && /staq train: Acrobot-v1/.test(stderr)) {
      signals = 1;
      child.kill("SIGINT");
    }
    if (signals === 1 && /stopping after this iteration/.test(stderr)) {
      signals = 2;
      child.kill("SIGINT");
    }
  });
  assert.equal(quit.code, 130, quit.stderr);
  assert.match(quit.stderr, /Ctrl-C again to quit at once; no checkpoint has been written yet/);
  assert.match(
    quit.stderr,
    /staq train: stopped at once, before the first checkpoint: there is nothing to resume; start over with --force/,
  );
  assert.doesNotMatch(quit.stderr, /checkpoint is intact/);
  const resume = await runStaq(["train", "--resume", "--out", out]);
  assert.equal(resume.code, 2, resume.stderr);
  assert.match(resume.stderr, /holds a run that stopped before its first checkpoint; start it over with --force/);
});

test("a diverging run stops with exit code 1, naming the quantity, the iteration and the flag to change, and writes no checkpoint", async () => {
  const dir = await tempDir();
  const cases: [string[], RegExp, RegExp][] = [
    [["--adam-eps", "0"], /losses\/td_loss/, /--adam-eps > 0/],
    [["--reward-scale", "1e30"], /losses\/td_loss/, /a smaller --reward-scale \(now 1e\+30\)/],
  ];
  for (const [flags, quantity, hint] of cases) {
    const out = join(dir, flags[0]);
    const run = await runStaq(["train", "--env", "CartPole-v1", "--preset", "quick", "--steps", "64", "--out", out, ...TINY, ...flags]);
    assert.equal(run.code, 1, run.stderr);
    const message = ownStderrLines(run.stderr).find((l) => l.startsWith("staq train: training diverged"));
    assert.ok(message, run.stderr);
    assert.match(message, /training diverged at iteration 1 \(step 32\)/);
    assert.match(message, quantity);
    assert.match(message, / is (NaN|-?Infinity)/);
    assert.match(message, hint);
    assert.match(message, /no checkpoint was written/);
    assert.deepEqual((await readdir(out)).sort(), ["config.json", "eval.jsonl"], flags.join(" "));
  }
});

test("invalid command lines and configs are errors naming what to fix", async () => {
  const dir = await tempDir();
  const out = join(dir, "bad");
  const file = join(dir, "a-file");
  await writeFile(file, "");
  const corrupt = join(dir, "corrupt");
  await mkdir(corrupt);
  await writeFile(join(corrupt, "config.json"), "{ not json");
  const noEnv = join(dir, "no-env");
  await mkdir(noEnv);
  await writeFile(join(noEnv, "config.json"), "{}");
  const cases: [string[], RegExp][] = [
    [["train", "--preset", "quick"], /--env NAME is required/],
    [["train", "--env", "CartPole-v1", "--learning-rate", "1"], /Unknown option '--learning-rate'/],
    [["train", "--env", "CartPole-v1", "--lr", "fast", "--out", out], /--lr must be a number > 0; got "fast"/],
    [["train", "--env", "CartPole-v1", "--lr", "Infinity", "--out", out], /--lr must be a number > 0; got "Infinity"/],
    [["train", "--env", "CartPole-v1", "--gamma", "1", "--out", out], /--gamma must be a number in \[0, 1\); got "1"/],
    [["train", "--env", "CartPole-v1", "--steps", "0x10", "--out", out], /--steps must be an integer >= 1; got "0x10"/],
    [["train", "--env", "CartPole-v1", "--steps", "", "--out", out], /--steps must be an integer >= 1; got ""/],
    [["train", "--env", "CartPole-v1", "--seed", "0b11", "--out", out], /--seed must be an integer in \[0, 4294967295\]; got "0b11"/],
    [
      ["train", "--env", "CartPole-v1", "--checkpoint-every", "0x10", "--out", out],
      /--checkpoint-every must be an integer >= 1; got "0x10"/,
    ],
    [["train", "--env", "CartPole-v1", "--out", file], /--out .*a-file is a file, not a directory; give a directory for the run/],
    // "" is the working directory: the run would be written among whatever is there.
    [["train", "--env", "CartPole-v1", "--out", ""], /--out needs a directory for the run; got an empty path/],
    [["train", "--resume", "--out", corrupt], /corrupt[/\\]config.json is not valid JSON/],
    [["train", "--resume", "--out", noEnv], /no-env[/\\]config.json: "env" must be the environment's name; got undefined/],
    [["train", "--env", "CartPole-v1", "--preset", "slow", "--out", out], /unknown preset "slow"/],
    [["train", "--env", "CartPole-v1", "--algo", "ppo", "--out", out], /--algo must be one of "staq", "dqn", "mdqn", "mdpo"; got "ppo"/],
    [["train", "--env", "CartPol-v1", "--out", out], /no environment named "CartPol-v1"/],
    [["train", "--resume", "--out", out], /holds no run to resume/],
    [["eval", "--checkpoint", out], /no checkpoint at/],
  ];
  for (const [args, message] of cases) {
    const run = await runStaq(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
});

test("--algo dqn --preset quick trains DQN from the dqn-quick preset and logs ε", async () => {
  const out = join(await tempDir(), "dqn");
  const args = ["train", "--env", "CartPole-v1", "--algo", "dqn", "--preset", "quick", "--steps", "64", "--out", out, ...TINY];
  const train = await runStaq([...args, "--learning-starts", "32", "--memory", "5"]);
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stderr, /staq train: CartPole-v1, algo dqn, preset dqn-quick, seed 0/);
  // A field the algorithm does not read is said, not silently recorded.
  assert.match(train.stderr, /--memory does not apply to --algo dqn \(only to staq\); it is recorded in config.json but changes nothing/);
  const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
  assert.equal(config.algo, "dqn");
  assert.equal(config.preset, "dqn-quick");
  const metrics = await lines(join(out, "metrics.jsonl"));
  // dqn-quick's ε: 1 → 0.04 over 8000 steps; at step 32, 1 − 0.96·32/8000.
  assert.deepEqual(
    metrics.map((m) => m["charts/epsilon"]),
    [1, 1 - (0.96 * 32) / 8000],
  );
  assert.equal(metrics[1]["policy/entropy"], null);
});

test("staq envs lists what can be trained, MinAtar included", async () => {
  const run = await runStaq(["envs", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const envs = JSON.parse(run.stdout) as { name: string; actions: number; preset: string }[];
  const byName = new Map(envs.map((e) => [e.name, e]));
  assert.equal(byName.get("CartPole-v1")?.actions, 2);
  assert.equal(byName.get("MinAtar/Breakout-v1")?.preset, "paper-minatar");
  const table = await runStaq(["envs"]);
  assert.match(table.stdout, /^Acrobot-v1 +6 +3 +500 +paper-classic +swing a two-link pendulum/m);
});

test("staq envs --json without a MinAtar build: stdout is still one JSON array, and the note goes to stderr", async () => {
  const hidden = await runStaq(["envs", "--json"], process.env, { hide: MISSING_MINATAR });
  assert.equal(hidden.code, 0, hidden.stderr);
  const names = (JSON.parse(hidden.stdout) as { name: string }[]).map((e) => e.name);
  assert.ok(names.includes("CartPole-v1") && !names.some((name) => name.startsWith("MinAtar/")), names.join(", "));
  assert.match(hidden.stderr, /\(MinAtar not listed: the MinAtar games need staq\/envs\/minatar, which could not be loaded/);
  const table = await runStaq(["envs"], process.env, { hide: MISSING_MINATAR });
  assert.match(table.stdout, /\(MinAtar not listed: /);
});
