// The soft Q fit with the baselines' target rules (DQN's max, M-DQN's Munchausen) on the GPU
// against their float64 twins (src/train/targets-reference.ts), with the regression targets'
// output buffers poisoned (NaN) before each run, so a target a kernel did not write cannot pass:
//
//   - the multi-dispatch fit, on random shapes, settings and replay contents: its last step trains
//     on the sampler's rows, the target networks' Q̄ on s' (and, for M-DQN, on s) that the targets
//     kernel read are the float64 forward's within its bound, and each target is the twin's on
//     those Q̄ values within the bound derived from the kernel's float32 arithmetic;
//   - the fused path's targets, which its target plan (src/train/target-plan.ts) computes before
//     the fused kernel trains on them: the plan alone on random shapes (the fused kernel compiles
//     for tens of seconds per shape on lavapipe, and consumes the targets untouched), every row of
//     every step of a plan of 1 … 3 steps checked the same way; then the whole fused fit on one
//     shape, wired end to end (fit.plan's buffers, readLastStep's offsets into a plan of 3 steps).
//
// Then bad target rules fail with messages that say what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32, readUint32 } from "../../src/gpu/readback.ts";
import { packSnapshot } from "../../src/stack/layout.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { minibatchIndices } from "../../src/train/minibatch-sampling.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createReplayBuffer, type ReplayContents } from "../../src/train/replay-buffer.ts";
import { createSoftQFit, type LastStep, type TargetRule } from "../../src/train/soft-q-fit.ts";
import { createTargetPlan } from "../../src/train/target-plan.ts";
import { maxTarget, maxTargetBound, munchausenTarget, munchausenTargetBound } from "../../src/train/targets-reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";
import { headWithBound } from "../helpers/head-bound.ts";

const gpu = await testGpu();
const INPUTS = 3;
/** A conv network: a 3×4 image of 2 channels, padding and a 2×2 kernel (as test/train/soft-q-fit.test.ts). */
const CONV_SPEC: MlpSpec = {
  inputs: 24,
  conv: { inputShape: [3, 4, 2], filters: 3, kernel: [2, 2], stride: 1, padding: 1 },
  hidden: [5],
  outputs: 3,
};
const PATHS = ["multi-dispatch", "fused"] as const;
type Path = (typeof PATHS)[number];

interface Case {
  actions: number;
  ensemble: number;
  batch: number;
  /** Gradient steps of the fit: the last one's targets are checked. */
  steps: number;
  rewardScale: number;
  gamma: number;
  tau: number;
  /** M-DQN's α and l₀, or undefined for the defaults (0.9, −1). */
  alpha: number | undefined;
  clipMin: number | undefined;
  /** Scale of the rewards and of the networks' weights: Q̄'s spread, against τ. */
  weightScale: number;
  seed: number;
  /** A conv network of `actions` outputs instead of the MLP (multi-dispatch only). */
  conv?: boolean;
}

const f = Math.fround;

function scaled(weights: MlpWeights[], scale: number): MlpWeights[] {
  return weights.map((w) => ({
    layers: w.layers.map((layer) => ({ weight: layer.weight.map((x) => f(x * scale)), bias: layer.bias.map((x) => f(x * scale)) })),
  }));
}

/** The float32 settings the kernel reads from its uniform. */
function kernelSettings(c: Case) {
  return { rewardScale: f(c.rewardScale), gamma: f(c.gamma), tau: f(c.tau), alpha: f(c.alpha ?? 0.9), clipMin: f(c.clipMin ?? -1) };
}

/**
 * Checks one row's target: the Q̄ values the kernel read (per member, the first A of each row of
 * `padded`) against the float64 forward of the target networks, then the target against the twin
 * on those values.
 */
/** Replay row i's transition, as checkRow takes it. */
function storedTransition(stored: ReplayContents, i: number, inputs: number) {
  return {
    state: stored.obs.subarray(i * inputs, (i + 1) * inputs),
    nextState: stored.nextObs.subarray(i * inputs, (i + 1) * inputs),
    reward: stored.rewards[i],
    terminated: stored.terminated[i] === 1,
    action: stored.actions[i],
  };
}

function checkRow(
  kind: "max" | "munchausen",
  spec: MlpSpec,
  weights: MlpWeights[],
  c: Case,
  row: {
    state: ArrayLike<number>;
    nextState: ArrayLike<number>;
    reward: number;
    terminated: boolean;
    action: number;
    targetQ: Float32Array[];
    stateQ: Float32Array[] | undefined;
    target: number;
  },
  what: string,
): void {
  const A = c.actions;
  const checked = (q: Float32Array[] | undefined, x: ArrayLike<number>, name: string) =>
    q!.map((values, e) => {
      const head = headWithBound(spec, weights[e], x);
      for (let a = 0; a < A; a++)
        assert.ok(
          Math.abs(values[a] - head.value[a]) <= head.bound[a],
          `${name} of member ${e}, ${what}, action ${a}: got ${values[a]}, expected ${head.value[a]} ± ${head.bound[a]}`,
        );
      return values.subarray(0, A);
    });
  const inputs = {
    reward: row.reward,
    terminated: row.terminated,
    action: row.action,
    targetQ: checked(row.targetQ, row.nextState, "Q̄(s')"),
    stateQ: kind === "munchausen" ? checked(row.stateQ, row.state, "Q̄(s)") : [],
  };
  const settings = kernelSettings(c);
  const [expected, bound] =
    kind === "max"
      ? [maxTarget(inputs, settings), maxTargetBound(inputs, settings)]
      : [munchausenTarget(inputs, settings), munchausenTargetBound(inputs, settings)];
  assert.ok(Math.abs(row.target - expected) <= bound, `${kind} target of ${what}: got ${row.target}, expected ${expected} ± ${bound}`);
}

/** A replay buffer of random transitions, one row short of full, and a trainer whose networks are random (`weights`). */
async function fixture(c: Case, path: Path) {
  const spec: MlpSpec = c.conv ? { ...CONV_SPEC, outputs: c.actions } : { inputs: INPUTS, hidden: [5], outputs: c.actions };
  const inputs = spec.inputs;
  const capacity = 3 * c.batch * c.steps + 2;
  const replay = createReplayBuffer(gpu, { capacity, inputs, actions: c.actions });
  const random = seededUniform(c.seed);
  const count = capacity - 1;
  replay.add({
    obs: randomStates(count, inputs, c.seed + 1),
    nextObs: randomStates(count, inputs, c.seed + 2),
    actions: Array.from({ length: count }, () => Math.floor(random() * c.actions)),
    rewards: Array.from({ length: count }, () => 2 * random() - 1),
    terminated: Array.from({ length: count }, () => random() < 0.3),
  });
  // No replay.precomputePolicy: neither rule reads π_k.
  const trainer = await createMlpTrainer(gpu, {
    mlp: spec,
    ensemble: c.ensemble,
    batch: c.batch,
    adam: { lr: 1e-3 },
    targetNetworks: true,
    path,
  });
  const weights = scaled(randomSnapshots(spec, c.ensemble, c.seed + 3), c.weightScale);
  trainer.setWeights(weights);
  return { spec, replay, trainer, weights, stored: await replay.read() };
}

function rule(kind: "max" | "munchausen", c: Case): TargetRule {
  return kind === "max" ? { kind } : { kind, alpha: c.alpha, clipMin: c.clipMin };
}

/** A fit of `c.steps` steps on `path`: checks its last step's targets, and returns that step. */
async function checkFit(kind: "max" | "munchausen", path: Path, c: Case): Promise<LastStep> {
  const { spec, replay, trainer, weights, stored } = await fixture(c, path);
  const inputs = spec.inputs;
  const fit = await createSoftQFit(gpu, {
    trainer,
    replay,
    seed: c.seed,
    gamma: c.gamma,
    rewardScale: c.rewardScale,
    target: rule(kind, c),
    path,
  });
  try {
    assert.equal(fit.path, path);
    // Poison what the targets kernel writes and the Q̄ it reads.
    const poisoned =
      path === "fused"
        ? [fit.plan!.targets, fit.plan!.targetQ, ...(fit.plan!.stateQ ? [fit.plan!.stateQ] : [])]
        : [trainer.batchBuffers.targets, trainer.headActivations];
    for (const b of poisoned) poisonBuffer(gpu, b);
    // The target networks are refreshed before step 0 only (every 200 steps): Q̄ is `weights`'.
    await fit.fit({ steps: c.steps, tau: c.tau });
    const last = await fit.readLastStep();
    const rows = minibatchIndices(replay.size, c.batch, c.seed, c.steps - 1);
    assert.deepEqual(Array.from(last.rows), Array.from(rows), "the rows drawn");
    assert.equal(last.stateQ !== undefined, kind === "munchausen", "Q̄(s) is read back for the munchausen rule only");
    const padded = last.targetQ[0].length / c.batch;
    rows.forEach((i, b) => {
      const state = stored.obs.subarray(i * inputs, (i + 1) * inputs);
      assert.deepEqual(Array.from(last.states.subarray(b * inputs, (b + 1) * inputs)), Array.from(state), `state of batch row ${b}`);
      assert.equal(last.actions[b], stored.actions[i], `action of batch row ${b}`);
      const at = (q: Float32Array) => q.subarray(b * padded, (b + 1) * padded);
      checkRow(
        kind,
        spec,
        weights,
        c,
        {
          ...storedTransition(stored, i, inputs),
          targetQ: last.targetQ.map(at),
          stateQ: last.stateQ?.map(at),
          target: last.targets[b],
        },
        `batch row ${b} (replay row ${i})`,
      );
    });
    return last;
  } finally {
    fit.destroy();
    trainer.destroy();
    replay.destroy();
  }
}

/** The fused path's target plan alone, for `c.steps` steps from Philox step `c.seed % 1000`: every row of every step. */
async function checkPlan(kind: "max" | "munchausen", c: Case): Promise<void> {
  // A multi-dispatch trainer: the plan needs only its target networks (and no fused kernel).
  const { spec, replay, trainer, weights, stored } = await fixture(c, "multi-dispatch");
  const inputs = spec.inputs;
  const { layout } = trainer;
  weights.forEach((w, e) => gpu.writeBuffer(trainer.targetParams!, e * layout.vec4s * 16, packSnapshot(layout, w)));
  const plan = await createTargetPlan(gpu, {
    trainer,
    replay,
    seed: c.seed,
    gamma: c.gamma,
    rewardScale: c.rewardScale,
    target: rule(kind, c),
    steps: c.steps,
    label: "test",
  });
  try {
    assert.equal(plan.stateQ !== undefined, kind === "munchausen", "Q̄(s) is computed for the munchausen rule only");
    for (const b of [
      plan.indices,
      plan.states,
      plan.nextStates,
      plan.actions,
      plan.targets,
      plan.targetQ,
      ...(plan.stateQ ? [plan.stateQ] : []),
    ])
      poisonBuffer(gpu, b);
    const firstStep = c.seed % 1000;
    plan.write([{ size: replay.size, firstStep, steps: c.steps, tau: c.tau }]);
    const encoder = gpu.encoder("test plan");
    const pass = encoder.beginComputePass();
    plan.encode(pass, 0);
    pass.end();
    gpu.submit([encoder.finish()]);
    const [indices, states, actions, targets, targetQ, stateQ] = await Promise.all([
      readUint32(gpu, plan.indices),
      readFloat32(gpu, plan.states),
      readUint32(gpu, plan.actions),
      readFloat32(gpu, plan.targets),
      readFloat32(gpu, plan.targetQ),
      plan.stateQ ? readFloat32(gpu, plan.stateQ) : Promise.resolve(undefined),
    ]);
    const rowsPerMember = c.steps * c.batch;
    const padded = targetQ.length / (c.ensemble * rowsPerMember);
    for (let step = 0; step < c.steps; step++) {
      const rows = minibatchIndices(replay.size, c.batch, c.seed, firstStep + step);
      rows.forEach((i, b) => {
        const g = step * c.batch + b;
        assert.equal(indices[g], i, `replay row of step ${step}, batch row ${b}`);
        const state = stored.obs.subarray(i * inputs, (i + 1) * inputs);
        assert.deepEqual(Array.from(states.subarray(g * inputs, (g + 1) * inputs)), Array.from(state), `state of plan row ${g}`);
        assert.equal(actions[g], stored.actions[i], `action of plan row ${g}`);
        const members = (q: Float32Array) =>
          Array.from({ length: c.ensemble }, (_, e) => q.subarray((e * rowsPerMember + g) * padded, (e * rowsPerMember + g + 1) * padded));
        checkRow(
          kind,
          spec,
          weights,
          c,
          {
            ...storedTransition(stored, i, inputs),
            targetQ: members(targetQ),
            stateQ: stateQ && members(stateQ),
            target: targets[g],
          },
          `step ${step}, batch row ${b} (replay row ${i})`,
        );
      });
    }
  } finally {
    plan.destroy();
    trainer.destroy();
    replay.destroy();
  }
}

const cases: fc.Arbitrary<Case> = fc.record({
  actions: fc.integer({ min: 2, max: 6 }),
  ensemble: fc.integer({ min: 1, max: 2 }),
  batch: fc.integer({ min: 2, max: 6 }),
  steps: fc.integer({ min: 1, max: 3 }),
  rewardScale: fc.double({ min: 0.5, max: 20, noNaN: true }),
  gamma: fc.double({ min: 0, max: 0.99, noNaN: true }),
  tau: fc.double({ min: 0.03, max: 2, noNaN: true }),
  alpha: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  clipMin: fc.option(fc.double({ min: -2, max: 0, noNaN: true }), { nil: undefined }),
  weightScale: fc.constantFrom(0.5, 1, 3),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

for (const kind of ["max", "munchausen"] as const) {
  test(`${kind} targets of the multi-dispatch fit are the float64 twin's within the derived bound`, async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        await checkFit(kind, "multi-dispatch", c);
      }),
      { numRuns: 5 },
    );
  });

  test(`${kind} targets of the fused path's target plan are the float64 twin's within the derived bound, every row of every step`, async () => {
    await fc.assert(
      fc.asyncProperty(cases, (c) => checkPlan(kind, c)),
      { numRuns: 5 },
    );
  });

  test(`${kind} targets of the fused fit, end to end: the last of 3 planned steps, bit for bit the multi-dispatch fit's`, async () => {
    // One shape for both rules (the fused kernel compiles once); M-DQN with τ small enough that
    // the clip is active on some rows.
    const c: Case = {
      actions: 3,
      ensemble: 2,
      batch: 4,
      steps: 3,
      rewardScale: 10,
      gamma: 0.99,
      tau: 0.3,
      alpha: undefined,
      clipMin: undefined,
      weightScale: 1,
      seed: 321,
    };
    const fused = await checkFit(kind, "fused", c);
    // The target networks are the same on both paths (refreshed before step 0 only), and the plan
    // computes each row as the multi-dispatch step does: the same rows, Q̄ and targets, bit for bit.
    const multi = await checkFit(kind, "multi-dispatch", c);
    assert.deepEqual(fused.rows, multi.rows);
    assert.deepEqual(fused.targetQ, multi.targetQ);
    assert.deepEqual(fused.stateQ, multi.stateQ);
    assert.deepEqual(fused.targets, multi.targets);
  });
}

test("munchausen targets of a conv network (multi-dispatch): the target networks' conv forward on the states", async () => {
  await checkFit("munchausen", "multi-dispatch", {
    actions: 4,
    ensemble: 2,
    batch: 5,
    steps: 2,
    rewardScale: 10,
    gamma: 0.99,
    tau: 0.3,
    alpha: 0.9,
    clipMin: -1,
    weightScale: 1,
    seed: 77,
    conv: true,
  });
});

test("bad target rules say what is wrong", async () => {
  const spec: MlpSpec = { inputs: INPUTS, hidden: [5], outputs: 3 };
  const replay = createReplayBuffer(gpu, { capacity: 20, inputs: INPUTS, actions: 3 });
  const random = seededUniform(3);
  replay.add({
    obs: randomStates(12, INPUTS, 4),
    nextObs: randomStates(12, INPUTS, 5),
    actions: Array.from({ length: 12 }, () => Math.floor(random() * 3)),
    rewards: Array.from({ length: 12 }, () => random()),
    terminated: Array.from({ length: 12 }, () => false),
  });
  const trainer = await createMlpTrainer(gpu, { mlp: spec, batch: 4, adam: { lr: 1e-3 }, targetNetworks: true, path: "multi-dispatch" });
  const make = (target: TargetRule, extra: { nextAction?: "sample" | "expectation" } = {}) =>
    createSoftQFit(gpu, { trainer, replay, seed: 0, gamma: 0.9, rewardScale: 1, target, ...extra });
  await assert.rejects(
    make({ kind: "double" } as unknown as TargetRule),
    /target\.kind must be "soft", "max" or "munchausen"; got "double"/,
  );
  await assert.rejects(make({ kind: "munchausen", alpha: -0.1 }), /target\.alpha .* must be a finite number >= 0; got -0\.1/);
  await assert.rejects(make({ kind: "munchausen", alpha: Number.NaN }), /target\.alpha .* must be a finite number >= 0; got NaN/);
  await assert.rejects(make({ kind: "munchausen", clipMin: 0.5 }), /target\.clipMin .* must be a finite number <= 0; got 0\.5/);
  await assert.rejects(
    make({ kind: "soft", nextAction: "expectation" }, { nextAction: "sample" }),
    /nextAction is given twice, as "sample" and as target\.nextAction "expectation"; give it once/,
  );
  await assert.rejects(make({ kind: "soft", nextAction: "mean" as "sample" }), /nextAction must be "sample" or "expectation"; got "mean"/);
  // M-DQN's temperature must be positive; the max rule ignores τ (but it must still be a number).
  const mdqn = await make({ kind: "munchausen" });
  await assert.rejects(
    mdqn.fit({ steps: 1, tau: 0 }),
    /tau \(M-DQN's temperature of softmax\(Q̄\/τ\)\) must be > 0 for the munchausen target/,
  );
  await assert.rejects(mdqn.fit({ steps: 1, tau: 1e-50 }), /must be > 0 for the munchausen target/);
  await assert.rejects(mdqn.fit({ steps: 1, tau: Number.NaN }), /tau must be a finite number >= 0/);
  // The replay buffer's policy was never precomputed: the soft rule refuses, the others need none.
  const soft = await make({ kind: "soft" });
  await assert.rejects(soft.fit({ steps: 1, tau: 0.1 }), /policy is stale/);
  const dqn = await make({ kind: "max" });
  await dqn.fit({ steps: 1, tau: 0 });
  await mdqn.fit({ steps: 1, tau: 0.03 });
  for (const fit of [mdqn, soft, dqn]) fit.destroy();
  trainer.destroy();
  replay.destroy();
});
