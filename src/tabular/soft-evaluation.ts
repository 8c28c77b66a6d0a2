/**
 * Exact soft policy evaluation (docs/algorithm.md, “Soft policy evaluation”):
 *   Q^π_τ(s,a) = R(s,a) + γ Σ_s' P(s'|s,a) V^π_τ(s'),
 *   V^π_τ(s)   = Σ_a π(a|s) (Q^π_τ(s,a) − τ log π(a|s)),
 * solved as one linear system (I − γ P_π) V = r_π + τ H_π over the states, then one backup for Q.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { solveLinearSystem } from "./linear-solve.ts";
import { checkMdp, type Mdp } from "./mdp.ts";
import { checkFiniteValues, firstNonFinite } from "./overflow.ts";
import { rowEntropy, validatePolicy } from "./policy-math.ts";

/** V^π_τ by the linear solve. `policy` is row-major [S, A]. */
export function softStateValues(mdp: Mdp, policy: Float64Array, tau: number): Float64Array {
  checkMdp(mdp);
  const { states: S, actions: A, P, R, gamma } = mdp;
  checkTau(tau);
  validatePolicy(policy, S, A);
  // Row s of I − γ P_π and of the right-hand side r_π + τ H_π.
  const system = new Float64Array(S * S);
  const rhs = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    const row = s * S;
    system[row + s] = 1;
    let reward = 0;
    for (let a = 0; a < A; a++) {
      const p = policy[s * A + a];
      if (p === 0) continue;
      reward += p * R[s * A + a];
      const weight = gamma * p;
      const transitions = (s * A + a) * S;
      for (let next = 0; next < S; next++) system[row + next] -= weight * P[transitions + next];
    }
    rhs[s] = reward + tau * rowEntropy(policy, s * A, A);
  }
  const values = solveLinearSystem(system, rhs, S);
  // Rewards near float64's end make V overflow; say so here rather than as a NaN policy later.
  checkFiniteValues(mdp, values, tau, "V");
  return values;
}

/** τ ≥ 0 (0: no entropy bonus), finite; a string would pass the comparison by coercion. */
function checkTau(tau: number): void {
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau >= 0))
    throw new StaqInputError(`tau must be a finite number >= 0; got ${describeValue(tau)}`);
}

/** Q(s,a) = R(s,a) + γ Σ_s' P(s'|s,a) V(s'). */
export function backupQ(mdp: Mdp, values: Float64Array): Float64Array {
  checkMdp(mdp);
  const { states: S, actions: A, P, R, gamma } = mdp;
  if (!(values instanceof Float64Array && values.length === S))
    throw new StaqInputError(`values must be a Float64Array of ${S} state values V(s), one per state; got ${describeValue(values)}`);
  // O(S) against the O(S²A) backup: a NaN in V would otherwise come out as NaNs in Q.
  const bad = firstNonFinite(values);
  if (bad >= 0) throw new StaqInputError(`values[${bad}] is ${values[bad]}; state values must be finite numbers`);
  const q = new Float64Array(S * A);
  for (let sa = 0; sa < S * A; sa++) {
    let expected = 0;
    const transitions = sa * S;
    for (let next = 0; next < S; next++) expected += P[transitions + next] * values[next];
    q[sa] = R[sa] + gamma * expected;
  }
  return q;
}

/** Q^π_τ, row-major [S, A], exactly (up to the linear solve's rounding). */
export function softPolicyEvaluation(mdp: Mdp, policy: Float64Array, tau: number): Float64Array {
  const q = backupQ(mdp, softStateValues(mdp, policy, tau));
  checkFiniteValues(mdp, q, tau, "Q");
  return q;
}

/**
 * A bound on ‖Q̂ − Q^π_τ‖∞ for the float64 result of `softPolicyEvaluation`, for any policy.
 * The solve's residual is at most γ_{3S}·2S·‖I − γP_π‖∞‖V‖∞ (Gaussian elimination on a row
 * diagonally dominant matrix: multipliers ≤ 1, growth ≤ 2; Higham Thm 9.4) plus the rounding of
 * building the system, γ_{S+A+2}((1+γ)‖V‖ + ‖R‖ + τ log A); ‖(I − γP_π)^{-1}‖∞ ≤ 1/(1−γ) turns the
 * residual into the error of V, the backup multiplies that by γ and adds γ_{S+2}(‖R‖ + γ‖V‖).
 * ‖V‖∞ ≤ (‖R‖∞ + τ log A)/(1−γ) for every policy.
 */
export function softEvaluationErrorBound(mdp: Mdp, tau: number): number {
  checkMdp(mdp);
  checkTau(tau);
  const { states: S, actions: A, gamma } = mdp;
  const u = Number.EPSILON / 2;
  const g = (n: number) => (n * u) / (1 - n * u);
  let rewards = 0;
  for (const r of mdp.R) rewards = Math.max(rewards, Math.abs(r));
  const entropyBonus = tau * Math.log(A);
  const values = (rewards + entropyBonus) / (1 - gamma);
  const residual = g(3 * S) * 2 * S * (1 + gamma) * values + g(S + A + 2) * ((1 + gamma) * values + rewards + entropyBonus);
  return (gamma * residual) / (1 - gamma) + g(S + 2) * (rewards + gamma * values);
}
