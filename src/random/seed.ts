/**
 * The one seed check: every refusal of a seed names who refused it, the limit and, where the limit
 * is not staq's own, why. Seeds go to 2^53 − 1 by default, the largest integer a JavaScript number
 * holds exactly (staq's own generators); an environment can name a lower limit (MinAtar: numpy's
 * RandomState takes up to 2^32 − 1).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";

/** The default limit: past it, seed + 1 rounds back onto seed. */
export const MAX_SAFE_SEED = Number.MAX_SAFE_INTEGER;

/** The largest seed numpy's RandomState takes (its legacy seeding reads one 32-bit word). */
export const NUMPY_MAX_SEED = 2 ** 32 - 1;

/** How a limit reads in messages: 2^53 - 1 and 2^32 - 1 by name, other limits as numbers. */
export function seedLimitText(limit: number): string {
  if (limit === MAX_SAFE_SEED) return "2^53 - 1";
  if (limit === NUMPY_MAX_SEED) return "2^32 - 1";
  return String(limit);
}

/** Whether `value` is a seed up to `maxSeed`: an integer in [0, maxSeed]. */
export function isSeed(value: unknown, maxSeed = MAX_SAFE_SEED): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= maxSeed;
}

/** Throws a StaqInputError naming `name` unless `seed` is an integer in [0, maxSeed]. */
export function checkSeed(name: string, seed: unknown, maxSeed = MAX_SAFE_SEED, why = ""): asserts seed is number {
  if (isSeed(seed, maxSeed)) return;
  throw new StaqInputError(`${name}: seed must be an integer in [0, ${seedLimitText(maxSeed)}]${why}; got ${describeValue(seed)}`);
}
