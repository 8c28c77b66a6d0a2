/**
 * Garnet MDPs ("Generic Average Reward Non-stationary Environment Testbed"), the random MDPs of
 * Archibald, McKinnon & Thomas (1995) as used by Bhatnagar, Sutton, Ghavamzadeh & Lee (2009)
 * and much of the policy-optimisation literature since.
 *
 * States 0..S−1, actions 0..A−1. For every pair (s, a):
 * - `branching` distinct next states are drawn uniformly at random (without replacement);
 * - their probabilities are the gaps between (branching − 1) sorted uniform cut points of [0, 1],
 *   i.e. a uniform draw from the probability simplex (Dirichlet(1, …, 1)); every other next state
 *   has probability 0;
 * - the expected reward R[s][a] is uniform in [0, 1).
 *
 * The whole MDP is a function of the options and the seed: the same seed gives bit-identical P and R.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { allocateDense, createMdp, type Mdp } from "./mdp.ts";
import { createRandomStream } from "../random/random-stream.ts";
import { checkSeed } from "../random/seed.ts";

export interface GarnetOptions {
  /** Number of states S (integer ≥ 1). */
  states: number;
  /** Number of actions A (integer ≥ 1). */
  actions: number;
  /** Number of reachable next states per (s, a), an integer 1 ≤ branching ≤ states. */
  branching: number;
  /** Discount, 0 ≤ γ < 1. Default 0.9. */
  gamma?: number;
  /** Seed of the random stream (non-negative safe integer). */
  seed: number;
}

/**
 * A random Garnet MDP. Each row P[s][a] has exactly `branching` positive entries and sums to 1:
 * the last of its next states (in index order) takes 1 minus the sum of the others, so summing
 * the row in index order gives exactly 1.
 */
export function garnetMdp(options: GarnetOptions): Mdp {
  if (typeof options !== "object" || options === null)
    throw new StaqInputError(`garnetMdp needs {states, actions, branching, seed} (and optionally gamma); got ${describeValue(options)}`);
  const { states, actions, branching, gamma = 0.9, seed } = options;
  if (!(Number.isSafeInteger(states) && states >= 1)) {
    throw new StaqInputError(`garnetMdp: states must be an integer >= 1; got states = ${describeValue(states)}`);
  }
  if (!(Number.isSafeInteger(actions) && actions >= 1)) {
    throw new StaqInputError(`garnetMdp: actions must be an integer >= 1; got actions = ${describeValue(actions)}`);
  }
  if (!(Number.isSafeInteger(branching) && branching >= 1 && branching <= states)) {
    throw new StaqInputError(
      `garnetMdp: branching must be an integer with 1 <= branching <= states (${states}), the number of distinct next states per (state, action); got branching = ${describeValue(branching)}`,
    );
  }
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1)) {
    throw new StaqInputError(`garnetMdp: gamma must satisfy 0 <= gamma < 1; got gamma = ${describeValue(gamma)}`);
  }
  checkSeed("garnetMdp", seed);

  const S = states;
  const A = actions;
  const random = createRandomStream(seed);
  const P = allocateDense(
    S * A * S,
    `garnetMdp: the dense P of ${S} states × ${A} actions × ${S} next states`,
    "use fewer states or actions",
  );
  const R = new Float64Array(S * A);
  // Reused between rows; a partial Fisher–Yates shuffle of its first `branching` slots picks the
  // next states without replacement in O(branching) per row after the O(S) reset.
  const order = new Int32Array(S);
  const chosen = new Int32Array(branching);
  const cuts = new Float64Array(Math.max(0, branching - 1));
  const weights = new Float64Array(branching);

  // Draws happen in a fixed order (s, then a; next states, cut points, reward) so a seed names one MDP.
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      for (let i = 0; i < S; i++) order[i] = i;
      for (let i = 0; i < branching; i++) {
        const j = i + random.integer(S - i);
        const swap = order[i];
        order[i] = order[j];
        order[j] = swap;
      }
      chosen.set(order.subarray(0, branching));
      // The gaps of uniform cut points are exchangeable, so handing them out in next-state order
      // instead of draw order leaves the distribution unchanged, and it makes the remainder land on
      // the highest-index state: validateMdp's left-to-right sum then adds exactly what we subtracted.
      chosen.sort();

      // A zero gap (a repeated cut point, or rounding in the remainder) would leave the row with
      // fewer than `branching` next states; it has probability about branching² · 2^-53, so redraw.
      for (;;) {
        for (let i = 0; i < cuts.length; i++) cuts[i] = random.uniform();
        cuts.sort();
        let previous = 0;
        let sum = 0;
        for (let i = 0; i < branching - 1; i++) {
          weights[i] = cuts[i] - previous;
          previous = cuts[i];
          sum += weights[i];
        }
        // 1 − sum rather than 1 − (last cut): the row must sum to 1 however the gaps rounded.
        weights[branching - 1] = 1 - sum;
        if (weights.every((w) => w > 0)) break;
      }

      const row = (s * A + a) * S;
      for (let i = 0; i < branching; i++) P[row + chosen[i]] = weights[i];
      R[s * A + a] = random.uniform();
    }
  }
  return createMdp({ states: S, actions: A, P, R, gamma });
}
