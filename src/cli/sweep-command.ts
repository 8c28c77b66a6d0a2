/**
 * `staq sweep FILE [--backend local|slurm] [--jobs N] [--status] …`: runs every point of a sweep
 * file (src/sweep/sweep-file.ts, docs/sweeps.md) as an ordinary run directory, on this machine or
 * as a Slurm array job, skipping what is done and resuming what was interrupted.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { StaqError, StaqInputError } from "../errors.ts";
import { parseJsonText } from "../io/json.ts";
import { runLocalSweep, sweepStates } from "../sweep/local-backend.ts";
import { planPoint, runPoint } from "../sweep/run-point.ts";
import {
  checkSlurmOptions,
  checkSlurmOut,
  pointsToSubmit,
  querySlurm,
  sbatchScript,
  shellWord,
  submitSweep,
  type SlurmOptions,
} from "../sweep/slurm-backend.ts";
import { checkMinatarEnvs, parseSweep, trainArguments, type Sweep, type SweepPoint } from "../sweep/sweep-file.ts";
import { integerFlag, RunInterrupted, UsageError, isParseArgsError, readInputFile, type Command, type CommandIO } from "./command.ts";

const HELP = `Usage: staq sweep FILE [--backend local|slurm] [--out DIR] [--retry-failed] [--dry-run]
                  [--jobs N]                                        (local)
                  [--partition P] [--time T] [--cpus C] [--gpus G]   (slurm)
                  [--max-parallel N]
       staq sweep FILE --status

Trains every point of a sweep file: a base run, a grid of overrides and an output directory
(docs/sweeps.md). Each point is an ordinary \`staq train\` run directory in the output directory,
named after its overrides (memory=5,seed=0); its progress goes to train.log there. A point that
is done is skipped, one that was interrupted resumes from its checkpoint (exactly, as --resume
does), and one that failed is skipped until --retry-failed: running a sweep again continues it.
\`staq compare DIR\` summarises the output directory.

  --backend local   (default) up to --jobs points at once on this machine, as child processes;
                    Ctrl-C stops them after their current iteration, each with its checkpoint
  --backend slurm   writes one Slurm array job (a task per point not done, queued or running)
                    into OUT/slurm/ and submits it with sbatch; each task runs one point by the
                    same rule. Slurm's client commands must be on PATH.
  --status          each point's state (done, partial at step N, failed, running, queued in
                    Slurm, unreadable: a damaged file, with what to do), from the run
                    directories and squeue

Options:
  --out DIR            the output directory (default: the file's "out", relative to the file)
  --jobs N             points at once with the local backend (default 1)
  --retry-failed       train the points whose last run failed again
  --dry-run            print the points and their \`staq train\` commands (local) or the array
                       job's script (slurm) without running anything; with --point, what
                       that point's worker would run now
  --partition P        slurm: the partition
  --time T             slurm: each task's time limit (minutes, H:MM:SS or D-HH:MM:SS); the run
                       saves its checkpoint a minute before it, and the next submission resumes
  --cpus C             slurm: CPUs per task
  --gpus G             slurm: GPUs per task
  --max-parallel N     slurm: tasks running at once
  --point NAME         run one point by the skip/resume rule (what each worker and array task runs)
  -h, --help           show this help
`;

const OPTIONS = {
  backend: { type: "string" },
  out: { type: "string" },
  jobs: { type: "string" },
  "retry-failed": { type: "boolean" },
  "dry-run": { type: "boolean" },
  status: { type: "boolean" },
  partition: { type: "string" },
  time: { type: "string" },
  cpus: { type: "string" },
  gpus: { type: "string" },
  "max-parallel": { type: "string" },
  point: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const SLURM_ONLY = ["partition", "time", "cpus", "gpus", "max-parallel"] as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>["values"];

function count(values: Values, flag: "jobs" | "cpus" | "gpus" | "max-parallel", min: number): number | undefined {
  const text = values[flag];
  return text === undefined ? undefined : integerFlag(text, flag, sweepCommand, { min });
}

/** The command that runs this same `staq` in a child process or on a cluster node. */
function staqCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]];
}

async function readSweep(file: string, out: string | undefined): Promise<Sweep> {
  const text = await readInputFile(file, "sweep");
  const swept = parseSweep(parseJsonText(text, file), file, out);
  await checkMinatarEnvs(swept);
  return swept;
}

function slurmOptions(values: Values): SlurmOptions {
  const options: SlurmOptions = {
    staq: staqCommand(),
    cwd: process.cwd(),
    ...(values.partition !== undefined ? { partition: values.partition } : {}),
    ...(values.time !== undefined ? { time: values.time } : {}),
    ...(values.cpus !== undefined ? { cpus: count(values, "cpus", 1) } : {}),
    ...(values.gpus !== undefined ? { gpus: count(values, "gpus", 0) } : {}),
    ...(values["max-parallel"] !== undefined ? { maxParallel: count(values, "max-parallel", 1) } : {}),
    retryFailed: values["retry-failed"] === true,
  };
  checkSlurmOptions(options);
  return options;
}

async function status(sweep: Sweep, io: CommandIO): Promise<void> {
  const states = await sweepStates(sweep);
  const queued = await querySlurm(sweep);
  const width = Math.max(5, ...sweep.points.map((p) => p.name.length));
  const counts = new Map<string, number>();
  const lines: string[] = [];
  for (const [point, state] of states) {
    const slurm = queued?.get(point.name);
    let what: string = state.status;
    if (state.status === "partial" || (state.status === "running" && state.step !== null))
      what += ` at step ${state.step}/${point.config.totalSteps}`;
    if (state.status === "running" && state.lock)
      what += ` (pid ${state.lock.pid} on ${state.lock.host === hostname() ? "this host" : state.lock.host}${state.lock.slurmJob ? `, Slurm task ${state.lock.slurmJob}` : ""})`;
    if (state.status === "failed" || state.status === "changed" || state.status === "unreadable") what += `: ${state.failure}`;
    // A task Slurm still holds that has not started its point yet.
    if (slurm && state.status !== "running" && state.status !== "done")
      what = `queued in Slurm (${slurm.task} ${slurm.state}${slurm.where ? `, ${slurm.where}` : ""}); ${what}`;
    const key = slurm && state.status !== "running" && state.status !== "done" ? "queued" : state.status;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    lines.push(`${point.name.padEnd(width)}  ${what}`);
  }
  const order = ["done", "running", "queued", "partial", "started", "new", "failed", "changed", "unreadable"];
  const summary = order.filter((k) => counts.has(k)).map((k) => `${counts.get(k)} ${k}`);
  io.stdout.write(`${sweep.points.length} point${sweep.points.length === 1 ? "" : "s"} in ${sweep.out}: ${summary.join(", ")}\n`);
  if (queued === undefined) io.stdout.write("(squeue could not be run: the states come from the run directories alone)\n");
  io.stdout.write(`${"point".padEnd(width)}  state\n${lines.join("\n")}\n`);
}

const NOTHING_TO_SUBMIT = (swept: Sweep) =>
  `nothing to submit: every point of ${swept.out} is done, running, queued or failed (--retry-failed)`;

/**
 * The points a Slurm submission gives tasks, for the dry run and the submission alike, and the
 * lines of those left out because their run directory could not be read.
 */
async function slurmPending(swept: Sweep, slurm: SlurmOptions): Promise<{ pending: SweepPoint[]; unreadable: string[] }> {
  const states = await sweepStates(swept);
  const queued = (await querySlurm(swept)) ?? new Map();
  const unreadable = [...states].filter(([, state]) => state.status === "unreadable").map(([p, state]) => `  ${p.name}: ${state.failure}`);
  return { pending: pointsToSubmit(swept.points, states, new Set(queued.keys()), slurm.retryFailed === true), unreadable };
}

/** What a sweep says of its unreadable points: they were not trained, and why. */
const unreadableReport = (lines: readonly string[]) =>
  `${lines.length} point${lines.length === 1 ? "" : "s"} unreadable, not trained (each line says what to do):\n${lines.join("\n")}`;

/** --point NAME --dry-run: what the worker would do with the point now, without doing it. */
async function dryRunPoint(swept: Sweep, point: SweepPoint, retryFailed: boolean, io: CommandIO): Promise<void> {
  const plan = await planPoint(swept, point, { retryFailed });
  io.stdout.write(
    plan.args
      ? `${point.name} (${plan.state.status}): staq train ${plan.args.map(shellWord).join(" ")}\n`
      : `${point.name} (${plan.state.status}): nothing to run: ${plan.why}\n`,
  );
}

async function sweep(args: string[], io: CommandIO): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message, sweepCommand);
    throw error;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  if (positionals.length !== 1)
    throw new UsageError(`give one sweep file; got ${positionals.length === 0 ? "none" : positionals.join(" ")}`, sweepCommand);
  const backend = values.backend ?? "local";
  if (backend !== "local" && backend !== "slurm")
    throw new UsageError(`--backend must be local or slurm; got ${JSON.stringify(backend)}`, sweepCommand);
  if (backend === "local") {
    const given = SLURM_ONLY.find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} is for --backend slurm`, sweepCommand);
  } else if (values.jobs !== undefined) throw new UsageError("--jobs is for --backend local (Slurm's is --max-parallel)", sweepCommand);
  // Refused rather than ignored: a user who gives them expects them to do something.
  const notWithStatus = (["point", "dry-run", "jobs", "retry-failed"] as const).find((flag) => values[flag] !== undefined);
  if (values.status && notWithStatus !== undefined)
    throw new UsageError(`--status only reports; give it without --${notWithStatus}`, sweepCommand);
  const jobs = count(values, "jobs", 1) ?? 1;
  const slurm = backend === "slurm" ? slurmOptions(values) : undefined;
  const file = positionals[0];
  const swept = await readSweep(file, values.out);

  if (values.status) return status(swept, io);
  // Before the dry run's script too: it shows what a submission would write.
  if (slurm) checkSlurmOut(swept);

  if (values.point !== undefined) {
    const point = swept.points.find((p) => p.name === values.point);
    if (!point)
      throw new StaqInputError(
        `${file} has no point named ${JSON.stringify(values.point)}; it has ${swept.points.map((p) => p.name).join(", ")}`,
      );
    if (values["dry-run"]) return dryRunPoint(swept, point, values["retry-failed"] === true, io);
    const slurmJob =
      process.env.SLURM_ARRAY_JOB_ID !== undefined ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : undefined;
    const outcome = await runPoint(swept, point, { retryFailed: values["retry-failed"] === true, ...(slurmJob ? { slurmJob } : {}) });
    io.stdout.write(
      `${point.name}: ${outcome.action === "skipped" ? `skipped (${outcome.found})` : `${outcome.action}, exit code ${outcome.exitCode}`}\n`,
    );
    if (outcome.exitCode >= 128)
      throw new RunInterrupted(`${point.name} stopped by a signal; its checkpoint is saved and the sweep resumes it`, outcome.exitCode);
    if (outcome.exitCode !== 0) {
      const message = outcome.message ?? `${point.name} failed (staq train's exit code ${outcome.exitCode}): see ${point.dir}/train.log`;
      throw outcome.exitCode === 2 ? new StaqInputError(message) : new StaqError(message);
    }
    return;
  }

  if (values["dry-run"]) {
    if (slurm) {
      const { pending, unreadable } = await slurmPending(swept, slurm);
      io.stdout.write(pending.length ? sbatchScript(swept, pending, slurm) : `${NOTHING_TO_SUBMIT(swept)}\n`);
      if (unreadable.length) io.stderr.write(`staq sweep: ${unreadableReport(unreadable)}\n`);
    } else {
      for (const point of swept.points)
        io.stdout.write(`${point.name}: staq train ${trainArguments(swept, point).map(shellWord).join(" ")}\n`);
    }
    return;
  }

  if (slurm) {
    const { pending, unreadable } = await slurmPending(swept, slurm);
    if (pending.length === 0) io.stdout.write(`staq sweep: ${NOTHING_TO_SUBMIT(swept)}\n`);
    else {
      const { record, script } = await submitSweep(swept, pending, slurm);
      io.stdout.write(
        `staq sweep: submitted job ${record.job}: ${pending.length} of ${swept.points.length} points as array tasks 0-${pending.length - 1} (${script}); \`staq sweep ${shellWord(file)} --status\` follows them\n`,
      );
    }
    // The others are submitted; the sweep is still not whole, which the exit code says.
    if (unreadable.length) throw new SweepIncomplete(unreadableReport(unreadable));
    return;
  }

  const result = await runLocalSweep(swept, {
    jobs,
    retryFailed: values["retry-failed"] === true,
    staq: staqCommand(),
    report: (line) => io.stdout.write(`${line}\n`),
  });
  if (result.stoppedBy) {
    const code = result.stoppedBy === "SIGINT" ? 130 : 143;
    throw new RunInterrupted(`stopped by ${result.stoppedBy}; the interrupted points resume when the sweep is run again`, code);
  }
  const problems = [
    ...result.failed.map((f) => `  ${f.name}: ${f.message}`),
    ...result.unreadable.map((u) => `  ${u.name}: unreadable, not trained: ${u.message}`),
    ...(result.interrupted.length ? [`  interrupted (run the sweep again to resume): ${result.interrupted.join(", ")}`] : []),
    ...(result.elsewhere.length ? [`  held by another worker: ${result.elsewhere.join(", ")}`] : []),
  ];
  if (result.failed.length || result.interrupted.length || result.unreadable.length) {
    throw new SweepIncomplete(
      `${result.done.length} of ${swept.points.length} points done; the others:\n${problems.join("\n")}\n(train.log in a point's directory has its output; --retry-failed trains the failed ones again)`,
    );
  }
  if (result.elsewhere.length) {
    // Held when this sweep reached them: the other worker may have finished them since, or not.
    io.stdout.write(
      `staq sweep: ${result.done.length} of ${swept.points.length} points done in ${swept.out}; another worker held the rest when this sweep reached them: ${result.elsewhere.join(", ")} (\`staq sweep ${shellWord(file)} --status\` shows where they stand)\n`,
    );
    return;
  }
  io.stdout.write(`staq sweep: ${swept.points.length === 1 ? "the point is" : `all ${swept.points.length} points`} done in ${swept.out}\n`);
}

/** A sweep that ended with points not done: exit code 1. */
class SweepIncomplete extends StaqError {}

export const sweepCommand: Command = {
  name: "sweep",
  summary: "train every point of a sweep file, locally or as a Slurm array job",
  help: HELP,
  run: sweep,
};
