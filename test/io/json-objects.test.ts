// JSON input files of known fields (the states of `staq logits`, the MDP of `staq tabular`, the
// batch of `staq fit`): a field staq does not read, or one written twice, is refused by name
// rather than ignored; bare NaN and Infinity are named as such, not as a syntax error at "N".
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqFormatError } from "../../src/errors.ts";
import { describeValue } from "../../src/io/describe-value.ts";
import { parseJsonObject, parseJsonText } from "../../src/io/json.ts";

const shape = { fields: ["states", "extra"], expected: 'expected {"states": [[...]]}' };
const parse = (text: string) => parseJsonObject(text, "f.json", shape);
const formatError = (pattern: RegExp) => (error: unknown) => error instanceof StaqFormatError && pattern.test(error.message);

test("parseJsonObject returns the object when every field is known and written once", () => {
  assert.deepEqual(parse('{"states": [[1, 2]], "extra": {"states": 1, "a": [{"b": 2}]}}'), {
    states: [[1, 2]],
    extra: { states: 1, a: [{ b: 2 }] },
  });
  // A string value at the top level, or one followed by ":" inside an array, is not a key.
  assert.deepEqual(parse('{"extra": "states", "states": [["x", ":"]]}'), { extra: "states", states: [["x", ":"]] });
  assert.deepEqual(parse("{}"), {});
});

test("parseJsonObject refuses a field it does not know, naming it and the expected form", () => {
  assert.throws(
    () => parse('{"states": [[1]], "junk": 1}'),
    formatError(/^f\.json: unexpected field "junk"; expected \{"states": \[\[\.\.\.\]\]\}, with no other fields/),
  );
  // "__proto__" is an own key of what JSON.parse returns, so it is caught as well.
  assert.throws(() => parse('{"__proto__": {"states": 1}}'), formatError(/unexpected field "__proto__"/));
});

test("parseJsonObject refuses a top-level key written twice (JSON.parse would keep the last)", () => {
  assert.throws(
    () => parse('{"states": [[1, 2, 3]], "states": [[4, 5, 6]]}'),
    formatError(/^f\.json has the field "states" twice; JSON\.parse would keep only the last/),
  );
  // The same key spelt with an escape, and with whitespace before the colon.
  assert.throws(() => parse('{"states": [[1]], "\\u0073tates" \n : [[2]]}'), formatError(/has the field "states" twice/));
  // The same key in two different nested objects is not a repeat.
  assert.deepEqual(parse('{"extra": [{"a": 1}, {"a": 2}]}'), { extra: [{ a: 1 }, { a: 2 }] });
});

test("parseJsonObject: not an object, not JSON, too deep", () => {
  assert.throws(() => parse("[[1, 2]]"), formatError(/^f\.json is not a JSON object; expected/));
  assert.throws(() => parse("null"), formatError(/^f\.json is not a JSON object/));
  assert.throws(() => parse('{"states": [[1]'), formatError(/^f\.json is not valid JSON/));
  assert.throws(() => parse(`{"states": ${"[".repeat(200)}${"]".repeat(200)}}`), formatError(/nested deeper than 128 levels/));
});

test("parseJsonObject reads bare NaN and ±Infinity as the numbers, for the caller to name the entry", () => {
  const parsed = parse('{"states": [[NaN, Infinity, -Infinity, 1]], "extra": "NaN"}');
  assert.deepEqual(parsed, { states: [[NaN, Infinity, -Infinity, 1]], extra: "NaN" });
  // Still not JSON for another reason: the file's own syntax error, with the word on NaN.
  assert.throws(() => parse('{"states": [[NaN, 1]'), formatError(/is not valid JSON: .*JSON has neither/));
});

test("parseJsonText says that JSON has no NaN or Infinity when the file has them bare", () => {
  assert.throws(
    () => parseJsonText('{"a": [NaN]}', "f.json"),
    formatError(/^f\.json is not valid JSON: .* \(the file has a bare NaN or Infinity: JSON has neither/),
  );
  // Without them, just the syntax error.
  assert.throws(() => parseJsonText('{"a": [1', "f.json"), formatError(/^f\.json is not valid JSON: [^(]*$/));
  // Inside a string, "NaN" is text.
  assert.throws(() => parseJsonText('{"a": "NaN",', "f.json"), formatError(/^f\.json is not valid JSON: [^(]*$/));
});

test("describeValue tells a string from a number", () => {
  assert.equal(describeValue(1), "1");
  assert.equal(describeValue(NaN), "NaN");
  assert.equal(describeValue(-Infinity), "-Infinity");
  assert.equal(describeValue(-0), "-0");
  assert.equal(describeValue("1"), 'the string "1"');
  assert.equal(describeValue(2n), "the bigint 2n");
  assert.equal(describeValue(true), "the boolean true");
  assert.equal(describeValue(undefined), "undefined");
  assert.equal(describeValue(null), "null");
  assert.equal(describeValue([1, "2"]), 'an array [1,"2"]');
  assert.equal(describeValue({ a: 1 }), 'an object {"a":1}');
  assert.equal(describeValue(new Float64Array(2)), "a Float64Array");
  assert.equal(
    describeValue(() => 1),
    "a function",
  );
  assert.match(describeValue(Array(100).fill(1)), /^an array \[1,1,.*…$/);
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(describeValue(cycle), "an object");
});
