// A stack's η, τ, γ and correction are saved as metadata that a load refuses outside float32's
// normal range (src/io/stack-file.ts). createStack, push and set refuse such values too: τ = 1e-40
// had been taken, used (as 0 on the GPU) and saved, and the saved stack could not be loaded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStack } from "../../src/stack/stack.ts";
import { stackFromSafetensors, stackToSafetensors } from "../../src/io/stack-file.ts";
import { StaqInputError } from "../../src/errors.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { randomSnapshots } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = await testGpu();
const spec: MlpSpec = { inputs: 3, hidden: [4], outputs: 2 };
const float32Refusal = (who: string, name: string) => (e: unknown) =>
  e instanceof StaqInputError && new RegExp(`^${who}: ${name} = \\S+ is outside float32's normal range`).test(e.message);

test("createStack refuses eta, tau and gamma that a saved stack could not be loaded with", () => {
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, tau: 1e-40 }), float32Refusal("createStack", "tau"));
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, eta: 1e39 }), float32Refusal("createStack", "eta"));
  assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, gamma: 1e-45 }), float32Refusal("createStack", "gamma"));
  // 0 is a float32 as itself: η = 0 and γ = 0 are kept.
  createStack(gpu, { mlp: spec, memory: 2, eta: 0, gamma: 0 }).destroy();
});

test("push and set refuse such a tau (and set such a correction) before anything changes", async () => {
  const stack = createStack(gpu, { mlp: spec, memory: 3, tau: 0.5 });
  const [a, b] = randomSnapshots(spec, 2, 7);
  stack.push(a);
  assert.throws(() => stack.push(b, { tau: 1e-40 }), float32Refusal("push", "tau"));
  assert.throws(() => stack.nextPush(1e-40), float32Refusal("push", "tau"));
  const coefficients = [Float64Array.from([1])];
  assert.throws(() => stack.set({ snapshots: [[b]], coefficients, correction: 1, tau: 1e-40 }), float32Refusal("set", "tau"));
  // set took any tau before: a negative one was kept and then refused only by the next push.
  assert.throws(() => stack.set({ snapshots: [[b]], coefficients, correction: 1, tau: -1 }), /tau must be a finite number > 0; got -1/);
  assert.throws(() => stack.set({ snapshots: [[b]], coefficients, correction: 1e39 }), float32Refusal("set", "correction"));
  assert.equal(stack.size, 1);
  assert.equal(stack.pmd.tau, 0.5);
  // What the stack holds still saves and loads.
  const loaded = stackFromSafetensors(gpu, await stackToSafetensors(stack));
  assert.equal(loaded.size, 1);
  assert.equal(loaded.pmd.tau, 0.5);
  loaded.destroy();
  stack.destroy();
});
