/**
 * The convergence bounds the property tests check, with where they come from.
 *
 * Parameters: α = 1/(η+τ), β = η/(η+τ), so exact PMD is entropy-regularised NPG (Cen, Cheng, Chen,
 * Wei, Chi 2021, "Fast global convergence of natural policy gradient methods with entropy
 * regularization", Operations Research 2022) with learning rate η_NPG = (1−γ)(1−β)/τ: their update
 * π^{t+1} ∝ (π^t)^{1−η_NPG τ/(1−γ)} exp(η_NPG Q^t/(1−γ)) is ours with 1 − η_NPG τ/(1−γ) = β. Their
 * rate 1 − η_NPG τ is then d = 1 − (1−γ)(1−β) = β + γ(1−β) (docs/algorithm.md, “Tabular PMD and its convergence”).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";

function checkRates(gamma: number, beta: number): void {
  // typeof first: a string such as "0.5" would pass the comparisons by coercion.
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1))
    throw new StaqInputError(`gamma must satisfy 0 <= gamma < 1; got ${describeValue(gamma)}`);
  if (!(typeof beta === "number" && beta >= 0 && beta < 1))
    throw new StaqInputError(`beta must satisfy 0 <= beta < 1; got ${describeValue(beta)}`);
}

/** d = β + γ(1−β), the linear rate of exact PMD. */
export function pmdLinearRate(gamma: number, beta: number): number {
  checkRates(gamma, beta);
  return beta + gamma * (1 - beta);
}

/**
 * Cen et al. 2021, Theorem 1 (exact evaluation, constant τ): for every t ≥ 0
 *   ‖Q* − Q^{t+1}‖∞          ≤ C1 γ d^t,
 *   ‖log π* − log π^{t+1}‖∞  ≤ 2 C1 d^t / τ,
 *   C1 = ‖Q* − Q^0‖∞ + 2τβ ‖log π* − log π^0‖∞.
 * Returns the two bounds for iteration k ≥ 1 (the policy after k updates); for k = 0 the
 * Q bound is ‖Q* − Q^0‖∞ itself.
 */
export function exactPmdBounds(
  k: number,
  constants: { gamma: number; beta: number; tau: number; initialQError: number; initialLogPolicyError: number },
): { q: number; logPolicy: number } {
  if (!(Number.isSafeInteger(k) && k >= 0))
    throw new StaqInputError(`k, the number of PMD updates, must be an integer >= 0; got ${describeValue(k)}`);
  if (typeof constants !== "object" || constants === null) {
    throw new StaqInputError(
      `exactPmdBounds needs {gamma, beta, tau, initialQError, initialLogPolicyError}; got ${describeValue(constants)}`,
    );
  }
  const { gamma, beta, tau, initialQError, initialLogPolicyError } = constants;
  const d = pmdLinearRate(gamma, beta);
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau > 0))
    throw new StaqInputError(`tau must be a finite number > 0; got ${describeValue(tau)}`);
  // Infinity is a true log-policy distance (π* has a zero π_0 lacks); the bound is then Infinity.
  for (const [name, value] of [
    ["initialQError", initialQError],
    ["initialLogPolicyError", initialLogPolicyError],
  ] as const) {
    if (!(typeof value === "number" && value >= 0))
      throw new StaqInputError(`${name} must be a number >= 0 (a distance); got ${describeValue(value)}`);
  }
  const c1 = initialQError + 2 * tau * beta * initialLogPolicyError;
  if (k === 0) return { q: initialQError, logPolicy: initialLogPolicyError };
  return { q: c1 * gamma * d ** (k - 1), logPolicy: (2 * c1 * d ** (k - 1)) / tau };
}

/**
 * The memory M from which weight-corrected finite-memory PMD provably has no error floor.
 *
 * Derivation. Corrected PMD is exact PMD fed the surrogate Q̃^k = (Q^k − β^M Q^{k−M}) / (1−β^M)
 * (the recursion form in docs/algorithm.md, “Vanilla and weight-corrected memory”, with Q^j = 0 for j < 0), an evaluation error
 *   e_k = Q̃^k − Q^k = ε_M (Q^k − Q^{k−M}),   ε_M = β^M / (1−β^M),
 * so ‖e_k‖∞ ≤ ε_M (‖Q* − Q^k‖∞ + ‖Q* − Q^{k−M}‖∞). Cen et al.'s inexact bound (Theorem 2: with
 * ‖e‖∞ ≤ δ, the limit error is at most γ C2 δ, C2 = 2/(1−γ) · (1 + γ/(η_NPG τ)), η_NPG τ =
 * (1−γ)(1−β)) turns this into lim sup E ≤ 2γ C2 ε_M · lim sup E for E_k = ‖Q* − Q^k‖∞, so the floor
 * is zero as soon as the loop gain is below one:
 *   κ ε_M < 1,   κ = 4γ/(1−γ) · (1 + γ/((1−γ)(1−β))).
 * For γ = 0.99, β = 0.95 this gives M ≥ 265, the StaQ paper's example (they state M > 265). It is
 * a sufficient condition; in practice much smaller memories converge (the tests report by how much).
 */
export function correctedMemoryThreshold(gamma: number, beta: number): number {
  checkRates(gamma, beta);
  if (beta === 0 || gamma === 0) return 1;
  const gain = ((4 * gamma) / (1 - gamma)) * (1 + gamma / ((1 - gamma) * (1 - beta)));
  // κ β^M/(1−β^M) < 1  ⇔  β^M < 1/(1+κ).
  return Math.max(1, Math.floor(Math.log(1 / (1 + gain)) / Math.log(beta)) + 1);
}
