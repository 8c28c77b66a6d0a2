// The trainer's and the soft Q fit's kernels give the same bits when Kernel.grid folds their x
// workgroups into y: the same device seen through a tiny maxComputeWorkgroupsPerDimension (2 or 4)
// folds the flat dispatches (forward, backward, loss, sampling, targets; Adam and the target
// refresh) that a real device folds only for batches or networks far too large to test here, and
// caps the grid-stride loops of the replay buffer's sums (Kernel.strideGrid).
import { test } from "node:test";
import assert from "node:assert/strict";
import { wrapDevice, type Gpu } from "../../src/gpu/gpu.ts";
import { createStack } from "../../src/stack/stack.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { pushSnapshot } from "../../src/train/push-snapshot.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { createSoftQFit, fitSoftQ, type TargetUpdate } from "../../src/train/soft-q-fit.ts";
import type { TrainerPath } from "../../src/train/fused-step.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();

/** `gpu`'s device, reporting at most `max` workgroups per dimension (the device itself is unchanged). */
function withWorkgroupLimit(max: number): Gpu {
  const device = gpu.device; // the test reaches the device to fake one of its limits
  const limits = new Proxy(device.limits, {
    get: (target, name) => (name === "maxComputeWorkgroupsPerDimension" ? max : Reflect.get(target, name)),
  });
  const view = new Proxy(device, {
    get(target, name) {
      if (name === "limits") return limits;
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return wrapDevice(view, { source: "external", fast: false, ownsDevice: false });
}

async function fit(on: Gpu, spec: MlpSpec, batch: number, targetUpdate: TargetUpdate, path: TrainerPath) {
  const capacity = 2 * batch;
  const random = seededUniform(3);
  const replay = createReplayBuffer(on, { capacity, inputs: spec.inputs, actions: spec.outputs });
  replay.add({
    obs: randomStates(capacity, spec.inputs, 1),
    nextObs: randomStates(capacity, spec.inputs, 2),
    actions: Array.from({ length: capacity }, () => Math.floor(random() * spec.outputs)),
    rewards: Array.from({ length: capacity }, () => 2 * random() - 1),
    terminated: Array.from({ length: capacity }, () => random() < 0.2),
  });
  const stack = createStack(on, { mlp: spec, memory: 2, ensemble: 2, eta: 1, tau: 0.5 });
  stack.push(randomSnapshots(spec, 2, 4));
  await replay.precomputePolicy(stack);
  const trainer = await createMlpTrainer(on, {
    mlp: spec,
    ensemble: 2,
    batch,
    adam: { lr: 1e-2, maxGradNorm: 1 },
    targetNetworks: true,
    path,
  });
  trainer.setWeights(randomSnapshots(spec, 2, 5));
  const softQFit = await createSoftQFit(on, { trainer, replay, seed: 7, gamma: 0.9, rewardScale: 10, targetUpdate });
  assert.equal(softQFit.path, targetUpdate.kind === "hard" ? path : "multi-dispatch");
  const summary = await fitSoftQ(softQFit, { steps: 3, tau: 0.3 });
  const state = await trainer.exportState();
  // The replay rows' sums follow the push and new rows are filled in (copy_rows, incremental_sums).
  await replay.followPush(stack, 0.3, () => pushSnapshot(stack, trainer, { tau: 0.3 }));
  replay.add({
    obs: randomStates(batch, spec.inputs, 8),
    nextObs: randomStates(batch, spec.inputs, 9),
    actions: new Array(batch).fill(0),
    rewards: new Array(batch).fill(0),
    terminated: new Array(batch).fill(false),
  });
  await replay.precomputePolicy(stack);
  const logits = await readFloat32(on, replay.buffers.logits, 0, capacity * spec.outputs);
  for (const part of [softQFit, trainer, stack, replay]) part.destroy();
  return { summary, state, logits };
}

// Limit 2: a 200-row batch of a narrow network folds the per-row kernels. Limit 4: a wider network
// folds Adam and the target refresh (≈ 470 vec4s), and on the fused path the target plan's
// dispatches are sized for 10 steps of 100 rows (the most a plan takes under that limit).
const CASES: [max: number, spec: MlpSpec, batch: number][] = [
  [2, { inputs: 5, hidden: [4], outputs: 3 }, 200],
  [4, { inputs: 5, hidden: [30, 20], outputs: 3 }, 100],
];

for (const [max, spec, batch] of CASES) {
  for (const [targetUpdate, path] of [
    [{ kind: "hard", every: 2 }, "multi-dispatch"],
    [{ kind: "hard", every: 2 }, "fused"],
    [{ kind: "polyak", rho: 0.2 }, "multi-dispatch"],
  ] as const) {
    test(`folded grids (at most ${max} workgroups per dimension, ${targetUpdate.kind} targets, ${path}) train bit for bit as unfolded ones`, async () => {
      const folded = withWorkgroupLimit(max);
      assert.deepEqual(await fit(folded, spec, batch, targetUpdate, path), await fit(gpu, spec, batch, targetUpdate, path));
      folded.destroy();
    });
  }
}

// A conv network (multi-dispatch only): its weight gradient runs a workgroup per gradient vec4,
// (2·2·2 + 1) · 1 = 9 of them per member (3 filters, one vec4), folded into 4 × 3 by the limit of 4.
const CONV_SPEC: MlpSpec = {
  inputs: 24,
  conv: { inputShape: [4, 3, 2], filters: 3, kernel: [2, 2], stride: 1, padding: 1 },
  hidden: [6],
  outputs: 3,
};
test("folded grids (at most 4 workgroups per dimension, a conv network, multi-dispatch) train bit for bit as unfolded ones", async () => {
  const folded = withWorkgroupLimit(4);
  const update = { kind: "hard", every: 2 } as const;
  assert.deepEqual(await fit(folded, CONV_SPEC, 30, update, "multi-dispatch"), await fit(gpu, CONV_SPEC, 30, update, "multi-dispatch"));
  folded.destroy();
});
