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
 *             another worker has it;
 *   changed   config.json differs from the point's config in a field other than totalSteps (the
 *             sweep file was edited since the run was made): never done, and the worker that takes
 *             it records it as failed rather than mixing two configurations in one directory;
 *   unreadable a file of the run directory cannot be read (a truncated checkpoint, config.json or
 *             sweep-failed.json; a permission): reported with the reason and not trained, so one
 *             damaged point neither stops the others nor is trained over (sweepStates).
 */
import { readFile, writeFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { CONFIG_FIELDS, LATER_FIELDS } from "../agent/config.ts";
import { RUN_FILES, pathExists } from "../cli/run-directory.ts";
import { StaqError, StaqFormatError } from "../errors.ts";
import { describeFsError } from "../node/files.ts";
import { CLAIMS_DIRECTORY, readLock, type PointLock } from "./point-lock.ts";
import type { SweepPoint } from "./sweep-file.ts";

export type { PointLock };

export type PointStatus = "new" | "started" | "partial" | "done" | "failed" | "running" | "changed" | "unreadable";

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
  /**
   * For "failed": the message sweep-failed.json holds; for "changed": the fields that differ, and what
   * to do; for "unreadable": what could not be read, and what to do.
   */
  failure?: string;
}

/**
 * What to do about each damaged file, said with what it costs: the checkpoint and config.json hold
 * the point's progress, so the advice never has them removed without saying the run starts over.
 */
const DAMAGED_CHECKPOINT =
  "the checkpoint is damaged: restore it from a copy to keep the point's progress, or move the point's directory away to train it again from the start (its progress is lost)";
const DAMAGED_CONFIG =
  "move the point's directory away to train it again from the start (its checkpoint's progress is lost), or restore config.json from a copy";
const DAMAGED_FAILURE = "remove it (it only records why the point's last run failed) and run the sweep again";

/** A JSON file of the run directory; `advice` says what to do when it is not valid JSON. */
async function readJson(path: string, advice: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(`${path} is not valid JSON (${(error as Error).message}); ${advice}`, { cause: error });
  }
}

/** The environment steps of the run's checkpoint (checkpoint/, else checkpoint.old/ mid-replacement), or null. */
async function checkpointStep(dir: string): Promise<number | null> {
  for (const name of [RUN_FILES.checkpoint, `${RUN_FILES.checkpoint}.old`]) {
    const path = join(dir, name, "state.json");
    if (!(await pathExists(path))) continue;
    const state = (await readJson(path, DAMAGED_CHECKPOINT)) as { counters?: { globalStep?: unknown } } | null;
    const step = state?.counters?.globalStep;
    if (!(typeof step === "number" && Number.isSafeInteger(step) && step >= 0))
      throw new StaqFormatError(`${path}: counters.globalStep must be an integer >= 0; got ${JSON.stringify(step)}; ${DAMAGED_CHECKPOINT}`);
    return step;
  }
  return null;
}

/**
 * The fields of the run's config.json that differ from what the sweep file now asks for (totalSteps
 * aside: a larger one extends the run, and a run past a smaller one is done). A changed sweep file
 * must not silently reuse old runs, finished ones included.
 */
export async function changedFields(point: SweepPoint): Promise<string[]> {
  const path = join(point.dir, RUN_FILES.config);
  const saved = await readJson(path, DAMAGED_CONFIG);
  if (typeof saved !== "object" || saved === null || Array.isArray(saved))
    throw new StaqFormatError(`${path} is not a run's config (a JSON object); ${DAMAGED_CONFIG}`);
  // A field added to staq after the run was made is not in its config.json: the run had the value
  // LATER_FIELDS says (as a checkpoint's restore assumes), so a new field does not change every old run.
  const run: Record<string, unknown> = { ...LATER_FIELDS, ...(saved as Record<string, unknown>) };
  const differs = (key: string, ours: unknown) => JSON.stringify(run[key]) !== JSON.stringify(ours);
  const describe = (key: string, ours: unknown) => `${key} (${JSON.stringify(run[key])} in the run, ${JSON.stringify(ours)} in the sweep)`;
  const changed = CONFIG_FIELDS.filter((f) => f.key !== "totalSteps" && differs(f.key, point.config[f.key])).map((f) =>
    describe(f.key, point.config[f.key]),
  );
  if (differs("env", point.env)) changed.unshift(describe("env", point.env));
  return changed;
}

/** What a worker and --status say of a point whose run was made with another config. */
export function changedMessage(point: SweepPoint, changed: readonly string[]): string {
  return `${point.dir} holds a run whose config differs from the sweep file's: ${changed.join("; ")}. Move the directory away and run the sweep again, or change the sweep file back and run it with --retry-failed`;
}

/**
 * The point's state. `ignoreFailure`: as it will be once its failure record is cleared (what
 * --retry-failed does), for a dry run that must not clear it.
 */
export async function pointState(point: SweepPoint, options: { ignoreFailure?: boolean } = {}): Promise<PointState> {
  const held = await readLock(point.dir);
  // The worker that holds the lock sees the point as it is, not as "running".
  const lock = held && !(held.pid === process.pid && held.host === hostname()) ? held : undefined;
  const step = await checkpointStep(point.dir);
  if (lock) return { status: "running", step, lock };
  const failedPath = join(point.dir, SWEEP_FILES.failed);
  if (!options.ignoreFailure && (await pathExists(failedPath))) {
    const record = (await readJson(failedPath, DAMAGED_FAILURE)) as { message?: unknown } | null;
    return { status: "failed", step, failure: typeof record?.message === "string" ? record.message : "(no message)" };
  }
  const hasConfig = await pathExists(join(point.dir, RUN_FILES.config));
  // Checked before the checkpoint's step: a run made with another config is not this point's, done or not.
  const changed = hasConfig ? await changedFields(point) : [];
  if (changed.length > 0) return { status: "changed", step, failure: changedMessage(point, changed) };
  if (step !== null) return { status: step >= point.config.totalSteps ? "done" : "partial", step };
  return { status: hasConfig ? "started" : "new", step: null };
}

/**
 * The point's state, or "unreadable" with the reason when its run directory cannot be read: one
 * damaged point is reported and left alone, and the sweep and --status go on with the others.
 * Errors that are not about the directory's files (a bug) still propagate.
 */
export async function readablePointState(point: SweepPoint): Promise<PointState> {
  try {
    return await pointState(point);
  } catch (error) {
    const reason = unreadableReason(point, error);
    if (reason === undefined) throw error;
    return { status: "unreadable", step: null, failure: reason };
  }
}

/** Why a point's files could not be read, or undefined for an error that is not about them. */
function unreadableReason(point: SweepPoint, error: unknown): string | undefined {
  if (error instanceof StaqError) return error.message;
  const { code, path } = error as NodeJS.ErrnoException;
  if (typeof code !== "string") return undefined;
  return `${path ?? point.dir}: ${describeFsError(error)}; make it readable, or move the point's directory away to train it again from the start (its progress is lost)`;
}

export async function recordFailure(dir: string, exitCode: number, message: string): Promise<void> {
  await writeFile(join(dir, SWEEP_FILES.failed), `${JSON.stringify({ exitCode, message, at: new Date().toISOString() }, null, 2)}\n`);
}

export async function clearFailure(dir: string): Promise<void> {
  await rm(join(dir, SWEEP_FILES.failed), { force: true });
}
