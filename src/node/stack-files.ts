/**
 * Stacks on disk (Node): the safetensors encoding of ../io/stack-file.ts, written atomically.
 */
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { StaqError, StaqFormatError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import type { Stack } from "../stack/stack.ts";
import { stackFromSafetensors, stackToSafetensors, type LoadStackOptions } from "../io/stack-file.ts";

function describeFsError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
    ENOSPC: "no space left on the device",
  };
  return code && reasons[code] ? `${reasons[code]} (${code})` : message;
}

/**
 * Saves `stack` to `path` as safetensors. The bytes go to a temporary file in the same directory,
 * flushed to disk, which is then renamed over `path`: rename within a directory is atomic, so a
 * crash or a full disk leaves either the old file or the new one, never half of one.
 */
export async function saveStack(stack: Stack, path: string): Promise<void> {
  const bytes = await stackToSafetensors(stack);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new StaqError(`Could not save the stack to ${path}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Loads a stack saved by `saveStack` (or any program writing DESIGN §4.1's format) onto `gpu`. */
export async function loadStack(gpu: Gpu, path: string, options: LoadStackOptions = {}): Promise<Stack> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new StaqError(`Could not read the stack file ${path}: ${describeFsError(error)}`, { cause: error });
  }
  try {
    return stackFromSafetensors(gpu, bytes, options);
  } catch (error) {
    // Name the file: the format errors name only the tensor or field.
    if (error instanceof StaqFormatError) throw new StaqFormatError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}
