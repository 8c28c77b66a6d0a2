// Typed numbers: plain decimals only. Number() would take each of the refused strings below.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDecimal, parseInteger, parseWholeNumber } from "../../src/io/decimal.ts";

test("parseDecimal takes plain decimals and refuses what Number() would also read", () => {
  for (const [text, value] of [
    ["3", 3],
    ["-0.5", -0.5],
    [" 1e-3 ", 1e-3],
    ["+2.", 2],
    [".25", 0.25],
    ["1E6", 1e6],
  ] as const) {
    assert.equal(parseDecimal(text), value, text);
  }
  for (const text of ["", " ", "0x10", "0b11", "0o7", "Infinity", "-Infinity", "NaN", "1_000", "1e", "e3", "--1", "1,5"]) {
    assert.ok(Number.isNaN(parseDecimal(text)), `${JSON.stringify(text)} must not be a number`);
  }
});

test("parseWholeNumber takes integers written without fraction or exponent, up to 2^53 - 1", () => {
  for (const [text, value] of [
    ["16", 16],
    ["+3", 3],
    ["-2", -2],
    ["0", 0],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ] as const) {
    assert.equal(parseWholeNumber(text), value, text);
  }
  for (const text of ["", "0x10", "1e3", "1.0", "16.5", "9007199254740992", "Infinity"]) {
    assert.ok(Number.isNaN(parseWholeNumber(text)), `${JSON.stringify(text)} must not be a whole number`);
  }
});

test("parseInteger takes what config fields take for integers: any decimal whose value is a whole number up to 2^53 - 1", () => {
  for (const [text, value] of [
    ["16", 16],
    ["1e3", 1000],
    ["2.0", 2],
    ["1.5e1", 15],
    [" -2 ", -2],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ] as const) {
    assert.equal(parseInteger(text), value, text);
  }
  for (const text of ["", "0x10", "1.5", "1e-3", "9007199254740992", "1e16", "Infinity", "NaN"]) {
    assert.ok(Number.isNaN(parseInteger(text)), `${JSON.stringify(text)} must not be an integer`);
  }
});
