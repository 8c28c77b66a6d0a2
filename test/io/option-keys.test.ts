// checkOptionKeys: a non-object is refused with its value shown, and an unknown key (a misspelt
// option, otherwise ignored without a word) is named with the options there are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import { checkOptionKeys } from "../../src/io/option-keys.ts";

test("checkOptionKeys refuses non-objects and unknown keys, and passes known ones", () => {
  const known = ["a", "b"] as const;
  for (const [value, shown] of [
    [undefined, "undefined"],
    [null, "null"],
    ["a", 'the string "a"'],
    [3, "3"],
  ] as const)
    assert.throws(
      () => checkOptionKeys(value, known, "f"),
      (error: unknown) => error instanceof StaqInputError && error.message === `f needs an options object; got ${shown}`,
    );
  assert.throws(() => checkOptionKeys({ a: 1, c: 2 }, known, "f"), {
    name: "StaqInputError",
    message: 'f: unknown option "c"; the options are: a, b',
  });
  // Known keys, with undefined values too (an option passed on as `undefined` is its default).
  checkOptionKeys({}, known, "f");
  checkOptionKeys({ a: 1, b: undefined }, known, "f");
});
