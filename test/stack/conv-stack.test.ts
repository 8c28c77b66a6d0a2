// The stack kernel with a conv first layer against the float64 reference, within the derived
// float32 bound (src/stack/reference.ts: a conv output is a dot product of its patch, n = C·kh·kw,
// so the same per-layer bound holds), on random images, kernels, strides, paddings and filter
// counts. The logits buffer is poisoned first, so an element the kernel leaves unwritten fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createBuffer, poisonBuffer } from "../../src/gpu/buffers.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { encodeStackLogits } from "../../src/stack/stack-logits.ts";
import { snapshotLayout } from "../../src/stack/layout.ts";
import { createStack } from "../../src/stack/stack.ts";
import { planStackTiling } from "../../src/stack/tiling.ts";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

const gpu = await testGpu();

async function checkStack(
  spec: MlpSpec,
  options: {
    memory: number;
    ensemble: number;
    pushes: number;
    batch: number;
    targetWorkgroups: number;
    seed: number;
    convFusion?: boolean;
    /** The Gpu the stack plans with (default: the test device as it is). */
    planner?: Gpu;
  },
) {
  const stack = createStack(options.planner ?? gpu, {
    mlp: spec,
    memory: options.memory,
    ensemble: options.ensemble,
    eta: 2,
    tau: 0.5,
    targetWorkgroups: options.targetWorkgroups,
    convFusion: options.convFusion,
  });
  const snapshots = randomSnapshots(spec, options.pushes * options.ensemble, options.seed);
  for (let p = 0; p < options.pushes; p++) stack.push(snapshots.slice(p * options.ensemble, (p + 1) * options.ensemble));
  const states = randomStates(options.batch, spec.inputs, options.seed + 1);
  const statesBuffer = createBuffer(gpu, states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, "test states");
  const logits = createBuffer(
    gpu,
    options.batch * spec.outputs * 4,
    BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    "test logits",
  );
  gpu.device.queue.writeBuffer(statesBuffer, 0, states);
  poisonBuffer(gpu, logits);
  const encoder = gpu.device.createCommandEncoder();
  await encodeStackLogits(stack, encoder, { states: statesBuffer, logits, batch: options.batch });
  const result = await readFloat32(gpu, logits, 0, options.batch * spec.outputs, [encoder.finish()]);
  const reference = stackLogitsReference(
    { spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
    states,
    options.batch,
  );
  for (let i = 0; i < result.length; i++) {
    assert.ok(Number.isFinite(result[i]), `logit ${i} was not written (still the poison NaN) or is not finite: ${result[i]}`);
    const error = Math.abs(result[i] - reference.logits[i]);
    assert.ok(error <= reference.bound[i], `logit ${i}: |${result[i]} − ${reference.logits[i]}| = ${error} > bound ${reference.bound[i]}`);
  }
  statesBuffer.destroy();
  logits.destroy();
  stack.destroy();
}

/**
 * Conv networks for the property: every new shape (and tile of states) compiles the stack kernel,
 * 5-20 s each on lavapipe, so the shapes come from a short list that covers zero padding, a stride
 * of 2, a non-square kernel, filter counts off multiples of 4, no hidden layer, one and two (the
 * conv and the dense layer after it run in chunks of whole positions, src/stack/tiling.ts: the
 * fourth shape's 5 positions make chunks of 3 and 2; the last one's 12 filters are computed 3 vec4s
 * at a time, src/stack/tiling.ts's convFilterGroup), with and without that fusion; the values,
 * memory, ensemble and pushes vary freely. (The float64 twin itself is checked on random conv
 * geometries: test/stack/conv.test.ts, test/train/reference.test.ts.)
 */
const CONV_SHAPES: readonly MlpSpec[] = [
  { inputs: 40, conv: { inputShape: [5, 4, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 1 }, hidden: [16], outputs: 3 },
  { inputs: 36, conv: { inputShape: [6, 6, 1], filters: 3, kernel: [3, 3], stride: 2, padding: 0 }, hidden: [], outputs: 4 },
  { inputs: 48, conv: { inputShape: [4, 4, 3], filters: 8, kernel: [3, 2], stride: 1, padding: 0 }, hidden: [20], outputs: 2 },
  { inputs: 14, conv: { inputShape: [1, 7, 2], filters: 3, kernel: [1, 3], stride: 1, padding: 0 }, hidden: [12, 8], outputs: 3 },
  // 12 filters: a chunked thread computes all 3 filter vec4s of a position together (convFilterGroup).
  { inputs: 32, conv: { inputShape: [4, 4, 2], filters: 12, kernel: [2, 2], stride: 1, padding: 0 }, hidden: [12], outputs: 2 },
];

test("conv stack logits match the float64 reference within the derived float32 bound (random values, conv shapes)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...CONV_SHAPES),
      fc.record({
        memory: fc.integer({ min: 1, max: 5 }),
        ensemble: fc.integer({ min: 1, max: 2 }),
        extraPushes: fc.integer({ min: -4, max: 3 }),
        batch: fc.constantFrom(1, 33),
        targetWorkgroups: fc.constantFrom(1, 64),
        convFusion: fc.boolean(),
        seed: fc.integer(),
      }),
      async (spec, c) => {
        await checkStack(spec, { ...c, pushes: Math.max(1, c.memory + c.extraPushes) });
      },
    ),
    {
      numRuns: 8,
      // The group of 3 filter vec4s, chunked (a batch of 33), whatever the seed.
      examples: [[CONV_SHAPES[4], { memory: 3, ensemble: 2, extraPushes: 1, batch: 33, targetWorkgroups: 64, convFusion: true, seed: 7 }]],
    },
  );
});

test("the paper's MinAtar network (Breakout: 4 channels, 3 actions) at one state and at a batch, and planned for WebGPU's minimum limits", async () => {
  const spec: MlpSpec = { inputs: 400, conv: { inputShape: [10, 10, 4], filters: 16 }, hidden: [128], outputs: 3 };
  // Batch 70: a full tile of 64 states (chunks of 8 positions) and a partial one.
  for (const batch of [1, 70]) await checkStack(spec, { memory: 3, ensemble: 2, pushes: 4, batch, targetWorkgroups: 64, seed: 7 });
  // Planned for WebGPU's minimum limits (16 KiB of workgroup memory, 256 invocations), as on a
  // device that has no more: tiles of 32 states. The kernel runs on this device all the same.
  const minimum: Gpu = {
    ...gpu,
    info: {
      ...gpu.info,
      limits: {
        ...gpu.info.limits,
        maxComputeWorkgroupStorageSize: 16 * 1024,
        maxComputeInvocationsPerWorkgroup: 256,
        maxComputeWorkgroupSizeX: 256,
      },
    },
  };
  assert.equal(planStackTiling(snapshotLayout(spec), 70, minimum.info.limits).tileRows, 32);
  await checkStack(spec, { memory: 3, ensemble: 2, pushes: 4, batch: 70, targetWorkgroups: 64, seed: 8, planner: minimum });
});
