// tabularPmd where float64 runs out (issue 16): an η so large against τ that β = η/(η+τ) rounds to 1
// makes the corrected variant's factor 1/(1 − β^M) infinite; that is an error naming eta and tau,
// not "policy(0|0) is NaN" from deep inside.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { createMdp } from "../../src/tabular/mdp.ts";
import { tabularPmd } from "../../src/tabular/pmd.ts";
import { softPolicyEvaluation } from "../../src/tabular/soft-evaluation.ts";
import { softOptimum } from "../../src/tabular/soft-optimal.ts";

const mdp = garnetMdp({ states: 4, actions: 2, branching: 2, gamma: 0.9, seed: 3 });

test("corrected PMD with eta/tau past float64's reach names eta and tau", () => {
  assert.throws(
    () => tabularPmd(mdp, { variant: "corrected", eta: 1e300, tau: 0.5, iterations: 2, memory: 3 }),
    (error: Error) =>
      error instanceof StaqInputError && /^eta 1e\+300 is too large against tau 0\.5 for the corrected variant/.test(error.message),
  );
});

test("just inside the limit (eta/tau = 1e15) corrected PMD runs and its policy is a distribution", () => {
  const result = tabularPmd(mdp, { variant: "corrected", eta: 0.5e15, tau: 0.5, iterations: 2, memory: 3 });
  assert.ok(result.policy.every((p) => p >= 0 && p <= 1));
  // Exact and vanilla have no such factor: a huge eta only slows them down.
  for (const variant of ["exact", "vanilla"] as const) {
    const slow = tabularPmd(mdp, { variant, eta: 1e300, tau: 0.5, iterations: 2, memory: 3 });
    assert.ok(
      slow.policy.every((p) => Math.abs(p - 0.5) < 1e-12),
      variant,
    );
  }
});

// Where values overflow float64 (the tester's `staq tabular --tau 1e-320`, `--noise 1.7e308`, and
// R = 1e307): an error naming tau, the noise or R, never "policy(0|0) is NaN".

/** The tester's two-state MDP; `reward` replaces R[0][0]. */
const twoStates = (reward = 1) =>
  createMdp({ states: 2, actions: 2, P: [0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 0, 1], R: [reward, 0, 0, 2], gamma: 0.9 });

const inputError = (pattern: RegExp) => (error: Error) => error instanceof StaqInputError && pattern.test(error.message);

test("tau = 1e-320: Q*_tau is the unregularised Q*, by hand 698/41, 720/41, 693/41, 20", () => {
  // Q/τ overflowed in the softmax before. At τ → 0 the optimum is greedy: in state 1 action 1
  // keeps reward 2 forever, V(1) = 2/(1 − 0.9) = 20; in state 0 action 1 gives
  // V(0) = 0.9 (0.2 V(0) + 0.8 · 20), so V(0) = 14.4/0.82 = 720/41; then
  // Q(0,0) = 1 + 0.9 (0.9 · 720/41 + 0.1 · 20) = 698/41 and Q(1,0) = 0.9 · 0.5 (720/41 + 20) = 693/41.
  // The entropy term is at most τ ln 2 ≈ 7e-321, far below the 1e-11 tolerance of softOptimum.
  const { q, policy } = softOptimum(twoStates(), { tau: 1e-320 });
  [698 / 41, 720 / 41, 693 / 41, 20].forEach((expected, i) => assert.ok(Math.abs(q[i] - expected) <= 1e-11, `${q[i]} vs ${expected}`));
  assert.deepEqual([...policy], [0, 1, 0, 1]);
  // PMD with η = 1 runs (α = β = 1 in float64) and its policies stay distributions.
  const result = tabularPmd(twoStates(), { variant: "exact", eta: 1, tau: 1e-320, iterations: 3 });
  assert.ok(result.policy.every((p) => p >= 0 && p <= 1));
  // With η = 0, α = 1/τ is Infinity: refused by pmdStep, naming tau.
  assert.throws(
    () => tabularPmd(twoStates(), { variant: "exact", eta: 0, tau: 1e-320, iterations: 3 }),
    inputError(/^eta \+ tau = 1e-320 is too small: the step's weight alpha = 1\/\(eta \+ tau\) overflows float64.*raise tau$/),
  );
});

test("R = 1e307: the logits pass float64 on their way to Q/tau, an error naming tau and R", () => {
  // max|R|/((1 − γ)τ) = 1e307/(0.1 · 0.1) = 1e309 > 1.8e308; Q itself (≤ 1e308) still fits.
  assert.throws(
    () => tabularPmd(twoStates(1e307), { variant: "exact", eta: 1, tau: 0.1, iterations: 50 }),
    inputError(
      /^PMD's logits overflow float64 at iteration \d+: xi\(\d, \d\) is -?Infinity\. .*max\|R\|\/\(\(1 − gamma\) tau\) \(with the entropy bonus\) = 1\.0e309 here \(max\|R\| = 1e\+307, gamma = 0\.9, tau = 0\.1, A = 2\).*raise tau or scale the rewards R down$/,
    ),
  );
  // The same for a finite-memory variant, whose logits are a weighted sum of the stored Q.
  assert.throws(
    () => tabularPmd(twoStates(1e307), { variant: "corrected", eta: 1, tau: 0.1, iterations: 50, memory: 3 }),
    inputError(/^PMD's logits overflow float64/),
  );
  // At tau = 10 the bound is 1e307: it runs.
  const fine = tabularPmd(twoStates(1e307), { variant: "exact", eta: 1, tau: 10, iterations: 20 });
  assert.ok(fine.policy.every((p) => p >= 0 && p <= 1));
});

test("noise 1.7e308: the noisy Q overflows at once, an error naming the noise", () => {
  assert.throws(
    () => tabularPmd(twoStates(), { variant: "exact", eta: 1, tau: 0.1, iterations: 3, noise: 1.7e308 }),
    inputError(/^the noisy Q at iteration 0 overflows float64: Q\(\d, \d\) \+ noise is -?Infinity with noise 1\.7e\+308.*lower the noise/),
  );
  // Noise that fits but whose noise/tau does not: the logits' error names the noise too.
  assert.throws(
    () => tabularPmd(twoStates(), { variant: "exact", eta: 0, tau: 1e-10, iterations: 50, noise: 1e300 }),
    inputError(/^PMD's logits overflow float64 .*plus noise\/tau = 1\.0e310 for the noise 1e\+300 on every Q.*, or lower the noise$/),
  );
});

test("soft policy evaluation past float64: V = R/(1 − gamma) = 1e309 is an error naming R, not Infinity", () => {
  const mdp = createMdp({ states: 1, actions: 1, P: [1], R: [1e308], gamma: 0.9 });
  assert.throws(
    () => softPolicyEvaluation(mdp, Float64Array.of(1), 0.5),
    inputError(
      /^soft policy evaluation overflows float64: V\(0\) is Infinity\. Values can reach \(max\|R\| \+ tau log A\)\/\(1 − gamma\) = 1\.0e309 here .*scale the rewards R down/,
    ),
  );
  assert.throws(() => softOptimum(mdp, { tau: 0.5 }), inputError(/^soft policy evaluation overflows float64/));
});

test("a tau of the wrong type is named as such", () => {
  const run = (tau: unknown) => () => tabularPmd(mdp, { variant: "exact", eta: 1, tau: tau as number, iterations: 2 });
  // A string was indexed character by character: "tau for iteration 0 is 0".
  assert.throws(
    run("0.5"),
    inputError(/^tau must be a number, an array of numbers or a function of the iteration; got the string "0\.5"$/),
  );
  assert.throws(run(["0.5", 1]), inputError(/^tau for iteration 0 is the string "0\.5"; tau must be a finite number > 0$/));
  assert.throws(
    () => tabularPmd(mdp, { variant: "exact", eta: 1, tau: 1, iterations: "2" as unknown as number }),
    inputError(/^iterations must be an integer >= 1; got the string "2"$/),
  );
});
