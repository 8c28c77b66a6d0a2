import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createNaiveStack } from "../../bench/naive-stack.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createBuffer, poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = await testGpu();

test("the naive baseline (one dispatch per snapshot per layer) computes the same logits", async () => {
  // The baseline adds each snapshot's c·head into the logits in turn, so every product passes
  // through at most n + 1 + 2 + N roundings: within the depth D the reference's bound assumes.
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        inputs: fc.integer({ min: 1, max: 12 }),
        hidden: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 2 }),
        outputs: fc.integer({ min: 2, max: 18 }),
      }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer(),
      async (spec, memory, ensemble, batch, seed) => {
        const stack = createStack(gpu, { mlp: spec, memory, ensemble, eta: 1, tau: 0.3 });
        const snapshots = randomSnapshots(spec, (memory + 1) * ensemble, seed);
        for (let p = 0; p <= memory; p++) stack.push(snapshots.slice(p * ensemble, (p + 1) * ensemble));
        const states = randomStates(batch, spec.inputs, seed + 1);
        const statesBuffer = createBuffer(gpu, states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, "states");
        gpu.device.queue.writeBuffer(statesBuffer, 0, states);
        const logits = createBuffer(
          gpu,
          batch * spec.outputs * 4,
          BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
          "logits",
        );
        poisonBuffer(gpu, logits);
        const naive = await createNaiveStack(stack, statesBuffer, logits, batch);
        const encoder = gpu.device.createCommandEncoder();
        naive.encode(encoder);
        const got = await readFloat32(gpu, logits, 0, batch * spec.outputs, [encoder.finish()]);
        const reference = stackLogitsReference(
          { spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
          states,
          batch,
        );
        for (let i = 0; i < got.length; i++) {
          assert.ok(Math.abs(got[i] - reference.logits[i]) <= reference.bound[i], `logit ${i}: ${got[i]} vs ${reference.logits[i]}`);
        }
        naive.destroy();
        statesBuffer.destroy();
        logits.destroy();
        stack.destroy();
      },
    ),
    { numRuns: 10 },
  );
});
