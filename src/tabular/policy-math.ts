/**
 * Tabular policies as row-major [S, A] float64 arrays, and the quantities PMD reports about them.
 * Conventions: 0 · log 0 = 0; KL and entropy are averaged uniformly over states; distances between
 * policies are the largest per-state ℓ1 distance, ‖π − π'‖_{∞,1} = max_s Σ_a |π(a|s) − π'(a|s)|
 * (twice the largest total-variation distance).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { klTerm } from "../pmd/kl-term.ts";

/**
 * π(·|s) ∝ exp(logits(s,·)/temperature), computed stably: each exponent is (x − m)/T with m the
 * row's largest logit, so the largest is exactly 0 and the row sums to at least 1.
 *
 * Why (x − m)/T and not x/T − m/T: for T > 0, max_a(x_a/T) = m/T, so the two are equal in exact
 * arithmetic, but x/T overflows to ±∞ for finite x and small T (Q = 1 at T = 1e-320, or
 * Q = 1e307 at T = 0.01), and ∞ − ∞ is NaN. x − m is ≤ 0 and, rounded, is within a relative
 * 2^-53 of the exact difference; dividing by T adds another: |error| ≤ 2^-52 |(x − m)/T|, never
 * worse than the old form's 2^-53 (|x| + |m|)/T + 2^-53 |(x − m)/T|. At T = 1 (the PMD iterates)
 * both forms compute fl(x − m): bit for bit the same.
 *
 * x − m itself overflows to −∞ only when x and m are more than 1.8e308 apart; exp then gives 0,
 * which is right unless T is so large (over 2e305) that the true exponent is moderate: then, and
 * for T = Infinity (−∞/∞ is NaN), it is recomputed as x/T − m/T: each part is within 2^-53 |x − m|/T
 * of the exact one (|x|, |m| < |x − m| here), so the exponent is within 3 · 2^-53 relative.
 *
 * A logit may be −∞ (an action never taken, probability 0); NaN and +∞ logits, or a row with
 * every logit −∞, have no distribution and are refused.
 */
export function softmaxPolicy(logits: Float64Array, states: number, actions: number, temperature = 1): Float64Array {
  checkShape(states, actions);
  if (!(logits instanceof Float64Array))
    throw new StaqInputError(`logits must be a Float64Array, row-major [S, A]; got ${describeValue(logits)}`);
  if (logits.length !== states * actions)
    throw new StaqInputError(`logits have ${logits.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  if (!(typeof temperature === "number" && temperature > 0))
    throw new StaqInputError(`the softmax temperature must be a number > 0; got ${describeValue(temperature)}`);
  const policy = new Float64Array(states * actions);
  for (let s = 0; s < states; s++) {
    const row = s * actions;
    let max = -Infinity;
    for (let a = 0; a < actions; a++) {
      const x = logits[row + a];
      if (!(x < Infinity)) {
        throw new StaqInputError(
          `logit (${s}, ${a}) is ${describeValue(x)}; a softmax needs finite logits (or −Infinity for an action never taken)`,
        );
      }
      max = Math.max(max, x);
    }
    if (max === -Infinity) throw new StaqInputError(`every logit of state ${s} is −Infinity; at least one action needs a finite logit`);
    let sum = 0;
    for (let a = 0; a < actions; a++) {
      const x = logits[row + a];
      let exponent = (x - max) / temperature;
      // Only for T > 1: below, x/T can overflow where x − m did not, and ∞ − ∞ is NaN again.
      if (!(exponent > -Infinity) && x > -Infinity && temperature > 1) exponent = x / temperature - max / temperature;
      sum += policy[row + a] = Math.exp(exponent);
    }
    for (let a = 0; a < actions; a++) policy[row + a] /= sum;
  }
  return policy;
}

/** Checks that `states` and `actions`, the shape [S, A] of a policy, are integers >= 1. */
export function checkShape(states: number, actions: number): void {
  if (!(Number.isSafeInteger(states) && states >= 1))
    throw new StaqInputError(`states must be an integer >= 1; got states = ${describeValue(states)}`);
  if (!(Number.isSafeInteger(actions) && actions >= 1))
    throw new StaqInputError(`actions must be an integer >= 1; got actions = ${describeValue(actions)}`);
}

/** The uniform policy, π_0 of PMD. */
export function uniformPolicy(states: number, actions: number): Float64Array {
  checkShape(states, actions);
  return new Float64Array(states * actions).fill(1 / actions);
}

/**
 * Checks that `policy` is a Float64Array [S, A] whose every row is a distribution over the actions
 * (within 1e-9). `name` is the argument, as messages name it.
 */
export function validatePolicy(policy: Float64Array, states: number, actions: number, name = "the policy"): void {
  if (!(policy instanceof Float64Array))
    throw new StaqInputError(`${name} must be a Float64Array, row-major [S, A]; got ${describeValue(policy)}`);
  if (policy.length !== states * actions)
    throw new StaqInputError(`${name} has ${policy.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  for (let s = 0; s < states; s++) {
    let sum = 0;
    for (let a = 0; a < actions; a++) {
      const p = policy[s * actions + a];
      if (!(p >= 0 && p <= 1)) throw new StaqInputError(`${name}: policy(${a}|${s}) is ${p}; probabilities must be in [0, 1]`);
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-9)
      throw new StaqInputError(`${name}: policy(·|${s}) sums to ${sum}, not 1; each state's row must be a distribution over actions`);
  }
}

/** `validatePolicy` of two policies of the same shape, checked first. */
function validatePolicies(p: Float64Array, q: Float64Array, states: number, actions: number): void {
  checkShape(states, actions);
  validatePolicy(p, states, actions, "the first policy");
  validatePolicy(q, states, actions, "the second policy");
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
  checkShape(states, actions);
  validatePolicy(policy, states, actions);
  let total = 0;
  for (let s = 0; s < states; s++) total += rowEntropy(policy, s * actions, actions);
  return total / states;
}

/** Mean over states of KL(p(·|s) ‖ q(·|s)); Infinity where q = 0 < p. Never negative (klTerm). */
export function meanKl(p: Float64Array, q: Float64Array, states: number, actions: number): number {
  validatePolicies(p, q, states, actions);
  let total = 0;
  for (let i = 0; i < states * actions; i++) total += klTerm(p[i], q[i], Math.log(p[i]) - Math.log(q[i]));
  return total / states;
}

/** max_s Σ_a |p(a|s) − q(a|s)|. */
export function policyDistance(p: Float64Array, q: Float64Array, states: number, actions: number): number {
  validatePolicies(p, q, states, actions);
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
  // No shape is given, so rows cannot be checked: the same length and probabilities in [0, 1].
  for (const [x, name] of [
    [p, "the first policy"],
    [q, "the second policy"],
  ] as const) {
    if (!(x instanceof Float64Array)) throw new StaqInputError(`${name} must be a Float64Array, row-major [S, A]; got ${describeValue(x)}`);
    const bad = x.findIndex((value) => !(value >= 0 && value <= 1));
    if (bad >= 0) throw new StaqInputError(`${name}[${bad}] is ${x[bad]}; probabilities must be in [0, 1]`);
  }
  if (p.length !== q.length)
    throw new StaqInputError(`the policies have ${p.length} and ${q.length} entries; they must have the same shape`);
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
