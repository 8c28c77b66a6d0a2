/**
 * Numbers typed by people (flags, config fields, URL parameters): only plain decimals are numbers.
 * `Number()` alone also takes "0x10", "0b11", "Infinity" and "" (as 0), which a user
 * never means as a count of steps; each reader of a typed number goes through these two.
 */

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** The value of a decimal like "3", "-0.5", "1e-3" (surrounding blanks allowed); NaN for anything else. */
export function parseDecimal(text: string): number {
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : NaN;
}

/**
 * The value of a decimal that is a whole number ("16", "1e3", "2.0"), as config fields take them;
 * NaN for anything else or past 2^53. Every typed count and seed goes through it, so each flag
 * takes the same numbers (`--steps 1e6` and `--checkpoint-every 1e3` alike).
 */
export function parseInteger(text: string): number {
  const value = parseDecimal(text);
  return Number.isSafeInteger(value) ? value : NaN;
}

/**
 * The value of a whole number written without fraction or exponent ("16", "+3", "-2"); NaN
 * otherwise or past 2^53. For counts stored in files (safetensors metadata), which are written
 * by programs, so anything but plain digits is a damaged file.
 */
export function parseWholeNumber(text: string): number {
  const trimmed = text.trim();
  const value = INTEGER.test(trimmed) ? Number(trimmed) : NaN;
  return Number.isSafeInteger(value) ? value : NaN;
}
