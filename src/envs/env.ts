/**
 * The environment interface, Gymnasium-style. Every environment staq trains on implements it —
 * the built-in classic-control and MinAtar ports, and a user's own. Observations are flat
 * Float32Arrays (the shape says how to read them); actions are integers 0..actionCount−1.
 *
 * `terminated` and `truncated` are separate everywhere: a terminal state ends the return (no
 * bootstrapping), a truncation (a time limit) only ends the episode.
 */

/** What reset returns. */
export interface ResetResult {
  obs: Float32Array;
  info: Record<string, unknown>;
}

/** What one step returns. */
export interface StepResult {
  obs: Float32Array;
  reward: number;
  /** The episode reached a terminal state of the MDP. */
  terminated: boolean;
  /** The episode was cut short (a time limit); the state is not terminal. */
  truncated: boolean;
  info: Record<string, unknown>;
}

export interface Env {
  /** The registry name, e.g. "CartPole-v1". */
  readonly name: string;
  /** Shape of one observation, e.g. [4] or [10, 10, 4] (channels last); obs.length is its product. */
  readonly observationShape: readonly number[];
  /** Number of discrete actions. */
  readonly actionCount: number;
  /**
   * Starts an episode. With a seed, the environment's generator is re-seeded first (the same seed
   * gives the same episode for the same actions); without one, the generator continues.
   */
  reset(options?: { seed?: number }): ResetResult;
  /** Applies one action (an integer in [0, actionCount)). Call reset() after an episode ends. */
  step(action: number): StepResult;
}

/** The product of an observation shape. */
export function observationSize(env: Pick<Env, "observationShape">): number {
  return env.observationShape.reduce((product, n) => product * n, 1);
}
