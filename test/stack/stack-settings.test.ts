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
  // A gamma outside [0, 1) is named as that first (NaN is not "Infinity on the GPU").
  for (const gamma of [NaN, Infinity, 1e39])
    assert.throws(() => createStack(gpu, { mlp: spec, memory: 2, gamma }), /^StaqInputError: gamma must be in \[0, 1\)/);
  // 0 is a float32 as itself: η = 0 and γ = 0 are kept.
  createStack(gpu, { mlp: spec, memory: 2, eta: 0, gamma: 0 }).destroy();
});

test("push and set refuse such a tau (and set such a correction) before anything changes", async () => {
  const stack = createStack(gpu, { mlp: spec, memory: 3, tau: 0.5 });
  const [a, b] = randomSnapshots(spec, 2, 7);
  stack.push(a);
  assert.throws(() => stack.push(b, { tau: 1e-40 }), float32Refusal("push", "tau"));
  assert.throws(() => stack.nextPush(1e-40), float32Refusal("nextPush", "tau"));
  const coefficients = [Float64Array.from([1])];
  assert.throws(() => stack.set({ snapshots: [[b]], coefficients, correction: 1, tau: 1e-40 }), float32Refusal("set", "tau"));
  // set took any tau before: a negative one was kept and then refused only by the next push.
  assert.throws(
    () => stack.set({ snapshots: [[b]], coefficients, correction: 1, tau: -1 }),
    /^StaqInputError: set: tau must be a finite number > 0; got -1$/,
  );
  // Each value may be in range and their product, the weight the GPU uses, not; a coefficient of
  // 1e39 is finite in float64 but Infinity in float32, as the upload and a saved file hold it.
  assert.throws(
    () => stack.set({ snapshots: [[b]], coefficients: [Float64Array.from([1e10])], correction: 1e30 }),
    /^StaqInputError: set: coefficient \[0, 0\] is 10000000000 and the correction 1e\+30: the weight correction · c \/ E = 1e\+40 is beyond float32's range/,
  );
  assert.throws(
    () => stack.set({ snapshots: [[b]], coefficients: [Float64Array.from([1e39])], correction: 1 }),
    /^StaqInputError: set: coefficient \[0, 0\] is 1e\+39; coefficients must be finite float32 numbers/,
  );
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

test("a tau so small beside eta that beta rounds to 1 is refused where it is given: the corrected step's 1/(1 − β^M) is Infinity", async () => {
  // η = 1, τ = 1e-17: β = 1/(1 + 1e-17) is 1 in float64. Before, both pushes were taken, the GPU
  // computed with an infinite correction, and the saved stack did not load.
  const beta1 =
    /the correction is Infinity \(η = 1 and τ = 1e-17: β = η\/\(η \+ τ\) rounds to 1 and 1\/\(1 − β\^M\) overflows\); use a τ less small/;
  assert.throws(
    () => createStack(gpu, { mlp: spec, memory: 2, eta: 1, tau: 1e-17 }),
    (e: unknown) => e instanceof StaqInputError && /^createStack: /.test(e.message) && beta1.test(e.message),
  );
  // The vanilla variant has no correction to overflow: β = 1 only keeps every snapshot's weight.
  createStack(gpu, { mlp: spec, memory: 2, eta: 1, tau: 1e-17, variant: "vanilla" }).destroy();

  const stack = createStack(gpu, { mlp: spec, memory: 2, eta: 1, tau: 1 });
  const [a, b] = randomSnapshots(spec, 2, 9);
  stack.push(a);
  const before = { version: stack.version, correction: stack.correction, coefficients: [...stack.coefficients[0]] };
  assert.throws(
    () => stack.push(b, { tau: 1e-17 }),
    (e: unknown) => e instanceof StaqInputError && /^push: /.test(e.message) && beta1.test(e.message),
  );
  assert.throws(
    () => stack.nextPush(1e-17),
    (e: unknown) => e instanceof StaqInputError && /^nextPush: /.test(e.message) && beta1.test(e.message),
  );
  assert.deepEqual({ version: stack.version, correction: stack.correction, coefficients: [...stack.coefficients[0]] }, before);
  stack.push(b);
  const loaded = stackFromSafetensors(gpu, await stackToSafetensors(stack));
  assert.equal(loaded.correction, stack.correction);
  loaded.destroy();
  stack.destroy();
});
