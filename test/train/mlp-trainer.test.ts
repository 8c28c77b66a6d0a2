// The GPU trainer against the float64 reference, one gradient step on random shapes and values:
// gradients within a derived float32 bound, then Adam's update of the GPU's own gradients within
// Adam's rounding bound. Output buffers are poisoned first, so an element a kernel leaves unwritten
// cannot pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { POISON_BITS, poisonBuffer } from "../../src/gpu/buffers.ts";
import { wrapDevice } from "../../src/gpu/gpu.ts";
import { readUint32 } from "../../src/gpu/readback.ts";
import { unpackSnapshot } from "../../src/stack/layout.ts";
import { convGeometry } from "../../src/stack/conv.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../../src/stack/mlp.ts";
import { F32_UNIT_ROUNDOFF, gammaBound } from "../../src/stack/reference.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import {
  adamStep,
  createAdamState,
  flattenParameters,
  forwardActivations,
  layerBackward,
  layerForward,
  lossAndGradient,
  toFloat64,
  type AdamOptions,
  type LossOptions,
  type MlpWeights64,
} from "../../src/train/reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededSigned } from "../helpers/random.ts";

interface Case {
  spec: MlpSpec;
  ensemble: number;
  batch: number;
  seed: number;
  loss: LossOptions;
  adam: AdamOptions;
}

/**
 * Conv networks, about one case in four: each shape compiles its kernels (seconds on lavapipe), so
 * they come from a short list that covers zero padding, a stride of 2, a non-square kernel, filter
 * counts off multiples of 4 and the dense layers after the conv; values, batch, ensemble and
 * options vary as for the MLPs. (The float64 twin is checked on random conv geometries against
 * finite differences: test/train/reference.test.ts.)
 */
const CONV_SHAPES: readonly MlpSpec[] = [
  { inputs: 40, conv: { inputShape: [5, 4, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 1 }, hidden: [7], outputs: 3 },
  { inputs: 36, conv: { inputShape: [6, 6, 1], filters: 3, kernel: [3, 3], stride: 2, padding: 0 }, hidden: [], outputs: 2 },
  // 81 positions: more than the conv weight gradient's 64 threads per sum, so some take two positions.
  { inputs: 100, conv: { inputShape: [10, 10, 1], filters: 2, kernel: [2, 2], stride: 1, padding: 0 }, hidden: [], outputs: 2 },
];

/** One case per conv shape, run first on the multi-dispatch path, so that every shape runs whatever the seed. */
const convExamples: [Case][] = CONV_SHAPES.map((spec, i) => [
  { spec, ensemble: 2, batch: 37 - 11 * i, seed: 1000 + i, loss: { loss: "mse" }, adam: { lr: 1e-3, weightDecay: 0 } },
]);

const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({
    inputs: fc.integer({ min: 1, max: 9 }),
    hidden: fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 2 }),
    outputs: fc.integer({ min: 1, max: 6 }),
    ensemble: fc.integer({ min: 1, max: 3 }),
    batch: fc.integer({ min: 1, max: 40 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    huber: fc.boolean(),
    lr: fc.constantFrom(1e-3, 0.05),
    weightDecay: fc.constantFrom(0, 0.01),
    clip: fc.boolean(),
    conv: fc.option(fc.constantFrom(...CONV_SHAPES), { freq: 3 }),
  })
  .map(({ inputs, hidden, outputs, ensemble, batch, seed, huber, lr, weightDecay, clip, conv }) => ({
    spec: conv ?? { inputs, hidden, outputs },
    ensemble,
    batch,
    seed,
    loss: huber ? { loss: "huber", huberDelta: 0.5 } : { loss: "mse" },
    adam: { lr, weightDecay, ...(clip ? { maxGradNorm: 0.5 } : {}) },
  }));

/**
 * The fused path's cases: the same values, options and ensembles, on a few network shapes. Its
 * kernel computes every element as the multi-dispatch kernels do (the shapes above exercise those
 * on random shapes), and lavapipe takes tens of seconds to compile it for each new shape, so its
 * shapes come from a short list that covers no hidden layer, one and two, inputs and widths that
 * are not multiples of 4, and batches that end inside a row tile of 8.
 */
const FUSED_SHAPES: readonly { spec: MlpSpec; batch: number }[] = [
  { spec: { inputs: 3, hidden: [], outputs: 5 }, batch: 13 },
  { spec: { inputs: 7, hidden: [10], outputs: 2 }, batch: 1 },
  { spec: { inputs: 2, hidden: [6, 17], outputs: 3 }, batch: 30 },
];
const fusedCaseArbitrary: fc.Arbitrary<Case> = fc
  .tuple(caseArbitrary, fc.constantFrom(...FUSED_SHAPES))
  .map(([c, shape]) => ({ ...c, spec: shape.spec, batch: shape.batch }));

/** |W| for every layer (the "absolute network"). */
function absolute(net: MlpWeights64): MlpWeights64 {
  return { layers: net.layers.map(({ weight, bias }) => ({ weight: weight.map(Math.abs), bias: bias.map(Math.abs) })) };
}

/** Zeroes y where the reference's ReLU output `mask` is not active. */
function masked(y: Float64Array, mask: Float64Array): Float64Array {
  for (let k = 0; k < y.length; k++) if (!(mask[k] > 0)) y[k] = 0;
  return y;
}

/**
 * A bound on |float32 gradient − exact gradient|, elementwise, when every ReLU decision is the
 * same in both (checked by the caller). Every quantity of a step is a sum of products built from
 * the weights, the states, the targets and a few scalars; rounding each operation of such a
 * computation perturbs each term by a factor within 1 ± γ_K, K the number of roundings on the
 * longest path (Higham §3.1, with (1 + γ_a)(1 + γ_b) ≤ 1 + γ_{a+b}). So the error is at most γ_K
 * times the same computation with every input and weight replaced by its absolute value and every
 * subtraction by an addition: the reference's own layer functions on |W|, |x|, with the
 * reference's ReLU masks. K: forward Σ_l (n_l + 1) (a conv output sums its patch, n = C·kh·kw);
 * the residual, its slope and the scale 3; backward through each layer (out_l + 1) for the
 * inputs' deltas; the parameter gradients' sum over the batch B + 1 (a conv layer's over the batch
 * and its P output positions, B·P + 1, in whatever order the kernel adds them: a term of any
 * summation tree over n terms meets at most n − 1 additions, and train_conv_weight_grad's strided
 * partials and fixed tree are one such tree); 2 for the f32 rounding of the grad scale and the states.
 */
function gradientBound(
  spec: MlpSpec,
  net: MlpWeights64,
  states: Float64Array,
  actions: Int32Array,
  targets: Float64Array,
  loss: LossOptions,
): Float64Array {
  const shapes = layerShapes(spec);
  const head = shapes.length - 1;
  const batch = actions.length;
  const reference = forwardActivations(spec, net, states, batch);
  const abs = absolute(net);
  const a: Float64Array[] = [states.map(Math.abs)];
  shapes.forEach((_, l) => {
    const y = layerForward(spec, l, abs.layers[l], a[l], batch);
    a.push(l < head ? masked(y, reference[l + 1]) : y);
  });
  const scale = (loss.loss ?? "mse") === "mse" ? 2 / batch : 1 / batch;
  let dy: Float64Array = new Float64Array(batch * spec.outputs);
  for (let b = 0; b < batch; b++)
    dy[b * spec.outputs + actions[b]] = scale * (a[shapes.length][b * spec.outputs + actions[b]] + Math.abs(targets[b]));
  const positions = spec.conv ? convGeometry(spec.conv).positions : 1;
  let depth = shapes.reduce((k, { inputs }) => k + inputs + 1, 0) + 3 + batch * positions + 1 + 2;
  const perLayer: { weight: Float64Array; bias: Float64Array }[] = [];
  for (let l = head; l >= 0; l--) {
    const { weight, bias, dx } = layerBackward(spec, l, abs.layers[l].weight, a[l], dy, batch);
    perLayer[l] = { weight, bias };
    depth += shapes[l].outputs + 1;
    if (l > 0 && dx) dy = masked(dx, reference[l]);
  }
  const g = gammaBound(depth);
  const bound: number[] = [];
  for (const { weight, bias } of perLayer) bound.push(...Array.from(weight, (w) => g * w), ...Array.from(bias, (w) => g * w));
  return Float64Array.from(bound);
}

/** True when some hidden pre-activation is so close to 0 that float32 may take the other side of the ReLU. */
function ambiguousRelu(spec: MlpSpec, net: MlpWeights64, states: Float64Array, batch: number): boolean {
  const shapes = layerShapes(spec);
  const abs = absolute(net);
  let x: Float64Array = states;
  let xAbs: Float64Array = states.map(Math.abs);
  let depth = 0;
  for (let l = 0; l < shapes.length - 1; l++) {
    depth += shapes[l].inputs + 2;
    const z = layerForward(spec, l, net.layers[l], x, batch);
    const zAbs = layerForward(spec, l, abs.layers[l], xAbs, batch);
    for (let k = 0; k < z.length; k++) if (Math.abs(z[k]) <= 2 * gammaBound(depth) * zAbs[k]) return true;
    x = z.map((v) => Math.max(v, 0));
    xAbs = masked(zAbs, x);
  }
  return false;
}

function problem(c: Case) {
  const networks: MlpWeights[] = randomSnapshots(c.spec, c.ensemble, c.seed);
  const states = randomStates(c.batch, c.spec.inputs, c.seed + 1);
  const sample = seededSigned(c.seed + 2);
  const actions = Int32Array.from({ length: c.batch }, () =>
    Math.min(c.spec.outputs - 1, Math.floor(((sample() + 1) / 2) * c.spec.outputs)),
  );
  const targets = Float32Array.from({ length: c.batch }, () => 2 * sample());
  return { networks, states, actions, targets };
}

const gpu = await testGpu();

for (const path of ["multi-dispatch", "fused"] as const)
  test(`one GPU step: gradients within the derived float32 bound and Adam's update within its rounding bound (${path})`, async () => {
    let checked = 0;
    let ambiguous = 0;
    await fc.assert(
      fc.asyncProperty(path === "fused" ? fusedCaseArbitrary : caseArbitrary, async (c) => {
        const data = problem(c);
        const trainer = await createMlpTrainer(gpu, {
          mlp: c.spec,
          ensemble: c.ensemble,
          batch: c.batch,
          adam: c.adam,
          loss: c.loss,
          path,
        });
        assert.equal(trainer.path, path);
        try {
          trainer.setWeights(data.networks);
          trainer.setBatch({ states: data.states, actions: data.actions, targets: data.targets });
          for (const buffer of [trainer.grads, trainer.norms, trainer.lossRows]) poisonBuffer(gpu, buffer);
          trainer.train(1);
          const rawGrads = await readUint32(gpu, trainer.grads);
          assert.ok(!rawGrads.includes(POISON_BITS), "every gradient element (pads included) is written");
          const gradFloats = new Float32Array(rawGrads.buffer);
          const stats = await trainer.readStatistics();
          const updated = await trainer.readWeights();
          const P = trainer.layout.vec4s * 4;
          const states64 = Float64Array.from(data.states);
          const targets64 = Float64Array.from(data.targets);
          for (let e = 0; e < c.ensemble; e++) {
            const net = toFloat64(data.networks[e]);
            const gpuGrads = flattenParameters(unpackSnapshot(trainer.layout, gradFloats.subarray(e * P, (e + 1) * P)));
            if (!ambiguousRelu(c.spec, net, states64, c.batch)) {
              const reference = lossAndGradient(c.spec, net, { states: states64, actions: data.actions, targets: targets64 }, c.loss);
              const exact = flattenParameters(reference.grads);
              const bound = gradientBound(c.spec, net, states64, data.actions, targets64, c.loss);
              exact.forEach((g, k) =>
                assert.ok(
                  Math.abs(gpuGrads[k] - g) <= bound[k],
                  `member ${e} parameter ${k}: GPU ${gpuGrads[k]}, exact ${g}, bound ${bound[k]}`,
                ),
              );
              const lossBound =
                gammaBound(layerShapes(c.spec).reduce((n, { inputs }) => n + inputs + 1, 0) + c.batch + 8) * 4 * (reference.loss + 1);
              assert.ok(
                Math.abs(stats.loss[e] - reference.loss) <= lossBound,
                `member ${e} loss: GPU ${stats.loss[e]}, exact ${reference.loss}`,
              );
              checked++;
            } else {
              ambiguous++;
            }
            // Adam on the GPU's own gradient (its sensitivity to tiny gradients is Adam's, not ours).
            const theta = flattenParameters(net);
            const expectedNorm = Math.hypot(...gpuGrads);
            assert.ok(
              Math.abs(stats.gradNorm[e] - expectedNorm) <= gammaBound(P + 8) * expectedNorm,
              `member ${e} grad norm: GPU ${stats.gradNorm[e]}, exact ${expectedNorm}`,
            );
            const state = createAdamState(theta.length);
            const before = theta.slice();
            adamStep(theta, gpuGrads, state, c.adam);
            const got = flattenParameters(updated[e]);
            // Adam's rounding: θ' = θ − s·m/(√v/c + ε) takes ~12 roundings of positive quantities
            // after m's sum (whose terms may cancel: bounded by the sum of their magnitudes), plus
            // the norm's P + 6 when clipping, each relative to the update's or θ's magnitude.
            const K = 16 + (c.adam.maxGradNorm === undefined ? 0 : P + 6);
            theta.forEach((expected, k) => {
              const update = Math.abs(before[k] - expected);
              const gAbs = Math.abs(gpuGrads[k]) + (c.adam.weightDecay ?? 0) * Math.abs(before[k]);
              const mOverDenominator =
                ((1 - 0.9) * gAbs) / ((1 - 0.9) * (Math.sqrt(state.v[k]) / Math.sqrt(1 - 0.999) + (c.adam.eps ?? 1e-8)));
              const bound = F32_UNIT_ROUNDOFF * Math.abs(expected) + gammaBound(K) * (update + c.adam.lr * mOverDenominator);
              assert.ok(
                Math.abs(got[k] - expected) <= bound,
                `member ${e} parameter ${k}: GPU ${got[k]}, exact ${expected}, bound ${bound}`,
              );
            });
          }
        } finally {
          trainer.destroy();
        }
      }),
      { numRuns: 25, examples: path === "multi-dispatch" ? convExamples : [] },
    );
    assert.ok(checked > ambiguous, `most cases have clear ReLU decisions (checked ${checked}, ambiguous ${ambiguous})`);
  });

test("a refused setBatch or setWeights changes nothing, and a trainer destroyed under a queued read refuses it: the Gpu stays usable", async () => {
  const spec = { inputs: 2, hidden: [3], outputs: 2 };
  const trainer = await createMlpTrainer(gpu, { mlp: spec, ensemble: 2, batch: 2, adam: { lr: 1e-2 } });
  trainer.setWeights(randomSnapshots(spec, 2, 5));
  // A Float64Array of the right length would write twice the buffer's bytes (a validation error
  // that fails every later call on the Gpu).
  assert.throws(
    () => trainer.setBatch({ states: new Float64Array(4) as never, actions: [0, 1], targets: [1, 2] }),
    /^StaqInputError: setBatch: states must be a Float32Array of batch × inputs values; got a Float64Array/,
  );
  assert.throws(
    () => trainer.setBatch({ states: new Float32Array(4), actions: [0, 1], targets: [1, 1e40] }),
    /setBatch: targets\[1\] is 1e\+40; targets must be finite float32 numbers/,
  );
  trainer.setBatch({ states: new Float32Array(4).fill(0.5), actions: [0, 1], targets: [1, 2] });
  trainer.train(3);
  const before = await trainer.exportState();
  const bad = randomSnapshots(spec, 2, 6);
  bad[1].layers[0].weight[0] = NaN;
  assert.throws(() => trainer.setWeights(bad), /network\[1\]\.layers\[0\]\.weight\[0\] is NaN/);
  assert.deepEqual(await trainer.exportState(), before, "member 0 was not written before member 1 was refused");
  const queued = trainer.readWeights();
  trainer.destroy();
  assert.equal(trainer.destroyed, true);
  await assert.rejects(queued, /was destroyed/);
  assert.equal(gpu.error, undefined, "nothing destroyed was submitted");
});

test("bad trainer inputs fail with messages that say what to fix", async () => {
  const spec = { inputs: 2, hidden: [3], outputs: 2 };
  await assert.rejects(createMlpTrainer(gpu, { mlp: spec, batch: 0, adam: { lr: 1e-3 } }), /batch must be an integer >= 1/);
  await assert.rejects(createMlpTrainer(gpu, { mlp: spec, batch: 2, adam: { lr: -1 } }), /adam.lr must be a finite number > 0; got -1/);
  // A string passes `>= 0` in JavaScript: the type is checked, and shown.
  await assert.rejects(
    createMlpTrainer(gpu, { mlp: spec, batch: 2, adam: { lr: 1e-3, beta1: "0.9" as unknown as number } }),
    /adam.beta1 must be a number in \[0, 1\); got the string "0.9"/,
  );
  await assert.rejects(
    createMlpTrainer(gpu, { mlp: spec, batch: 2, adam: { lr: 1e-3 }, path: "fast" as "fused" }),
    /path must be "auto", "fused" or "multi-dispatch"; got "fast"/,
  );
  await assert.rejects(
    createMlpTrainer(gpu, { mlp: spec, batch: 2, adam: { lr: 1e-3 }, path: "fused", fusedStepsPerDispatch: 65 }),
    /fused steps per dispatch must be an integer in \[1, 64\]; got 65/,
  );
  // A device with too few storage bindings per stage for the fused kernel: "auto" falls back, "fused" says why.
  const device = gpu.device; // the test reaches the device to fake one of its limits
  const limits = new Proxy(device.limits, {
    get: (target, name) => (name === "maxStorageBuffersPerShaderStage" ? 8 : Reflect.get(target, name)),
  });
  const view = new Proxy(device, {
    get(target, name) {
      if (name === "limits") return limits;
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const narrow = wrapDevice(view, { source: "external", fast: false, ownsDevice: false });
  const fallback = await createMlpTrainer(narrow, { mlp: spec, batch: 2, adam: { lr: 1e-3 } });
  assert.equal(fallback.path, "multi-dispatch");
  fallback.destroy();
  await assert.rejects(
    createMlpTrainer(narrow, { mlp: spec, batch: 2, adam: { lr: 1e-3 }, path: "fused" }),
    /path "fused" cannot run here: the fused kernel binds 12 storage buffers; this device allows 8 per shader stage; use path "multi-dispatch"/,
  );
  const trainer = await createMlpTrainer(gpu, { mlp: spec, batch: 2, adam: { lr: 1e-3 } });
  try {
    assert.throws(
      () => trainer.setBatch({ states: new Float32Array(3), actions: [0, 1], targets: [0, 0] }),
      /states has 3 values; expected batch 2 × inputs 2 = 4/,
    );
    assert.throws(
      () => trainer.setBatch({ states: new Float32Array(4), actions: [0, 2], targets: [0, 0] }),
      /actions\[1\] is 2; actions are integers in \[0, 2\)/,
    );
    assert.throws(
      () => trainer.setBatch({ states: Float32Array.of(0, NaN, 0, 0), actions: [0, 1], targets: [0, 0] }),
      /states\[1\] is NaN/,
    );
    assert.throws(() => trainer.setWeights([]), /has 1 ensemble members; got 0 networks/);
  } finally {
    trainer.destroy();
  }
});
