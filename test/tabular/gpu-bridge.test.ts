/**
 * Property 6: tabular Q-functions packed as one linear layer on one-hot states, pushed into a GPU
 * stack, saved as safetensors and loaded back, give through the stack kernel the logits of the
 * float64 tabular PMD run, to float32 accuracy.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { stackFromSafetensors, stackToSafetensors } from "../../src/io/stack-file.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { gammaBound } from "../../src/stack/reference.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { tabularPmd } from "../../src/tabular/pmd.ts";
import { oneHotStates, tabularSnapshot, tabularStackSpec } from "../../src/tabular/tabular-stack.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = testGpu();

for (const variant of ["vanilla", "corrected"] as const) {
  test(`${variant} PMD through the GPU stack and its file gives the tabular logits (annealed τ, noisy Q, ring wrapped)`, async () => {
    const S = 7;
    const A = 3;
    const memory = 4;
    const taus = [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3];
    const eta = 0.6;
    const mdp = garnetMdp({ states: S, actions: A, branching: 3, gamma: 0.9, seed: 11 });
    const stack = createStack(await gpu, { mlp: tabularStackSpec(S, A), memory, eta, tau: taus[0], gamma: mdp.gamma, variant });
    const pushed: Float64Array[] = [];
    const run = tabularPmd(mdp, {
      variant,
      eta,
      tau: taus,
      memory,
      iterations: taus.length,
      noise: 0.3,
      seed: 2,
      onIteration: (k, step) => {
        pushed.push(Float64Array.from(step.q));
        stack.push(tabularSnapshot(step.q, S, A), { tau: taus[k] });
      },
    });
    // The same pmdStep calls on both sides: identical float64 coefficients.
    assert.deepEqual(Array.from(stack.coefficients[0]), Array.from(run.coefficients.coefficients));
    assert.equal(stack.correction, run.coefficients.correction);

    const loaded = stackFromSafetensors(await gpu, await stackToSafetensors(stack));
    const logits = await stackLogits(loaded, oneHotStates(S));
    stack.destroy();
    loaded.destroy();

    // Per logit, the products c*_i Q_i(s,a) (c* = correction · c_i) pass through the D = 2n + 2N + 4
    // roundings of stack/reference.ts (n = S head inputs, N = M snapshots), plus three more: Q
    // stored as float32, and c* rounded to float32 in the file and again on the GPU. So
    // |logit̂ − logit| ≤ γ_{D+3} Σ_i |c*_i| |Q_i(s,a)|.
    const { coefficients, correction } = run.coefficients;
    const kept = pushed.slice(-memory);
    const D = 2 * S + 2 * memory + 4 + 3;
    for (let sa = 0; sa < S * A; sa++) {
      let magnitude = 0;
      kept.forEach((q, i) => (magnitude += Math.abs(correction * coefficients[i] * q[sa])));
      const bound = gammaBound(D) * magnitude;
      assert.ok(
        Math.abs(logits[sa] - run.logits[sa]) <= bound,
        `logit (${Math.floor(sa / A)}, ${sa % A}): GPU ${logits[sa]}, tabular ${run.logits[sa]}, bound ${bound}`,
      );
    }
  });
}
