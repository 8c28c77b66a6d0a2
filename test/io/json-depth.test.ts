// Deeply nested JSON in any input (issue 16): a StaqFormatError naming the file and the limit, never
// "Maximum call stack size exceeded" from whatever walks the parsed value afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqFormatError } from "../../src/errors.ts";
import { MAX_JSON_DEPTH, checkJsonDepth, parseJsonText } from "../../src/io/json.ts";
import { parseTrainingBatchJson } from "../../src/io/network-file.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";
import { mdpFromJson } from "../../src/tabular/mdp.ts";

/** `[[[...]]]` nested `depth` levels: far beyond any recursion JSON.stringify survives. */
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const DEEP = nested(200_000);
const DEEP_OBJECT = '{"a": '.repeat(200_000) + "0" + "}".repeat(200_000);

function isDepthError(source: string) {
  return (error: unknown) => {
    assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${String(error)}`);
    assert.match(
      error.message,
      new RegExp(`^${source.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.* nested deeper than ${MAX_JSON_DEPTH} levels`),
    );
    return true;
  };
}

test("checkJsonDepth: counts arrays and objects, not brackets inside strings, and allows exactly the limit", () => {
  checkJsonDepth(nested(MAX_JSON_DEPTH), "f.json");
  assert.throws(() => checkJsonDepth(nested(MAX_JSON_DEPTH + 1), "f.json"), isDepthError("f.json"));
  assert.throws(() => checkJsonDepth(`{"a": ${nested(MAX_JSON_DEPTH)}}`, "f.json"), isDepthError("f.json"));
  // Brackets and escaped quotes inside strings are text, not nesting.
  checkJsonDepth(JSON.stringify({ text: "[".repeat(1000) + '\\"{{{' }), "f.json");
  checkJsonDepth(JSON.stringify(["\\", "[[[[", '"[['.repeat(500)]), "f.json");
  // Sequential (not nested) arrays never add up.
  checkJsonDepth(`[${Array.from({ length: 1000 }, () => "[1]").join(",")}]`, "f.json");
});

test("parseJsonText refuses deep nesting before parsing, naming the file", () => {
  assert.throws(() => parseJsonText(DEEP, "states.json"), isDepthError("states.json"));
  assert.deepEqual(parseJsonText('{"states": [[1, 2]]}', "states.json"), { states: [[1, 2]] });
});

test("a deeply nested MDP file is a format error naming the file (no stack overflow)", () => {
  assert.throws(() => mdpFromJson(`{"P": [[[1]]], "R": [[0]], "gamma": ${DEEP_OBJECT}}`, "mdp.json"), isDepthError("mdp.json"));
});

test("a deeply nested BATCH.json is a format error naming the file (no stack overflow)", () => {
  const spec = { inputs: 2, hidden: [], outputs: 2 };
  assert.throws(
    () => parseTrainingBatchJson(`{"obs": [[0, 1]], "actions": [0], "targets": [${DEEP}]}`, "batch.json", spec),
    isDepthError("batch.json"),
  );
  // The NaN-tolerant path (Python's bare NaN) is bounded too.
  assert.throws(
    () => parseTrainingBatchJson(`{"obs": [[NaN, 1]], "actions": [0], "targets": [${DEEP}]}`, "batch.json", spec),
    isDepthError("batch.json"),
  );
});

test("a deeply nested safetensors header is a format error (no stack overflow)", () => {
  const header = new TextEncoder().encode(`{"t": ${DEEP}}`);
  const bytes = new Uint8Array(8 + header.length);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(header, 8);
  assert.throws(() => decodeSafetensors(bytes), isDepthError("the header"));
});
