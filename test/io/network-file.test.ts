// The network file and BATCH.json of `staq fit` (src/io/network-file.ts): round trips (MLP and
// conv networks), MLP files unchanged byte for byte, and every kind of bad input failing with a
// message that names the tensor, key or entry and what is expected.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { NETWORK_FORMAT, networkToSafetensors, parseTrainingBatchJson, readNetworkFile } from "../../src/io/network-file.ts";
import { decodeSafetensors, encodeSafetensors, type Float32Tensor } from "../../src/io/safetensors.ts";
import { randomMlpWeights, type MlpSpec } from "../../src/stack/mlp.ts";
import { convArbitrary } from "../helpers/conv.ts";
import { seededSigned } from "../helpers/random.ts";

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

const SPEC: MlpSpec = { inputs: 3, hidden: [5], outputs: 2 };
const tensorsOf = (spec: MlpSpec, seed = 1) =>
  decodeSafetensors(networkToSafetensors(spec, randomMlpWeights(spec, seededSigned(seed)))).tensors;

/** The network file of SPEC with `edit` applied to its tensors. */
function edited(edit: (tensors: Map<string, Float32Tensor>) => void): Uint8Array {
  const tensors = tensorsOf(SPEC);
  edit(tensors);
  return encodeSafetensors(tensors);
}

test("a network survives write → read bit for bit, with its spec read off the shapes", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 3 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1000 }),
      (inputs, hidden, outputs, seed) => {
        const spec = { inputs, hidden, outputs };
        const weights = randomMlpWeights(spec, seededSigned(seed));
        const bytes = networkToSafetensors(spec, weights, { steps: "3" });
        const read = readNetworkFile(bytes);
        assert.deepEqual(read.spec, spec);
        assert.deepEqual(read.metadata, { format: NETWORK_FORMAT, steps: "3" });
        read.weights.layers.forEach((layer, l) => {
          assert.deepEqual(bits(layer.weight), bits(weights.layers[l].weight));
          assert.deepEqual(bits(layer.bias), bits(weights.layers[l].bias));
        });
        // The names and shapes of the stack file (docs/formats.md, “The stack file”), for one snapshot: PyTorch's [out, in].
        const names = [...decodeSafetensors(bytes).tensors].map(([name, t]) => `${name} [${t.shape}]`);
        const widths = [inputs, ...hidden, outputs];
        assert.deepEqual(
          names,
          widths.slice(1).flatMap((out, l) => [`net.layers.${l}.weight [${out},${widths[l]}]`, `net.layers.${l}.bias [${out}]`]),
        );
      },
    ),
    { numRuns: 30 },
  );
});

test("a file from another program needs no metadata, and may list its tensors in any order", () => {
  const tensors = [...tensorsOf(SPEC)].reverse();
  const read = readNetworkFile(encodeSafetensors(new Map(tensors)));
  assert.deepEqual(read.spec, SPEC);
  assert.deepEqual(read.metadata, {});
});

test("bad network files fail naming the tensor and what is expected", () => {
  const fails = (bytes: Uint8Array, message: RegExp) =>
    assert.throws(
      () => readNetworkFile(bytes),
      (e: unknown) => e instanceof StaqFormatError && message.test((e as Error).message),
    );
  fails(
    edited((t) => t.delete("net.layers.1.bias")),
    /missing tensor "net\.layers\.1\.bias": the file has layers up to net\.layers\.1, and each layer needs a weight and a bias/,
  );
  fails(
    edited((t) => t.delete("net.layers.0.weight")),
    /missing tensor "net\.layers\.0\.weight"/,
  );
  fails(
    edited((t) => t.set("net.layers.3.bias", { shape: [2], data: new Float32Array(2) })),
    /missing tensor "net\.layers\.2\.weight"/,
  );
  fails(
    edited((t) => t.set("net.layers.0.bias", { shape: [4], data: new Float32Array(4) })),
    /tensor "net\.layers\.0\.bias" has shape \[4\]; expected \[5\], the out of "net\.layers\.0\.weight"/,
  );
  fails(
    edited((t) => t.set("net.layers.0.bias", { shape: [1, 5], data: new Float32Array(5) })),
    /tensor "net\.layers\.0\.bias" has shape \[1, 5\]; expected \[5\]/,
  );
  fails(
    edited((t) => t.set("net.layers.0.weight", { shape: [15], data: new Float32Array(15) })),
    /tensor "net\.layers\.0\.weight" has shape \[15\]; expected \[out, in\]/,
  );
  fails(
    edited((t) => t.set("net.layers.0.weight", { shape: [0, 3], data: new Float32Array(0) })),
    /has shape \[0, 3\]; expected \[out, in\] with out >= 1 and in >= 1/,
  );
  fails(
    edited((t) => t.set("net.layers.1.weight", { shape: [2, 4], data: new Float32Array(8) })),
    /tensor "net\.layers\.1\.weight" has shape \[2, 4\], taking 4 inputs, but "net\.layers\.0\.weight" has 5 outputs; layers must chain, so expected \[2, 5\]/,
  );
  fails(
    edited((t) => (t.get("net.layers.1.weight")!.data[7] = NaN)),
    /tensor "net\.layers\.1\.weight" \[1, 2\] is NaN; weights and biases must be finite/,
  );
  fails(
    edited((t) => (t.get("net.layers.0.bias")!.data[3] = -Infinity)),
    /tensor "net\.layers\.0\.bias" \[3\] is -Infinity/,
  );
  fails(
    edited((t) => t.set("net.layers.0.weight_scale", { shape: [], data: Float32Array.of(1) })),
    /unexpected tensor "net\.layers\.0\.weight_scale"; a network file holds only/,
  );
  fails(
    edited((t) => t.set("net.layers.01.weight", { shape: [], data: Float32Array.of(1) })),
    /unexpected tensor "net\.layers\.01\.weight"/,
  );
  fails(
    encodeSafetensors({ "stack.layers.0.weight": { shape: [1, 1, 2, 3], data: new Float32Array(6) } }),
    /unexpected tensor "stack\.layers\.0\.weight".*looks like a stack file/,
  );
  fails(encodeSafetensors({}), /missing tensor "net\.layers\.0\.weight": the file holds no layers/);
  // A float64 tensor (the default dtype of numpy): the safetensors reader names it and says what to do.
  const header = new TextEncoder().encode(
    JSON.stringify({ "net.layers.0.weight": { dtype: "F64", shape: [1], data_offsets: [0, 8] } }).padEnd(64, " "),
  );
  const f64 = new Uint8Array(8 + header.length + 8);
  new DataView(f64.buffer).setUint32(0, header.length, true);
  f64.set(header, 8);
  fails(f64, /tensor "net\.layers\.0\.weight" has dtype F64; staq reads only F32 tensors/);
});

test("networkToSafetensors refuses weights that do not match the spec", () => {
  const weights = randomMlpWeights(SPEC, seededSigned(3));
  weights.layers[1].bias = new Float32Array(3);
  assert.throws(
    () => networkToSafetensors(SPEC, weights),
    (e: unknown) => e instanceof StaqInputError && /network\.layers\[1\]\.bias has 3 values; expected 2/.test((e as Error).message),
  );
});

test("BATCH.json: parsed into float32 rows, actions and targets", () => {
  const batch = parseTrainingBatchJson('{"obs": [[0.1, -2, 3e-3], [1, 2, 3]], "actions": [1, 0], "targets": [0.5, -1e3]}', "b.json", SPEC);
  assert.equal(batch.batch, 2);
  assert.deepEqual(batch.states, Float32Array.of(0.1, -2, 3e-3, 1, 2, 3));
  assert.deepEqual(batch.actions, Int32Array.of(1, 0));
  assert.deepEqual(batch.targets, Float32Array.of(0.5, -1e3));
  // A string that merely contains "NaN" is left alone (and is then not a number).
  assert.throws(
    () => parseTrainingBatchJson('{"obs": [[1, 2, "NaN x"]], "actions": [0], "targets": [0]}', "b.json", SPEC),
    /obs\[0\]\[2\] is "NaN x"; expected a number/,
  );
});

test("BATCH.json: each mistake names the file, the entry and what is expected", () => {
  const cases: [string, RegExp, typeof StaqFormatError | typeof StaqInputError][] = [
    ['{"obs": [[1, 2, 3]], "actions": [0]', /b\.json is not valid JSON/, StaqFormatError],
    ["[1, 2]", /b\.json is not a JSON object; expected \{"obs"/, StaqFormatError],
    [
      '{"actions": [0], "targets": [0]}',
      /b\.json: has no "obs"; expected \{"obs": \[\[s0, s1, \.\.\.\], \.\.\.\], "actions"/,
      StaqFormatError,
    ],
    ['{"obs": [[1, 2, 3]], "actions": 0, "targets": [0]}', /b\.json: "actions" is not an array/, StaqFormatError],
    ['{"obs": [[1, 2, 3]], "actions": [0], "targets": [0], "weights": [1]}', /b\.json: unexpected field "weights"/, StaqFormatError],
    // A key twice: JSON.parse would keep the last without a word.
    [
      '{"obs": [[1, 2, 3]], "actions": [0], "targets": [0], "targets": [1]}',
      /^b\.json has the field "targets" twice; JSON\.parse would keep only the last/,
      StaqFormatError,
    ],
    ['{"obs": [], "actions": [], "targets": []}', /b\.json: "obs" is empty; a batch needs at least one row/, StaqInputError],
    [
      '{"obs": [[1, 2, 3], [4, 5, 6]], "actions": [0], "targets": [0, 1]}',
      /"obs" has 2 rows, "actions" 1 and "targets" 2; each row needs one of each/,
      StaqInputError,
    ],
    [
      '{"obs": [[1, 2, 3], [4, 5]], "actions": [0, 1], "targets": [0, 1]}',
      /b\.json: obs\[1\] has 2 values, but the network takes 3 inputs; every row of "obs" needs 3/,
      StaqInputError,
    ],
    [
      '{"obs": [[1, 2, 3], 4], "actions": [0, 1], "targets": [0, 1]}',
      /b\.json: obs\[1\] is 4; expected an array of 3 numbers/,
      StaqFormatError,
    ],
    ['{"obs": [[1, true, 3]], "actions": [0], "targets": [0]}', /b\.json: obs\[0\]\[1\] is true; expected a number/, StaqFormatError],
    [
      '{"obs": [[1, 2, 1e39]], "actions": [0], "targets": [0]}',
      /b\.json: obs\[0\]\[2\] = 1e\+39 is beyond the float32 range/,
      StaqInputError,
    ],
    [
      '{"obs": [[1, 2, 3]], "actions": [2], "targets": [0]}',
      /b\.json: actions\[0\] is 2; actions are integers in \[0, 2\), the network's outputs/,
      StaqInputError,
    ],
    ['{"obs": [[1, 2, 3]], "actions": [-1], "targets": [0]}', /actions\[0\] is -1; actions are integers in \[0, 2\)/, StaqInputError],
    ['{"obs": [[1, 2, 3]], "actions": [0.5], "targets": [0]}', /actions\[0\] is 0\.5/, StaqInputError],
    ['{"obs": [[1, 2, 3]], "actions": ["1"], "targets": [0]}', /actions\[0\] is "1"/, StaqInputError],
    // Python's json.dump writes NaN and Infinity bare, which JSON does not allow: named anyway.
    [
      '{"obs": [[1, 2, 3], [1, 2, 3]], "actions": [0, 1], "targets": [0.5, NaN]}',
      /b\.json: targets\[1\] is NaN; every value must be a finite number/,
      StaqInputError,
    ],
    [
      '{"obs": [[1, -Infinity, 3]], "actions": [0], "targets": [0.5]}',
      /b\.json: obs\[0\]\[1\] is -Infinity; every value must be a finite number/,
      StaqInputError,
    ],
    ['{"obs": [[1, 2, 3]], "actions": [NaN], "targets": [0.5]}', /b\.json: actions\[0\] is NaN; actions are integers/, StaqInputError],
    [
      '{"obs": [[1, 2, 3]], "actions": [0], "targets": [1e39]}',
      /b\.json: targets\[0\] = 1e\+39 is beyond the float32 range/,
      StaqInputError,
    ],
  ];
  for (const [text, message, kind] of cases) {
    assert.throws(
      () => parseTrainingBatchJson(text, "b.json", SPEC),
      (e: unknown) => e instanceof kind && message.test((e as Error).message),
      `${text} → ${message}`,
    );
  }
});

// ---- byte-for-byte compatibility of MLP files ----

test("an MLP network file is byte for byte what staq wrote before conv layers existed", () => {
  const weights = randomMlpWeights(SPEC, seededSigned(3));
  const bytes = networkToSafetensors(SPEC, weights, { steps: "3" });
  // The header as staq has always written it: no "input_shape", format first, padded to 8 bytes.
  const header =
    '{"__metadata__":{"format":"staq-net/1","steps":"3"},' +
    '"net.layers.0.weight":{"dtype":"F32","shape":[5,3],"data_offsets":[0,60]},' +
    '"net.layers.0.bias":{"dtype":"F32","shape":[5],"data_offsets":[60,80]},' +
    '"net.layers.1.weight":{"dtype":"F32","shape":[2,5],"data_offsets":[80,120]},' +
    '"net.layers.1.bias":{"dtype":"F32","shape":[2],"data_offsets":[120,128]}}      ';
  const expected = new Uint8Array(8 + header.length + 128);
  new DataView(expected.buffer).setBigUint64(0, BigInt(header.length), true);
  expected.set(new TextEncoder().encode(header), 8);
  let at = 8 + header.length;
  for (const { weight, bias } of weights.layers) {
    for (const values of [weight, bias]) {
      expected.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
      at += values.byteLength;
    }
  }
  assert.deepEqual(bytes, expected);
});

// ---- a conv first layer: net.layers.0.weight [out, in, kh, kw] with "input_shape" ----

// A 5×6×2 image, 5 filters, a 2×3 kernel (H' = W' = 4: 80 conv outputs), a hidden layer of 4, 3 actions.
const CONV_SPEC: MlpSpec = {
  inputs: 60,
  conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 0 },
  hidden: [4],
  outputs: 3,
};

/** The conv network file of CONV_SPEC, with `edit` applied to its tensors and metadata. */
function editedConv(edit: (tensors: Map<string, Float32Tensor>, metadata: Record<string, string>) => void): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(networkToSafetensors(CONV_SPEC, randomMlpWeights(CONV_SPEC, seededSigned(5))));
  edit(tensors, metadata);
  return encodeSafetensors(tensors, metadata);
}

test("a conv network survives write → read bit for bit, as PyTorch's Conv2d weight and input_shape", () => {
  fc.assert(
    fc.property(
      convArbitrary({ maxSide: 6, maxChannels: 3, maxFilters: 6 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 2 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1000 }),
      ({ conv, inputs }, hidden, outputs, seed) => {
        // The files hold stride 1 and no padding only; the kernel may be left to its default.
        const spec: MlpSpec = { inputs, conv: { ...conv, stride: 1, padding: 0 }, hidden, outputs };
        if (seed % 2 === 0 && conv.inputShape[0] >= 3 && conv.inputShape[1] >= 3)
          spec.conv = { inputShape: conv.inputShape, filters: conv.filters };
        const weights = randomMlpWeights(spec, seededSigned(seed));
        const bytes = networkToSafetensors(spec, weights, { steps: "3" });
        const read = readNetworkFile(bytes);
        const [kh, kw] = spec.conv!.kernel ?? [3, 3];
        assert.deepEqual(read.spec, {
          ...spec,
          conv: { inputShape: conv.inputShape, filters: conv.filters, kernel: [kh, kw], stride: 1, padding: 0 },
        });
        assert.deepEqual(read.metadata, { format: NETWORK_FORMAT, steps: "3", input_shape: conv.inputShape.join(",") });
        read.weights.layers.forEach((layer, l) => {
          assert.deepEqual(bits(layer.weight), bits(weights.layers[l].weight));
          assert.deepEqual(bits(layer.bias), bits(weights.layers[l].bias));
        });
        const { tensors } = decodeSafetensors(bytes);
        assert.deepEqual(tensors.get("net.layers.0.weight")!.shape, [conv.filters, conv.inputShape[2], kh, kw]);
        // And writing what was read gives the same bytes.
        assert.deepEqual(networkToSafetensors(read.spec, read.weights, { steps: "3" }), bytes);
      },
    ),
    { numRuns: 30 },
  );
});

test("bad conv network files fail naming the tensor or key and what is expected", () => {
  const fails = (bytes: Uint8Array, message: RegExp) =>
    assert.throws(
      () => readNetworkFile(bytes),
      (e: unknown) => {
        assert.ok(e instanceof StaqFormatError, String(e));
        assert.match((e as Error).message, message);
        return true;
      },
    );
  fails(
    editedConv((_, m) => delete m.input_shape),
    /__metadata__ has no "input_shape": "net\.layers\.0\.weight" has shape \[5, 2, 2, 3\], a conv layer, which reads the state as an image; add "input_shape": "H,W,C"/,
  );
  fails(
    editedConv((_, m) => (m.input_shape = "5;6;2")),
    /__metadata__ "input_shape" is "5;6;2"; it must be "H,W,C", three integers >= 1 \(e\.g\. "10,10,4"\)/,
  );
  fails(
    editedConv((_, m) => (m.input_shape = "5,6,1")),
    /"net\.layers\.0\.weight" has shape \[5, 2, 2, 3\], a conv layer over 2 channels \(its in\), but the 5×6×1 image of __metadata__ "input_shape" \("5,6,1"\) has 1/,
  );
  fails(
    editedConv((_, m) => (m.input_shape = "5,2,2")),
    /a 2×3 kernel, which does not fit the 5×2×2 image/,
  );
  fails(
    editedConv((_, m) => (m.input_shape = "6,6,2")),
    /tensor "net\.layers\.1\.weight" has shape \[4, 80\], taking 80 inputs, but layers must chain: it takes the 5·5·4 = 100 outputs of the 2×3 conv "net\.layers\.0\.weight" over the 6×6×2 image of "input_shape" \(filters·H'·W', flattened in PyTorch's order\), so expected \[4, 100\]/,
  );
  fails(
    editedConv((t) => t.set("net.layers.1.weight", { shape: [4, 81], data: new Float32Array(324) })),
    /"net\.layers\.1\.weight" has shape \[4, 81\], taking 81 inputs, but layers must chain: it takes the 5·4·4 = 80 outputs/,
  );
  fails(
    editedConv((t) => t.set("net.layers.0.weight", { shape: [1, 5, 2, 2, 3], data: new Float32Array(60) })),
    /tensor "net\.layers\.0\.weight" has shape \[1, 5, 2, 2, 3\]; expected \[out, in\] with out >= 1 and in >= 1 \(or, for a conv first layer, PyTorch's Conv2d \[out, in, kh, kw\]\)/,
  );
  fails(
    editedConv((t) => t.set("net.layers.1.weight", { shape: [4, 5, 4, 4], data: new Float32Array(320) })),
    /tensor "net\.layers\.1\.weight" has shape \[4, 5, 4, 4\], a conv layer; staq supports one conv layer, first \("net\.layers\.0\.weight"\)/,
  );
  fails(
    editedConv((t) => t.set("net.layers.0.bias", { shape: [4], data: new Float32Array(4) })),
    /tensor "net\.layers\.0\.bias" has shape \[4\]; expected \[5\], the out of "net\.layers\.0\.weight"/,
  );
  fails(
    editedConv((t) => t.set("net.layers.0.weight", { shape: [5, 2, 0, 3], data: new Float32Array(0) })),
    /"net\.layers\.0\.weight" has shape \[5, 2, 0, 3\]; a conv layer's \[out, in, kh, kw\] needs every dimension >= 1/,
  );
  fails(
    editedConv((t) => ["net.layers.1.weight", "net.layers.1.bias", "net.layers.2.weight", "net.layers.2.bias"].forEach((n) => t.delete(n))),
    /tensor "net\.layers\.0\.weight" is a conv layer, and the file has no layer after it/,
  );
  fails(
    editedConv((t) => (t.get("net.layers.0.weight")!.data[12 + 6 + 1] = Infinity)),
    /tensor "net\.layers\.0\.weight" \[1, 1, 0, 1\] is Infinity; weights and biases must be finite/,
  );
  // A dense first layer with input_shape: the file contradicts itself.
  fails(
    encodeSafetensors(tensorsOf(SPEC), { input_shape: "1,3,1" }),
    /__metadata__ "input_shape" is "1,3,1", which describes a conv first layer, but "net\.layers\.0\.weight" has shape \[5, 3\], a dense layer/,
  );
});

test("networkToSafetensors refuses what the format cannot hold: stride, padding, a contradicting input_shape", () => {
  const refuses = (spec: MlpSpec, metadata: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => networkToSafetensors(spec, randomMlpWeights(spec, seededSigned(7)), metadata),
      (e: unknown) => e instanceof StaqInputError && message.test((e as Error).message),
    );
  refuses(
    { ...CONV_SPEC, inputs: 60, conv: { ...CONV_SPEC.conv!, stride: 2 } },
    {},
    /the conv layer has stride 2 and padding 0, which a network file cannot hold: it stores the Conv2d weight and "input_shape" only, which mean stride 1 and no padding/,
  );
  refuses({ ...CONV_SPEC, conv: { ...CONV_SPEC.conv!, padding: 1 } }, {}, /stride 1 and padding 1, which a network file cannot hold/);
  refuses(CONV_SPEC, { input_shape: "6,5,2" }, /metadata "input_shape" is "6,5,2", but the network's conv layer reads a 5×6×2 image/);
  refuses(SPEC, { input_shape: "1,3,1" }, /metadata "input_shape" \("1,3,1"\) describes a conv first layer, but the network has none/);
  // The spec's own input_shape, given again, is fine.
  assert.equal(
    readNetworkFile(networkToSafetensors(CONV_SPEC, randomMlpWeights(CONV_SPEC, seededSigned(7)), { input_shape: "5,6,2" })).metadata
      .input_shape,
    "5,6,2",
  );
});
