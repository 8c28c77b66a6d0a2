// The policy API's options: a missing options object, stack or buffer is a StaqInputError saying
// what was expected (not a TypeError from inside), greedy is a boolean, and misspelt option keys
// are refused rather than silently ignored.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createActor, type ActOptions, type ActorOptions } from "../../src/policy/actor.ts";
import { encodePolicy, policyFromLogits, type EncodePolicyOptions, type PolicySampling } from "../../src/policy/policy.ts";
import { createBuffer } from "../../src/gpu/buffers.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createStack, type Stack } from "../../src/stack/stack.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

const gpu = await testGpu();
const SPEC = { inputs: 3, hidden: [4], outputs: 2 };

/** A StaqInputError with exactly `message`. */
const input = (message: string) => ({ name: "StaqInputError", message });

test("createActor: a missing stack or options object, and unknown options, are refused", () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 2 });
  const untyped = createActor as unknown as (...args: unknown[]) => unknown;
  assert.throws(() => untyped(stack), input("createActor needs an options object; got undefined"));
  assert.throws(() => untyped(null, { maxBatch: 1, seed: 0 }), input("createActor needs a Stack (createStack); got null"));
  // greedy is an act option: it was ignored here, and every action sampled.
  assert.throws(
    () => createActor(stack, { maxBatch: 1, seed: 0, greedy: true } as ActorOptions),
    input('createActor: unknown option "greedy"; the options are: maxBatch, epsilon, behaviour, seed'),
  );
  assert.throws(
    () => createActor(stack, { maxBatch: 1, seed: 0, behaviour: 3 } as unknown as ActorOptions),
    /behaviour must be "softmax" or "greedy"; got 3/,
  );
  stack.destroy();
});

test("act: greedy is a boolean, keepLogits a buffer and an offset, and unknown options are refused", async () => {
  const stack = createStack(gpu, { mlp: SPEC, memory: 2 });
  stack.push(randomSnapshots(SPEC, 1, 3)[0]);
  const actor = createActor(stack, { maxBatch: 4, seed: 1 });
  const states = randomStates(4, SPEC.inputs, 2);
  const act = (options: unknown) => actor.act(states, options as ActOptions);
  // "no" is truthy: it took the greedy action.
  await assert.rejects(act({ step: 0, greedy: "no" }), input('act: greedy must be true or false; got the string "no"'));
  await assert.rejects(act({ step: 0, greedy: 1 }), input("act: greedy must be true or false; got 1"));
  await assert.rejects(
    act({ step: 0, greddy: true }),
    input('act: unknown option "greddy"; the options are: greedy, epsilon, step, keepLogits'),
  );
  await assert.rejects(
    act({ step: 0, epsilon: "0.1" }),
    /epsilon \(the ε of the behaviour policy\) must be a number in \[0, 1\]; got the string "0\.1"/,
  );
  // No buffer: a TypeError from reading its size, when the call ran.
  await assert.rejects(act({ step: 0, keepLogits: { offset: 0 } }), input("act: keepLogits.buffer must be a GPUBuffer; got undefined"));
  await assert.rejects(act({ step: 0, keepLogits: 5 }), input("act: keepLogits must be { buffer: GPUBuffer, offset }; got 5"));
  const kept = createBuffer(gpu, 4 * SPEC.outputs * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, "kept logits");
  await assert.rejects(
    act({ step: 0, keepLogits: { buffer: kept, offset: 0, bytes: 32 } }),
    /act: keepLogits: unknown option "bytes"; the options are: buffer, offset/,
  );
  await assert.rejects(act({ step: 0, keepLogits: { buffer: kept, offset: 4 } }), /act: keepLogits needs 32 bytes from offset 4/);
  // The checks pass what is right: greedy false samples, true takes the argmax, logits are kept.
  const sampled = await act({ step: 0, greedy: false, keepLogits: { buffer: kept, offset: 0 } });
  assert.deepEqual(Array.from(sampled), Array.from(await act({ step: 0 })));
  const greedy = await act({ step: 0, greedy: true });
  assert.equal(greedy.length, 4);
  // The region is copied with the call: changing it after the call changes nothing.
  const keep = { buffer: kept, offset: 0 };
  const pending = act({ step: 1, keepLogits: keep });
  keep.offset = 3;
  await pending;
  actor.destroy();
  kept.destroy();
  stack.destroy();
});

test("policyFromLogits and encodePolicy: a missing options object, output or logits buffer, and unknown options, are refused", async () => {
  const logits = new Float32Array([0, 1, 2, 3]);
  const untyped = policyFromLogits as unknown as (...args: unknown[]) => Promise<unknown>;
  await assert.rejects(untyped(gpu, logits, 2), input("policyFromLogits needs an options object; got undefined"));
  // A misspelt ε was ignored: ε = undefined failed as "got undefined", or a default was used.
  await assert.rejects(
    policyFromLogits(gpu, logits, 2, { epsilon: 0, epsilonn: 0.5, seed: 0, step: 0 } as PolicySampling),
    input('policyFromLogits: unknown option "epsilonn"; the options are: epsilon, behaviour, seed, step, rowOffset'),
  );

  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
  const make = (elements: number) => createBuffer(gpu, elements * 4, usage, "options test");
  const outputs = () => ({ probs: make(4), logProbs: make(4), entropy: make(2), behaviour: make(4), greedy: make(2), sampled: make(2) });
  const base = { epsilon: 0, seed: 0, step: 0, batch: 2, actions: 2 };
  const encode = (options: Record<string, unknown>) =>
    encodePolicy(gpu, gpu.device.createCommandEncoder(), options as unknown as EncodePolicyOptions);
  await assert.rejects(
    encode({ ...base, logits: make(4) }),
    input("outputs must be an object of six buffers { probs, logProbs, entropy, behaviour, greedy, sampled }; got undefined"),
  );
  const { entropy: _, ...five } = outputs();
  await assert.rejects(
    encode({ ...base, logits: make(4), outputs: five }),
    input("outputs.entropy must be a GPUBuffer, or { buffer: GPUBuffer, offset? }; got undefined"),
  );
  await assert.rejects(
    encode({ ...base, logits: make(4), outputs: { ...outputs(), probs: { offset: 0 } } }),
    /outputs\.probs must be a GPUBuffer, or \{ buffer: GPUBuffer, offset\? \}; got an object \{"offset":0\}/,
  );
  await assert.rejects(
    encode({ ...base, logits: make(4), outputs: { ...outputs(), logprobs: make(4) } }),
    /outputs: unknown option "logprobs"; the options are: probs, logProbs, entropy, behaviour, greedy, sampled/,
  );
  await assert.rejects(
    encode({ ...base, outputs: outputs() }),
    input("encodePolicy: logits must be a GPUBuffer (with logitsOffset for a region); got undefined"),
  );
  await assert.rejects(
    encode({ ...base, logits: make(4), outputs: outputs(), rowoffset: 2 }),
    /encodePolicy: unknown option "rowoffset"; the options are: epsilon, behaviour, seed, step, rowOffset, logits, logitsOffset, batch, actions, outputs, maxRowsPerDispatch/,
  );
  await assert.rejects(
    encode(undefined as unknown as Record<string, unknown>),
    input("encodePolicy needs an options object; got undefined"),
  );
  // Complete options still encode.
  await encode({ ...base, logits: make(4), outputs: outputs() });
});

test("the stack given to createActor is checked before its fields are read", () => {
  const untyped = createActor as unknown as (...args: unknown[]) => unknown;
  assert.throws(() => untyped(undefined, { maxBatch: 1, seed: 0 }), input("createActor needs a Stack (createStack); got undefined"));
  assert.throws(
    () => untyped("stack" as unknown as Stack, { maxBatch: 1, seed: 0 }),
    /createActor needs a Stack \(createStack\); got the string "stack"/,
  );
});
