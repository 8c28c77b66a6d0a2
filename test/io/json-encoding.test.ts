// JSON input files that are not plain UTF-8: a UTF-8 byte-order mark (Windows PowerShell 5's
// `Out-File -Encoding utf8`, older Notepad) or UTF-16 ("Unicode" in Windows tools). Every JSON
// reader of staq goes through src/io/json.ts, which refuses them saying what the file is and how to
// save it, instead of "Unexpected token" at an invisible character or a parse of mojibake.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { StaqFormatError } from "../../src/errors.ts";
import { checkJsonDepth, parseJsonObject, parseJsonText } from "../../src/io/json.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";
import { runStaq, tempDir } from "./stack-fixtures.ts";

const JSON_TEXT = '{"states": [[1, 2]]}';
/** The text of `bytes` as staq's commands read a file (fs.readFile(path, "utf8"): invalid bytes become U+FFFD). */
const asRead = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const utf8Bom = asRead(Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), Buffer.from(JSON_TEXT, "utf8")]));
const utf16le = asRead(Buffer.concat([Buffer.of(0xff, 0xfe), Buffer.from(JSON_TEXT, "utf16le")]));
const utf16be = asRead(Buffer.concat([Buffer.of(0xfe, 0xff), Buffer.from(JSON_TEXT, "utf16le").swap16()]));
const utf16leNoBom = asRead(Buffer.from(JSON_TEXT, "utf16le"));

const formatError = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${String(error)}`);
  assert.match(error.message, pattern);
  return true;
};

test("a UTF-8 byte-order mark is refused by every JSON reader, naming the file and saying how to save it", () => {
  const bom = /^f\.json starts with a UTF-8 byte-order mark \(BOM\).*save it as UTF-8 without a byte-order mark/;
  assert.throws(() => parseJsonText(utf8Bom, "f.json"), formatError(bom));
  assert.throws(() => parseJsonObject(utf8Bom, "f.json", { fields: ["states"], expected: "expected {}" }), formatError(bom));
  // checkJsonDepth is what readers with their own JSON.parse (a run's config.json) call first.
  assert.throws(() => checkJsonDepth(utf8Bom, "f.json"), formatError(bom));
  // The same text without the mark parses.
  assert.deepEqual(parseJsonText(utf8Bom.slice(1), "f.json"), { states: [[1, 2]] });
});

test("UTF-16 text, with or without its byte-order mark, is refused as not UTF-8 (no parse of mojibake)", () => {
  for (const [text, what] of [
    [utf16le, "little-endian with BOM"],
    [utf16be, "big-endian with BOM"],
    [utf16leNoBom, "without BOM"],
  ] as const) {
    assert.throws(
      () => parseJsonText(text, "f.json"),
      formatError(/^f\.json is not UTF-8 text: it looks like UTF-16 .*save it as UTF-8 without a byte-order mark/),
      what,
    );
  }
});

test("a safetensors header that starts with a byte-order mark says so", () => {
  const header = new TextEncoder().encode("\ufeff{}");
  const bytes = new Uint8Array(8 + header.length);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(header, 8);
  assert.throws(() => decodeSafetensors(bytes), formatError(/^the header starts with a UTF-8 byte-order mark \(BOM\)/));
});

test("staq check-env: a reference file with a byte-order mark fails its line saying so (exit 2)", async () => {
  const dir = await tempDir();
  const file = join(dir, "bom.json");
  await writeFile(file, Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), Buffer.from('{"streams": []}')]));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", file]);
  assert.equal(code, 2, stdout + stderr);
  assert.match(stdout, /^FAIL {2}bom\.json {2}.*bom\.json starts with a UTF-8 byte-order mark \(BOM\)/m);
});
