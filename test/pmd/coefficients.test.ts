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

test("a wrong type is named in the message, not printed like the number it spells", () => {
  // `${}` printed "1" and 1 alike: "tau must be a finite number > 0; got 1".
  const step = (options: Record<string, unknown>) => () =>
    pmdStep(new Float64Array(0), { eta: 1, tau: 1, memory: 3, ...options } as unknown as Parameters<typeof pmdStep>[1]);
  assert.throws(step({ tau: "1" }), /^StaqInputError: tau must be a finite number > 0; got the string "1"$/);
  assert.throws(step({ eta: "2" }), /^StaqInputError: eta must be a finite number >= 0; got the string "2"$/);
  assert.throws(step({ memory: "3" }), /memory must be an integer >= 1 \(or Infinity for exact PMD\); got the string "3"$/);
  assert.throws(step({ tau: undefined }), /tau must be a finite number > 0; got undefined$/);
  assert.throws(step({ tau: NaN }), /tau must be a finite number > 0; got NaN$/);
  assert.throws(
    () => pmdStep([1, "2"] as unknown as Float64Array, { eta: 1, tau: 1, memory: 3 }),
    /coefficient 1 is the string "2"; coefficients must be finite numbers/,
  );
});

test("alpha = 1/(eta + tau) past float64 is refused: eta + tau below about 5.6e-309", () => {
  // 1/1e-320 is Infinity: the new coefficient would be ∞ and the logits ∞ or NaN.
  assert.throws(
    () => pmdStep(new Float64Array(0), { eta: 0, tau: 1e-320, memory: 3 }),
    (error: Error) =>
      error instanceof StaqInputError &&
      /^eta \+ tau = 1e-320 is too small: the step's weight alpha = 1\/\(eta \+ tau\) overflows float64/.test(error.message),
  );
  // 2^-1023 (1.1e-308) is still fine: α = 2^1023, the largest power of two in float64.
  assert.equal(pmdStep(new Float64Array(0), { eta: 0, tau: 2 ** -1023, memory: 3 }).coefficients[0], 2 ** 1023);
  // A tiny τ with η = 1 is fine too: α = β = 1 in float64.
  assert.deepEqual([...pmdStep(Float64Array.of(1), { eta: 1, tau: 1e-320, memory: 3 }).coefficients], [1, 1]);
});

// The StaQ authors' stack rule (docs/algorithm.md, "The authors' stack rule"): M + 1 snapshots
// kept, and the latest step's α on every one of them: c_i = α_k · Π_{j>i} β_j.

test("authors' rule, constant τ (η = 3, τ = 1, M = 2): three snapshots kept where the exact rule keeps two", () => {
  // α = 1/4, β = 3/4. Step 3 keeps [α β², α β, α] = [9/64, 3/16, 1/4]; the correction is the
  // same 1/(1 − β^M) = 16/7, so the weights sum to (16/7)(1/4)(1 + 3/4 + 9/16) = 37/28 > 1/τ.
  const exact = pmdCoefficients([1, 1, 1], { eta: 3, memory: 2 });
  const authors = pmdCoefficients([1, 1, 1], { eta: 3, memory: 2, rule: "authors" });
  assert.deepEqual([...exact.coefficients], [3 / 16, 1 / 4]);
  assert.deepEqual([...authors.coefficients], [9 / 64, 3 / 16, 1 / 4]);
  close(authors.correction, 16 / 7);
  close(authors.correction * authors.coefficients.reduce((a, b) => a + b, 0), 37 / 28);
  // A fourth step drops Q^1 only then: still three.
  assert.deepEqual([...pmdCoefficients([1, 1, 1, 1], { eta: 3, memory: 2, rule: "authors" }).coefficients], [9 / 64, 3 / 16, 1 / 4]);
});

test("authors' rule while τ anneals (η = 1, τ = 1, 1/2, 1/4, M = 2): every snapshot takes the current α", () => {
  // τ = 1: α = β = 1/2. τ = 1/2: α = β = 2/3. τ = 1/4: α = β = 4/5.
  // Exact: each snapshot keeps the α of its own step: [α₂ β₃, α₃] = [8/15, 4/5].
  const exact = pmdCoefficients([1, 0.5, 0.25], { eta: 1, memory: 2 });
  close(exact.coefficients[0], 8 / 15);
  close(exact.coefficients[1], 4 / 5);
  // Authors: α₃ on all three, with the β-products since each push: [α₃ β₂ β₃, α₃ β₃, α₃] = [32/75, 16/25, 4/5].
  const authors = pmdCoefficients([1, 0.5, 0.25], { eta: 1, memory: 2, rule: "authors" });
  assert.equal(authors.coefficients.length, 3);
  close(authors.coefficients[0], 32 / 75);
  close(authors.coefficients[1], 16 / 25);
  close(authors.coefficients[2], 4 / 5);
  // Both use the latest β for the correction: 1/(1 − (4/5)²) = 25/9.
  close(exact.correction, 25 / 9);
  close(authors.correction, 25 / 9);
  // After the second step (M = 1 would keep two under the authors' rule): [α₂ β₂, α₂] = [4/9, 2/3].
  const two = pmdCoefficients([1, 0.5], { eta: 1, memory: 1, rule: "authors" });
  close(two.coefficients[0], 4 / 9);
  close(two.coefficients[1], 2 / 3);
  assert.deepEqual([...pmdCoefficients([1, 0.5], { eta: 1, memory: 1 }).coefficients], [2 / 3]);
});

test("property: under the authors' rule c_i = α_k · Π_{j>i} β_j over the last M + 1 steps, for any τ schedule", () => {
  // The recursion (scale by β_k α_k / α_{k−1}, append α_k) against the definition, a product
  // computed afresh for each i. Both use the same float64 α's and β's (pmdRates), and with those the
  // recursion's factors telescope to exactly the definition's product, so only the operations round:
  // per step the recursion rounds fl(β·α), the division by α_{k−1} and the product with c (3 roundings
  // of relative 2^-53), the definition one product per step. Hence 4(k + 2)·2^-53 relative.
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 50, noNaN: true }),
      fc.array(fc.double({ min: 0.01, max: 10, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 12 }),
      (eta, taus, memory) => {
        const { coefficients } = pmdCoefficients(taus, { eta, memory, rule: "authors" });
        const k = taus.length;
        const kept = Math.min(k, memory + 1);
        assert.equal(coefficients.length, kept);
        const alphaNow = pmdRates(eta, taus[k - 1]).alpha;
        for (let i = 0; i < kept; i++) {
          // Coefficient i belongs to the snapshot of step s = k − kept + i (0-based); the steps after it multiply by their β.
          let expected = alphaNow;
          for (let j = k - kept + i + 1; j < k; j++) expected *= pmdRates(eta, taus[j]).beta;
          close(coefficients[i], expected, 4 * (k + 2) * 2 ** -53);
        }
      },
    ),
  );
});

test("an unknown stack rule is refused", () => {
  assert.throws(
    () => pmdStep(Float64Array.from([1]), { eta: 1, tau: 1, memory: 2, rule: "paper" as "exact" }),
    /rule must be "exact" or "authors"; got "paper"/,
  );
});
