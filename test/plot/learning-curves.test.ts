// Learning curves over runs: JSON-lines parsing (a record cut off mid-write is dropped, a bad line
// elsewhere is an error), interpolation onto the union of the runs' x, and mean and band.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { learningCurveSeries, meanCurve, parseJsonLines, runPoints } from "../../src/plot/learning-curves.ts";
import { StaqFormatError } from "../../src/errors.ts";

const METRICS = { source: "metrics.jsonl", nullIsUnmeasured: true };
const EVAL = { source: "eval.jsonl", nullIsUnmeasured: false };

test("an evaluation that is null (a NaN JSON could not write), not a number, or without a finite step is an error naming file and line", () => {
  const lines = (...records: object[]) => parseJsonLines(records.map((r) => JSON.stringify(r)).join("\n") + "\n", "eval.jsonl");
  const cases: [object, RegExp][] = [
    [{ global_step: 10, y: null }, /eval\.jsonl line 2: y is null, not a finite number \(JSON writes NaN and Infinity as null/],
    [{ global_step: 10, y: "7" }, /eval\.jsonl line 2: y is "7", not a finite number/],
    [{ global_step: null, y: 2 }, /eval\.jsonl line 2: global_step is null, not a finite number/],
    [{ y: 2 }, /eval\.jsonl line 2: global_step is missing, not a finite number/],
  ];
  for (const [record, message] of cases)
    assert.throws(
      () => runPoints(lines({ global_step: 0, y: 1 }, record), "global_step", "y", EVAL),
      (e: Error) => e instanceof StaqFormatError && message.test(e.message),
      JSON.stringify(record),
    );
  // In metrics.jsonl null means "not measured", but a string is still not a number.
  assert.throws(() => runPoints(lines({ global_step: 0, y: "x" }), "global_step", "y", METRICS), /line 1: y is "x"/);
});

test("steps that do not increase strictly are an error naming the line, not sorted", () => {
  const lines = (...records: object[]) => parseJsonLines(records.map((r) => JSON.stringify(r)).join("\n") + "\n", "eval.jsonl");
  for (const second of [0, 5])
    assert.throws(
      () => runPoints(lines({ global_step: 10, y: 1 }, { global_step: second, y: 2 }), "global_step", "y", EVAL),
      new RegExp(`eval\\.jsonl line 2: global_step ${second} does not come after the previous record's 10`),
    );
  // x by time: the order is still the steps'; time going back is an error too.
  assert.throws(
    () => runPoints(lines({ global_step: 0, time_s: 5, y: 1 }, { global_step: 10, time_s: 4, y: 2 }), "time_s", "y", EVAL),
    /line 2: time_s 4 is before the previous record's 5/,
  );
});

test("JSON lines: a cut-off last line is dropped; a bad line before it is an error naming the line", () => {
  assert.deepEqual(parseJsonLines('{"a":1}\n{"a":2}\n{"a":', "eval.jsonl"), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(parseJsonLines('{"a":1}\n\n', "eval.jsonl"), [{ a: 1 }]);
  assert.throws(
    () => parseJsonLines('{"a":1}\n{oops}\n{"a":3}\n', "eval.jsonl"),
    (e: Error) => e instanceof StaqFormatError && /eval.jsonl line 2 is not a JSON object/.test(e.message),
  );
  assert.throws(() => parseJsonLines("[1]\n", "m.jsonl"), /m.jsonl line 1 is not a JSON object/);
});

test("points skip records without the metric (and null where it means not measured); the mean curve interpolates onto the x all runs cover", () => {
  const log = [{ global_step: 0, y: 1 }, { global_step: 10, y: null }, { global_step: 15 }, { global_step: 20, y: 3 }];
  assert.deepEqual(runPoints(log, "global_step", "y", METRICS), { x: [0, 20], y: [1, 3] });
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
