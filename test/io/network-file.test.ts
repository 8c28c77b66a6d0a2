// The network file and BATCH.json of `staq fit` (src/io/network-file.ts): round trips, and every
// kind of bad input failing with a message that names the tensor or the entry and what is expected.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { NETWORK_FORMAT, networkToSafetensors, parseTrainingBatchJson, readNetworkFile } from "../../src/io/network-file.ts";
import { decodeSafetensors, encodeSafetensors, type Float32Tensor } from "../../src/io/safetensors.ts";
import { randomMlpWeights, type MlpSpec } from "../../src/stack/mlp.ts";
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
