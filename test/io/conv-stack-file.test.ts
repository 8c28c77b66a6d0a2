// Stack files with a conv first layer (docs/formats.md, “The stack file”): stack.layers.0.weight
// [E, N, out, in, kh, kw] (PyTorch's Conv2d weight per snapshot) with __metadata__ "input_shape".
// The round trip is bit for bit; every malformed conv file fails naming the tensor or key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";
import { readStackFile, stackFromSafetensors, stackToSafetensors } from "../../src/io/stack-file.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { createStack } from "../../src/stack/stack.ts";
import { testGpu } from "../helpers/gpu.ts";
import { pushedStack, randomStates, handBuiltStackFile, spoiledStackFile, type HandBuiltStackFile } from "./stack-fixtures.ts";

const gpu = await testGpu();

// A small, odd image: 5×6×2, 5 filters, a 2×3 kernel (so H' = 4, W' = 4: 80 conv outputs), then
// a hidden layer of 7 and 3 actions. Spelled out in full (stride, padding), as a file reads it back.
const CONV: MlpSpec = {
  inputs: 60,
  conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 0 },
  hidden: [7],
  outputs: 3,
};

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
const snapshotBits = (snapshots: MlpWeights[][]) =>
  snapshots.map((list) => list.map((w) => w.layers.map((l) => [bits(l.weight), bits(l.bias)])));

test("a conv stack survives save → load bit for bit, with its conv layer in PyTorch's Conv2d layout", async () => {
  // η = τ = 1: every coefficient is a power of two, exact in float32, so nothing is rounded.
  const { stack, pushed } = pushedStack(gpu, { mlp: CONV, memory: 4, ensemble: 2, eta: 1, tau: 1, gamma: 0.9, pushes: 3, seed: 41 });
  const bytes = await stackToSafetensors(stack);
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.equal(metadata.input_shape, "5,6,2");
  assert.deepEqual(
    [...tensors].map(([name, t]) => `${name} [${t.shape}]`),
    [
      "stack.layers.0.weight [2,3,5,2,2,3]",
      "stack.layers.0.bias [2,3,5]",
      "stack.layers.1.weight [2,3,7,80]",
      "stack.layers.1.bias [2,3,7]",
      "stack.layers.2.weight [2,3,3,7]",
      "stack.layers.2.bias [2,3,3]",
      "stack.coefficients [2,3]",
    ],
  );
  // Snapshot [e, i] of the conv weight is the pushed [filters, channels·kh·kw] matrix, which is
  // Conv2d's [filters, channels, kh, kw] row-major.
  const conv = tensors.get("stack.layers.0.weight")!;
  pushed.forEach((members, i) =>
    members.forEach((network, e) => {
      const at = (e * 3 + i) * 5 * 12;
      assert.deepEqual(bits(conv.data.subarray(at, at + 60)), bits(network.layers[0].weight), `[${e}, ${i}]`);
    }),
  );

  const loaded = stackFromSafetensors(gpu, bytes);
  assert.deepEqual(loaded.spec, CONV);
  assert.deepEqual(loaded.coefficients, stack.coefficients);
  assert.equal(loaded.correction, stack.correction);
  assert.deepEqual(snapshotBits(await loaded.readSnapshots()), snapshotBits(await stack.readSnapshots()));
  assert.deepEqual(await stackToSafetensors(loaded), bytes);
  // The same ring order (it did not wrap), so the same float32 logits, and both within the
  // float32 bound of the float64 reference of the file.
  const states = randomStates(4, CONV.inputs, 43);
  const logits = await stackLogits(loaded, states);
  assert.deepEqual(bits(logits), bits(await stackLogits(stack, states)));
  const reference = stackLogitsReference(readStackFile(bytes), states, 4);
  logits.forEach((x, k) =>
    assert.ok(
      Math.abs(x - reference.logits[k]) <= reference.bound[k],
      `logit ${k}: ${x} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
    ),
  );
  loaded.destroy();
  stack.destroy();
});

test("an empty conv stack round-trips, its spec read off the 6-D weight and input_shape", async () => {
  const { stack } = pushedStack(gpu, { mlp: CONV, memory: 2, ensemble: 1, pushes: 0 });
  const bytes = await stackToSafetensors(stack);
  assert.deepEqual(decodeSafetensors(bytes).tensors.get("stack.layers.0.weight")!.shape, [1, 0, 5, 2, 2, 3]);
  const contents = readStackFile(bytes);
  assert.deepEqual(contents.spec, CONV);
  assert.equal(contents.stored, 0);
  stack.destroy();
});

test("a conv layer with stride or padding cannot be saved: the format implies stride 1, no padding", async () => {
  for (const [stride, padding] of [
    [2, 0],
    [1, 1],
  ]) {
    const mlp: MlpSpec = {
      inputs: 60,
      conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3], stride, padding },
      hidden: [],
      outputs: 3,
    };
    const stack = createStack(gpu, { mlp, memory: 1 });
    await assert.rejects(
      stackToSafetensors(stack),
      (error: Error) =>
        error instanceof StaqInputError &&
        new RegExp(
          `the conv layer has stride ${stride} and padding ${padding}, which a stack file cannot hold.*stride 1 and no padding`,
        ).test(error.message),
    );
    stack.destroy();
  }
});

// ---- malformed conv stack files (no GPU: readStackFile checks everything createStack needs) ----

/** A valid conv file of CONV (2 members, 2 snapshots) built by hand, and ways to spoil it. */
function validConvFile(): HandBuiltStackFile {
  return handBuiltStackFile(
    [
      [
        [2, 2, 5, 2, 2, 3],
        [2, 2, 5],
      ],
      [
        [2, 2, 7, 80],
        [2, 2, 7],
      ],
      [
        [2, 2, 3, 7],
        [2, 2, 3],
      ],
    ],
    { input_shape: "5,6,2" },
  );
}

function spoiled(change: (file: HandBuiltStackFile) => void): Uint8Array {
  return spoiledStackFile(validConvFile, change);
}

function rejects(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => readStackFile(bytes),
    (error: Error) => {
      assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test("the hand-built conv file reads (so each failure below comes from its one change)", () => {
  const contents = readStackFile(spoiled(() => {}));
  assert.deepEqual(contents.spec, CONV);
  assert.equal(contents.snapshots[1][1].layers[0].weight.length, 60);
  // "H,W,C" may have blanks after the commas (a hand-written file).
  assert.deepEqual(readStackFile(spoiled((f) => (f.metadata.input_shape = "5, 6, 2"))).spec, CONV);
});

test("input_shape: missing, malformed or inconsistent with the conv weight is named", () => {
  rejects(
    spoiled((f) => delete f.metadata.input_shape),
    /__metadata__ has no "input_shape": "stack\.layers\.0\.weight" has shape \[2, 2, 5, 2, 2, 3\], a conv layer.*add "input_shape": "H,W,C" \(e\.g\. "10,10,4"\)/,
  );
  for (const text of ["5x6x2", "5,6", "0,6,2", "5,6,2,1", "5.0,6,2", ""]) {
    rejects(
      spoiled((f) => (f.metadata.input_shape = text)),
      new RegExp(`__metadata__ "input_shape" is ${JSON.stringify(text)}; it must be "H,W,C", three integers >= 1`),
    );
  }
  rejects(
    spoiled((f) => (f.metadata.input_shape = "5,6,3")),
    /"stack\.layers\.0\.weight" has shape \[2, 2, 5, 2, 2, 3\], a conv layer over 2 channels \(its in\), but the 5×6×3 image of __metadata__ "input_shape" \("5,6,3"\) has 3/,
  );
  rejects(
    spoiled((f) => (f.metadata.input_shape = "1,6,2")),
    /"stack\.layers\.0\.weight" has shape \[2, 2, 5, 2, 2, 3\], a 2×3 kernel, which does not fit the 1×6×2 image/,
  );
  // Channels agree and the kernel fits, but the image gives 5·5·4 = 100 conv outputs, not the
  // next layer's 80 inputs.
  rejects(
    spoiled((f) => (f.metadata.input_shape = "6,6,2")),
    /tensor "stack\.layers\.1\.weight" has shape \[2, 2, 7, 80\]; expected \[2, 2, 7, 100\] \(.*in = the 5·5·4 = 100 outputs of the 2×3 conv "stack\.layers\.0\.weight" over the 6×6×2 image of "input_shape"/,
  );
  // On a dense first layer input_shape contradicts the weight.
  rejects(
    spoiled((f) => {
      f.tensors.set("stack.layers.0.weight", { shape: [2, 2, 5, 12], data: new Float32Array(240) });
      f.tensors.set("stack.layers.1.weight", { shape: [2, 2, 7, 5], data: new Float32Array(140) });
    }),
    /__metadata__ "input_shape" is "5,6,2", which describes a conv first layer, but "stack\.layers\.0\.weight" has shape \[2, 2, 5, 12\], a dense layer/,
  );
});

test("conv weights of the wrong rank, at the wrong layer, or with the wrong E, N or bias are named", () => {
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.0.weight", { shape: [2, 2, 5, 2, 6], data: new Float32Array(240) })),
    /tensor "stack\.layers\.0\.weight" has shape \[2, 2, 5, 2, 6\]; expected 4 dimensions \[E, N, out, in\] \(a dense layer\) or 6 \[E, N, out, in, kh, kw\]/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.1.weight", { shape: [2, 2, 7, 5, 4, 4], data: new Float32Array(2240) })),
    /tensor "stack\.layers\.1\.weight" has shape \[2, 2, 7, 5, 4, 4\], a conv layer; staq supports one conv layer, first/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.1.weight", { shape: [2, 2, 7, 2, 80], data: new Float32Array(4480) })),
    /tensor "stack\.layers\.1\.weight" has shape \[2, 2, 7, 2, 80\]; expected 4 dimensions \[E, N, out, in\]$/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.0.bias", { shape: [2, 2, 4], data: new Float32Array(16) })),
    /tensor "stack\.layers\.0\.bias" has shape \[2, 2, 4\]; expected \[2, 2, 5\] \(\[E, N, out\] with out = 5 from "stack\.layers\.0\.weight"\)/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.0.weight", { shape: [2, 1, 5, 2, 2, 3], data: new Float32Array(120) })),
    /tensor "stack\.layers\.0\.weight" has shape \[2, 1, 5, 2, 2, 3\]; expected \[2, 2, 5, 2, 2, 3\] \(\[E, N, out, in, kh, kw\] with E = 2, N = 2 from "stack\.coefficients"\)/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.0.weight", { shape: [2, 2, 5, 2, 0, 3], data: new Float32Array(0) })),
    /tensor "stack\.layers\.0\.weight" has shape \[2, 2, 5, 2, 0, 3\]; a conv layer needs out, in, kh and kw >= 1/,
  );
  rejects(
    spoiled((f) => {
      for (const name of ["stack.layers.1.weight", "stack.layers.1.bias", "stack.layers.2.weight", "stack.layers.2.bias"])
        f.tensors.delete(name);
    }),
    /tensor "stack\.layers\.0\.weight" is a conv layer, and the file has no layer after it/,
  );
  rejects(
    spoiled((f) => (f.tensors.get("stack.layers.0.weight")!.data[60 + 12 + 5] = NaN)),
    /tensor "stack\.layers\.0\.weight" \[0, 1, 1, 0, 1, 2\] is NaN; weights must be finite/,
  );
});
