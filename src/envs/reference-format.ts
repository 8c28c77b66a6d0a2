/**
 * Parsing helpers shared by the reference-data checkers (docs/formats.md, “Reference data”): the
 * classic-control, MinAtar and RandomState checkers read their files with these, so that a malformed
 * file is refused with the same wording whichever checker reads it.
 *
 * Portable: no Node imports.
 */
import { StaqFormatError } from "../errors.ts";

/** Whether `value` is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value quoted for a message: JSON, cut short, and "undefined" for a missing field. */
export function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * `value` as an array; with `length`, as one entry per step: as many entries as there are actions.
 * `suffix` follows "must be an array" in the refusal of a value that is none (MinAtar's checker:
 * ", one entry per action").
 */
export function array(value: unknown, where: string, length?: number, suffix = ""): unknown[] {
  if (!Array.isArray(value)) throw new StaqFormatError(`${where} must be an array${suffix}; got ${describe(value)}`);
  if (length !== undefined && value.length !== length) {
    throw new StaqFormatError(`${where} has ${value.length} entries but actions has ${length}; one entry per step is needed`);
  }
  return value;
}

/**
 * The refusal of a file whose top-level list `field` (of `entry`s) is empty: it would pass having
 * checked nothing.
 */
export function nothingToCheck(field: string, entry: string): StaqFormatError {
  return new StaqFormatError(
    `"${field}" is empty: the file checks nothing; record at least one ${entry} (docs/formats.md, “Reference data”)`,
  );
}
