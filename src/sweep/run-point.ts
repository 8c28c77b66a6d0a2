/**
 * Runs one point of a sweep in this process, by the rule every backend shares: a point that is done
 * is skipped; one whose run was made with another config (the sweep file was edited) fails, naming
 * the fields; one that has a checkpoint resumes from it (`staq train --resume`, exact); one that
 * stopped before its first checkpoint starts over (`--force`); one that failed is skipped unless
 * the failure is to be retried; one another worker holds is left to it. The run's own output goes to
 * the point's train.log, so a worker's output names its point and nothing is interleaved.
 */
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { makeDirectories } from "../node/files.ts";
import { join } from "node:path";
import { runCommand, type CommandIO } from "../cli/command.ts";
import { trainCommand } from "../cli/train-command.ts";
import { releaseLock, takeLock } from "./point-lock.ts";
import { SWEEP_FILES, clearFailure, pointState, recordFailure, type PointState, type PointStatus } from "./point-state.ts";
import { trainArguments, type Sweep, type SweepPoint } from "./sweep-file.ts";

export interface PointOutcome {
  /** What the point was found as before anything ran. */
  found: PointStatus;
  /** What this worker did: trained it (new, over or resumed), or left it. */
  action: "trained" | "resumed" | "restarted" | "skipped";
  /** The exit code of `staq train` (0 when nothing ran; 2 for a point whose run has another config). */
  exitCode: number;
  /** Why the point failed without `staq train` running (its train.log says nothing of it). */
  message?: string;
}

/** The `staq train` arguments for a point found in `status`. */
function argumentsFor(sweep: Sweep, point: SweepPoint, status: PointStatus): { args: string[]; action: PointOutcome["action"] } {
  if (status === "partial") {
    const args = ["--resume", "--out", point.dir, "--steps", String(point.config.totalSteps)];
    if (sweep.checkpointEvery !== undefined) args.push("--checkpoint-every", String(sweep.checkpointEvery));
    return { args, action: "resumed" };
  }
  if (status !== "new" && status !== "started") throw new Error(`a point found ${status} is not trained`);
  const args = trainArguments(sweep, point);
  return status === "started" ? { args: [...args, "--force"], action: "restarted" } : { args, action: "trained" };
}

/**
 * What `runPoint` would do now, without doing it (--dry-run): the state it finds the point in and
 * the `staq train` arguments it would run, or why it would run nothing.
 */
export async function planPoint(
  sweep: Sweep,
  point: SweepPoint,
  options: { retryFailed?: boolean } = {},
): Promise<{ state: PointState; args?: string[]; why?: string }> {
  const found = await pointState(point);
  if (found.status === "failed" && !options.retryFailed)
    return { state: found, why: `it failed before (${found.failure}); --retry-failed trains it again` };
  const state = found.status === "failed" ? await pointState(point, { ignoreFailure: true }) : found;
  if (state.status === "done") return { state, why: "it is done" };
  if (state.status === "running") return { state, why: "another worker holds it" };
  if (state.status === "changed") return { state, why: `it would fail: ${state.failure}` };
  return { state, args: argumentsFor(sweep, point, state.status).args };
}

/** Appends to the point's train.log; closed once the run ends. */
function logTo(path: string): CommandIO & { close(): Promise<void> } {
  const stream = createWriteStream(path, { flags: "a" });
  return {
    stdout: stream,
    stderr: stream,
    close: () => new Promise((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}

export async function runPoint(
  sweep: Sweep,
  point: SweepPoint,
  options: { retryFailed?: boolean; slurmJob?: string } = {},
): Promise<PointOutcome> {
  await makeDirectories(point.dir);
  const held = await takeLock(point.dir, options.slurmJob);
  if (!held) return { found: "running", action: "skipped", exitCode: 0 };
  try {
    let state = await pointState(point);
    const found = state.status;
    if (found === "done" || (found === "failed" && !options.retryFailed)) return { found, action: "skipped", exitCode: 0 };
    if (found === "failed") {
      await clearFailure(point.dir);
      state = await pointState(point);
    }
    const { status } = state;
    if (status === "changed") {
      // Recorded, so that the sweep and --status name the fields until the directory is dealt with.
      const message = state.failure ?? "";
      await recordFailure(point.dir, 2, message);
      return { found, action: "skipped", exitCode: 2, message };
    }
    const { args, action } = argumentsFor(sweep, point, status);
    const log = logTo(join(point.dir, SWEEP_FILES.log));
    log.stdout.write(
      `\n# ${new Date().toISOString()} staq train ${args.map((a) => (/^[\w./=,:+-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}\n`,
    );
    let exitCode: number;
    try {
      exitCode = await runCommand(trainCommand, args, log);
    } finally {
      await log.close();
    }
    // 128 + N is a stop by signal N with its checkpoint saved: resumable, not a failure.
    if (exitCode !== 0 && exitCode < 128) await recordFailure(point.dir, exitCode, await lastLine(join(point.dir, SWEEP_FILES.log)));
    return { found, action, exitCode };
  } finally {
    await releaseLock(held);
  }
}

/** The last non-empty line of a log: the error `staq train` ended with. */
async function lastLine(path: string): Promise<string> {
  const lines = (await readFile(path, "utf8")).split("\n").filter((l) => l.trim().length > 0);
  return lines.at(-1) ?? "(no output)";
}
