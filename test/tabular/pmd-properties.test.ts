/**
 * Properties of tabular PMD (docs/algorithm.md, “Tabular PMD and its convergence”) on random small MDPs, each with the bound it checks and
 * why that bound holds. Rounding allowances come from `softEvaluationErrorBound` (the exact
 * evaluation's float64 error) and the optimum's own certified `errorBound`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { pmdRates } from "../../src/pmd/coefficients.ts";
import { correctedMemoryThreshold, exactPmdBounds, pmdLinearRate } from "../../src/tabular/convergence-bounds.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { gridworldMdp } from "../../src/tabular/gridworld.ts";
import type { Mdp } from "../../src/tabular/mdp.ts";
import { tabularPmd } from "../../src/tabular/pmd.ts";
import { logPolicyDistance, maxAbs, maxAbsDifference, policyDistance, uniformPolicy } from "../../src/tabular/policy-math.ts";
import { riverSwimMdp } from "../../src/tabular/river-swim.ts";
import { softEvaluationErrorBound, softPolicyEvaluation } from "../../src/tabular/soft-evaluation.ts";
import { softOptimum, softPolicyIteration, softValueIteration } from "../../src/tabular/soft-optimal.ts";

const U = Number.EPSILON / 2;

/** Random Garnet MDPs with 2..6 states, 2..3 actions, γ in the given range. */
const garnet = (gamma: { min: number; max: number }) =>
  fc
    .record({
      states: fc.integer({ min: 2, max: 6 }),
      actions: fc.integer({ min: 2, max: 3 }),
      branching: fc.integer({ min: 1, max: 4 }),
      gamma: fc.double({ min: gamma.min, max: gamma.max, noNaN: true }),
      seed: fc.nat(1_000_000),
    })
    .map((o) => garnetMdp({ ...o, branching: Math.min(o.branching, o.states) }));

/** η for a wanted β at temperature τ: β = η/(η+τ) ⇔ η = βτ/(1−β). */
const etaFor = (beta: number, tau: number) => (beta * tau) / (1 - beta);

/** How far a computed ‖Q* − Q^π‖∞ may be from the true one: both sides' float64 errors. */
function errorSlack(mdp: Mdp, tau: number, optimumBound: number): number {
  return optimumBound + softEvaluationErrorBound(mdp, tau);
}

test("1. exact PMD converges linearly: Cen et al. 2021 Theorem 1 holds at every iteration", () => {
  // ‖Q* − Q^{π_k}‖∞ ≤ C1 γ d^{k−1} and ‖log π* − log π_k‖∞ ≤ 2 C1 d^{k−1}/τ for k ≥ 1, with
  // d = β + γ(1−β) and C1 = ‖Q* − Q^{π_0}‖∞ + 2τβ‖log π* − log π_0‖∞ (see convergence-bounds.ts
  // for the mapping of Cen et al.'s NPG learning rate to β). The computed errors may exceed the
  // true ones by the float64 allowance; the log-policy by 2/τ times that (softmax is 2/τ-Lipschitz
  // in log space) plus the rounding of the logit recursion, 2(k+A)u‖ξ‖ with ‖ξ‖ ≤ ‖Q‖/τ.
  fc.assert(
    fc.property(
      garnet({ min: 0, max: 0.95 }),
      fc.double({ min: 0.05, max: 2, noNaN: true }),
      fc.double({ min: 0, max: 0.95, noNaN: true }),
      (mdp, tau, beta) => {
        const optimum = softOptimum(mdp, { tau });
        const K = 80;
        const logErrors: number[] = [];
        const run = tabularPmd(mdp, {
          variant: "exact",
          eta: etaFor(beta, tau),
          tau,
          iterations: K,
          optimum: () => optimum,
          onIteration: (_k, step) => logErrors.push(logPolicyDistance(optimum.policy, step.policy)),
        });
        const slack = errorSlack(mdp, tau, optimum.errorBound);
        const constants = {
          gamma: mdp.gamma,
          beta,
          tau,
          initialQError: run.errors[0],
          initialLogPolicyError: logPolicyDistance(optimum.policy, uniformPolicy(mdp.states, mdp.actions)),
        };
        for (let k = 0; k < K; k++) {
          const bound = exactPmdBounds(k, constants);
          assert.ok(run.errors[k] <= bound.q + 2 * slack, `k=${k}: ‖Q* − Q^k‖ = ${run.errors[k]} > ${bound.q}`);
          const logSlack = (4 * slack) / tau + 2 * (k + mdp.actions) * U * (maxAbs(optimum.q) / tau + 1);
          assert.ok(logErrors[k] <= bound.logPolicy + logSlack, `k=${k}: ‖log π* − log π_k‖ = ${logErrors[k]} > ${bound.logPolicy}`);
        }
      },
    ),
    { numRuns: 60 },
  );
});

/** Runs vanilla PMD with memory M for K iterations; returns the final errors and the last policy step. */
function vanillaFloor(mdp: Mdp, eta: number, tau: number, memory: number, iterations: number) {
  let previous: Float64Array = new Float64Array(0);
  const run = tabularPmd(mdp, { variant: "vanilla", eta, tau, memory, iterations, onIteration: (_k, step) => (previous = step.policy) });
  return {
    q: run.errors.at(-1)!,
    policy: run.policyErrors.at(-1)!,
    lastStep: policyDistance(run.policy, previous, mdp.states, mdp.actions),
    run,
  };
}

test("2. vanilla finite memory stalls at a floor that shrinks like β^M (policy) and β^2M (Q)", () => {
  // Vanilla's weights sum to (1−β^M)/τ, so its fixed point is softmax((1−β^M) Q^π_τ / τ): logits
  // off by a factor β^M, hence a policy floor Θ(β^M). The Q floor is second order, Θ(β^2M): by the
  // regularised performance-difference lemma, V* − V^π = E_{d^π}[τ KL(π ‖ π*)]/(1−γ), and KL is
  // quadratic in the logit error. Checked: both floors are clearly positive, smaller for the
  // larger memory, and their ratio between M1 and M2 = M1 + Δ is within one order of magnitude of
  // β^Δ (policy) and β^2Δ (Q). M1 starts where β^M1 ≤ 0.3, so first-order terms dominate.
  //
  // The Q floor at M2 must stay measurable: a floor within an order of magnitude of the float64
  // allowance says nothing about its ratio. So the drawn Δ is capped where the predicted floor
  // a.q·β^2Δ would fall below 100 allowances (the one-order check then still leaves it 10 above);
  // the floor at M1 must be large enough that Δ = 1 fits. Without the cap, β = 0.3, Δ = 4 predicts
  // a.q·0.3^8 ≈ 6.6e-5·a.q, which on a Garnet with nearly equal rewards fell to 1.4 allowances
  // while matching the prediction to 0.1%.
  fc.assert(
    fc.property(
      garnet({ min: 0.5, max: 0.9 }),
      fc.double({ min: 0.1, max: 1, noNaN: true }),
      fc.double({ min: 0.3, max: 0.7, noNaN: true }),
      fc.integer({ min: 2, max: 5 }),
      (mdp, tau, beta, drawnDelta) => {
        const eta = etaFor(beta, tau);
        const m1 = Math.max(1, Math.ceil(Math.log(0.3) / Math.log(beta)));
        // Vanilla converges to its fixed point about as fast as exact PMD, at rate ≤ d ≤ 0.97.
        const K = Math.ceil(Math.log(1e-14) / Math.log(pmdLinearRate(mdp.gamma, beta))) + 50;
        const a = vanillaFloor(mdp, eta, tau, m1, K);
        const slack = errorSlack(mdp, tau, a.run.optimum.errorBound);
        const measurableDelta = Math.floor(Math.log(a.q / (100 * slack)) / (2 * Math.log(1 / beta)));
        assert.ok(measurableDelta >= 1, `floor at M=${m1}, ${a.q}, is not 100/β² = ${100 / beta ** 2} above rounding ${slack}`);
        const delta = Math.min(drawnDelta, measurableDelta);
        const m2 = m1 + delta;
        const b = vanillaFloor(mdp, eta, tau, m2, K);
        // Converged: the last step moved the policy by less than a millionth of the smaller floor.
        assert.ok(a.lastStep < 1e-6 * b.policy && b.lastStep < 1e-6 * b.policy, `not converged: last steps ${a.lastStep}, ${b.lastStep}`);
        assert.ok(b.q > 10 * slack, `floor at M=${m2}, ${b.q}, not above rounding ${slack}`);
        assert.ok(b.q < a.q && b.policy < a.policy, `floor did not shrink: M=${m1}: ${a.q}, M=${m2}: ${b.q}`);
        const orders = (ratio: number, predicted: number) => Math.abs(Math.log10(ratio) - Math.log10(predicted));
        assert.ok(orders(b.policy / a.policy, beta ** delta) <= 1, `policy floor ratio ${b.policy / a.policy} vs β^Δ = ${beta ** delta}`);
        assert.ok(orders(b.q / a.q, beta ** (2 * delta)) <= 1, `Q floor ratio ${b.q / a.q} vs β^2Δ = ${beta ** (2 * delta)}`);
      },
    ),
    { numRuns: 25 },
  );
});

/** The first K at which exact PMD's bound C1 γ d^{K−1} on ‖Q* − Q^{π_K}‖∞ is below `target`. */
function iterationsFor(target: number, mdp: Mdp, beta: number, tau: number, optimum: { q: Float64Array; policy: Float64Array }): number {
  const uniform = uniformPolicy(mdp.states, mdp.actions);
  const c1 =
    maxAbsDifference(optimum.q, softPolicyEvaluation(mdp, uniform, tau)) + 2 * tau * beta * logPolicyDistance(optimum.policy, uniform);
  if (c1 * mdp.gamma <= target) return 1;
  return Math.ceil(Math.log(target / (c1 * mdp.gamma)) / Math.log(pmdLinearRate(mdp.gamma, beta))) + 1;
}

test("3. weight-corrected finite memory has no floor once M reaches the stated threshold", () => {
  // The threshold M0(γ, β) of convergence-bounds.ts (small-gain argument on Cen et al.'s inexact
  // bound) guarantees linear convergence to Q*; we run twice the iterations the exact-PMD bound
  // needs to reach 1e-11 and require the error to be below 1e-9.
  assert.equal(correctedMemoryThreshold(0.99, 0.95), 265, "the StaQ paper's example");
  fc.assert(
    fc.property(
      garnet({ min: 0.5, max: 0.9 }),
      fc.double({ min: 0.1, max: 1, noNaN: true }),
      fc.double({ min: 0.2, max: 0.8, noNaN: true }),
      fc.integer({ min: 0, max: 3 }),
      (mdp, tau, beta, extra) => {
        const optimum = softOptimum(mdp, { tau });
        const memory = correctedMemoryThreshold(mdp.gamma, beta) + extra;
        const K = 2 * iterationsFor(1e-11, mdp, beta, tau, optimum);
        const run = tabularPmd(mdp, { variant: "corrected", eta: etaFor(beta, tau), tau, memory, iterations: K, optimum: () => optimum });
        assert.ok(run.errors.at(-1)! < 1e-9, `M=${memory}, K=${K}: final error ${run.errors.at(-1)}`);
      },
    ),
    { numRuns: 25 },
  );
});

test("3b. corrected PMD on the test MDPs at γ = 0.99, β = 0.95: converges at M = 265, and from which M empirically", (t) => {
  // The threshold is sufficient, not necessary: M = 1 (soft policy iteration) converges too. The
  // diagnostics report the iterations each M needs to get below 1e-9, which grow with M.
  const gamma = 0.99;
  const beta = 0.95;
  const tau = 0.2;
  const eta = etaFor(beta, tau);
  const mdps: [string, Mdp][] = [
    ["garnet(8 states, 3 actions, branching 3)", garnetMdp({ states: 8, actions: 3, branching: 3, gamma, seed: 1 })],
    ["river swim (6 states)", riverSwimMdp({ states: 6, gamma })],
    ["gridworld (4×4, slippery)", gridworldMdp({ size: 4, gamma, seed: 3 }).mdp],
  ];
  const K = 1500;
  const threshold = correctedMemoryThreshold(gamma, beta);
  for (const [name, mdp] of mdps) {
    const optimum = softOptimum(mdp, { tau });
    const firstBelow = (memory: number) =>
      tabularPmd(mdp, { variant: "corrected", eta, tau, memory, iterations: K, optimum: () => optimum }).errors.findIndex((e) => e < 1e-9);
    const atThreshold = firstBelow(threshold);
    assert.ok(atThreshold >= 0, `${name}: corrected PMD with M = ${threshold} did not reach 1e-9 in ${K} iterations`);
    let smallest = 0;
    for (let memory = 1; memory <= threshold && smallest === 0; memory++) if (firstBelow(memory) >= 0) smallest = memory;
    const iterations = [1, 10, 50, 100].map((memory) => `M=${memory}: ${firstBelow(memory)}`).join(", ");
    t.diagnostic(
      `${name}: smallest M below 1e-9 within ${K} iterations: ${smallest}; iterations needed: ${iterations}, M=${threshold}: ${atThreshold}`,
    );
  }
});

test("4. with noisy evaluation, corrected PMD with large M ends closer to π* than soft policy iteration", () => {
  // Noise ε_k ~ N(0, σ²) i.i.d. per entry and iteration. Soft policy iteration (corrected, M = 1:
  // ξ = Q̂/τ) puts all of it in the logits: sd σ/τ. Corrected PMD with β^M ≈ 0 weights the last
  // Q-functions by α β^i, so the logit noise has sd (σ/τ)·sqrt((1−β)/(1+β)); for β ≥ 0.8 that is at
  // most 1/3 of soft policy iteration's. The final policy error is first-order in the logit noise,
  // so we expect a ratio near 1/3 and test the mean over 64 seeds against a margin of 0.6 (room
  // for the sampling error of the means and second-order effects).
  fc.assert(
    fc.property(
      garnet({ min: 0.5, max: 0.8 }),
      fc.double({ min: 0.2, max: 1, noNaN: true }),
      fc.double({ min: 0.8, max: 0.9, noNaN: true }),
      fc.double({ min: 0.2, max: 0.5, noNaN: true }),
      (mdp, tau, beta, relativeNoise) => {
        const optimum = softOptimum(mdp, { tau });
        const common = { eta: etaFor(beta, tau), tau, iterations: 300, noise: relativeNoise * tau, optimum: () => optimum };
        const seeds = 64;
        let spi = 0;
        let pmd = 0;
        for (let seed = 0; seed < seeds; seed++) {
          spi += tabularPmd(mdp, { ...common, variant: "corrected", memory: 1, seed }).policyErrors.at(-1)! / seeds;
          pmd += tabularPmd(mdp, { ...common, variant: "corrected", memory: 60, seed }).policyErrors.at(-1)! / seeds;
        }
        assert.ok(pmd <= 0.6 * spi, `corrected M=60: ${pmd}, soft policy iteration: ${spi}, ratio ${pmd / spi}`);
      },
    ),
    { numRuns: 12 },
  );
});

test("5a. exact PMD's fixed point is π* ∝ exp(Q*_τ/τ), with Q* from plain soft value iteration", () => {
  // K is chosen so that Cen et al.'s Q bound C1 γ d^{K−1} is ≤ 1e-11; their log-policy bound is
  // 2 C1 d^{K−1}/τ = (2/(γτ)) · that ≤ 6.7e-10 for γ ≥ 0.3, τ ≥ 0.1. Value iteration to 1e-11
  // moves log π* = Q*/τ − logsumexp by at most 2e-11/τ = 2e-10. Total < 1e-9.
  fc.assert(
    fc.property(
      garnet({ min: 0.3, max: 0.9 }),
      fc.double({ min: 0.1, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 0.8, noNaN: true }),
      (mdp, tau, beta) => {
        const optimum = softValueIteration(mdp, { tau, tolerance: 1e-11 });
        const K = iterationsFor(1e-11, mdp, beta, tau, optimum);
        const run = tabularPmd(mdp, { variant: "exact", eta: etaFor(beta, tau), tau, iterations: K, optimum: () => optimum });
        assert.ok(
          logPolicyDistance(run.policy, optimum.policy) <= 1e-9,
          `‖log π_K − log π*‖ = ${logPolicyDistance(run.policy, optimum.policy)}`,
        );
      },
    ),
    { numRuns: 40 },
  );
});

/** The fixed point of "evaluate with τ, improve with temperature τ'": what vanilla PMD converges to. */
function vanillaFixedPoint(mdp: Mdp, tau: number, temperature: number) {
  const start = softPolicyIteration(mdp, { tau, temperature });
  return softValueIteration(mdp, { tau, temperature, tolerance: 1e-13, initialQ: start.q });
}

test("5b. vanilla's fixed point is the softmax of Q^π_τ at temperature τ/(1−β^M)", () => {
  // At a fixed point all stored Q-functions equal Q^π_τ, so ξ = (1−β^M) Q^π_τ/τ. Soft value
  // iteration with entropy weight τ and improvement temperature τ' = τ/(1−β^M) solves exactly this
  // equation. Both sides are iterated until their change is at rounding level (≈1e-15); if the
  // map contracts at rate ρ the distance is at most that change over 1 − ρ, and 1e-9 allows ρ up
  // to 1 − 1e-6.
  fc.assert(
    fc.property(
      garnet({ min: 0.3, max: 0.9 }),
      fc.double({ min: 0.1, max: 1, noNaN: true }),
      fc.double({ min: 0.3, max: 0.7, noNaN: true }),
      fc.integer({ min: 1, max: 6 }),
      (mdp, tau, beta, memory) => {
        const K = Math.ceil(Math.log(1e-14) / Math.log(pmdLinearRate(mdp.gamma, beta))) + 50;
        const run = tabularPmd(mdp, { variant: "vanilla", eta: etaFor(beta, tau), tau, memory, iterations: K });
        const fixed = vanillaFixedPoint(mdp, tau, tau / (1 - beta ** memory));
        assert.ok(
          policyDistance(run.policy, fixed.policy, mdp.states, mdp.actions) <= 1e-9,
          `distance ${policyDistance(run.policy, fixed.policy, mdp.states, mdp.actions)}`,
        );
      },
    ),
    { numRuns: 40 },
  );
});

test("5c. …which is not the regularised optimum at the inflated temperature (its Q carries entropy weight τ, not τ')", () => {
  // π*_{τ'} solves π = softmax(Q^π_{τ'}/τ'): its Q-function includes the entropy bonus at weight
  // τ', vanilla's at weight τ. They differ wherever policy entropy varies between states.
  const mdp = garnetMdp({ states: 6, actions: 3, branching: 3, gamma: 0.9, seed: 1 });
  const tau = 0.3;
  const beta = 0.5;
  const memory = 4;
  const inflated = tau / (1 - beta ** memory);
  const run = tabularPmd(mdp, { variant: "vanilla", eta: etaFor(beta, tau), tau, memory, iterations: 800 });
  const fixed = vanillaFixedPoint(mdp, tau, inflated);
  const optimumAtInflated = softOptimum(mdp, { tau: inflated });
  const toFixed = policyDistance(run.policy, fixed.policy, mdp.states, mdp.actions);
  const toInflatedOptimum = policyDistance(run.policy, optimumAtInflated.policy, mdp.states, mdp.actions);
  assert.ok(toFixed < 1e-12 && toInflatedOptimum > 1e-4, `to the fixed point ${toFixed}, to π*_τ' ${toInflatedOptimum}`);
});

test("vanilla PMD with M ≥ K equals exact PMD: the stack's weighted sum and the recursion agree", () => {
  // With no Q-function dropped, vanilla's coefficients c_i = α β^(k−i) are exact PMD's; the two
  // code paths (explicit sum over memory vs. ξ ← βξ + αQ) differ only by rounding, which grows
  // like K·u·‖ξ‖; 1e-12 relative to ‖Q‖ leaves a margin of 100× at K = 40.
  fc.assert(
    fc.property(
      garnet({ min: 0, max: 0.9 }),
      fc.double({ min: 0.1, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 0.9, noNaN: true }),
      (mdp, tau, beta) => {
        const eta = etaFor(beta, tau);
        const exact = tabularPmd(mdp, { variant: "exact", eta, tau, iterations: 40 });
        const vanilla = tabularPmd(mdp, { variant: "vanilla", eta, tau, memory: 40, iterations: 40, optimum: () => exact.optimum });
        for (let k = 0; k < 40; k++)
          assert.ok(Math.abs(exact.errors[k] - vanilla.errors[k]) <= 1e-12 * Math.max(1, maxAbs(exact.optimum.q)));
      },
    ),
    { numRuns: 30 },
  );
});

test("the coefficients are the stack's: pmdRates and pmdStep with τ per iteration", () => {
  const mdp = garnetMdp({ states: 4, actions: 2, branching: 2, gamma: 0.8, seed: 5 });
  const taus = [1, 0.8, 0.6, 0.5, 0.4];
  const run = tabularPmd(mdp, { variant: "corrected", eta: 0.5, tau: taus, memory: 3, iterations: taus.length });
  const { alpha, beta } = pmdRates(0.5, 0.4);
  // Oldest first: Q^2 with α_2 β_3 β_4, Q^3 with α_3 β_4, Q^4 with α_4; correction 1/(1 − β_4^3).
  const rates = taus.map((tau) => pmdRates(0.5, tau));
  const expected = [rates[2].alpha * rates[3].beta * beta, rates[3].alpha * beta, alpha];
  expected.forEach((c, i) => assert.ok(Math.abs(run.coefficients.coefficients[i] - c) <= 4 * U * c));
  assert.ok(Math.abs(run.coefficients.correction - 1 / (1 - beta ** 3)) <= 8 * U * run.coefficients.correction);
  assert.equal(run.memoryQ.length, 3);
});

test("noise is seeded; bad options are refused with the option's name", () => {
  const mdp = garnetMdp({ states: 3, actions: 2, branching: 2, seed: 2 });
  const options = { variant: "corrected", eta: 1, tau: 0.5, memory: 5, iterations: 10, noise: 0.3 } as const;
  assert.deepEqual(tabularPmd(mdp, { ...options, seed: 4 }).errors, tabularPmd(mdp, { ...options, seed: 4 }).errors);
  assert.notDeepEqual(tabularPmd(mdp, { ...options, seed: 4 }).errors, tabularPmd(mdp, { ...options, seed: 5 }).errors);
  assert.throws(() => tabularPmd(mdp, { ...options, memory: undefined }), /the corrected variant needs a memory M/);
  assert.throws(() => tabularPmd(mdp, { ...options, iterations: 0 }), /iterations must be an integer >= 1/);
  assert.throws(() => tabularPmd(mdp, { ...options, noise: -1 }), /noise must be a finite number >= 0/);
  assert.throws(() => tabularPmd(mdp, { ...options, tau: [0.5] }), /the tau schedule has 1 values but iteration 1 needs one/);
  assert.throws(() => tabularPmd(mdp, { ...options, tau: (k) => (k < 3 ? 1 : NaN) }), /tau for iteration 3 is NaN/);
  assert.throws(() => tabularPmd(mdp, { ...options, variant: "both" as "exact" }), /variant must be one of exact, vanilla, corrected/);
});
