// The conv layer's float64 reference on hand-computed cases (the state's h, w, c order, PyTorch's
// weight and flatten orders, stride and zero padding), its validation, and its place in the
// snapshot layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { convGeometry, patchSource, statePatches, validateConvSpec } from "../../src/stack/conv.ts";
import { packSnapshot, snapshotLayout, storedRow, unpackSnapshot } from "../../src/stack/layout.ts";
import { layerShapes, parameterCount, validateMlpSpec, type MlpSpec } from "../../src/stack/mlp.ts";
import { mlpReference } from "../../src/stack/reference.ts";
import { forwardActivations, toFloat64 } from "../../src/train/reference.ts";
import { convArbitrary } from "../helpers/conv.ts";
import { randomSnapshots } from "../helpers/random.ts";

const f32 = (values: number[]) => Float32Array.from(values);

test("a 2×2 kernel on a 3×3 image: the four outputs, their ReLU and a head over them, by hand", () => {
  const spec: MlpSpec = { inputs: 9, conv: { inputShape: [3, 3, 1], filters: 1, kernel: [2, 2] }, hidden: [], outputs: 1 };
  // Image rows [1 2 3] [4 5 6] [7 8 9]; kernel [[1, 2], [3, 4]]:
  //   (0,0) 1·1 + 2·2 + 4·3 + 5·4 = 37   (0,1) 2 + 6 + 15 + 24 = 47
  //   (1,0) 4 + 10 + 21 + 32 = 67        (1,1) 5 + 12 + 24 + 36 = 77,   then − 50 (bias) and ReLU:
  //   [0, 0, 17, 27]; head [1, −1, 2, 0.5] + 1 = 34 + 13.5 + 1 = 48.5.
  const weights = {
    layers: [
      { weight: f32([1, 2, 3, 4]), bias: f32([-50]) },
      { weight: f32([1, -1, 2, 0.5]), bias: f32([1]) },
    ],
  };
  const state = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(Array.from(mlpReference(spec, weights, state).value), [48.5]);
  const activations = forwardActivations(spec, toFloat64(weights), state, 1);
  assert.deepEqual(Array.from(activations[1]), [0, 0, 17, 27]);
});

test("channels are the fastest-moving index of the state; the weight is [filter][channel][i][j]", () => {
  // A 2×2 image of 2 channels: channel 0 [[1, 2], [3, 4]], channel 1 [[10, 20], [30, 40]], stored
  // (y, x, c) row-major. The filter takes channel 0 at (0, 0) and channel 1 at (1, 1): 1 + 40.
  const spec: MlpSpec = { inputs: 8, conv: { inputShape: [2, 2, 2], filters: 1, kernel: [2, 2] }, hidden: [], outputs: 1 };
  const state = [1, 10, 2, 20, 3, 30, 4, 40];
  const weights = {
    layers: [
      { weight: f32([1, 0, 0, 0, 0, 0, 0, 1]), bias: f32([0]) },
      { weight: f32([1]), bias: f32([0]) },
    ],
  };
  assert.deepEqual(Array.from(mlpReference(spec, weights, state).value), [41]);
});

test("stride 2 and zero padding 1, two filters, flattened filter-major as PyTorch's flatten(1)", () => {
  // 3×3 image [1..9], 3×3 kernels, padding 1, stride 2: output positions (0,0) (0,1) (1,0) (1,1)
  // whose windows start at (−1,−1) (−1,1) (1,−1) (1,1). All-ones kernel: 1+2+4+5 = 12, 2+3+5+6 = 16,
  // 4+5+7+8 = 24, 5+6+8+9 = 28; the all-twos kernel doubles them.
  const spec: MlpSpec = {
    inputs: 9,
    conv: { inputShape: [3, 3, 1], filters: 2, kernel: [3, 3], stride: 2, padding: 1 },
    hidden: [],
    outputs: 1,
  };
  const g = convGeometry(spec.conv!);
  assert.deepEqual([g.outHeight, g.outWidth, g.positions, g.patch], [2, 2, 4, 9]);
  assert.equal(patchSource(g, 0, 0), -1); // the window's top-left corner is padding
  assert.equal(patchSource(g, 0, 4), 0); // its centre is pixel (0, 0)
  assert.equal(patchSource(g, 3, 4), 8); // the last window's centre is pixel (2, 2)
  assert.equal(patchSource(g, 3, 8), -1); // and its bottom-right corner is padding
  const head = f32([0, 0, 0, 0, 0, 1, 0, 0]); // picks filter 1 at position 1
  const weights = {
    layers: [
      { weight: f32([...Array(9).fill(1), ...Array(9).fill(2)]), bias: f32([0, 0]) },
      { weight: head, bias: f32([0]) },
    ],
  };
  const state = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const activations = forwardActivations(spec, toFloat64(weights), state, 1);
  assert.deepEqual(Array.from(activations[1]), [12, 16, 24, 28, 24, 32, 48, 56]);
  assert.deepEqual(Array.from(mlpReference(spec, weights, state).value), [32]);
});

test("the paper's MinAtar network has 16·8·8 = 1024 conv outputs and its parameter count", () => {
  const spec: MlpSpec = { inputs: 400, conv: { inputShape: [10, 10, 4], filters: 16 }, hidden: [128], outputs: 3 };
  assert.deepEqual(layerShapes(spec), [
    { inputs: 36, outputs: 16 },
    { inputs: 1024, outputs: 128 },
    { inputs: 128, outputs: 3 },
  ]);
  // PyTorch: Conv2d(4, 16, 3) 16·4·9 + 16, Linear(1024, 128) 1024·128 + 128, Linear(128, 3) 128·3 + 3.
  assert.equal(parameterCount(spec), 16 * 36 + 16 + 1024 * 128 + 128 + 128 * 3 + 3);
  const layout = snapshotLayout(spec);
  assert.equal(layout.layers[0].width, 64 * 16);
  assert.equal(layout.layers[1].rows, 1024);
});

test("bad conv specs fail with the field and the fix", () => {
  const bad: [object, RegExp][] = [
    [{ inputShape: [10, 10], filters: 16 }, /inputShape must be \[height, width, channels\]/],
    [{ inputShape: [10, 10, 4], filters: 0 }, /filters must be an integer >= 1/],
    [{ inputShape: [10, 10, 3], filters: 16 }, /has 300 values; the state has 400/],
    [{ inputShape: [10, 10, 4], filters: 16, kernel: [11, 3] }, /does not fit a 10×10 image/],
    [{ inputShape: [10, 10, 4], filters: 16, padding: 3 }, /padding 3 must be smaller than the kernel/],
    [{ inputShape: [10, 10, 4], filters: 16, stride: 0 }, /stride must be an integer >= 1/],
  ];
  for (const [conv, message] of bad) {
    assert.throws(
      () => validateConvSpec(conv as never, 400),
      (error: unknown) => error instanceof StaqInputError && message.test(error.message),
    );
    assert.throws(() => validateMlpSpec({ inputs: 400, conv: conv as never, hidden: [], outputs: 2 }), StaqInputError);
  }
});

test("layout: a conv snapshot packs and unpacks bit for bit; the next layer's rows are position-major", () => {
  fc.assert(
    fc.property(
      convArbitrary(),
      fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 1 }),
      fc.integer(),
      ({ conv, inputs }, hidden, seed) => {
        const spec: MlpSpec = { inputs, conv, hidden, outputs: 3 };
        const layout = snapshotLayout(spec);
        const [weights] = randomSnapshots(spec, 1, seed);
        const packed = packSnapshot(layout, weights);
        assert.deepEqual(unpackSnapshot(layout, packed), weights);
        const g = convGeometry(conv);
        const [convLayer, next] = layout.layers;
        assert.equal(next.rows, g.positions * convLayer.paddedOutputs);
        // PyTorch's input o·P + p of the next layer is stored at row p·(padded filters) + o.
        for (let o = 0; o < g.filters; o++)
          for (let p = 0; p < g.positions; p++) assert.equal(storedRow(layout, 1, o * g.positions + p), p * convLayer.paddedOutputs + o);
        // Patches copy state values or are zero.
        const state = Array.from({ length: inputs }, (_, k) => k + 1);
        const patches = statePatches(g, state);
        for (let p = 0; p < g.positions; p++)
          for (let k = 0; k < g.patch; k++) {
            const source = patchSource(g, p, k);
            assert.equal(patches[p * g.patch + k], source < 0 ? 0 : state[source]);
          }
      },
    ),
  );
});
