// The float64 training reference: gradients against central finite differences, Adam against
// hand-computed values, and the loss definitions against PyTorch's.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { layerShapes, type MlpSpec } from "../../src/stack/mlp.ts";
import {
  adamStep,
  createAdamState,
  flattenParameters,
  forwardActivations,
  lossAndGradient,
  polyakUpdate,
  residualLoss,
  unflattenParameters,
  type LossOptions,
} from "../../src/train/reference.ts";
import { convArbitrary } from "../helpers/conv.ts";
import { seededSigned } from "../helpers/random.ts";

const U64 = 2 ** -53;
const gamma64 = (n: number) => (n * U64) / (1 - n * U64);

interface Case {
  spec: MlpSpec;
  batch: number;
  seed: number;
  options: LossOptions;
}

const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({
    inputs: fc.integer({ min: 1, max: 5 }),
    hidden: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 2 }),
    outputs: fc.integer({ min: 1, max: 4 }),
    batch: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    loss: fc.constantFrom<LossOptions["loss"]>("mse", "huber"),
    huberDelta: fc.constantFrom(0.25, 1, 3),
    conv: fc.option(convArbitrary({ maxSide: 4, maxChannels: 2, maxFilters: 3 }), { freq: 3 }),
  })
  .map(({ inputs, hidden, outputs, batch, seed, loss, huberDelta, conv }) => ({
    spec: conv ? { inputs: conv.inputs, conv: conv.conv, hidden, outputs } : { inputs, hidden, outputs },
    batch,
    seed,
    options: { loss, huberDelta },
  }));

/** Parameters on the grid of multiples of 2^-30, so θ ± h with h = 2^-12 is exact in float64. */
function problem({ spec, batch, seed }: Case) {
  const sample = seededSigned(seed);
  const snap = (x: number) => Math.round(x * 2 ** 30) / 2 ** 30;
  const flat = Float64Array.from(
    flattenParameters({
      layers: layerShapes(spec).map(({ inputs, outputs }) => ({
        weight: new Float64Array(inputs * outputs),
        bias: new Float64Array(outputs),
      })),
    }),
    () => snap(sample()),
  );
  const states = Float64Array.from({ length: batch * spec.inputs }, () => 2 * sample());
  const actions = Int32Array.from({ length: batch }, () => Math.floor(((sample() + 1) / 2) * spec.outputs) % spec.outputs);
  const targets = Float64Array.from({ length: batch }, () => 3 * sample());
  return { flat, states, actions, targets };
}

/** Which side of every kink the evaluation is on: the sign of each hidden pre-activation and each residual's Huber region. */
function kinkPattern(spec: MlpSpec, flat: Float64Array, data: ReturnType<typeof problem>, options: LossOptions): string {
  const net = unflattenParameters(spec, flat);
  const shapes = layerShapes(spec);
  const activations = forwardActivations({ ...spec, hidden: spec.hidden }, net, data.states, data.actions.length);
  // Hidden outputs after ReLU are 0 exactly where the pre-activation was ≤ 0.
  const hidden = activations
    .slice(1, shapes.length)
    .map((a) => Array.from(a, (v) => (v > 0 ? "+" : "0")).join(""))
    .join("|");
  const q = activations[activations.length - 1];
  const delta = options.huberDelta ?? 1;
  const regions = Array.from(data.actions, (a, b) => (Math.abs(q[b * spec.outputs + a] - data.targets[b]) <= delta ? "q" : "l")).join("");
  return `${hidden}/${options.loss === "huber" ? regions : ""}`;
}

/**
 * An upper bound on the float64 rounding error of one loss evaluation. Each layer output computed
 * from n inputs carries at most γ_{n+1}·(|W||x| + |b|) of new error plus |W| times the error it
 * was given, so by induction the error of every activation is at most γ_K times the same forward
 * pass run on |W|, |b|, |x| ("the absolute network", which bounds every |W||x| + |b| from above),
 * K = Σ_l (n_l + 1). The residual q − y adds one rounding, its square or Huber value ≤ 3 more, and
 * the mean over B rows B more, each relative to (|q|_abs + |y|)², which the absolute network gives.
 */
function lossRoundingBound(spec: MlpSpec, flat: Float64Array, data: ReturnType<typeof problem>): number {
  const absolute = unflattenParameters(spec, flat.map(Math.abs));
  const activations = forwardActivations(spec, absolute, data.states.map(Math.abs), data.actions.length);
  const qAbs = activations[activations.length - 1];
  const depth = layerShapes(spec).reduce((k, { inputs }) => k + inputs + 1, 0) + 4 + data.actions.length;
  let magnitude = 0;
  data.actions.forEach((a, b) => {
    const r = qAbs[b * spec.outputs + a] + Math.abs(data.targets[b]);
    magnitude += (r * r + r) / data.actions.length;
  });
  return 4 * gamma64(depth) * magnitude;
}

test("gradients equal central finite differences of the loss, within the rounding bound", () => {
  // Why the bound is rounding only: with every other parameter fixed, the network's output is
  // piecewise linear in any one parameter (each layer is affine in it while no ReLU switches), so
  // MSE and Huber losses are piecewise quadratic in it. A central difference of a quadratic is its
  // exact derivative. So, when no ReLU and no Huber region switches within ±h (checked at both
  // ends: pre-activations are affine in the parameter between kinks, so equal signs at both ends
  // mean no switch between), |FD − g| ≤ (ε(θ+h) + ε(θ−h)) / 2h ≤ ε/h, ε the evaluation bound.
  const h = 2 ** -12;
  let compared = 0;
  let skipped = 0;
  fc.assert(
    fc.property(caseArbitrary, (c) => {
      const data = problem(c);
      const net = unflattenParameters(c.spec, data.flat);
      const grads = flattenParameters(lossAndGradient(c.spec, net, data, c.options).grads);
      const pattern = kinkPattern(c.spec, data.flat, data, c.options);
      const loss = (flat: Float64Array) => lossAndGradient(c.spec, unflattenParameters(c.spec, flat), data, c.options).loss;
      for (let k = 0; k < data.flat.length; k++) {
        const plus = data.flat.slice();
        const minus = data.flat.slice();
        plus[k] += h;
        minus[k] -= h;
        if (kinkPattern(c.spec, plus, data, c.options) !== pattern || kinkPattern(c.spec, minus, data, c.options) !== pattern) {
          skipped++;
          continue;
        }
        const fd = (loss(plus) - loss(minus)) / (2 * h);
        const bound = Math.max(lossRoundingBound(c.spec, plus, data), lossRoundingBound(c.spec, minus, data)) / h;
        compared++;
        assert.ok(Math.abs(fd - grads[k]) <= bound, `parameter ${k}: finite difference ${fd}, gradient ${grads[k]}, bound ${bound}`);
      }
    }),
    { numRuns: 150 },
  );
  assert.ok(skipped < compared / 5, `most parameters are away from kinks (compared ${compared}, skipped ${skipped})`);
});

test("loss definitions match PyTorch's MSELoss and HuberLoss on hand-computed values", () => {
  assert.deepEqual(residualLoss(3), { value: 9, slope: 6 });
  assert.deepEqual(residualLoss(0.5, { loss: "huber" }), { value: 0.125, slope: 0.5 });
  assert.deepEqual(residualLoss(-3, { loss: "huber" }), { value: 2.5, slope: -1 });
  assert.deepEqual(residualLoss(3, { loss: "huber", huberDelta: 2 }), { value: 4, slope: 2 });
  // Mean over the batch; only the taken action's Q enters. Q = W s (one linear layer, no bias).
  const spec = { inputs: 1, hidden: [], outputs: 2 };
  const net = { layers: [{ weight: Float64Array.of(1, 2), bias: Float64Array.of(0, 0) }] };
  const { loss, grads } = lossAndGradient(spec, net, { states: [1, 2], actions: [0, 1], targets: [0, 0] });
  // q = [1, 4]: ((1 − 0)² + (4 − 0)²) / 2 = 8.5; dL/dw0 = 2·1·1/2 = 1, dL/dw1 = 2·4·2/2 = 8.
  assert.equal(loss, 8.5);
  assert.deepEqual(Array.from(grads.layers[0].weight), [1, 8]);
  assert.deepEqual(Array.from(grads.layers[0].bias), [1, 4]);
});

test("Adam: the first steps by hand, bias correction, weight decay and clipping as torch.optim.Adam", () => {
  // Step 1 of Adam moves every parameter by lr·sign(g) (m̂ = g, v̂ = g²), up to ε (1e-30 here,
  // below the rounding of |g| + ε; a zero gradient then moves nothing).
  const params = Float64Array.of(1, -2, 0.5);
  const state = createAdamState(3);
  adamStep(params, Float64Array.of(0.3, -4, 0), state, { lr: 0.1, eps: 1e-30 });
  assert.deepEqual(Array.from(params), [1 - 0.1, -2 + 0.1, 0.5]);
  // Step 2 with the same gradient: m̂ = g and v̂ = g² again, so again lr·sign(g).
  adamStep(params, Float64Array.of(0.3, -4, 0), state, { lr: 0.1, eps: 1e-30 });
  assert.ok(Math.abs(params[0] - 0.8) < 1e-15 && Math.abs(params[1] + 1.8) < 1e-15);
  // Step 2 with a different gradient, computed by hand.
  const p = Float64Array.of(0);
  const s = createAdamState(1);
  adamStep(p, Float64Array.of(1), s, { lr: 1, eps: 0 });
  adamStep(p, Float64Array.of(3), s, { lr: 1, eps: 0 });
  const m = 0.9 * 0.1 + 0.1 * 3;
  const v = 0.999 * 0.001 + 0.001 * 9;
  assert.ok(Math.abs(p[0] - (-1 - m / (1 - 0.81) / Math.sqrt(v / (1 - 0.999 ** 2)))) < 1e-14);
  // Weight decay adds wd·θ to the gradient; clipping scales g first to maxNorm/(‖g‖ + 1e-6).
  const q = Float64Array.of(2);
  const norm = adamStep(q, Float64Array.of(0), createAdamState(1), { lr: 0.5, weightDecay: 0.1, eps: 0 });
  assert.equal(norm, 0);
  assert.equal(q[0], 1.5, "g = 0 + 0.1·2 > 0: one step of lr against it");
  const r = Float64Array.of(0, 0);
  const t = createAdamState(2);
  assert.equal(adamStep(r, Float64Array.of(3, 4), t, { lr: 1, maxGradNorm: 1 }), 5);
  assert.ok(Math.abs(t.m[0] - (0.1 * 3) / (5 + 1e-6)) < 1e-16 && Math.abs(t.m[1] - (0.1 * 4) / (5 + 1e-6)) < 1e-16);
});

test("Polyak averaging moves the target a fraction ρ toward the online network", () => {
  const target = Float64Array.of(0, 10);
  polyakUpdate(target, Float64Array.of(1, 0), 0.25);
  assert.deepEqual(Array.from(target), [0.25, 7.5]);
});
