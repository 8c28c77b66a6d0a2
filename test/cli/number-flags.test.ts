// integerFlag and numberFlag read every count, seed and real-valued flag of the CLI: what they take
// and refuse is what every command takes and refuses, so it is pinned here once by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { UsageError, integerFlag, numberFlag, type Command } from "../../src/cli/command.ts";

const command: Command = { name: "demo", summary: "", help: "", run: async () => undefined };
const usage = (message: RegExp) => (e: unknown) => e instanceof UsageError && e.command === command && message.test(e.message);

test("integerFlag: whole decimals, 1e3 included, in range; a count past 2^53 says why", () => {
  assert.equal(integerFlag("16", "steps", command, { min: 1 }), 16);
  assert.equal(integerFlag("1e3", "steps", command, { min: 1 }), 1000);
  assert.equal(integerFlag("2.0", "steps", command, { min: 1 }), 2);
  for (const text of ["0", "1.5", "0x10", "", "Infinity"])
    assert.throws(() => integerFlag(text, "steps", command, { min: 1 }), usage(/^--steps must be an integer >= 1; got /));
  assert.throws(() => integerFlag("1e16", "steps", command, { min: 1 }), usage(/from 1 to 2\^53 - 1 \(larger ones are not exact\)/));
  assert.throws(
    () => integerFlag("11", "seed", command, { min: 0, max: 10, why: " (ten)" }),
    usage(/^--seed must be an integer from 0 to 10 \(ten\); got "11"$/),
  );
});

test("numberFlag: finite decimals that pass the check; hex, Infinity, blanks and failures are refused with the requirement", () => {
  const unit = { valid: (x: number) => x >= 0 && x <= 1, requirement: "a number from 0 to 1" };
  assert.equal(numberFlag("0.25", "p", command, unit), 0.25);
  assert.equal(numberFlag("1e-3", "p", command, unit), 0.001);
  assert.equal(numberFlag(" .5 ", "p", command, unit), 0.5);
  assert.equal(numberFlag("-0", "p", command, unit), -0);
  for (const text of ["1.5", "-0.1", "0x1", "Infinity", "NaN", "", "1e999", "one"])
    assert.throws(
      () => numberFlag(text, "p", command, unit),
      (e: unknown) => e instanceof UsageError && e.message === `--p must be a number from 0 to 1; got ${JSON.stringify(text)}`,
    );
});
