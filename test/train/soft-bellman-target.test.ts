// softBellmanTarget (src/train/targets-reference.ts, the float64 twin of shaders/train_targets.wgsl)
// on rows worked out by hand, in the style of rlax's tests: every expected value is a literal with
// its arithmetic in a comment, never the formula called again. The formula, in both files:
//
//   y = c_r · r + γ · (1 − terminated) · (q̄ + τ · H(π(·|s')))
//
//   expectation: q̄ = Σ_a π(a|s') · mean_e Q̄_e(s', a)
//   sampled:     q̄ = mean_e Q̄_e(s', a'), a' the first a with u < Σ_{j ≤ a} π(j|s') (float32
//                running sum), else the last a with π(a|s') > 0.
//
// Since H(π) = −Σ_a π(a) log π(a), the expectation form is the soft value of the textbook,
// y = c_r r + γ Σ_a π(a|s') (Q̄(s', a) − τ log π(a|s')); the row below is checked in both forms.
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextActionFromProbs, softBellmanTarget, type TargetRow } from "../../src/train/targets-reference.ts";
import { uniformFromPhilox } from "../../src/random/philox.ts";

/** π = (0.25, 0.75): its entropy, by hand (ln 4 = 1.386294361119891, ln 4/3 = 0.287682072451781):
 *  H = −0.25 ln 0.25 − 0.75 ln 0.75 = 0.25 · 1.386294361119891 + 0.75 · 0.287682072451781
 *    = 0.346573590279973 + 0.215761554338836 = 0.562335144618809. */
const PROBS = [0.25, 0.75];
const ENTROPY = 0.562335144618809;

/** c_r = 2, γ = 0.5, τ = 0.5: round numbers, so every step of the arithmetic can be followed. */
const SETTINGS = { rewardScale: 2, gamma: 0.5, tau: 0.5 } as const;

/** Agreement up to the last digits of the hand-computed literals (15 significant digits). */
function close(got: number, expected: number, what: string): void {
  assert.ok(Math.abs(got - expected) <= 1e-12, `${what}: got ${got}, expected ${expected}`);
}

function row(fields: Partial<TargetRow>): TargetRow {
  return { reward: 0.5, terminated: false, probs: PROBS, entropy: ENTROPY, targetQ: [[2, 4]], u: 0, ...fields };
}

test("the entropy literal is −Σ π log π of π = (0.25, 0.75)", () => {
  close(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), ENTROPY, "H");
});

test("a terminal row's target is the scaled reward alone, in both modes, whatever s' holds", () => {
  // c_r · r = 10 · 1.5 = 15; γ(1 − 1)(…) = 0: Q̄ (2 and 4) and H do not enter.
  for (const nextAction of ["expectation", "sample"] as const) {
    for (const u of [0, 0.5, 0.999]) {
      const y = softBellmanTarget(row({ reward: 1.5, terminated: true, u }), { rewardScale: 10, gamma: 0.99, tau: 0.3, nextAction });
      assert.equal(y, 15, `${nextAction}, u = ${u}`);
    }
  }
  // A negative reward is scaled the same way: 10 · (−0.25) = −2.5.
  assert.equal(
    softBellmanTarget(row({ reward: -0.25, terminated: true }), { rewardScale: 10, gamma: 0.99, tau: 0.3, nextAction: "expectation" }),
    -2.5,
  );
});

test("an expectation row: y = c_r r + γ(Σ_a π(a) Q̄(a) + τ H), the mean over ensemble members first", () => {
  // q̄ = 0.25 · 2 + 0.75 · 4 = 0.5 + 3 = 3.5
  // τH = 0.5 · 0.562335144618809 = 0.281167572309405
  // y = 2 · 0.5 + 0.5 · (3.5 + 0.281167572309405) = 1 + 0.5 · 3.781167572309405 = 1 + 1.890583786154702
  //   = 2.890583786154702
  const expected = 2.890583786154702;
  close(softBellmanTarget(row({}), { ...SETTINGS, nextAction: "expectation" }), expected, "one member Q̄ = (2, 4)");
  // Two members Q̄_1 = (1, 5), Q̄_2 = (3, 3): their mean is (2, 4) again, so the same target.
  close(
    softBellmanTarget(
      row({
        targetQ: [
          [1, 5],
          [3, 3],
        ],
      }),
      { ...SETTINGS, nextAction: "expectation" },
    ),
    expected,
    "two members",
  );
  // The textbook form: Σ_a π(a)(Q̄(a) − τ log π(a)) = 0.25 · (2 + 0.5 · 1.386294361119891)
  //   + 0.75 · (4 + 0.5 · 0.287682072451781) = 0.25 · 2.693147180559946 + 0.75 · 4.143841036225891
  //   = 0.673286795139986 + 3.107880777169418 = 3.781167572309404 = q̄ + τH above.
  close(0.25 * (2 - 0.5 * Math.log(0.25)) + 0.75 * (4 - 0.5 * Math.log(0.75)), 3.781167572309404, "soft value, textbook form");
  // A zero reward leaves the bootstrap alone: γ(q̄ + τH) = 0.5 · 3.781167572309405 = 1.890583786154702.
  close(softBellmanTarget(row({ reward: 0 }), { ...SETTINGS, nextAction: "expectation" }), 1.890583786154702, "zero reward");
});

test("a sampled a' at a CDF boundary: u equal to Σ_{j ≤ a} π(j) picks the next action a + 1", () => {
  // The float32 CDF of π = (0.25, 0.75) is (0.25, 1), both exact. The draw is "the first a with
  // u < C_a": strict, so u = C_0 = 0.25 is not below C_0 and goes to action 1. Each action owns the
  // half-open interval [C_{a−1}, C_a) — the inverse CDF — and u takes the 2^24 values k · 2^-24
  // (uniformFromPhilox), so action 0 is drawn for exactly the 2^22 values k < 2^22: probability
  // 0.25 exactly. With ≤ it would get 2^22 + 1 of them.
  const boundary = uniformFromPhilox(0x40000000); // (0x40000000 >>> 8) · 2^-24 = 2^22 · 2^-24 = 0.25
  assert.equal(boundary, 0.25);
  assert.equal(nextActionFromProbs(PROBS, boundary), 1);
  const below = uniformFromPhilox(0x3fffff00); // (2^22 − 1) · 2^-24 = 0.25 − 2^-24
  assert.equal(below, 0.25 - 2 ** -24);
  assert.equal(nextActionFromProbs(PROBS, below), 0);

  // At the boundary a' = 1: q̄ = Q̄(s', 1) = 4;
  // y = 2 · 0.5 + 0.5 · (4 + 0.281167572309405) = 1 + 2.140583786154702 = 3.140583786154702.
  close(softBellmanTarget(row({ u: boundary }), { ...SETTINGS, nextAction: "sample" }), 3.140583786154702, "u = 0.25");
  // Just below it a' = 0: q̄ = 2; y = 1 + 0.5 · (2 + 0.281167572309405) = 1 + 1.140583786154702 = 2.140583786154702.
  close(softBellmanTarget(row({ u: below }), { ...SETTINGS, nextAction: "sample" }), 2.140583786154702, "u = 0.25 − 2^-24");
  // With two members the sampled action's Q̄ is their mean: (5 + 3) / 2 = 4 at a' = 1, as above.
  close(
    softBellmanTarget(
      row({
        u: boundary,
        targetQ: [
          [1, 5],
          [3, 3],
        ],
      }),
      { ...SETTINGS, nextAction: "sample" },
    ),
    3.140583786154702,
    "two members",
  );
});

test("a sampled a' past the float32 total falls back to the last action π can choose, never one of probability 0", () => {
  // π = (0.5, 0.25, 0) sums to 0.75 (a row whose probabilities lost mass to rounding, in the
  // extreme): u = 0.9 is below no C_a, so a' is the last a with π(a) > 0, action 1, not action 2.
  const probs = [0.5, 0.25, 0];
  assert.equal(nextActionFromProbs(probs, 0.9), 1);
  // Q̄ = (1, 2, 100), H = 1 (an input): y = 2 · 0.5 + 0.5 · (2 + 0.5 · 1) = 1 + 1.25 = 2.25 (exact in binary).
  assert.equal(softBellmanTarget(row({ probs, entropy: 1, targetQ: [[1, 2, 100]], u: 0.9 }), { ...SETTINGS, nextAction: "sample" }), 2.25);
});
