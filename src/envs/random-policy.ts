/**
 * The uniform-random policy's episode returns: the baseline an agent's return is read against
 * (MinAtar results are often quoted as multiples of it). Seeded: the same seed gives the same
 * episodes.
 */
import { StaqInputError } from "../errors.ts";
import { createRandomStream } from "../random/random-stream.ts";
import type { Env } from "./env.ts";

/** Returns of `episodes` episodes of uniformly random actions; episode k resets with seed `seed + k`. */
export function randomPolicyReturns(env: Env, episodes: number, seed: number): number[] {
  if (!(Number.isInteger(episodes) && episodes >= 1)) throw new StaqInputError(`episodes must be an integer >= 1; got ${episodes}`);
  // The actions' stream, independent of the environment's own generator.
  const actions = createRandomStream(seed);
  const returns: number[] = [];
  for (let k = 0; k < episodes; k++) {
    env.reset({ seed: seed + k });
    let total = 0;
    for (;;) {
      const step = env.step(actions.integer(env.actionCount));
      total += step.reward;
      if (step.terminated || step.truncated) break;
    }
    returns.push(total);
  }
  return returns;
}
