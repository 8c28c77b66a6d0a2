/**
 * RiverSwim, the hard-exploration chain of Strehl & Littman (2008), "An analysis of model-based
 * Interval Estimation for Markov decision processes". The numbers here are those of the widely used
 * version of Osband, Russo & Van Roy (2013), "(More) efficient reinforcement learning via posterior
 * sampling", which rescales the rewards to [0, 1]; Strehl & Littman's original has slightly
 * different current probabilities and rewards 5 and 10000.
 *
 * States 0..S−1 lie along a river that flows left; the agent is a swimmer.
 * - Action 0, swim left (with the current): moves one state left, deterministically; at state 0 it stays.
 * - Action 1, swim right (against the current):
 *   - at state 0: stay 0.4, right 0.6;
 *   - at a middle state: left 0.05, stay 0.6, right 0.35;
 *   - at state S−1: left 0.4, stay 0.6.
 * - Rewards: R[0][0] = 5/1000 (a small, sure reward for resting at the left bank); R[S−1][1] = 1
 *   (the large reward for swimming right at the right end); 0 elsewhere.
 *
 * About the reward at the right end: some implementations pay 1 only on the transition that stays
 * at S−1, which would make the expected reward of (S−1, right) 0.6. Here the reward belongs to the
 * state–action pair, as in the tabular implementations that set R[S−1][right] = 1: taking "right"
 * in state S−1 pays 1 whatever the outcome, so R[S−1][1] = 1.
 *
 * The MDP is fully determined by its options, so there is no seed: nothing in it is random.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { allocateDense, createMdp, type Mdp } from "./mdp.ts";

export interface RiverSwimOptions {
  /** Length of the chain (integer ≥ 2). Default 6, as in the original. */
  states?: number;
  /** Discount, 0 ≤ γ < 1. Default 0.95. */
  gamma?: number;
}

export const RIVER_SWIM_LEFT_REWARD = 5 / 1000;
export const RIVER_SWIM_RIGHT_REWARD = 1;

/** The RiverSwim MDP (actions: 0 left, 1 right). */
export function riverSwimMdp(options: RiverSwimOptions = {}): Mdp {
  if (typeof options !== "object" || options === null)
    throw new StaqInputError(`riverSwimMdp takes {states, gamma} (both optional); got ${describeValue(options)}`);
  const { states = 6, gamma = 0.95 } = options;
  // Two states are needed so the left and right banks are different states; with one, the two
  // rewards would fall on the same state and the chain would have nothing to explore.
  if (!(Number.isSafeInteger(states) && states >= 2)) {
    throw new StaqInputError(
      `riverSwimMdp: states must be an integer >= 2 (the chain needs a left and a right end); got states = ${describeValue(states)}`,
    );
  }
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1)) {
    throw new StaqInputError(`riverSwimMdp: gamma must satisfy 0 <= gamma < 1; got gamma = ${describeValue(gamma)}`);
  }
  const S = states;
  const A = 2;
  // Dense, like every MDP here: S·2·S entries, so about 23000 states at most (2^32 entries).
  const P = allocateDense(S * A * S, `riverSwimMdp: the dense P of ${S} states × 2 actions × ${S} next states`, "use fewer states");
  const R = new Float64Array(S * A);
  const at = (s: number, a: number, next: number) => (s * A + a) * S + next;
  const last = S - 1;
  for (let s = 0; s < S; s++) {
    P[at(s, 0, Math.max(0, s - 1))] = 1;
    if (s === 0) {
      P[at(s, 1, 0)] = 0.4;
      P[at(s, 1, 1)] = 0.6;
    } else if (s === last) {
      P[at(s, 1, s - 1)] = 0.4;
      P[at(s, 1, s)] = 0.6;
    } else {
      P[at(s, 1, s - 1)] = 0.05;
      P[at(s, 1, s)] = 0.6;
      P[at(s, 1, s + 1)] = 0.35;
    }
  }
  R[0 * A + 0] = RIVER_SWIM_LEFT_REWARD;
  R[last * A + 1] = RIVER_SWIM_RIGHT_REWARD;
  return createMdp({ states: S, actions: A, P, R, gamma });
}
