/**
 * A training run's directory (what `staq train` writes, `staq eval` and `staq plot` read):
 *
 *   config.json     the resolved config, the environment, the preset, the adapter, staq's version
 *   metrics.jsonl   one line per iteration (src/agent/metrics.ts: CleanRL's keys)
 *   eval.jsonl      one line per greedy evaluation
 *   curve.svg       the learning curve (greedy evaluation return against environment steps)
 *   checkpoint/     the latest checkpoint (src/agent/checkpoint.ts), replaced atomically
 */
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqError } from "../errors.ts";
import { describeFsError, pathExists, writeFileAtomically } from "../node/files.ts";

export const RUN_FILES = {
  config: "config.json",
  metrics: "metrics.jsonl",
  eval: "eval.jsonl",
  curve: "curve.svg",
  checkpoint: "checkpoint",
} as const;

export { pathExists };

/** The checkpoint directory for `path`: the run directory's checkpoint/, or `path` itself. */
export async function checkpointPath(path: string): Promise<string> {
  const inside = join(path, RUN_FILES.checkpoint);
  return (await pathExists(inside)) || (await pathExists(`${inside}.old`)) ? inside : path;
}

/** Appends one JSON line to a log of the run. */
export async function appendJsonLine(path: string, record: unknown): Promise<void> {
  try {
    await appendFile(path, `${JSON.stringify(record)}\n`);
  } catch (error) {
    throw new StaqError(`Could not append to ${path}: ${describeFsError(error)}`, { cause: error });
  }
}

/** The non-empty lines of a log (none when it does not exist). */
async function readLines(path: string): Promise<string[]> {
  const text = (await pathExists(path)) ? await readFile(path, "utf8") : "";
  return text.split("\n").filter((line) => line.length > 0);
}

/** Lines in a JSON-lines file (0 when it does not exist). */
export async function countLines(path: string): Promise<number> {
  return (await readLines(path)).length;
}

/**
 * Keeps the first `lines` lines of a log: a resumed run continues from its checkpoint, so what was
 * logged after the checkpoint (before an interruption) is dropped, and the log reads as one run.
 */
export async function truncateLines(path: string, lines: number): Promise<void> {
  // slice(0, -2) would drop the last two lines instead of keeping none: a bad count is an error.
  if (!(Number.isSafeInteger(lines) && lines >= 0))
    throw new StaqError(`truncateLines: the lines to keep of ${path} must be an integer >= 0; got ${lines}`);
  const kept = (await readLines(path)).slice(0, lines);
  if (kept.length < lines)
    throw new StaqError(
      `${path} has ${kept.length} lines; the checkpoint was taken after ${lines}. The run directory was changed after the checkpoint; start a new run`,
    );
  await writeFileAtomically(path, new TextEncoder().encode(kept.map((line) => `${line}\n`).join("")), "the log");
}
