// The replay-sampling kernel (shaders/replay_sample.wgsl via src/train/replay-sample.ts) against its
// CPU twin, bit for bit: the drawn indices equal minibatchIndices, and the gathered states, next
// states and actions are exactly the replay rows at those indices. Several (size, seed, step) slots
// are encoded into one command buffer, as the trainer encodes many steps; before each step the
// outputs (and a tail past them) are refilled with poison, so an element a step does not write, or a
// write past the end, cannot pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { createBuffer, createStorageBuffer, POISON_BITS } from "../../src/gpu/buffers.ts";
import { readUint32 } from "../../src/gpu/readback.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { minibatchIndices, permuteIndex } from "../../src/train/minibatch-sampling.ts";
import { createReplaySampler, sampleUniform, type SampleParams } from "../../src/train/replay-sample.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();

// Each (inputs, batch) compiles a pipeline (lavapipe: about a second each), so cases draw from a
// few: a one-row batch, batches that end inside a workgroup, and one that spans three workgroups.
const SHAPES: readonly [inputs: number, batch: number][] = [
  [1, 64],
  [3, 37],
  [9, 1],
  [5, 130],
];
const TAIL = 3; // poisoned elements after each output, to catch writes past the end
const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

interface Ring {
  capacity: number;
  obs: Float32Array;
  nextObs: Float32Array;
  actions: Uint32Array;
}

function randomRing(capacity: number, inputs: number, seed: number): Ring {
  const uniform = seededUniform(seed ^ 0xa5a5a5);
  return {
    capacity,
    // Finite values only: a NaN's payload need not survive a float load and store.
    obs: randomStates(capacity, inputs, seed),
    nextObs: randomStates(capacity, inputs, seed + 1),
    actions: Uint32Array.from({ length: capacity }, () => Math.floor(uniform() * 1000)),
  };
}

interface StepOutputs {
  indices: Uint32Array;
  states: Uint32Array;
  nextStates: Uint32Array;
  actions: Uint32Array;
}

/**
 * Runs one step per slot of `steps` in a single command buffer (poisoning the outputs before each)
 * and returns each step's outputs as raw bits, TAIL poisoned elements included.
 */
async function runSteps(inputs: number, batch: number, ring: Ring, steps: readonly SampleParams[]): Promise<StepOutputs[]> {
  const replay = {
    obs: createStorageBuffer(gpu, ring.obs, "test replay obs"),
    nextObs: createStorageBuffer(gpu, ring.nextObs, "test replay next obs"),
    actions: createStorageBuffer(gpu, ring.actions, "test replay actions"),
  };
  const lengths = { indices: batch + TAIL, states: (batch + TAIL) * inputs, nextStates: (batch + TAIL) * inputs, actions: batch + TAIL };
  const names = ["indices", "states", "nextStates", "actions"] as const;
  const out = Object.fromEntries(names.map((name) => [name, createBuffer(gpu, lengths[name] * 4, STORAGE, `test out ${name}`)])) as Record<
    (typeof names)[number],
    GPUBuffer
  >;
  const largest = Math.max(...names.map((name) => lengths[name]));
  const poison = createStorageBuffer(gpu, new Uint32Array(largest).fill(POISON_BITS), "test poison");
  // Step j's outputs are copied here at element offset j·lengths[name].
  const results = Object.fromEntries(
    names.map((name) => [name, createBuffer(gpu, steps.length * lengths[name] * 4, STORAGE, `test results ${name}`)]),
  ) as Record<(typeof names)[number], GPUBuffer>;
  const owned: { destroy(): void }[] = [
    replay.obs,
    replay.nextObs,
    replay.actions,
    poison,
    ...Object.values(out),
    ...Object.values(results),
  ];
  try {
    const sampler = await createReplaySampler(gpu, { inputs, batch, replay, out, steps: steps.length });
    owned.push(sampler);
    sampler.write(steps.length, (j) => steps[j]);
    const encoder = gpu.encoder("test replay sample");
    steps.forEach((_, j) => {
      for (const name of names) encoder.copyBufferToBuffer(poison, 0, out[name], 0, lengths[name] * 4);
      const pass = encoder.beginComputePass();
      sampler.encode(pass, j);
      pass.end();
      for (const name of names) encoder.copyBufferToBuffer(out[name], 0, results[name], j * lengths[name] * 4, lengths[name] * 4);
    });
    const commands = [encoder.finish()];
    const read: Partial<Record<(typeof names)[number], Uint32Array>> = {};
    for (const name of names) read[name] = await readUint32(gpu, results[name], 0, undefined, name === "indices" ? commands : []);
    return steps.map((_, j) => {
      const slice = (name: (typeof names)[number]) => read[name]!.slice(j * lengths[name], (j + 1) * lengths[name]);
      return { indices: slice("indices"), states: slice("states"), nextStates: slice("nextStates"), actions: slice("actions") };
    });
  } finally {
    for (const o of owned) o.destroy();
  }
}

/** Requires step outputs bit-equal to the twin's indices and the ring rows they name, and poison after them. */
function checkStep(inputs: number, batch: number, ring: Ring, params: SampleParams, got: StepOutputs): void {
  const what = `size ${params.size}, seed ${params.seed}, step ${params.step}, inputs ${inputs}, batch ${batch}`;
  const expected = minibatchIndices(params.size, batch, params.seed, params.step);
  assert.deepEqual(got.indices.subarray(0, batch), expected, `indices (${what})`);
  const obsBits = new Uint32Array(ring.obs.buffer, ring.obs.byteOffset, ring.obs.length);
  const nextBits = new Uint32Array(ring.nextObs.buffer, ring.nextObs.byteOffset, ring.nextObs.length);
  for (let b = 0; b < batch; b++) {
    const row = expected[b];
    assert.deepEqual(
      got.states.subarray(b * inputs, (b + 1) * inputs),
      obsBits.subarray(row * inputs, (row + 1) * inputs),
      `states[${b}] = obs[${row}] (${what})`,
    );
    assert.deepEqual(
      got.nextStates.subarray(b * inputs, (b + 1) * inputs),
      nextBits.subarray(row * inputs, (row + 1) * inputs),
      `nextStates[${b}] = nextObs[${row}] (${what})`,
    );
    assert.equal(got.actions[b], ring.actions[row], `actions[${b}] = replay actions[${row}] (${what})`);
  }
  const tails: [string, Uint32Array, number][] = [
    ["indices", got.indices, batch],
    ["states", got.states, batch * inputs],
    ["nextStates", got.nextStates, batch * inputs],
    ["actions", got.actions, batch],
  ];
  for (const [name, values, written] of tails) {
    assert.ok(
      values.subarray(written).every((v) => v === POISON_BITS),
      `${name}: the kernel wrote past its ${written} elements (${what})`,
    );
  }
}

const u64 = fc.oneof(
  fc.constantFrom<number | bigint>(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, (1n << 64n) - 1n),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.bigInt({ min: 1n << 32n, max: (1n << 64n) - 1n }),
);

test("the kernel draws the twin's indices and gathers their rows bit for bit, one uniform slot per step", async () => {
  const caseArbitrary = fc
    .record({
      shape: fc.constantFrom(...SHAPES),
      extraCapacity: fc.integer({ min: 0, max: 300 }),
      data: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      slots: fc.array(fc.record({ sizeFraction: fc.double({ min: 0, max: 1, noNaN: true }), seed: u64, step: u64 }), {
        minLength: 1,
        maxLength: 4,
      }),
    })
    .map(({ shape: [inputs, batch], extraCapacity, data, slots }) => {
      const capacity = Math.min(300, batch + extraCapacity);
      // Each step has its own size in [batch, capacity], as a filling ring would.
      const steps = slots.map(({ sizeFraction, seed, step }) => ({
        size: batch + Math.floor(sizeFraction * (capacity - batch + 1 - 1e-9)),
        seed,
        step,
      }));
      return { inputs, batch, capacity, data, steps };
    });
  await fc.assert(
    fc.asyncProperty(caseArbitrary, async ({ inputs, batch, capacity, data, steps }) => {
      const ring = randomRing(capacity, inputs, data);
      const outputs = await runSteps(inputs, batch, ring, steps);
      steps.forEach((params, j) => checkStep(inputs, batch, ring, params, outputs[j]));
    }),
    { numRuns: 40 },
  );
});

test("sizes at and just past powers of 4, and a ring of 2^20 + 1 rows (h = 11), match the twin", async () => {
  const [inputs, batch] = SHAPES[0];
  const small = randomRing(300, inputs, 11);
  const edges: SampleParams[] = [64, 65, 256, 257].map((size, j) => ({ size, seed: 0xfeedn << 40n, step: (1n << 40n) + BigInt(j) }));
  const outputs = await runSteps(inputs, batch, small, edges);
  edges.forEach((params, j) => checkStep(inputs, batch, small, params, outputs[j]));

  const large = randomRing(2 ** 20 + 1, inputs, 12);
  const steps: SampleParams[] = [
    { size: 2 ** 20 + 1, seed: 1, step: 0 },
    { size: 2 ** 20, seed: (1n << 64n) - 1n, step: 2 ** 40 },
    { size: 3 * 2 ** 18, seed: 2 ** 33, step: 7 },
  ];
  const largeOutputs = await runSteps(inputs, batch, large, steps);
  steps.forEach((params, j) => checkStep(inputs, batch, large, params, largeOutputs[j]));
});

test("a step whose size is below the batch ends: positions past the size are left unwritten", async () => {
  // The contract is batch ≤ size; the kernel's guard keeps a broken caller from a walk that never
  // ends. Positions below the size still get the permutation's rows.
  const [inputs, batch] = SHAPES[1];
  const ring = randomRing(40, inputs, 13);
  const params: SampleParams = { size: 5, seed: 3, step: 4 };
  const [got] = await runSteps(inputs, batch, ring, [params]);
  for (let b = 0; b < batch; b++) {
    const expected = b < params.size ? permuteIndex(b, params.size, params.seed, params.step) : POISON_BITS;
    assert.equal(got.indices[b], expected, `indices[${b}]`);
  }
});

test("sampleUniform and createReplaySampler reject bad arguments with clear messages", async () => {
  const rejects = (f: () => unknown, message: RegExp) =>
    assert.throws(f, (error: unknown) => error instanceof StaqInputError && message.test(error.message));
  rejects(() => sampleUniform({ size: 0, seed: 0, step: 0 }), /size \(the filled replay rows\) must be an integer in \[1, 2\^31\]/);
  rejects(() => sampleUniform({ size: 10, seed: -1, step: 0 }), /seed must be an integer in \[0, 2\^64\)/);
  assert.deepEqual(sampleUniform({ size: 700, seed: (1n << 32n) + 5n, step: 2 ** 33 + 9 }), {
    size: 700,
    seed_lo: 5,
    seed_hi: 1,
    step_lo: 9,
    step_hi: 2,
    domain_bits: 5,
    steps: 1,
  });
  // Several steps: the last must be a valid step too.
  assert.equal(sampleUniform({ size: 700, seed: 1, step: 5, steps: 3 }).steps, 3);
  assert.throws(() => sampleUniform({ size: 700, seed: 1, step: 5, steps: 0 }), /steps must be an integer >= 1/);
  assert.throws(() => sampleUniform({ size: 700, seed: 1, step: 2n ** 64n - 2n, steps: 3 }), /step/);

  const [inputs, batch] = SHAPES[1];
  const buffer = (bytes: number) => createBuffer(gpu, bytes, STORAGE, "test validation");
  const replay = { obs: buffer(40 * inputs * 4), nextObs: buffer(40 * inputs * 4), actions: buffer(40 * 4) };
  const out = {
    indices: buffer(batch * 4),
    states: buffer(batch * inputs * 4),
    nextStates: buffer(batch * inputs * 4),
    actions: buffer(batch * 4),
  };
  const tooSmall = buffer(4);
  const options = { inputs, batch, replay, out, steps: 2 };
  const rejectsAsync = (changes: object, message: RegExp) =>
    assert.rejects(
      createReplaySampler(gpu, { ...options, ...changes }),
      (error: unknown) => error instanceof StaqInputError && message.test(error.message),
    );
  try {
    await rejectsAsync({ steps: 0 }, /steps must be an integer >= 1/);
    await rejectsAsync({ batch: 0 }, /batch must be an integer >= 1/);
    await rejectsAsync({ inputs: 1.5 }, /inputs must be an integer >= 1/);
    await rejectsAsync({ out: { ...out, states: tooSmall } }, /out\.states has 4 bytes; it needs at least/);
    (await createReplaySampler(gpu, options)).destroy();
  } finally {
    for (const b of [tooSmall, ...Object.values(replay), ...Object.values(out)]) b.destroy();
  }
});
