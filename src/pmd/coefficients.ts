/**
 * The per-snapshot coefficients of finite-memory Policy Mirror Descent (docs/algorithm.md, “The coefficients”).
 *
 * With α_k = 1/(η+τ_k) and β_k = η/(η+τ_k), the PMD step π_{k+1} ∝ π_k^β · exp(α Q^k) makes the
 * logits a weighted sum of past Q-functions, ξ_{k+1} = correction · Σ_i c_i Q^i. Each push
 * multiplies every stored coefficient by β_k, appends α_k for the new Q-function, and drops the
 * oldest once more than M are stored. The GPU kernel only ever sees `c` and `correction`.
 *
 * - vanilla: correction 1; the weights sum to (1−β^M)/τ, so the fixed point is biased.
 * - corrected: correction 1/(1−β_k^M) with the β of the latest step, so the weights sum to exactly
 *   1/τ once the stack is full (constant τ). Before the stack is full the same factor is used, as
 *   the StaQ authors' code does ("memory" normalisation); "sum" normalisation instead scales the
 *   sum to exactly 1/τ_k at every step, full or not.
 *
 * Two stack rules say what a push keeps (docs/algorithm.md, “The authors' stack rule”):
 * - exact: the finite-memory PMD above: M coefficients, each snapshot's α the one of its own step;
 * - authors: what the StaQ authors' code does: it drops the oldest only when more than M are
 *   stored *before* the push, so M + 1 are kept, and it multiplies the β-decayed sum by the α of the
 *   latest step, c_i = α_k · Π_{j>i} β_j, so every stored snapshot takes the current τ's α. With a
 *   constant τ the two differ only by the (M+1)-th term; during τ's annealing the older snapshots
 *   weigh more under the authors' rule (α grows as τ falls).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";

export type PmdVariant = "vanilla" | "corrected";
export type PmdNormalization = "memory" | "sum";
export type StackRule = "exact" | "authors";
export const STACK_RULES: readonly StackRule[] = ["exact", "authors"];

export interface PmdStepOptions {
  /** KL weight η ≥ 0 (η = 0 is soft policy iteration). */
  eta: number;
  /** Entropy weight τ > 0 of this step (may change from step to step). */
  tau: number;
  /** M ≥ 1, the number of Q-functions kept; Infinity keeps all (exact PMD). */
  memory: number;
  variant?: PmdVariant;
  normalization?: PmdNormalization;
  /** What a push keeps and how it weighs it (default "exact"). */
  rule?: StackRule;
}

export interface PmdCoefficients {
  /** c_i, oldest first; the newest Q-function's coefficient is last. */
  coefficients: Float64Array;
  /** The scalar that multiplies the weighted sum (1 for vanilla). */
  correction: number;
}

/** α = 1/(η+τ) and β = η/(η+τ) of one PMD step. */
export function pmdRates(eta: number, tau: number): { alpha: number; beta: number } {
  return { alpha: 1 / (eta + tau), beta: eta / (eta + tau) };
}

export function validatePmdOptions(options: PmdStepOptions): void {
  const { eta, tau, memory } = options;
  // describeValue, not `${}`: a string "1" would print as 1 and the message would contradict itself.
  if (!(Number.isFinite(eta) && eta >= 0)) throw new StaqInputError(`eta must be a finite number >= 0; got ${describeValue(eta)}`);
  if (!(Number.isFinite(tau) && tau > 0)) throw new StaqInputError(`tau must be a finite number > 0; got ${describeValue(tau)}`);
  if (!(memory === Infinity || (Number.isInteger(memory) && memory >= 1))) {
    throw new StaqInputError(`memory must be an integer >= 1 (or Infinity for exact PMD); got ${describeValue(memory)}`);
  }
  // α = 1/(η+τ) is the newest snapshot's weight. Below 2^-1024 (about 5.6e-309) 1/(η+τ) is
  // Infinity in float64, and the logits would come out ∞ or NaN (∞ · 0) a step later.
  if (!Number.isFinite(1 / (eta + tau))) {
    throw new StaqInputError(
      `eta + tau = ${eta + tau} is too small: the step's weight alpha = 1/(eta + tau) overflows float64 (eta + tau must be at least about 5.6e-309); raise tau`,
    );
  }
  const variant = options.variant ?? "corrected";
  if (variant !== "vanilla" && variant !== "corrected") {
    throw new StaqInputError(`variant must be "vanilla" or "corrected"; got ${JSON.stringify(variant)}`);
  }
  const normalization = options.normalization ?? "memory";
  if (normalization !== "memory" && normalization !== "sum") {
    throw new StaqInputError(`normalization must be "memory" or "sum"; got ${JSON.stringify(normalization)}`);
  }
  const rule = options.rule ?? "exact";
  if (!STACK_RULES.includes(rule)) throw new StaqInputError(`rule must be "exact" or "authors"; got ${JSON.stringify(rule)}`);
}

/** The snapshots a stack holds at most under `rule`: M, or M + 1 for the authors' rule. */
export function stackSlots(memory: number, rule: StackRule = "exact"): number {
  return rule === "authors" ? memory + 1 : memory;
}

/**
 * The factor a push multiplies every kept coefficient by: β_k, or under the authors' rule
 * β_k · α_k / α_{k−1}, which moves the whole sum from the previous step's α to this one's (the
 * newest stored coefficient is α_{k−1} itself, its snapshot's β-product being 1).
 */
export function keptFactor(c: ArrayLike<number>, options: PmdStepOptions): number {
  const { alpha, beta } = pmdRates(options.eta, options.tau);
  if ((options.rule ?? "exact") === "exact" || c.length === 0) return beta;
  return (beta * alpha) / c[c.length - 1];
}

/** The correction factor for coefficients `c` just produced by a step with rate β. */
export function pmdCorrection(c: Float64Array, beta: number, options: PmdStepOptions): number {
  if ((options.variant ?? "corrected") === "vanilla" || options.memory === Infinity) return 1;
  if ((options.normalization ?? "memory") === "sum") {
    let sum = 0;
    for (const value of c) sum += value;
    return 1 / (options.tau * sum);
  }
  return 1 / (1 - beta ** options.memory);
}

/**
 * One PMD step: drop the oldest beyond what the rule keeps (M − 1 before the push, or M under the
 * authors' rule), multiply the kept coefficients by β (`keptFactor`), append α for the new
 * Q-function. Pure: returns new arrays.
 */
export function pmdStep(c: Float64Array, options: PmdStepOptions): PmdCoefficients {
  validatePmdOptions(options);
  for (let i = 0; i < c.length; i++) {
    if (!Number.isFinite(c[i])) throw new StaqInputError(`coefficient ${i} is ${describeValue(c[i])}; coefficients must be finite numbers`);
  }
  const { alpha, beta } = pmdRates(options.eta, options.tau);
  const factor = keptFactor(c, options);
  const kept = Math.min(c.length, stackSlots(options.memory, options.rule) - 1);
  const next = new Float64Array(kept + 1);
  for (let i = 0; i < kept; i++) next[i] = c[c.length - kept + i] * factor;
  next[kept] = alpha;
  return { coefficients: next, correction: pmdCorrection(next, beta, options) };
}

/** The coefficients after one step per entry of `taus`, starting from an empty stack. */
export function pmdCoefficients(taus: readonly number[], options: Omit<PmdStepOptions, "tau">): PmdCoefficients {
  let state: PmdCoefficients = { coefficients: new Float64Array(0), correction: 1 };
  for (const tau of taus) state = pmdStep(state.coefficients, { ...options, tau });
  return state;
}
