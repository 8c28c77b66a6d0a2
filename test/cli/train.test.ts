// `staq train`, `staq eval` and `staq envs` as a user runs them (a child process each), with tiny
// budgets: the run directory's files, an interrupted run (SIGINT) leaving a loadable checkpoint, a
// resumed run logging exactly what an uninterrupted one does, and clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { TIMING_KEYS } from "../../src/agent/metrics.ts";
import { ownStderrLines, runStaq, tempDir } from "../io/stack-fixtures.ts";

const TINY = ["--num-envs", "2", "--steps-per-iteration", "32", "--replay-capacity", "128", "--gradient-steps", "8", "--batch-size", "8", "--memory", "2", "--hidden", "8", "--eval-every", "32", "--eval-episodes", "2"];

const lines = async (path: string) => (await readFile(path, "utf8")).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
const withoutTiming = (records: Record<string, unknown>[]) => records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING_KEYS.includes(k))));

test("staq train writes config, metrics, evaluations, curve and checkpoint; staq eval reads the checkpoint", async () => {
  const out = join(await tempDir(), "run");
  const train = await runStaq(["train", "--env", "CartPole-v1", "--preset", "quick", "--steps", "64", "--seed", "3", "--out", out, ...TINY]);
  assert.equal(train.code, 0, train.stderr);
  assert.deepEqual((await readdir(out)).sort(), ["checkpoint", "config.json", "curve.svg", "eval.jsonl", "metrics.jsonl"]);
  const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
  assert.equal(config.env, "CartPole-v1");
  assert.equal(config.preset, "quick");
  assert.equal(config.seed, 3);
  assert.equal(config.batchSize, 8);
  const metrics = await lines(join(out, "metrics.jsonl"));
  assert.deepEqual(metrics.map((m) => m.global_step), [32, 64]);
  for (const key of ["charts/episodic_return", "charts/SPS", "losses/td_loss", "policy/entropy", "policy/kl", "stack/size"]) assert.ok(key in metrics[0], key);
  assert.deepEqual((await lines(join(out, "eval.jsonl"))).map((e) => e.global_step), [0, 32, 64]);
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

  const noEval = await runStaq(["train", "--env", "CartPole-v1", "--preset", "quick", "--steps", "32", "--out", join(out, "..", "no-eval"), ...TINY, "--eval-every", "0"]);
  assert.equal(noEval.code, 0, noEval.stderr);
  assert.match(noEval.stderr, /\(no evaluations, so no curve\)/);

  const again = await runStaq(["train", "--env", "CartPole-v1", "--out", out, ...TINY]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds a run; continue it with --resume, start over with --force/);
});

test("Ctrl-C stops after the iteration and leaves a checkpoint; --resume then logs what an uninterrupted run logs", async () => {
  const dir = await tempDir();
  const args = (out: string) => ["train", "--env", "Acrobot-v1", "--preset", "quick", "--steps", "160", "--out", out, ...TINY];
  const whole = await runStaq(args(join(dir, "whole")));
  assert.equal(whole.code, 0, whole.stderr);

  const out = join(dir, "interrupted");
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args(out)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let interrupted = false;
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    // Interrupt once the first evaluation after training is logged (an iteration has run).
    if (!interrupted && /eval at step 32/.test(stderr)) {
      interrupted = true;
      child.kill("SIGINT");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /stopping after this iteration and saving a checkpoint/);
  assert.match(stderr, /stopped at step \d+; continue with: staq train --resume --out/);
  const stoppedAt = Number(/stopped at step (\d+)/.exec(stderr)![1]);
  assert.ok(stoppedAt < 160);

  const resumed = await runStaq(["train", "--resume", "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(ownStderrLines(resumed.stderr).join("\n"), new RegExp(`resuming at step ${stoppedAt}`));
  for (const file of ["metrics.jsonl", "eval.jsonl"]) {
    assert.deepEqual(withoutTiming(await lines(join(out, file))), withoutTiming(await lines(join(dir, "whole", file))), file);
  }
});

test("invalid command lines and configs are errors naming what to fix", async () => {
  const out = join(await tempDir(), "bad");
  const cases: [string[], RegExp][] = [
    [["train", "--preset", "quick"], /--env NAME is required/],
    [["train", "--env", "CartPole-v1", "--learning-rate", "1"], /Unknown option '--learning-rate'/],
    [["train", "--env", "CartPole-v1", "--lr", "fast", "--out", out], /--lr must be a number; got "fast"/],
    [["train", "--env", "CartPole-v1", "--gamma", "1", "--out", out], /config field gamma must be a number in \[0, 1\); got 1/],
    [["train", "--env", "CartPole-v1", "--preset", "slow", "--out", out], /unknown preset "slow"/],
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
