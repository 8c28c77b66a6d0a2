/**
 * Where the tabular solvers run out of float64, and an error that says which input to change.
 *
 * For every policy, |V^π_τ| ≤ (max|R| + τ log A)/(1 − γ) =: B (the reward plus the entropy bonus,
 * discounted), and |Q^π_τ| ≤ max|R| + γB ≤ B. PMD's logits are weighted sums of such Q-functions
 * with weights summing to at most 1/τ (exact: α Σ_j β^j = 1/τ; corrected: 1/τ; vanilla:
 * (1 − β^M)/τ), so |ξ| ≤ B/τ, about max|R|/((1 − γ)τ); exact PMD's logits approach Q* / τ, so that
 * bound is reached as k grows. Noise of scale σ adds about σ to every Q and so up to σ/τ to ξ.
 * Float64 ends at 1.8e308: past it a value is ±Infinity, and the softmax of such logits is NaN.
 * These are bounds, not predictions (a short run, or Q* far below the bound, may stay finite), so
 * the solvers check what they computed rather than refuse the inputs up front.
 */
import { StaqInputError } from "../errors.ts";
import type { Mdp } from "./mdp.ts";
import { maxAbs } from "./policy-math.ts";

/** The index of the first entry that is NaN or ±Infinity, or −1. */
export function firstNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** "(s, a)" of a flat [S, A] index. */
function entry(index: number, actions: number): string {
  return `(${Math.floor(index / actions)}, ${index % actions})`;
}

/** "1.0e309": a positive magnitude given by its log10, so one beyond float64 still prints as a number. */
function magnitude(log10: number): string {
  if (!Number.isFinite(log10)) return String(10 ** log10);
  const exponent = Math.floor(log10);
  return `${(10 ** (log10 - exponent)).toFixed(1)}e${exponent}`;
}

/**
 * log10 of B = (max|R| + τ log A)/(1 − γ), computed by logarithms so that a B past float64 is
 * still a number to print, and the inputs it is made of.
 */
function valueBound(mdp: Mdp, tau: number): { log10: number; inputs: string } {
  const rewards = maxAbs(mdp.R);
  const bonus = tau * Math.log(mdp.actions);
  // Halved before the sum so that two terms near 1.8e308 do not overflow it.
  const log10 = Math.log10(rewards / 2 + bonus / 2) + Math.LOG10E * Math.LN2 - Math.log10(1 - mdp.gamma);
  return { log10, inputs: `max|R| = ${rewards}, gamma = ${mdp.gamma}, tau = ${tau}, A = ${mdp.actions}` };
}

/** Throws if the values V (or Q) of a soft policy evaluation are not all finite. */
export function checkFiniteValues(mdp: Mdp, values: Float64Array, tau: number, what: "V" | "Q"): void {
  const bad = firstNonFinite(values);
  if (bad < 0) return;
  const { log10, inputs } = valueBound(mdp, tau);
  const where = what === "V" ? `V(${bad})` : `Q${entry(bad, mdp.actions)}`;
  throw new StaqInputError(
    `soft policy evaluation overflows float64: ${where} is ${values[bad]}. Values can reach ` +
      `(max|R| + tau log A)/(1 − gamma) = ${magnitude(log10)} here (${inputs}), and float64 ends at 1.8e308; ` +
      "scale the rewards R down (or lower tau)",
  );
}

/** Throws if a noisy Q-function (Q^k plus noise) is not all finite: the noise alone overflowed. */
export function checkFiniteEstimate(mdp: Mdp, estimate: Float64Array, iteration: number, noise: number): void {
  const bad = firstNonFinite(estimate);
  if (bad < 0) return;
  throw new StaqInputError(
    `the noisy Q at iteration ${iteration} overflows float64: Q${entry(bad, mdp.actions)} + noise is ${estimate[bad]} ` +
      `with noise ${noise} (a Gaussian sample of that scale passes 1.8e308, where float64 ends); lower the noise, far below 1e308`,
  );
}

/** Throws if PMD's logits ξ_{k+1} are not all finite, naming tau, R (and the noise) that made them grow. */
export function checkFiniteLogits(mdp: Mdp, logits: Float64Array, iteration: number, tau: number, noise: number): void {
  const bad = firstNonFinite(logits);
  if (bad < 0) return;
  const { log10, inputs } = valueBound(mdp, tau);
  const noisy = noise > 0 ? ` plus noise/tau = ${magnitude(Math.log10(noise) - Math.log10(tau))} for the noise ${noise} on every Q` : "";
  throw new StaqInputError(
    `PMD's logits overflow float64 at iteration ${iteration}: xi${entry(bad, mdp.actions)} is ${logits[bad]}. ` +
      `The logits grow towards Q/tau, and max|R|/((1 − gamma) tau) (with the entropy bonus) = ${magnitude(log10 - Math.log10(tau))} here ` +
      `(${inputs})${noisy}, past float64's 1.8e308; raise tau or scale the rewards R down${noise > 0 ? ", or lower the noise" : ""}`,
  );
}
