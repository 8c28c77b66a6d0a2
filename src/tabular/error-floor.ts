/**
 * How far PMD's reported errors can be from the true ones, and when that is worth a word.
 *
 * errors[k] = fl(‖Q̂* − Q̂^k‖∞), where Q̂* is within the optimum's `errorBound` of Q*_τ (the
 * certificate of soft value iteration) and Q̂^k within `softEvaluationErrorBound(mdp, τ)` of
 * Q^{π_k}_τ (the rounding of the linear solve, for any policy). By the triangle inequality the
 * reported error is within the sum of the two of the true ‖Q*_τ − Q^{π_k}_τ‖∞, plus a relative
 * 2^-53 for the subtraction. Both parts grow like ‖R‖/(1 − γ)² (the solve's condition number is
 * (1 + γ)/(1 − γ)), so close to γ = 1 the sum can pass the errors themselves: at γ = 1 − 1e-9 on a
 * two-state MDP it is 2.6e4, Q* is about 2e9, and soft policy iteration's true errors (computed
 * with 80 digits) are 960, 0.11, 4e-8, 7e-21, … from iteration 2 on, where float64 reported 729,
 * 342, 261, 289, …: rounding, not a floor of PMD.
 */
import type { Mdp } from "./mdp.ts";
import { softEvaluationErrorBound } from "./soft-evaluation.ts";
import type { SoftOptimum } from "./soft-optimal.ts";

/** A bound on |errors[k] − ‖Q*_τ − Q^{π_k}_τ‖∞| (see the module comment); NaN if the optimum has none. */
export function pmdErrorBound(mdp: Mdp, optimum: SoftOptimum, tau: number): number {
  return optimum.errorBound + softEvaluationErrorBound(mdp, tau);
}

/**
 * How far below the largest error the bound must be for the errors under it to go unremarked.
 *
 * A converging run always ends in rounding, so errors at or below the bound are normal at its end;
 * they mislead only when the bound is not far below where the errors start, so that a plot shows a
 * stall at a level that looks like a result. Six decades: on the test MDPs at γ = 0.99 (Garnet up
 * to 200 states, RiverSwim, an 8×8 gridworld; exact PMD from the uniform policy) the bound is 6.8
 * to 10.8 decades below the largest error, at γ = 0.999 (Garnet, 100 states) 7.2, at γ = 0.99999
 * 5.2 (test/tabular/error-floor.test.ts computes these); on the two-state MDP at γ = 1 − 1e-9 it
 * is 4.7 decades below, and every error after the second is under it.
 */
export const RESOLVED_DECADES = 6;

export interface UnresolvedErrors {
  /** The bound, as given. */
  bound: number;
  /** The largest error reported. */
  largest: number;
  /** How many errors are at or below the bound, of how many. */
  unresolved: number;
  total: number;
}

/**
 * Whether errors (one series per run) are reported below their bound while the bound is within
 * RESOLVED_DECADES of the largest: undefined if not (or if the bound is NaN, unknown), otherwise the
 * numbers to say so with.
 */
export function unresolvedErrors(series: readonly (readonly number[])[], bound: number): UnresolvedErrors | undefined {
  let largest = 0;
  let unresolved = 0;
  let total = 0;
  for (const errors of series) {
    for (const error of errors) {
      largest = Math.max(largest, error);
      if (error <= bound) unresolved++;
      total++;
    }
  }
  if (unresolved === 0 || !(bound > largest * 10 ** -RESOLVED_DECADES)) return undefined;
  return { bound, largest, unresolved, total };
}
