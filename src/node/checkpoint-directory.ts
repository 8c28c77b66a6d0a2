/**
 * A checkpoint directory on disk, replaced atomically: the new files are written and flushed in
 * `NAME.new/`, then the old `NAME/` is renamed to `NAME.old/`, `NAME.new/` to `NAME/`, and
 * `NAME.old/` removed. Whenever the process stops — Ctrl-C twice, a crash, a full disk — one
 * complete checkpoint exists: `NAME/`, or `NAME.old/` in the instant between the two renames
 * (reading falls back to it). `NAME.new/` is never read.
 */
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { StaqError, StaqFormatError } from "../errors.ts";
import { describeFsError, pathExists, writeFlushed } from "./files.ts";

/** Writes `files` as the directory `path`, replacing what was there only once all are on disk. */
export async function writeDirectoryAtomically(path: string, files: Readonly<Record<string, Uint8Array>>): Promise<void> {
  const fresh = `${path}.new`;
  const old = `${path}.old`;
  try {
    await rm(fresh, { recursive: true, force: true });
    await mkdir(fresh, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFlushed(join(fresh, name), bytes);
    // The directory entries themselves must be on disk before the rename makes them the checkpoint.
    const directory = await open(fresh, "r");
    await directory.sync().finally(() => directory.close());
    await rm(old, { recursive: true, force: true });
    if (await pathExists(path)) await rename(path, old);
    await rename(fresh, path);
    await rm(old, { recursive: true, force: true });
  } catch (error) {
    throw new StaqError(`Could not write the checkpoint ${path}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Reads every file of the checkpoint directory `path` (or of `path.old`, see above). */
export async function readCheckpointDirectory(path: string): Promise<Record<string, Uint8Array>> {
  const source = (await pathExists(path)) ? path : (await pathExists(`${path}.old`)) ? `${path}.old` : undefined;
  if (source === undefined) throw new StaqFormatError(`no checkpoint at ${path} (expected a directory written by staq train or agent.save)`);
  let names: string[];
  try {
    names = await readdir(source);
  } catch (error) {
    throw new StaqFormatError(`cannot read the checkpoint ${source}: ${describeFsError(error)}`);
  }
  const files: Record<string, Uint8Array> = {};
  for (const name of names) files[name] = new Uint8Array(await readFile(join(source, name)));
  return files;
}
