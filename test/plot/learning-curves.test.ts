// Learning curves over runs: JSON-lines parsing (a record cut off mid-write is dropped, a bad line
// elsewhere is an error), interpolation onto the union of the runs' x, and mean and band.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { learningCurveSeries, meanCurve, parseJsonLines, runPoints } from "../../src/plot/learning-curves.ts";
import { StaqFormatError } from "../../src/errors.ts";

test("JSON lines: a cut-off last line is dropped; a bad line before it is an error naming the line", () => {
  assert.deepEqual(parseJsonLines('{"a":1}\n{"a":2}\n{"a":', "eval.jsonl"), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(parseJsonLines('{"a":1}\n\n', "eval.jsonl"), [{ a: 1 }]);
  assert.throws(
    () => parseJsonLines('{"a":1}\n{oops}\n{"a":3}\n', "eval.jsonl"),
    (e: Error) => e instanceof StaqFormatError && /eval.jsonl line 2 is not a JSON object/.test(e.message),
  );
  assert.throws(() => parseJsonLines("[1]\n", "m.jsonl"), /m.jsonl line 1 is not a JSON object/);
});

test("points skip records without the metric; the mean curve interpolates onto the x all runs cover", () => {
  const log = [
    { global_step: 0, y: 1 },
    { global_step: 10, y: null },
    { global_step: 20, y: 3 },
  ];
  assert.deepEqual(runPoints(log, "global_step", "y"), { x: [0, 20], y: [1, 3] });
  const curve = meanCurve([
    { x: [0, 20], y: [0, 20] },
    { x: [0, 10, 30], y: [2, 4, 6] },
  ]);
  // x = 0: (0 + 2)/2; x = 10: run 1 interpolated to 10, (10 + 4)/2; x = 20: (20 + 5)/2; x = 30 only in run 2: not drawn.
  assert.deepEqual(curve, { x: [0, 10, 20], mean: [1, 7, 12.5], lower: [0, 4, 5], upper: [2, 10, 20] });
  const std = meanCurve(
    [
      { x: [0], y: [1] },
      { x: [0], y: [3] },
    ],
    "std",
  );
  assert.deepEqual([std.lower, std.upper], [[1], [3]]);
  const [one] = learningCurveSeries([{ name: "solo", runs: [{ x: [1, 2], y: [5, 6] }] }]);
  assert.deepEqual(one, { name: "solo", x: [1, 2], y: [5, 6] });
});

test("the mean lies within its min–max band, and a single run's band is the run itself", () => {
  const run = fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 50 }),
        fc.double({ min: -100, max: 100, noNaN: true }).map((v) => v + 0) /* −0 becomes 0: a mean of sums cannot return −0 */,
      ),
      { minLength: 1, maxLength: 8 },
    )
    .map((points) => {
      const byX = new Map(points);
      const x = [...byX.keys()].sort((a, b) => a - b);
      return { x, y: x.map((v) => byX.get(v)!) };
    });
  fc.assert(
    fc.property(fc.array(run, { minLength: 1, maxLength: 4 }), (runs) => {
      const curve = meanCurve(runs);
      curve.x.forEach((_, i) => assert.ok(curve.lower[i] <= curve.mean[i] + 1e-9 && curve.mean[i] <= curve.upper[i] + 1e-9));
      const single = meanCurve([runs[0]]);
      assert.deepEqual(single.mean, runs[0].y);
      assert.deepEqual(single.lower, runs[0].y);
    }),
  );
});
