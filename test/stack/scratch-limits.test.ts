// stackLogits keeps scratch buffers for the states and logits of a call, grown by doubling. The
// batch is checked against maxBufferSize up front, and doubling stops at the limit: a batch that
// fits is never refused because the buffer it would replace was more than half the limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

const device = await testGpu();
const SPEC = { inputs: 4, hidden: [8], outputs: 3 };

test("scratch buffers grow up to maxBufferSize, and a larger batch is refused naming the largest that fits", async () => {
  // The real device, planned as if its buffers could hold 1 KiB: 64 states of 4 floats.
  const gpu: Gpu = { ...device, info: { ...device.info, limits: { ...device.info.limits, maxBufferSize: 1024 } } };
  const stack = createStack(gpu, { mlp: SPEC, memory: 2 });
  const snapshot = randomSnapshots(SPEC, 1, 3)[0];
  stack.push(snapshot);
  for (const batch of [40, 50, 64]) {
    // 40 rows make 640-byte buffers; 50 need 800, which doubling would have made 1280.
    const states = randomStates(batch, SPEC.inputs, batch);
    const logits = await stackLogits(stack, states);
    const reference = stackLogitsReference(
      { spec: SPEC, snapshots: [[snapshot]], coefficients: stack.coefficients, correction: stack.correction },
      states,
      batch,
    );
    logits.forEach((x, k) => assert.ok(Math.abs(x - reference.logits[k]) <= reference.bound[k], `batch ${batch}, logit ${k}`));
  }
  await assert.rejects(stackLogits(stack, randomStates(65, SPEC.inputs, 1)), (error: Error) => {
    assert.ok(error instanceof StaqInputError, error.message);
    assert.match(
      error.message,
      /^the batch = 65 needs a states buffer \(batch × 4 inputs × 4 bytes\) of 1040 bytes, more than this device's maxBufferSize of 1024 bytes; the batch can be at most 64 on this machine$/,
    );
    return true;
  });
  stack.destroy();
});
