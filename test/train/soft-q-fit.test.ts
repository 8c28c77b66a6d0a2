// The soft Q fit on the GPU against its float64 twins: the minibatch a step trains on is
// the sampler's (minibatch-sampling.ts) rows of the replay buffer, and its regression targets are
// the soft-Bellman targets of the reference within a derived bound; the target networks are
// refreshed when and how they should be; bad calls fail with messages that say what to do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { philox4x32, splitU64, STREAM_NEXT_ACTION, uniformFromPhilox } from "../../src/random/philox.ts";
import { createStack } from "../../src/stack/stack.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { F32_MIN_NORMAL, gammaBound } from "../../src/stack/reference.ts";
import { minibatchIndices } from "../../src/train/minibatch-sampling.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createSoftQFit, fitSoftQ, type TargetUpdate } from "../../src/train/soft-q-fit.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { nextActionFromProbs, softBellmanTarget, softBellmanTargetBound, type NextActionMode } from "../../src/train/targets-reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";
import { headWithBound } from "../helpers/head-bound.ts";

const gpu = await testGpu();
const SPEC: MlpSpec = { inputs: 3, hidden: [6], outputs: 3 };
/** A conv network (multi-dispatch only): a 3×4 image of 2 channels, padding and a 2×2 kernel. */
const CONV_SPEC: MlpSpec = {
  inputs: 24,
  conv: { inputShape: [3, 4, 2], filters: 3, kernel: [2, 2], stride: 1, padding: 1 },
  hidden: [5],
  outputs: 3,
};
const BATCH = 8;
const CAPACITY = 40;
const SETTINGS = { rewardScale: 10, gamma: 0.99, tau: 0.3 };

const PATHS = ["multi-dispatch", "fused"] as const;
type Path = (typeof PATHS)[number];

interface Setup {
  spec?: MlpSpec;
  path?: Path;
  ensemble: number;
  nextAction?: NextActionMode;
  targetUpdate?: TargetUpdate;
  seed: number;
}

async function setup({ spec = SPEC, path = "multi-dispatch", ensemble, nextAction = "sample", targetUpdate, seed }: Setup) {
  const replay = createReplayBuffer(gpu, { capacity: CAPACITY, inputs: spec.inputs, actions: spec.outputs });
  const random = seededUniform(seed);
  // 30 + 25 rows: the second add wraps the ring, so the stored order is not the insertion order.
  for (const count of [30, 25]) {
    replay.add({
      obs: randomStates(count, spec.inputs, seed + count),
      nextObs: randomStates(count, spec.inputs, seed + count + 1),
      actions: Array.from({ length: count }, () => Math.floor(random() * spec.outputs)),
      rewards: Array.from({ length: count }, () => 2 * random() - 1),
      terminated: Array.from({ length: count }, () => random() < 0.25),
    });
  }
  // Two pushes of random networks: π_k is far from uniform, so the entropy and a' matter.
  const stack = createStack(gpu, { mlp: spec, memory: 3, ensemble, eta: 1, tau: 0.5 });
  stack.push(randomSnapshots(spec, ensemble, seed + 3));
  stack.push(randomSnapshots(spec, ensemble, seed + 4));
  await replay.precomputePolicy(stack);
  const trainer = await createMlpTrainer(gpu, { mlp: spec, ensemble, batch: BATCH, adam: { lr: 1e-3 }, targetNetworks: true, path });
  const weights = randomSnapshots(spec, ensemble, seed + 5);
  trainer.setWeights(weights);
  const softQFit = await createSoftQFit(gpu, {
    trainer,
    replay,
    seed,
    gamma: SETTINGS.gamma,
    rewardScale: SETTINGS.rewardScale,
    nextAction,
    targetUpdate,
  });
  const destroy = () => {
    softQFit.destroy();
    trainer.destroy();
    stack.destroy();
    replay.destroy();
  };
  return { replay, stack, trainer, weights, softQFit, destroy, spec };
}

/** Each path × next-action rule × E on the MLP, and the conv network on the multi-dispatch path. */
const STEP_CASES = [
  ...PATHS.flatMap((path) =>
    (["sample", "expectation"] as const).flatMap((nextAction) => [1, 2].map((ensemble) => ({ path, nextAction, ensemble, spec: SPEC }))),
  ),
  { path: "multi-dispatch" as const, nextAction: "sample" as const, ensemble: 2, spec: CONV_SPEC },
];

for (const { path, nextAction, ensemble, spec } of STEP_CASES)
  test(`one step trains on the sampler's rows with soft-Bellman targets within the derived bound (${path}, ${nextAction}, E = ${ensemble}${spec.conv ? ", conv" : ""})`, async () => {
    const seed = 1000 + ensemble * 10 + (nextAction === "sample" ? 0 : 1);
    const { replay, trainer, weights, softQFit, destroy } = await setup({ spec, path, ensemble, nextAction, seed });
    assert.equal(softQFit.path, path);
    // The multi-dispatch path gathers into the trainer's batch buffers, poisoned here; the
    // fused path into its plan's, new (zero) before the first fit. Either way a row a kernel
    // did not write cannot equal the random replay row it is compared with below.
    const { states, actions, targets } = trainer.batchBuffers;
    for (const b of [states, actions, targets, trainer.lossRows]) poisonBuffer(gpu, b);
    const summary = await fitSoftQ(softQFit, { steps: 1, tau: SETTINGS.tau });
    assert.equal(softQFit.gradientSteps, 1);

    const stored = await replay.read();
    const [probs, entropy] = await Promise.all([readFloat32(gpu, replay.buffers.probs), readFloat32(gpu, replay.buffers.entropy)]);
    const last = await softQFit.readLastStep();
    const [gotStates, gotActions, gotTargets] = [last.states, last.actions, last.targets];
    assert.deepEqual(Array.from(last.rows), Array.from(minibatchIndices(replay.size, BATCH, seed, 0)), "the rows drawn");
    const rows = minibatchIndices(replay.size, BATCH, seed, 0);
    const A = spec.outputs;
    // The kernel reads its scalars from a float32 uniform.
    const f32Settings = {
      rewardScale: Math.fround(SETTINGS.rewardScale),
      gamma: Math.fround(SETTINGS.gamma),
      tau: Math.fround(SETTINGS.tau),
      nextAction,
    };
    const [seedLo, seedHi] = splitU64(seed);
    rows.forEach((i, b) => {
      const inputs = spec.inputs;
      assert.deepEqual(
        Array.from(gotStates.subarray(b * inputs, (b + 1) * inputs)),
        Array.from(stored.obs.subarray(i * inputs, (i + 1) * inputs)),
        `states of batch row ${b}`,
      );
      assert.equal(gotActions[b], stored.actions[i], `action of batch row ${b}`);
      const nextState = stored.nextObs.subarray(i * inputs, (i + 1) * inputs);
      // Step 0 refreshes the targets first, so Q̄ is the network the trainer started from.
      const heads = weights.map((w) => headWithBound(spec, w, nextState));
      const row = {
        reward: stored.rewards[i],
        terminated: stored.terminated[i] === 1,
        probs: probs.subarray(i * A, (i + 1) * A),
        entropy: entropy[i],
        targetQ: heads.map((h) => h.value),
        u: uniformFromPhilox(philox4x32([b, 0, 0, STREAM_NEXT_ACTION], [seedLo, seedHi])[0]),
      };
      const expected = softBellmanTarget(row, f32Settings);
      // The kernel's own arithmetic, plus the target networks' forward error carried through
      // γ(1 − t)·mean_e (or the π-weighted mean of it over actions).
      const meanBound = (a: number) => heads.reduce((s, h) => s + h.bound[a], 0) / ensemble;
      const carried =
        nextAction === "expectation"
          ? Array.from(row.probs).reduce((s, p, a) => s + p * meanBound(a), 0)
          : meanBound(nextActionFromProbs(row.probs, row.u));
      const bound = softBellmanTargetBound(row, f32Settings) + (row.terminated ? 0 : f32Settings.gamma * carried);
      assert.ok(
        Math.abs(gotTargets[b] - expected) <= bound,
        `target of batch row ${b} (replay row ${i}): got ${gotTargets[b]}, expected ${expected} ± ${bound}`,
      );
    });

    // The summary of one step is that step's mean loss and mean |Q| of the taken actions. Their
    // float32 sums of B non-negative rows (a tree of depth log2 64 + the strided loop) and one
    // division are within γ_{B+8} of the exact mean of the rows the kernels used: the loss rows
    // the kernels wrote, and Q of the online network before the step (the float64 forward, whose
    // float32 error is bounded as above, rows within the same γ_{B+8} relative to their sum).
    const lossRows = await readFloat32(gpu, trainer.lossRows);
    for (let e = 0; e < ensemble; e++) {
      let loss = 0;
      let absQ = 0;
      let absQBound = 0;
      for (let b = 0; b < BATCH; b++) {
        loss += lossRows[e * BATCH + b];
        const head = headWithBound(spec, weights[e], gotStates.subarray(b * spec.inputs, (b + 1) * spec.inputs));
        absQ += Math.abs(head.value[gotActions[b]]);
        absQBound += head.bound[gotActions[b]];
      }
      assert.ok(Math.abs(summary.meanLoss[e] - loss / BATCH) <= gammaBound(BATCH + 8) * (loss / BATCH), `mean loss of member ${e}`);
      const meanAbsQBound = gammaBound(BATCH + 8) * ((absQ + absQBound) / BATCH) + absQBound / BATCH;
      assert.ok(Math.abs(summary.meanAbsQ[e] - absQ / BATCH) <= meanAbsQBound, `mean |Q| of member ${e}`);
      assert.ok(summary.gradNorm[e] > 0);
    }
    destroy();
  });

test("the next action a' is drawn, not fixed: over many steps the sampled targets use every action π_k can choose", async () => {
  const seed = 77;
  const { replay, destroy } = await setup({ ensemble: 1, seed });
  const probs = await readFloat32(gpu, replay.buffers.probs);
  const [seedLo, seedHi] = splitU64(seed);
  // The kernel's draw for batch position 0 across steps 0 … 199 (a CPU recomputation; the test
  // above checks the kernel uses exactly these draws). Every action with p > 0.05 must appear.
  const row = minibatchIndices(replay.size, BATCH, seed, 0)[0];
  const p = probs.subarray(row * SPEC.outputs, (row + 1) * SPEC.outputs);
  const seen = new Set<number>();
  for (let step = 0; step < 200; step++)
    seen.add(nextActionFromProbs(p, uniformFromPhilox(philox4x32([0, step, 0, STREAM_NEXT_ACTION], [seedLo, seedHi])[0])));
  for (let a = 0; a < SPEC.outputs; a++) if (p[a] > 0.05) assert.ok(seen.has(a), `action ${a} (p = ${p[a]}) never drawn in 200 steps`);
  destroy();
});

for (const path of PATHS)
  test(`a hard target refresh every T steps copies the online networks before steps 0, T, 2T, …; runs are bit-for-bit repeatable (${path})`, async () => {
    // A: 3 steps refreshing every 2 → the targets are the online networks after 2 steps.
    const a = await setup({ path, ensemble: 2, targetUpdate: { kind: "hard", every: 2 }, seed: 5 });
    await fitSoftQ(a.softQFit, { steps: 3, tau: SETTINGS.tau });
    // B: the same run stopped after 2 steps.
    const b = await setup({ path, ensemble: 2, targetUpdate: { kind: "hard", every: 2 }, seed: 5 });
    await fitSoftQ(b.softQFit, { steps: 2, tau: SETTINGS.tau });
    const [targetsA, paramsB] = await Promise.all([readFloat32(gpu, a.trainer.targetParams!), readFloat32(gpu, b.trainer.params)]);
    assert.deepEqual(Array.from(targetsA), Array.from(paramsB));
    // And B continued by one more call of 1 step equals A: the Philox step carries over between calls.
    await fitSoftQ(b.softQFit, { steps: 1, tau: SETTINGS.tau });
    const [paramsA, paramsB3] = await Promise.all([readFloat32(gpu, a.trainer.params), readFloat32(gpu, b.trainer.params)]);
    assert.deepEqual(Array.from(paramsB3), Array.from(paramsA), "2 steps + 1 step differs from 3 steps in one call");
    a.destroy();
    b.destroy();
  });

test("Polyak averaging sets target = (1 − ρ)·target + ρ·online after each step, within two roundings", async () => {
  const rho = 0.25;
  const { trainer, softQFit, destroy } = await setup({ ensemble: 1, targetUpdate: { kind: "polyak", rho }, seed: 9 });
  const before = await readFloat32(gpu, trainer.params);
  await fitSoftQ(softQFit, { steps: 1, tau: SETTINGS.tau });
  const [after, target] = await Promise.all([readFloat32(gpu, trainer.params), readFloat32(gpu, trainer.targetParams!)]);
  const keep = Math.fround(1 - rho);
  for (let k = 0; k < target.length; k++) {
    const exact = keep * before[k] + rho * after[k];
    const bound = gammaBound(2) * (Math.abs(keep * before[k]) + Math.abs(rho * after[k])) + 3 * F32_MIN_NORMAL;
    assert.ok(Math.abs(target[k] - exact) <= bound, `target[${k}] = ${target[k]}, expected ${exact}`);
  }
  destroy();
});

test("bad calls say what is wrong", async () => {
  const { replay, trainer, softQFit, destroy } = await setup({ ensemble: 1, seed: 11 });
  await assert.rejects(fitSoftQ(softQFit, { steps: 0, tau: 0.1 }), /steps must be an integer >= 1; got 0/);
  await assert.rejects(fitSoftQ(softQFit, { steps: 1, tau: Number.NaN }), /tau must be a finite number >= 0/);
  replay.add({ obs: new Float32Array(3), nextObs: new Float32Array(3), actions: [0], rewards: [0], terminated: [false] });
  await assert.rejects(fitSoftQ(softQFit, { steps: 1, tau: 0.1 }), /policy is stale .* call replay\.precomputePolicy\(stack\) first/);
  const small = createReplayBuffer(gpu, { capacity: 4, inputs: SPEC.inputs, actions: SPEC.outputs });
  await assert.rejects(
    createSoftQFit(gpu, { trainer, replay: small, seed: 0, gamma: 0.9, rewardScale: 1 }),
    /batch \(8\) is larger than the replay buffer's capacity \(4\)/,
  );
  const other = createReplayBuffer(gpu, { capacity: 40, inputs: 4, actions: SPEC.outputs });
  await assert.rejects(
    createSoftQFit(gpu, { trainer, replay: other, seed: 0, gamma: 0.9, rewardScale: 1 }),
    /holds 4 inputs and 3 actions; the trainer's network maps 3 inputs to 3 actions/,
  );
  const partial = createReplayBuffer(gpu, { capacity: 40, inputs: SPEC.inputs, actions: SPEC.outputs });
  const partialFit = await createSoftQFit(gpu, { trainer, replay: partial, seed: 0, gamma: 0.9, rewardScale: 1 });
  await assert.rejects(
    fitSoftQ(partialFit, { steps: 1, tau: 0.1 }),
    /holds 0 transitions; a minibatch of 8 distinct rows needs at least that many/,
  );
  await assert.rejects(createSoftQFit(gpu, { trainer, replay, seed: 0, gamma: 1, rewardScale: 1 }), /gamma must be in \[0, 1\)/);
  await assert.rejects(
    createSoftQFit(gpu, { trainer, replay, seed: -1, gamma: 0.9, rewardScale: 1 }),
    /seed must be an integer in \[0, 2\^64\)/,
  );
  await assert.rejects(
    createSoftQFit(gpu, { trainer, replay, seed: 0, gamma: 0.9, rewardScale: 1, targetUpdate: { kind: "hard", every: 0 } }),
    /targetUpdate\.every must be an integer >= 1/,
  );
  const plain = await createMlpTrainer(gpu, { mlp: SPEC, batch: BATCH, adam: { lr: 1e-3 } });
  await assert.rejects(
    createSoftQFit(gpu, { trainer: plain, replay, seed: 0, gamma: 0.9, rewardScale: 1 }),
    /needs target networks: create the trainer with targetNetworks: true/,
  );
  plain.destroy();
  // The fused path plans the targets between refreshes, so it needs hard ones and a fused trainer.
  await assert.rejects(
    createSoftQFit(gpu, { trainer, replay, seed: 0, gamma: 0.9, rewardScale: 1, path: "fused" }),
    /path "fused" needs a trainer on the fused path; this one runs multi-dispatch/,
  );
  const fusedTrainer = await createMlpTrainer(gpu, { mlp: SPEC, batch: BATCH, adam: { lr: 1e-3 }, targetNetworks: true, path: "fused" });
  await assert.rejects(
    createSoftQFit(gpu, {
      trainer: fusedTrainer,
      replay,
      seed: 0,
      gamma: 0.9,
      rewardScale: 1,
      targetUpdate: { kind: "polyak", rho: 0.5 },
      path: "fused",
    }),
    /path "fused" needs hard target refreshes/,
  );
  // Left to choose, a Polyak fit on a fused trainer runs multi-dispatch.
  const polyak = await createSoftQFit(gpu, {
    trainer: fusedTrainer,
    replay,
    seed: 0,
    gamma: 0.9,
    rewardScale: 1,
    targetUpdate: { kind: "polyak", rho: 0.5 },
  });
  assert.equal(polyak.path, "multi-dispatch");
  polyak.destroy();
  await assert.rejects(
    createSoftQFit(gpu, { trainer: fusedTrainer, replay, seed: 0, gamma: 0.9, rewardScale: 1, path: "sideways" as "fused" }),
    /path must be "auto", "fused" or "multi-dispatch"; got the string "sideways"/,
  );
  fusedTrainer.destroy();
  for (const r of [small, other, partial]) r.destroy();
  partialFit.destroy();
  destroy();
});
