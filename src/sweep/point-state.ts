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
 *   running   the point's newest claim record (point-lock.ts) is unreleased and its worker alive:
 *             another worker has it.
 */
import { readFile, writeFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUN_FILES, pathExists } from "../cli/run-directory.ts";
import { StaqFormatError } from "../errors.ts";
import { CLAIMS_DIRECTORY, readLock, type PointLock } from "./point-lock.ts";
import type { SweepPoint } from "./sweep-file.ts";

export type { PointLock };

export type PointStatus = "new" | "started" | "partial" | "done" | "failed" | "running";

/** Files the sweep adds to a point's run directory, beside what `staq train` writes. */
export const SWEEP_FILES = {
  /** One record per claim of the point: {pid, host, started, slurmJob?, released?} (point-lock.ts). */
  claims: CLAIMS_DIRECTORY,
  /** Why the run failed: {exitCode, message, at}. */
  failed: "sweep-failed.json",
  /** The run's own output (progress, warnings, errors), appended by every attempt. */
  log: "train.log",
} as const;

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

export async function recordFailure(dir: string, exitCode: number, message: string): Promise<void> {
  await writeFile(join(dir, SWEEP_FILES.failed), `${JSON.stringify({ exitCode, message, at: new Date().toISOString() }, null, 2)}\n`);
}

export async function clearFailure(dir: string): Promise<void> {
  await rm(join(dir, SWEEP_FILES.failed), { force: true });
}
