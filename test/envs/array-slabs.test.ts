import { test } from "node:test";
import assert from "node:assert/strict";
import { ArraySlabs } from "../../src/envs/array-slabs.ts";

test("slab arrays are new, zero-filled, aligned and never overlap", () => {
  const slabs = new ArraySlabs(64);
  const arrays = [slabs.uint8(3), slabs.float64(2), slabs.float32(5), slabs.int32(1), slabs.uint8(1), slabs.float64(1), slabs.float32(100)];
  for (const a of arrays) {
    assert.ok(
      a.every((v) => v === 0),
      "zero-filled",
    );
    assert.equal(a.byteOffset % a.BYTES_PER_ELEMENT, 0, "aligned to its element size");
  }
  assert.deepEqual(
    arrays.map((a) => a.length),
    [3, 2, 5, 1, 1, 1, 100],
  );
  // Writing every array in full leaves every other one as it was: no two share a byte.
  arrays.forEach((a, i) => a.fill(i + 1));
  arrays.forEach((a, i) =>
    assert.ok(
      a.every((v) => v === i + 1),
      `array ${i} kept its values`,
    ),
  );
  // An array larger than a slab gets a buffer of its own.
  assert.equal(arrays[6].buffer.byteLength, 400);
});

test("a slab detached by a transfer is replaced, not reused", () => {
  const slabs = new ArraySlabs(1024);
  const first = slabs.float32(4);
  structuredClone(first.buffer, { transfer: [first.buffer] });
  assert.equal(first.length, 0, "the transferred view is detached");
  const next = slabs.float32(4);
  assert.equal(next.length, 4);
  assert.deepEqual(Array.from(next), [0, 0, 0, 0]);
});
