import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createStack, type Stack } from "../../src/stack/stack.ts";
import { encodeStackLogits, stackLogits } from "../../src/stack/stack-logits.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { pmdCoefficients, pmdRates } from "../../src/pmd/coefficients.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createBuffer, poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { StaqGpuError, StaqInputError } from "../../src/errors.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";
import { StaqStackChangedError } from "../../src/stack/stack-evaluator.ts";

const gpu = await testGpu();

/** Runs the kernel into a poisoned logits buffer, so an element it does not write stays NaN. */
async function gpuLogits(stack: Stack, states: Float32Array): Promise<Float32Array> {
  const batch = states.length / stack.spec.inputs;
  const statesBuffer = createBuffer(gpu, states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, "test states");
  const logits = createBuffer(
    gpu,
    batch * stack.spec.outputs * 4,
    BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    "test logits",
  );
  gpu.device.queue.writeBuffer(statesBuffer, 0, states);
  poisonBuffer(gpu, logits);
  const encoder = gpu.device.createCommandEncoder();
  await encodeStackLogits(stack, encoder, { states: statesBuffer, logits, batch });
  const result = await readFloat32(gpu, logits, 0, batch * stack.spec.outputs, [encoder.finish()]);
  statesBuffer.destroy();
  logits.destroy();
  return result;
}

/** Asserts |gpu − reference| ≤ the derived float32 bound for every logit (see src/stack/reference.ts). */
async function assertMatchesReference(stack: Stack, states: Float32Array, factor = 1): Promise<Float32Array> {
  const batch = states.length / stack.spec.inputs;
  const result = await gpuLogits(stack, states);
  const reference = stackLogitsReference(
    { spec: stack.spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
    states,
    batch,
  );
  for (let i = 0; i < result.length; i++) {
    assert.ok(Number.isFinite(result[i]), `logit ${i} was not written (still the poison NaN) or is not finite: ${result[i]}`);
    const error = Math.abs(result[i] - reference.logits[i]);
    assert.ok(
      error <= factor * reference.bound[i],
      `logit ${i}: |${result[i]} − ${reference.logits[i]}| = ${error} > bound ${reference.bound[i]}`,
    );
  }
  return result;
}

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

// Random shapes kept small for lavapipe; each distinct shape and tile compiles a pipeline (~2 s),
// so widths come from a few values while everything else varies freely.
const caseArb = fc.record({
  inputs: fc.integer({ min: 1, max: 24 }),
  hidden: fc.array(fc.constantFrom(16, 20, 64), { maxLength: 2 }),
  outputs: fc.integer({ min: 2, max: 18 }),
  memory: fc.integer({ min: 1, max: 12 }),
  ensemble: fc.integer({ min: 1, max: 3 }),
  extraPushes: fc.integer({ min: -11, max: 5 }),
  batch: fc.integer({ min: 1, max: 70 }),
  snapshotsPerBinding: fc.constantFrom(undefined, 1, 3),
  targetWorkgroups: fc.constantFrom(1, 7, 256),
  tau: fc.double({ min: 0.05, max: 5, noNaN: true }),
  seed: fc.integer(),
});

test("GPU logits match the float64 reference within the derived float32 bound (random shapes)", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const spec: MlpSpec = { inputs: c.inputs, hidden: c.hidden, outputs: c.outputs };
      const probe = createStack(gpu, { mlp: spec, memory: 1 });
      const snapshotBytes = probe.layout.vec4s * 16;
      probe.destroy();
      const stack = createStack(gpu, {
        mlp: spec,
        memory: c.memory,
        ensemble: c.ensemble,
        eta: 2,
        tau: c.tau,
        targetWorkgroups: c.targetWorkgroups,
        maxBindingBytes: c.snapshotsPerBinding ? c.snapshotsPerBinding * snapshotBytes : undefined,
      });
      const pushes = Math.max(1, c.memory + c.extraPushes);
      const snapshots = randomSnapshots(spec, pushes * c.ensemble, c.seed);
      for (let p = 0; p < pushes; p++) stack.push(snapshots.slice(p * c.ensemble, (p + 1) * c.ensemble));
      await assertMatchesReference(stack, randomStates(c.batch, c.inputs, c.seed + 1));
      stack.destroy();
    }),
    { numRuns: 14 },
  );
});

test("edge shapes: a linear model, the widest hidden layer, 512 inputs, 18 actions, many head units", async () => {
  for (const [spec, batch] of [
    [{ inputs: 7, hidden: [], outputs: 5 }, 9],
    [{ inputs: 512, hidden: [256], outputs: 18 }, 9],
    [{ inputs: 3, hidden: [256, 17], outputs: 2 }, 9],
    // Found by the property above: 20 head units per thread, and lanes limited by workgroup memory.
    [{ inputs: 1, hidden: [16], outputs: 17 }, 25],
  ] as const) {
    const stack = createStack(gpu, { mlp: spec, memory: 3, ensemble: 2, targetWorkgroups: 1 });
    const snapshots = randomSnapshots(spec, 8, 5);
    for (let p = 0; p < 4; p++) stack.push(snapshots.slice(2 * p, 2 * p + 2));
    await assertMatchesReference(stack, randomStates(batch, spec.inputs, 6));
    stack.destroy();
  }
});

const spec: MlpSpec = { inputs: 6, hidden: [20], outputs: 5 };

function filledStack(
  memory = 6,
  pushes = 9,
  options: { ensemble?: number; targetWorkgroups?: number } = {},
): { stack: Stack; snapshots: MlpWeights[] } {
  const ensemble = options.ensemble ?? 1;
  const stack = createStack(gpu, { mlp: spec, memory, ensemble, eta: 1.5, tau: 0.7, targetWorkgroups: options.targetWorkgroups });
  const snapshots = randomSnapshots(spec, pushes * ensemble, 11);
  for (let p = 0; p < pushes; p++) stack.push(snapshots.slice(p * ensemble, (p + 1) * ensemble));
  return { stack, snapshots };
}

test("same inputs give bit-identical logits run to run", async () => {
  const { stack } = filledStack(6, 9, { targetWorkgroups: 64 }); // several runs: the reduction is in the path
  const states = randomStates(33, spec.inputs, 3);
  const first = bits(await gpuLogits(stack, states));
  for (let run = 0; run < 3; run++) assert.deepEqual(bits(await gpuLogits(stack, states)), first);
  stack.destroy();
});

test("permuting snapshots together with their coefficients leaves the logits unchanged", async () => {
  // Both orders are within the bound of the same exact sum, so they differ by at most twice it.
  const { stack } = filledStack();
  const states = randomStates(10, spec.inputs, 4);
  const before = await assertMatchesReference(stack, states);
  const [members, coefficients] = [await stack.readSnapshots(), stack.coefficients];
  const order = [3, 0, 5, 1, 4, 2];
  stack.set({
    snapshots: members.map((list) => order.map((i) => list[i])),
    coefficients: coefficients.map((c) => Float64Array.from(order, (i) => c[i])),
    correction: stack.correction,
  });
  const after = await assertMatchesReference(stack, states);
  const reference = stackLogitsReference(
    { spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
    states,
    10,
  );
  for (let i = 0; i < before.length; i++) assert.ok(Math.abs(before[i] - after[i]) <= 2 * reference.bound[i]);
  stack.destroy();
});

test("a snapshot with coefficient zero is the same as no snapshot", async () => {
  const { stack, snapshots } = filledStack(6, 5);
  const states = randomStates(12, spec.inputs, 8);
  const without = await gpuLogits(stack, states);
  const members = await stack.readSnapshots();
  const c = stack.coefficients[0];
  stack.set({ snapshots: [[...members[0], snapshots[0]]], coefficients: [Float64Array.from([...c, 0])], correction: stack.correction });
  const withZero = await assertMatchesReference(stack, states);
  const reference = stackLogitsReference({ spec, snapshots: members, coefficients: [c], correction: stack.correction }, states, 12);
  for (let i = 0; i < without.length; i++) assert.ok(Math.abs(without[i] - withZero[i]) <= 2 * reference.bound[i]);
  stack.destroy();
});

test("rows of a batch are independent, bit for bit", async () => {
  const { stack } = filledStack(6, 9, { ensemble: 2, targetWorkgroups: 16 });
  const batch = 37;
  const states = randomStates(batch, spec.inputs, 21);
  const base = bits(await gpuLogits(stack, states));
  // Changing every other row leaves row 5 alone.
  const changed = randomStates(batch, spec.inputs, 22);
  changed.set(states.subarray(5 * spec.inputs, 6 * spec.inputs), 5 * spec.inputs);
  const row5 = (all: number[]) => all.slice(5 * spec.outputs, 6 * spec.outputs);
  assert.deepEqual(row5(bits(await gpuLogits(stack, changed))), row5(base));
  // Permuting the rows permutes the logits.
  const random = seededUniform(3);
  const order = Array.from({ length: batch }, (_, i) => i).sort(() => random() - 0.5);
  const permuted = new Float32Array(states.length);
  order.forEach((from, to) => permuted.set(states.subarray(from * spec.inputs, (from + 1) * spec.inputs), to * spec.inputs));
  const out = bits(await gpuLogits(stack, permuted));
  order.forEach((from, to) =>
    assert.deepEqual(out.slice(to * spec.outputs, (to + 1) * spec.outputs), base.slice(from * spec.outputs, (from + 1) * spec.outputs)),
  );
  stack.destroy();
});

test("an empty stack gives zero logits (the uniform policy)", async () => {
  const stack = createStack(gpu, { mlp: spec, memory: 4 });
  assert.deepEqual([...(await gpuLogits(stack, randomStates(3, spec.inputs, 1)))], Array(15).fill(0));
  stack.destroy();
});

test("stackLogits (upload, evaluate, read back) agrees with encodeStackLogits", async () => {
  const { stack } = filledStack();
  const states = randomStates(20, spec.inputs, 30);
  assert.deepEqual(bits(await stackLogits(stack, states)), bits(await gpuLogits(stack, states)));
  // Concurrent calls are serialised and each gets its own answer.
  const other = randomStates(3, spec.inputs, 31);
  const [a, b] = await Promise.all([stackLogits(stack, states), stackLogits(stack, other)]);
  assert.deepEqual(bits(a), bits(await gpuLogits(stack, states)));
  assert.deepEqual(bits(b), bits(await gpuLogits(stack, other)));
  stack.destroy();
});

test("a prepared evaluation follows pushes: into a full ring it is reused and still gives the new stack's logits", async () => {
  const { stack } = filledStack(3, 3, { targetWorkgroups: 64 });
  const states = randomStates(7, spec.inputs, 40);
  const snapshots = randomSnapshots(spec, 4, 41);
  let previous = bits(await stackLogits(stack, states));
  const { device } = gpu;
  const { createBindGroup } = device;
  let bindGroups = 0;
  device.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
    bindGroups++;
    return createBindGroup.call(this, descriptor);
  };
  try {
    for (const snapshot of snapshots) {
      stack.push(snapshot);
      const logits = await stackLogits(stack, states);
      const reference = stackLogitsReference(
        { spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
        states,
        7,
      );
      logits.forEach((x, k) => assert.ok(Math.abs(x - reference.logits[k]) <= reference.bound[k], `logit ${k}`));
      assert.notDeepEqual(bits(logits), previous);
      previous = bits(logits);
    }
  } finally {
    device.createBindGroup = createBindGroup;
  }
  assert.equal(bindGroups, 0, "the number of stored snapshots did not change, so nothing was prepared again");
  stack.destroy();
});

test("push writes one snapshot per member and the coefficients, and never reallocates", () => {
  const stack = createStack(gpu, { mlp: spec, memory: 5, ensemble: 2 });
  const buffers = stack.chunks.map((chunk) => chunk.buffer);
  const queue = gpu.device.queue;
  const original = queue.writeBuffer;
  let written = 0;
  queue.writeBuffer = function (
    this: GPUQueue,
    buffer: GPUBuffer,
    offset: number,
    data: BufferSource | SharedArrayBuffer,
    dataOffset?: number,
    size?: number,
  ) {
    written += size ?? (data as ArrayBuffer).byteLength;
    return original.call(this, buffer, offset, data as BufferSource, dataOffset, size);
  } as typeof queue.writeBuffer;
  try {
    const snapshots = randomSnapshots(spec, 2, 1);
    for (let p = 0; p < 12; p++) {
      written = 0;
      stack.push(snapshots);
      assert.equal(written, 2 * stack.layout.vec4s * 16 + 5 * 2 * 4, "bytes uploaded by one push");
    }
  } finally {
    queue.writeBuffer = original;
  }
  assert.deepEqual(
    stack.chunks.map((chunk) => chunk.buffer),
    buffers,
  );
  stack.destroy();
});

test("the authors' stack rule: M + 1 slots, snapshots and coefficients as pmdCoefficients says for any τ schedule, logits as the reference", async () => {
  // Few runs: each is a handful of pushes and one evaluation (shapes repeat, so pipelines are reused).
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 2 }),
      fc.array(fc.double({ min: 0.05, max: 3, noNaN: true }), { minLength: 1, maxLength: 9 }),
      fc.integer(),
      async (memory, ensemble, taus, seed) => {
        const eta = 1.5;
        const stack = createStack(gpu, { mlp: spec, memory, ensemble, eta, tau: taus[0], rule: "authors" });
        try {
          assert.equal(stack.slots, memory + 1);
          const pushed = randomSnapshots(spec, taus.length * ensemble, seed);
          taus.forEach((tau, p) => {
            const preview = stack.nextPush(tau);
            const { alpha, beta } = pmdRates(eta, tau);
            // The factor on the kept coefficients moves them from the previous α to this one.
            const factor = p === 0 ? beta : (beta * alpha) / stack.coefficients[0][stack.size - 1];
            assert.equal(preview.beta, factor);
            assert.equal(preview.leaving !== undefined, stack.size === memory + 1);
            stack.push(pushed.slice(p * ensemble, (p + 1) * ensemble), { tau });
          });
          const kept = Math.min(taus.length, memory + 1);
          assert.equal(stack.size, kept);
          const expected = pmdCoefficients(taus, { eta, memory, rule: "authors" });
          for (let e = 0; e < ensemble; e++) assert.deepEqual([...stack.coefficients[e]], [...expected.coefficients]);
          assert.equal(stack.correction, expected.correction);
          const stored = await stack.readSnapshots();
          for (let e = 0; e < ensemble; e++) {
            for (let i = 0; i < kept; i++) {
              const source = pushed[(taus.length - kept + i) * ensemble + e];
              stored[e][i].layers.forEach((layer, l) => assert.deepEqual(layer.weight, source.layers[l].weight));
            }
          }
          await assertMatchesReference(stack, randomStates(5, spec.inputs, seed + 1));
        } finally {
          stack.destroy();
        }
      },
    ),
    { numRuns: 12 },
  );
});

test("a stack larger than one 128 MiB storage binding is split and still exact", async () => {
  // 200 snapshots of 2 × 256 units on 400 inputs: 200 × 0.69 MB = 139 MB > 128 MiB.
  const big: MlpSpec = { inputs: 400, hidden: [256, 256], outputs: 4 };
  const stack = createStack(gpu, { mlp: big, memory: 200, eta: 5, tau: 0.5 });
  assert.ok(stack.chunks.length >= 2, `expected the weights to be split, got ${stack.chunks.length} buffer(s)`);
  const snapshots = randomSnapshots(big, 1, 17); // one random network pushed many times keeps the test quick
  for (let p = 0; p < 200; p++) stack.push(snapshots[0]);
  const states = randomStates(2, big.inputs, 18);
  const result = await gpuLogits(stack, states);
  const reference = stackLogitsReference(
    { spec: big, snapshots: [Array(200).fill(snapshots[0])], coefficients: stack.coefficients, correction: stack.correction },
    states,
    2,
  );
  for (let i = 0; i < result.length; i++) assert.ok(Math.abs(result[i] - reference.logits[i]) <= reference.bound[i], `logit ${i}`);
  stack.destroy();
});

test("a call evaluates what it was given when made: the caller may reuse its states at once, and a push before the call ran rejects it", async () => {
  const { stack } = filledStack(4, 3);
  const states = randomStates(5, spec.inputs, 21);
  const expected = bits(await stackLogits(stack, states.slice()));
  const pending = stackLogits(stack, states);
  states.fill(NaN); // an environment loop writing its next observations into the same array
  assert.deepEqual(bits(await pending), expected);

  const [next] = randomSnapshots(spec, 1, 22);
  states.set(randomStates(5, spec.inputs, 21));
  const beforePush = stackLogits(stack, states);
  stack.push(next);
  await assert.rejects(beforePush, (error: Error) => {
    assert.ok(error instanceof StaqStackChangedError && error instanceof StaqInputError, `${error.name}: ${error.message}`);
    assert.match(error.message, /^stackLogits: .* changed \(push or set\) after this call was made and before it ran; await the call/);
    return true;
  });
  // A call made after the push evaluates the new stack.
  assert.notDeepEqual(bits(await stackLogits(stack, states)), expected);
  stack.destroy();
});

test("bad input gets an error that says what is wrong", async () => {
  const { stack } = filledStack(3, 3);
  await assert.rejects(stackLogits(stack, new Float32Array(7)), /7 values, which is not a whole number of states of 6 inputs/);
  await assert.rejects(stackLogits(stack, Float32Array.from([0, 1, NaN, 0, 0, 0])), /states\[0\]\[2\] is NaN/);
  const [good] = randomSnapshots(spec, 1, 1);
  assert.throws(() => stack.push({ layers: [good.layers[0]] }), /has 1 layers; the stack's MLP has 2/);
  const wrongBias = { layers: [good.layers[0], { weight: good.layers[1].weight, bias: new Float32Array(3) }] };
  assert.throws(() => stack.push(wrongBias), /snapshot\.layers\[1\]\.bias has 3 values; expected 5/);
  const nan = { layers: [{ weight: good.layers[0].weight.map((v, i) => (i === 4 ? NaN : v)), bias: good.layers[0].bias }, good.layers[1]] };
  assert.throws(() => stack.push(nan), /snapshot\.layers\[0\]\.weight\[4\] is NaN/);
  assert.throws(() => stack.push([good, good]), /1 ensemble members, so it needs 1 networks; got 2/);
  assert.throws(() => stack.push(good, { tau: -1 }), StaqInputError);
  // A misspelt option would otherwise leave its default in place without a word.
  assert.throws(() => stack.push(good, { tua: 2 } as never), /^StaqInputError: push: unknown option "tua"; the options are: tau$/);
  assert.throws(
    () => createStack(gpu, { mlp: spec, memroy: 2 } as never),
    /^StaqInputError: createStack: unknown option "memroy"; the options are: mlp, memory, /,
  );
  assert.throws(() => createStack(gpu, { mlp: { inputs: 0, hidden: [], outputs: 2 }, memory: 1 }), /mlp\.inputs must be an integer >= 1/);
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 0 }), /memory must be an integer >= 1/);
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, maxBindingBytes: NaN }), /maxBindingBytes must be an integer >= 1; got NaN/);
  assert.throws(
    () => createStack(gpu, { mlp: { inputs: 2, hidden: new Array(17).fill(4), outputs: 2 }, memory: 1 }),
    /mlp\.hidden has 17 layers; staq takes at most 16/,
  );
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, gamma: 1 }), /gamma must be in \[0, 1\)/);
  assert.throws(
    () => createStack(gpu, { mlp: spec, memory: 2, convFusion: "no" as unknown as boolean }),
    /convFusion must be true or false; got "no"/,
  );
  const encoder = gpu.device.createCommandEncoder();
  const buffer = createBuffer(gpu, 4096, BufferUsage.STORAGE, "offsets");
  await assert.rejects(
    encodeStackLogits(stack, encoder, { states: buffer, statesOffset: 100, logits: buffer, logitsOffset: 2048, batch: 1 }),
    /statesOffset is 100; buffer bindings must start at a multiple of 256/,
  );
  await assert.rejects(
    encodeStackLogits(stack, encoder, { states: buffer, logits: buffer, logitsOffset: 4096, batch: 1 }),
    /logits buffer holds 4096 bytes; 1 × 5 logits from offset 4096 need 4116/,
  );
  buffer.destroy();
  stack.destroy();
  await assert.rejects(stackLogits(stack, randomStates(1, 6, 1)), StaqGpuError);
  assert.throws(() => stack.push(good), /was destroyed/);
});
