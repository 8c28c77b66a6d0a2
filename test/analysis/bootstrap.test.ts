// The percentile-bootstrap interval of a mean (src/analysis/bootstrap.ts): the percentile rule on
// sorted means worked out by hand, the resampling replayed draw by draw from the seeded stream, the
// degenerate cases, determinism, and the errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bootstrapDifferenceInterval, bootstrapMeanInterval, percentileInterval } from "../../src/analysis/bootstrap.ts";
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
    [() => bootstrapMeanInterval([1], { seed: -1 }), /^the bootstrap: seed must be an integer in \[0, 2\^53 - 1\]; got -1$/],
    [() => bootstrapMeanInterval([1], { seed: "1" as unknown as number }), /seed must be .*; got the string "1"$/],
    [() => percentileInterval([], 0.9), /at least one resampled mean/],
  ];
  for (const [call, message] of cases)
    assert.throws(call, (e: Error) => e instanceof StaqInputError && message.test(e.message), String(call));
});

// The difference of two groups' means (two settings' seeds), for the study's "does A differ from B".

test("difference: a = [0, 10], b = [5] by hand: resampled means of a are 0, 5, 10 (p = 1/4, 1/2, 1/4), so the 95% interval is [−5, 5]", () => {
  // b has one value, so every resample's difference is mean(a*) − 5 ∈ {−5, 0, 5}; each tail has
  // probability 1/4, far above 2.5%, so the percentile interval reaches both ends.
  assert.deepEqual(bootstrapDifferenceInterval([0, 10], [5]), { difference: 0, lower: -5, upper: 5 });
  // Swapped, the interval is mirrored: mean(b) − mean(a*).
  assert.deepEqual(bootstrapDifferenceInterval([5], [0, 10]), { difference: 0, lower: -5, upper: 5 });
});

test("difference: the resamples draw n indices into a, then m into b, from one stream: replayed by hand for B = 4", () => {
  const a = [1, 4, 9];
  const b = [0, 20];
  const stream = createRandomStream(11);
  const differences: number[] = [];
  for (let r = 0; r < 4; r++) {
    let sa = 0;
    for (let k = 0; k < 3; k++) sa += a[stream.integer(3)];
    let sb = 0;
    for (let k = 0; k < 2; k++) sb += b[stream.integer(2)];
    differences.push(sa / 3 - sb / 2);
  }
  differences.sort((x, y) => x - y);
  // Confidence 0.5: positions 0.75 → 0 and 2.25 → 3, the smallest and the largest of the four.
  assert.deepEqual(bootstrapDifferenceInterval(a, b, { resamples: 4, confidence: 0.5, seed: 11 }), {
    difference: 14 / 3 - 10,
    lower: differences[0],
    upper: differences[3],
  });
});

test("difference: one value each is a point; two groups of equal values give a zero-width interval at mean(a) − mean(b)", () => {
  assert.deepEqual(bootstrapDifferenceInterval([3], [-1]), { difference: 4, lower: 4, upper: 4 });
  assert.deepEqual(bootstrapDifferenceInterval([2, 2, 2], [0.5, 0.5]), { difference: 1.5, lower: 1.5, upper: 1.5 });
});

test("difference: the interval lies within [min a − max b, max a − min b] (a resampled mean never leaves its values' range)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      (a, b, seed) => {
        const { lower, upper } = bootstrapDifferenceInterval(a, b, { resamples: 200, seed });
        // Integer values: every resampled mean is a sum of integers divided by n, within [min, max] up to one rounding.
        const slack = 1e-9 * (1 + Math.max(...a.map(Math.abs), ...b.map(Math.abs)));
        assert.ok(lower >= Math.min(...a) - Math.max(...b) - slack, `${lower}`);
        assert.ok(upper <= Math.max(...a) - Math.min(...b) + slack, `${upper}`);
        assert.ok(lower <= upper);
      },
    ),
    { numRuns: 60 },
  );
});

test("difference: bad values name their group", () => {
  assert.throws(() => bootstrapDifferenceInterval([], [1]), /group a: a bootstrap interval of a mean needs at least one value/);
  assert.throws(() => bootstrapDifferenceInterval([1], [2, Infinity]), /group b: value 1 is Infinity/);
  assert.throws(() => bootstrapDifferenceInterval([1], [2], { confidence: 2 }), /confidence level must be a number between 0 and 1/);
});
