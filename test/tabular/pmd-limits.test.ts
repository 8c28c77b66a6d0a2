// tabularPmd where float64 runs out (issue 16): an η so large against τ that β = η/(η+τ) rounds to 1
// makes the corrected variant's factor 1/(1 − β^M) infinite; that is an error naming eta and tau,
// not "policy(0|0) is NaN" from deep inside.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { tabularPmd } from "../../src/tabular/pmd.ts";

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
