import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { solveLinearSystem } from "../../src/tabular/linear-solve.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import type { Mdp } from "../../src/tabular/mdp.ts";
import { maxAbs, maxAbsDifference, rowEntropy, softmaxPolicy } from "../../src/tabular/policy-math.ts";
import { createRandomStream } from "../../src/random/random-stream.ts";
import { softPolicyEvaluation, softStateValues } from "../../src/tabular/soft-evaluation.ts";
import { softBellman, softOptimum, softPolicyIteration, softValueIteration } from "../../src/tabular/soft-optimal.ts";

const U = Number.EPSILON / 2; // float64 unit roundoff
const gammaN = (n: number) => (n * U) / (1 - n * U);

const smallMdp = fc
  .record({
    states: fc.integer({ min: 1, max: 7 }),
    actions: fc.integer({ min: 1, max: 4 }),
    branching: fc.integer({ min: 1, max: 7 }),
    gamma: fc.double({ min: 0, max: 0.95, noNaN: true }),
    seed: fc.nat(1_000_000),
  })
  .map((o) => garnetMdp({ ...o, branching: Math.min(o.branching, o.states) }));

/** A random policy with some near-deterministic rows (logits up to ±8). */
function randomPolicy(mdp: Mdp, seed: number): Float64Array {
  const random = createRandomStream(seed);
  return softmaxPolicy(
    Float64Array.from({ length: mdp.states * mdp.actions }, () => 16 * random.uniform() - 8),
    mdp.states,
    mdp.actions,
  );
}

/** I − γP_π, the matrix policy evaluation solves. */
function evaluationMatrix(mdp: Mdp, policy: Float64Array): Float64Array {
  const { states: S, actions: A } = mdp;
  const m = new Float64Array(S * S);
  for (let s = 0; s < S; s++) {
    m[s * S + s] += 1;
    for (let a = 0; a < A; a++) for (let t = 0; t < S; t++) m[s * S + t] -= mdp.gamma * policy[s * A + a] * mdp.P[(s * A + a) * S + t];
  }
  return m;
}

const rowNorm = (m: Float64Array, n: number) => {
  let largest = 0;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.abs(m[i * n + j]);
    largest = Math.max(largest, sum);
  }
  return largest;
};

test("linear solve: the residual is within the backward-error bound of Gaussian elimination", () => {
  // Higham, Accuracy and Stability of Numerical Algorithms, Thm 9.4: the computed x̂ satisfies
  // |b − A x̂| ≤ γ_{3n} |L̂||Û| |x̂|. I − γP_π is row diagonally dominant, so the multipliers are
  // at most 1 and the growth factor at most 2: ‖|L̂||Û|‖∞ ≤ 2n·‖A‖∞, which gives
  // ‖b − A x̂‖∞ ≤ γ_{3n} · 2n · ‖A‖∞ ‖x̂‖∞. The residual itself is summed in float64, adding
  // γ_{n+1}(‖A‖∞‖x̂‖∞ + ‖b‖∞).
  fc.assert(
    fc.property(smallMdp, fc.nat(1000), (mdp, seed) => {
      const n = mdp.states;
      const a = evaluationMatrix(mdp, randomPolicy(mdp, seed));
      const random = createRandomStream(seed + 1);
      const b = Float64Array.from({ length: n }, () => 20 * random.uniform() - 10);
      const x = solveLinearSystem(a, b, n);
      let residual = 0;
      for (let i = 0; i < n; i++) {
        let sum = b[i];
        for (let j = 0; j < n; j++) sum -= a[i * n + j] * x[j];
        residual = Math.max(residual, Math.abs(sum));
      }
      const bound = gammaN(3 * n) * 2 * n * rowNorm(a, n) * maxAbs(x) + gammaN(n + 1) * (rowNorm(a, n) * maxAbs(x) + maxAbs(b));
      assert.ok(residual <= bound, `residual ${residual} > bound ${bound}`);
    }),
    { numRuns: 200 },
  );
  // A pivot is needed here (a zero on the diagonal), and a singular system is refused.
  assert.deepEqual(Array.from(solveLinearSystem(Float64Array.of(0, 1, 1, 0), Float64Array.of(2, 3), 2)), [3, 2]);
  assert.throws(
    () => solveLinearSystem(Float64Array.of(1, 2, 2, 4), Float64Array.of(1, 1), 2),
    (e: Error) => e instanceof StaqInputError && /singular/.test(e.message),
  );
  assert.throws(() => solveLinearSystem(new Float64Array(3), new Float64Array(2), 2), /matrix has 3 entries/);
});

test("soft policy evaluation satisfies the soft Bellman equation of its policy", () => {
  // V = Σ_a π (Q − τ log π) with Q = R + γPV. The solve's residual r = b − (I−γP_π)V̂ is bounded as
  // in the linear-solve test; ‖V̂ − V‖∞ ≤ ‖(I−γP_π)^{-1}‖∞ ‖r‖∞ ≤ ‖r‖∞/(1−γ). Q̂ = backup(V̂) adds
  // γ‖V̂ − V‖ plus its own rounding γ_{S+2}(|R| + γ‖V̂‖). Recomputing V from Q̂ (below) moves it by at
  // most ‖Q̂ − Q‖ plus γ_{A+2}-sized rounding, so the equation's residual is at most twice the
  // propagated error plus these roundings.
  fc.assert(
    fc.property(smallMdp, fc.nat(1000), fc.double({ min: 0, max: 2, noNaN: true }), (mdp, seed, tau) => {
      const { states: S, actions: A } = mdp;
      const policy = randomPolicy(mdp, seed);
      const v = softStateValues(mdp, policy, tau);
      const q = softPolicyEvaluation(mdp, policy, tau);
      const fromQ = new Float64Array(S);
      for (let s = 0; s < S; s++) {
        for (let a = 0; a < A; a++) fromQ[s] += policy[s * A + a] * q[s * A + a];
        fromQ[s] += tau * rowEntropy(policy, s * A, A);
      }
      const a = evaluationMatrix(mdp, policy);
      const rhsSize = maxAbs(mdp.R) + tau * Math.log(Math.max(A, 1));
      const solveResidual = gammaN(3 * S) * 2 * S * rowNorm(a, S) * maxAbs(v) + gammaN(S + A + 2) * (rowNorm(a, S) * maxAbs(v) + rhsSize);
      const valueError = solveResidual / (1 - mdp.gamma);
      const rounding = gammaN(S + A + 4) * (maxAbs(mdp.R) + maxAbs(v) + maxAbs(q) + rhsSize);
      const bound = 2 * (valueError + rounding);
      assert.ok(maxAbsDifference(fromQ, v) <= bound, `‖V(Q) − V‖ = ${maxAbsDifference(fromQ, v)} > ${bound}`);
    }),
    { numRuns: 200 },
  );
});

test("soft optimum: value iteration's bound is honest, policy iteration agrees, Q* dominates every Q^π", () => {
  fc.assert(
    fc.property(smallMdp, fc.double({ min: 0.05, max: 2, noNaN: true }), fc.nat(1000), (mdp, tau, seed) => {
      const vi = softValueIteration(mdp, { tau, tolerance: 1e-9 });
      const best = softOptimum(mdp, { tau });
      // Both carry a proven bound on their distance to Q* (rounding included), so they are within
      // the sum of the two; the bounds reach the tolerances asked for unless rounding stops them.
      assert.ok(vi.errorBound <= 1e-9 && best.errorBound <= 1e-10, `bounds ${vi.errorBound}, ${best.errorBound}`);
      assert.ok(
        maxAbsDifference(vi.q, best.q) <= vi.errorBound + best.errorBound,
        `${maxAbsDifference(vi.q, best.q)} > ${vi.errorBound} + ${best.errorBound}`,
      );
      // The fixed point: T Q* = Q* within (1+γ)·bound (T is a γ-contraction) plus one backup's rounding.
      const residual = maxAbsDifference(softBellman(mdp, best.q, tau), best.q);
      assert.ok(residual <= (1 + mdp.gamma) * best.errorBound + gammaN(mdp.states + mdp.actions + 4) * 4 * Math.max(1, maxAbs(best.q)));
      // π* is the softmax of Q*/τ, and Q^π ≤ Q* for any π (here a random one). The evaluated Q^π
      // carries the evaluation error bounded in the test above; 1e-9·max(1, ‖Q‖) covers it with room
      // (that bound is below 1e-12·‖Q‖ for these sizes).
      assert.ok(maxAbsDifference(best.policy, softmaxPolicy(best.q, mdp.states, mdp.actions, tau)) === 0);
      const other = softPolicyEvaluation(mdp, randomPolicy(mdp, seed), tau);
      const slack = best.errorBound + 1e-9 * Math.max(1, maxAbs(best.q));
      for (let i = 0; i < other.length; i++) assert.ok(other[i] <= best.q[i] + slack, `Q^π(${i}) = ${other[i]} > Q*(${i}) = ${best.q[i]}`);
      // Soft policy iteration alone lands on the same point.
      const spi = softPolicyIteration(mdp, { tau });
      assert.ok(maxAbsDifference(spi.q, best.q) <= slack);
    }),
    { numRuns: 100 },
  );
});
