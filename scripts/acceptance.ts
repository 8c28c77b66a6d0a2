/**
 * The agent's acceptance runs: `staq train --preset quick` on CartPole-v1 and Acrobot-v1 with seeds
 * 0, 1 and 2, one run after another (so each has the machine to itself), then a summary of when
 * each first reached its target mean greedy return (CartPole ≥ 475, Acrobot ≥ −100, LunarLander ≥ 200
 * within 30 minutes) in wall-clock
 * minutes, and the learning curves over the three seeds. On MinAtar games (`--preset quick-minatar`)
 * the target is 3× the uniform-random policy's mean return, which the script measures first
 * (100 seeded episodes), within 30 minutes.
 *
 *   npx tsx scripts/acceptance.ts [--out docs/acceptance] [--envs CartPole-v1,Acrobot-v1] [--seeds 0,1,2]
 *                                 [--preset quick] [--steps N] [--summarize-only]
 *   npx tsx scripts/acceptance.ts --preset quick-lunar --envs LunarLander-v3 --out docs/acceptance-lunar
 *   npx tsx scripts/acceptance.ts --preset quick-minatar --envs MinAtar/Breakout-v1,MinAtar/Asterix-v1 \
 *                                 --out docs/acceptance-minatar
 *
 * --summarize-only reads the runs already in OUT instead of training them again. The summary also
 * gives the seconds per phase of a late iteration (the last 10 of each run), mean over seeds.
 * Writes OUT/<env>-s<seed>/ (the run directories, without their checkpoints), OUT/summary.json,
 * OUT/summary.md and OUT/<env>.svg. Needs `npm run build` first (it runs the built command).
 */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { parseProgramArgs, prepareOutputFolder, usageError } from "../bench/arguments.ts";
import { parseInteger } from "../src/io/decimal.ts";
import { presetConfig } from "../src/agent/presets.ts";
import { randomPolicyReturns } from "../src/envs/random-policy.ts";
import { makeEnv, registeredEnvs } from "../src/envs/registry.ts";
import "../src/envs/minatar/index.ts";

const TARGETS: Record<string, number> = { "CartPole-v1": 475, "Acrobot-v1": -100, "LunarLander-v3": 200 };
const CLASSIC_LIMIT_MINUTES = 15;
/** LunarLander (`--preset quick-lunar`): its usual "solved" line, 200, within 30 minutes (the preset runs 400k steps). */
const LIMIT_MINUTES: Record<string, number> = { "LunarLander-v3": 30 };
/** MinAtar: a mean greedy return of RANDOM_MULTIPLE × the random policy's within 30 minutes. */
const MINATAR_LIMIT_MINUTES = 30;
const RANDOM_MULTIPLE = 3;
const RANDOM_EPISODES = 100;

const USAGE = `Usage: npx tsx scripts/acceptance.ts [--out DIR] [--envs LIST] [--seeds LIST] [--preset NAME] [--steps N] [--summarize-only]
  --out DIR         where the runs, summary.json, summary.md and the curves go (default the repository's docs/acceptance)
  --envs LIST       comma-separated envs (default CartPole-v1,Acrobot-v1; also LunarLander-v3, MinAtar/*)
  --seeds LIST      comma-separated whole seeds, 0 or more (default 0,1,2)
  --preset NAME     the staq train preset (default quick)
  --steps N         environment steps per run (default: the preset's)
  --summarize-only  read the runs already in DIR instead of training them again
Needs npm run build first (it runs dist/cli/main.js).`;

const { values } = parseProgramArgs(
  {
    options: {
      "summarize-only": { type: "boolean" },
      // The repository's docs/acceptance wherever the script is run from.
      out: { type: "string", default: fileURLToPath(new URL("../docs/acceptance", import.meta.url)) },
      envs: { type: "string", default: "CartPole-v1,Acrobot-v1" },
      seeds: { type: "string", default: "0,1,2" },
      preset: { type: "string", default: "quick" },
      /** Environment steps per run (default: the preset's totalSteps). */
      steps: { type: "string" },
      help: { type: "boolean" },
    },
  },
  USAGE,
);
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
// Everything is checked before the first run: each run takes minutes, and a mistake found after
// the first few would waste them.
const preset = values.preset;
try {
  presetConfig(preset);
} catch (error) {
  usageError(`--preset: ${(error as Error).message}`, USAGE);
}
const out = values.out;
if (out.trim() === "") usageError('--out needs a folder\'s path; got ""', USAGE);
const envs = values.envs.split(",");
const knownEnvs = registeredEnvs().map((registration) => registration.name);
for (const env of envs) {
  if (!knownEnvs.includes(env)) usageError(`--envs: no env named ${JSON.stringify(env)}; the envs are: ${knownEnvs.join(", ")}`, USAGE);
  if (!(env in TARGETS) && !env.startsWith("MinAtar/"))
    usageError(`--envs: no acceptance target for ${env}; choose among ${Object.keys(TARGETS).join(", ")} and the MinAtar games`, USAGE);
}
const seeds = values.seeds.split(",").map((text) => {
  const seed = parseInteger(text);
  if (!(seed >= 0)) usageError(`--seeds takes whole numbers (0 or more) separated by commas; got ${JSON.stringify(values.seeds)}`, USAGE);
  return seed;
});
if (values.steps !== undefined && !(parseInteger(values.steps) >= 1))
  usageError(`--steps takes a positive whole number; got ${JSON.stringify(values.steps)}`, USAGE);
/** The built command, beside this script's folder: the script may be run from any folder. */
const STAQ = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!values["summarize-only"] && !existsSync(STAQ)) usageError(`${STAQ} is missing: run npm run build first`, USAGE);
if (values["summarize-only"] && !existsSync(out))
  usageError(`--out ${out} does not exist: --summarize-only reads the runs already there`, USAGE);
if (!values["summarize-only"]) await prepareOutputFolder(out);

function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STAQ, ...args], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

interface RunSummary {
  env: string;
  seed: number;
  target: number;
  /** Minutes the target must be reached within (learning time, `time_s` of eval.jsonl). */
  limitMinutes: number;
  /** MinAtar: the uniform-random policy's mean return (the target is a multiple of it). */
  randomMean?: number;
  /** Seconds of the whole command (start-up, compiling the kernels and the final checkpoint included). */
  wallSeconds: number;
  /** First greedy evaluation at or above the target: its environment step and learning time. */
  reachedAtStep: number | null;
  reachedAtSeconds: number | null;
  finalMeanReturn: number;
  bestMeanReturn: number;
  withinLimit: boolean;
  /** Mean seconds per phase (`time/*` in metrics.jsonl) over the last LATE_ITERATIONS iterations, once the buffer and the stack are full. */
  lateIteration: Record<Phase, number>;
}

/** The phases an iteration's `time/<phase>_s` metrics time, in order. */
const PHASES = ["collect", "precompute", "train", "push"] as const;
type Phase = (typeof PHASES)[number];
const LATE_ITERATIONS = 10;

/** Mean seconds per phase over the last LATE_ITERATIONS lines of a run's metrics.jsonl. */
async function lateIterationSplit(dir: string): Promise<Record<Phase, number>> {
  const lines = (await readFile(join(dir, "metrics.jsonl"), "utf8")).split("\n").filter((line) => line.length > 0);
  const late = lines.slice(-LATE_ITERATIONS).map((line) => JSON.parse(line) as Record<string, number>);
  const mean = (phase: Phase) => late.reduce((sum, m) => sum + m[`time/${phase}_s`], 0) / late.length;
  return Object.fromEntries(PHASES.map((phase) => [phase, mean(phase)])) as Record<Phase, number>;
}

/** The target of an env and the minutes to reach it; on MinAtar, from the random policy's mean return under the preset's time limit. */
function targetOf(env: string): { target: number; limitMinutes: number; randomMean?: number } {
  if (env in TARGETS) return { target: TARGETS[env], limitMinutes: LIMIT_MINUTES[env] ?? CLASSIC_LIMIT_MINUTES };
  if (!env.startsWith("MinAtar/")) throw new Error(`no acceptance target for ${env}`);
  const timeLimit = presetConfig(preset).timeLimit;
  const returns = randomPolicyReturns(makeEnv(env, timeLimit > 0 ? { maxEpisodeSteps: timeLimit } : {}), RANDOM_EPISODES, 12345);
  const randomMean = returns.reduce((a, b) => a + b, 0) / returns.length;
  return { target: RANDOM_MULTIPLE * randomMean, limitMinutes: MINATAR_LIMIT_MINUTES, randomMean };
}
const targets = new Map(envs.map((env) => [env, targetOf(env)]));
for (const [env, t] of targets)
  if (t.randomMean !== undefined)
    console.log(
      `${env}: the random policy's mean return over ${RANDOM_EPISODES} episodes is ${t.randomMean.toFixed(3)}; target ${t.target.toFixed(3)}`,
    );

const summaries: RunSummary[] = [];
for (const env of envs) {
  for (const seed of seeds) {
    const dir = join(out, `${env.replace(/\//g, "-")}-s${seed}`);
    if (!values["summarize-only"]) {
      const started = performance.now();
      const steps = values.steps === undefined ? [] : ["--steps", values.steps];
      const code = await run(["train", "--env", env, "--preset", preset, "--seed", String(seed), ...steps, "--out", dir, "--force"]);
      if (code !== 0) throw new Error(`staq train on ${env} seed ${seed} exited with ${code}`);
      await writeFile(join(dir, "wall-clock.json"), JSON.stringify({ seconds: (performance.now() - started) / 1000 }) + "\n");
      // The checkpoint is large and not needed to read the run; the logs and config stay.
      await rm(join(dir, "checkpoint"), { recursive: true, force: true });
    }
    const wallSeconds = (JSON.parse(await readFile(join(dir, "wall-clock.json"), "utf8")) as { seconds: number }).seconds;
    const evaluations = (await readFile(join(dir, "eval.jsonl"), "utf8"))
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { global_step: number; time_s: number; "eval/mean_return": number });
    const { target, limitMinutes, randomMean } = targets.get(env)!;
    const reached = evaluations.find((e) => e["eval/mean_return"] >= target);
    summaries.push({
      env,
      seed,
      target,
      wallSeconds,
      reachedAtStep: reached?.global_step ?? null,
      reachedAtSeconds: reached?.time_s ?? null,
      finalMeanReturn: evaluations[evaluations.length - 1]["eval/mean_return"],
      bestMeanReturn: Math.max(...evaluations.map((e) => e["eval/mean_return"])),
      limitMinutes,
      ...(randomMean !== undefined ? { randomMean } : {}),
      withinLimit: reached !== undefined && reached.time_s <= limitMinutes * 60,
      lateIteration: await lateIterationSplit(dir),
    });
    console.log(JSON.stringify(summaries[summaries.length - 1]));
  }
}
for (const env of envs) {
  const dirs = seeds.map((s) => join(out, `${env.replace(/\//g, "-")}-s${s}`));
  const curve = await run([
    "plot",
    ...dirs,
    "--x",
    "time",
    `--threshold=${targets.get(env)!.target}`,
    "--title",
    `${env}, preset ${preset}, seeds ${seeds.join(", ")}`,
    "--out",
    join(out, `${env.replace(/\//g, "-")}.svg`),
  ]);
  if (curve !== 0) throw new Error(`staq plot for ${env} exited with ${curve}`);
}

const minutes = (s: number | null) => (s === null ? "not reached" : `${(s / 60).toFixed(1)} min`);
const table = [
  "| env | seed | target | reached at step | reached after | best | final | whole run (wall-clock) |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ...summaries.map(
    (s) =>
      `| ${s.env} | ${s.seed} | ${s.randomMean === undefined ? s.target : `${s.target.toFixed(2)} (${RANDOM_MULTIPLE} × random ${s.randomMean.toFixed(2)})`} | ${s.reachedAtStep ?? "—"} | ${minutes(s.reachedAtSeconds)} | ${s.bestMeanReturn.toFixed(1)} | ${s.finalMeanReturn.toFixed(1)} | ${minutes(s.wallSeconds)} |`,
  ),
];
// Where an iteration's time goes once the replay buffer and the stack are full: the mean over seeds.
const split = [
  "",
  `Seconds per phase of a late iteration (the last ${LATE_ITERATIONS} of each run, \`time/*\` in metrics.jsonl), mean over seeds ${seeds.join(", ")}:`,
  "",
  `| env | ${PHASES.join(" | ")} | iteration |`,
  `| --- | ${PHASES.map(() => "---").join(" | ")} | --- |`,
  ...envs.map((env) => {
    const runs = summaries.filter((s) => s.env === env);
    const means = PHASES.map((phase) => runs.reduce((sum, s) => sum + s.lateIteration[phase], 0) / runs.length);
    const cell = (x: number) => (x < 0.1 ? x.toFixed(3) : x.toFixed(2));
    return `| ${env} | ${means.map(cell).join(" | ")} | ${cell(means.reduce((a, b) => a + b, 0))} |`;
  }),
];
await writeFile(join(out, "summary.json"), JSON.stringify({ preset, runs: summaries }, null, 1) + "\n");
await writeFile(join(out, "summary.md"), [...table, ...split].join("\n") + "\n");
console.log([...table, ...split].join("\n"));
const passed = summaries.filter((s) => s.withinLimit).length;
console.log(
  `${passed} of ${summaries.length} runs reached their target within their limit (${[...new Set(summaries.map((s) => s.limitMinutes))].join(" or ")} minutes)`,
);
process.exitCode = passed === summaries.length ? 0 : 1;
