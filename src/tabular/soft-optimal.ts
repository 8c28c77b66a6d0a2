/**
 * The entropy-regularised optimum Q*_τ and π*_τ ∝ exp(Q*_τ/τ).
 *
 * Soft value iteration applies the soft Bellman operator
 *   (T Q)(s,a) = R(s,a) + γ Σ_s' P(s'|s,a) V_Q(s'),   V_Q(s) = Σ_a π_Q(a|s) (Q(s,a) − τ log π_Q(a|s)),
 * with π_Q = softmax(Q / temperature). With temperature = τ (the default) V_Q(s) = τ log Σ_a exp(Q(s,a)/τ),
 * T is a γ-contraction in ‖·‖∞. If each computed sweep is T(Q_n) + δ_n with ‖δ_n‖∞ ≤ ε (rounding),
 * then ‖Q_{n+1} − Q*‖ ≤ γ(‖Q_{n+1} − Q_n‖ + ‖Q_{n+1} − Q*‖) + ε, so
 *   ‖Q_{n+1} − Q*_τ‖∞ ≤ (γ ‖Q_{n+1} − Q_n‖∞ + ε) / (1 − γ),
 * the bound reported as `errorBound`; iteration stops once it is below the tolerance (or once the
 * change is down to rounding, and then the bound says how close that is). A temperature other than τ gives the fixed point of "evaluate with
 * entropy weight τ, improve with temperature τ'", which is where vanilla finite-memory PMD ends
 * (τ' = τ/(1−β^M)); that operator is not guaranteed to contract, so the result is not certified.
 *
 * Soft policy iteration (evaluate exactly, take the softmax) reaches the same fixed point in a few
 * linear solves instead of thousands of sweeps; `softOptimum` uses it as a warm start and lets value
 * iteration certify the result.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { checkMdp, type Mdp } from "./mdp.ts";
import { checkFiniteValues, firstNonFinite } from "./overflow.ts";
import { maxAbs, maxAbsDifference, rowEntropy, softmaxPolicy, uniformPolicy } from "./policy-math.ts";
import { softPolicyEvaluation } from "./soft-evaluation.ts";

export interface SoftOptimum {
  q: Float64Array;
  policy: Float64Array;
  iterations: number;
  /** A proven bound on ‖q − Q*‖∞ (temperature = τ), or NaN when none holds. */
  errorBound: number;
}

export interface SoftSolveOptions {
  /** Entropy weight τ > 0 of the regularised objective. */
  tau: number;
  /** Temperature of the improvement step; τ unless given. */
  temperature?: number;
  /** Target accuracy of Q in ‖·‖∞. */
  tolerance?: number;
  maxIterations?: number;
  /** Where to start (row-major [S, A]); zeros by default. */
  initialQ?: Float64Array;
}

function checkSolveOptions(mdp: Mdp, options: SoftSolveOptions): { tau: number; temperature: number } {
  checkMdp(mdp);
  if (typeof options !== "object" || options === null)
    throw new StaqInputError(
      `the solver options must be an object {tau, temperature?, tolerance?, maxIterations?, initialQ?}; got ${describeValue(options)}`,
    );
  const { tau } = options;
  const temperature = options.temperature ?? tau;
  checkTemperatures(tau, temperature);
  const { tolerance, maxIterations, initialQ } = options;
  if (tolerance !== undefined && !(typeof tolerance === "number" && tolerance > 0))
    throw new StaqInputError(`tolerance must be a number > 0 (an accuracy of Q in the max norm); got ${describeValue(tolerance)}`);
  if (maxIterations !== undefined && !(Number.isSafeInteger(maxIterations) && maxIterations >= 1))
    throw new StaqInputError(`maxIterations must be an integer >= 1; got ${describeValue(maxIterations)}`);
  if (initialQ !== undefined) checkQ(mdp, initialQ, "initialQ");
  return { tau, temperature };
}

function checkTemperatures(tau: number, temperature: number): void {
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau > 0))
    throw new StaqInputError(`tau must be a finite number > 0; got ${describeValue(tau)}`);
  if (!(typeof temperature === "number" && Number.isFinite(temperature) && temperature > 0))
    throw new StaqInputError(`temperature must be a finite number > 0; got ${describeValue(temperature)}`);
}

/** A Q-function of the MDP: a Float64Array [S, A] of finite numbers. */
function checkQ(mdp: Mdp, q: Float64Array, name: string): void {
  const size = mdp.states * mdp.actions;
  if (!(q instanceof Float64Array && q.length === size)) {
    throw new StaqInputError(
      `${name} must be a Float64Array of ${size} entries (states × actions, row-major [S, A]); got ${ArrayBuffer.isView(q) ? `a ${q.constructor.name} of ${(q as ArrayLike<number>).length}` : describeValue(q)}`,
    );
  }
  const bad = firstNonFinite(q);
  if (bad >= 0) throw new StaqInputError(`${name}[${bad}] is ${q[bad]}; a Q-function must be finite`);
}

/** One application of the soft Bellman operator T (see the module comment). */
export function softBellman(mdp: Mdp, q: Float64Array, tau: number, temperature = tau): Float64Array {
  checkMdp(mdp);
  checkTemperatures(tau, temperature);
  checkQ(mdp, q, "q");
  const { states: S, actions: A, P, R, gamma } = mdp;
  const policy = softmaxPolicy(q, S, A, temperature);
  const values = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let expected = 0;
    for (let a = 0; a < A; a++) expected += policy[s * A + a] * q[s * A + a];
    values[s] = expected + tau * rowEntropy(policy, s * A, A);
  }
  const next = new Float64Array(S * A);
  for (let sa = 0; sa < S * A; sa++) {
    let sum = 0;
    for (let s2 = 0; s2 < S; s2++) sum += P[sa * S + s2] * values[s2];
    next[sa] = R[sa] + gamma * sum;
  }
  return next;
}

/**
 * ε, a bound on the float64 rounding of one sweep of T: the softmax, entropy and expectation over
 * A actions, then the backup over S next states, each a sum of at most S + A + 8 rounded terms of
 * size at most ‖R‖ + ‖Q‖ + τ log A (Higham's γ_n bound for sums, with a factor 4 for the exp/log
 * evaluations, which are within a few ulps).
 */
export function bellmanRounding(mdp: Mdp, q: Float64Array, tau: number): number {
  const n = mdp.states + mdp.actions + 8;
  return 4 * n * (Number.EPSILON / 2) * (maxAbs(mdp.R) + maxAbs(q) + tau * Math.log(mdp.actions) + 1);
}

/** Soft value iteration from `initialQ` (or zeros) until the stopping rule in the module comment. */
export function softValueIteration(mdp: Mdp, options: SoftSolveOptions): SoftOptimum {
  const { tau, temperature } = checkSolveOptions(mdp, options);
  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 1_000_000;
  const { gamma } = mdp;
  let q: Float64Array = options.initialQ ? Float64Array.from(options.initialQ) : new Float64Array(mdp.states * mdp.actions);
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const next = softBellman(mdp, q, tau, temperature);
    // An overflowed sweep would leave the change NaN and the loop running to maxIterations.
    checkFiniteValues(mdp, next, tau, "Q");
    const change = maxAbsDifference(next, q);
    q = next;
    const rounding = bellmanRounding(mdp, q, tau);
    const bound = (gamma * change + rounding) / (1 - gamma);
    // Rounding keeps the change from reaching zero: stop once it is down to that level as well.
    if (bound <= tolerance || change <= rounding) {
      return {
        q,
        policy: softmaxPolicy(q, mdp.states, mdp.actions, temperature),
        iterations: iteration,
        errorBound: temperature === tau ? bound : NaN,
      };
    }
  }
  throw new StaqInputError(
    `soft value iteration did not reach tolerance ${tolerance} in ${maxIterations} iterations; raise maxIterations or the tolerance`,
  );
}

/** Soft policy iteration: π ← softmax(Q^π_τ / temperature) until Q stops changing. */
export function softPolicyIteration(mdp: Mdp, options: SoftSolveOptions): SoftOptimum {
  const { tau, temperature } = checkSolveOptions(mdp, options);
  const maxIterations = options.maxIterations ?? 200;
  const { states: S, actions: A } = mdp;
  let policy = options.initialQ ? softmaxPolicy(options.initialQ, S, A, temperature) : uniformPolicy(S, A);
  let q = softPolicyEvaluation(mdp, policy, tau);
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    policy = softmaxPolicy(q, S, A, temperature);
    const next = softPolicyEvaluation(mdp, policy, tau);
    const change = maxAbsDifference(next, q);
    q = next;
    if (change <= 4 * Number.EPSILON * Math.max(1, maxAbs(q))) {
      return { q, policy: softmaxPolicy(q, S, A, temperature), iterations: iteration, errorBound: NaN };
    }
  }
  // Rounding can leave the last bits oscillating; value iteration (in softOptimum) settles them.
  return { q, policy: softmaxPolicy(q, S, A, temperature), iterations: maxIterations, errorBound: NaN };
}

/**
 * Q*_τ and π*_τ to `tolerance` (1e-11 by default): soft policy iteration to get close, then soft
 * value iteration from there, which certifies the bound when temperature = τ.
 */
export function softOptimum(mdp: Mdp, options: SoftSolveOptions): SoftOptimum {
  // Checked here too: the spreads below would turn a missing options object into {}.
  checkSolveOptions(mdp, options);
  const start = softPolicyIteration(mdp, { ...options, maxIterations: 50 });
  const finish = softValueIteration(mdp, { ...options, tolerance: options.tolerance ?? 1e-11, initialQ: start.q });
  return { ...finish, iterations: start.iterations + finish.iterations };
}
