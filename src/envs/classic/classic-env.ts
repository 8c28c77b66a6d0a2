/**
 * What the classic-control ports (CartPole, Acrobot, MountainCar) are beyond an Env: environments
 * whose whole state is a short float64 vector that can be read and set, so that the reference
 * checker can start every step from upstream's recorded state. And the step limits Gymnasium
 * registers them with, which the ports themselves do not enforce (upstream's TimeLimit wrapper
 * does; staq's registry adds withTimeLimit with these numbers).
 */
import type { Env } from "../env.ts";

/**
 * A classic-control environment whose float64 internal state can be read and set. The ports get
 * these methods from ClassicStateEnv (classic-state.ts), which keeps that state.
 */
export interface ClassicEnv extends Env {
  /** A copy of the internal float64 state. */
  getState(): Float64Array;
  /**
   * Sets the internal state (validated: length and finiteness) and starts a new, non-terminated
   * episode from it; returns the observation of that state.
   */
  setState(state: ArrayLike<number>): Float32Array;
}

/**
 * Gymnasium's `max_episode_steps` for these environments: the registry time-limits them with it,
 * and the reference checker expects the recordings (made under upstream's TimeLimit) to truncate there.
 */
export const CLASSIC_TIME_LIMITS: Readonly<Record<string, number>> = {
  "CartPole-v1": 500,
  "Acrobot-v1": 500,
  "MountainCar-v0": 200,
};
