// The soft Q fit with the smoothness regulariser on the GPU against its float64 twins
// (src/train/smoothness-reference.ts, src/train/reference.ts, src/train/targets-reference.ts),
// every output of the step poisoned (NaN bits) before it runs, so a value a kernel did not write
// cannot pass:
//
//   - one step on random shapes, rules, losses and weights: the trainer's 3B rows are
//     [s; s + ε; s'] (s and s' bit for bit the sampler's replay rows, s + ε the twin's within its
//     bound), the online networks' Q on them the float64 forward's, the targets (rows 0 … B − 1)
//     the rule's twin's, dq and the loss rows the twin's on the GPU's own Q and targets, the
//     weight gradients the float64 backward of the GPU's own dq, and the summary the means of the
//     rows, each within a bound derived from float32 arithmetic;
//   - the noise: s + ε − s has standard deviation σ (mean, variance and chi-square tests at stated
//     false-alarm rates), and is a pure function of (seed, step, row) (the twin's, for two batch
//     sizes and consecutive fits);
//   - end to end: a fit with λ_S, λ_T > 0 ends with a smaller penalty than the same fit with λ = 0;
//   - bad settings fail with messages that say what to do.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { POISON_BITS, poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32, readUint32 } from "../../src/gpu/readback.ts";
import { philox4x32, splitU64, STREAM_NEXT_ACTION, uniformFromPhilox } from "../../src/random/philox.ts";
import { unpackSnapshot } from "../../src/stack/layout.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../../src/stack/mlp.ts";
import { gammaBound } from "../../src/stack/reference.ts";
import { createStack } from "../../src/stack/stack.ts";
import { minibatchIndices } from "../../src/train/minibatch-sampling.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import {
  backward,
  flattenParameters,
  forwardActivations,
  layerBackward,
  layerForward,
  toFloat64,
  type LossOptions,
  type MlpWeights64,
} from "../../src/train/reference.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { advantage, perturbedState, smoothnessStep, smoothnessStepBound, stateNoise } from "../../src/train/smoothness-reference.ts";
import {
  createSoftQFit,
  resolveSmoothness,
  smoothnessTrainerBatch,
  type SmoothnessOptions,
  type TargetRule,
} from "../../src/train/soft-q-fit.ts";
import {
  maxTarget,
  maxTargetBound,
  munchausenTarget,
  munchausenTargetBound,
  softBellmanTarget,
  softBellmanTargetBound,
  nextActionFromProbs,
} from "../../src/train/targets-reference.ts";
import { chiSquarePValue, chiSquareStatistic, regularizedGammaQ } from "../helpers/chi-square.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";
import { headWithBound } from "../helpers/head-bound.ts";

const gpu = await testGpu();
const INPUTS = 3;
const f = Math.fround;

/** |W| for every layer. */
function absolute(net: MlpWeights64): MlpWeights64 {
  return { layers: net.layers.map(({ weight, bias }) => ({ weight: weight.map(Math.abs), bias: bias.map(Math.abs) })) };
}

/** Zeroes y where the reference's ReLU output `mask` is not active. */
function masked(y: Float64Array, mask: Float64Array): Float64Array {
  for (let k = 0; k < y.length; k++) if (!(mask[k] > 0)) y[k] = 0;
  return y;
}

/** True when some hidden pre-activation is so close to 0 that float32 may take the other side of the ReLU (as test/train/mlp-trainer.test.ts). */
function ambiguousRelu(spec: MlpSpec, net: MlpWeights64, states: Float64Array, rows: number): boolean {
  const shapes = layerShapes(spec);
  const abs = absolute(net);
  let x: Float64Array = states;
  let xAbs: Float64Array = states.map(Math.abs);
  let depth = 0;
  for (let l = 0; l < shapes.length - 1; l++) {
    depth += shapes[l].inputs + 2;
    const z = layerForward(spec, l, net.layers[l], x, rows);
    const zAbs = layerForward(spec, l, abs.layers[l], xAbs, rows);
    for (let k = 0; k < z.length; k++) if (Math.abs(z[k]) <= 2 * gammaBound(depth) * zAbs[k]) return true;
    x = z.map((v) => Math.max(v, 0));
    xAbs = masked(zAbs, x);
  }
  return false;
}

/**
 * A bound on |float32 weight gradient − float64 backward(dq)| elementwise, for the GPU's own dq
 * (an exact input here) and every ReLU decision the same (checked by the caller). As
 * test/train/mlp-trainer.test.ts's gradientBound: each term of each gradient is a product of
 * weights, states and dq values through at most K roundings, so the error is at most γ_K times
 * the same computation on |W|, |x|, |dq| with the reference's ReLU masks; K = the forward's
 * Σ_l (n_l + 1), the backward's Σ_l (out_l + 1), the sum over the 3B rows (3B + 1), and 2 to spare.
 */
function gradientBound(spec: MlpSpec, net: MlpWeights64, states: Float64Array, dq: Float64Array, rows: number): Float64Array {
  const shapes = layerShapes(spec);
  const head = shapes.length - 1;
  const reference = forwardActivations(spec, net, states, rows);
  const abs = absolute(net);
  const a: Float64Array[] = [states.map(Math.abs)];
  shapes.forEach((_, l) => {
    const y = layerForward(spec, l, abs.layers[l], a[l], rows);
    a.push(l < head ? masked(y, reference[l + 1]) : y);
  });
  let dy: Float64Array = dq.map(Math.abs);
  let depth = shapes.reduce((k, { inputs }) => k + inputs + 1, 0) + rows + 1 + 2;
  const perLayer: { weight: Float64Array; bias: Float64Array }[] = [];
  for (let l = head; l >= 0; l--) {
    const { weight, bias, dx } = layerBackward(spec, l, abs.layers[l].weight, a[l], dy, rows);
    perLayer[l] = { weight, bias };
    depth += shapes[l].outputs + 1;
    if (l > 0 && dx) dy = masked(dx, reference[l]);
  }
  const g = gammaBound(depth);
  const bound: number[] = [];
  for (const { weight, bias } of perLayer) bound.push(...Array.from(weight, (w) => g * w), ...Array.from(bias, (w) => g * w));
  return Float64Array.from(bound);
}

interface Case {
  actions: number;
  ensemble: number;
  batch: number;
  hidden: number[];
  rule: "soft" | "max" | "munchausen";
  huber: boolean;
  state: number;
  transition: number;
  sigma: number | undefined;
  /** The Philox step of the fit's step (a resumed run's gradientSteps), up to 2^33 so that its high word is used. */
  firstStep: number;
  seed: number;
}

interface FixtureOptions {
  spec: MlpSpec;
  ensemble: number;
  batch: number;
  capacity: number;
  seed: number;
  smoothness: SmoothnessOptions | undefined;
  target: TargetRule;
  loss?: LossOptions;
  lr?: number;
  gradientSteps?: number;
  targetUpdate?: { kind: "hard"; every: number };
  weights?: MlpWeights[];
}

/** A replay buffer of random transitions (one row short of full), a trainer of the smoothness batch and the fit. */
async function fixture(o: FixtureOptions) {
  const { spec, ensemble, batch, capacity, seed } = o;
  const replay = createReplayBuffer(gpu, { capacity, inputs: spec.inputs, actions: spec.outputs });
  const random = seededUniform(seed);
  const count = capacity - 1;
  replay.add({
    obs: randomStates(count, spec.inputs, seed + 1),
    nextObs: randomStates(count, spec.inputs, seed + 2),
    actions: Array.from({ length: count }, () => Math.floor(random() * spec.outputs)),
    rewards: Array.from({ length: count }, () => 2 * random() - 1),
    terminated: Array.from({ length: count }, () => random() < 0.25),
  });
  // The soft rule reads π_k: two pushes of random networks make it far from uniform.
  const stack = o.target.kind === "soft" ? createStack(gpu, { mlp: spec, memory: 3, ensemble, eta: 1, tau: 0.5 }) : undefined;
  if (stack) {
    stack.push(randomSnapshots(spec, ensemble, seed + 4));
    stack.push(randomSnapshots(spec, ensemble, seed + 5));
    await replay.precomputePolicy(stack);
  }
  const trainer = await createMlpTrainer(gpu, {
    mlp: spec,
    ensemble,
    batch: smoothnessTrainerBatch(batch, o.smoothness),
    adam: { lr: o.lr ?? 1e-3 },
    loss: o.loss,
    targetNetworks: true,
    path: "multi-dispatch",
  });
  const weights = o.weights ?? randomSnapshots(spec, ensemble, seed + 3);
  trainer.setWeights(weights);
  const fit = await createSoftQFit(gpu, {
    trainer,
    replay,
    seed,
    gamma: 0.9,
    rewardScale: 2,
    target: o.target,
    smoothness: o.smoothness,
    gradientSteps: o.gradientSteps,
    targetUpdate: o.targetUpdate,
  });
  const destroy = () => {
    fit.destroy();
    trainer.destroy();
    stack?.destroy();
    replay.destroy();
  };
  return { replay, trainer, weights, fit, destroy, stored: await replay.read() };
}

const TAU = 0.3;

const cases: fc.Arbitrary<Case> = fc.record({
  actions: fc.integer({ min: 2, max: 5 }),
  ensemble: fc.integer({ min: 1, max: 2 }),
  batch: fc.integer({ min: 2, max: 6 }),
  hidden: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 2 }),
  rule: fc.constantFrom("soft" as const, "max" as const, "munchausen" as const),
  huber: fc.boolean(),
  // One of the two terms may be off; both off is the plain fit (tested elsewhere).
  state: fc.constantFrom(0, 0.5, 3),
  transition: fc.constantFrom(0.25, 2),
  sigma: fc.option(fc.constantFrom(0.01, 0.3), { nil: undefined }),
  firstStep: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 2 ** 32 - 2, max: 2 ** 33 })),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

async function checkStep(c: Case): Promise<{ checked: boolean }> {
  const spec: MlpSpec = { inputs: INPUTS, hidden: c.hidden, outputs: c.actions };
  const B = c.batch;
  const A = c.actions;
  const E = c.ensemble;
  const smoothness = { state: c.state, transition: c.transition, sigma: c.sigma };
  const loss: LossOptions = c.huber ? { loss: "huber", huberDelta: 0.5 } : { loss: "mse" };
  const target: TargetRule = c.rule === "soft" ? { kind: "soft", nextAction: "sample" } : { kind: c.rule };
  const { replay, trainer, weights, fit, destroy, stored } = await fixture({
    spec,
    ensemble: E,
    batch: B,
    capacity: 3 * B + 2,
    seed: c.seed,
    smoothness,
    target,
    loss,
    gradientSteps: c.firstStep,
  });
  try {
    assert.equal(trainer.batch, 3 * B);
    assert.equal(fit.batch, B);
    assert.equal(fit.path, "multi-dispatch");
    const { states, nextStates, actions, targets } = trainer.batchBuffers;
    for (const b of [states, nextStates!, actions, targets, trainer.headActivations, trainer.dq, trainer.lossRows, trainer.grads])
      poisonBuffer(gpu, b);
    // The target networks are refreshed before this step (the fit's first): Q̄ is `weights`'.
    const summary = await fit.fit({ steps: 1, tau: TAU });
    const last = await fit.readLastStep();
    const [statesGot, head, dqBits, lossBits, gradBits] = await Promise.all([
      readFloat32(gpu, states),
      readFloat32(gpu, trainer.headActivations),
      readUint32(gpu, trainer.dq),
      readUint32(gpu, trainer.lossRows),
      readUint32(gpu, trainer.grads),
    ]);
    for (const [name, bits] of [
      ["dq", dqBits],
      ["loss rows", lossBits],
      ["gradients", gradBits],
    ] as const)
      assert.ok(!bits.includes(POISON_BITS), `every element of the ${name} (pads included) is written`);
    const dq = new Float32Array(dqBits.buffer);
    const lossRows = new Float32Array(lossBits.buffer);
    const grads = new Float32Array(gradBits.buffer);
    const padded = trainer.layout.layers[trainer.layout.layers.length - 1].paddedOutputs;

    // The rows: s and s' bit for bit the replay's, s + ε the twin's within its bound.
    const rows = minibatchIndices(replay.size, B, c.seed, c.firstStep);
    assert.deepEqual(Array.from(last.rows), Array.from(rows), "the rows drawn");
    const sigma = c.sigma ?? 0.01;
    rows.forEach((i, b) => {
      const s = stored.obs.subarray(i * INPUTS, (i + 1) * INPUTS);
      const row = (r: number) => Array.from(statesGot.subarray(r * INPUTS, (r + 1) * INPUTS));
      assert.deepEqual(row(b), Array.from(s), `s of row ${b}`);
      assert.deepEqual(row(2 * B + b), Array.from(stored.nextObs.subarray(i * INPUTS, (i + 1) * INPUTS)), `s' of row ${b}`);
      const noisy = perturbedState(c.seed, c.firstStep, b, s, sigma);
      row(B + b).forEach((value, k) =>
        assert.ok(
          Math.abs(value - noisy.value[k]) <= noisy.bound[k],
          `s + ε of row ${b}, input ${k}: got ${value}, expected ${noisy.value[k]} ± ${noisy.bound[k]}`,
        ),
      );
      assert.deepEqual(Array.from(last.perturbedStates!.subarray(b * INPUTS, (b + 1) * INPUTS)), row(B + b), "readLastStep's s + ε");
      assert.equal(last.actions[b], stored.actions[i], `action of row ${b}`);
    });

    // The online networks' Q on the 3B rows: the float64 forward's within its bound.
    const q: Float32Array[] = [];
    for (let e = 0; e < E; e++) {
      const member = new Float32Array(3 * B * A);
      for (let r = 0; r < 3 * B; r++) {
        const expected = headWithBound(spec, weights[e], statesGot.subarray(r * INPUTS, (r + 1) * INPUTS));
        for (let a = 0; a < A; a++) {
          const got = head[(e * 3 * B + r) * padded + a];
          assert.ok(
            Math.abs(got - expected.value[a]) <= expected.bound[a],
            `Q of member ${e}, row ${r}, action ${a}: got ${got}, expected ${expected.value[a]} ± ${expected.bound[a]}`,
          );
          member[r * A + a] = got;
        }
      }
      q.push(member);
    }

    // The targets of rows 0 … B − 1: the rule's twin on the target networks' Q̄ the kernel read
    // (checked against the float64 forward: the members are 3B rows apart in the trainer's head).
    const settings = { rewardScale: f(2), gamma: f(0.9), tau: f(TAU), alpha: f(0.9), clipMin: f(-1) };
    const [seedLo, seedHi] = splitU64(c.seed);
    const [stepLo, stepHi] = splitU64(c.firstStep);
    const probs = c.rule === "soft" ? await readFloat32(gpu, replay.buffers.probs) : undefined;
    const entropy = c.rule === "soft" ? await readFloat32(gpu, replay.buffers.entropy) : undefined;
    rows.forEach((i, b) => {
      const checked = (values: Float32Array[] | undefined, x: ArrayLike<number>, name: string) =>
        values!.map((member, e) => {
          const expected = headWithBound(spec, weights[e], x);
          for (let a = 0; a < A; a++)
            assert.ok(
              Math.abs(member[b * padded + a] - expected.value[a]) <= expected.bound[a],
              `${name} of member ${e}, row ${b}, action ${a}`,
            );
          return member.subarray(b * padded, b * padded + A);
        });
      const transition = {
        reward: stored.rewards[i],
        terminated: stored.terminated[i] === 1,
        action: stored.actions[i],
        targetQ: checked(last.targetQ, stored.nextObs.subarray(i * INPUTS, (i + 1) * INPUTS), "Q̄(s')"),
      };
      let expected: number;
      let bound: number;
      if (c.rule === "max") {
        expected = maxTarget(transition, settings);
        bound = maxTargetBound(transition, settings);
      } else if (c.rule === "munchausen") {
        const row = { ...transition, stateQ: checked(last.stateQ, stored.obs.subarray(i * INPUTS, (i + 1) * INPUTS), "Q̄(s)") };
        expected = munchausenTarget(row, settings);
        bound = munchausenTargetBound(row, settings);
      } else {
        const row = {
          ...transition,
          probs: probs!.subarray(i * A, (i + 1) * A),
          entropy: entropy![i],
          u: uniformFromPhilox(philox4x32([b, stepLo, stepHi, STREAM_NEXT_ACTION], [seedLo, seedHi])[0]),
        };
        const soft = { ...settings, nextAction: "sample" as const };
        expected = softBellmanTarget(row, soft);
        const meanBound = transition.targetQ.length; // members
        const carried =
          weights.reduce(
            (sum, w) =>
              sum +
              headWithBound(spec, w, stored.nextObs.subarray(i * INPUTS, (i + 1) * INPUTS)).bound[nextActionFromProbs(row.probs, row.u)],
            0,
          ) / meanBound;
        bound = softBellmanTargetBound(row, soft) + (row.terminated ? 0 : settings.gamma * carried);
      }
      assert.ok(
        Math.abs(last.targets[b] - expected) <= bound,
        `${c.rule} target of row ${b}: got ${last.targets[b]}, expected ${expected} ± ${bound}`,
      );
    });

    // dq, the loss rows and the gradients, per member.
    let checked = true;
    const P = trainer.layout.vec4s * 4;
    const states64 = Float64Array.from(statesGot);
    for (let e = 0; e < E; e++) {
      const input = {
        q: q[e],
        actionCount: A,
        actions: Array.from(last.actions),
        targets: last.targets,
        weights: { state: c.state, transition: c.transition },
        loss,
      };
      const exact = smoothnessStep(input);
      const bound = smoothnessStepBound(input);
      const dqMember = new Float64Array(3 * B * A);
      for (let r = 0; r < 3 * B; r++)
        for (let o = 0; o < padded; o++) {
          const got = dq[(e * 3 * B + r) * padded + o];
          if (o >= A) {
            assert.equal(got, 0, `dq pad of member ${e}, row ${r}, output ${o}`);
            continue;
          }
          const k = r * A + o;
          dqMember[k] = got;
          assert.ok(
            Math.abs(got - exact.dq[k]) <= bound.dq[k],
            `dq of member ${e}, row ${r}, action ${o}: got ${got}, expected ${exact.dq[k]} ± ${bound.dq[k]}`,
          );
        }
      for (let r = 0; r < 3 * B; r++) {
        const got = lossRows[e * 3 * B + r];
        assert.ok(
          Math.abs(got - exact.lossRows[r]) <= bound.lossRows[r],
          `loss row ${r} of member ${e}: got ${got}, expected ${exact.lossRows[r]} ± ${bound.lossRows[r]}`,
        );
      }
      // The summary: the means of the rows the kernel wrote, its float32 sums of B non-negative
      // terms (the strided loop and a tree of depth 6) and one division within γ_{B+8} of them.
      const mean = (from: number, values: ArrayLike<number>) => {
        let sum = 0;
        for (let b = 0; b < B; b++) sum += values[from + b];
        return sum / B;
      };
      const g = gammaBound(B + 8);
      const near = (got: number, want: number, what: string) =>
        assert.ok(Math.abs(got - want) <= g * want, `${what}: got ${got}, expected ${want}`);
      near(summary.meanLoss[e], mean(e * 3 * B, lossRows), `mean loss of member ${e}`);
      near(summary.smoothness!.state[e], mean(e * 3 * B + B, lossRows), `mean state penalty of member ${e}`);
      near(summary.smoothness!.transition[e], mean(e * 3 * B + 2 * B, lossRows), `mean transition penalty of member ${e}`);
      near(
        summary.meanAbsQ[e],
        mean(
          0,
          Array.from({ length: B }, (_, b) => Math.abs(q[e][b * A + last.actions[b]])),
        ),
        `mean |Q| of member ${e}`,
      );

      // The weight gradients: the float64 backward over the 3B rows of the GPU's own dq.
      const net = toFloat64(weights[e]);
      if (ambiguousRelu(spec, net, states64, 3 * B)) {
        checked = false;
        continue;
      }
      const activations = forwardActivations(spec, net, states64, 3 * B);
      const expected = flattenParameters(backward(spec, net, activations, dqMember, 3 * B));
      const gradBound = gradientBound(spec, net, states64, dqMember, 3 * B);
      const gpuGrads = flattenParameters(unpackSnapshot(trainer.layout, grads.subarray(e * P, (e + 1) * P)));
      expected.forEach((value, k) =>
        assert.ok(
          Math.abs(gpuGrads[k] - value) <= gradBound[k],
          `gradient ${k} of member ${e}: got ${gpuGrads[k]}, expected ${value} ± ${gradBound[k]}`,
        ),
      );
    }
    return { checked };
  } finally {
    destroy();
  }
}

test("one step with the smoothness regulariser: rows, Q, targets, dq, loss rows, gradients and summary against float64 within derived bounds", async () => {
  let checked = 0;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(cases, async (c) => {
      runs++;
      if ((await checkStep(c)).checked) checked++;
    }),
    { numRuns: 8 },
  );
  assert.ok(checked > runs / 2, `most cases have clear ReLU decisions (gradients checked in ${checked} of ${runs})`);
});

/** Φ(x) = P(Z ≤ x), Z ~ N(0, 1), from P(|Z| ≤ |x|) = P(χ²_1 ≤ x²) = 1 − Q(1/2, x²/2). */
function normalCdf(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  const inside = 1 - regularizedGammaQ(0.5, (x * x) / 2);
  return x >= 0 ? 0.5 + inside / 2 : 0.5 - inside / 2;
}

test("the noise: s + ε − s is the twin's σz for every (step, row), for two batch sizes, and has standard deviation σ (false alarms < 10^-5)", async () => {
  const spec: MlpSpec = { inputs: 16, hidden: [4], outputs: 2 };
  const seed = 4242;
  const sigma = 0.01;
  const samples: number[] = [];
  for (const batch of [16, 5]) {
    const { trainer, fit, destroy, stored, replay } = await fixture({
      spec,
      ensemble: 1,
      batch,
      capacity: 40,
      seed,
      smoothness: { state: 1 },
      target: { kind: "max" },
    });
    try {
      // Consecutive fits of one step: fit k draws with Philox step k.
      for (let step = 0; step < (batch === 16 ? 12 : 3); step++) {
        poisonBuffer(gpu, trainer.batchBuffers.states);
        await fit.fit({ steps: 1, tau: 0 });
        const states = await readFloat32(gpu, trainer.batchBuffers.states);
        const rows = minibatchIndices(replay.size, batch, seed, step);
        for (let b = 0; b < batch; b++) {
          const s = stored.obs.subarray(rows[b] * 16, (rows[b] + 1) * 16);
          const noisy = perturbedState(seed, step, b, s, sigma);
          for (let i = 0; i < 16; i++) {
            const got = states[(batch + b) * 16 + i];
            assert.ok(
              Math.abs(got - noisy.value[i]) <= noisy.bound[i],
              `batch ${batch}, step ${step}, row ${b}, input ${i}: got ${got}, expected ${noisy.value[i]} ± ${noisy.bound[i]}`,
            );
            // ε̂/σ, with ε̂ = (s + ε) − s exact in float64 (the float32 sum rounds it by at most
            // 2^-23 for |s + ε| < 2: under 10^-5 of σ, nothing the tests below can see).
            if (batch === 16) samples.push((got - s[i]) / sigma);
          }
        }
      }
    } finally {
      destroy();
    }
  }
  // 12 steps × 16 rows × 16 inputs = 3072 draws of N(0, 1) if σ is right.
  const n = samples.length;
  assert.equal(n, 3072);
  const mean = samples.reduce((s, z) => s + z, 0) / n;
  const squares = samples.reduce((s, z) => s + (z - mean) ** 2, 0);
  // mean ~ N(0, 1/n): |mean| > 4.5/√n has probability 7·10^-6.
  assert.ok(Math.abs(mean) <= 4.5 / Math.sqrt(n), `mean of ε/σ: ${mean}`);
  // Σ (z − z̄)² ~ χ²_{n−1}: each tail at 2.5·10^-6 (a σ off by 10% moves the variance by 21%, 8 standard deviations of it).
  const p = chiSquarePValue(squares, n - 1);
  assert.ok(p > 2.5e-6 && p < 1 - 2.5e-6, `variance of ε/σ: ${squares / (n - 1)}, P(χ² ≥ X) = ${p}`);
  // And the shape: 10 bins of N(0, 1), chi-square at 10^-5.
  const edges = [-Infinity, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, Infinity];
  const counts = new Array(edges.length - 1).fill(0);
  for (const z of samples) counts[edges.findIndex((edge, i) => z >= edge && z < edges[i + 1])]++;
  const probabilities = counts.map((_, i) => normalCdf(edges[i + 1]) - normalCdf(edges[i]));
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts, probabilities);
  const pBins = chiSquarePValue(statistic, degreesOfFreedom);
  assert.ok(pBins > 1e-5, `bins ${counts.join(", ")}: X² = ${statistic}, p = ${pBins}`);
});

/** mean over the replay rows of ‖A(s+σz) − A(s)‖² and ‖A(s') − A(s)‖², z = stateNoise(…, step 0, row i) under an evaluation seed: the twin, in float64. */
function penalties(spec: MlpSpec, weights: MlpWeights, obs: Float32Array, nextObs: Float32Array, rows: number, sigma: number) {
  const net = toFloat64(weights);
  const perturbed = Float64Array.from(obs.subarray(0, rows * spec.inputs));
  for (let i = 0; i < rows; i++) {
    const z = stateNoise(31337, 0, i, spec.inputs);
    for (let k = 0; k < spec.inputs; k++) perturbed[i * spec.inputs + k] += sigma * z[k];
  }
  const q = (states: ArrayLike<number>) => {
    const activations = forwardActivations(spec, net, states, rows);
    return activations[activations.length - 1];
  };
  const [q0, q1, q2] = [q(obs.subarray(0, rows * spec.inputs)), q(perturbed), q(nextObs.subarray(0, rows * spec.inputs))];
  const A = spec.outputs;
  let state = 0;
  let transition = 0;
  for (let i = 0; i < rows; i++) {
    const a0 = advantage(q0.subarray(i * A, (i + 1) * A));
    const a1 = advantage(q1.subarray(i * A, (i + 1) * A));
    const a2 = advantage(q2.subarray(i * A, (i + 1) * A));
    for (let a = 0; a < A; a++) {
      state += (a1[a] - a0[a]) ** 2 / rows;
      transition += (a2[a] - a0[a]) ** 2 / rows;
    }
  }
  return { state, transition };
}

test("end to end: with λ_S, λ_T > 0 a fit ends with a smaller penalty than the same fit with λ = 0", async (t) => {
  // The same replay data, initial networks, minibatches and targets' rule; only λ differs. Both
  // fits descend on the regression loss of the same minibatches; the regularised one also on the
  // penalty, which at λ = 1 weighs about as much as the regression loss (rewards and Q of order
  // 1), so it cannot end higher than the unregularised fit, whose advantage differences are left
  // free to grow as it fits targets that vary across states. Measured on lavapipe (these seeds,
  // deterministic): the unregularised fit ends at P_S ≈ 0.075, P_T ≈ 1.40 (from 0.079, 2.32), the
  // regularised one at P_S ≈ 0.0092, P_T ≈ 0.070 (an eighth and a twentieth); the assertion asks
  // for half, a margin no float32 rounding difference between devices comes near.
  const spec: MlpSpec = { inputs: 4, hidden: [16], outputs: 3 };
  const sigma = 0.3;
  const capacity = 129;
  const weights = randomSnapshots(spec, 1, 7);
  const run = async (smoothness: SmoothnessOptions | undefined) => {
    const { trainer, fit, destroy, stored } = await fixture({
      spec,
      ensemble: 1,
      batch: 16,
      capacity,
      seed: 99,
      smoothness,
      target: { kind: "max" },
      lr: 3e-3,
      targetUpdate: { kind: "hard", every: 50 },
      weights,
    });
    try {
      const summary = await fit.fit({ steps: 300, tau: 0 });
      const [trained] = await trainer.readWeights();
      return {
        summary,
        after: penalties(spec, trained, stored.obs, stored.nextObs, capacity - 1, sigma),
        before: penalties(spec, weights[0], stored.obs, stored.nextObs, capacity - 1, sigma),
      };
    } finally {
      destroy();
    }
  };
  const plain = await run(undefined);
  const smooth = await run({ state: 1, transition: 1, sigma });
  const message = `penalties before ${JSON.stringify(plain.before)}, after λ = 0 ${JSON.stringify(plain.after)}, after λ = 1 ${JSON.stringify(smooth.after)}`;
  t.diagnostic(message);
  assert.ok(smooth.after.state < 0.5 * plain.after.state, message);
  assert.ok(smooth.after.transition < 0.5 * plain.after.transition, message);
  // The regularised fit's own running penalties are reported, and are finite.
  assert.ok(smooth.summary.smoothness!.state.every(Number.isFinite) && smooth.summary.smoothness!.transition.every(Number.isFinite));
  assert.equal(plain.summary.smoothness, undefined);
});

test("bad smoothness settings say what is wrong; both weights 0 is the plain fit", async () => {
  assert.equal(resolveSmoothness(undefined), undefined);
  assert.equal(resolveSmoothness({}), undefined);
  assert.equal(resolveSmoothness({ state: 0, transition: 0, sigma: 0.5 }), undefined);
  assert.deepEqual(resolveSmoothness({ transition: 2 }), { state: 0, transition: 2, sigma: 0.01 });
  assert.equal(smoothnessTrainerBatch(32, { state: 1 }), 96);
  assert.equal(smoothnessTrainerBatch(32, { state: 0 }), 32);
  assert.equal(smoothnessTrainerBatch(32), 32);
  assert.throws(() => resolveSmoothness({ state: -1 }), /smoothness\.state must be a finite number >= 0; got -1/);
  assert.throws(() => resolveSmoothness({ transition: Number.NaN }), /smoothness\.transition must be a finite number >= 0; got NaN/);
  assert.throws(() => resolveSmoothness({ state: 1, sigma: 0 }), /smoothness\.sigma must be a finite number > 0/);
  assert.throws(() => resolveSmoothness({ state: 1, sigma: 1e-50 }), /smoothness\.sigma must be a finite number > 0 \(at least 2\^-126\)/);
  assert.throws(() => resolveSmoothness(3 as unknown as SmoothnessOptions), /smoothness must be an object/);

  const spec: MlpSpec = { inputs: INPUTS, hidden: [4], outputs: 3 };
  const replay = createReplayBuffer(gpu, { capacity: 20, inputs: INPUTS, actions: 3 });
  replay.add({
    obs: randomStates(12, INPUTS, 4),
    nextObs: randomStates(12, INPUTS, 5),
    actions: Array.from({ length: 12 }, (_, i) => i % 3),
    rewards: Array.from({ length: 12 }, () => 0.5),
    terminated: Array.from({ length: 12 }, () => false),
  });
  const trainer = await createMlpTrainer(gpu, { mlp: spec, batch: 4, adam: { lr: 1e-3 }, targetNetworks: true, path: "multi-dispatch" });
  const options = { trainer, replay, seed: 0, gamma: 0.9, rewardScale: 1, target: { kind: "max" } as const };
  await assert.rejects(
    createSoftQFit(gpu, { ...options, smoothness: { state: 1 } }),
    /create the trainer with batch smoothnessTrainerBatch\(B, smoothness\) = 3·B; its batch is 4, not a multiple of 3/,
  );
  // Both weights 0: the plain fit, on the trainer's batch.
  const plain = await createSoftQFit(gpu, { ...options, smoothness: { state: 0, transition: 0 } });
  assert.equal(plain.smoothness, undefined);
  assert.equal(plain.batch, 4);
  const summary = await plain.fit({ steps: 1, tau: 0 });
  assert.equal(summary.smoothness, undefined);
  plain.destroy();
  const wide = await createMlpTrainer(gpu, { mlp: spec, batch: 30, adam: { lr: 1e-3 }, targetNetworks: true, path: "multi-dispatch" });
  const tooBig = createReplayBuffer(gpu, { capacity: 8, inputs: INPUTS, actions: 3 });
  await assert.rejects(
    createSoftQFit(gpu, { ...options, trainer: wide, replay: tooBig, smoothness: { state: 1 } }),
    /the minibatch \(10, a third of the trainer's batch with the smoothness regulariser\) is larger than the replay buffer's capacity \(8\)/,
  );
  await assert.rejects(
    createSoftQFit(gpu, { ...options, trainer: wide, smoothness: { transition: 1 }, path: "fused" }),
    /path "fused" cannot run the smoothness regulariser .* use path "auto" or "multi-dispatch"/,
  );
  const fit = await createSoftQFit(gpu, { ...options, trainer: wide, smoothness: { state: 1 } });
  assert.equal(fit.batch, 10);
  // 12 transitions hold a minibatch of 10 (the trainer's 30 rows are not drawn from the buffer).
  const wideSummary = await fit.fit({ steps: 1, tau: 0 });
  assert.equal(wideSummary.smoothness!.state.length, 1);
  fit.destroy();
  // A fused trainer: "auto" runs the regulariser multi-dispatch (its fused kernel stays unused).
  const fusedTrainer = await createMlpTrainer(gpu, { mlp: spec, batch: 12, adam: { lr: 1e-3 }, targetNetworks: true, path: "fused" });
  const auto = await createSoftQFit(gpu, { ...options, trainer: fusedTrainer, smoothness: { state: 1 } });
  assert.equal(auto.path, "multi-dispatch");
  assert.equal(auto.plan, undefined);
  const autoSummary = await auto.fit({ steps: 2, tau: 0 });
  assert.ok(autoSummary.meanLoss.every(Number.isFinite));
  auto.destroy();
  for (const t of [trainer, wide, fusedTrainer]) t.destroy();
  for (const r of [replay, tooBig]) r.destroy();
});
