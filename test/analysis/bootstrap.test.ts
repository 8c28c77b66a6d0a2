// The percentile-bootstrap interval of a mean (src/analysis/bootstrap.ts): the percentile rule on
// sorted means worked out by hand, the resampling replayed draw by draw from the seeded stream, the
// degenerate cases, determinism, and the errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bootstrapMeanInterval, percentileInterval } from "../../src/analysis/bootstrap.ts";
import { createRandomStream } from "../../src/random/random-stream.ts";
import { StaqInputError } from "../../src/errors.ts";

test("the percentile rule: floor below, ceiling above, on positions (α/2)(B−1) and (1−α/2)(B−1)", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i);
  // B = 100, confidence 0.9 (α = 0.1): 0.05 · 99 = 4.95 → floor 4; 0.95 · 99 = 94.05 → ceil 95.
  assert.deepEqual(percentileInterval(hundred, 0.9), [4, 95]);
  // B = 101: 0.05 · 100 = 5 exactly (4.999999999999999 in float64 without the slack) → 5; 0.95 · 100 = 95 → 95.
  assert.deepEqual(
    percentileInterval(
      Array.from({ length: 101 }, (_, i) => i),
      0.9,
    ),
    [5, 95],
  );
  // 95% of B = 10000: 0.025 · 9999 = 249.975 → 249; 0.975 · 9999 = 9749.025 → 9750.
  assert.deepEqual(
    percentileInterval(
      Array.from({ length: 10000 }, (_, i) => i),
      0.95,
    ),
    [249, 9750],
  );
  assert.deepEqual(percentileInterval([3], 0.95), [3, 3], "one resample");
});

test("the resamples are the stream's integer(n) draws in order: replayed by hand for B = 4", () => {
  const values = [0, 10, 30];
  const stream = createRandomStream(7);
  const means: number[] = [];
  for (let b = 0; b < 4; b++) {
    let total = 0;
    for (let k = 0; k < 3; k++) total += values[stream.integer(3)];
    means.push(total / 3);
  }
  means.sort((a, b) => a - b);
  // Confidence 0.2 (α = 0.8): 0.4 · 3 = 1.2 → floor 1; 0.6 · 3 = 1.8 → ceil 2: the middle two of the four means.
  assert.deepEqual(bootstrapMeanInterval(values, { resamples: 4, confidence: 0.2, seed: 7 }), {
    mean: 40 / 3,
    lower: means[1],
    upper: means[2],
  });
  // Confidence 0.5 (α = 0.5): 0.25 · 3 = 0.75 → 0; 0.75 · 3 = 2.25 → 3: the smallest and largest.
  assert.deepEqual(bootstrapMeanInterval(values, { resamples: 4, confidence: 0.5, seed: 7 }), {
    mean: 40 / 3,
    lower: means[0],
    upper: means[3],
  });
});

test("two values: the 95% interval is [min, max] (each resample is both of one, p = 1/4, far above 2.5%)", () => {
  assert.deepEqual(bootstrapMeanInterval([2, 8]), { mean: 5, lower: 2, upper: 8 });
});

test("one value gives [x, x]; equal values give a zero-width interval at their mean", () => {
  assert.deepEqual(bootstrapMeanInterval([-3.5]), { mean: -3.5, lower: -3.5, upper: -3.5 });
  assert.deepEqual(bootstrapMeanInterval([7, 7, 7, 7], { seed: 3 }), { mean: 7, lower: 7, upper: 7 });
  const { mean, lower, upper } = bootstrapMeanInterval([0.1, 0.1, 0.1]);
  assert.equal(lower, mean);
  assert.equal(upper, mean);
});

test("the same seed gives the same interval; another seed may not", () => {
  const values = [1, 4, 9, 16, 25, 36];
  const a = bootstrapMeanInterval(values, { seed: 11, resamples: 500 });
  assert.deepEqual(bootstrapMeanInterval(values, { seed: 11, resamples: 500 }), a);
  const others = [12, 13, 14, 15].map((seed) => bootstrapMeanInterval(values, { seed, resamples: 500 }));
  assert.ok(
    others.some((o) => o.lower !== a.lower || o.upper !== a.upper),
    "four other seeds all gave the same interval",
  );
});

test("the 95% interval holds the mean and lies within [min, max] of the values", () => {
  // Why: every resampled mean is a mean of the values, so within their range; and the resampled
  // means are centred on the sample mean (their expectation), with far more than 2.5% of them at or
  // on each side of it for n ≤ 8 (even one outlier among 8 is left out of a resample with
  // probability (7/8)^8 ≈ 0.34), so the 2.5% and 97.5% points fall on either side of it.
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 1000 }),
      (values, seed) => {
        const { mean, lower, upper } = bootstrapMeanInterval(values, { seed, resamples: 400 });
        const slack = 1e-9;
        assert.ok(lower <= mean + slack && mean <= upper + slack, `${mean} not in [${lower}, ${upper}]`);
        assert.ok(lower >= Math.min(...values) - slack && upper <= Math.max(...values) + slack);
      },
    ),
    { numRuns: 60 },
  );
});

test("bad values and options are StaqInputErrors naming them", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => bootstrapMeanInterval([]), /at least one value/],
    [() => bootstrapMeanInterval([1, NaN]), /value 1 is NaN/],
    [() => bootstrapMeanInterval([1], { resamples: 0 }), /resamples must be an integer from 1/],
    [() => bootstrapMeanInterval([1], { resamples: 2.5 }), /resamples must be an integer/],
    [() => bootstrapMeanInterval([1], { confidence: 1 }), /confidence level must be a number between 0 and 1/],
    [() => bootstrapMeanInterval([1], { confidence: 0 }), /between 0 and 1/],
    [() => bootstrapMeanInterval([1], { seed: -1 }), /seed must be a non-negative integer/],
    [() => percentileInterval([], 0.9), /at least one resampled mean/],
  ];
  for (const [call, message] of cases)
    assert.throws(call, (e: Error) => e instanceof StaqInputError && message.test(e.message), String(call));
});
