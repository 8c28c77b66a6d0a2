// The GPU replay ring: FIFO order and wrap-around against a CPU model, the precomputed policy of
// every stored next state equal (bit for bit) to evaluating the stack and the policy kernel on
// those states directly, and clear errors for bad transitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { policyFromLogits } from "../../src/policy/policy.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { createReplayBuffer, type Transitions } from "../../src/train/replay-buffer.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();

function randomTransitions(count: number, inputs: number, actions: number, seed: number): Transitions {
  const random = seededUniform(seed);
  return {
    obs: randomStates(count, inputs, seed + 1),
    nextObs: randomStates(count, inputs, seed + 2),
    actions: Array.from({ length: count }, () => Math.floor(random() * actions)),
    rewards: Array.from({ length: count }, () => random() * 4 - 2),
    terminated: Array.from({ length: count }, () => random() < 0.3),
  };
}

test("adds keep the newest `capacity` transitions, each in the row a FIFO ring puts it", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 1e6 }),
      async (capacity, inputs, counts, seed) => {
        const replay = createReplayBuffer(gpu, { capacity, inputs, actions: 3 });
        // The CPU model: row r holds the last transition written there.
        const model: { obs: number[]; nextObs: number[]; action: number; reward: number; terminated: number }[] = [];
        let next = 0;
        counts.forEach((requested, k) => {
          const count = Math.min(requested, capacity);
          const t = randomTransitions(count, inputs, 3, seed + k * 10);
          replay.add(t);
          for (let i = 0; i < count; i++) {
            model[next] = {
              obs: Array.from(t.obs.subarray(i * inputs, (i + 1) * inputs)),
              nextObs: Array.from(t.nextObs.subarray(i * inputs, (i + 1) * inputs)),
              action: t.actions[i],
              reward: Math.fround(t.rewards[i]),
              terminated: t.terminated[i] ? 1 : 0,
            };
            next = (next + 1) % capacity;
          }
        });
        assert.equal(replay.size, model.length);
        const stored = await replay.read();
        assert.equal(stored.next, next);
        model.forEach((row, r) => {
          assert.deepEqual(Array.from(stored.obs.subarray(r * inputs, (r + 1) * inputs)), row.obs, `obs of row ${r}`);
          assert.deepEqual(Array.from(stored.nextObs.subarray(r * inputs, (r + 1) * inputs)), row.nextObs, `next obs of row ${r}`);
          assert.equal(stored.actions[r], row.action);
          assert.equal(stored.rewards[r], row.reward);
          assert.equal(stored.terminated[r], row.terminated);
        });
        replay.destroy();
      },
    ),
    { numRuns: 25 },
  );
});

test("precomputePolicy keeps exactly the stack's logits of every stored next state and the policy kernel's probabilities and entropy", async () => {
  const spec = { inputs: 4, hidden: [8], outputs: 3 };
  const replay = createReplayBuffer(gpu, { capacity: 50, inputs: 4, actions: 3 });
  replay.add(randomTransitions(37, 4, 3, 3));
  const stack = createStack(gpu, { mlp: spec, memory: 4, ensemble: 2, eta: 2, tau: 0.5 });
  for (let k = 0; k < 3; k++) stack.push(randomSnapshots(spec, 2, 40 + k));
  assert.equal(replay.policyCurrent, false);
  await replay.precomputePolicy(stack);
  assert.equal(replay.policyCurrent, true);
  const stored = await replay.read();
  const expectedLogits = await stackLogits(stack, stored.nextObs);
  const expected = await policyFromLogits(gpu, expectedLogits, 3, { epsilon: 0, seed: 0, step: 0 });
  const [logits, probs, entropy] = await Promise.all([
    readFloat32(gpu, replay.buffers.logits, 0, 37 * 3),
    readFloat32(gpu, replay.buffers.probs, 0, 37 * 3),
    readFloat32(gpu, replay.buffers.entropy, 0, 37),
  ]);
  assert.deepEqual(Array.from(logits), Array.from(expectedLogits));
  assert.deepEqual(Array.from(probs), Array.from(expected.probs));
  assert.deepEqual(Array.from(entropy), Array.from(expected.entropy));
  replay.add(randomTransitions(1, 4, 3, 9));
  assert.equal(replay.policyCurrent, false, "a new row has no policy until the next precompute");
  // An add while a precompute is in flight would be counted in its size but not computed, and the
  // policy then marked current: refused, and the precompute's rows are all computed.
  const inFlight = replay.precomputePolicy(stack);
  assert.throws(
    () => replay.add(randomTransitions(1, 4, 3, 10)),
    /^StaqInputError: add: a precomputePolicy of this replay buffer has not finished/,
  );
  await inFlight;
  assert.equal(replay.size, 38);
  assert.equal(replay.policyCurrent, true);
  replay.add(randomTransitions(1, 4, 3, 10)); // once it has finished
  stack.destroy();
  replay.destroy();
  assert.equal(replay.destroyed, true);
});

test("bad transitions and sizes say what is wrong, and nothing is written", async () => {
  const replay = createReplayBuffer(gpu, { capacity: 4, inputs: 2, actions: 3 });
  const good = randomTransitions(2, 2, 3, 1);
  assert.throws(() => replay.add({ ...good, obs: new Float32Array(3) }), /obs has 3 values; 2 transitions × 2 inputs need 4/);
  assert.throws(
    () => replay.add({ ...good, nextObs: Float32Array.of(0, 0, Number.NaN, 0) }),
    /nextObs\[2\] \(transition 1\) is NaN; observations must be finite/,
  );
  assert.throws(() => replay.add({ ...good, actions: [0, 3] }), /actions\[1\] is 3; actions are integers in \[0, 3\)/);
  assert.throws(() => replay.add({ ...good, rewards: [0, Infinity] }), /rewards\[1\] is Infinity/);
  // Finite in float64 but Infinity in float32, where rewards are stored (a checkpoint of it could never be restored).
  assert.throws(
    () => replay.add({ ...good, rewards: [0, 1e40] }),
    /^StaqInputError: add: rewards\[1\] is 1e\+40; rewards must be finite float32 numbers/,
  );
  assert.throws(() => replay.add({ ...good, rewards: [0, "1" as unknown as number] }), /rewards\[1\] is the string "1"/);
  assert.throws(
    () => replay.add(null as never),
    /^StaqInputError: add needs transitions \{ obs, actions, rewards, terminated, nextObs \}; got null/,
  );
  assert.throws(() => replay.add({ ...good, terminated: [0, 2] }), /terminated\[1\] is 2; use true\/false or 1\/0/);
  assert.throws(() => replay.add({ ...good, rewards: [0] }), /one entry per transition; got 2, 1 and 2/);
  assert.throws(() => replay.add(randomTransitions(5, 2, 3, 2)), /5 transitions do not fit a replay buffer of capacity 4/);
  assert.equal(replay.size, 0);
  await assert.rejects(
    replay.precomputePolicy(createStack(gpu, { mlp: { inputs: 2, hidden: [], outputs: 3 }, memory: 1 })),
    /the replay buffer is empty/,
  );
  const wrong = createStack(gpu, { mlp: { inputs: 3, hidden: [], outputs: 3 }, memory: 1 });
  replay.add(good);
  await assert.rejects(
    replay.precomputePolicy(wrong),
    /the stack maps 3 inputs to 3 actions; the replay buffer holds 2 inputs and 3 actions/,
  );
  assert.throws(() => createReplayBuffer(gpu, { capacity: 0, inputs: 2, actions: 3 }), /capacity must be an integer >= 1; got 0/);
  wrong.destroy();
  replay.destroy();
});
