// Acting in one submit: the actions equal those of evaluating the stack and the policy kernel
// separately (the same kernels on the same batch, so bit for bit), greedy is the argmax, a call
// after the first allocates nothing on the GPU, and bad calls say what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createActor } from "../../src/policy/actor.ts";
import { policyFromLogits } from "../../src/policy/policy.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { planStackDispatch } from "../../src/stack/dispatch-plan.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

const gpu = await testGpu();
const SPEC = { inputs: 5, hidden: [12, 8], outputs: 6 };

test("act gives the sampled and greedy actions of stackLogits + policyFromLogits, for batches up to maxBatch", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 4, ensemble: 2, eta: 3, tau: 0.5 });
  for (let k = 0; k < 5; k++) stack.push(randomSnapshots(SPEC, 2, 10 + k));
  const actor = createActor(stack, { maxBatch: 16, epsilon: 0.1, seed: 2n ** 40n + 3n });
  for (const [batch, step] of [
    [1, 0],
    [16, 7],
    [9, 2 ** 33],
  ] as const) {
    const states = randomStates(batch, SPEC.inputs, batch + step);
    const expected = await policyFromLogits(gpu, await stackLogits(stack, states), SPEC.outputs, {
      epsilon: 0.1,
      seed: 2n ** 40n + 3n,
      step,
    });
    assert.deepEqual(Array.from(await actor.act(states, { step })), Array.from(expected.sampled), `sampled, batch ${batch}`);
    assert.deepEqual(Array.from(await actor.act(states, { step, greedy: true })), Array.from(expected.greedy), `greedy, batch ${batch}`);
  }
  // Concurrent calls share the buffers; they are serialised and each gets its own answer.
  const a = randomStates(3, SPEC.inputs, 1);
  const b = randomStates(4, SPEC.inputs, 2);
  const [ga, gb] = await Promise.all([actor.act(a, { step: 0, greedy: true }), actor.act(b, { step: 0, greedy: true })]);
  assert.deepEqual(Array.from(ga), Array.from(await actor.act(a, { step: 0, greedy: true })));
  assert.equal(gb.length, 4);
  actor.destroy();
  stack.destroy();
});

test("acting allocates nothing per call: after the first call, 20 more create no buffer, bind group or kernel", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 20, ensemble: 2, targetWorkgroups: 64 });
  const snapshots = randomSnapshots(SPEC, 40, 30);
  for (let k = 0; k < 20; k++) stack.push(snapshots.slice(2 * k, 2 * k + 2));
  // More snapshots than a workgroup has lanes: spread over runs, so stack_reduce and its partial sums are in the path.
  assert.ok(planStackDispatch(stack, stack.size, 8, gpu.info.limits).rowChunks[0].parts > 1);
  const actor = createActor(stack, { maxBatch: 8, epsilon: 0.1, seed: 9 });
  const states = randomStates(8, SPEC.inputs, 5);
  const greedy = Array.from(await actor.act(states, { step: 0, greedy: true }));

  const counts = { buffers: 0, bindGroups: 0, kernels: 0 };
  const { device } = gpu;
  const { createBuffer, createBindGroup } = device;
  const { kernel } = gpu;
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    counts.buffers++;
    return createBuffer.call(this, descriptor);
  };
  device.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
    counts.bindGroups++;
    return createBindGroup.call(this, descriptor);
  };
  gpu.kernel = (...args) => {
    counts.kernels++;
    return kernel(...args);
  };
  const answers: number[][] = [];
  try {
    // Sampled and greedy in turn: the two read different buffers through the same staging buffer.
    for (let step = 1; step <= 20; step++) {
      const actions = await actor.act(states, { step, greedy: step % 2 === 0 });
      if (step % 2 === 0) answers.push(Array.from(actions));
    }
  } finally {
    device.createBuffer = createBuffer;
    device.createBindGroup = createBindGroup;
    gpu.kernel = kernel;
  }
  assert.deepEqual(counts, { buffers: 0, bindGroups: 0, kernels: 0 });
  // The calls did the work: every greedy answer is the first one.
  for (const answer of answers) assert.deepEqual(answer, greedy);
  actor.destroy();
  stack.destroy();
});

test("an empty stack acts uniformly at random; bad calls say what is wrong", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 2 });
  const actor = createActor(stack, { maxBatch: 4, seed: 1 });
  const greedy = await actor.act(randomStates(4, SPEC.inputs, 3), { step: 0, greedy: true });
  assert.deepEqual(Array.from(greedy), [0, 0, 0, 0], "all logits are 0: ties go to the lowest action");
  await assert.rejects(actor.act(randomStates(5, SPEC.inputs, 3), { step: 0 }), /5 states, but this actor was created for at most 4/);
  await assert.rejects(actor.act(new Float32Array(7), { step: 0 }), /not a whole number of states of 5 inputs/);
  await assert.rejects(actor.act(randomStates(1, SPEC.inputs, 3), { step: -1 }), /step must be an integer in \[0, 2\^64\)/);
  assert.throws(() => createActor(stack, { maxBatch: 0, seed: 1 }), /maxBatch must be an integer >= 1/);
  assert.throws(() => createActor(stack, { maxBatch: 1, seed: 1, epsilon: 2 }), /epsilon/);
  actor.destroy();
  await assert.rejects(actor.act(randomStates(1, SPEC.inputs, 3), { step: 0 }), /destroyed/);
  stack.destroy();
});
