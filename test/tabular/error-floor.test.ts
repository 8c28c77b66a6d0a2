// How far PMD's reported errors can be from the true ones (src/tabular/error-floor.ts). The
// break-tester's g9.json (γ = 0.999999999) printed errors of 126 to 342 where a 60-digit reference
// gives about 1e-43 at iteration 12: Q* and each evaluation are only certified to about 1e4 there. tabularPmd now
// reports that bound, and `unresolvedErrors` says when errors sit under it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { unresolvedErrors, pmdErrorBound, RESOLVED_DECADES } from "../../src/tabular/error-floor.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { gridworldMdp } from "../../src/tabular/gridworld.ts";
import { createMdp, type Mdp } from "../../src/tabular/mdp.ts";
import { tabularPmd } from "../../src/tabular/pmd.ts";
import { riverSwimMdp } from "../../src/tabular/river-swim.ts";
import { softEvaluationErrorBound } from "../../src/tabular/soft-evaluation.ts";
import { softOptimum } from "../../src/tabular/soft-optimal.ts";

const twoStates = (gamma: number) => createMdp({ states: 2, actions: 2, P: [0.5, 0.5, 1, 0, 0, 1, 0.2, 0.8], R: [0, 1, 2, -1], gamma });

test("errorBound is the optimum's certificate plus the evaluation's rounding bound, the largest over the taus", () => {
  const mdp = twoStates(0.9);
  const run = tabularPmd(mdp, { variant: "exact", eta: 1, tau: 0.3, iterations: 5 });
  assert.equal(run.errorBound, run.optimum.errorBound + softEvaluationErrorBound(mdp, 0.3));
  assert.equal(run.errorBound, pmdErrorBound(mdp, run.optimum, 0.3));
  // A schedule: the bound of each τ is taken, and the largest reported (larger τ, larger bound here).
  const taus = [2, 0.3, 0.3];
  const scheduled = tabularPmd(mdp, { variant: "exact", eta: 1, tau: taus, iterations: 3 });
  const each = [2, 0.3].map((tau) => pmdErrorBound(mdp, softOptimum(mdp, { tau }), tau));
  assert.equal(scheduled.errorBound, Math.max(...each));
  // An optimum given without a bound (NaN): no bound is claimed.
  const unbounded = tabularPmd(mdp, {
    variant: "exact",
    eta: 1,
    tau: 0.3,
    iterations: 2,
    optimum: () => ({ ...run.optimum, errorBound: NaN }),
  });
  assert.ok(Number.isNaN(unbounded.errorBound));
});

test("gamma = 1 − 1e-9 (the tester's g9.json): errors after the second are under the bound, and are flagged", () => {
  // Soft policy iteration's (η = 0) true errors here, computed with 80 digits (mpmath), are
  // 1.29e9, 5.09e5, 960, 0.11, 4.4e-8, 7e-21, 2e-46, …; float64 printed 729, 342, 261, 289, … from
  // iteration 2 on, all below the bound of about 2.6e4 (Q* ≈ 2e9, the solve's condition number
  // (1 + γ)/(1 − γ) ≈ 2e9). The first two are far above the bound: resolved.
  const run = tabularPmd(twoStates(0.999999999), { variant: "exact", eta: 0, tau: 0.3, iterations: 12 });
  assert.ok(run.errorBound > 1e4 && run.errorBound < 1e5, `bound ${run.errorBound}`);
  assert.ok(
    run.errors.slice(2).every((error) => error <= run.errorBound),
    `errors ${run.errors}`,
  );
  const found = unresolvedErrors([run.errors], run.errorBound);
  assert.deepEqual(found, { bound: run.errorBound, largest: run.errors[0], unresolved: 10, total: 12 });
});

test("at gamma 0.99 (and 0.9) the bound is more than six decades below the largest error: nothing is flagged", () => {
  // The test MDPs of docs/tabular.md's claims; exact PMD from the uniform policy converges to
  // rounding, so its last errors are under the bound, as in every converging run.
  const mdps: [string, Mdp, number][] = [
    ["two states, 0.9", twoStates(0.9), 0.3],
    ["garnet 50, 0.99", garnetMdp({ states: 50, actions: 4, branching: 3, gamma: 0.99, seed: 1 }), 0.1],
    ["river swim, 0.99", riverSwimMdp({ gamma: 0.99 }), 0.1],
    ["gridworld 8×8, 0.99", gridworldMdp({ size: 8, gamma: 0.99, seed: 1 }).mdp, 0.01],
  ];
  for (const [name, mdp, tau] of mdps) {
    const run = tabularPmd(mdp, { variant: "exact", eta: tau * 10, tau, iterations: 300 });
    assert.ok(
      run.errors.some((error) => error <= run.errorBound),
      `${name}: converged to rounding`,
    );
    assert.equal(unresolvedErrors([run.errors], run.errorBound), undefined, name);
  }
});

test("the decades docs/tabular.md quotes: 6.8 to 10.8 at gamma 0.99, 7.2 at 0.999 (silent), 5.2 at 0.99999 (flagged)", () => {
  // Exact PMD from the uniform policy, η = 10τ, 300 iterations: how far the bound is below the
  // largest error, in decades, the figures docs/tabular.md and src/tabular/error-floor.ts give.
  const garnet = (states: number, gamma: number) => garnetMdp({ states, actions: 4, branching: 3, gamma, seed: 1 });
  const decades = (mdp: Mdp, tau: number) => {
    const run = tabularPmd(mdp, { variant: "exact", eta: tau * 10, tau, iterations: 300 });
    return { run, decades: Math.log10(Math.max(...run.errors) / run.errorBound) };
  };
  const at99 = [
    decades(garnet(50, 0.99), 0.1),
    decades(garnet(100, 0.99), 0.1),
    decades(garnet(200, 0.99), 0.1),
    decades(riverSwimMdp({ gamma: 0.99 }), 0.1),
    decades(gridworldMdp({ size: 8, gamma: 0.99, seed: 1 }).mdp, 0.01),
  ].map((result) => result.decades);
  assert.equal(Math.min(...at99).toFixed(1), "6.8", `${at99}`);
  assert.equal(Math.max(...at99).toFixed(1), "10.8", `${at99}`);
  const at999 = decades(garnet(100, 0.999), 0.1);
  assert.equal(at999.decades.toFixed(1), "7.2");
  assert.equal(unresolvedErrors([at999.run.errors], at999.run.errorBound), undefined);
  const at99999 = decades(garnet(100, 0.99999), 0.1);
  assert.equal(at99999.decades.toFixed(1), "5.2");
  assert.equal(unresolvedErrors([at99999.run.errors], at99999.run.errorBound)?.unresolved, 249);
});

test("unresolvedErrors by hand: the six-decade rule, the count over several runs, and NaN", () => {
  assert.equal(RESOLVED_DECADES, 6);
  const runs = [
    [1, 1e-3, 1e-9],
    [0.5, 2e-6, 0],
  ];
  // Bound 1e-6 is exactly six decades below the largest (1): not within them, silent.
  assert.equal(unresolvedErrors(runs, 1e-6), undefined);
  // 3e-6 is within: 1e-9 and 0 (≤ 3e-6) and 2e-6 are under it, 3 of 6.
  assert.deepEqual(unresolvedErrors(runs, 3e-6), { bound: 3e-6, largest: 1, unresolved: 3, total: 6 });
  // A bound under every error, however close to the largest, says nothing is unresolved.
  assert.equal(unresolvedErrors([[1, 0.9]], 0.5), undefined);
  // An error equal to the bound is not resolved (the true one may be 0).
  assert.deepEqual(unresolvedErrors([[1, 0.5]], 0.5), { bound: 0.5, largest: 1, unresolved: 1, total: 2 });
  assert.equal(unresolvedErrors(runs, NaN), undefined);
});
