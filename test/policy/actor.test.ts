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
import { StaqInputError } from "../../src/errors.ts";
import { StaqStackChangedError } from "../../src/stack/stack-evaluator.ts";
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

test("an ε-greedy actor samples like policyFromLogits, and a call's ε overrides the actor's", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 4, ensemble: 2, eta: 3, tau: 0.5 });
  for (let k = 0; k < 3; k++) stack.push(randomSnapshots(SPEC, 2, 40 + k));
  const seed = 31;
  const greedyActor = createActor(stack, { maxBatch: 64, epsilon: 0.5, behaviour: "greedy", seed });
  const softmaxActor = createActor(stack, { maxBatch: 64, epsilon: 0.5, seed });
  const states = randomStates(64, SPEC.inputs, 8);
  const logits = await stackLogits(stack, states);
  for (const step of [0, 3, 2 ** 40]) {
    const expected = async (epsilon: number, behaviour: "softmax" | "greedy") =>
      Array.from((await policyFromLogits(gpu, logits, SPEC.outputs, { epsilon, behaviour, seed, step })).sampled);
    // The actor's own ε, then per-call overrides (a schedule's ε each step), in either kind.
    assert.deepEqual(Array.from(await greedyActor.act(states, { step })), await expected(0.5, "greedy"), `greedy kind, step ${step}`);
    for (const epsilon of [0, 0.2, 1]) {
      assert.deepEqual(
        Array.from(await greedyActor.act(states, { step, epsilon })),
        await expected(epsilon, "greedy"),
        `greedy ε ${epsilon}`,
      );
      assert.deepEqual(
        Array.from(await softmaxActor.act(states, { step, epsilon })),
        await expected(epsilon, "softmax"),
        `softmax ε ${epsilon}`,
      );
    }
    // ε = 0 in the greedy kind: the argmax on every row, whatever its u.
    const argmax = Array.from(await greedyActor.act(states, { step, greedy: true }));
    assert.deepEqual(Array.from(await greedyActor.act(states, { step, epsilon: 0 })), argmax, `ε = 0, step ${step}`);
    // ε = 1: uniform in both kinds, the same draws.
    assert.deepEqual(
      Array.from(await greedyActor.act(states, { step, epsilon: 1 })),
      Array.from(await softmaxActor.act(states, { step, epsilon: 1 })),
      `ε = 1, step ${step}`,
    );
  }
  // The override is per call: the next call without one is back at the actor's ε.
  assert.deepEqual(
    Array.from(await greedyActor.act(states, { step: 9 })),
    Array.from((await policyFromLogits(gpu, logits, SPEC.outputs, { epsilon: 0.5, behaviour: "greedy", seed, step: 9 })).sampled),
  );
  await assert.rejects(greedyActor.act(states, { step: 0, epsilon: 1.5 }), /epsilon.*\[0, 1\]; got 1.5/);
  await assert.rejects(greedyActor.act(states, { step: 0, epsilon: NaN }), /epsilon.*\[0, 1\]; got NaN/);
  assert.throws(
    () => createActor(stack, { maxBatch: 1, seed: 1, behaviour: "max" as "greedy" }),
    /behaviour must be "softmax" or "greedy"/,
  );
  greedyActor.destroy();
  softmaxActor.destroy();
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
    // Odd steps also take a per-call ε (a schedule's): still nothing allocated.
    for (let step = 1; step <= 20; step++) {
      const actions = await actor.act(states, { step, greedy: step % 2 === 0, epsilon: step % 4 === 1 ? step / 20 : undefined });
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

test("an act call acts on what it was given when made: its states and options are copied, and a push before it ran rejects it", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 3, tau: 0.5 });
  for (let k = 0; k < 3; k++) stack.push(randomSnapshots(SPEC, 1, 40 + k)[0]);
  const actor = createActor(stack, { maxBatch: 8, seed: 5 });
  const states = randomStates(8, SPEC.inputs, 44);
  const options = { step: 3, greedy: false };
  const expected = Array.from(await actor.act(states.slice(), { ...options }));
  const pending = actor.act(states, options);
  states.fill(NaN);
  options.step = 4;
  options.greedy = true;
  assert.deepEqual(Array.from(await pending), expected);

  states.set(randomStates(8, SPEC.inputs, 44));
  const beforePush = actor.act(states, { step: 3 });
  stack.push(randomSnapshots(SPEC, 1, 45)[0]);
  await assert.rejects(
    beforePush,
    (error: Error) =>
      error instanceof StaqStackChangedError &&
      error instanceof StaqInputError &&
      /^act: .* changed \(push or set\) after this call was made and before it ran/.test(error.message),
  );
  await assert.rejects(actor.act(states, undefined as unknown as { step: number }), /act needs options: \{ step/);
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
