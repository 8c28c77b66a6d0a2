import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { pmdCoefficients, pmdRates, pmdStep } from "../../src/pmd/coefficients.ts";
import { StaqInputError } from "../../src/errors.ts";

const close = (actual: number, expected: number, relative = 1e-14) =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} vs ${expected}`);

test("rates: η = 3, τ = 1 gives α = 1/4, β = 3/4", () => {
  assert.deepEqual(pmdRates(3, 1), { alpha: 0.25, beta: 0.75 });
});

test("hand-computed vanilla and corrected coefficients, η = 3, τ = 1, M = 2", () => {
  // Step 1: c = [α] = [1/4]. Step 2: [α β, α] = [3/16, 1/4]. Step 3 drops the oldest:
  // [α β², α β, α] → keep the last 2 = [3/16, 1/4] again (the ring has forgotten Q^0).
  const vanilla = pmdCoefficients([1, 1, 1], { eta: 3, memory: 2, variant: "vanilla" });
  assert.deepEqual([...vanilla.coefficients], [3 / 16, 1 / 4]);
  assert.equal(vanilla.correction, 1);
  // Corrected: 1 / (1 − β^M) = 1 / (1 − 9/16) = 16/7, so the weights sum to (7/16)(16/7)/τ = 1/τ.
  const corrected = pmdCoefficients([1, 1, 1], { eta: 3, memory: 2, variant: "corrected" });
  assert.deepEqual([...corrected.coefficients], [3 / 16, 1 / 4]);
  close(corrected.correction, 16 / 7);
});

test("before the stack is full the corrected variant uses the same 1/(1 − β^M)", () => {
  const { coefficients, correction } = pmdCoefficients([1], { eta: 3, memory: 4 });
  assert.deepEqual([...coefficients], [0.25]);
  close(correction, 1 / (1 - 0.75 ** 4));
  // "sum" normalisation instead makes the sum exactly 1/τ at every step.
  const sum = pmdCoefficients([2], { eta: 3, memory: 4, normalization: "sum" });
  close(sum.correction * sum.coefficients[0], 1 / 2);
});

test("τ may change between steps: each push multiplies by that step's β and appends its α", () => {
  const { coefficients } = pmdCoefficients([1, 3], { eta: 1, memory: 5 });
  // Step 1 (τ=1): α=1/2. Step 2 (τ=3): β=1/4, α=1/4 → [1/2 · 1/4, 1/4].
  assert.deepEqual([...coefficients], [1 / 8, 1 / 4]);
});

test("exact PMD (memory = Infinity) keeps every coefficient and sums to (1 − β^k)/τ", () => {
  const { coefficients, correction } = pmdCoefficients(Array(50).fill(0.5), { eta: 2, memory: Infinity });
  assert.equal(coefficients.length, 50);
  assert.equal(correction, 1);
  const beta = 2 / 2.5;
  close(
    coefficients.reduce((a, b) => a + b, 0),
    (1 - beta ** 50) / 0.5,
    1e-12,
  );
});

test("property: once full, corrected weights sum to exactly 1/τ (constant τ)", () => {
  // Σ_{i<M} α β^i = α (1 − β^M)/(1 − β) = (1 − β^M)/τ, since α/(1 − β) = 1/τ; times 1/(1 − β^M)
  // it is 1/τ. In float64 (unit roundoff 2^-53): the M products and M − 1 additions of positive
  // terms are within (2M + 2)·2^-53 relative; 1 − β^M loses a factor 1/(1 − β^M) of relative
  // accuracy to cancellation (β^M carries about M + 2 roundings). Hence the tolerance below.
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 100, noNaN: true }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 0, max: 30 }),
      (eta, tau, memory, extra) => {
        const { coefficients, correction } = pmdCoefficients(Array(memory + extra).fill(tau), { eta, memory });
        assert.equal(coefficients.length, memory);
        const sum = coefficients.reduce((a, b) => a + b, 0) * correction;
        const betaM = pmdRates(eta, tau).beta ** memory;
        const tolerance = (2 * memory + 8) * 2 ** -53 * (1 + ((memory + 2) * betaM) / (1 - betaM));
        close(sum, 1 / tau, tolerance);
      },
    ),
  );
});

test("property: vanilla weights sum to (1 − β^M)/τ once full; the last coefficient is α", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 100, noNaN: true }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      fc.integer({ min: 1, max: 300 }),
      (eta, tau, memory) => {
        const { coefficients, correction } = pmdCoefficients(Array(memory).fill(tau), { eta, memory, variant: "vanilla" });
        const { alpha, beta } = pmdRates(eta, tau);
        assert.equal(correction, 1);
        assert.equal(coefficients[memory - 1], alpha);
        // Same rounding analysis as above, for both sides of the identity.
        const tolerance = (2 * memory + 8) * 2 ** -53 * (1 + ((memory + 2) * beta ** memory) / (1 - beta ** memory));
        close(
          coefficients.reduce((a, b) => a + b, 0),
          (1 - beta ** memory) / tau,
          2 * tolerance,
        );
      },
    ),
  );
});

test("pmdStep is pure and validates its options", () => {
  const c = Float64Array.from([1, 2]);
  pmdStep(c, { eta: 1, tau: 1, memory: 3 });
  assert.deepEqual([...c], [1, 2]);
  assert.throws(() => pmdStep(c, { eta: -1, tau: 1, memory: 3 }), StaqInputError);
  assert.throws(() => pmdStep(c, { eta: 1, tau: 0, memory: 3 }), /tau must be a finite number > 0/);
  assert.throws(() => pmdStep(c, { eta: 1, tau: 1, memory: 0 }), /memory must be an integer >= 1/);
  assert.throws(() => pmdStep(c, { eta: 1, tau: 1, memory: 2, variant: "other" as "vanilla" }), /variant/);
  assert.throws(() => pmdStep(Float64Array.from([NaN]), { eta: 1, tau: 1, memory: 2 }), /coefficient 0 is NaN/);
});
