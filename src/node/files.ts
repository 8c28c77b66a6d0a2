/**
 * Files on disk (Node): atomic writes, and file-system errors in words.
 */
import { open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { StaqError } from "../errors.ts";

export function describeFsError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
    ENOSPC: "no space left on the device",
  };
  return code && reasons[code] ? `${reasons[code]} (${code})` : message;
}

/** True when something exists at `path` (a file or a directory). */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Writes a new file (failing if it exists) and flushes it to disk before returning. */
export async function writeFlushed(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `bytes` to a temporary file beside `path`, flushed to disk, then renames it over `path`:
 * a rename within a directory is atomic, so a crash or a full disk leaves the old file or the new
 * one, never half of one. `what` names the contents in the error ("the stack").
 */
export async function writeFileAtomically(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFlushed(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new StaqError(`Could not write ${what} to ${path}: ${describeFsError(error)}`, { cause: error });
  }
}
