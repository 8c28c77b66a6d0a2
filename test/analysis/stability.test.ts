// Stability metrics of one run's evaluation curve (src/analysis/stability.ts): each formula checked
// on small sequences worked out by hand, the edge cases (one evaluation, a constant run, window 1),
// the errors, and the invariances that make the metrics comparable across environments.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  belowBestFraction,
  finalReturn,
  meanDrop,
  movingAverageDeviation,
  normalizedArea,
  stabilityMetrics,
} from "../../src/analysis/stability.ts";
import { StaqInputError } from "../../src/errors.ts";

const near = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${actual} is not ${expected}`);

// R = [0, 10, 5, 5, 20] at x = [0, 1, 2, 3, 4]: a rise, a fall, a plateau, a rise.
const X = [0, 1, 2, 3, 4];
const R = [0, 10, 5, 5, 20];

test("final return is the last evaluation", () => {
  assert.equal(finalReturn(R), 20);
  assert.equal(finalReturn([-3]), -3);
});

test("normalized area: trapezoids over the steps, divided by the span", () => {
  // Trapezoids of width 1: (0+10)/2 + (10+5)/2 + (5+5)/2 + (5+20)/2 = 5 + 7.5 + 5 + 12.5 = 30; span 4 - 0 = 4; 30/4 = 7.5.
  assert.equal(normalizedArea({ x: X, y: R }), 7.5);
  // Uneven steps weigh each interval by its width: x = [0, 10, 40], R = [0, 10, 10]:
  // 10·(0+10)/2 + 30·(10+10)/2 = 50 + 300 = 350; span 40; 350/40 = 8.75.
  assert.equal(normalizedArea({ x: [0, 10, 40], y: [0, 10, 10] }), 8.75);
  // Shifting the steps does not matter, only their differences: x = [1000, 1010, 1040] gives the same.
  assert.equal(normalizedArea({ x: [1000, 1010, 1040], y: [0, 10, 10] }), 8.75);
  assert.equal(normalizedArea({ x: [7], y: [42] }), 42, "one evaluation: R_1");
});

test("mean drop: falls between consecutive evaluations, rises count 0", () => {
  // Differences R_t − R_{t+1}: 0−10 = −10 → 0, 10−5 = 5, 5−5 = 0, 5−20 = −15 → 0; (0 + 5 + 0 + 0)/4 = 1.25.
  assert.equal(meanDrop(R), 1.25);
  // [10, 0, 10, 0]: drops 10, 0, 10 over 3 intervals → 20/3.
  near(meanDrop([10, 0, 10, 0]), 20 / 3);
  assert.equal(meanDrop([5]), 0, "one evaluation: no interval");
});

test("moving-average deviation: distance from the centred mean, the window clipped at the ends", () => {
  // Window 5 (h = 2): m_1 = (0+10+5)/3 = 5, m_2 = (0+10+5+5)/4 = 5, m_3 = (0+10+5+5+20)/5 = 8,
  // m_4 = (10+5+5+20)/4 = 10, m_5 = (5+5+20)/3 = 10. Residuals −5, 5, −3, −5, 10;
  // squares 25 + 25 + 9 + 25 + 100 = 184; sqrt(184/5) = sqrt(36.8).
  near(movingAverageDeviation(R), Math.sqrt(36.8));
  near(movingAverageDeviation(R, 5), Math.sqrt(36.8));
  // Window 3 (h = 1): m = [(0+10)/2, (0+10+5)/3, (10+5+5)/3, (5+5+20)/3, (5+20)/2] = [5, 5, 20/3, 10, 12.5].
  // Residuals −5, 5, −5/3, −5, 7.5; squares 25 + 25 + 25/9 + 25 + 56.25 = 1206.25/9; mean 1206.25/45.
  near(movingAverageDeviation(R, 3), Math.sqrt(1206.25 / 45));
  // A window past both ends is the mean of the whole run: [0, 10] with window 7 → m = 5, 5; residuals ±5 → 5.
  assert.equal(movingAverageDeviation([0, 10], 7), 5);
  assert.equal(movingAverageDeviation(R, 1), 0, "window 1: each point is its own average");
  assert.equal(movingAverageDeviation([3]), 0, "one evaluation");
  assert.equal(movingAverageDeviation([4, 4, 4, 4]), 0, "constant run");
});

test("below-best fraction: evaluations more than a fraction of the range under the best so far", () => {
  // range = 20 − 0 = 20; fraction 0.1 → gap 2. best_t = [0, 10, 10, 10, 20].
  // R_t < best_t − 2: 0 < −2 no, 10 < 8 no, 5 < 8 yes, 5 < 8 yes, 20 < 18 no → 2/5.
  assert.equal(belowBestFraction(R), 0.4);
  // fraction 0.25 → gap 5: 5 < 5 is not below (strict) → 0.
  assert.equal(belowBestFraction(R, 0.25), 0);
  // fraction 0 → any value under the running best: the two 5s → 2/5.
  assert.equal(belowBestFraction(R, 0), 0.4);
  assert.equal(belowBestFraction([7, 7, 7]), 0, "constant run: range 0");
  assert.equal(belowBestFraction([7]), 0, "one evaluation");
  // A run that peaks early and stays down: [0, 100, 50, 50] (gap 10): t = 3, 4 below 90 → 2/4.
  assert.equal(belowBestFraction([0, 100, 50, 50]), 0.5);
});

test("stabilityMetrics gives the five at the defaults", () => {
  assert.deepEqual(stabilityMetrics({ x: X, y: R }), {
    finalReturn: 20,
    normalizedArea: 7.5,
    meanDrop: 1.25,
    movingAverageDeviation: Math.sqrt(184 / 5),
    belowBestFraction: 0.4,
  });
  assert.deepEqual(stabilityMetrics({ x: [100], y: [9] }), {
    finalReturn: 9,
    normalizedArea: 9,
    meanDrop: 0,
    movingAverageDeviation: 0,
    belowBestFraction: 0,
  });
});

test("empty, non-finite or unsorted input and bad parameters are StaqInputErrors saying what is wrong", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => finalReturn([]), /at least one evaluation/],
    [() => meanDrop([1, NaN]), /return 1 is NaN/],
    [() => movingAverageDeviation([1, Infinity]), /return 1 is Infinity/],
    [() => normalizedArea({ x: [], y: [] }), /at least one evaluation/],
    [() => normalizedArea({ x: [0, 2, 1], y: [1, 2, 3] }), /steps must increase strictly; step 2 is 1, after 2/],
    [() => normalizedArea({ x: [0, 1, 1], y: [1, 2, 3] }), /steps must increase strictly; step 2 is 1, after 1/],
    [() => normalizedArea({ x: [0, NaN], y: [1, 2] }), /step 1 is NaN/],
    [() => stabilityMetrics({ x: [0, 1], y: [1] }), /2 steps but 1 returns/],
    [() => movingAverageDeviation(R, 4), /odd integer >= 1.*got 4/],
    [() => movingAverageDeviation(R, 0), /odd integer >= 1.*got 0/],
    [() => movingAverageDeviation(R, 2.5), /odd integer/],
    [() => belowBestFraction(R, -0.1), /finite number >= 0.*got -0.1/],
    [() => belowBestFraction(R, NaN), /finite number >= 0/],
  ];
  for (const [call, message] of cases)
    assert.throws(call, (e: Error) => e instanceof StaqInputError && message.test(e.message), String(call));
});

// ---- properties ----

/** Finite returns; magnitudes below 1e-6 become 0, so no value is subnormal and scaling by a power of two is exact. */
const returns = fc.array(
  fc.double({ min: -1000, max: 1000, noNaN: true }).map((v) => (Math.abs(v) < 1e-6 ? 0 : v)),
  { minLength: 1, maxLength: 30 },
);
/** Integers, so that shifting by an integer and the gap of a power-of-two fraction are exact in float64. */
const integerReturns = fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 30 });
const steps = (n: number) => Array.from({ length: n }, (_, t) => 1000 * t);

test("a run that never decreases has no drops and is never below its best", () => {
  // Why: both metrics measure falling back, and a non-decreasing run never falls.
  fc.assert(
    fc.property(returns, (r) => {
      const sorted = [...r].sort((a, b) => a - b);
      assert.equal(meanDrop(sorted), 0);
      assert.equal(belowBestFraction(sorted), 0);
    }),
  );
});

test("shifting every return by c shifts the final return and the area by c and leaves the rest unchanged", () => {
  // Why: a constant offset (a reward bias, a living penalty) changes the level of a curve, not its
  // stability; the stability columns then compare across environments with different offsets.
  fc.assert(
    fc.property(integerReturns, fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 2 }), (r, c, k) => {
      const shifted = r.map((v) => v + c);
      const fraction = [0, 0.25, 0.5][k]; // range · fraction is exact for these, so the comparisons are
      assert.equal(finalReturn(shifted), finalReturn(r) + c);
      near(normalizedArea({ x: steps(r.length), y: shifted }), normalizedArea({ x: steps(r.length), y: r }) + c, 1e-9);
      near(meanDrop(shifted), meanDrop(r), 1e-9);
      near(movingAverageDeviation(shifted), movingAverageDeviation(r), 1e-9);
      assert.equal(belowBestFraction(shifted, fraction), belowBestFraction(r, fraction));
    }),
  );
});

test("scaling the returns by c > 0 scales drop and deviation by c and leaves the below-best fraction unchanged", () => {
  // Why: rewards in other units (CartPole's 500 against Acrobot's −100) should not change which run
  // is steadier; drop and deviation are in units of return, the fraction has none. A power-of-two c
  // keeps every comparison of the fraction exact.
  fc.assert(
    fc.property(returns, fc.double({ min: 0.01, max: 100, noNaN: true }), fc.integer({ min: -4, max: 4 }), (r, c, e) => {
      const scaled = r.map((v) => v * c);
      near(meanDrop(scaled), c * meanDrop(r), 1e-9);
      near(movingAverageDeviation(scaled), c * movingAverageDeviation(r), 1e-9);
      const power = 2 ** e;
      assert.equal(belowBestFraction(r.map((v) => v * power)), belowBestFraction(r));
    }),
  );
});

test("the area lies between the smallest and largest return; the fraction is in [0, 1); deviation is >= 0", () => {
  // Why: the area is a weighted mean of R (the trapezoid weights are positive and sum to 1), the
  // first evaluation is its own best so it is never below it, and a root mean square is not negative.
  fc.assert(
    fc.property(returns, (r) => {
      const area = normalizedArea({ x: steps(r.length), y: r });
      assert.ok(area >= Math.min(...r) - 1e-9 && area <= Math.max(...r) + 1e-9, `${area} outside ${r}`);
      const fraction = belowBestFraction(r);
      assert.ok(fraction >= 0 && fraction < 1);
      assert.ok(movingAverageDeviation(r) >= 0);
    }),
  );
});
