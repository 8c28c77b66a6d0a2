// CRC-32 on hand-checked values: the standard check value of "123456789", the empty input, and
// Python's zlib.crc32 of a few bytes (computed with Python's zlib).
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "../../src/io/crc32.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("crc32 gives the catalogued check value and zlib's values", () => {
  // The check value every CRC-32/ISO-HDLC implementation is specified by (the CRC catalogue).
  assert.equal(crc32(bytes("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  // zlib.crc32(b"a") and zlib.crc32(bytes(range(256))) in Python.
  assert.equal(crc32(bytes("a")), 0xe8b7be43);
  assert.equal(crc32(Uint8Array.from({ length: 256 }, (_, i) => i)), 0x29058c73);
});
