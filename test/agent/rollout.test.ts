// collectRollout keeps the actor's logits of every step and says which transition's next state
// each row covers (src/agent/rollout.ts): the replay buffer copies them instead of evaluating the
// stack on those states (src/train/replay-sums.ts), so a wrong row would silently give a wrong π_k.
import { test } from "node:test";
import assert from "node:assert/strict";
import { collectRollout } from "../../src/agent/rollout.ts";
import { makeEnv } from "../../src/envs/registry.ts";
import { createVectorEnv } from "../../src/envs/vector-env.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { createActor } from "../../src/policy/actor.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { createStack } from "../../src/stack/stack.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots } from "../helpers/random.ts";

const gpu = await testGpu();

test("a rollout's nextLogits rows point at the actor's logits of exactly the transitions' next states", async () => {
  const mlp = { inputs: 4, hidden: [8], outputs: 2 };
  const stack = createStack(gpu, { mlp, memory: 3, ensemble: 2 });
  for (let k = 0; k < 2; k++) stack.push(randomSnapshots(mlp, 2, 17 + k), { tau: 1 });
  const envs = createVectorEnv(() => makeEnv("CartPole-v1"), 3);
  const actor = createActor(stack, { maxBatch: 3, seed: 5 });
  const vectorSteps = 40; // CartPole ends episodes within 40 steps under a random-ish policy
  const rowCount = vectorSteps * envs.count;
  const logits = createBuffer(
    gpu,
    rowCount * 2 * 4,
    BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
    "test rollout logits",
  );
  const rollout = await collectRollout(envs, actor, envs.reset({ seed: 3 }), vectorSteps, 0, logits);
  const { nextLogits, transitions } = rollout;
  assert.ok(nextLogits);
  assert.equal(nextLogits.stack, stack);
  assert.equal(nextLogits.version, stack.version);
  assert.ok(rollout.episodeReturns.length > 0, "no episode ended: the final-observation rows went untested");

  const size = mlp.inputs;
  let ended = 0;
  for (let j = 0; j < rowCount; j++) {
    const row: number = nextLogits.rows[j];
    if (j >= rowCount - envs.count) {
      assert.equal(row, -1, `transition ${j} of the last step: its next state was never acted on`);
      continue;
    }
    const next = Array.from(transitions.nextObs.subarray(j * size, (j + 1) * size));
    const actedNext = Array.from(transitions.obs.subarray((j + envs.count) * size, (j + envs.count + 1) * size));
    if (row === -1) {
      // An episode's final observation: the copy reset itself, so the next step acted on another state.
      assert.notDeepEqual(next, actedNext, `transition ${j} has no logits row, yet its next state was acted on`);
      ended++;
      continue;
    }
    // The logits row is that of the state acted on at the next step, which is this transition's next state.
    assert.equal(row, j + envs.count);
    assert.deepEqual(actedNext, next);
  }
  assert.ok(
    ended >= 1 && ended <= rollout.episodeReturns.length,
    `${ended} final observations for ${rollout.episodeReturns.length} episodes`,
  );

  // And the buffer holds the stack's logits of those states (float32, within the reference's bound).
  const kept = await readFloat32(gpu, logits, 0, rowCount * 2);
  const contents = { spec: mlp, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction };
  const reference = stackLogitsReference(contents, transitions.obs, rowCount);
  for (let k = 0; k < rowCount * 2; k++) {
    assert.ok(
      Math.abs(kept[k] - reference.logits[k]) <= reference.bound[k],
      `logit ${k}: ${kept[k]} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
    );
  }
  logits.destroy();
  actor.destroy();
  stack.destroy();
});
