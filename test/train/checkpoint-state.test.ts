// What a training checkpoint restores on the GPU side: the trainer's parameters, target networks
// and Adam state (training continues bit for bit), the replay ring (contents and write position),
// and a full stack ring put back in its old slot order (logits bit for bit). Bad input is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { initialQNetworks } from "../../src/train/initialisation.ts";
import { StaqInputError } from "../../src/errors.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();
const mlp = { inputs: 3, hidden: [6, 5], outputs: 3 }; // widths that are not multiples of 4: padding exists

function batchFor(seed: number, batch: number) {
  const random = seededUniform(seed);
  return {
    states: randomStates(batch, mlp.inputs, seed),
    actions: Array.from({ length: batch }, () => Math.floor(random() * mlp.outputs)),
    targets: Array.from({ length: batch }, () => random() * 4 - 2),
  };
}

for (const path of ["multi-dispatch", "fused"] as const)
  test(`a trainer restored from exportState continues exactly: K + L steps equal K steps, export, import into a new trainer, L steps (${path})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 1e6 }),
        async (k, l, ensemble, seed) => {
          const options = { mlp, ensemble, batch: 8, adam: { lr: 1e-2 }, targetNetworks: true, path };
          const batch = batchFor(seed, 8);
          const straight = await createMlpTrainer(gpu, options);
          const split = await createMlpTrainer(gpu, options);
          const resumed = await createMlpTrainer(gpu, options);
          for (const trainer of [straight, split]) {
            trainer.setWeights(initialQNetworks(mlp, ensemble, seed));
            trainer.setBatch(batch);
          }
          straight.train(k + l);
          split.train(k);
          const state = await split.exportState();
          assert.equal(state.adamSteps, k);
          resumed.importState(state);
          resumed.setBatch(batch);
          resumed.train(l);
          const [a, b] = [await straight.exportState(), await resumed.exportState()];
          assert.deepEqual(b.params, a.params);
          assert.deepEqual(b.adamM, a.adamM);
          assert.deepEqual(b.adamV, a.adamV);
          assert.deepEqual(b.targetParams, a.targetParams);
          assert.equal(b.adamSteps, k + l);
          for (const trainer of [straight, split, resumed]) trainer.destroy();
        },
      ),
      { numRuns: 6 },
    );
  });

test("importState refuses arrays of the wrong length, non-finite values and target networks the trainer lacks", async () => {
  const trainer = await createMlpTrainer(gpu, { mlp, batch: 4, adam: { lr: 1e-3 } });
  const state = await trainer.exportState();
  assert.throws(
    () => trainer.importState({ ...state, adamM: state.adamM.subarray(1) }),
    (e: Error) => e instanceof StaqInputError && /adamM must be a Float32Array of \d+ values/.test(e.message),
  );
  const bad = state.params.slice();
  bad[2] = NaN;
  assert.throws(() => trainer.importState({ ...state, params: bad }), /params\[2\] is NaN/);
  assert.throws(() => trainer.importState({ ...state, targetParams: state.params }), /no target networks/);
  assert.throws(() => trainer.importState({ ...state, adamSteps: -1 }), /adamSteps must be an integer >= 0/);
  trainer.destroy();
});

test("a replay buffer restored from read() holds the same rows and write position, and keeps filling the ring from there", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 9 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 1e6 }),
      async (capacity, counts, seed) => {
        const random = seededUniform(seed);
        const transitions = (count: number, s: number) => ({
          obs: randomStates(count, 2, s),
          nextObs: randomStates(count, 2, s + 1),
          actions: Array.from({ length: count }, () => Math.floor(random() * 3)),
          rewards: Array.from({ length: count }, () => random()),
          terminated: Array.from({ length: count }, () => random() < 0.5),
        });
        const original = createReplayBuffer(gpu, { capacity, inputs: 2, actions: 3 });
        counts.forEach((c, i) => original.add(transitions(Math.min(c, capacity), seed + 10 * i)));
        const restored = createReplayBuffer(gpu, { capacity, inputs: 2, actions: 3 });
        restored.restore(await original.read());
        assert.equal(restored.size, original.size);
        assert.equal(restored.policyCurrent, false);
        const more = transitions(Math.min(3, capacity), seed + 99);
        original.add(more);
        restored.add(more);
        assert.deepEqual(await restored.read(), await original.read());
        original.destroy();
        restored.destroy();
      },
    ),
    { numRuns: 15 },
  );
});

test("replay restore refuses an impossible write position and rows beyond the capacity", async () => {
  const replay = createReplayBuffer(gpu, { capacity: 4, inputs: 1, actions: 2 });
  const rows = (n: number, next: number) => ({
    obs: new Float32Array(n),
    nextObs: new Float32Array(n),
    actions: new Uint32Array(n),
    rewards: new Float32Array(n),
    terminated: new Float32Array(n),
    next,
  });
  assert.throws(() => replay.restore(rows(2, 1)), /write position 1 is impossible for 2 rows/);
  assert.throws(() => replay.restore(rows(5, 0)), /5 rows do not fit a replay buffer of capacity 4/);
  assert.throws(() => replay.restore({ ...rows(2, 2), actions: Uint32Array.of(0, 7) }), /actions\[1\] is 7/);
  replay.restore(rows(4, 3));
  assert.equal(replay.size, 4);
  replay.destroy();
});

test("a full stack ring set with its oldest slot gives the original's logits bit for bit, and pushes continue the same way", async () => {
  const memory = 4;
  const ensemble = 2;
  const original = createStack(gpu, { mlp, memory, ensemble, eta: 2, tau: 0.5 });
  const snapshots = randomSnapshots(mlp, memory + 2 + 1, 17);
  for (let i = 0; i < memory + 2; i++) original.push([snapshots[i], snapshots[(i + 3) % snapshots.length]], { tau: 0.5 - 0.01 * i });
  const oldestSlot = original.slotsOldestFirst()[0];
  assert.notEqual(oldestSlot, 0, "the ring has wrapped, so its oldest snapshot is not in slot 0");
  const copy = createStack(gpu, { mlp, memory, ensemble, eta: 2, tau: 0.5 });
  copy.set({
    snapshots: await original.readSnapshots(),
    coefficients: original.coefficients,
    correction: original.correction,
    tau: original.pmd.tau,
    oldestSlot,
  });
  const states = randomStates(7, mlp.inputs, 3);
  assert.deepEqual(await stackLogits(copy, states), await stackLogits(original, states));
  const next = snapshots[memory + 2];
  original.push([next, next], { tau: 0.3 });
  copy.push([next, next], { tau: 0.3 });
  assert.deepEqual(await stackLogits(copy, states), await stackLogits(original, states));
  assert.deepEqual(copy.slotsOldestFirst(), original.slotsOldestFirst());
  assert.throws(
    () =>
      copy.set({
        snapshots: [[snapshots[0]], [snapshots[1]]],
        coefficients: [Float64Array.of(1), Float64Array.of(1)],
        correction: 1,
        oldestSlot: 2,
      }),
    /oldestSlot must be 0, or an integer in \[0, 4\) when all 4 slots are filled/,
  );
  original.destroy();
  copy.destroy();
});
