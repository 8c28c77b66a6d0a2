// The fused trainer's own properties (its arithmetic is checked against the float64 twins by the
// trainer and soft Q fit tests, which run on both paths): a run split over dispatches of any size
// is bit for bit the run in one dispatch, on the same adapter, whether the steps train on one
// uploaded batch or on planned minibatches that cross target refreshes; a plan's rows are the
// sampler's for each of its steps, across the 32-bit boundary of the step counter too; and the
// sizes the host plans with, on hand-computed cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStack } from "../../src/stack/stack.ts";
import { snapshotLayout, type SnapshotLayout } from "../../src/stack/layout.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { fusedPreferred, fusedRunPlan, fusedStepsPerDispatch, macsPerStep, scratchLayout } from "../../src/train/fused-step.ts";
import { initialQNetworks } from "../../src/train/initialisation.ts";
import { minibatchIndices } from "../../src/train/minibatch-sampling.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { createSoftQFit } from "../../src/train/soft-q-fit.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();
const SPEC: MlpSpec = { inputs: 3, hidden: [6, 5], outputs: 3 };
const BATCH = 7;

async function fullBatchRun(stepsPerDispatch: number, steps: number): Promise<Float32Array[]> {
  const trainer = await createMlpTrainer(gpu, {
    mlp: SPEC,
    ensemble: 2,
    batch: BATCH,
    adam: { lr: 1e-2, maxGradNorm: 1 },
    path: "fused",
    fusedStepsPerDispatch: stepsPerDispatch,
  });
  const random = seededUniform(11);
  trainer.setWeights(randomSnapshots(SPEC, 2, 12));
  trainer.setBatch({
    states: randomStates(BATCH, SPEC.inputs, 13),
    actions: Array.from({ length: BATCH }, () => Math.floor(random() * SPEC.outputs)),
    targets: Array.from({ length: BATCH }, () => 4 * random() - 2),
  });
  trainer.train(steps);
  const state = await trainer.exportState();
  trainer.destroy();
  return [state.params, state.adamM, state.adamV];
}

test("full-batch fused runs split over dispatches of 1, 2 or 3 steps equal one dispatch of 7, bit for bit", async () => {
  const whole = await fullBatchRun(64, 7);
  for (const per of [1, 2, 3]) assert.deepEqual(await fullBatchRun(per, 7), whole, `${per} steps per dispatch`);
  assert.deepEqual(await fullBatchRun(64, 7), whole, "run to run");
});

async function softQSetup(stepsPerDispatch: number, gradientSteps = 0, every = 3) {
  const replay = createReplayBuffer(gpu, { capacity: 50, inputs: SPEC.inputs, actions: SPEC.outputs });
  const random = seededUniform(21);
  replay.add({
    obs: randomStates(45, SPEC.inputs, 22),
    nextObs: randomStates(45, SPEC.inputs, 23),
    actions: Array.from({ length: 45 }, () => Math.floor(random() * SPEC.outputs)),
    rewards: Array.from({ length: 45 }, () => random()),
    terminated: Array.from({ length: 45 }, () => random() < 0.2),
  });
  const stack = createStack(gpu, { mlp: SPEC, memory: 2, ensemble: 2, eta: 1, tau: 0.5 });
  stack.push(randomSnapshots(SPEC, 2, 24));
  await replay.precomputePolicy(stack);
  const trainer = await createMlpTrainer(gpu, {
    mlp: SPEC,
    ensemble: 2,
    batch: BATCH,
    adam: { lr: 1e-2 },
    targetNetworks: true,
    path: "fused",
    fusedStepsPerDispatch: stepsPerDispatch,
  });
  trainer.setWeights(initialQNetworks(SPEC, 2, 25));
  const fit = await createSoftQFit(gpu, {
    trainer,
    replay,
    seed: 26,
    gamma: 0.9,
    rewardScale: 2,
    targetUpdate: { kind: "hard", every },
    gradientSteps,
  });
  assert.equal(fit.path, "fused");
  const destroy = () => {
    fit.destroy();
    trainer.destroy();
    stack.destroy();
    replay.destroy();
  };
  return { replay, trainer, fit, destroy };
}

test("fused soft Q fits planned 1, 2 or 4 steps at a time, across refreshes every 3 steps, equal 64 at a time, bit for bit", async () => {
  const run = async (per: number) => {
    const { trainer, fit, destroy } = await softQSetup(per);
    const summary = await fit.fit({ steps: 8, tau: 0.2 });
    const state = await trainer.exportState();
    destroy();
    return { summary, state };
  };
  const whole = await run(64);
  for (const per of [1, 2, 4]) assert.deepEqual(await run(per), whole, `${per} steps per plan`);
});

test("a plan's rows, next states and targets are the sampler's for each of its steps, across the 2^32 boundary of the step counter", async () => {
  const first = 2 ** 32 - 3;
  // One plan of 5 steps (refreshes every 8): 2^32 − 3 … 2^32 + 1, whose Philox steps the kernels
  // carry into the high word themselves; the last step's rows are the plan's last.
  const { replay, fit, destroy } = await softQSetup(64, first, 8);
  const stored = await replay.read();
  for (const [steps, last] of [
    [5, first + 4],
    [1, first + 5],
  ]) {
    await fit.fit({ steps, tau: 0.2 });
    const step = await fit.readLastStep();
    const rows = minibatchIndices(replay.size, BATCH, 26, last);
    assert.deepEqual(Array.from(step.rows), Array.from(rows), `rows of step ${last}`);
    const gather = (source: Float32Array) =>
      Array.from(rows, (i) => Array.from(source.subarray(i * SPEC.inputs, (i + 1) * SPEC.inputs))).flat();
    assert.deepEqual(Array.from(step.states), gather(stored.obs), `states of step ${last}`);
    assert.deepEqual(Array.from(step.nextStates), gather(stored.nextObs), `next states of step ${last}`);
    assert.deepEqual(
      Array.from(step.actions),
      Array.from(rows, (i) => stored.actions[i]),
      `actions of step ${last}`,
    );
  }
  destroy();
});

test("the host's plans on hand-computed cases: multiply-adds, scratch, steps per dispatch, dispatches per run", () => {
  const layout: SnapshotLayout = snapshotLayout({ inputs: 4, hidden: [64, 64], outputs: 2 });
  // Forward 4·64 + 64·64 + 64·4 = 4608 multiply-adds per row, twice (forward and weight
  // gradients), plus the hidden inputs' gradients 64·64 + 64·4 = 4352: 13568 per row.
  assert.equal(macsPerStep(layout, 64), 64 * 13568);
  // Activations 64·(16 + 16 + 1) vec4s, then two delta regions of 64·16.
  assert.deepEqual(scratchLayout(layout, 64), { activations: [0, 1024, 2048], deltas: [2112, 3136], member: 4160 });
  assert.equal(fusedStepsPerDispatch(layout, 64), 64);
  // 2^30 / (256 · (2·(6·256 + 256·256 + 256·4) + 256·256 + 256·4)) = 2^30 / (256 · 202 752) = 2^30 / 51 904 512 → 20 steps.
  assert.equal(fusedStepsPerDispatch(snapshotLayout({ inputs: 6, hidden: [256, 256], outputs: 3 }), 256), 20);
  assert.deepEqual(fusedRunPlan(5, 2), [
    [
      { steps: 2, normAt: undefined },
      { steps: 2, normAt: undefined },
      { steps: 1, normAt: 0 },
    ],
  ]);
  const long = fusedRunPlan(17 * 3, 3);
  assert.deepEqual(
    long.map((submit) => submit.length),
    [16, 1],
  );
  assert.deepEqual(long[1][0], { steps: 3, normAt: 2 });
});

test("auto picks the fused path on hand-computed cases: by the step's size on a GPU, by the size, the ensemble and the cores on a software adapter", () => {
  const small = snapshotLayout({ inputs: 4, hidden: [64, 64], outputs: 2 }); // 64 · 13568 = 868 352 ≈ 2^19.7 at batch 64
  const large = snapshotLayout({ inputs: 4, hidden: [256, 256], outputs: 2 });
  // 2×256 at batch 64: 64 · (2 · (4·256 + 256·256 + 256·4) + 256·256 + 256·4) = 64 · 201 728 = 12 910 592 ≈ 2^23.6.
  assert.equal(macsPerStep(large, 64), 12_910_592);
  const gpu = { fallbackAdapter: false, hostCores: 16 };
  assert.equal(fusedPreferred(gpu, small, 64, 1), true);
  assert.equal(fusedPreferred(gpu, large, 64, 1), true);
  assert.equal(fusedPreferred(gpu, large, 256, 8), false); // 4 · 12 910 592 > 2^24, whatever E
  const software = { fallbackAdapter: true, hostCores: 2 };
  assert.equal(fusedPreferred(software, small, 64, 1), true); // ≤ 2^21: dispatches dominate
  assert.equal(fusedPreferred(software, small, 256, 1), false); // 4 · 868 352 ≈ 2^21.7, one core of two
  assert.equal(fusedPreferred(software, large, 64, 1), false);
  assert.equal(fusedPreferred(software, large, 64, 2), true); // E fills both cores, ≤ 2^24
  assert.equal(fusedPreferred(software, large, 83, 2), true); // 83 · 201 728 = 16 743 424 ≤ 2^24 = 16 777 216
  assert.equal(fusedPreferred(software, large, 84, 2), false); // 84 · 201 728 = 16 945 152 > 2^24
  assert.equal(fusedPreferred(software, large, 256, 2), false); // ≈ 2^25.6: the multi-dispatch path, even with the cores filled
  assert.equal(fusedPreferred({ fallbackAdapter: true, hostCores: 8 }, large, 64, 2), false);
  // Cores unknown (a browser): one, which any ensemble fills.
  assert.equal(fusedPreferred({ fallbackAdapter: true, hostCores: null }, large, 64, 1), true);
  assert.equal(fusedPreferred({ fallbackAdapter: true, hostCores: null }, large, 256, 1), false);
});
