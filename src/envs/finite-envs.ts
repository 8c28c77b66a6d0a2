/**
 * The environments known never to return a NaN or infinite observation or reward: staq's own
 * ports (classic control, LunarLander, MinAtar), whose dynamics are bounded and whose values are
 * checked against upstream. createVectorEnv checks every other env's values on every step (a loop
 * over the observation) and skips these, so that the built-in ones stay as fast as they were.
 *
 * A set, not a flag on the Env: a user's env could not then claim to be finite by accident, and a
 * wrapper (withTimeLimit) is trusted only when what it wraps is.
 */
import type { Env } from "./env.ts";

const finite = new WeakSet<object>();

/** Marks `env`, one of staq's own environments, as never returning non-finite values. */
export function markFinite<E extends Env>(env: E): E {
  finite.add(env);
  return env;
}

/** True for an env marked by markFinite. */
export function finiteByConstruction(env: Env): boolean {
  return finite.has(env);
}
