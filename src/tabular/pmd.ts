/**
 * Policy Mirror Descent on a tabular MDP, in float64, with the same coefficient functions as the GPU
 * stack (src/pmd/coefficients.ts), so the policy computed here is the one the stack would compute.
 *
 * Iteration k (π_0 uniform): evaluate Q^k = Q^{π_k}_{τ_k} exactly; optionally add seeded Gaussian
 * noise of scale σ to each entry (a model of function-approximation error); update the logits
 * (the finite-memory variants push it with `pmdStep`); π_{k+1} = softmax(ξ_{k+1}) with the logits
 *   exact:     ξ_{k+1} = β_k ξ_k + α_k Q^k            (all past Q-functions; the recursion form of the
 *                                                     sum, so memory and time do not grow with k)
 *   vanilla:   ξ_{k+1} = Σ_i c_i Q^i                  (the last M, weights summing to (1−β^M)/τ)
 *   corrected: ξ_{k+1} = 1/(1−β^M) · Σ_i c_i Q^i      (the last M, weights summing to 1/τ)
 * The finite-memory variants keep the M Q-functions and form the sum exactly as the stack kernel does.
 *
 * Reported per iteration k = 0..K−1: errors[k] = ‖Q*_{τ_k} − Q^{π_k}_{τ_k}‖∞; policyErrors[k] =
 * ‖π*_{τ_k} − π_k‖_{∞,1} = max_s Σ_a |π*(a|s) − π_k(a|s)|; kl[k] = mean_s KL(π_{k+1}(·|s) ‖ π_k(·|s));
 * entropy[k] = mean_s H(π_k(·|s)). Errors are of the exact Q of π_k, whatever the noise.
 * Each errors[k] is a difference of two float64 results (Q*_τ and Q^{π_k}_τ), so it is certified
 * only to ±`errorBound` (src/tabular/error-floor.ts); close to γ = 1 that can exceed the errors.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { pmdRates, pmdStep, validatePmdOptions, type PmdCoefficients } from "../pmd/coefficients.ts";
import { createRandomStream } from "../random/random-stream.ts";
import { pmdErrorBound } from "./error-floor.ts";
import type { Mdp } from "./mdp.ts";
import { checkFiniteEstimate, checkFiniteLogits } from "./overflow.ts";
import { optimumCache, tauAt, validateOptions, type TabularPmdOptions } from "./pmd-options.ts";
import { maxAbsDifference, meanEntropy, meanKl, policyDistance, softmaxPolicy } from "./policy-math.ts";
import { softPolicyEvaluation } from "./soft-evaluation.ts";
import type { SoftOptimum } from "./soft-optimal.ts";

export {
  tauAt,
  TABULAR_PMD_VARIANTS,
  type TabularPmdOptions,
  type TabularPmdStep,
  type TabularPmdVariant,
  type TauSchedule,
} from "./pmd-options.ts";

export interface TabularPmdResult {
  errors: number[];
  policyErrors: number[];
  kl: number[];
  entropy: number[];
  /**
   * A bound on |errors[k] − ‖Q*_τ − Q^{π_k}_τ‖∞| for every k (plus a relative 2^-53 from the
   * subtraction): the optimum's errorBound plus softEvaluationErrorBound, the largest over the τ
   * used. NaN when the optimum came without a bound. Errors below it are not resolved.
   */
  errorBound: number;
  /** π_K, the policy after K updates (row-major [S, A]). */
  policy: Float64Array;
  /** Q^{π_K}_τ with the τ of the last iteration, exact. */
  q: Float64Array;
  /** ξ_K, the logits of π_K. */
  logits: Float64Array;
  /** The final coefficients c (oldest first) and correction; for exact PMD, of all K Q-functions. */
  coefficients: PmdCoefficients;
  /** The (noisy) Q-functions in memory, oldest first, matching `coefficients` (finite memory only). */
  memoryQ: Float64Array[];
  /** Q*_τ and π*_τ of the last iteration's τ. */
  optimum: SoftOptimum;
}

/** Runs K iterations of PMD; see the module comment for what is reported. */
export function tabularPmd(mdp: Mdp, options: TabularPmdOptions): TabularPmdResult {
  validateOptions(mdp, options);
  const { states: S, actions: A } = mdp;
  const { variant, eta, iterations, noise = 0 } = options;
  const optimumFor = optimumCache(mdp, options.optimum);
  const random = createRandomStream(options.seed ?? 0);
  const stepOptions = {
    eta,
    memory: variant === "exact" ? Infinity : options.memory!,
    variant: variant === "vanilla" ? "vanilla" : "corrected",
    normalization: options.normalization,
  } as const;

  const result: Pick<TabularPmdResult, "errors" | "policyErrors" | "kl" | "entropy" | "errorBound"> = {
    errors: [],
    policyErrors: [],
    kl: [],
    entropy: [],
    errorBound: 0,
  };
  let coefficients: PmdCoefficients = { coefficients: new Float64Array(0), correction: 1 };
  // Exact PMD's τ_k, for its coefficients at the end (`exactCoefficients`): 8 bytes an iteration.
  const taus: number[] = [];
  const memoryQ: Float64Array[] = [];
  let logits: Float64Array = new Float64Array(S * A);
  let policy = softmaxPolicy(logits, S, A);
  let tau = tauAt(options.tau, 0);
  for (let k = 0; k < iterations; k++) {
    tau = tauAt(options.tau, k);
    const q = softPolicyEvaluation(mdp, policy, tau);
    const optimum = optimumFor(tau);
    const record = {
      error: maxAbsDifference(optimum.q, q),
      policyError: policyDistance(optimum.policy, policy, S, A),
      kl: 0,
      entropy: meanEntropy(policy, S, A),
    };
    // NaN (an optimum without a bound) stays NaN: Math.max propagates it.
    result.errorBound = Math.max(result.errorBound, pmdErrorBound(mdp, optimum, tau));

    const estimate = noise > 0 ? q.map((value) => value + noise * random.normal()) : q;
    if (noise > 0) checkFiniteEstimate(mdp, estimate, k, noise);
    if (variant === "exact") {
      // The recursion needs only α_k and β_k: pmdStep's array of all k coefficients, copied every
      // step, made K iterations cost O(K²). The same check of τ_k as pmdStep's, in O(1).
      validatePmdOptions({ eta, tau, memory: Infinity });
      const { alpha, beta } = pmdRates(eta, tau);
      for (let i = 0; i < logits.length; i++) logits[i] = beta * logits[i] + alpha * estimate[i];
      taus.push(tau);
    } else {
      coefficients = pmdStep(coefficients.coefficients, { ...stepOptions, tau });
      if (!Number.isFinite(coefficients.correction)) {
        // Otherwise the logits, and then the policy, come out NaN ("policy(0|0) is NaN").
        throw new StaqInputError(
          `eta ${eta} is too large against tau ${tau} for the corrected variant: β = η/(η+τ) rounds to 1 in float64, so the correction 1/(1 − β^M) is infinite; keep eta/tau below about 1e15`,
        );
      }
      // In place: two new arrays of M references every iteration were most of the time for a large M.
      memoryQ.push(estimate);
      if (memoryQ.length > options.memory!) memoryQ.shift();
      logits = weightedSum(memoryQ, coefficients);
    }
    // Logits grow towards Q/tau; past float64's range the softmax below would be NaN.
    checkFiniteLogits(mdp, logits, k, tau, noise);
    const next = softmaxPolicy(logits, S, A);
    record.kl = meanKl(next, policy, S, A);

    result.errors.push(record.error);
    result.policyErrors.push(record.policyError);
    result.kl.push(record.kl);
    result.entropy.push(record.entropy);
    options.onIteration?.(k, { ...record, policy, q: estimate });
    policy = next;
  }
  if (variant === "exact") coefficients = { coefficients: exactCoefficients(eta, taus), correction: 1 };
  return {
    ...result,
    policy,
    q: softPolicyEvaluation(mdp, policy, tau),
    logits,
    coefficients,
    memoryQ,
    optimum: optimumFor(tau),
  };
}

/**
 * Exact PMD's coefficients c_i = α_i Π_{j>i} β_j of all K Q-functions, in O(K) time.
 *
 * pmdStep with memory Infinity forms c_i = fl(…fl(fl(α_i β_{i+1}) β_{i+2})… β_{K−1}): one rounding
 * per later step, in that order. Where τ is the same from i to K−1, that is fl(c_{i+1} β): the same
 * multiplications in the same order, so these are bit for bit pmdStep's. Before the last change of
 * τ (counting from the end) c_i = fl(α_i · p_i) with p_i = Π_{j>i} β_j multiplied from the end:
 * K−1−i roundings, as pmdStep has, in another order, so each is within γ_{K−1−i} = (K−1−i)u/(1 −
 * (K−1−i)u) relative of the exact product and the two agree within a relative 2γ_{K−1−i}, while
 * p_i is a normal number; past 2^-1022 p_i loses precision, adding at most α_i (K−1−i) 2^-1074.
 * Every c_i is finite: α_i is (checked per step) and 0 ≤ p_i ≤ 1.
 */
export function exactCoefficients(eta: number, taus: readonly number[]): Float64Array {
  const K = taus.length;
  const c = new Float64Array(K);
  let product = 1;
  let sameTau = true;
  for (let i = K - 1; i >= 0; i--) {
    const { alpha, beta } = pmdRates(eta, taus[i]);
    sameTau &&= i === K - 1 || taus[i] === taus[i + 1];
    if (i === K - 1) c[i] = alpha;
    else c[i] = sameTau ? c[i + 1] * beta : alpha * product;
    product *= beta;
  }
  return c;
}

/** correction · Σ_i c_i Q^i, the stack's logits. */
export function weightedSum(qs: readonly Float64Array[], stack: PmdCoefficients): Float64Array {
  // O(M) checks against the O(M·S·A) sum, so tabularPmd calls this every iteration.
  if (!Array.isArray(qs)) throw new StaqInputError(`qs must be an array of Q-functions (Float64Arrays); got ${describeValue(qs)}`);
  if (typeof stack !== "object" || stack === null)
    throw new StaqInputError(`the coefficients must be {coefficients, correction} (as pmdStep returns); got ${describeValue(stack)}`);
  const { coefficients, correction } = stack;
  if (!(coefficients instanceof Float64Array))
    throw new StaqInputError(`coefficients must be a Float64Array; got ${describeValue(coefficients)}`);
  if (qs.length !== coefficients.length)
    throw new StaqInputError(`${qs.length} Q-functions but ${coefficients.length} coefficients; they must pair up`);
  if (!(typeof correction === "number" && Number.isFinite(correction)))
    throw new StaqInputError(`correction must be a finite number; got ${describeValue(correction)}`);
  const size = qs[0]?.length ?? 0;
  const sum = new Float64Array(size);
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i];
    const weight = coefficients[i];
    if (!(q instanceof Float64Array)) throw new StaqInputError(`qs[${i}] must be a Float64Array; got ${describeValue(q)}`);
    // A shorter one would add NaN (undefined) to the sum, a longer one be cut without a word.
    if (q.length !== size)
      throw new StaqInputError(`qs[${i}] has ${q.length} entries but qs[0] has ${size}; every Q-function must have the same shape`);
    if (!Number.isFinite(weight)) throw new StaqInputError(`coefficient ${i} is ${weight}; coefficients must be finite numbers`);
    for (let j = 0; j < size; j++) sum[j] += weight * q[j];
  }
  for (let j = 0; j < sum.length; j++) sum[j] *= correction;
  return sum;
}
