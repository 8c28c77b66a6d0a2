// softmaxPolicy computes exp((x − m)/T) with m the row's largest logit, not exp(x/T − m/T): the
// two are equal in exact arithmetic (max(x/T) = m/T for T > 0), but x/T overflows for finite x
// and a small T, and ∞ − ∞ made the policy NaN ("policy(0|0) is NaN" from `staq tabular --tau 1e-320`).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { softmaxPolicy } from "../../src/tabular/policy-math.ts";

const softmax = (logits: number[], temperature?: number) => [...softmaxPolicy(Float64Array.from(logits), 1, logits.length, temperature)];

/** The formula before the change, for comparison. */
function oldSoftmax(logits: Float64Array, temperature: number): Float64Array {
  const policy = new Float64Array(logits.length);
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x / temperature);
  let sum = 0;
  for (let a = 0; a < logits.length; a++) sum += policy[a] = Math.exp(logits[a] / temperature - max);
  for (let a = 0; a < logits.length; a++) policy[a] /= sum;
  return policy;
}

const close = (actual: number[], expected: number[], tolerance: number) =>
  actual.forEach((p, a) => assert.ok(Math.abs(p - expected[a]) <= tolerance, `${actual} vs ${expected}`));

test("hand-computed values: exp(ln 3) = 3 against exp(0) = 1 gives 1/4, 3/4 at any temperature", () => {
  // [0, ln 3] at T = 1 and [0, ln(3)/2] at T = 1/2: both exponents are [−ln 3, 0] after the max.
  close(softmax([0, Math.log(3)]), [0.25, 0.75], 4 * 2 ** -53);
  close(softmax([0, Math.log(3) / 2], 0.5), [0.25, 0.75], 4 * 2 ** -53);
  // Shifting every logit changes nothing: [10, 10 + 2 ln 3] at T = 2.
  close(softmax([10, 10 + 2 * Math.log(3)], 2), [0.25, 0.75], 16 * 2 ** -53);
  // Three actions, T = 0.1: exponents (x − 1)/0.1 = [0, −ln 2, −ln 4] → weights 1, 1/2, 1/4 of 7/4.
  close(softmax([1, 1 - 0.1 * Math.log(2), 1 - 0.1 * Math.log(4)], 0.1), [4 / 7, 2 / 7, 1 / 7], 16 * 2 ** -53);
});

test("finite logits never give NaN: tiny temperatures and logits near float64's end", () => {
  // x/T overflowed: 1/1e-320 and 0.5/1e-320 are both Infinity (∞ − ∞ = NaN before).
  assert.deepEqual(softmax([1, 0.5], 1e-320), [1, 0]);
  assert.ok(oldSoftmax(Float64Array.of(1, 0.5), 1e-320).some(Number.isNaN));
  // Q = 1e307 at T = 0.01: 1e309 overflowed the same way.
  assert.deepEqual(softmax([1e307, 0], 0.01), [1, 0]);
  assert.deepEqual(softmax([0, 1e307, 1e307], 0.01), [0, 0.5, 0.5]);
  // x − m overflows (2e308 apart): the true exponent −2e308/T is still −∞ in float64 at T ≤ 1 …
  assert.deepEqual(softmax([1e308, -1e308], 1), [1, 0]);
  // … but at T = 1e307 it is −20: recomputed as x/T − m/T = −10 − 10, so p = [1, e^−20]/(1 + e^−20).
  const e20 = Math.exp(-20);
  close(softmax([-1e308, 1e308], 1e307), [e20 / (1 + e20), 1 / (1 + e20)], 8 * 2 ** -53);
  // T = Infinity: every exponent is 0 (−∞/∞ would be NaN), the uniform policy.
  assert.deepEqual(softmax([-1e308, 1e308], Infinity), [0.5, 0.5]);
  // −Infinity is an action never taken.
  assert.deepEqual(softmax([-Infinity, 0, 0], 0.5), [0, 0.5, 0.5]);
});

test("NaN or +Infinity logits, a row of −Infinity, a bad temperature: StaqInputError naming the problem", () => {
  const refused = (logits: number[], pattern: RegExp, temperature?: number) =>
    assert.throws(
      () => softmax(logits, temperature),
      (error: Error) => error instanceof StaqInputError && pattern.test(error.message),
    );
  refused([0, NaN], /^logit \(0, 1\) is NaN; a softmax needs finite logits/);
  refused([Infinity, 0], /^logit \(0, 0\) is Infinity/);
  refused([-Infinity, -Infinity], /^every logit of state 0 is −Infinity/);
  refused([0, 1], /the softmax temperature must be a number > 0; got 0$/, 0);
  refused([0, 1], /the softmax temperature must be a number > 0; got the string "1"$/, "1" as unknown as number);
});

test("at T = 1 (every PMD iterate) the result is bit for bit the old formula's", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1e300, max: 1e300, noNaN: true }), { minLength: 1, maxLength: 8 }), (logits) => {
      const x = Float64Array.from(logits);
      assert.deepEqual(softmaxPolicy(x, 1, x.length, 1), oldSoftmax(x, 1));
    }),
  );
});

test("at other temperatures it agrees with the old formula within the rounding of the exponents", () => {
  // Old exponent fl(fl(x/T) − fl(m/T)), new fl(fl(x − m)/T): each within 2^-53 (|x| + |m|)/T + 2^-53|d|
  // (old) or 2^-52|d| (new) of d = (x − m)/T, so they differ by δ ≤ 2^-51 · (|x| + |m|)/T at most.
  // p_a = e^{d_a}/Σ e^{d_b} then changes by a relative 2δ_max, plus a few roundings of exp, the
  // sum over A ≤ 8 actions and the division (≤ 16 · 2^-53). Probabilities below 1e-300 are
  // compared absolutely (their relative error grows as they become subnormal).
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 8 }),
      fc.double({ min: 0.05, max: 20, noNaN: true }),
      (logits, temperature) => {
        const x = Float64Array.from(logits);
        const fresh = softmaxPolicy(x, 1, x.length, temperature);
        const old = oldSoftmax(x, temperature);
        const m = Math.max(...logits);
        const delta = Math.max(...logits.map((v) => 2 ** -51 * ((Math.abs(v) + Math.abs(m)) / temperature)));
        const relative = 2 * delta + 16 * 2 ** -53;
        fresh.forEach((p, a) => assert.ok(Math.abs(p - old[a]) <= relative * old[a] + 1e-300, `${p} vs ${old[a]}`));
      },
    ),
  );
});
