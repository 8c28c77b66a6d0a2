/**
 * The Slurm backend of `staq sweep`: one array job whose task i runs the i-th point not yet done
 * (`staq sweep FILE --point NAME`, the same skip/resume rule as the local backend), submitted with
 * `sbatch`; `staq sweep FILE --status` asks `squeue` which tasks wait or run. Slurm schedules,
 * retries and limits; staq only writes the script.
 *
 * Each submission leaves OUT/slurm/sweep-<time>.sbatch (the script as submitted), the tasks' output
 * in OUT/slurm/<job>_<task>.out, and one line in OUT/slurm/jobs.jsonl: {job, points, submitted}.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, appendFile, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { makeDirectories } from "../node/files.ts";
import { delimiter, dirname, join, resolve } from "node:path";
import { StaqError, StaqInputError } from "../errors.ts";
import { pathExists } from "../cli/run-directory.ts";
import type { PointState } from "./point-state.ts";
import type { Sweep, SweepPoint } from "./sweep-file.ts";

export interface SlurmOptions {
  partition?: string;
  /** Wall-clock limit of each task, in a form sbatch takes ("30", "1:00:00", "2-00:00:00"). */
  time?: string;
  /** CPUs per task. */
  cpus?: number;
  /** GPUs per task (0 or absent: none asked for). */
  gpus?: number;
  /** Tasks running at once (Slurm's %N on --array). */
  maxParallel?: number;
  /** The command that runs `staq` on the cluster's nodes (node, its flags and the CLI's script). */
  staq: readonly string[];
  /** The tasks' working directory. */
  cwd: string;
  retryFailed?: boolean;
}

export interface SlurmJobRecord {
  job: string;
  /** The point of each array index, in order. */
  points: string[];
  submitted: string;
}

export const SLURM_DIR = "slurm";
const JOBS_FILE = "jobs.jsonl";

/** A word for a POSIX shell, single-quoted unless it needs no quoting. */
export function shellWord(text: string): string {
  return /^[\w./=,:+@%-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** sbatch's --time forms: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]]. */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}(:\d{1,2})?|\d+-\d{1,2}(:\d{1,2}(:\d{1,2})?)?)$/;
const TIME_FORMS = "minutes, M:SS, H:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS";

/**
 * The minutes and seconds fields of a --time, by its form: every field after the first, except a
 * days form's hours. Slurm adds a 99 up without a word ("1:99:99" is 2:40:39), so one is refused as
 * the typo it almost surely is.
 */
function clockFields(time: string): { name: string; value: string }[] {
  const [days, rest] = time.includes("-") ? time.split("-") : [undefined, time];
  const fields = rest.split(":");
  if (days !== undefined) return fields.slice(1).map((value, i) => ({ name: i === 0 ? "minutes" : "seconds", value }));
  const names = fields.length === 2 ? ["minutes", "seconds"] : ["hours", "minutes", "seconds"];
  return fields.map((value, i) => ({ name: names[i], value })).slice(1);
}

function checkSlurmTime(time: string): void {
  if (!SLURM_TIME.test(time)) throw new StaqInputError(`--time must be a Slurm time limit (${TIME_FORMS}); got ${JSON.stringify(time)}`);
  const over = clockFields(time).find(({ value }) => Number(value) > 59);
  if (over)
    throw new StaqInputError(
      `--time ${time}: its ${over.name} are ${over.value}, more than 59; write the limit in the next larger unit (${TIME_FORMS})`,
    );
}

/**
 * Refuses an output directory with "%": it goes into the script's #SBATCH --output, where Slurm reads
 * "%" as a pattern (%j, %A, ...), so the tasks' output would go somewhere else than the sweep's.
 */
export function checkSlurmOut(sweep: Sweep): void {
  if (sweep.out.includes("%"))
    throw new StaqInputError(
      `the sweep's output directory ${sweep.out} has a "%", which Slurm reads as a pattern in the tasks' output files (#SBATCH --output); give an "out" (or --out) without "%" for --backend slurm`,
    );
}

export function checkSlurmOptions(options: SlurmOptions): void {
  if (options.time !== undefined) checkSlurmTime(options.time);
  if (options.partition !== undefined && !/^[\w.-]+$/.test(options.partition))
    throw new StaqInputError(
      `--partition must be a partition's name (letters, digits, "_", "-", "."); got ${JSON.stringify(options.partition)}`,
    );
}

/**
 * The points a submission gives array tasks, in the sweep's order: not done, not held by a worker,
 * not unreadable, not already queued in Slurm, and failed ones only with --retry-failed. The dry run prints the
 * script of exactly these, so what it shows is what would be submitted.
 */
export function pointsToSubmit(
  points: readonly SweepPoint[],
  states: ReadonlyMap<SweepPoint, PointState>,
  queued: ReadonlySet<string>,
  retryFailed: boolean,
): SweepPoint[] {
  return points.filter((point) => {
    const { status } = states.get(point)!;
    // An unreadable point is reported, not trained: its task would fail on the same file.
    if (status === "done" || status === "running" || status === "unreadable" || queued.has(point.name)) return false;
    return status !== "failed" || retryFailed;
  });
}

/** The array job's script: one task per point, in the order given. */
export function sbatchScript(sweep: Sweep, points: readonly SweepPoint[], options: SlurmOptions): string {
  const directives = [
    `--job-name=staq-sweep`,
    `--array=0-${points.length - 1}${options.maxParallel !== undefined ? `%${options.maxParallel}` : ""}`,
    `--output=${join(sweep.out, SLURM_DIR, "%A_%a.out")}`,
    `--chdir=${options.cwd}`,
    ...(options.partition !== undefined ? [`--partition=${options.partition}`] : []),
    ...(options.time !== undefined ? [`--time=${options.time}`] : []),
    ...(options.cpus !== undefined ? [`--cpus-per-task=${options.cpus}`] : []),
    ...(options.gpus ? [`--gpus-per-task=${options.gpus}`] : []),
    // staq train saves a checkpoint on SIGTERM: have Slurm send it to the task (B:, the batch step, which
    // is staq itself after exec) a minute before the time limit's kill.
    `--signal=B:TERM@60`,
  ];
  const command = [...options.staq, "sweep", sweep.file, "--out", sweep.out, ...(options.retryFailed ? ["--retry-failed"] : [])];
  return [
    "#!/bin/bash",
    ...directives.map((d) => `#SBATCH ${shellWord(d)}`),
    `# Written by \`staq sweep --backend slurm\`: array task i trains the i-th point below, or skips it`,
    `# if it is done, or resumes it from its checkpoint (docs/sweeps.md).`,
    "set -euo pipefail",
    "points=(",
    ...points.map((p) => `  ${shellWord(p.name)}`),
    ")",
    `exec ${command.map(shellWord).join(" ")} --point "\${points[$SLURM_ARRAY_TASK_ID]}"`,
    "",
  ].join("\n");
}

const programMissing = (program: string) =>
  new StaqInputError(
    `${program} was not found: the Slurm backend needs Slurm's client commands (sbatch, squeue) on PATH; run it on a cluster's login node, or use --backend local`,
  );

/** Whether PATH has an executable file `program` (an empty entry is the working directory, as for execvp). */
async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const path = resolve(dir === "" ? "." : dir, program);
    const isFile = await stat(path).then(
      (info) => info.isFile(),
      () => false,
    );
    if (
      isFile &&
      (await access(path, constants.X_OK).then(
        () => true,
        () => false,
      ))
    )
      return true;
  }
  return false;
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProgram(program: string, args: readonly string[]): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? programMissing(program) : error));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Writes the script and submits it; returns the job's record (also appended to jobs.jsonl). */
export async function submitSweep(
  sweep: Sweep,
  points: readonly SweepPoint[],
  options: SlurmOptions,
): Promise<{ record: SlurmJobRecord; script: string }> {
  checkSlurmOptions(options);
  checkSlurmOut(sweep);
  // Before anything is written: without sbatch, a submission would only leave a script behind.
  if (!(await onPath("sbatch"))) throw programMissing("sbatch");
  const dir = join(sweep.out, SLURM_DIR);
  // The point directories are left to the tasks (runPoint makes its own): only OUT/slurm, which
  // Slurm writes the tasks' output into, must exist before they start.
  const created = await makeDirectories(dir);
  const submitted = new Date().toISOString();
  const script = join(dir, `sweep-${submitted.replace(/[:.]/g, "-")}.sbatch`);
  await writeFile(script, sbatchScript(sweep, points, options), { mode: 0o755 });
  let job: string;
  try {
    job = await sbatch(script);
  } catch (error) {
    // A script that was never submitted is not the record of a submission: each retry would add one.
    await rm(script, { force: true });
    await removeEmptyDirectories(dir, created);
    throw error;
  }
  const record: SlurmJobRecord = { job, points: points.map((p) => p.name), submitted };
  await appendFile(join(dir, JOBS_FILE), `${JSON.stringify(record)}\n`);
  return { record, script };
}

/** Submits the script; its job id. */
async function sbatch(script: string): Promise<string> {
  const result = await runProgram("sbatch", ["--parsable", script]);
  if (result.code !== 0)
    throw new StaqError(`sbatch refused ${script} (exit code ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  // --parsable prints "jobid" or "jobid;cluster".
  const job = result.stdout.trim().split(";")[0];
  if (!/^\d+$/.test(job)) throw new StaqError(`sbatch printed ${JSON.stringify(result.stdout.trim())}, not a job id`);
  return job;
}

/** Removes `dir` and its parents up to `top` (what one mkdir made) while they are empty. */
async function removeEmptyDirectories(dir: string, top: string | undefined): Promise<void> {
  if (top === undefined) return;
  for (let at = dir; at.startsWith(top); at = dirname(at)) {
    const removed = await rmdir(at).then(
      () => true,
      () => false,
    );
    if (!removed || at === top) return;
  }
}

/** The jobs this sweep submitted, oldest first. */
export async function submittedJobs(sweep: Sweep): Promise<SlurmJobRecord[]> {
  const path = join(sweep.out, SLURM_DIR, JOBS_FILE);
  if (!(await pathExists(path))) return [];
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as SlurmJobRecord];
      } catch {
        return []; // a line cut short by a kill while it was appended
      }
    });
}

/**
 * Slurm's state of every point with a task in the queue (PENDING, RUNNING, …), from `squeue`'s
 * lines "<job>_<task>|<state>|<reason or node>". Later submissions win over earlier ones.
 */
export function queuedPoints(
  jobs: readonly SlurmJobRecord[],
  squeueOutput: string,
): Map<string, { state: string; where: string; task: string }> {
  const byJob = new Map(jobs.map((j) => [j.job, j]));
  const states = new Map<string, { state: string; where: string; task: string; order: number }>();
  for (const line of squeueOutput.split("\n")) {
    const [id, state, where] = line.trim().split("|");
    const match = /^(\d+)_(\d+)$/.exec(id ?? "");
    if (!match || state === undefined) continue;
    const job = byJob.get(match[1]);
    const name = job?.points[Number(match[2])];
    if (job === undefined || name === undefined) continue;
    const order = jobs.indexOf(job);
    const previous = states.get(name);
    if (!previous || previous.order <= order) states.set(name, { state, where: where ?? "", task: id, order });
  }
  return new Map([...states].map(([name, { state, where, task }]) => [name, { state, where, task }]));
}

/**
 * squeue's line "<job>_<task>|<state>|<reason or node>" for every array task Slurm holds, of every
 * job (filtered by the callers: `squeue --jobs` with an id Slurm has forgotten is an error, not
 * "none"); undefined when squeue cannot be run or fails (not on a cluster).
 */
export async function queuedTaskLines(): Promise<string[] | undefined> {
  let result: ProcessResult;
  try {
    result = await runProgram("squeue", ["--noheader", "--array", "--format=%i|%T|%R"]);
  } catch {
    return undefined;
  }
  return result.code === 0 ? result.stdout.split("\n").filter((line) => line.trim().length > 0) : undefined;
}

/** What `squeue` says of this sweep's jobs; undefined when squeue cannot be run (not on a cluster). */
export async function querySlurm(sweep: Sweep): Promise<Map<string, { state: string; where: string; task: string }> | undefined> {
  const jobs = await submittedJobs(sweep);
  if (jobs.length === 0) return new Map();
  const lines = await queuedTaskLines();
  return lines === undefined ? undefined : queuedPoints(jobs, lines.join("\n"));
}
