import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  float32FromLittleEndian,
  float32ToLittleEndian,
  type Float32Tensor,
} from "../../src/io/safetensors.ts";

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

/** A file from a header (object or raw text) and a byte buffer, with the 8-byte length in front. */
function file(header: object | string, buffer: Uint8Array = new Uint8Array(0), lengthField?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + buffer.length);
  const view = new DataView(bytes.buffer);
  const length = lengthField ?? json.length;
  view.setUint32(0, length % 2 ** 32, true);
  view.setUint32(4, Math.floor(length / 2 ** 32), true);
  bytes.set(json, 8);
  bytes.set(buffer, 8 + json.length);
  return bytes;
}

const f32 = (shape: number[], begin: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
});

function rejects(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => decodeSafetensors(bytes),
    (error: Error) => {
      assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

// ---- the format, byte for byte ----

test("encodes one tensor exactly as the spec lays it out", () => {
  const bytes = encodeSafetensors({ attn0: { shape: [1, 1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) } });
  // The header is 65 bytes of JSON, padded with 7 spaces so the data starts at 8 + 72 = 80, a
  // multiple of 8. Little-endian float32: 1 = 0x3f800000, 2 = 0x40000000, 3 = 0x40400000,
  // 4 = 0x40800000, 5 = 0x40a00000.
  const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
  assert.equal(header.length, 65);
  const expected = [
    72,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...Array.from(header, (c) => c.charCodeAt(0)),
    ...Array(7).fill(0x20),
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x80,
    0x3f,
    0x00,
    0x00,
    0x00,
    0x40,
    0x00,
    0x00,
    0x40,
    0x40,
    0x00,
    0x00,
    0x80,
    0x40,
    0x00,
    0x00,
    0xa0,
    0x40,
  ];
  assert.deepEqual(Array.from(bytes), expected);
});

test("writes __metadata__ first as strings, and no __metadata__ when there is none", () => {
  const withMetadata = encodeSafetensors({}, { framework: "pt" });
  const header = '{"__metadata__":{"framework":"pt"}}'; // 35 bytes, padded to 40
  assert.deepEqual(Array.from(withMetadata), [40, 0, 0, 0, 0, 0, 0, 0, ...Array.from(header, (c) => c.charCodeAt(0)), 32, 32, 32, 32, 32]);
  assert.deepEqual(Array.from(encodeSafetensors({})), [8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
});

test("reads a file that lists tensors out of offset order and has no padding", () => {
  // Readers must not assume the writer's order or alignment; only the offsets count.
  const buffer = new Uint8Array(12);
  new DataView(buffer.buffer).setFloat32(0, -2.5, true);
  new DataView(buffer.buffer).setFloat32(4, 0.25, true);
  new DataView(buffer.buffer).setFloat32(8, 7, true);
  const bytes = file({ b: f32([1], 8), __metadata__: { note: "x" }, a: f32([2], 0) }, buffer);
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.deepEqual([...tensors.keys()], ["b", "a"]);
  assert.deepEqual(Array.from(tensors.get("a")!.data), [-2.5, 0.25]);
  assert.deepEqual(Array.from(tensors.get("b")!.data), [7]);
  assert.deepEqual(metadata, { note: "x" });
});

test("scalars ([]) hold one value and empty tensors (a 0 dimension) hold none", () => {
  const bytes = encodeSafetensors({
    scalar: { shape: [], data: Float32Array.of(3) },
    empty: { shape: [2, 0, 3], data: new Float32Array(0) },
  });
  const { tensors } = decodeSafetensors(bytes);
  assert.deepEqual(tensors.get("scalar"), { shape: [], data: Float32Array.of(3) });
  assert.deepEqual(tensors.get("empty"), { shape: [2, 0, 3], data: new Float32Array(0) });
});

// ---- round trip ----

/** Any float32 bit pattern (NaN payloads too), with fast-check's bias toward -0, subnormals, ±Infinity. */
const float32Bits = fc.oneof(
  fc.float().map((x) => new Uint32Array(Float32Array.of(x).buffer)[0]),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const tensorArbitrary = fc
  .array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      bits: fc.array(float32Bits, { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }),
    }),
  )
  .map(({ shape, bits: words }): Float32Tensor => ({ shape, data: new Float32Array(Uint32Array.from(words).buffer) }));

const filesArbitrary = fc.record({
  tensors: fc.uniqueArray(
    fc.tuple(
      fc.string({ unit: "grapheme", maxLength: 12 }).filter((n) => n !== "__metadata__"),
      tensorArbitrary,
    ),
    {
      selector: ([name]) => name,
      maxLength: 6,
    },
  ),
  metadata: fc.array(fc.tuple(fc.string({ unit: "grapheme", maxLength: 10 }), fc.string({ unit: "grapheme", maxLength: 20 })), {
    maxLength: 4,
  }),
  misalignment: fc.integer({ min: 0, max: 7 }),
});

test("decode(encode(x)) gives back every name, shape, metadata entry and float32 bit pattern", () => {
  fc.assert(
    fc.property(filesArbitrary, ({ tensors, metadata, misalignment }) => {
      const metadataObject = Object.fromEntries(metadata);
      const bytes = encodeSafetensors(new Map(tensors), metadataObject);

      // The layout the spec asks for: header length a multiple of 8, tensors tiling the buffer.
      const headerBytes = new DataView(bytes.buffer).getUint32(0, true);
      assert.equal(headerBytes % 8, 0);
      assert.equal(bytes.length, 8 + headerBytes + tensors.reduce((sum, [, t]) => sum + t.data.byteLength, 0));

      // Decode from an unaligned view, as from a Buffer sliced out of a larger read.
      const shifted = new Uint8Array(bytes.length + misalignment);
      shifted.set(bytes, misalignment);
      const decoded = decodeSafetensors(shifted.subarray(misalignment));
      assert.deepEqual([...decoded.tensors.keys()].sort(), tensors.map(([name]) => name).sort());
      for (const [name, tensor] of tensors) {
        const got = decoded.tensors.get(name)!;
        assert.deepEqual(got.shape, tensor.shape);
        assert.deepEqual(bits(got.data), bits(tensor.data));
      }
      assert.deepEqual(new Map(Object.entries(decoded.metadata)), new Map(Object.entries(metadataObject)));
    }),
    { numRuns: 200 },
  );
});

test("on a big-endian host each value's bytes are reversed, both ways", () => {
  fc.assert(
    fc.property(fc.array(float32Bits, { maxLength: 16 }), (words) => {
      const littleEndian = new Uint8Array(words.length * 4);
      words.forEach((w, k) => new DataView(littleEndian.buffer).setUint32(4 * k, w, true));
      // What a big-endian host's Float32Array holds in memory: each value most significant byte first.
      const hostValues = float32FromLittleEndian(littleEndian, false);
      const hostBytes = new DataView(hostValues.buffer);
      words.forEach((w, k) => assert.equal(hostBytes.getUint32(4 * k, false), w));
      const back = new Uint8Array(littleEndian.length);
      float32ToLittleEndian(hostValues, back, false);
      assert.deepEqual(back, littleEndian);
    }),
  );
});

// ---- malformed files: each names the problem (and the tensor, where there is one) ----

test("rejects a file shorter than the 8-byte length", () => {
  rejects(new Uint8Array(5), /5 bytes long.*8-byte header length/);
});

test("rejects a header length beyond the end of the file", () => {
  rejects(file({ a: f32([1], 0) }, new Uint8Array(4), 500), /header length field says 500 bytes, but only \d+ follow/);
});

test("rejects an absurd header length (not a safetensors file)", () => {
  rejects(file({}, new Uint8Array(0), 2 ** 40), /more than the 100000000 safetensors allows/);
});

test("an absurd header length past 2^53 is quoted exactly, not rounded", () => {
  // 2^63 and 2^64 − 1: as numbers these print as 9223372036854776000 and 18446744073709552000.
  const bytes = file({});
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
  rejects(bytes, /header length field says 9223372036854775808 bytes, more than/);
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  rejects(bytes, /header length field says 18446744073709551615 bytes, more than/);
  // 2^53 + 1, the first integer a number cannot hold.
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 53n + 1n, true);
  rejects(bytes, /header length field says 9007199254740993 bytes/);
});

test("rejects a header that is not UTF-8", () => {
  const bytes = file("{}  ");
  bytes[9] = 0xff;
  rejects(bytes, /not valid UTF-8/);
});

test("rejects a header that does not start with {", () => {
  rejects(file(" {}"), /must be a JSON object starting with "\{"/);
  rejects(file("[]"), /starting with "\{"/);
});

test("rejects a header that is not JSON", () => {
  rejects(file('{"a": {"dtype": "F32",'), /header is not valid JSON/);
});

test("rejects an unknown dtype, naming the tensor and the dtype", () => {
  rejects(
    file({ "layer.w": { dtype: "Q7", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor "layer\.w" has unknown dtype "Q7"/,
  );
});

test("rejects a dtype other than F32, naming the tensor and saying what to do", () => {
  rejects(
    file({ "layer.w": { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor "layer\.w" has dtype F16; staq reads only F32.*float/,
  );
});

test("rejects a missing dtype, a bad shape and bad data_offsets", () => {
  rejects(file({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": "dtype" is missing/);
  rejects(
    file({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor "w": shape must be an array of integers >= 0/,
  );
  rejects(file({ w: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": shape must be/);
  rejects(
    file({ w: { dtype: "F32", shape: [1], data_offsets: [0] } }, new Uint8Array(4)),
    /tensor "w": "data_offsets" must be \[begin, end\]/,
  );
  rejects(
    file({ w: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)),
    /tensor "w": data_offsets \[4, 0\] end before they begin/,
  );
});

test("rejects a shape whose size is not the data's byte length", () => {
  rejects(
    file({ w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20)),
    /tensor "w": shape \[2,3\] of F32 needs 24 bytes, but data_offsets \[0, 20\] span 20/,
  );
});

test("rejects offsets past the end of the file (truncated), naming the tensor", () => {
  rejects(
    file({ a: f32([2], 0), b: f32([3], 8) }, new Uint8Array(12)),
    /tensor "b": data_offsets \[8, 20\] run past the end of the byte buffer \(12 bytes; truncated/,
  );
});

test("rejects overlapping tensors, naming both", () => {
  rejects(file({ a: f32([3], 0), b: f32([2], 8) }, new Uint8Array(16)), /tensors "a" \[0, 12\] and "b" \[8, 16\] overlap/);
});

test("rejects holes in the byte buffer, between tensors and at its start", () => {
  rejects(
    file({ a: f32([1], 0), b: f32([1], 8) }, new Uint8Array(12)),
    /bytes \[4, 8\) after tensor "a" belong to no tensor \(a hole before tensor "b"\)/,
  );
  rejects(file({ a: f32([1], 4) }, new Uint8Array(8)), /bytes \[0, 4\) at the start of the byte buffer belong to no tensor/);
});

test("rejects trailing bytes that no tensor covers", () => {
  rejects(file({ a: f32([1], 0) }, new Uint8Array(12)), /byte buffer has 12 bytes but the last tensor, "a", ends at 4; 8 trailing bytes/);
});

test("rejects metadata values that are not strings, and metadata that is not an object", () => {
  rejects(file({ __metadata__: { memory: 3 } }), /__metadata__ "memory" is 3; safetensors metadata values must be strings/);
  rejects(file({ __metadata__: ["x"] }), /__metadata__ must be an object of strings/);
});

test("rejects a key written twice in the header: a tensor, __metadata__, a metadata key, a field of a tensor", () => {
  // JSON.parse keeps the last of repeated keys without a word, so the file would load with one of
  // two values silently dropped (a stack's "correction" of 99 read as 1, or the other way round).
  const w = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}';
  rejects(file(`{"w": ${w}, "w": ${w}}`, new Uint8Array(4)), /^tensor "w" is listed twice in the header; .*remove the one you do not mean/);
  rejects(
    file(`{"__metadata__": {"correction": "99", "format": "x", "correction": "1"}, "w": ${w}}`, new Uint8Array(4)),
    /^__metadata__ has "correction" twice; .*remove the one you do not mean/,
  );
  rejects(file(`{"__metadata__": {}, "w": ${w}, "__metadata__": {}}`, new Uint8Array(4)), /^"__metadata__" is written twice in the header/);
  rejects(
    file('{"w": {"dtype": "F32", "shape": [1], "dtype": "F32", "data_offsets": [0, 4]}}', new Uint8Array(4)),
    /^tensor "w" has the field "dtype" twice/,
  );
  // Spelt with an escape it is the same key; the same key in two different objects is no repeat.
  rejects(file(`{"w": ${w}, "\\u0077": ${w}}`, new Uint8Array(4)), /^tensor "w" is listed twice/);
  const fine = decodeSafetensors(
    file(
      `{"__metadata__": {"dtype": "a", "w": "b"}, "w": ${w}, "v": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`,
      new Uint8Array(8),
    ),
  );
  assert.deepEqual([...fine.tensors.keys()], ["w", "v"]);
  assert.deepEqual(fine.metadata, { dtype: "a", w: "b" });
});

test("rejects a tensor entry that is not an object", () => {
  rejects(file({ w: [1, 2] }), /tensor "w": expected \{ "dtype", "shape", "data_offsets" \}/);
});

// ---- what encode refuses ----

test("encode refuses data that does not match the shape, non-string metadata and the reserved name", () => {
  assert.throws(() => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }), StaqInputError);
  assert.throws(
    () => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }),
    /tensor "w": shape \[2,2\] holds 4 values but data has 3/,
  );
  assert.throws(() => encodeSafetensors({}, { memory: 3 as unknown as string }), /metadata "memory" is a number; .*must be strings/);
  assert.throws(() => encodeSafetensors({ __metadata__: { shape: [], data: new Float32Array(1) } }), /reserves it for metadata/);
  assert.throws(
    () => encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } }),
    /tensor "w": shape must be an array of integers >= 0/,
  );
});

test("names that are awkward in JavaScript objects round-trip: __proto__, empty, numeric, non-ASCII", () => {
  const names = ["__proto__", "", "10", "2", "größe.λ"];
  const tensors = new Map(names.map((name, k): [string, Float32Tensor] => [name, { shape: [1], data: Float32Array.of(k) }]));
  const decoded = decodeSafetensors(encodeSafetensors(tensors, Object.fromEntries([["__proto__", "meta"]])));
  assert.deepEqual(Object.entries(decoded.metadata), [["__proto__", "meta"]]);
  for (const [name, tensor] of tensors) assert.deepEqual(decoded.tensors.get(name)?.data, tensor.data, name);
  assert.equal(decoded.tensors.size, names.length);
});
