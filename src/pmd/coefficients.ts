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
 */
import { StaqInputError } from "../errors.ts";

export type PmdVariant = "vanilla" | "corrected";
export type PmdNormalization = "memory" | "sum";

export interface PmdStepOptions {
  /** KL weight η ≥ 0 (η = 0 is soft policy iteration). */
  eta: number;
  /** Entropy weight τ > 0 of this step (may change from step to step). */
  tau: number;
  /** M ≥ 1, the number of Q-functions kept; Infinity keeps all (exact PMD). */
  memory: number;
  variant?: PmdVariant;
  normalization?: PmdNormalization;
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
  if (!(Number.isFinite(eta) && eta >= 0)) throw new StaqInputError(`eta must be a finite number >= 0; got ${eta}`);
  if (!(Number.isFinite(tau) && tau > 0)) throw new StaqInputError(`tau must be a finite number > 0; got ${tau}`);
  if (!(memory === Infinity || (Number.isInteger(memory) && memory >= 1))) {
    throw new StaqInputError(`memory must be an integer >= 1 (or Infinity for exact PMD); got ${memory}`);
  }
  const variant = options.variant ?? "corrected";
  if (variant !== "vanilla" && variant !== "corrected") {
    throw new StaqInputError(`variant must be "vanilla" or "corrected"; got ${JSON.stringify(variant)}`);
  }
  const normalization = options.normalization ?? "memory";
  if (normalization !== "memory" && normalization !== "sum") {
    throw new StaqInputError(`normalization must be "memory" or "sum"; got ${JSON.stringify(normalization)}`);
  }
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
 * One PMD step: multiply the stored coefficients by β, append α for the new Q-function, drop the
 * oldest beyond `memory`. Pure: returns new arrays.
 */
export function pmdStep(c: Float64Array, options: PmdStepOptions): PmdCoefficients {
  validatePmdOptions(options);
  for (let i = 0; i < c.length; i++) {
    if (!Number.isFinite(c[i])) throw new StaqInputError(`coefficient ${i} is ${c[i]}; coefficients must be finite`);
  }
  const { alpha, beta } = pmdRates(options.eta, options.tau);
  const kept = Math.min(c.length, options.memory - 1);
  const next = new Float64Array(kept + 1);
  for (let i = 0; i < kept; i++) next[i] = c[c.length - kept + i] * beta;
  next[kept] = alpha;
  return { coefficients: next, correction: pmdCorrection(next, beta, options) };
}

/** The coefficients after one step per entry of `taus`, starting from an empty stack. */
export function pmdCoefficients(taus: readonly number[], options: Omit<PmdStepOptions, "tau">): PmdCoefficients {
  let state: PmdCoefficients = { coefficients: new Float64Array(0), correction: 1 };
  for (const tau of taus) state = pmdStep(state.coefficients, { ...options, tau });
  return state;
}
