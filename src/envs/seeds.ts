/**
 * The vector envs' seed checks (one environment's is src/random/seed.ts's checkSeed), so that every
 * refusal names the environment, the limit and why it is that limit. An Env says how far its seeds go with
 * `maxSeed` (MinAtar: numpy's RandomState takes up to 2^32 − 1); without it, seeds go to
 * 2^53 − 1, the largest integer a JavaScript number holds exactly (staq's own generators).
 */
import { StaqInputError } from "../errors.ts";
import type { Env } from "./env.ts";
import { describeValue } from "../io/describe-value.ts";
import { isSeed, MAX_SAFE_SEED, seedLimitText } from "../random/seed.ts";

/** The largest seed every one of `envs` takes. */
export function maxSeedOf(envs: readonly Env[]): number {
  let limit = MAX_SAFE_SEED;
  for (const env of envs) if (env.maxSeed !== undefined && env.maxSeed < limit) limit = env.maxSeed;
  return limit;
}

/**
 * A vector env seeds copy i with seed + i: the whole range is checked before any copy resets, so a
 * refused seed leaves every copy as it was, and the message speaks of the seed the caller passed.
 */
export function checkSeedRange(name: string, seed: unknown, count: number, maxSeed = MAX_SAFE_SEED): void {
  // seed <= maxSeed − (count − 1), not seed + count − 1 <= maxSeed: near 2^53 the sum rounds down.
  if (isSeed(seed, maxSeed - (count - 1))) return;
  throw new StaqInputError(
    `${name}: reset's seed + i for copy i must be an integer in [0, ${seedLimitText(maxSeed)}] for each of the ${count} copies, so the seed must be an integer in [0, ${maxSeed - (count - 1)}]; got ${describeValue(seed)}`,
  );
}
