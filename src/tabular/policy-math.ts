/**
 * Tabular policies as row-major [S, A] float64 arrays, and the quantities PMD reports about them.
 * Conventions: 0 · log 0 = 0; KL and entropy are averaged uniformly over states; distances between
 * policies are the largest per-state ℓ1 distance, ‖π − π'‖_{∞,1} = max_s Σ_a |π(a|s) − π'(a|s)|
 * (twice the largest total-variation distance).
 */
import { StaqInputError } from "../errors.ts";

/** π(·|s) ∝ exp(logits(s,·)/temperature), computed stably (max subtracted). */
export function softmaxPolicy(logits: Float64Array, states: number, actions: number, temperature = 1): Float64Array {
  if (logits.length !== states * actions)
    throw new StaqInputError(`logits have ${logits.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  if (!(temperature > 0)) throw new StaqInputError(`the softmax temperature must be > 0; got ${temperature}`);
  const policy = new Float64Array(states * actions);
  for (let s = 0; s < states; s++) {
    const row = s * actions;
    let max = -Infinity;
    for (let a = 0; a < actions; a++) max = Math.max(max, logits[row + a] / temperature);
    let sum = 0;
    for (let a = 0; a < actions; a++) sum += policy[row + a] = Math.exp(logits[row + a] / temperature - max);
    for (let a = 0; a < actions; a++) policy[row + a] /= sum;
  }
  return policy;
}

/** The uniform policy, π_0 of PMD. */
export function uniformPolicy(states: number, actions: number): Float64Array {
  return new Float64Array(states * actions).fill(1 / actions);
}

/** Checks that every row of `policy` is a distribution over the actions (within 1e-9). */
export function validatePolicy(policy: Float64Array, states: number, actions: number): void {
  if (policy.length !== states * actions)
    throw new StaqInputError(`the policy has ${policy.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  for (let s = 0; s < states; s++) {
    let sum = 0;
    for (let a = 0; a < actions; a++) {
      const p = policy[s * actions + a];
      if (!(p >= 0 && p <= 1)) throw new StaqInputError(`policy(${a}|${s}) is ${p}; probabilities must be in [0, 1]`);
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-9)
      throw new StaqInputError(`policy(·|${s}) sums to ${sum}, not 1; each state's row must be a distribution over actions`);
  }
}

/** −Σ_a π log π of one state's row (0 · log 0 = 0). */
export function rowEntropy(policy: Float64Array, row: number, actions: number): number {
  let entropy = 0;
  for (let a = 0; a < actions; a++) {
    const p = policy[row + a];
    if (p > 0) entropy -= p * Math.log(p);
  }
  return entropy;
}

/** Mean over states of the entropy H(π(·|s)). */
export function meanEntropy(policy: Float64Array, states: number, actions: number): number {
  let total = 0;
  for (let s = 0; s < states; s++) total += rowEntropy(policy, s * actions, actions);
  return total / states;
}

/** Mean over states of KL(p(·|s) ‖ q(·|s)); Infinity where q = 0 < p. */
export function meanKl(p: Float64Array, q: Float64Array, states: number, actions: number): number {
  let total = 0;
  for (let i = 0; i < states * actions; i++) {
    if (p[i] > 0) total += p[i] * (Math.log(p[i]) - Math.log(q[i]));
  }
  return total / states;
}

/** max_s Σ_a |p(a|s) − q(a|s)|. */
export function policyDistance(p: Float64Array, q: Float64Array, states: number, actions: number): number {
  let largest = 0;
  for (let s = 0; s < states; s++) {
    let sum = 0;
    for (let a = 0; a < actions; a++) sum += Math.abs(p[s * actions + a] - q[s * actions + a]);
    largest = Math.max(largest, sum);
  }
  return largest;
}

/** max_{s,a} |log p(a|s) − log q(a|s)| (Infinity if one has a zero the other lacks). */
export function logPolicyDistance(p: Float64Array, q: Float64Array): number {
  let largest = 0;
  for (let i = 0; i < p.length; i++) {
    const gap = p[i] === q[i] ? 0 : Math.abs(Math.log(p[i]) - Math.log(q[i]));
    largest = Math.max(largest, gap);
  }
  return largest;
}

/** max |x| (the ∞-norm). */
export function maxAbs(x: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i]));
  return largest;
}

/** max |x − y| over two arrays of the same length. */
export function maxAbsDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i] - y[i]));
  return largest;
}
