/**
 * Policy Mirror Descent on a tabular MDP, in float64, with the same coefficient functions as the GPU
 * stack (src/pmd/coefficients.ts), so the policy computed here is the one the stack would compute.
 *
 * Iteration k (π_0 uniform): evaluate Q^k = Q^{π_k}_{τ_k} exactly; optionally add seeded Gaussian
 * noise of scale σ to each entry (a model of function-approximation error); push it with `pmdStep`;
 * π_{k+1} = softmax(ξ_{k+1}) with the logits
 *   exact:     ξ_{k+1} = β_k ξ_k + α_k Q^k            (all past Q-functions; the recursion form of the
 *                                                     sum, so memory and time do not grow with k)
 *   vanilla:   ξ_{k+1} = Σ_i c_i Q^i                  (the last M, weights summing to (1−β^M)/τ)
 *   corrected: ξ_{k+1} = 1/(1−β^M) · Σ_i c_i Q^i      (the last M, weights summing to 1/τ)
 * The finite-memory variants keep the M Q-functions and form the sum exactly as the stack kernel does.
 *
 * Reported per iteration k = 0..K−1: errors[k] = ‖Q*_{τ_k} − Q^{π_k}_{τ_k}‖∞; policyErrors[k] =
 * ‖π*_{τ_k} − π_k‖_{∞,1} = max_s Σ_a |π*(a|s) − π_k(a|s)|; kl[k] = mean_s KL(π_{k+1}(·|s) ‖ π_k(·|s));
 * entropy[k] = mean_s H(π_k(·|s)). Errors are of the exact Q of π_k, whatever the noise.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { pmdRates, pmdStep, validatePmdOptions, type PmdCoefficients, type PmdNormalization } from "../pmd/coefficients.ts";
import type { Mdp } from "./mdp.ts";
import { checkFiniteEstimate, checkFiniteLogits } from "./overflow.ts";
import { maxAbsDifference, meanEntropy, meanKl, policyDistance, softmaxPolicy } from "./policy-math.ts";
import { createRandomStream, validateSeed } from "../random/random-stream.ts";
import { softPolicyEvaluation } from "./soft-evaluation.ts";
import { softOptimum, type SoftOptimum } from "./soft-optimal.ts";

export type TabularPmdVariant = "exact" | "vanilla" | "corrected";
export const TABULAR_PMD_VARIANTS: readonly TabularPmdVariant[] = ["exact", "vanilla", "corrected"];

/** τ for every iteration: a constant, one value per iteration, or a function of the iteration k. */
export type TauSchedule = number | readonly number[] | ((iteration: number) => number);

export interface TabularPmdOptions {
  variant: TabularPmdVariant;
  /** KL weight η ≥ 0 (η = 0 is soft policy iteration). */
  eta: number;
  tau: TauSchedule;
  /** K ≥ 1: the number of PMD updates. */
  iterations: number;
  /** M ≥ 1 Q-functions kept (vanilla and corrected; exact keeps all). */
  memory?: number;
  normalization?: PmdNormalization;
  /** σ ≥ 0 of the Gaussian noise added to every Q^k(s,a) (0: exact evaluation). */
  noise?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
  /** Q*_τ and π*_τ for each τ, if already known (otherwise solved by `softOptimum`, once per τ). */
  optimum?: (tau: number) => SoftOptimum;
  /** Called after every iteration k, e.g. for progress output. */
  onIteration?: (iteration: number, step: TabularPmdStep) => void;
}

/** What iteration k computed; the arrays belong to the run, so copy them to change them. */
export interface TabularPmdStep {
  error: number;
  policyError: number;
  kl: number;
  entropy: number;
  /** π_k. */
  policy: Float64Array;
  /** The Q-function pushed at iteration k: Q^{π_k}_τ plus the noise, if any. */
  q: Float64Array;
}

export interface TabularPmdResult {
  errors: number[];
  policyErrors: number[];
  kl: number[];
  entropy: number[];
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

/** τ_k of a schedule, validated. */
export function tauAt(schedule: TauSchedule, iteration: number): number {
  let tau: number | undefined;
  if (typeof schedule === "number") tau = schedule;
  else if (typeof schedule === "function") tau = schedule(iteration);
  else {
    // Not a string: it would be indexed character by character ("0.5"[0] is "0").
    if (!Array.isArray(schedule))
      throw new StaqInputError(`tau must be a number, an array of numbers or a function of the iteration; got ${describeValue(schedule)}`);
    if (iteration >= schedule.length)
      throw new StaqInputError(
        `the tau schedule has ${schedule.length} values but iteration ${iteration} needs one; give one tau per iteration`,
      );
    tau = schedule[iteration];
  }
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau > 0))
    throw new StaqInputError(`tau for iteration ${iteration} is ${describeValue(tau)}; tau must be a finite number > 0`);
  return tau;
}

function validateOptions(mdp: Mdp, options: TabularPmdOptions): void {
  const { variant, iterations, memory, noise = 0 } = options;
  if (!TABULAR_PMD_VARIANTS.includes(variant))
    throw new StaqInputError(`variant must be one of ${TABULAR_PMD_VARIANTS.join(", ")}; got ${JSON.stringify(variant)}`);
  if (!(Number.isInteger(iterations) && iterations >= 1))
    throw new StaqInputError(`iterations must be an integer >= 1; got ${describeValue(iterations)}`);
  if (variant !== "exact" && memory === undefined) throw new StaqInputError(`the ${variant} variant needs a memory M (an integer >= 1)`);
  if (!(Number.isFinite(noise) && noise >= 0)) throw new StaqInputError(`noise must be a finite number >= 0; got ${describeValue(noise)}`);
  if (options.seed !== undefined) validateSeed(options.seed);
  validatePmdOptions({
    eta: options.eta,
    tau: tauAt(options.tau, 0),
    memory: variant === "exact" ? Infinity : memory!,
    normalization: options.normalization,
  });
  if (mdp.states * mdp.actions === 0) throw new StaqInputError("the MDP has no state-action pairs");
}

/** The optimum for each τ, solved once per distinct τ. */
function optimumCache(mdp: Mdp, given?: (tau: number) => SoftOptimum): (tau: number) => SoftOptimum {
  if (given) return given;
  const cache = new Map<number, SoftOptimum>();
  return (tau) => {
    let optimum = cache.get(tau);
    if (!optimum) cache.set(tau, (optimum = softOptimum(mdp, { tau })));
    return optimum;
  };
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

  const result: Pick<TabularPmdResult, "errors" | "policyErrors" | "kl" | "entropy"> = {
    errors: [],
    policyErrors: [],
    kl: [],
    entropy: [],
  };
  let coefficients: PmdCoefficients = { coefficients: new Float64Array(0), correction: 1 };
  let memoryQ: Float64Array[] = [];
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

    const estimate = noise > 0 ? q.map((value) => value + noise * random.normal()) : q;
    if (noise > 0) checkFiniteEstimate(mdp, estimate, k, noise);
    coefficients = pmdStep(coefficients.coefficients, { ...stepOptions, tau });
    if (!Number.isFinite(coefficients.correction)) {
      // Otherwise the logits, and then the policy, come out NaN ("policy(0|0) is NaN").
      throw new StaqInputError(
        `eta ${eta} is too large against tau ${tau} for the corrected variant: β = η/(η+τ) rounds to 1 in float64, so the correction 1/(1 − β^M) is infinite; keep eta/tau below about 1e15`,
      );
    }
    if (variant === "exact") {
      const { alpha, beta } = pmdRates(eta, tau);
      for (let i = 0; i < logits.length; i++) logits[i] = beta * logits[i] + alpha * estimate[i];
    } else {
      memoryQ = [...memoryQ.slice(Math.max(0, memoryQ.length + 1 - options.memory!)), estimate];
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

/** correction · Σ_i c_i Q^i, the stack's logits. */
export function weightedSum(qs: readonly Float64Array[], { coefficients, correction }: PmdCoefficients): Float64Array {
  if (qs.length !== coefficients.length)
    throw new StaqInputError(`${qs.length} Q-functions but ${coefficients.length} coefficients; they must pair up`);
  const sum = new Float64Array(qs[0]?.length ?? 0);
  qs.forEach((q, i) => {
    const weight = coefficients[i];
    for (let j = 0; j < sum.length; j++) sum[j] += weight * q[j];
  });
  for (let j = 0; j < sum.length; j++) sum[j] *= correction;
  return sum;
}
