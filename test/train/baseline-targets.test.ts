// The baselines' regression targets in src/train/targets-reference.ts (the float64 twins of
// shaders/train_targets.wgsl's max and munchausen rules) on rows worked out by hand, in the style
// of rlax's tests: every expected value is a literal with its arithmetic in a comment, never the
// formula called again. The formulas, in both files (Q̄ the mean of the target networks' outputs):
//
//   DQN:   y = c_r · r + γ · (1 − terminated) · max_a Q̄(s', a)
//   M-DQN: y = c_r · r + α · clip(τ log π̄(a|s), l₀, 0)
//              + γ · (1 − terminated) · Σ_a' π̄(a'|s') (Q̄(s', a') − τ log π̄(a'|s')),
//          π̄ = softmax(Q̄ / τ), a the taken action; the clip is on τ log π̄, not on log π̄.
//
// Then the error bounds: a float32 emulation of the kernel (every operation correctly rounded,
// exp and log rounded once: an implementation well inside WGSL's accuracy) stays within them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  maxTarget,
  maxTargetBound,
  munchausenTarget,
  munchausenTargetBound,
  scaledLogSoftmax,
  type MaxTargetRow,
  type MunchausenTargetRow,
  type MunchausenTargetSettings,
} from "../../src/train/targets-reference.ts";

/** Agreement up to the last digits of the hand-computed literals (15 significant digits). */
function close(got: number, expected: number, what: string): void {
  assert.ok(Math.abs(got - expected) <= 1e-12, `${what}: got ${got}, expected ${expected}`);
}

// Logarithms used below, to 15 digits: ln 2 = 0.693147180559945, ln 3 = 1.098612288668110,
// ln 4 = 1.386294361119891, ln 3/4 = ln 3 − ln 4 = −0.287682072451781.
const LN2 = 0.693147180559945;
const LN3 = 1.09861228866811;
const LN4 = 1.386294361119891;

test("the logarithm literals", () => {
  close(Math.log(2), LN2, "ln 2");
  close(Math.log(3), LN3, "ln 3");
  close(Math.log(4), LN4, "ln 4");
});

// ── DQN ─────────────────────────────────────────────────────────────────────────────────────────

const DQN = { rewardScale: 1, gamma: 0.5 };

test("DQN: y = c_r r + γ max_a Q̄(s', a)", () => {
  // r = 1, γ = 0.5, Q̄(s') = (1, 3): y = 1 + 0.5 · 3 = 2.5 (exact in binary).
  assert.equal(maxTarget({ reward: 1, terminated: false, targetQ: [[1, 3]] }, DQN), 2.5);
  // The max is over actions wherever it is: Q̄(s') = (3, 1) gives the same 2.5.
  assert.equal(maxTarget({ reward: 1, terminated: false, targetQ: [[3, 1]] }, DQN), 2.5);
  // Negative values, three actions, c_r = 10, γ = 0.99: Q̄ = (−3, −1, −2), max −1;
  // y = 10 · (−0.25) + 0.99 · (−1) = −2.5 − 0.99 = −3.49.
  close(maxTarget({ reward: -0.25, terminated: false, targetQ: [[-3, -1, -2]] }, { rewardScale: 10, gamma: 0.99 }), -3.49, "negative");
});

test("DQN: the max of the ensemble's mean, not the mean of the members' maxima", () => {
  // Q̄_1 = (4, 0), Q̄_2 = (−2, 6): mean (1, 3), max 3, y = 1 + 0.5 · 3 = 2.5. The members' own maxima
  // 4 and 6 would average 5 and give 1 + 2.5 = 3.5.
  const row: MaxTargetRow = {
    reward: 1,
    terminated: false,
    targetQ: [
      [4, 0],
      [-2, 6],
    ],
  };
  assert.equal(maxTarget(row, DQN), 2.5);
});

test("DQN: a terminal row's target is the scaled reward alone, whatever s' holds", () => {
  // c_r · r = 2 · 0.75 = 1.5; γ(1 − 1)(…) = 0.
  assert.equal(maxTarget({ reward: 0.75, terminated: true, targetQ: [[1, 3]] }, { rewardScale: 2, gamma: 0.5 }), 1.5);
  assert.equal(maxTarget({ reward: 0.75, terminated: true, targetQ: [[-100, 100]] }, { rewardScale: 2, gamma: 0.99 }), 1.5);
});

// ── M-DQN ───────────────────────────────────────────────────────────────────────────────────────

/** c_r = 1, γ = 0.5, τ = 1, and the paper's α = 0.9, l₀ = −1. */
const MDQN: MunchausenTargetSettings = { rewardScale: 1, gamma: 0.5, tau: 1, alpha: 0.9, clipMin: -1 };

// Q̄(s) = (0, ln 3) at τ = 1: π̄(s) = (e⁰, e^{ln 3}) / (1 + 3) = (1/4, 3/4), and
//   τ log π̄(·|s) = (ln 1/4, ln 3/4) = (−1.386294361119891, −0.287682072451781).
// In the kernel's stable form: m = ln 3, Σ_b exp(Q̄_b − m) = 1/3 + 1 = 4/3, so
//   τ log π̄(0|s) = 0 − ln 3 − ln 4/3 = −ln 4 and τ log π̄(1|s) = ln 3 − ln 3 − ln 4/3 = ln 3/4.
const STATE_Q = [0, LN3];
// Q̄(s') = (1, 1 + ln 3): the same π̄(s') = (1/4, 3/4), and Q̄(s', ·) − τ log π̄(·|s') =
//   (1 + ln 4, 1 + ln 3 − ln 3/4) = (1 + ln 4, 1 + ln 4) = (2.386294361119891, 2.386294361119891),
// so the soft value is Σ π̄ (Q̄ − τ log π̄) = (1/4 + 3/4) · 2.386294361119891 = 2.386294361119891
// (= τ log Σ exp(Q̄/τ) = log(e + 3e) = 1 + ln 4) and γ times it is 1.193147180559946.
const NEXT_Q = [1, 1 + LN3];

function mdqnRow(fields: Partial<MunchausenTargetRow>): MunchausenTargetRow {
  return { reward: 1, terminated: false, action: 1, stateQ: [STATE_Q], targetQ: [NEXT_Q], ...fields };
}

test("M-DQN's τ log π̄ by hand: (ln 1/4, ln 3/4) for Q̄ = (0, ln 3) at τ = 1", () => {
  const got = scaledLogSoftmax(STATE_Q, 1);
  close(got[0], -LN4, "τ log π̄(0|s)");
  close(got[1], LN3 - LN4, "τ log π̄(1|s)");
});

test("M-DQN with the clip inactive: a = 1, τ log π̄(1|s) = ln 3/4 > l₀ = −1", () => {
  // α · clip(−0.287682072451781, −1, 0) = 0.9 · (−0.287682072451781) = −0.258913865206603
  // y = 1 − 0.258913865206603 + 1.193147180559946 = 1.934233315353343
  close(munchausenTarget(mdqnRow({ action: 1 }), MDQN), 1.934233315353343, "a = 1");
});

test("M-DQN with the clip active: a = 0, τ log π̄(0|s) = −ln 4 = −1.386… < l₀ = −1 is clipped to −1", () => {
  // α · clip(−1.386294361119891, −1, 0) = 0.9 · (−1) = −0.9
  // y = 1 − 0.9 + 1.193147180559946 = 1.293147180559946
  close(munchausenTarget(mdqnRow({ action: 0 }), MDQN), 1.293147180559946, "a = 0");
  // A looser clip l₀ = −2 lets it through: 0.9 · (−1.386294361119891) = −1.247664925007902;
  // y = 1 − 1.247664925007902 + 1.193147180559946 = 0.945482255552044.
  close(munchausenTarget(mdqnRow({ action: 0 }), { ...MDQN, clipMin: -2 }), 0.945482255552044, "a = 0, l₀ = −2");
});

test("M-DQN's clip is on τ log π̄, not on log π̄: at τ = 0.5 the same π̄ is not clipped", () => {
  // Q̄(s) = (0, ln 3 / 2) at τ = 0.5: Q̄/τ = (0, ln 3), π̄(s) = (1/4, 3/4) again, and
  // τ log π̄(0|s) = 0.5 · (−1.386294361119891) = −0.693147180559945 > −1: unclipped, the term is
  // 0.9 · (−0.693147180559945) = −0.623832462503951. (Clipping log π̄ = −1.386… to −1 first would
  // give 0.9 · 0.5 · (−1) = −0.45 instead.) A terminal row isolates it:
  // y = 1 − 0.623832462503951 = 0.376167537496049.
  const row = mdqnRow({ action: 0, terminated: true, stateQ: [[0, LN3 / 2]] });
  close(munchausenTarget(row, { ...MDQN, tau: 0.5 }), 0.376167537496049, "τ = 0.5");
});

test("M-DQN on a terminal row: c_r r + the Munchausen term, nothing of s'", () => {
  // a = 0 (clipped): y = 1 − 0.9 = 0.1, whatever Q̄(s') is.
  close(munchausenTarget(mdqnRow({ action: 0, terminated: true }), MDQN), 0.1, "terminal");
  close(munchausenTarget(mdqnRow({ action: 0, terminated: true, targetQ: [[-50, 80]] }), MDQN), 0.1, "terminal, other s'");
});

test("M-DQN with a uniform π̄: τ log π̄ = −τ ln A, and the soft value is Q̄ + τ ln A", () => {
  // Q̄(s) = (5, 5): π̄(s) = (1/2, 1/2), τ log π̄(1|s) = ln 1/2 = −0.693147180559945 > −1, the term
  // 0.9 · (−0.693147180559945) = −0.623832462503951. Q̄(s') = (2, 2): soft value
  // Σ ½ (2 − ln ½) = 2 + ln 2 = 2.693147180559945, γ times it 1.346573590279973.
  // y = 1 − 0.623832462503951 + 1.346573590279973 = 1.722741127776022.
  close(munchausenTarget(mdqnRow({ stateQ: [[5, 5]], targetQ: [[2, 2]] }), MDQN), 1.722741127776022, "uniform");
});

test("M-DQN averages the ensemble's outputs before the softmax, on s and on s'", () => {
  // Q̄_1(s) = (1, ln 3), Q̄_2(s) = (−1, ln 3): mean (0, ln 3) = STATE_Q. Q̄_1(s') = (0, 2 + ln 3),
  // Q̄_2(s') = (2, ln 3): mean (1, 1 + ln 3) = NEXT_Q. So a = 1 gives 1.934233315353343 again.
  const row = mdqnRow({
    stateQ: [
      [1, LN3],
      [-1, LN3],
    ],
    targetQ: [
      [0, 2 + LN3],
      [2, LN3],
    ],
  });
  close(munchausenTarget(row, MDQN), 1.934233315353343, "two members");
});

test("M-DQN with α = 0 is soft DQN: c_r r + γ τ log Σ exp(Q̄(s')/τ)", () => {
  // y = 1 + 0.5 · 2.386294361119891 = 2.193147180559946, whatever the action.
  for (const action of [0, 1]) close(munchausenTarget(mdqnRow({ action }), { ...MDQN, alpha: 0 }), 2.193147180559946, `a = ${action}`);
});

// ── The bounds, against a float32 emulation of the kernel ───────────────────────────────────────

const f = Math.fround;

/** The kernel's mean_target_q for every action: 0 + q_0 + q_1 + …, then / E, each rounded. */
function emulatedMeans(q: readonly ArrayLike<number>[]): number[] {
  return Array.from({ length: q[0].length }, (_, a) => {
    let sum = 0;
    for (const member of q) sum = f(sum + member[a]);
    return f(sum / q.length);
  });
}

function emulatedScaledLogPartition(q: readonly number[], tau: number): [number, number] {
  const m = Math.max(...q);
  let z = 0;
  for (const x of q) z = f(z + f(Math.exp(f(f(x - m) / tau))));
  return [m, f(tau * f(Math.log(z)))];
}

function emulatedMax(row: MaxTargetRow, s: { rewardScale: number; gamma: number }): number {
  const best = Math.max(...emulatedMeans(row.targetQ));
  return f(f(s.rewardScale * row.reward) + f(f(s.gamma * f(1 - (row.terminated ? 1 : 0))) * best));
}

function emulatedMunchausen(row: MunchausenTargetRow, s: MunchausenTargetSettings): number {
  const stateQ = emulatedMeans(row.stateQ);
  const [m, tauL] = emulatedScaledLogPartition(stateQ, s.tau);
  const scaledLogPi = f(f(stateQ[row.action] - m) - tauL);
  const munchausen = f(s.alpha * Math.min(0, Math.max(s.clipMin, scaledLogPi)));
  const [mNext, tauLNext] = emulatedScaledLogPartition(emulatedMeans(row.targetQ), s.tau);
  const softValue = f(mNext + tauLNext);
  const bootstrap = f(f(s.gamma * f(1 - (row.terminated ? 1 : 0))) * softValue);
  return f(f(f(s.rewardScale * row.reward) + munchausen) + bootstrap);
}

const f32 = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map(f);

const rows = fc.integer({ min: 2, max: 6 }).chain((actions) =>
  fc.record({
    reward: f32(-2, 2),
    terminated: fc.boolean(),
    action: fc.integer({ min: 0, max: actions - 1 }),
    stateQ: fc.array(fc.array(f32(-20, 20), { minLength: actions, maxLength: actions }), { minLength: 1, maxLength: 2 }),
    targetQ: fc.array(fc.array(f32(-20, 20), { minLength: actions, maxLength: actions }), { minLength: 1, maxLength: 2 }),
  }),
);

const settings = fc.record({
  rewardScale: f32(0, 200),
  gamma: f32(0, 0.999),
  tau: f32(0.01, 5),
  alpha: f32(0, 1),
  clipMin: f32(-3, 0),
});

test("the bounds hold for a float32 emulation of the kernel, and stay small", () => {
  fc.assert(
    fc.property(rows, settings, (row, s) => {
      // The ensembles of s and s' may differ in size here; the kernel's are equal, which the bound does not need.
      const maxRow = { reward: row.reward, terminated: row.terminated, targetQ: row.targetQ };
      const yMax = maxTarget(maxRow, s);
      const maxBound = maxTargetBound(maxRow, s);
      assert.ok(Math.abs(emulatedMax(maxRow, s) - yMax) <= maxBound, `max: ${emulatedMax(maxRow, s)} vs ${yMax} ± ${maxBound}`);
      const y = munchausenTarget(row, s);
      const bound = munchausenTargetBound(row, s);
      const got = emulatedMunchausen(row, s);
      assert.ok(Math.abs(got - y) <= bound, `munchausen: ${got} vs ${y} ± ${bound}`);
      // Useful bounds: below 2^-12 of the target's scale for these ranges (|Q̄| ≤ 20, τ ≥ 0.01,
      // so |Q̄ − m| / τ ≤ 4000 and exp's allowance of 2|x| ULP stays small).
      const scale = 1 + Math.abs(s.rewardScale * row.reward) + 40;
      assert.ok(maxBound <= 2 ** -12 * scale && bound <= 2 ** -12 * scale, `bounds ${maxBound}, ${bound} at scale ${scale}`);
    }),
    { numRuns: 300 },
  );
});
