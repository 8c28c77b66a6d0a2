/**
 * `staq train --env NAME [--preset P] [--steps N] [--seed S] [--out DIR] [--resume] [--<field> V]…`:
 * trains a StaQ agent and writes the run directory (src/cli/run-directory.ts). Ctrl-C stops after
 * the iteration in progress and saves a checkpoint; `--resume` continues a run exactly where its
 * checkpoint left it, as if it had never stopped.
 */
import { readFile, rm, stat } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import {
  CONFIG_FIELDS,
  firstFitStep,
  flagName,
  parseFieldValue,
  resolveConfig,
  unusedFields,
  wholeIterationSteps,
  type StaqConfig,
} from "../agent/config.ts";
import { StaqDivergenceError } from "../agent/divergence.ts";
import type { EvaluationMetrics, IterationMetrics } from "../agent/metrics.ts";
import { defaultPreset, presetConfig, presetName } from "../agent/presets.ts";
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { checkJsonDepth } from "../io/json.ts";
import { exitWhenCompiled } from "../node/exit-when-compiled.ts";
import { fileError, makeDirectories, writeFileAtomically } from "../node/files.ts";
import { StaQ, readCheckpoint } from "../node/staq.ts";
import { integerFlag, RunInterrupted, UsageError, parseCommandArgs, type Command, type CommandIO } from "./command.ts";
import { loadMinatar } from "./minatar-module.ts";
import { createProgressReporter, formatDuration } from "./progress.ts";
import { parseJsonLines } from "../plot/learning-curves.ts";
import { RUN_FILES, appendJsonLine, countLines, pathExists, truncateLines } from "./run-directory.ts";
import { writeRunCurve } from "./run-curve.ts";

const FIELD_FLAGS = CONFIG_FIELDS.filter((f) => f.key !== "seed" && f.key !== "totalSteps");

const HELP = `Usage: staq train --env NAME [--preset NAME] [--algo staq|dqn|mdqn|mdpo] [--steps N] [--seed S]
                  [--out DIR] [--resume | --force] [--checkpoint-every N] [--quiet] [--<field> VALUE]...

Trains StaQ, or with --algo a baseline (docs/baselines.md), on an environment (\`staq envs\`
lists them) and writes the run to DIR:
  config.json     the resolved config
  metrics.jsonl   one line per iteration: global_step, charts/episodic_return, charts/SPS,
                  losses/td_loss, policy/entropy, policy/kl, stack/size, time/...
  eval.jsonl      one line per greedy evaluation: eval/mean_return, eval/returns, ...
  curve.svg       the learning curve (greedy evaluation return against environment steps)
  checkpoint/     stack.safetensors (the stack, readable by PyTorch's safetensors), the active and
                  target networks, Adam's state, the replay buffer, the environments' state and the
                  counters; replaced atomically, so it is always complete

Ctrl-C (or SIGTERM) stops after the current iteration and its evaluation, saves a checkpoint and
exits with code 130 (143 for SIGTERM); press it again to quit at once, leaving the last checkpoint
written, if any, intact. --resume continues from the checkpoint exactly as if the run had not
stopped (on the same GPU adapter), even after a kill or a crash. A run whose losses or weights
become NaN or infinite stops with exit code 1, naming the quantity and the option to change, and
writes no checkpoint of the diverged state.

Options:
  --env NAME              the environment (required unless --resume): a name \`staq envs\` lists,
                          or gym:<Gymnasium id> (gym:CartPole-v1, gym:Pendulum-v1,discretise-box),
                          stepped in a Python worker (docs/gym-bridge.md; its checkpoints hold no
                          environment state, so --resume restarts the episodes)
  --preset NAME           the config to start from: quick (small, learns CartPole and Acrobot in
                          minutes on a CPU), quick-lunar (quick with 400k steps and a 100k
                          buffer, learns LunarLander-v3 in about half an hour on a CPU),
                          quick-minatar (small conv network, learns MinAtar games within half
                          an hour on a CPU), paper-classic, paper-minatar (the
                          StaQ authors' defaults and networks); dqn-quick, dqn-cleanrl,
                          dqn-minatar and the same for mdqn, mdpo-quick, mdpo-classic,
                          mdpo-minatar, mdpo-quick-minatar (the baselines'); with --algo A, a
                          name is looked up as A-NAME first (--algo dqn --preset quick is
                          dqn-quick); default: paper-minatar for MinAtar, paper-classic
                          otherwise (with --algo A: A-minatar, A-cleanrl, mdpo-classic)
  --steps N               environment steps of the run (the preset's totalSteps otherwise),
                          rounded up to whole iterations (--steps-per-iteration each)
  --seed S                seed of everything random (default 0)
  --out DIR               the run directory (default runs/<env>-<preset>-s<seed>)
  --resume                continue the run in --out (its config is kept; --steps may extend it)
  --force                 start over when --out already holds a run (its files are replaced once
                          the new run's arguments are checked and it is ready to start)
  --checkpoint-every N    iterations between checkpoints (default: about every 60 s); one is
                          always written at the end and on Ctrl-C
  --quiet                 no progress output
  -h, --help              show this help

Config fields (override the preset; unknown or invalid values are errors naming the field; a flag
given twice takes its last value, so a script may append overrides to a base command line):
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

/** The flag of a config field: `--steps` for totalSteps, `--batch-size` for batchSize. */
const flagOf = (key: keyof StaqConfig) => (key === "totalSteps" ? "steps" : flagName(key));

/** The config fields given on the command line, parsed and range-checked, errors naming the flag. */
function configOverrides(values: Record<string, unknown>): Partial<StaqConfig> {
  const overrides: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const text = values[flagOf(field.key)];
    if (typeof text === "string") overrides[field.key] = parseFieldValue(field.key, text, `--${flagOf(field.key)}`);
  }
  return overrides as Partial<StaqConfig>;
}

/** The run directory's default name: runs/CartPole-v1-quick-s0 (a MinAtar name's slash becomes a dash). */
export function defaultRunDirectory(env: string, preset: string, seed: number): string {
  return join("runs", `${env.replace(/[^A-Za-z0-9._-]+/g, "-")}-${preset}-s${seed}`);
}

/** 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

type Values = Record<string, string | boolean | undefined>;

/** A run ready to train: every argument checked, the run directory in its starting state. */
interface PreparedRun {
  agent: StaQ;
  out: string;
  /** Lines to show after the first one (e.g. how --steps was rounded). */
  notes: string[];
  /** The step of the checkpoint a resumed run starts from (null for a new run). */
  resumedFrom: number | null;
}

async function train(args: string[], io: CommandIO): Promise<void> {
  const values = parseCommandArgs(args, OPTIONS, trainCommand) as Values;
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  // "" would be the working directory: the run's files would land among whatever is there.
  if (values.out === "")
    throw new UsageError("--out needs a directory for the run; got an empty path (e.g. --out runs/mine)", trainCommand);
  const overrides = configOverrides(values);
  const every = values["checkpoint-every"] as string | undefined;
  const checkpointEvery = every === undefined ? undefined : integerFlag(every, "checkpoint-every", trainCommand, { min: 1 });
  // Everything is checked, and the new run or the resumed one is built, before a file is changed:
  // a mistake leaves the run directory as it was.
  const run = values.resume ? await prepareResume(values, overrides) : await prepareNewRun(values, overrides);
  try {
    await runTraining(run, io, { quiet: values.quiet === true, checkpointEvery });
  } finally {
    run.agent.destroy();
  }
}

/**
 * The environment steps a run trains to: `total`, rounded up to whole iterations from `globalStep`
 * (the agent trains whole iterations); a note says so when that changes it.
 */
function roundedTotal(total: number, config: StaqConfig, globalStep: number, given: string | undefined): { total: number; note?: string } {
  const rounded = globalStep + wholeIterationSteps(Math.max(0, total - globalStep), config.stepsPerIteration);
  if (rounded === total) return { total };
  const what = given !== undefined ? `--steps ${given}` : `totalSteps ${total}`;
  const from = globalStep > 0 ? ` from step ${globalStep}` : "";
  return {
    total: rounded,
    note: `${what} is not a whole number of iterations (${config.stepsPerIteration} steps each)${from}; training ${globalStep > 0 ? `to step ${rounded}` : `${rounded} steps`}`,
  };
}

/**
 * Refuses a run that would end before its first fit: it would log, evaluate and plot an untrained
 * agent and exit 0, as if that were a result (the dqn presets wait 1000 or 10000 steps).
 */
function checkFitsBefore(total: number, config: StaqConfig, preset: string): void {
  const firstFit = firstFitStep(config);
  if (firstFit > total) {
    throw new StaqInputError(
      `this run would never train: its first fit comes after step ${firstFit} (learningStarts ${config.learningStarts}, from --learning-starts or the ${preset} preset), but it ends at step ${total}; lower --learning-starts or raise --steps`,
    );
  }
}

/** The files of a run (config, logs, curve, checkpoints) that `out` holds: a new run there would append to or replace them. */
async function runFilesIn(out: string): Promise<string[]> {
  const names = [...Object.values(RUN_FILES), `${RUN_FILES.checkpoint}.old`, `${RUN_FILES.checkpoint}.new`];
  const present = await Promise.all(names.map((name) => pathExists(join(out, name))));
  return names.filter((_, i) => present[i]);
}

/** Refuses an --out that exists but is not a directory (mkdir would fail with a bare EEXIST). */
async function checkRunDirectory(out: string): Promise<void> {
  const info = await stat(out).catch(() => undefined);
  if (info !== undefined && !info.isDirectory())
    throw new StaqInputError(`--out ${out} is a file, not a directory; give a directory for the run`);
}

/** A new run: the agent is built (which checks the environment, the preset and the config) before an old run is removed. */
async function prepareNewRun(values: Values, overrides: Partial<StaqConfig>): Promise<PreparedRun> {
  const envName = values.env as string | undefined;
  if (envName === undefined) throw new UsageError("--env NAME is required (`staq envs` lists them)", trainCommand);
  if (envName.startsWith("MinAtar/")) await loadMinatar(envName);
  // --algo picks among its own presets: --algo dqn --preset quick is dqn-quick.
  const preset = presetName((values.preset as string | undefined) ?? defaultPreset(envName, overrides.algo), overrides.algo);
  // The arguments first: a mistake in them is reported before an --out that already holds a run,
  // which --force would replace only to meet the mistake next.
  const config = resolveConfig(presetConfig(preset), overrides);
  const { total, note } = roundedTotal(config.totalSteps, config, 0, values.steps as string | undefined);
  checkFitsBefore(total, config, preset);
  const out = (values.out as string | undefined) ?? defaultRunDirectory(envName, preset, overrides.seed ?? 0);
  await checkRunDirectory(out);
  const present = await runFilesIn(out);
  const existing = present.length > 0;
  if (existing && !values.force) {
    throw new StaqInputError(
      present.includes(RUN_FILES.config)
        ? `${out} already holds a run; continue it with --resume, start over with --force, or choose another --out`
        : `${out} holds files of a run (${present.join(", ")}) but no ${RUN_FILES.config}, so it cannot be resumed; start over with --force, or choose another --out`,
    );
  }
  const agent = await StaQ.create({ env: envName, preset, ...overrides, totalSteps: total });
  try {
    for (const name of present) await rm(join(out, name), { recursive: true, force: true });
    await makeDirectories(out).catch((error: unknown) => {
      throw fileError(`Could not create the run directory ${out}`, error);
    });
    await writeRunConfig(out, agent);
  } catch (error) {
    agent.destroy();
    throw error;
  }
  // A warning, not an error: a sweep's base may set a field some of its grid's algorithms do not read.
  const unused = unusedFields(config, Object.keys(overrides)).map(
    ({ key, algos }) =>
      `--${flagOf(key)} does not apply to --algo ${config.algo} (only to ${algos.join(", ")}); it is recorded in config.json but changes nothing`,
  );
  return { agent, out, notes: [...(note ? [note] : []), ...unused], resumedFrom: null };
}

/**
 * Refuses a checkpoint that is not the run config.json describes (copied in from another run, or
 * config.json edited): resuming would rewrite config.json from the checkpoint and mix two runs'
 * lines in one log, or silently drop the edit. totalSteps may differ (a resume that extended the
 * run rewrites config.json before its next checkpoint); staq writes nothing else there.
 */
function checkSameRun(saved: RunConfigFile, checkpoint: { config: StaqConfig; preset: string; envName: string }, out: string): void {
  const path = join(out, RUN_FILES.config);
  const recorded: Record<string, unknown> = { ...checkpoint.config, env: checkpoint.envName, preset: checkpoint.preset };
  for (const [key, value] of Object.entries(saved.fields)) {
    if (key === "totalSteps" || key === "adapter") continue;
    if (!Object.hasOwn(recorded, key)) {
      throw new StaqFormatError(
        `${path} has a field staq does not write, ${JSON.stringify(key)}; remove it, or start the run over with --force`,
      );
    }
    if (JSON.stringify(value) !== JSON.stringify(recorded[key])) {
      throw new StaqFormatError(
        `${path} says ${key} ${JSON.stringify(value)}, but the run's checkpoint was made with ${JSON.stringify(recorded[key])}: the run directory was changed (a resumed run keeps its checkpoint's config); restore config.json, or start the run over with --force`,
      );
    }
  }
}

/**
 * Parses the first `count` lines of a log the checkpoint follows: a damaged line would otherwise
 * surface only when the curve is drawn, after the whole resumed run has trained.
 */
async function checkLogLines(path: string, count: number): Promise<void> {
  if (count === 0) return;
  const text = await readFile(path, "utf8");
  const kept = text.split("\n").slice(0, count).join("\n") + "\n";
  try {
    parseJsonLines(kept, path);
  } catch (error) {
    throw new StaqFormatError(
      `${(error as Error).message}; the log was changed after the checkpoint: restore it, or start the run over with --force`,
      {
        cause: error,
      },
    );
  }
}

interface RunConfigFile {
  env: string;
  /** Every field config.json holds. */
  fields: Record<string, unknown>;
}

/** config.json of the run in `out`, checked as far as resuming needs it (the environment's name). */
async function readRunConfig(out: string): Promise<RunConfigFile> {
  const path = join(out, RUN_FILES.config);
  const text = await readFile(path, "utf8").catch(() => {
    throw new StaqInputError(`${out} holds no run to resume (no ${RUN_FILES.config}); start one without --resume`);
  });
  let config: unknown;
  checkJsonDepth(text, path);
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(
      `${path} is not valid JSON (${(error as Error).message}); it is written by staq train: restore it, or start the run over with --force`,
    );
  }
  const env = (config as { env?: unknown } | null)?.env;
  if (typeof env !== "string") throw new StaqFormatError(`${path}: "env" must be the environment's name; got ${JSON.stringify(env)}`);
  if (Array.isArray(config)) throw new StaqFormatError(`${path} must hold a JSON object; it is written by staq train`);
  return { env, fields: config as Record<string, unknown> };
}

/** The log positions the checkpoint follows (staq train stores them with it). */
function loggedLines(extra: Record<string, unknown>, stateFile: string): { metrics: number; eval: number } {
  const count = (key: string, log: string) => {
    const value = extra[key];
    if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
      throw new StaqFormatError(
        `${stateFile}: extra.${key} must be an integer >= 0 (the lines of ${log} the checkpoint follows); got ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
  return { metrics: count("metricsLines", RUN_FILES.metrics), eval: count("evalLines", RUN_FILES.eval) };
}

/**
 * A resumed run: config.json, the checkpoint, its log positions and the new --steps are all
 * checked and the agent restored before the logs are cut back to the checkpoint and config.json
 * is rewritten.
 */
async function prepareResume(values: Values, overrides: Partial<StaqConfig>): Promise<PreparedRun> {
  if (typeof values.out !== "string") throw new UsageError("--resume needs --out DIR, the run to continue", trainCommand);
  if (values.preset !== undefined) throw new UsageError("--preset cannot change when resuming; the run keeps its config", trainCommand);
  if (values.force) throw new UsageError("--resume continues a run and --force starts it over; give one of them", trainCommand);
  const changed = (Object.keys(overrides) as (keyof StaqConfig)[]).find((key) => key !== "totalSteps");
  if (changed !== undefined) {
    throw new UsageError(
      `--${flagOf(changed)} cannot be given with --resume: a resumed run keeps its config and continues exactly as if it had not stopped; give only --steps (to extend it), or start a new run (--force, or another --out) to change it`,
      trainCommand,
    );
  }
  const out = values.out;
  await checkRunDirectory(out);
  const saved = await readRunConfig(out);
  if (saved.env.startsWith("MinAtar/")) await loadMinatar(saved.env);
  const envName = values.env as string | undefined;
  if (envName !== undefined && envName !== saved.env) throw new StaqInputError(`${out} is a run on ${saved.env}; --env says ${envName}`);
  const checkpointDir = join(out, RUN_FILES.checkpoint);
  if (!(await pathExists(checkpointDir)) && !(await pathExists(`${checkpointDir}.old`))) {
    throw new StaqInputError(
      `${out} holds a run that stopped before its first checkpoint; start it over with --force (and the arguments it was started with)`,
    );
  }
  const { contents } = await readCheckpoint(checkpointDir);
  checkSameRun(saved, contents, out);
  const logged = loggedLines(contents.extra, join(checkpointDir, "state.json"));
  const logs = { metrics: join(out, RUN_FILES.metrics), eval: join(out, RUN_FILES.eval) };
  for (const key of ["metrics", "eval"] as const) {
    const present = await countLines(logs[key]);
    if (present < logged[key])
      throw new StaqFormatError(
        `${logs[key]} has ${present} lines; the checkpoint was taken after ${logged[key]}. The run directory was changed after the checkpoint; start the run over with --force`,
      );
    await checkLogLines(logs[key], logged[key]);
  }
  const globalStep = contents.counters.globalStep;
  const config = resolveConfig(contents.config, overrides);
  if (config.totalSteps < globalStep) {
    const what = values.steps !== undefined ? `--steps ${values.steps as string}` : `The checkpoint's totalSteps (${config.totalSteps})`;
    throw new StaqInputError(
      `${what} is below the run's current step, ${globalStep}: a resumed run can only be extended; give --steps ${globalStep} or more`,
    );
  }
  const { total, note } = roundedTotal(config.totalSteps, config, globalStep, values.steps as string | undefined);
  const agent = await StaQ.restoreDecoded(contents, { overrides: { ...overrides, totalSteps: total } });
  try {
    await truncateLines(logs.metrics, logged.metrics);
    await truncateLines(logs.eval, logged.eval);
    await writeRunConfig(out, agent); // --steps (or another field allowed to change) may differ now
  } catch (error) {
    agent.destroy();
    throw error;
  }
  return { agent, out, notes: note ? [note] : [], resumedFrom: globalStep };
}

async function writeRunConfig(out: string, agent: StaQ): Promise<void> {
  const config = { env: agent.envName, preset: agent.preset, ...agent.config, adapter: agent.gpu.info.adapter };
  await writeFileAtomically(join(out, RUN_FILES.config), new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"), "the config");
}

/** Where the run's checkpoint stands, for the messages of a stop. */
interface CheckpointState {
  /** The step of the last checkpoint on disk (null: none yet). */
  saved: number | null;
  /** The step of the checkpoint being written (null: none). */
  writing: number | null;
}

/** What a second Ctrl-C leaves, in words: true about the checkpoint on disk. */
function quitMessage(state: CheckpointState, dir: string, resume: string): string {
  if (state.writing !== null) {
    const before = state.saved !== null ? `the checkpoint of step ${state.saved}` : "nothing (it was the first)";
    return `stopped at once while writing the checkpoint of step ${state.writing}: ${dir} holds that one if its write completed, else ${before}; ${state.saved !== null ? `continue with: ${resume}` : `if \`${resume}\` finds none, start over with --force`}`;
  }
  if (state.saved !== null) return `stopped at once; the checkpoint of step ${state.saved} in ${dir} is intact; continue with: ${resume}`;
  return "stopped at once, before the first checkpoint: there is nothing to resume; start over with --force";
}

async function runTraining(run: PreparedRun, io: CommandIO, options: { quiet: boolean; checkpointEvery?: number }): Promise<void> {
  const { agent, out } = run;
  const metricsPath = join(out, RUN_FILES.metrics);
  const evalPath = join(out, RUN_FILES.eval);
  const checkpointDir = join(out, RUN_FILES.checkpoint);
  const resume = `staq train --resume --out ${out}`;
  const lines = { metrics: await countLines(metricsPath), eval: await countLines(evalPath) };
  const total = agent.config.totalSteps;
  const silent = { write: () => true };
  const progress = createProgressReporter(options.quiet ? silent : (io.stderr as typeof process.stderr));
  const say = (line: string) => (options.quiet ? undefined : progress.note(line));
  // Something the user did not ask for (rounded steps, a restart not bit for bit) is said even with --quiet.
  const warn = (line: string) => (options.quiet ? io.stderr.write(`staq train: ${line}\n`) : progress.note(line));
  // A resumed run starts from a checkpoint on disk; a new one has none until its first save.
  const checkpoint: CheckpointState = { saved: run.resumedFrom, writing: null };

  const save = async () => {
    checkpoint.writing = agent.globalStep;
    await agent.save(checkpointDir, { metricsLines: lines.metrics, evalLines: lines.eval });
    checkpoint.saved = agent.globalStep;
    checkpoint.writing = null;
  };
  const controller = new AbortController();
  let stopSignal: NodeJS.Signals | undefined;
  let complete = false;
  let quitting = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (complete) return; // the run is on disk: finished (below) ends the process with 0
    if (quitting) return; // on its way out (below)
    if (controller.signal.aborted) {
      quitting = true;
      // Not process.exit() now: a pipeline Dawn is building would crash the exit (SIGSEGV). The
      // message is written as the process exits, so what it says of the checkpoint is still true.
      void exitWhenCompiled(agent.gpu, signalExitCode(signal), () =>
        io.stderr.write(`\nstaq train: ${quitMessage(checkpoint, checkpointDir, resume)}\n`),
      );
      return;
    }
    stopSignal = signal;
    controller.abort();
    const intact =
      checkpoint.saved !== null ? `the checkpoint of step ${checkpoint.saved} stays intact` : "no checkpoint has been written yet";
    say(`\nstopping after this iteration and saving a checkpoint (Ctrl-C again to quit at once; ${intact})`);
  };
  // In place before the first line, so a signal is never met by Node's default (an exit with nothing said).
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let lastReturn: number | null = null;
  let lastEval: number | null = null;
  let lastSave = performance.now();
  let window: { step: number; time: number }[] = [];
  try {
    say(
      `staq train: ${agent.envName}, ${agent.config.algo === "staq" ? "" : `algo ${agent.config.algo}, `}preset ${agent.preset}, seed ${agent.config.seed}, ${total} steps, on ${agent.gpu.info.adapter}; writing ${out}${run.resumedFrom !== null ? ` (resuming at step ${run.resumedFrom})` : ""}`,
    );
    for (const note of run.notes) warn(note);
    if (!agent.resumeExact)
      warn(
        "note: the environment cannot save its state (no saveState/loadState), so its episodes restarted; the run continues, but not bit for bit",
      );
    const result = await agent
      .learn({
        signal: controller.signal,
        // Called after the iteration's evaluation (onEvaluation below), so a checkpoint here
        // follows every line the iteration logs, and a resumed run repeats none and misses none.
        onIteration: async (m: IterationMetrics) => {
          await appendJsonLine(metricsPath, m);
          lines.metrics++;
          lastReturn = m["charts/episodic_return"] ?? lastReturn;
          window = [...window.slice(-9), { step: m.global_step, time: m.time_s }];
          const rate =
            window.length > 1
              ? (window[window.length - 1].step - window[0].step) / Math.max(1e-9, window[window.length - 1].time - window[0].time)
              : m["charts/SPS"];
          progress.update({ step: m.global_step, total, stepsPerSecond: rate, lastReturn, lastEval, elapsedSeconds: m.time_s });
          const due =
            options.checkpointEvery !== undefined ? m.iteration % options.checkpointEvery === 0 : performance.now() - lastSave >= 60_000;
          if (due) {
            await save();
            lastSave = performance.now();
          }
        },
        onEvaluation: async (e: EvaluationMetrics) => {
          await appendJsonLine(evalPath, e);
          lines.eval++;
          lastEval = e["eval/mean_return"];
          say(
            `eval at step ${e.global_step} (${formatDuration(e.time_s)}): mean return ${e["eval/mean_return"].toFixed(1)} ± ${e["eval/std_return"].toFixed(1)} over ${e["eval/returns"].length} greedy episodes`,
          );
        },
      })
      .catch((error: unknown) => {
        throw inCommandLineTerms(error, checkpoint, checkpointDir);
      });
    await save().catch((error: unknown) => {
      throw inCommandLineTerms(error, checkpoint, checkpointDir);
    });
    progress.finish();
    const curve = await writeRunCurve(out);
    say(
      `${result.stopped ? `stopped at step ${result.globalStep}` : `done: ${result.globalStep} steps`}; last greedy evaluation ${lastEval === null ? "none" : (lastEval as number).toFixed(1)}; wrote ${curve.written ? `${curve.path} and ` : `(${curve.reason}) `}${checkpointDir}/`,
    );
    if (result.stopped) {
      throw new RunInterrupted(
        `interrupted at step ${result.globalStep} of ${total}; the checkpoint is saved in ${checkpointDir}; continue with: ${resume}`,
        signalExitCode(stopSignal ?? "SIGINT"),
      );
    }
    // The run is complete and on disk: a Ctrl-C from here on (while the device is released) must
    // not turn it into exit 130, Node's default, as if it had been interrupted. Installed before the
    // run's own handler is removed, so the signal is watched throughout: a SIGINT that came while
    // Node had no listener would be lost, or end the process.
    complete = true;
    const finished = () => process.exit(0);
    process.once("SIGINT", finished);
    process.once("SIGTERM", finished);
  } finally {
    progress.finish();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** A divergence with the command line's flags in its hints, and what is on disk. */
function inCommandLineTerms(error: unknown, checkpoint: CheckpointState, dir: string): unknown {
  if (!(error instanceof StaqDivergenceError)) return error;
  const kept =
    checkpoint.saved !== null ? `the checkpoint of step ${checkpoint.saved} in ${dir} is the last good state` : "no checkpoint was written";
  return new StaqDivergenceError(error.details, {
    name: (key) => `--${flagName(key)}`,
    note: `the diverged state was not saved (${kept})`,
    cause: error,
  });
}

export const trainCommand: Command = {
  name: "train",
  summary: "train a StaQ agent on an environment; writes metrics, evaluations, a curve and checkpoints",
  help: HELP,
  run: train,
};
