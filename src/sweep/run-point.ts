/**
 * Runs one point of a sweep in this process, by the rule every backend shares: a point that is done
 * is skipped; one that has a checkpoint resumes from it (`staq train --resume`, exact); one that
 * stopped before its first checkpoint starts over (`--force`); one that failed is skipped unless
 * the failure is to be retried; one another worker holds is left to it. The run's own output goes to
 * the point's train.log, so a worker's output names its point and nothing is interleaved.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CONFIG_FIELDS } from "../agent/config.ts";
import { StaqFormatError } from "../errors.ts";
import { runCommand, type CommandIO } from "../cli/command.ts";
import { RUN_FILES, pathExists } from "../cli/run-directory.ts";
import { trainCommand } from "../cli/train-command.ts";
import { releaseLock, takeLock } from "./point-lock.ts";
import { SWEEP_FILES, clearFailure, pointState, recordFailure, type PointStatus } from "./point-state.ts";
import { trainArguments, type Sweep, type SweepPoint } from "./sweep-file.ts";

export interface PointOutcome {
  /** What the point was found as before anything ran. */
  found: PointStatus;
  /** What this worker did: trained it (new, over or resumed), or left it. */
  action: "trained" | "resumed" | "restarted" | "skipped";
  /** The exit code of `staq train` (0 when nothing ran). */
  exitCode: number;
}

/**
 * The fields of the run's config.json that differ from what the sweep file now asks for (totalSteps
 * aside: a larger one extends the run). A changed sweep file must not silently reuse old runs.
 */
async function changedFields(point: SweepPoint): Promise<string[]> {
  const path = join(point.dir, RUN_FILES.config);
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new StaqFormatError(
      `${path} is not a run's config (${(error as Error).message}); move the directory away and run the sweep again`,
      {
        cause: error,
      },
    );
  }
  const changed = CONFIG_FIELDS.filter(
    (f) => f.key !== "totalSteps" && JSON.stringify(saved[f.key]) !== JSON.stringify(point.config[f.key]),
  ).map((f) => `${f.key} (${JSON.stringify(saved[f.key])} in the run, ${JSON.stringify(point.config[f.key])} in the sweep)`);
  if (saved.env !== point.env) changed.unshift(`env (${JSON.stringify(saved.env)} in the run, ${JSON.stringify(point.env)} in the sweep)`);
  return changed;
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
  await mkdir(point.dir, { recursive: true });
  const held = await takeLock(point.dir, options.slurmJob);
  if (!held) return { found: "running", action: "skipped", exitCode: 0 };
  try {
    let { status } = await pointState(point);
    const found = status;
    if (status === "done" || (status === "failed" && !options.retryFailed)) return { found, action: "skipped", exitCode: 0 };
    if (status === "failed") {
      await clearFailure(point.dir);
      status = (await pointState(point)).status;
    }
    if (status !== "new" && (await pathExists(join(point.dir, RUN_FILES.config)))) {
      const changed = await changedFields(point);
      if (changed.length > 0) {
        const message = `${point.dir} holds a run whose config differs from the sweep file's: ${changed.join("; ")}. Move the directory away (or change the sweep back) and run the sweep again`;
        await recordFailure(point.dir, 2, message);
        return { found, action: "skipped", exitCode: 2 };
      }
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
