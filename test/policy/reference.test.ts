import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import {
  policyErrorBounds,
  policyReference,
  sampledActionRange,
  sampleFromCdf,
  validateLogits,
  type BehaviourKind,
} from "../../src/policy/reference.ts";

// Hand-computed values are compared with a bound of a few float64 roundings (2^-50 relative),
// except where the float32 rounding of an input moves the exact answer; those say by how much.
const close = (actual: number, expected: number, bound: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= bound, `${what}: ${actual} vs ${expected} (bound ${bound})`);
const F64 = (x: number) => 2 ** -50 * Math.max(1, Math.abs(x));

test("logits [0, ln 3] give p = [1/4, 3/4] and the matching entropy and ε-softmax", () => {
  const logits = new Float32Array([0, Math.log(3)]);
  // The float32 logit differs from ln 3 by at most half an ULP (2^-24 at 1.0986); ∂p/∂l = p(1 − p) ≤ 1/4,
  // |∂logp/∂l| ≤ 1 and ∂H/∂l = −l·p(1 − p), at most ln 3 / 4 in size, so these bounds hold.
  const shift = Math.abs(logits[1] - Math.log(3));
  const ref = policyReference(logits, 2, 0.2);
  close(ref.probs[0], 1 / 4, shift / 4 + F64(1), "p0");
  close(ref.probs[1], 3 / 4, shift / 4 + F64(1), "p1");
  close(ref.logProbs[0], -Math.log(4), shift + F64(2), "logp0");
  close(ref.logProbs[1], Math.log(3 / 4), shift + F64(1), "logp1");
  close(ref.entropy[0], Math.log(4) - 0.75 * Math.log(3), (shift * Math.log(3)) / 4 + F64(1), "entropy");
  // (1 − 0.2)·[1/4, 3/4] + 0.2/2 = [0.3, 0.7]
  close(ref.behaviour[0], 0.3, (0.8 * shift) / 4 + F64(1), "b0");
  close(ref.behaviour[1], 0.7, (0.8 * shift) / 4 + F64(1), "b1");
  assert.equal(ref.greedy[0], 1);
  close(ref.cdf[0], 0.3, (0.8 * shift) / 4 + F64(1), "cdf0");
  close(ref.cdf[1], 1, F64(1), "cdf1");
});

test("equal logits give the uniform policy, entropy ln A, and the lowest index as greedy", () => {
  for (const actions of [1, 2, 7, 64]) {
    const ref = policyReference(new Float32Array(actions).fill(-3.5), actions, 0.3);
    for (let a = 0; a < actions; a++) {
      close(ref.probs[a], 1 / actions, F64(1), `p${a}`);
      close(ref.logProbs[a], -Math.log(actions), F64(Math.log(actions)), `logp${a}`);
      close(ref.behaviour[a], 1 / actions, F64(1), `b${a}`);
    }
    close(ref.entropy[0], Math.log(actions), actions * F64(Math.log(actions)), "entropy");
    assert.equal(ref.greedy[0], 0);
  }
});

test("ε = 1 gives the uniform behaviour and ε = 0 the softmax", () => {
  const logits = new Float32Array([2, -1, 0.5, 4]);
  const uniform = policyReference(logits, 4, 1);
  const softmax = policyReference(logits, 4, 0);
  for (let a = 0; a < 4; a++) {
    assert.equal(uniform.behaviour[a], 0.25);
    assert.equal(softmax.behaviour[a], softmax.probs[a]);
  }
});

test("ε-greedy: logits [0, 2, 1], ε = 0.3 give behaviour [0.1, 0.8, 0.1] and CDF [0.1, 0.9, 1]; the rest is the softmax's", () => {
  const logits = new Float32Array([0, 2, 1]);
  const greedy = policyReference(logits, 3, 0.3, "greedy");
  const softmax = policyReference(logits, 3, 0.3);
  [0.1, 0.8, 0.1].forEach((b, a) => close(greedy.behaviour[a], b, F64(1), `b${a}`));
  [0.1, 0.9, 1].forEach((c, a) => close(greedy.cdf[a], c, F64(1), `cdf${a}`));
  assert.equal(greedy.greedy[0], 1);
  assert.deepEqual(greedy.probs, softmax.probs);
  assert.deepEqual(greedy.logProbs, softmax.logProbs);
  assert.deepEqual(greedy.entropy, softmax.entropy);
  assert.deepEqual(greedy.greedy, softmax.greedy);
  // The draw: u below 0.1 takes action 0, up to 0.9 the argmax, above it action 2.
  assert.equal(sampleFromCdf(greedy.cdf, 0, 3, 0.05), 0);
  assert.equal(sampleFromCdf(greedy.cdf, 0, 3, 0.5), 1);
  assert.equal(sampleFromCdf(greedy.cdf, 0, 3, 0.95), 2);
});

test("ε-greedy: ties go to the lowest index; ε = 0 is one-hot, ε = 1 uniform", () => {
  const ref = policyReference(new Float32Array([1, 3, 3, 2, -0, 0, 0, -1]), 4, 0, "greedy");
  assert.deepEqual(Array.from(ref.behaviour), [0, 1, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(ref.cdf), [0, 1, 1, 1, 1, 1, 1, 1]);
  for (const u of [0, 0.5, 1 - 2 ** -24]) {
    assert.equal(sampleFromCdf(ref.cdf, 0, 4, u), 1);
    assert.equal(sampleFromCdf(ref.cdf, 4, 4, u), 0);
  }
  const uniform = policyReference(new Float32Array([2, -1, 0.5, 4]), 4, 1, "greedy");
  for (let a = 0; a < 4; a++) assert.equal(uniform.behaviour[a], 0.25);
  // The ε-greedy bounds: the weights are exact, so only k̂, ŝ and two roundings remain.
  const bounds = policyErrorBounds(new Float32Array([0, 2, 1]), 3, 0.3, "greedy");
  for (const value of bounds.behaviour) assert.ok(value > 0 && value < 2 ** -22, `behaviour bound ${value}`);
  assert.ok(bounds.cdf[0] > 0 && bounds.cdf[0] < 2 ** -20, `cdf bound ${bounds.cdf[0]}`);
});

test("a spread of ±80 gives a probability of e^-160 and log-probability −160", () => {
  const ref = policyReference(new Float32Array([-80, 80]), 2, 0);
  close(ref.probs[0], Math.exp(-160), Math.exp(-160) * 2 ** -50, "p0");
  assert.equal(ref.probs[1], 1);
  close(ref.logProbs[0], -160, F64(160), "logp0");
  // −log(1 + e^-160) = −3.3e-70; float64 rounds 1 + e^-160 to 1, so the reference gives 0.
  close(ref.logProbs[1], -Math.exp(-160), F64(1), "logp1");
  assert.equal(ref.greedy[0], 1);
});

test("greedy: ties go to the lowest index, −0 ties with +0, subnormals count", () => {
  const greedy = (values: number[]) => policyReference(new Float32Array(values), values.length, 0).greedy[0];
  assert.equal(greedy([1, 3, 3, 2]), 1);
  assert.equal(greedy([-0, 0]), 0);
  assert.equal(greedy([0, -0]), 0);
  assert.equal(greedy([-1, -0, 0]), 1);
  assert.equal(greedy([0, 1e-40]), 1);
  assert.equal(greedy([-1e-40, -0]), 1);
});

test("rows are computed independently", () => {
  const one = policyReference(new Float32Array([1, 2, 3]), 3, 0.1);
  const two = policyReference(new Float32Array([9, -9, 0, 1, 2, 3]), 3, 0.1);
  assert.deepEqual(two.probs.subarray(3), one.probs);
  assert.deepEqual(two.logProbs.subarray(3), one.logProbs);
  assert.equal(two.entropy[1], one.entropy[0]);
  assert.equal(two.greedy[1], one.greedy[0]);
});

test("inverse-CDF sampling: the first action with u < C_a; the accepted range widens by δ at boundaries", () => {
  const cdf = new Float64Array([0.3, 0.3, 1]); // action 1 has probability 0
  assert.equal(sampleFromCdf(cdf, 0, 3, 0), 0);
  assert.equal(sampleFromCdf(cdf, 0, 3, 0.2999), 0);
  assert.equal(sampleFromCdf(cdf, 0, 3, 0.3), 2);
  assert.deepEqual(sampledActionRange(cdf, 0, 3, 1e-6, 0.5), { lowest: 2, highest: 2 });
  assert.deepEqual(sampledActionRange(cdf, 0, 3, 1e-6, 0.1), { lowest: 0, highest: 0 });
  // Within δ of the boundary at 0.3, the neighbours (and the empty action between them) qualify.
  assert.deepEqual(sampledActionRange(cdf, 0, 3, 1e-6, 0.3 - 5e-7), { lowest: 0, highest: 2 });
  assert.deepEqual(sampledActionRange(cdf, 0, 3, 1e-6, 0.3 + 5e-7), { lowest: 0, highest: 2 });
  assert.deepEqual(sampledActionRange(cdf, 0, 3, 1e-6, 0.3 + 2e-6), { lowest: 2, highest: 2 });
  assert.deepEqual(sampledActionRange(new Float64Array([0.5, 1]), 0, 2, 1e-6, 0.5 - 5e-7), { lowest: 0, highest: 1 });
});

test("bad inputs are rejected with a message saying what was wrong", () => {
  const bad = (logits: Float32Array, actions: number, message: RegExp) =>
    assert.throws(
      () => validateLogits(logits, actions),
      (error: unknown) => error instanceof StaqInputError && message.test(error.message),
    );
  bad(new Float32Array([0, NaN]), 2, /logits\[0\]\[1\] is NaN.*finite/);
  bad(new Float32Array([0, 1, Infinity, 0]), 2, /logits\[1\]\[0\] is Infinity/);
  bad(new Float32Array(5), 2, /5 values.*rows of 2 actions/);
  bad(new Float32Array(0), 2, /0 values/);
  bad(new Float32Array(4), 0, /actions must be an integer from 1 to 64; got 0/);
  bad(new Float32Array(65), 65, /got 65/);
  bad(new Float32Array(4), 1.5, /got 1.5/);
  bad(new Float32Array([-3e38, 3e38]), 2, /row 0 spans .* overflows float32/);
  assert.throws(() => validateLogits([0, 1] as unknown as Float32Array, 2), /must be a Float32Array/);
  assert.throws(
    () => policyReference(new Float32Array(2), 2, 0.1, "boltzmann" as BehaviourKind),
    (error: unknown) =>
      error instanceof StaqInputError && /behaviour must be "softmax" or "greedy"; got the string "boltzmann"/.test(error.message),
  );
  for (const epsilon of [-0.1, 1.1, NaN]) {
    assert.throws(
      () => policyReference(new Float32Array(2), 2, epsilon),
      (error: unknown) => error instanceof StaqInputError && /epsilon.*\[0, 1\]/.test(error.message),
    );
  }
});

// Properties of the reference itself, on random logits of every scale the GPU tests use.
const logitRows = (actions: number) =>
  fc
    .array(
      fc.tuple(
        fc.constantFrom(0, 1e-3, 1, 10, 80),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: actions, maxLength: actions }),
      ),
      { minLength: 1, maxLength: 20 },
    )
    .map((rows) => Float32Array.from(rows.flatMap(([scale, values]) => values.map((v) => scale * v))));

const kinds = fc.constantFrom<BehaviourKind>("softmax", "greedy");

test("probabilities and behaviour sum to 1, entropy lies in [0, ln A], the CDF ends at 1 (both kinds)", () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 64 })
        .chain((actions) => fc.tuple(fc.constant(actions), logitRows(actions), fc.double({ min: 0, max: 1, noNaN: true }), kinds)),
      ([actions, logits, epsilon, kind]) => {
        const ref = policyReference(logits, actions, epsilon, kind);
        // Sums of A float64 terms in [0, 1] are within A·2^-52 of their exact value (1).
        const sumBound = actions * 2 ** -52 + 2 ** -52;
        for (let row = 0; row < ref.batch; row++) {
          let p = 0;
          let b = 0;
          for (let a = 0; a < actions; a++) {
            p += ref.probs[row * actions + a];
            b += ref.behaviour[row * actions + a];
            assert.ok(ref.behaviour[row * actions + a] >= epsilon / actions - 2 ** -52);
          }
          if (kind === "greedy") {
            // (1 − ε) on the argmax, ε/A everywhere: the argmax gets the most.
            const g = ref.greedy[row];
            assert.equal(ref.behaviour[row * actions + g], 1 - epsilon + epsilon / actions);
            for (let a = 0; a < actions; a++) if (a !== g) assert.equal(ref.behaviour[row * actions + a], epsilon / actions);
          }
          close(p, 1, sumBound, "Σp");
          close(b, 1, 2 * sumBound, "Σb");
          close(ref.cdf[row * actions + actions - 1], 1, 2 * sumBound, "C_{A−1}");
          assert.ok(ref.entropy[row] >= -sumBound && ref.entropy[row] <= Math.log(actions) * (1 + sumBound) + sumBound);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("the error bounds are positive, finite, and tight enough to catch a float32 slip on moderate logits (both kinds)", () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 64 })
        .chain((actions) => fc.tuple(fc.constant(actions), logitRows(actions), fc.double({ min: 0, max: 1, noNaN: true }), kinds)),
      ([actions, logits, epsilon, kind]) => {
        const bounds = policyErrorBounds(logits, actions, epsilon, kind);
        for (const [name, values] of Object.entries(bounds)) {
          for (const value of values as Float64Array) assert.ok(value > 0 && Number.isFinite(value), `${name}: ${value}`);
        }
        // With |logits| ≤ 80 the largest error terms are the exp's (3 + 2·160) ULP and A-term
        // sums; all stay below 2^-10 on probabilities and 2^-6 on entropies, far below
        // what a wrong formula (or a missing ε) would cost.
        for (const value of bounds.probs) assert.ok(value < 2 ** -10, `probs bound ${value}`);
        for (const value of bounds.behaviour) assert.ok(value < 2 ** -10, `behaviour bound ${value}`);
        for (const value of bounds.cdf) assert.ok(value < 2 ** -8, `cdf bound ${value}`);
        for (const value of bounds.entropy) assert.ok(value < 2 ** -6, `entropy bound ${value}`);
      },
    ),
    { numRuns: 200 },
  );
});
