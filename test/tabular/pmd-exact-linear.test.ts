// Exact PMD in linear time (break-test: `staq tabular --variant exact --iterations 80000` took 122 s,
// K = 1e6 never ended): tabularPmd called pmdStep with memory Infinity every iteration, copying a
// coefficient array one longer each time, O(K²). The logits use the recursion ξ ← βξ + αQ, so only
// the reported coefficients need all K, and `exactCoefficients` forms them once, in O(K).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { pmdCoefficients } from "../../src/pmd/coefficients.ts";
import { createMdp } from "../../src/tabular/mdp.ts";
import { exactCoefficients, tabularPmd } from "../../src/tabular/pmd.ts";

const U = Number.EPSILON / 2;
const gammaN = (n: number) => (n * U) / (1 - n * U);

/** The break-tester's m2.json: 2 states, 2 actions, γ = 0.9. */
const m2 = createMdp({ states: 2, actions: 2, P: [0.5, 0.5, 1, 0, 0, 1, 0.2, 0.8], R: [0, 1, 2, -1], gamma: 0.9 });

test("100000 iterations of exact PMD take seconds (they took minutes: 40000 took 31 s, growing as K²)", { timeout: 20_000 }, () => {
  // Linear: about 6 µs an iteration here, so 0.6 s; the old O(K²) code needed about 190 s for this K,
  // so the 20 s timeout fails it by a factor of ten either way.
  const K = 100_000;
  const run = tabularPmd(m2, { variant: "exact", eta: 2, tau: 0.3, iterations: K });
  assert.equal(run.errors.length, K);
  assert.equal(run.coefficients.coefficients.length, K);
  assert.equal(run.coefficients.correction, 1);
});

test("with a constant tau the coefficients are bit for bit pmdStep's (the old code's), for K = 1..80", () => {
  // Same multiplications in the same order (see exactCoefficients): equality, not a tolerance.
  for (const [eta, tau] of [
    [2, 0.3],
    [0.5, 0.5],
    [1e-3, 7],
    [0, 0.1],
    [1e6, 1e-3],
  ]) {
    for (let K = 1; K <= 80; K++) {
      const expected = pmdCoefficients(Array(K).fill(tau), { eta, memory: Infinity }).coefficients;
      assert.deepEqual(Array.from(exactCoefficients(eta, Array(K).fill(tau))), Array.from(expected), `eta ${eta}, tau ${tau}, K ${K}`);
    }
  }
  // And tabularPmd reports them: the old result, unchanged.
  const run = tabularPmd(m2, { variant: "exact", eta: 2, tau: 0.3, iterations: 50 });
  assert.deepEqual(
    Array.from(run.coefficients.coefficients),
    Array.from(pmdCoefficients(Array(50).fill(0.3), { eta: 2, memory: Infinity }).coefficients),
  );
});

test("with a tau schedule they agree with pmdStep's within a relative 2γ_{K−1−i}", () => {
  // Both are α_i Π_{j>i} β_j formed with K−1−i roundings (in different orders), each within
  // γ_{K−1−i} relative of the exact product, hence within 2γ_{K−1−i} of each other. β ≥ 0.05 and
  // K ≤ 40 keep every product above 0.05^39 ≈ 2e-51, far from subnormal, where the bound would not hold.
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.01, max: 10, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      (taus, eta) => {
        fc.pre(taus.every((tau) => eta / (eta + tau) >= 0.05));
        const ours = exactCoefficients(eta, taus);
        const theirs = pmdCoefficients(taus, { eta, memory: Infinity }).coefficients;
        const K = taus.length;
        for (let i = 0; i < K; i++) {
          const bound = 2 * gammaN(K - 1 - i) * theirs[i];
          assert.ok(Math.abs(ours[i] - theirs[i]) <= bound, `c_${i}: ${ours[i]} vs ${theirs[i]} (bound ${bound})`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
