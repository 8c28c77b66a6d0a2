/**
 * A checkpoint directory on disk, replaced so that at every moment of a save, and after a kill at
 * any of them (or two kills in a row), a complete checkpoint is on disk where the reader looks.
 *
 * Names: `NAME/` is the checkpoint; `NAME.old/` the previous one during a replacement; `NAME.new/`
 * the one being written. A directory only ever becomes `NAME/` or `NAME.old/` by a rename of a
 * complete, flushed directory, and renames are atomic, so both are always complete when present.
 * `NAME.new/` may be partial and is never read. The reader takes `NAME/`, else `NAME.old/`.
 *
 * A save:
 *   1. `NAME/` missing but `NAME.old/` present (an earlier save was killed between its renames):
 *      rename `NAME.old/` back to `NAME/` before anything else, since it is the only complete copy;
 *   2. remove `NAME.new/` (never read), write the files into a fresh one, flush them and it;
 *   3. if `NAME/` exists: remove `NAME.old/` (safe: `NAME/` is complete, and read first), then
 *      rename `NAME/` to `NAME.old/`: from here until 4 the reader falls back to `NAME.old/`;
 *   4. rename `NAME.new/` to `NAME/`, flush the parent directory (so the renames survive a power
 *      cut), and remove `NAME.old/`.
 * `NAME.old/` is removed only while `NAME/` exists, so no kill leaves nothing (the earlier
 * protocol removed it at the start of step 3 even when it was the only copy). A failure while
 * writing `NAME.new/` (a full disk) removes it again, and the previous checkpoint is untouched.
 * test/node/checkpoint-directory.test.ts kills a save at each of these steps.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StaqError, StaqFormatError, StaqInputError } from "../errors.ts";
import { NODE_FILE_OPERATIONS, fileError, fileIdentity, pathExists, type FileOperations } from "./files.ts";

/**
 * Writes `files` as the directory `path`, replacing what was there only once all are on disk (see
 * above). `operations` are the file-system steps (tests replace them to fail at each one).
 */
export async function writeDirectoryAtomically(
  path: string,
  files: Readonly<Record<string, Uint8Array>>,
  operations: FileOperations = NODE_FILE_OPERATIONS,
): Promise<void> {
  const fresh = `${path}.new`;
  const old = `${path}.old`;
  const parent = dirname(path);
  const failed = (error: unknown, state: string) => fileError(`Could not write the checkpoint ${path} (${state})`, error);

  try {
    // 1. The only complete copy back under its own name, before anything is removed.
    if (!(await pathExists(path)) && (await pathExists(old))) {
      await operations.rename(old, path);
      await operations.syncDirectory(parent);
    }
  } catch (error) {
    throw failed(error, `the previous checkpoint is still in ${old}`);
  }

  const previous = (await pathExists(path)) ? "the previous checkpoint is kept" : "there was no previous checkpoint";
  try {
    // 2. The new checkpoint, complete and flushed, under a name nothing reads.
    await operations.remove(fresh);
    await operations.mkdir(fresh);
    for (const [name, bytes] of Object.entries(files)) await operations.writeFlushed(join(fresh, name), bytes);
    await operations.syncDirectory(fresh);
  } catch (error) {
    // A full disk leaves a partial NAME.new: remove it, so the space is free again and nothing
    // half-written is left beside the checkpoint.
    await operations.remove(fresh).catch(() => undefined);
    throw failed(error, previous);
  }

  try {
    // 3. The current checkpoint becomes NAME.old, which the reader falls back to.
    if (await pathExists(path)) {
      await operations.remove(old);
      await operations.rename(path, old);
    }
    // 4. The new one in place, the renames on disk, then the previous one gone.
    await operations.rename(fresh, path);
    await operations.syncDirectory(parent);
    await operations.remove(old);
  } catch (error) {
    throw failed(error, `a complete checkpoint is in ${path} or ${old}`);
  }
}

/** The directory to read for the checkpoint `path`: itself, or `path.old` (see above). */
export async function checkpointSource(path: string): Promise<string> {
  for (const candidate of [path, `${path}.old`]) {
    const info = await stat(candidate).catch(() => undefined);
    if (info === undefined) continue;
    if (!info.isDirectory()) {
      throw new StaqInputError(
        `${candidate} is a file, not a checkpoint directory; give a run directory written by staq train, or a checkpoint directory (agent.save)`,
      );
    }
    return candidate;
  }
  throw new StaqFormatError(`no checkpoint at ${path} (expected a directory written by staq train or agent.save)`);
}

/**
 * Reads every file of the checkpoint directory `path` (or of `path.old`, see above). A save in
 * another process (`staq eval` while `staq train` runs) may rename directories while the files
 * are read one by one: the files could then come from two checkpoints, or vanish. A directory
 * keeps its inode through a rename, and a complete checkpoint's files never change, so a read is
 * whole when the source names the same directory before and after it; otherwise it starts over.
 * `only`: read just these files (a policy needs neither the replay buffer nor Adam's moments).
 */
export async function readCheckpointDirectory(path: string, only?: readonly string[]): Promise<Record<string, Uint8Array>> {
  const ATTEMPTS = 5;
  for (let attempt = 1; ; attempt++) {
    const source = await checkpointSource(path);
    const before = await fileIdentity(source);
    try {
      const files = await readCheckpointFiles(path, source, only);
      if (before !== undefined && before === (await fileIdentity(source))) return files;
    } catch (error) {
      const vanished = (error as { cause?: NodeJS.ErrnoException }).cause?.code === "ENOENT";
      if (!vanished || attempt === ATTEMPTS) throw error;
      continue;
    }
    if (attempt === ATTEMPTS)
      throw new StaqError(
        `the checkpoint ${path} was replaced during each of ${ATTEMPTS} reads; is another process saving it in a loop? Try again`,
      );
  }
}

/** The files of `source` (those named in `only`, when given: a file missing is left for the decoder to name). */
async function readCheckpointFiles(path: string, source: string, only?: readonly string[]): Promise<Record<string, Uint8Array>> {
  let names: string[];
  try {
    names = await readdir(source);
  } catch (error) {
    throw fileError(`Could not read the checkpoint ${source}`, error);
  }
  const files: Record<string, Uint8Array> = {};
  for (const name of names.sort()) {
    if (only !== undefined && !only.includes(name)) continue;
    const file = join(source, name);
    if ((await stat(file).catch(() => undefined))?.isDirectory()) {
      throw new StaqFormatError(
        `${file} is a directory; a checkpoint directory holds only files (state.json, networks.safetensors, replay.safetensors): is ${path} a checkpoint?`,
      );
    }
    try {
      files[name] = new Uint8Array(await readFile(file));
    } catch (error) {
      throw fileError(`Could not read the checkpoint file ${file}`, error);
    }
  }
  return files;
}
