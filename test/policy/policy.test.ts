import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { testGpu } from "../helpers/gpu.ts";
import { chiSquarePValue, chiSquareStatistic, regularizedGammaQ } from "../helpers/chi-square.ts";
import { StaqInputError } from "../../src/errors.ts";
import { createBuffer, poisonBuffer, POISON_BITS } from "../../src/gpu/buffers.ts";
import { readUint32 } from "../../src/gpu/readback.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { encodePolicy, policyFromLogits, type PolicyResult, type PolicySampling } from "../../src/policy/policy.ts";
import { planPolicyDispatches, preparePolicy } from "../../src/policy/prepared-policy.ts";
import { philox4x32, policyUniform, uniformFromPhilox } from "../../src/random/philox.ts";
import { policyErrorBounds, policyReference, sampledActionRange, type BehaviourKind } from "../../src/policy/reference.ts";

const gpu = await testGpu();

// Every distinct action count compiles a pipeline (lavapipe: up to a second or two each), so the
// properties draw from a few: the edge cases 1 and 64, and counts the environments use.
const ACTION_COUNTS = [1, 2, 5, 18, 64];

const OUTPUTS = ["probs", "logProbs", "entropy", "behaviour", "greedy", "sampled"] as const;
type OutputName = (typeof OUTPUTS)[number];
const PER_ACTION: Record<OutputName, boolean> = {
  probs: true,
  logProbs: true,
  entropy: false,
  behaviour: true,
  greedy: false,
  sampled: false,
};
const TAIL = 3; // poisoned elements after each region, to catch writes past the end

interface GpuRun {
  result: PolicyResult;
  /** The raw bits of every output, for bit-exact comparisons. */
  bits: Record<OutputName, Uint32Array>;
}

interface RunOptions extends PolicySampling {
  /** Elements of padding before the logits and each output (0 = aligned at the buffer start). */
  leads?: number[];
  maxRowsPerDispatch?: number;
}

/**
 * Runs the kernel through `encodePolicy` on buffers that are poisoned first (every byte, including
 * `leads[i]` elements before each region and TAIL after it), then checks that the padding is still
 * poisoned and the regions hold no poison.
 */
async function runPolicy(logits: Float32Array, actions: number, options: RunOptions): Promise<GpuRun> {
  const batch = logits.length / actions;
  // encodePolicy refuses keys it does not know: the padding is this helper's, not an option.
  const { leads = [0, 0, 0, 0, 0, 0, 0], ...settings } = options;
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const input = createBuffer(gpu, (leads[0] + logits.length + TAIL) * 4, usage, "test logits");
  poisonBuffer(gpu, input);
  gpu.device.queue.writeBuffer(input, leads[0] * 4, logits.buffer, logits.byteOffset, logits.byteLength);
  const lengths = OUTPUTS.map((name) => (PER_ACTION[name] ? batch * actions : batch));
  const buffers = OUTPUTS.map((name, i) => {
    const buffer = createBuffer(gpu, (leads[i + 1] + lengths[i] + TAIL) * 4, usage, `test ${name}`);
    poisonBuffer(gpu, buffer);
    return buffer;
  });
  const region = (i: number) => ({ buffer: buffers[i], offset: leads[i + 1] * 4 });
  try {
    const encoder = gpu.device.createCommandEncoder();
    await encodePolicy(gpu, encoder, {
      ...settings,
      logits: input,
      logitsOffset: leads[0] * 4,
      batch,
      actions,
      outputs: { probs: region(0), logProbs: region(1), entropy: region(2), behaviour: region(3), greedy: region(4), sampled: region(5) },
    });
    const commands = [encoder.finish()];
    const bits = {} as Record<OutputName, Uint32Array>;
    for (let i = 0; i < OUTPUTS.length; i++) {
      const all = await readUint32(gpu, buffers[i], 0, undefined, i === 0 ? commands : []);
      const lead = leads[i + 1];
      for (let k = 0; k < lead; k++)
        assert.equal(all[k], POISON_BITS, `${OUTPUTS[i]}: the kernel wrote ${k - lead} elements before its region`);
      for (let k = 0; k < TAIL; k++)
        assert.equal(all[lead + lengths[i] + k], POISON_BITS, `${OUTPUTS[i]}: the kernel wrote ${k} elements past its region`);
      bits[OUTPUTS[i]] = all.slice(lead, lead + lengths[i]);
      const poisoned = bits[OUTPUTS[i]].indexOf(POISON_BITS);
      assert.equal(poisoned, -1, `${OUTPUTS[i]}[${poisoned}] is still poison: the kernel did not write it`);
    }
    const asFloat = (name: OutputName) => new Float32Array(bits[name].buffer.slice(0));
    return {
      bits,
      result: {
        probs: asFloat("probs"),
        logProbs: asFloat("logProbs"),
        entropy: asFloat("entropy"),
        behaviour: asFloat("behaviour"),
        greedy: bits.greedy.slice(),
        sampled: bits.sampled.slice(),
      },
    };
  } finally {
    input.destroy();
    for (const buffer of buffers) buffer.destroy();
  }
}

/**
 * Checks a GPU result against the float64 reference with the bounds derived in
 * src/policy/reference.ts (from WGSL's accuracy rules for each float32 operation the kernel does):
 * every float within its element's bound, greedy exactly equal, and each sampled action one whose
 * float64 CDF interval, widened by the row's CDF bound δ, holds the row's u (recomputed on the CPU
 * with Philox), with a non-zero behaviour probability on the GPU.
 */
function checkAgainstReference(logits: Float32Array, actions: number, sampling: PolicySampling, result: PolicyResult): void {
  const ref = policyReference(logits, actions, sampling.epsilon, sampling.behaviour);
  const bounds = policyErrorBounds(logits, actions, sampling.epsilon, sampling.behaviour);
  for (const name of ["probs", "logProbs", "entropy", "behaviour"] as const) {
    const gpuValues = result[name];
    for (let i = 0; i < gpuValues.length; i++) {
      const error = Math.abs(gpuValues[i] - ref[name][i]);
      if (!(error <= bounds[name][i])) {
        const row = PER_ACTION[name] ? Math.floor(i / actions) : i;
        assert.fail(
          `${name}[${i}] = ${gpuValues[i]}, reference ${ref[name][i]}: error ${error} exceeds the bound ${bounds[name][i]} ` +
            `(row logits ${Array.from(logits.subarray(row * actions, (row + 1) * actions)).join(", ")}; ε = ${sampling.epsilon}, ` +
            `${sampling.behaviour ?? "softmax"} kind)`,
        );
      }
    }
  }
  assert.deepEqual(result.greedy, ref.greedy, "greedy actions");
  const rowOffset = sampling.rowOffset ?? 0;
  for (let row = 0; row < ref.batch; row++) {
    const action = result.sampled[row];
    const u = policyUniform(sampling.seed, sampling.step, row + rowOffset);
    const { lowest, highest } = sampledActionRange(ref.cdf, row * actions, actions, bounds.cdf[row], u);
    assert.ok(
      action >= lowest && action <= highest,
      `row ${row}: sampled ${action}, but u = ${u} on the reference CDF [${Array.from(ref.cdf.subarray(row * actions, (row + 1) * actions)).join(", ")}] ` +
        `(δ = ${bounds.cdf[row]}) allows only ${lowest}..${highest}`,
    );
    assert.ok(result.behaviour[row * actions + action] > 0, `row ${row}: sampled action ${action} has behaviour probability 0`);
  }
}

// ---- generators ----

/** One row of logits of a kind that stresses a different part of the kernel. */
const logitRow = (actions: number) => {
  const values = (value: fc.Arbitrary<number>) => fc.array(value, { minLength: actions, maxLength: actions });
  return fc.oneof(
    // all equal: the uniform policy, ties everywhere
    fc.double({ min: -100, max: 100, noNaN: true }).map((c) => new Array<number>(actions).fill(c)),
    // scaled: tiny to ±80 (a spread of 160, where exp underflows float32)
    fc
      .tuple(fc.constantFrom(1e-6, 0.01, 1, 10, 40, 80), values(fc.double({ min: -1, max: 1, noNaN: true })))
      .map(([s, xs]) => xs.map((x) => s * x)),
    // small integers: many exact ties
    values(fc.integer({ min: -2, max: 2 })),
    // only the extremes ±80 and 0
    values(fc.constantFrom(-80, 0, 80)),
    // subnormals and signed zeros: the argmax must not depend on flush-to-zero
    values(fc.constantFrom(1e-40, -1e-40, 1e-42, -1e-42, 0, -0)),
    // a large common offset: the softmax only sees differences
    fc
      .tuple(fc.double({ min: -1e4, max: 1e4, noNaN: true }), values(fc.double({ min: -5, max: 5, noNaN: true })))
      .map(([c, xs]) => xs.map((x) => c + x)),
  );
};

// size "max": batch sizes spread over [1, maxRows] (fast-check's default keeps arrays near 10
// long), so batches of several workgroups (64 rows each) with a partial last one are common.
const logitBatch = (actions: number, maxRows: number) =>
  fc.array(logitRow(actions), { minLength: 1, maxLength: maxRows, size: "max" }).map((rows) => Float32Array.from(rows.flat()));

const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER, 2n ** 64n - 1n));

// Both behaviour kinds: the default (no field, the ε-softmax) and the ε-greedy one.
const behaviourKind = fc.constantFrom<BehaviourKind | undefined>(undefined, "greedy");

const sampling = fc.record({
  epsilon: fc.oneof(fc.constantFrom(0, 0.05, 1), fc.double({ min: 0, max: 1, noNaN: true })),
  behaviour: behaviourKind,
  seed: u64,
  step: u64,
  rowOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1024 })),
});

const leads = fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 7, maxLength: 7 });

const actionCount = fc.constantFrom(...ACTION_COUNTS);

// ---- tests ----

test("the GPU policy matches the float64 reference within the derived float32 bounds", async () => {
  await fc.assert(
    fc.asyncProperty(
      actionCount.chain((actions) =>
        fc.record({
          actions: fc.constant(actions),
          logits: logitBatch(actions, 150),
          sampling,
          leads,
          maxRowsPerDispatch: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
        }),
      ),
      async ({ actions, logits, sampling, leads, maxRowsPerDispatch }) => {
        const run = await runPolicy(logits, actions, { ...sampling, leads, maxRowsPerDispatch });
        checkAgainstReference(logits, actions, sampling, run.result);
      },
    ),
    { numRuns: 60 },
  );
});

/** Deterministic pseudo-random logits in [−scale, scale) (Philox, so the test needs no other generator). */
function philoxLogits(count: number, scale: number, key: number): Float32Array {
  const logits = new Float32Array(count);
  for (let i = 0; i < count; i++) logits[i] = scale * (2 * uniformFromPhilox(philox4x32([i, 0, 0, 0], [key, 0])[0]) - 1);
  return logits;
}

test("a batch of 65536 rows of 18 actions matches the reference, in one dispatch or in four", async () => {
  const actions = 18;
  const batch = 65536;
  const logits = philoxLogits(batch * actions, 20, 1);
  const settings = { epsilon: 0.05, seed: 2024n, step: 7 };
  assert.equal(planPolicyDispatches(batch, actions, gpu.info.limits).length, 1);
  const one = await runPolicy(logits, actions, settings);
  checkAgainstReference(logits, actions, settings, one.result);
  const four = await runPolicy(logits, actions, { ...settings, maxRowsPerDispatch: 20000, leads: [1, 2, 3, 4, 5, 6, 7] });
  for (const name of OUTPUTS) assert.deepEqual(four.bits[name], one.bits[name], `${name} differs between 1 and 4 dispatches`);
});

test("the same inputs give bit-identical outputs, run to run and through policyFromLogits", async () => {
  await fc.assert(
    fc.asyncProperty(
      actionCount.chain((actions) => fc.record({ actions: fc.constant(actions), logits: logitBatch(actions, 100), sampling, leads })),
      async ({ actions, logits, sampling, leads }) => {
        const first = await runPolicy(logits, actions, sampling);
        const second = await runPolicy(logits, actions, { ...sampling, leads });
        const third = await policyFromLogits(gpu, logits, actions, sampling);
        for (const name of OUTPUTS) {
          assert.deepEqual(second.bits[name], first.bits[name], `${name} differs run to run`);
          assert.deepEqual(new Uint32Array(third[name].buffer.slice(0)), first.bits[name], `${name} differs in policyFromLogits`);
        }
      },
    ),
    { numRuns: 15 },
  );
});

/** Row `row` of an output's bits. */
function rowBits(run: GpuRun, name: OutputName, row: number, actions: number): Uint32Array {
  return PER_ACTION[name] ? run.bits[name].subarray(row * actions, (row + 1) * actions) : run.bits[name].subarray(row, row + 1);
}

test("rows are independent: a row's outputs do not change when the other rows do", async () => {
  await fc.assert(
    fc.asyncProperty(
      actionCount.chain((actions) =>
        fc.record({
          actions: fc.constant(actions),
          logits: logitBatch(actions, 80),
          others: logitBatch(actions, 80),
          pick: fc.nat(),
          sampling,
        }),
      ),
      async ({ actions, logits, others, pick, sampling }) => {
        const batch = logits.length / actions;
        const row = pick % batch;
        // Same batch size, other rows replaced (cycled from `others`), row `row` kept.
        const changed = new Float32Array(logits.length);
        for (let i = 0; i < changed.length; i++) changed[i] = others[i % others.length];
        changed.set(logits.subarray(row * actions, (row + 1) * actions), row * actions);
        const a = await runPolicy(logits, actions, sampling);
        const b = await runPolicy(changed, actions, sampling);
        for (const name of OUTPUTS)
          assert.deepEqual(rowBits(b, name, row, actions), rowBits(a, name, row, actions), `${name} of row ${row}`);
      },
    ),
    { numRuns: 15 },
  );
});

test("rows are independent: permuting the batch permutes every output (samples follow the row index)", async () => {
  await fc.assert(
    fc.asyncProperty(
      actionCount.chain((actions) =>
        fc.record({
          actions: fc.constant(actions),
          logits: logitBatch(actions, 80),
          keys: fc.array(fc.double({ noNaN: true }), { minLength: 80, maxLength: 80 }),
          probe: fc.nat(),
          sampling,
        }),
      ),
      async ({ actions, logits, keys, probe, sampling }) => {
        const batch = logits.length / actions;
        const order = Array.from({ length: batch }, (_, i) => i).sort((i, j) => keys[i] - keys[j] || i - j);
        const permuted = new Float32Array(logits.length);
        order.forEach((from, to) => permuted.set(logits.subarray(from * actions, (from + 1) * actions), to * actions));
        const a = await runPolicy(logits, actions, sampling);
        const b = await runPolicy(permuted, actions, sampling);
        order.forEach((from, to) => {
          for (const name of OUTPUTS) {
            if (name === "sampled") continue;
            assert.deepEqual(rowBits(b, name, to, actions), rowBits(a, name, from, actions), `${name}: row ${from} moved to ${to}`);
          }
        });
        // The sample of a moved row is the one its new global index draws: the same as evaluating
        // that row alone with rowOffset = its new index.
        const to = probe % batch;
        const from = order[to];
        const alone = await runPolicy(logits.slice(from * actions, (from + 1) * actions), actions, {
          ...sampling,
          rowOffset: (sampling.rowOffset ?? 0) + to,
        });
        assert.equal(b.result.sampled[to], alone.result.sampled[0]);
        for (const name of OUTPUTS)
          assert.deepEqual(rowBits(alone, name, 0, actions), rowBits(b, name, to, actions), `${name} of row ${to} alone`);
      },
    ),
    { numRuns: 15 },
  );
});

test("chunk invariance: rows [0, n) in one call equal [0, k) and [k, n) with rowOffset k", async () => {
  await fc.assert(
    fc.asyncProperty(
      actionCount.chain((actions) =>
        fc.record({
          actions: fc.constant(actions),
          logits: logitBatch(actions, 120),
          cut: fc.nat(),
          sampling,
          maxRowsPerDispatch: fc.integer({ min: 1, max: 50 }),
        }),
      ),
      async ({ actions, logits, cut, sampling, maxRowsPerDispatch }) => {
        const batch = logits.length / actions;
        fc.pre(batch >= 2);
        const k = 1 + (cut % (batch - 1));
        const base = sampling.rowOffset ?? 0;
        const whole = await runPolicy(logits, actions, sampling);
        const head = await runPolicy(logits.slice(0, k * actions), actions, { ...sampling, rowOffset: base });
        const tail = await runPolicy(logits.slice(k * actions), actions, { ...sampling, rowOffset: base + k });
        const dispatched = await runPolicy(logits, actions, { ...sampling, maxRowsPerDispatch });
        for (const name of OUTPUTS) {
          const joined = new Uint32Array(whole.bits[name].length);
          joined.set(head.bits[name]);
          joined.set(tail.bits[name], head.bits[name].length);
          assert.deepEqual(joined, whole.bits[name], `${name}: two calls split at row ${k}`);
          assert.deepEqual(dispatched.bits[name], whole.bits[name], `${name}: dispatches of ${maxRowsPerDispatch} rows`);
        }
      },
    ),
    { numRuns: 15 },
  );
});

test("ε = 0 gives behaviour = probs and ε = 1 the uniform behaviour, bit for bit", async () => {
  const actions = 5;
  const logits = philoxLogits(200 * actions, 30, 2);
  const greedyOnly = await runPolicy(logits, actions, { epsilon: 0, seed: 1, step: 1 });
  // 1·p + 0 = p exactly, fused or not.
  assert.deepEqual(greedyOnly.bits.behaviour, greedyOnly.bits.probs);
  const uniform = await runPolicy(logits, actions, { epsilon: 1, seed: 1, step: 1 });
  // 0·p + f32(1/5) = f32(1/5) exactly: the probabilities drop out.
  for (const value of uniform.result.behaviour) assert.equal(value, Math.fround(1 / actions));
});

// ---- the ε-greedy behaviour kind ----

/** The kernel's float32 ε-greedy behaviour row: share everywhere, f32(keep + share) at `greedy` (k̂·1 and k̂·0 are exact). */
function greedyBehaviourRow(epsilon: number, actions: number, greedy: number): number[] {
  const keep = Math.fround(1 - epsilon);
  const share = Math.fround(epsilon / actions);
  return Array.from({ length: actions }, (_, a) => (a === greedy ? Math.fround(keep + share) : share));
}

/** The kernel's draw from a float32 behaviour row: its float32 running sum, the first a with u < cdf. */
function drawFromRow(behaviour: number[], u: number): number {
  let cdf = 0;
  let lastPositive = -1;
  let chosen = -1;
  behaviour.forEach((b, a) => {
    cdf = Math.fround(cdf + b);
    if (chosen < 0 && u < cdf) chosen = a;
    if (b > 0) lastPositive = a;
  });
  return chosen >= 0 ? chosen : lastPositive;
}

test("ε-greedy by hand: logits [0, 2, 1], ε = 0.3 give behaviour [0.1, 0.8, 0.1] and the draws of that CDF", async () => {
  const actions = 3;
  const rows = 300;
  const logits = new Float32Array(rows * actions);
  for (let row = 0; row < rows; row++) logits.set([0, 2, 1], row * actions);
  const settings = { epsilon: 0.3, seed: 77n, step: 5, rowOffset: 1000 };
  const greedy = await runPolicy(logits, actions, { ...settings, behaviour: "greedy" });
  const softmax = await runPolicy(logits, actions, settings);
  // (1 − 0.3)·[0, 1, 0] + 0.3/3: exactly the float32 values f32(0.1), f32(f32(0.7) + f32(0.1)), f32(0.1).
  const expected = greedyBehaviourRow(0.3, actions, 1);
  for (const [a, value] of [0.1, 0.8, 0.1].entries()) assert.ok(Math.abs(expected[a] - value) < 1e-7, `hand value of b${a}`);
  const counts = [0, 0, 0];
  for (let row = 0; row < rows; row++) {
    assert.deepEqual(Array.from(greedy.result.behaviour.subarray(row * actions, (row + 1) * actions)), expected, `behaviour of row ${row}`);
    // u is a multiple of 2^-24, and the CDF f32 sums: the kernel's draw is exactly this one.
    const u = policyUniform(settings.seed, settings.step, row + settings.rowOffset);
    const action = u < 0.1 ? 0 : u < 0.9 ? 1 : 2; // [0.1, 0.9, 1] by hand ...
    const exact = drawFromRow(expected, u); // ... and in float32, which differ only within 1e-7 of 0.1 or 0.9
    if (Math.abs(u - 0.1) > 1e-6 && Math.abs(u - 0.9) > 1e-6) assert.equal(exact, action, `row ${row}: u = ${u}`);
    assert.equal(greedy.result.sampled[row], exact, `row ${row}: u = ${u}`);
    counts[exact]++;
  }
  // 300 draws of [0.1, 0.8, 0.1]: all three actions occur (0 and 2 each miss with probability 0.9^300 < 1e-13).
  assert.ok(
    counts.every((c) => c > 0),
    `counts ${counts}`,
  );
  // Every output but the behaviour and the sample is the softmax's, bit for bit.
  for (const name of ["probs", "logProbs", "entropy", "greedy"] as const)
    assert.deepEqual(greedy.bits[name], softmax.bits[name], `${name} depends on the behaviour kind`);
  assert.deepEqual(Array.from(greedy.result.greedy), new Array(rows).fill(1));
});

test("ε-greedy ties go to the lowest index, −0 ties with +0, subnormals count", async () => {
  const rows = [
    [1, 3, 3, 2],
    [0, 0, 0, 0],
    [-0, 0, -5, -0],
    [-1, 1e-40, 1e-40, 0],
    [7, 7, 7, 8],
  ];
  const expectedGreedy = [1, 0, 0, 1, 3];
  const actions = 4;
  const replicas = 40;
  const logits = new Float32Array(rows.length * replicas * actions);
  rows.forEach((row, r) => {
    for (let k = 0; k < replicas; k++) logits.set(row, (r * replicas + k) * actions);
  });
  for (const epsilon of [0, 0.3]) {
    const sampling = { epsilon, behaviour: "greedy" as const, seed: 3, step: 11 };
    const run = await runPolicy(logits, actions, sampling);
    checkAgainstReference(logits, actions, sampling, run.result);
    for (let i = 0; i < rows.length * replicas; i++) {
      const g = expectedGreedy[Math.floor(i / replicas)];
      assert.equal(run.result.greedy[i], g, `greedy of row ${i}`);
      const behaviour = greedyBehaviourRow(epsilon, actions, g);
      assert.deepEqual(Array.from(run.result.behaviour.subarray(i * actions, (i + 1) * actions)), behaviour, `behaviour of row ${i}`);
      assert.equal(run.result.sampled[i], drawFromRow(behaviour, policyUniform(3, 11, i)), `sample of row ${i}`);
      // ε = 0: the only action with any behaviour probability is the lowest argmax.
      if (epsilon === 0) assert.equal(run.result.sampled[i], g, `ε = 0 sample of row ${i}`);
    }
  }
});

test("ε-greedy with ε = 0 samples the argmax on every row, whatever u; ε = 1 is the softmax kind's uniform, bit for bit", async () => {
  const actions = 5;
  const logits = philoxLogits(400 * actions, 30, 3);
  for (const step of [0, 1, 2n ** 63n]) {
    const run = await runPolicy(logits, actions, { epsilon: 0, behaviour: "greedy", seed: 9, step });
    assert.deepEqual(run.result.sampled, run.result.greedy, `step ${step}`);
    for (let row = 0; row < 400; row++)
      for (let a = 0; a < actions; a++) assert.equal(run.result.behaviour[row * actions + a], a === run.result.greedy[row] ? 1 : 0);
  }
  // 0·w + f32(1/5): neither the softmax nor the argmax is left, so the two kinds agree on everything.
  const greedyUniform = await runPolicy(logits, actions, { epsilon: 1, behaviour: "greedy", seed: 9, step: 4 });
  const softmaxUniform = await runPolicy(logits, actions, { epsilon: 1, seed: 9, step: 4 });
  for (const name of OUTPUTS) assert.deepEqual(greedyUniform.bits[name], softmaxUniform.bits[name], `${name} at ε = 1`);
  for (const value of greedyUniform.result.behaviour) assert.equal(value, Math.fround(1 / actions));
});

test("a prepared policy takes each draw's ε in place of its own, in either kind", async () => {
  const actions = 4;
  const batch = 150;
  const logits = philoxLogits(batch * actions, 10, 4);
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const input = createBuffer(gpu, logits.byteLength, usage, "test logits");
  gpu.device.queue.writeBuffer(input, 0, logits);
  const sizes = {
    probs: batch * actions,
    logProbs: batch * actions,
    entropy: batch,
    behaviour: batch * actions,
    greedy: batch,
    sampled: batch,
  };
  const outputs = Object.fromEntries(OUTPUTS.map((name) => [name, createBuffer(gpu, sizes[name] * 4, usage, `test ${name}`)])) as Record<
    OutputName,
    GPUBuffer
  >;
  const read = async (name: OutputName) => readUint32(gpu, outputs[name]);
  try {
    for (const behaviour of ["softmax", "greedy"] as const) {
      const policy = preparePolicy(gpu, {
        logits: input,
        outputs,
        maxBatch: batch,
        actions,
        epsilon: 0.05,
        behaviour,
        maxRowsPerDispatch: 64,
      });
      for (const epsilon of [undefined, 0, 0.5, 1]) {
        for (const name of OUTPUTS) poisonBuffer(gpu, outputs[name]);
        const encoder = gpu.device.createCommandEncoder();
        await policy.encode(encoder, { batch, seed: 21, step: 8, epsilon });
        gpu.device.queue.submit([encoder.finish()]);
        const expected = await policyFromLogits(gpu, logits, actions, { epsilon: epsilon ?? 0.05, behaviour, seed: 21, step: 8 });
        for (const name of OUTPUTS)
          assert.deepEqual(await read(name), new Uint32Array(expected[name].buffer.slice(0)), `${behaviour}, ε ${epsilon}: ${name}`);
        if (epsilon === 1) for (const value of expected.behaviour) assert.equal(value, Math.fround(1 / actions));
        if (epsilon === 0 && behaviour === "greedy") assert.deepEqual(expected.sampled, expected.greedy);
      }
      await assert.rejects(
        policy.encode(gpu.device.createCommandEncoder(), { batch, seed: 21, step: 8, epsilon: -0.5 }),
        (error: unknown) => error instanceof StaqInputError && /epsilon.*\[0, 1\]; got -0.5/.test(error.message),
      );
      policy.destroy();
    }
  } finally {
    input.destroy();
    for (const name of OUTPUTS) outputs[name].destroy();
  }
});

// ---- sampled-action frequencies ----

test("the chi-square p-value helper matches known values", () => {
  // Q(1, x) = e^-x; χ²₂ tail = e^{-x/2}; χ²₁ tail at 3.841458820694124 (the 95% quantile) = 0.05;
  // χ²₄ and χ²₁₀ 95% quantiles 9.487729036781154 and 18.307038053275146; χ²₄ 99.9999% quantile ≈ 33.3768.
  for (const x of [0.1, 1, 5, 30])
    assert.ok(Math.abs(regularizedGammaQ(1, x) - Math.exp(-x)) <= 1e-14 * Math.max(1, Math.exp(-x)) + 1e-300);
  for (const x of [0.5, 3, 40]) assert.ok(Math.abs(chiSquarePValue(x, 2) - Math.exp(-x / 2)) <= 1e-14);
  assert.ok(Math.abs(chiSquarePValue(3.841458820694124, 1) - 0.05) < 1e-12);
  assert.ok(Math.abs(chiSquarePValue(9.487729036781154, 4) - 0.05) < 1e-12);
  assert.ok(Math.abs(chiSquarePValue(18.307038053275146, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(chiSquarePValue(33.37684, 4) / 1e-6 - 1) < 1e-4);
  assert.equal(chiSquarePValue(0, 3), 1);
});

/**
 * Counts the sampled actions of `distributions` (rows of logits), each replicated over `replicas`
 * rows of one batch, over `steps` steps: replicas × steps independent draws per distribution, since
 * every (row, step) pair is a distinct Philox counter.
 */
async function sampleCounts(
  distributions: number[][],
  actions: number,
  epsilon: number,
  replicas: number,
  steps: number,
  behaviour?: BehaviourKind,
): Promise<number[][]> {
  const logits = new Float32Array(distributions.length * replicas * actions);
  distributions.forEach((row, d) => {
    for (let r = 0; r < replicas; r++) logits.set(row, (d * replicas + r) * actions);
  });
  const counts = distributions.map(() => new Array<number>(actions).fill(0));
  for (let step = 0; step < steps; step++) {
    const { sampled } = await policyFromLogits(gpu, logits, actions, { epsilon, behaviour, seed: 0x5eed, step });
    for (let i = 0; i < sampled.length; i++) counts[Math.floor(i / replicas)][sampled[i]]++;
  }
  return counts;
}

// Each goodness-of-fit test below rejects at p < 1e-6: under the null hypothesis (the kernel
// samples the behaviour probabilities) a given test fails with probability 1e-6 (up to the
// chi-square approximation, good here since every expected count is at least 35), so the 8
// tests in this file together raise a false alarm with probability below 8e-6. The seed is fixed,
// so the outcome is reproducible; the rate says how unlucky a seed would have to be.
const FALSE_ALARM = 1e-6;

test("sampled-action frequencies match the ε-softmax probabilities (chi-square, false alarm 1e-6 per test)", async () => {
  const actions = 5;
  const epsilon = 0.05;
  const distributions = [
    [0, 0, 0, 0, 0],
    [2, 1, 0, -1, -2],
    [0, Math.log(2), Math.log(3), Math.log(4), Math.log(5)],
    [3, -3, 0.5, 0, 1],
  ];
  const replicas = 1024;
  const steps = 20; // 20480 draws per distribution; the smallest behaviour probability is ε/A = 0.01
  const counts = await sampleCounts(distributions, actions, epsilon, replicas, steps);
  distributions.forEach((row, d) => {
    const expected = policyReference(Float32Array.from(row), actions, epsilon).behaviour;
    const { statistic, degreesOfFreedom } = chiSquareStatistic(counts[d], expected);
    const p = chiSquarePValue(statistic, degreesOfFreedom);
    assert.ok(
      p >= FALSE_ALARM,
      `distribution ${d}: counts ${counts[d]} vs probabilities ${Array.from(expected)}: X² = ${statistic}, p = ${p}`,
    );
  });
  // The test has power: the same counts reject the softmax without the ε-mix (for distribution 1,
  // action 4 has probability 0.0117 there instead of 0.0211: a chi-square contribution near 150).
  const softmax = policyReference(Float32Array.from(distributions[1]), actions, 0).probs;
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts[1], softmax);
  assert.ok(chiSquarePValue(statistic, degreesOfFreedom) < FALSE_ALARM, `the ε-free softmax was not rejected (X² = ${statistic})`);
});

test("ε = 1 samples uniformly and ε = 0 samples the softmax (chi-square, false alarm 1e-6 per test)", async () => {
  const actions = 5;
  const row = [3, -3, 0.5, 0, 1];
  const uniform = (await sampleCounts([row], actions, 1, 2048, 10))[0];
  const uniformTest = chiSquareStatistic(uniform, new Array(actions).fill(1 / actions));
  assert.ok(chiSquarePValue(uniformTest.statistic, uniformTest.degreesOfFreedom) >= FALSE_ALARM, `ε = 1: counts ${uniform}`);
  // Softmax of the row: the smallest probability is e^-6 / Σ ≈ 0.0017, 35 expected draws of 20480.
  const greedyish = (await sampleCounts([row], actions, 0, 2048, 10))[0];
  const softmax = policyReference(Float32Array.from(row), actions, 0).probs;
  const softmaxTest = chiSquareStatistic(greedyish, softmax);
  assert.ok(chiSquarePValue(softmaxTest.statistic, softmaxTest.degreesOfFreedom) >= FALSE_ALARM, `ε = 0: counts ${greedyish}`);
});

test("sampled-action frequencies match the ε-greedy probabilities (chi-square, false alarm 1e-6 per test)", async () => {
  const actions = 5;
  const epsilon = 0.1;
  const distributions = [
    [3, -3, 0.5, 0, 1],
    [0, 1, 1, 0, -1], // a tie: action 1 is the argmax
  ];
  const replicas = 1024;
  const steps = 20; // 20480 draws per distribution; ε/A = 0.02 gives 410 expected draws
  const counts = await sampleCounts(distributions, actions, epsilon, replicas, steps, "greedy");
  distributions.forEach((row, d) => {
    const expected = policyReference(Float32Array.from(row), actions, epsilon, "greedy").behaviour;
    const { statistic, degreesOfFreedom } = chiSquareStatistic(counts[d], expected);
    const p = chiSquarePValue(statistic, degreesOfFreedom);
    assert.ok(p >= FALSE_ALARM, `distribution ${d}: counts ${counts[d]} vs ${Array.from(expected)}: X² = ${statistic}, p = ${p}`);
  });
  // Power: the ε-softmax of the first row (action 0 at 0.9·0.79 + 0.02 ≈ 0.73, not 0.92) is rejected.
  const softmax = policyReference(Float32Array.from(distributions[0]), actions, epsilon).behaviour;
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts[0], softmax);
  assert.ok(chiSquarePValue(statistic, degreesOfFreedom) < FALSE_ALARM, `the ε-softmax was not rejected (X² = ${statistic})`);
});

// ---- planning and input validation ----

test("planPolicyDispatches covers the batch in dispatches within the device limits", () => {
  const limits = {
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 128 * 2 ** 20,
    minStorageBufferOffsetAlignment: 256,
  };
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20_000_000 }),
      fc.integer({ min: 1, max: 64 }),
      fc.record({
        maxComputeWorkgroupsPerDimension: fc.integer({ min: 1, max: 65535 }),
        maxStorageBufferBindingSize: fc.integer({ min: 2 ** 12, max: 2 ** 27 }),
        minStorageBufferOffsetAlignment: fc.constant(256),
      }),
      (batch, actions, small) => {
        for (const l of [limits, small]) {
          const plan = planPolicyDispatches(batch, actions, l);
          let next = 0;
          for (const d of plan) {
            assert.equal(d.firstRow, next);
            assert.ok(d.rows >= 1 && d.workgroups === Math.ceil(d.rows / 64) && d.workgroups <= l.maxComputeWorkgroupsPerDimension);
            assert.ok(d.rows * actions * 4 + l.minStorageBufferOffsetAlignment <= l.maxStorageBufferBindingSize);
            next += d.rows;
          }
          assert.equal(next, batch);
        }
      },
    ),
  );
  // 65536 rows fit one dispatch (1024 workgroups); 65535·64 + 1 rows of 2 actions need two.
  assert.equal(planPolicyDispatches(65536, 18, limits).length, 1);
  assert.equal(planPolicyDispatches(65535 * 64 + 1, 2, limits).length, 2);
});

test("bad inputs throw StaqInputError saying what was wrong", async () => {
  const ok = { epsilon: 0.1, seed: 1, step: 1 };
  const rejects = (promise: Promise<unknown>, message: RegExp) =>
    assert.rejects(promise, (error: unknown) => error instanceof StaqInputError && message.test(error.message));
  await rejects(policyFromLogits(gpu, new Float32Array([0, NaN]), 2, ok), /logits\[0\]\[1\] is NaN/);
  await rejects(policyFromLogits(gpu, new Float32Array(3), 2, ok), /3 values.*rows of 2 actions/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 0, ok), /actions must be an integer from 1 to 64/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, epsilon: 1.5 }), /epsilon.*\[0, 1\]; got 1.5/);
  await rejects(
    policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, behaviour: "argmax" as BehaviourKind }),
    /behaviour must be "softmax" or "greedy"; got the string "argmax"/,
  );
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, seed: -1 }), /seed must be an integer in \[0, 2\^64\)/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, seed: 0.5 }), /seed must be an integer/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, step: 2n ** 64n }), /step must be an integer in \[0, 2\^64\)/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, step: 2 ** 60 }), /step must be an integer.*2\^53/);
  await rejects(policyFromLogits(gpu, new Float32Array(4), 2, { ...ok, rowOffset: 2 ** 32 - 1 }), /rowOffset \+ batch ≤ 2\^32/);

  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
  const make = (elements: number, bufferUsage = usage) => createBuffer(gpu, elements * 4, bufferUsage, "validation test");
  const batch = 4;
  const actions = 3;
  const outputs = () => ({ probs: make(12), logProbs: make(12), entropy: make(4), behaviour: make(12), greedy: make(4), sampled: make(4) });
  const encode = (changes: Record<string, unknown>) =>
    encodePolicy(gpu, gpu.device.createCommandEncoder(), {
      ...ok,
      logits: make(12),
      batch,
      actions,
      outputs: outputs(),
      ...changes,
    } as Parameters<typeof encodePolicy>[2]);
  await rejects(encode({ logits: make(11) }), /logits: the buffer holds 44 bytes; the batch needs 48 bytes/);
  await rejects(encode({ logitsOffset: 2 }), /logits: the byte offset must be a non-negative multiple of 4; got 2/);
  await rejects(
    encode({ outputs: { ...outputs(), entropy: { buffer: make(4), offset: 4 } } }),
    /outputs.entropy: .* needs 16 bytes from offset 4/,
  );
  await rejects(
    encode({ outputs: { ...outputs(), greedy: make(4, BufferUsage.COPY_SRC) } }),
    /outputs.greedy: the buffer lacks STORAGE usage/,
  );
  const shared = make(12);
  await rejects(
    encode({ outputs: { ...outputs(), probs: shared, behaviour: shared } }),
    /outputs.probs and outputs.behaviour are the same buffer/,
  );
  await rejects(encode({ batch: 0 }), /batch must be an integer ≥ 1; got 0/);
  await rejects(encode({ maxRowsPerDispatch: 0 }), /maxRowsPerDispatch must be an integer ≥ 1/);
});
