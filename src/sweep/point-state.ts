/**
 * Where a sweep's point stands, read from its run directory alone, so the local backend, a Slurm
 * array task and `staq sweep --status` all apply the same rule:
 *
 *   new       no config.json: the run has not started;
 *   started   config.json but no checkpoint yet: it stopped before its first one and starts over;
 *   partial   a checkpoint below the point's totalSteps: `staq train --resume` continues it exactly;
 *   done      a checkpoint at or past the point's totalSteps: skipped;
 *   failed    the run exited with an error (sweep-failed.json says which): skipped until the sweep
 *             is run with --retry-failed;
 *   running   sweep.lock names a live process on this host, or a Slurm task that squeue still
 *             lists, or a process on another host outside Slurm: another worker has it.
 *
 * A lock left by a worker that died (killed, its node lost) is not one: on this host its pid is
 * gone; from a Slurm task, squeue no longer lists the task (asked only when there is such a lock).
 */
import { readFile, writeFile, rm, open } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUN_FILES, pathExists } from "../cli/run-directory.ts";
import { StaqFormatError } from "../errors.ts";
import { queuedTaskLines } from "./slurm-backend.ts";
import type { SweepPoint } from "./sweep-file.ts";

export type PointStatus = "new" | "started" | "partial" | "done" | "failed" | "running";

/** Files the sweep adds to a point's run directory, beside what `staq train` writes. */
export const SWEEP_FILES = {
  /** The worker that has the point: {pid, host, started}; removed when it ends. */
  lock: "sweep.lock",
  /** Why the run failed: {exitCode, message, at}. */
  failed: "sweep-failed.json",
  /** The run's own output (progress, warnings, errors), appended by every attempt. */
  log: "train.log",
} as const;

export interface PointLock {
  pid: number;
  host: string;
  /** ISO time the worker started. */
  started: string;
  /** Slurm's job and array task, when a Slurm task holds it. */
  slurmJob?: string;
}

export interface PointState {
  status: PointStatus;
  /** The environment steps of its checkpoint (null: none). */
  step: number | null;
  lock?: PointLock;
  /** For "failed": the message sweep-failed.json holds. */
  failure?: string;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(`${path} is not valid JSON (${(error as Error).message}); remove it and run the sweep again`, {
      cause: error,
    });
  }
}

/** The environment steps of the run's checkpoint (checkpoint/, else checkpoint.old/ mid-replacement), or null. */
async function checkpointStep(dir: string): Promise<number | null> {
  for (const name of [RUN_FILES.checkpoint, `${RUN_FILES.checkpoint}.old`]) {
    const path = join(dir, name, "state.json");
    if (!(await pathExists(path))) continue;
    const state = (await readJson(path)) as { counters?: { globalStep?: unknown } } | null;
    const step = state?.counters?.globalStep;
    if (!(typeof step === "number" && Number.isSafeInteger(step) && step >= 0))
      throw new StaqFormatError(`${path}: counters.globalStep must be an integer >= 0; got ${JSON.stringify(step)}`);
    return step;
  }
  return null;
}

/** Whether a process with this pid exists on this host (EPERM: it exists but is not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether squeue still lists a Slurm array task ("123_4"): pending or running. Undefined when
 * squeue cannot say (not installed, not answering), in which case the lock is taken as live.
 */
async function slurmTaskQueued(task: string): Promise<boolean | undefined> {
  const lines = await queuedTaskLines();
  return lines?.some((line) => line.split("|")[0].trim() === task);
}

/** The lock of a point, if a live worker holds it (see the file's comment for what counts as dead). */
export async function readLock(dir: string): Promise<PointLock | undefined> {
  const path = join(dir, SWEEP_FILES.lock);
  if (!(await pathExists(path))) return undefined;
  let lock: PointLock;
  try {
    lock = (await readJson(path)) as PointLock;
  } catch {
    return undefined; // a lock cut short by a kill while it was written: nobody holds it
  }
  if (typeof lock?.pid !== "number" || typeof lock.host !== "string") return undefined;
  if (lock.host === hostname()) return processAlive(lock.pid) ? lock : undefined;
  if (lock.slurmJob !== undefined && (await slurmTaskQueued(lock.slurmJob)) === false) return undefined;
  return lock;
}

export async function pointState(point: SweepPoint): Promise<PointState> {
  const held = await readLock(point.dir);
  // The worker that holds the lock sees the point as it is, not as "running".
  const lock = held && !(held.pid === process.pid && held.host === hostname()) ? held : undefined;
  const step = await checkpointStep(point.dir);
  if (lock) return { status: "running", step, lock };
  const failedPath = join(point.dir, SWEEP_FILES.failed);
  if (await pathExists(failedPath)) {
    const record = (await readJson(failedPath)) as { message?: unknown } | null;
    return { status: "failed", step, failure: typeof record?.message === "string" ? record.message : "(no message)" };
  }
  if (step !== null) return { status: step >= point.config.totalSteps ? "done" : "partial", step };
  return { status: (await pathExists(join(point.dir, RUN_FILES.config))) ? "started" : "new", step: null };
}

/**
 * Takes the point's lock for this process: false when another live worker holds it. The file is
 * created exclusively, so two workers racing for one point cannot both win.
 */
export async function takeLock(dir: string, slurmJob?: string): Promise<boolean> {
  const path = join(dir, SWEEP_FILES.lock);
  if (await pathExists(path)) {
    if (await readLock(dir)) return false;
    await rm(path, { force: true }); // left by a worker that died
  }
  const lock: PointLock = { pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(slurmJob ? { slurmJob } : {}) };
  let handle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(`${JSON.stringify(lock)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

export async function releaseLock(dir: string): Promise<void> {
  await rm(join(dir, SWEEP_FILES.lock), { force: true });
}

export async function recordFailure(dir: string, exitCode: number, message: string): Promise<void> {
  await writeFile(join(dir, SWEEP_FILES.failed), `${JSON.stringify({ exitCode, message, at: new Date().toISOString() }, null, 2)}\n`);
}

export async function clearFailure(dir: string): Promise<void> {
  await rm(join(dir, SWEEP_FILES.failed), { force: true });
}
