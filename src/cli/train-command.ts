/**
 * `staq train --env NAME [--preset P] [--steps N] [--seed S] [--out DIR] [--resume] [--<field> V]…`:
 * trains a StaQ agent and writes the run directory (src/cli/run-directory.ts). Ctrl-C stops after
 * the iteration in progress and saves a checkpoint; `--resume` continues a run exactly where its
 * checkpoint left it, as if it had never stopped.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { CONFIG_FIELDS, flagName, parseFieldValue, type StaqConfig } from "../agent/config.ts";
import type { EvaluationMetrics, IterationMetrics } from "../agent/metrics.ts";
import { PRESETS, defaultPreset } from "../agent/presets.ts";
import { StaqInputError } from "../errors.ts";
import { writeFileAtomically } from "../node/files.ts";
import { StaQ } from "../node/staq.ts";
import { UsageError, parseCommandArgs, type Command, type CommandIO } from "./command.ts";
import { loadMinatar } from "./minatar-module.ts";
import { createProgressReporter, formatDuration } from "./progress.ts";
import { RUN_FILES, appendJsonLine, countLines, pathExists, truncateLines } from "./run-directory.ts";
import { writeRunCurve } from "./run-curve.ts";

const FIELD_FLAGS = CONFIG_FIELDS.filter((f) => f.key !== "seed" && f.key !== "totalSteps");

const HELP = `Usage: staq train --env NAME [--preset ${Object.keys(PRESETS).join("|")}] [--steps N] [--seed S]
                  [--out DIR] [--resume | --force] [--checkpoint-every N] [--quiet] [--<field> VALUE]...

Trains StaQ on an environment (\`staq envs\` lists them) and writes the run to DIR:
  config.json     the resolved config
  metrics.jsonl   one line per iteration: global_step, charts/episodic_return, charts/SPS,
                  losses/td_loss, policy/entropy, policy/kl, stack/size, time/...
  eval.jsonl      one line per greedy evaluation: eval/mean_return, eval/returns, ...
  curve.svg       the learning curve (greedy evaluation return against environment steps)
  checkpoint/     stack.safetensors (the stack, readable by PyTorch's safetensors), the active and
                  target networks, Adam's state, the replay buffer, the environments' state and the
                  counters; replaced atomically, so it is always complete

Ctrl-C stops after the current iteration and saves a checkpoint (press it again to quit at once;
the last checkpoint stays intact). --resume continues from the checkpoint exactly as if the run
had not stopped (on the same GPU adapter).

Options:
  --env NAME              the environment (required unless --resume)
  --preset NAME           the config to start from: quick (small, learns CartPole and Acrobot in
                          minutes on a CPU), paper-classic, paper-minatar (the StaQ authors'
                          defaults); default: paper-minatar for MinAtar, paper-classic otherwise
  --steps N               environment steps of the run (the preset's totalSteps otherwise)
  --seed S                seed of everything random (default 0)
  --out DIR               the run directory (default runs/<env>-<preset>-s<seed>)
  --resume                continue the run in --out (its config is kept; --steps may extend it)
  --force                 start over when --out already holds a run (its files are replaced)
  --checkpoint-every N    iterations between checkpoints (default: about every 60 s); one is
                          always written at the end and on Ctrl-C
  --quiet                 no progress output
  -h, --help              show this help

Config fields (override the preset; unknown or invalid values are errors naming the field):
${FIELD_FLAGS.map((f) => `  --${flagName(f.key).padEnd(22)}${f.help}`).join("\n")}
`;

const OPTIONS = {
  env: { type: "string" },
  preset: { type: "string" },
  steps: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  force: { type: "boolean" },
  "checkpoint-every": { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(FIELD_FLAGS.map((f) => [flagName(f.key), { type: "string" }])),
} as const;

/** The config fields given on the command line, parsed to their types. */
function configOverrides(values: Record<string, unknown>): Partial<StaqConfig> {
  const overrides: Record<string, unknown> = {};
  for (const field of [...FIELD_FLAGS, ...CONFIG_FIELDS.filter((f) => f.key === "seed" || f.key === "totalSteps")]) {
    const flag = field.key === "totalSteps" ? "steps" : flagName(field.key);
    const text = values[flag];
    if (typeof text === "string") overrides[field.key] = parseFieldValue(field.key, text);
  }
  return overrides as Partial<StaqConfig>;
}

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(Number.isInteger(value) && value >= 1)) throw new UsageError(`--${flag} must be an integer >= 1; got ${JSON.stringify(text)}`, trainCommand);
  return value;
}

/** The run directory's default name: runs/CartPole-v1-quick-s0 (a MinAtar name's slash becomes a dash). */
export function defaultRunDirectory(env: string, preset: string, seed: number): string {
  return join("runs", `${env.replace(/[^A-Za-z0-9._-]+/g, "-")}-${preset}-s${seed}`);
}

async function train(args: string[], io: CommandIO): Promise<void> {
  const values = parseCommandArgs(args, OPTIONS, trainCommand) as Record<string, string | boolean | undefined>;
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  const overrides = configOverrides(values);
  const checkpointEvery = positiveInteger(values["checkpoint-every"] as string | undefined, "checkpoint-every");
  const envName = values.env as string | undefined;
  if (envName?.startsWith("MinAtar/")) await loadMinatar(envName);

  let agent: StaQ;
  let out: string;
  if (values.resume) {
    if (typeof values.out !== "string") throw new UsageError("--resume needs --out DIR, the run to continue", trainCommand);
    out = values.out;
    const saved = JSON.parse(await readFile(join(out, RUN_FILES.config), "utf8").catch(() => {
      throw new StaqInputError(`${out} holds no run to resume (no ${RUN_FILES.config}); start one without --resume`);
    })) as { env: string };
    if (saved.env.startsWith("MinAtar/")) await loadMinatar(saved.env);
    if (envName !== undefined && envName !== saved.env) throw new StaqInputError(`${out} is a run on ${saved.env}; --env says ${envName}`);
    if (values.preset !== undefined) throw new UsageError("--preset cannot change when resuming; the run keeps its config", trainCommand);
    if (values.force) throw new UsageError("--resume continues a run and --force starts it over; give one of them", trainCommand);
    agent = await StaQ.load(join(out, RUN_FILES.checkpoint), { overrides });
    await writeRunConfig(out, agent); // --steps (or another field allowed to change) may differ now
    const logged = agent.checkpointExtra as { metricsLines?: number; evalLines?: number };
    await truncateLines(join(out, RUN_FILES.metrics), logged.metricsLines ?? 0);
    await truncateLines(join(out, RUN_FILES.eval), logged.evalLines ?? 0);
  } else {
    if (envName === undefined) throw new UsageError("--env NAME is required (`staq envs` lists them)", trainCommand);
    const preset = (values.preset as string | undefined) ?? defaultPreset(envName);
    out = (values.out as string | undefined) ?? defaultRunDirectory(envName, preset, overrides.seed ?? 0);
    if (await pathExists(join(out, RUN_FILES.config))) {
      if (!values.force) throw new StaqInputError(`${out} already holds a run; continue it with --resume, start over with --force, or choose another --out`);
      for (const name of Object.values(RUN_FILES)) await rm(join(out, name), { recursive: true, force: true });
      for (const name of [`${RUN_FILES.checkpoint}.old`, `${RUN_FILES.checkpoint}.new`]) await rm(join(out, name), { recursive: true, force: true });
    }
    agent = await StaQ.create({ env: envName, preset, ...overrides });
    await mkdir(out, { recursive: true });
    await writeRunConfig(out, agent);
  }
  try {
    await runTraining(agent, out, io, { quiet: values.quiet === true, checkpointEvery });
  } finally {
    agent.destroy();
  }
}

async function writeRunConfig(out: string, agent: StaQ): Promise<void> {
  const config = { env: agent.envName, preset: agent.preset, ...agent.config, adapter: agent.gpu.info.adapter };
  await writeFileAtomically(join(out, RUN_FILES.config), new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"), "the config");
}

async function runTraining(agent: StaQ, out: string, io: CommandIO, options: { quiet: boolean; checkpointEvery?: number }): Promise<void> {
  const metricsPath = join(out, RUN_FILES.metrics);
  const evalPath = join(out, RUN_FILES.eval);
  const lines = { metrics: await countLines(metricsPath), eval: await countLines(evalPath) };
  const total = agent.config.totalSteps;
  const silent = { write: () => true };
  const progress = createProgressReporter(options.quiet ? silent : (io.stderr as typeof process.stderr));
  const say = (line: string) => (options.quiet ? undefined : progress.note(line));
  say(`staq train: ${agent.envName}, preset ${agent.preset}, seed ${agent.config.seed}, ${total} steps, on ${agent.gpu.info.adapter}; writing ${out}${agent.globalStep > 0 ? ` (resuming at step ${agent.globalStep})` : ""}`);
  if (!agent.resumeExact) say("note: the environment cannot save its state (no saveState/loadState), so its episodes restarted; the run continues, but not bit for bit");

  const save = async () => {
    await agent.save(join(out, RUN_FILES.checkpoint), { metricsLines: lines.metrics, evalLines: lines.eval });
  };
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      io.stderr.write("\nstaq train: stopped at once; the last checkpoint is intact\n");
      process.exit(130);
    }
    controller.abort();
    say("\nstopping after this iteration and saving a checkpoint (Ctrl-C again to quit at once; the last checkpoint stays intact)");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let lastReturn: number | null = null;
  let lastEval: number | null = null;
  let lastSave = performance.now();
  let window: { step: number; time: number }[] = [];
  try {
    const result = await agent.learn({
      signal: controller.signal,
      onIteration: async (m: IterationMetrics) => {
        await appendJsonLine(metricsPath, m);
        lines.metrics++;
        lastReturn = m["charts/episodic_return"] ?? lastReturn;
        window = [...window.slice(-9), { step: m.global_step, time: m.time_s }];
        const rate = window.length > 1 ? (window[window.length - 1].step - window[0].step) / Math.max(1e-9, window[window.length - 1].time - window[0].time) : m["charts/SPS"];
        progress.update({ step: m.global_step, total, stepsPerSecond: rate, lastReturn, lastEval, elapsedSeconds: m.time_s });
        const due = options.checkpointEvery !== undefined ? m.iteration % options.checkpointEvery === 0 : performance.now() - lastSave >= 60_000;
        if (due) {
          await save();
          lastSave = performance.now();
        }
      },
      onEvaluation: async (e: EvaluationMetrics) => {
        await appendJsonLine(evalPath, e);
        lines.eval++;
        lastEval = e["eval/mean_return"];
        say(`eval at step ${e.global_step} (${formatDuration(e.time_s)}): mean return ${e["eval/mean_return"].toFixed(1)} ± ${e["eval/std_return"].toFixed(1)} over ${e["eval/returns"].length} greedy episodes`);
      },
    });
    await save();
    progress.finish();
    const curve = await writeRunCurve(out);
    const stoppedEarly = result.stopped ? `stopped at step ${result.globalStep}; continue with: staq train --resume --out ${out}` : `done: ${result.globalStep} steps`;
    say(`${stoppedEarly}; last greedy evaluation ${lastEval === null ? "none" : (lastEval as number).toFixed(1)}; wrote ${curve ? `${join(out, RUN_FILES.curve)} and ` : "(no evaluations, so no curve) "}${join(out, RUN_FILES.checkpoint)}/`);
  } finally {
    progress.finish();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export const trainCommand: Command = {
  name: "train",
  summary: "train a StaQ agent on an environment; writes metrics, evaluations, a curve and checkpoints",
  help: HELP,
  run: train,
};
