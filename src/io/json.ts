/**
 * JSON input files: parse errors become StaqFormatErrors that name the file, so every command
 * reports a bad file the same way.
 */
import { StaqFormatError } from "../errors.ts";

/** JSON.parse, with a StaqFormatError naming `source` when the text is not JSON. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}
