/**
 * `staq check-env --reference DIR`: checks staq's environments against reference data recorded from
 * the upstream Python code (the format: docs/formats.md, “Reference data”) — every *.json file in
 * DIR (or one file), one line each: pass, or the first mismatch (episode, step, field, expected,
 * got), so anyone can re-record the references with other seeds and re-check. Exit 1 when an
 * environment disagrees with a file, or a file could not be checked for a reason other than the
 * file (the MinAtar module could not be loaded); exit 2 when the only failures are files at fault
 * (malformed, a key written twice, unreadable, empty, or for an unknown environment), as for any
 * malformed input file of the command line. A malformed file fails its own line; the others are
 * still checked.
 *
 * MinAtar files are checked through the GPL-3.0 subpath `staq/envs/minatar`, loaded (loadMinatar)
 * only when such a file is met: the rest of the library never imports it (see its README).
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { StaqError, StaqFormatError, StaqInputError } from "../errors.ts";
import type { ClassicEnv } from "../envs/classic/classic-env.ts";
import { checkClassicReference, type ClassicReferenceReport } from "../envs/classic/reference-check.ts";
import { checkRandomStateReference } from "../envs/random-state-check.ts";
import { makeEnv } from "../envs/registry.ts";
import { MAX_JSON_DEPTH, parseScannedJson, repeatedJsonKey, scanJsonKeys } from "../io/json.ts";
import { fileError } from "../node/files.ts";
import { UsageError, parseCommandArgs, readInputFile, type Command, type CommandIO } from "./command.ts";
import { loadMinatar } from "./minatar-module.ts";

const HELP = `Usage: staq check-env --reference DIR|FILE.json

Checks staq's environments against reference data recorded from the upstream Python code
(format: docs/formats.md, “Reference data”). Every *.json file in DIR is one of:
  classic control  {"env": "CartPole-v1", "episodes": [{initial_state, actions, state, obs, ...}]}
                   each step from the recorded previous state; state within 1e-12 relative,
                   obs, reward and flags exact
  MinAtar          {"env": "breakout", "state_shape": ..., "episodes": [{seed, actions,
                   state_nonzero, reward, terminal}]}: whole episodes replayed from the seed,
                   every frame, reward and terminal exact (uses staq/envs/minatar, GPL-3.0)
  numpy streams    {"streams": [{seed, draws}]}: numpy RandomState draws, exact
Any seeds and any number of episodes (at least one) work. Other JSON objects are listed as
skipped; a malformed reference file (a field missing or of the wrong type, entries fewer than
the actions, a draw's count unlike its list, no episodes or streams, a key written twice, not a
JSON object) fails its line naming the field, and the other files are still checked.

Prints one line per file: "pass" with what was checked, or "FAIL" with the first mismatch
(episode, step, field, expected, got) or what is wrong with the file. Exit status:
  0  every reference file passed (skipped files aside)
  1  an environment did not match a reference file, or a file could not be checked for a reason
     other than the file (staq/envs/minatar could not be loaded: run npm run build), whatever
     else failed
  2  otherwise, when some files could not be checked because of the file (malformed, a key
     written twice, unreadable, an unknown environment), or no file was a reference file (all
     skipped)

Options:
  --reference P   a folder of reference files, or one file
  -h, --help      show this help
`;

/** What one file's check found. */
export interface CheckOutcome {
  file: string;
  status: "pass" | "FAIL" | "skip";
  detail: string;
  /**
   * For a FAIL that is not a mismatch, why the file could not be checked: "file" when the file is
   * at fault (malformed, unreadable, an unknown environment: exit 2), "other" for anything else
   * (the MinAtar module could not be loaded: exit 1).
   */
  unchecked?: "file" | "other";
}

/**
 * Why a file could not be checked, for a StaqError thrown while reading or checking it; undefined
 * for any other error (a bug, rethrown).
 */
function uncheckedKind(error: unknown): CheckOutcome["unchecked"] {
  if (error instanceof StaqFormatError || error instanceof StaqInputError) return "file";
  if (error instanceof StaqError) return "other";
  return undefined;
}

/** A value for a one-line report: JSON, with long arrays shortened and saying how many were left out. */
export function brief(value: unknown, limit = 12): string {
  if (Array.isArray(value) && value.length > limit)
    return `[${value
      .slice(0, limit)
      .map((v) => JSON.stringify(v))
      .join(", ")}, … ${value.length - limit} more]`;
  return JSON.stringify(value);
}

type Cell = [number, number, number];
const cellKey = (cell: Cell) => cell.join(",");

/** A MinAtar frame mismatch as the cells that differ: what upstream had set that we did not, and the reverse. */
function describeFrameDifference(expected: Cell[], got: Cell[]): string {
  const gotKeys = new Set(got.map(cellKey));
  const expectedKeys = new Set(expected.map(cellKey));
  const missing = expected.filter((cell) => !gotKeys.has(cellKey(cell)));
  const extra = got.filter((cell) => !expectedKeys.has(cellKey(cell)));
  return `expected set cells [row, col, channel] ${brief(missing)} that are not set, got set cells ${brief(extra)} that should not be`;
}

function classicLine(env: string, report: ClassicReferenceReport): Omit<CheckOutcome, "file"> {
  const { mismatch } = report;
  if (!mismatch) {
    return {
      status: "pass",
      detail: `${env}: ${report.episodes} episodes, ${report.steps} steps (largest state error ${report.maxStateError.relative.toExponential(1)} relative)`,
    };
  }
  const where = `${env}: episode ${mismatch.episode}, step ${mismatch.step}, ${mismatch.field}`;
  if (mismatch.index !== undefined) {
    const expected = (mismatch.expected as number[])[mismatch.index];
    const got = (mismatch.got as number[])[mismatch.index];
    return {
      status: "FAIL",
      detail: `${where}[${mismatch.index}]: expected ${expected}, got ${got} (whole vector: expected ${brief(mismatch.expected)}, got ${brief(mismatch.got)})`,
    };
  }
  return { status: "FAIL", detail: `${where}: expected ${brief(mismatch.expected)}, got ${brief(mismatch.got)}` };
}

/** Checks one parsed reference file, whichever kind it is. */
export async function checkReference(json: unknown): Promise<Omit<CheckOutcome, "file">> {
  // Every reference file is a JSON object; null, an array or a number is a broken file, not another kind of JSON.
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new StaqFormatError(`a reference file must be a JSON object with "episodes" or "streams"; got ${brief(json)}`);
  const record = json as Record<string, unknown>;
  // Present but of the wrong type is a malformed reference file, not some other JSON to skip.
  for (const key of ["streams", "episodes"])
    if (key in record && !Array.isArray(record[key]))
      throw new StaqFormatError(`"${key}" must be an array (docs/formats.md, “Reference data”); got ${brief(record[key])}`);
  if (Array.isArray(record.streams)) {
    const report = checkRandomStateReference(json);
    const m = report.mismatch;
    if (!m) return { status: "pass", detail: `numpy RandomState: ${report.streams} streams, ${report.draws} draws` };
    return {
      status: "FAIL",
      detail: `numpy RandomState: stream ${m.stream} (seed ${m.seed}), draw ${m.draw}, ${m.field}: expected ${brief(m.expected)}, got ${brief(m.got)}`,
    };
  }
  if (!Array.isArray(record.episodes)) return { status: "skip", detail: 'not an environment reference file (no "episodes" or "streams")' };
  if (typeof record.env !== "string") throw new StaqFormatError('a reference file with "episodes" needs an "env" name');
  if (record.state_shape !== undefined || record.source === "MinAtar") {
    const minatar = await loadMinatar("MinAtar reference files");
    // Object.hasOwn: a plain lookup finds "constructor", "toString" or "__proto__" on Object.prototype.
    const factory = Object.hasOwn(minatar.MINATAR_GAMES, record.env) ? minatar.MINATAR_GAMES[record.env] : undefined;
    if (!factory)
      throw new StaqInputError(
        `no MinAtar game named ${JSON.stringify(record.env)}; known: ${Object.keys(minatar.MINATAR_GAMES).join(", ")}`,
      );
    const report = minatar.checkMinatarReference(json, factory);
    const m = report.mismatch;
    if (!m) return { status: "pass", detail: `MinAtar ${report.env}: ${report.episodes} episodes, ${report.steps} steps` };
    const where = `MinAtar ${report.env}: episode ${m.episode} (seed ${m.seed}), step ${m.step}, ${m.field}`;
    if (m.field === "state")
      return { status: "FAIL", detail: `${where}: ${describeFrameDifference(m.expected as Cell[], m.got as Cell[])}` };
    return { status: "FAIL", detail: `${where}: expected ${brief(m.expected)}, got ${brief(m.got)}` };
  }
  const env = record.env;
  const probe = makeEnv(env, { maxEpisodeSteps: null });
  if (!("getState" in probe && "setState" in probe))
    throw new StaqInputError(`${env} cannot be checked step by step: it has no getState/setState`);
  return classicLine(
    env,
    checkClassicReference(json, () => makeEnv(env, { maxEpisodeSteps: null }) as ClassicEnv),
  );
}

/**
 * A reference file's text parsed, refusing (StaqFormatError) a key written twice in one object at
 * any depth: JSON.parse keeps the last silently, so a file with two "episodes" (or two "reward"
 * lists in one episode) was checked on the last copy alone, and could pass with the first one
 * disagreeing. Which copy was meant only the file's author knows.
 */
function parseReferenceText(text: string, source: string): unknown {
  // One pass checks the encoding and depth and collects the keys; JSON.parse then validates.
  const keys = scanJsonKeys(text, source, MAX_JSON_DEPTH);
  const json = parseScannedJson(text, source);
  const repeat = repeatedJsonKey(text, keys);
  if (repeat !== undefined) {
    const line = text.slice(0, repeat.start).split("\n").length;
    const where =
      repeat.depth === 1
        ? "in the top-level object"
        : repeat.parent !== undefined
          ? `in the object under ${JSON.stringify(repeat.parent)}`
          : `in an object nested ${repeat.depth} levels deep`;
    throw new StaqFormatError(
      `${source} has the key ${JSON.stringify(repeat.key)} twice in one object (line ${line}, ${where}): JSON.parse keeps only the last, so the first would go unchecked; remove the one you do not mean`,
    );
  }
  return json;
}

/** The reference files to check: DIR's *.json files in name order, or the one file given. */
async function referenceFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new StaqInputError(`--reference ${path}: no such file or folder`);
    throw fileError(`--reference ${path}`, error);
  }
  if (!info.isDirectory()) return [path];
  let names: string[];
  try {
    names = await readdir(path);
  } catch (error) {
    throw fileError(`--reference ${path}: cannot list the folder`, error);
  }
  const files = names
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => join(path, name));
  if (files.length === 0) throw new StaqInputError(`--reference ${path}: the folder has no .json files`);
  return files;
}

async function run(args: string[], io: CommandIO): Promise<void> {
  const values = parseCommandArgs(args, { reference: { type: "string" }, help: { type: "boolean", short: "h" } }, checkEnvCommand);
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  if (values.reference === undefined) throw new UsageError("--reference DIR is required", checkEnvCommand);
  const files = await referenceFiles(values.reference);
  const outcomes: CheckOutcome[] = [];
  const width = Math.max(...files.map((f) => basename(f).length));
  for (const file of files) {
    let outcome: Omit<CheckOutcome, "file">;
    try {
      outcome = await checkReference(parseReferenceText(await readInputFile(file, "reference"), file));
    } catch (error) {
      // An unreadable or malformed file fails its line (the message says which and why); the
      // other files are still checked.
      const unchecked = uncheckedKind(error);
      if (unchecked === undefined) throw error;
      outcome = { status: "FAIL", detail: (error as Error).message, unchecked };
    }
    outcomes.push({ file, ...outcome });
    io.stdout.write(`${outcome.status.padEnd(4)}  ${basename(file).padEnd(width)}  ${outcome.detail}\n`);
  }
  const failed = outcomes.filter((o) => o.status === "FAIL");
  const passed = outcomes.filter((o) => o.status === "pass").length;
  io.stdout.write(`${passed} passed, ${failed.length} failed, ${outcomes.length - passed - failed.length} skipped\n`);
  const badFiles = failed.filter((o) => o.unchecked === "file").length;
  const notByFile = failed.filter((o) => o.unchecked === "other").length;
  const mismatched = failed.length - badFiles - notByFile;
  // One clause per kind of failure, the first counted "of N reference files".
  const clauses: [number, string][] = [
    [mismatched, "did not match"],
    [badFiles, "could not be checked (malformed or unreadable; their lines say why)"],
    [
      notByFile,
      `could not be checked for a reason other than the file (staq itself: ${notByFile > 1 ? "their lines say" : "its line says"} why)`,
    ],
  ];
  const summary = clauses
    .filter(([n]) => n > 0)
    .map(([n, what], i) => (i === 0 ? `${n} of ${outcomes.length} reference files ${what}` : `, and ${n} ${what}`))
    .join("");
  // A disagreement with upstream is the finding that matters (exit 1), whatever else failed. So is
  // a check that could not run for a reason other than its file (staq/envs/minatar could not be
  // loaded): the files may be fine, and rerunning after the fix (npm run build) is what to do, as
  // for any other failure of staq (exit 1). Only files at fault, alone, are bad input (exit 2), as
  // for every other command. The help and docs/environments.md say the same.
  if (mismatched > 0 || notByFile > 0) throw new ReferenceMismatchError(summary);
  if (badFiles > 0) throw new StaqFormatError(summary);
  // Nothing checked is no success: a wrong folder, or files that are all of another format.
  if (passed === 0)
    throw new StaqInputError(
      `--reference ${values.reference}: none of the ${outcomes.length} files is a reference file, so nothing was checked (the format: docs/formats.md, “Reference data”)`,
    );
}

/** Exit 1 after the report: an environment disagrees with a reference file, or a file could not be checked for a reason other than the file. */
export class ReferenceMismatchError extends StaqError {}

export const checkEnvCommand: Command = {
  name: "check-env",
  summary: "check the environments against upstream reference data (classic control, MinAtar, numpy)",
  help: HELP,
  run,
};
