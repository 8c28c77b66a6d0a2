// meanKl sums Σ_a [p log(p/q) − p + q], every term of which is ≥ 0, instead of Σ_a p log(p/q),
// whose terms have both signs: for two nearly equal policies the old sum's rounding was negative
// (`staq tabular` printed a KL of −3e-17 between consecutive iterates).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { meanKl, softmaxPolicy } from "../../src/tabular/policy-math.ts";

const kl = (p: number[], q: number[], states = 1) => meanKl(Float64Array.from(p), Float64Array.from(q), states, p.length / states);

test("hand-computed values", () => {
  // KL((1/2, 1/2) ‖ (1/4, 3/4)) = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3).
  assert.ok(Math.abs(kl([0.5, 0.5], [0.25, 0.75]) - 0.5 * Math.log(4 / 3)) < 1e-15);
  // A zero in p contributes nothing: KL((1, 0) ‖ (1/2, 1/2)) = ln 2.
  assert.ok(Math.abs(kl([1, 0], [0.5, 0.5]) - Math.LN2) < 1e-15);
  // Mean over states: state 0 as above, state 1 identical policies (0).
  assert.ok(Math.abs(kl([1, 0, 0.3, 0.7], [0.5, 0.5, 0.3, 0.7], 2) - Math.LN2 / 2) < 1e-15);
  // q = 0 < p: infinite; p = q: exactly 0.
  assert.equal(kl([0.5, 0.5], [1, 0]), Infinity);
  assert.equal(kl([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
});

test("two softmax policies of nearly equal logits never have a negative KL", () => {
  // Adding one constant to every logit leaves a softmax unchanged, so p and q are the same policy
  // and their true KL is 0: what the sum holds is rounding. It cannot be negative, since every
  // summed term is clamped at ≥ 0, and 1e-15 bounds it above (each term's rounding is ~1e-16).
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 6 }),
      fc.double({ min: -2, max: 2, noNaN: true }),
      (logits, shift) => {
        const p = softmaxPolicy(Float64Array.from(logits), 1, logits.length);
        const q = softmaxPolicy(
          Float64Array.from(logits, (x) => x + shift + 1e-13),
          1,
          logits.length,
        );
        const value = meanKl(p, q, 1, logits.length);
        return value >= 0 && value < 1e-15;
      },
    ),
    { numRuns: 2000 },
  );
});
