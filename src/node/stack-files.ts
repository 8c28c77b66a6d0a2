/**
 * Stacks on disk (Node): the safetensors encoding of ../io/stack-file.ts, written atomically.
 */
import { readFile } from "node:fs/promises";
import { StaqFormatError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import type { Stack } from "../stack/stack.ts";
import { fileError, writeFileAtomically } from "./files.ts";
import { stackFromSafetensors, stackToSafetensors, type LoadStackOptions } from "../io/stack-file.ts";

/**
 * Saves `stack` to `path` as safetensors. The bytes go to a temporary file in the same directory,
 * flushed to disk, which is then renamed over `path`: rename within a directory is atomic, so a
 * crash or a full disk leaves either the old file or the new one, never half of one.
 */
export async function saveStack(stack: Stack, path: string): Promise<void> {
  await writeFileAtomically(path, await stackToSafetensors(stack), "the stack");
}

/** Loads a stack saved by `saveStack` (or any program writing the format of docs/formats.md, “The stack file”) onto `gpu`. */
export async function loadStack(gpu: Gpu, path: string, options: LoadStackOptions = {}): Promise<Stack> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    // A missing file or a directory is the user's to fix (StaqInputError); an I/O error is not.
    throw fileError(`Could not read the stack file ${path}`, error);
  }
  try {
    return stackFromSafetensors(gpu, bytes, options);
  } catch (error) {
    // Name the file: the format errors name only the tensor or field.
    if (error instanceof StaqFormatError) throw new StaqFormatError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}
