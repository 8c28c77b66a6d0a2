import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  mulhi32,
  mullo32,
  philox4x32,
  policyUniform,
  splitU64,
  uniformFromPhilox,
  type PhiloxCounter,
  type PhiloxKey,
} from "../../src/random/philox.ts";

// Known-answer vectors from Random123's tests/kat_vectors (github.com/DEShawResearch/random123),
// columns: rounds, counter (4 words), key (2 words), expected output (4 words).
const KNOWN_ANSWERS: [number, PhiloxCounter, PhiloxKey, [number, number, number, number]][] = [
  [10, [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [10, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [10, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  [7, [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48]],
  [7, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662]],
  [7, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a]],
];

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, "0")).join(" ");

test("philox4x32 reproduces Random123's known-answer vectors", () => {
  for (const [rounds, counter, key, expected] of KNOWN_ANSWERS) {
    assert.equal(hex(philox4x32(counter, key, rounds)), hex(expected), `philox4x32-${rounds} ${hex([...counter])} / ${hex([...key])}`);
  }
});

const u32 = fc.oneof(fc.constantFrom(0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

test("mulhi32 and mullo32 are the two halves of the exact 64-bit product", () => {
  fc.assert(
    fc.property(u32, u32, (a, b) => {
      const product = BigInt(a) * BigInt(b);
      assert.equal(mulhi32(a, b), Number(product >> 32n));
      assert.equal(mullo32(a, b), Number(product & 0xffffffffn));
    }),
    { numRuns: 2000 },
  );
});

test("philox4x32 returns u32 words and is a pure function of counter and key", () => {
  fc.assert(
    fc.property(fc.tuple(u32, u32, u32, u32), fc.tuple(u32, u32), (counter, key) => {
      const out = philox4x32(counter, key);
      for (const word of out) assert.ok(Number.isInteger(word) && word >= 0 && word <= 0xffffffff);
      assert.deepEqual(philox4x32(counter, key), out);
      // Changing one counter bit changes the output (a bijection of the counter for a fixed key).
      const flipped: PhiloxCounter = [(counter[0] ^ 1) >>> 0, counter[1], counter[2], counter[3]];
      assert.notDeepEqual(philox4x32(flipped, key), out);
    }),
    { numRuns: 300 },
  );
});

test("uniformFromPhilox maps a word to a float32-exact number in [0, 1)", () => {
  assert.equal(uniformFromPhilox(0), 0);
  assert.equal(uniformFromPhilox(0xff), 0); // the low 8 bits are dropped
  assert.equal(uniformFromPhilox(0x100), 2 ** -24);
  assert.equal(uniformFromPhilox(0xffffffff), 1 - 2 ** -24);
  fc.assert(
    fc.property(u32, (word) => {
      const u = uniformFromPhilox(word);
      assert.ok(u >= 0 && u < 1);
      assert.equal(Math.fround(u), u);
    }),
  );
});

test("splitU64 splits numbers and bigints into low and high words", () => {
  assert.deepEqual(splitU64(0), [0, 0]);
  assert.deepEqual(splitU64(2 ** 32), [0, 1]);
  assert.deepEqual(splitU64(Number.MAX_SAFE_INTEGER), [0xffffffff, 0x1fffff]);
  assert.deepEqual(splitU64(2n ** 64n - 1n), [0xffffffff, 0xffffffff]);
  assert.deepEqual(splitU64(0x123456789abcdef0n), [0x9abcdef0, 0x12345678]);
});

test("policyUniform uses counter (row, step_lo, step_hi, 0) and key (seed_lo, seed_hi)", () => {
  const seed = 0x0123456789abcdefn;
  const step = 0xfedcba9876543210n;
  const word = philox4x32([7, 0x76543210, 0xfedcba98, 0], [0x89abcdef, 0x01234567])[0];
  assert.equal(policyUniform(seed, step, 7), uniformFromPhilox(word));
  // Number and bigint forms of the same value agree; the high words matter.
  assert.equal(policyUniform(5, 2 ** 40, 3), policyUniform(5n, 2n ** 40n, 3));
  assert.notEqual(policyUniform(5, 2 ** 32, 3), policyUniform(5, 0, 3));
  assert.notEqual(policyUniform(2 ** 32, 0, 3), policyUniform(0, 0, 3));
  // The row wraps modulo 2^32 as the kernel's u32 addition does.
  assert.equal(policyUniform(1, 1, 2 ** 32 + 5), policyUniform(1, 1, 5));
});
