/**
 * The float64 twin of shaders/train_targets.wgsl: StaQ's soft-Bellman regression targets
 *
 *     y = c_r · r + γ (1 − terminated) [ q̄ + τ H(π_k(·|s')) ]
 *
 * with q̄ = mean_e Q̄_e(s', a'), a' ~ π_k(·|s') (sampled), or q̄ = Σ_a π_k(a|s') mean_e Q̄_e(s', a)
 * (expectation): the soft value of s' under π_k, estimated with the target networks.
 */
import { TWIN_SLACK, add, clamp, div, exact, exp, log, max, mul, sub, type Tracked } from "./tracked-float32.ts";

export type NextActionMode = "sample" | "expectation";

export interface SoftBellmanSettings {
  /** c_r, the reward scale. */
  rewardScale: number;
  gamma: number;
  /** τ of the policy whose value is estimated. */
  tau: number;
  nextAction: NextActionMode;
}

/** One transition's inputs to the target, as the kernel sees them. */
export interface TargetRow {
  reward: number;
  terminated: boolean;
  /** π_k(·|s'), the precomputed probabilities (float32 values). */
  probs: ArrayLike<number>;
  /** H(π_k(·|s')). */
  entropy: number;
  /** Q̄_e(s', ·) of each target network. */
  targetQ: readonly ArrayLike<number>[];
  /** The uniform draw in [0, 1) of the sampled mode. */
  u: number;
}

/**
 * The action the kernel draws: the first a with u < Σ_{j ≤ a} p_j, the running sum rounded to
 * float32 after every addition exactly as the kernel adds (float32 addition is correctly rounded,
 * so this is the kernel's choice bit for bit); else the last action with p > 0.
 */
export function nextActionFromProbs(probs: ArrayLike<number>, u: number): number {
  let cdf = 0;
  let lastPositive = 0;
  for (let a = 0; a < probs.length; a++) {
    cdf = Math.fround(cdf + probs[a]);
    if (u < cdf) return a;
    if (probs[a] > 0) lastPositive = a;
  }
  return lastPositive;
}

/** mean_e Q̄_e(s', a). */
function meanTargetQ(targetQ: readonly ArrayLike<number>[], a: number): number {
  let sum = 0;
  for (const q of targetQ) sum += q[a];
  return sum / targetQ.length;
}

/** The soft-Bellman target of one transition, in float64. */
export function softBellmanTarget(row: TargetRow, settings: SoftBellmanSettings): number {
  let qBar = 0;
  if (settings.nextAction === "expectation") {
    for (let a = 0; a < row.probs.length; a++) qBar += row.probs[a] * meanTargetQ(row.targetQ, a);
  } else {
    qBar = meanTargetQ(row.targetQ, nextActionFromProbs(row.probs, row.u));
  }
  const bootstrap = row.terminated ? 0 : settings.gamma * (qBar + settings.tau * row.entropy);
  return settings.rewardScale * row.reward + bootstrap;
}

/**
 * A bound on |kernel − softBellmanTarget| from the kernel's float32 arithmetic alone (its inputs
 * being the same numbers): every + and × is correctly rounded (relative error ≤ u = 2^-24) and
 * x / E is within 2.5 ULP (≤ 5u); a flushed subnormal adds at most 2^-126 per operation. Following the kernel's order, the error of each quantity is at
 * most γ_n = nu / (1 − nu) times the sum of the absolute values of what went into it, with n the
 * longest chain of roundings: E − 1 additions and a division (5) for a member mean, then A
 * products and additions in the expectation, then τ·H, +, γ·, (1 − t)·, c_r·r and the final +.
 * `magnitude` is that sum of absolute values: |c_r r| + γ (Σ_a p_a mean_e |Q̄_e(a)| + τ|H|), with
 * the sampled mode's single action in place of the expectation (or the largest over actions, since
 * a rounding-level difference of the cdf can only change the draw at a tie the caller excludes).
 */
export function softBellmanTargetBound(row: TargetRow, settings: SoftBellmanSettings): number {
  const E = row.targetQ.length;
  const A = row.probs.length;
  const meanAbs = (a: number) => row.targetQ.reduce((s, q) => s + Math.abs(q[a]), 0) / E;
  let qMagnitude = 0;
  if (settings.nextAction === "expectation") {
    for (let a = 0; a < A; a++) qMagnitude += Math.abs(row.probs[a]) * meanAbs(a);
  } else {
    qMagnitude = meanAbs(nextActionFromProbs(row.probs, row.u));
  }
  const magnitude =
    Math.abs(settings.rewardScale * row.reward) + Math.abs(settings.gamma) * (qMagnitude + Math.abs(settings.tau * row.entropy));
  const n = E + 5 + 2 * A + 6;
  const u = 2 ** -24;
  // WGSL may flush subnormal operands and results to zero: at most 2^-126 absolute per operation.
  return ((n * u) / (1 - n * u)) * magnitude + n * 2 ** -126;
}

// ── The baselines' rules: DQN's max and M-DQN's Munchausen targets ──────────────────────────────

/**
 * Which regression target the soft Q fit trains on (shaders/train_targets.wgsl's TARGET_KIND):
 *
 *   soft        StaQ's soft-Bellman target above, y = c_r r + γ(1 − t)[q̄ + τ H(π_k(·|s'))], q̄ by
 *               `nextAction` (default "sample");
 *   max         DQN (Mnih et al. 2015): y = c_r r + γ(1 − t) max_a Q̄(s', a);
 *   munchausen  M-DQN (Vieillard, Pietquin & Geist 2020; Dopamine's munchausen_dqn):
 *               y = c_r r + α clip(τ log π̄(a|s), l₀, 0) + γ(1 − t) Σ_a' π̄(a'|s')(Q̄(s', a') − τ log π̄(a'|s')),
 *               π̄ = softmax(Q̄ / τ) of the target networks' mean output, a the taken action. The
 *               clip is on τ log π̄ (the paper's [τ ln π]_{l₀}^0, Dopamine's clip_by_value(tau * log_pi, l₀, 0)).
 *
 * Q̄ is always the mean of the E target networks' outputs.
 */
export type TargetRule =
  { kind: "soft"; nextAction?: NextActionMode } | { kind: "max" } | { kind: "munchausen"; alpha?: number; clipMin?: number };

/** M-DQN's defaults (the paper's and Dopamine's): α = 0.9, l₀ = −1. */
export const MUNCHAUSEN_DEFAULTS = { alpha: 0.9, clipMin: -1 } as const;

export interface MaxTargetSettings {
  /** c_r, the reward scale. */
  rewardScale: number;
  gamma: number;
}

export interface MunchausenTargetSettings extends MaxTargetSettings {
  /** τ > 0, the temperature of π̄ = softmax(Q̄ / τ). */
  tau: number;
  /** α, the weight of the Munchausen term. */
  alpha: number;
  /** l₀ ≤ 0, the lower clip of τ log π̄(a|s). */
  clipMin: number;
}

/** One transition's inputs to the max target, as the kernel sees them (float32 values). */
export interface MaxTargetRow {
  reward: number;
  terminated: boolean;
  /** Q̄_e(s', ·) of each target network. */
  targetQ: readonly ArrayLike<number>[];
}

/** One transition's inputs to the Munchausen target, as the kernel sees them (float32 values). */
export interface MunchausenTargetRow extends MaxTargetRow {
  /** a, the action taken in s. */
  action: number;
  /** Q̄_e(s, ·) of each target network. */
  stateQ: readonly ArrayLike<number>[];
}

/** mean_e Q̄_e(x, ·) for every action. */
function meanQ(q: readonly ArrayLike<number>[]): number[] {
  return Array.from({ length: q[0].length }, (_, a) => meanTargetQ(q, a));
}

/** DQN's target of one transition, in float64. */
export function maxTarget(row: MaxTargetRow, settings: MaxTargetSettings): number {
  const bootstrap = row.terminated ? 0 : settings.gamma * Math.max(...meanQ(row.targetQ));
  return settings.rewardScale * row.reward + bootstrap;
}

/**
 * τ log π̄(·|x) for π̄ = softmax(q / τ), computed stably as the paper and Dopamine's
 * stable_scaled_log_softmax do: q_a − m − τ log Σ_b exp((q_b − m) / τ), m = max_b q_b.
 */
export function scaledLogSoftmax(q: readonly number[], tau: number): number[] {
  const m = Math.max(...q);
  const logZ = Math.log(q.reduce((s, x) => s + Math.exp((x - m) / tau), 0));
  return q.map((x) => x - m - tau * logZ);
}

/** M-DQN's target of one transition, in float64, in the paper's form (the explicit sum over a'). */
export function munchausenTarget(row: MunchausenTargetRow, settings: MunchausenTargetSettings): number {
  const { tau } = settings;
  const scaledLogPi = scaledLogSoftmax(meanQ(row.stateQ), tau)[row.action];
  const munchausen = settings.alpha * Math.min(0, Math.max(settings.clipMin, scaledLogPi));
  let softValue = 0;
  if (!row.terminated) {
    const next = meanQ(row.targetQ);
    const nextLogPi = scaledLogSoftmax(next, tau);
    // π̄(a'|s') = exp(τ log π̄(a'|s') / τ).
    for (let a = 0; a < next.length; a++) softValue += Math.exp(nextLogPi[a] / tau) * (next[a] - nextLogPi[a]);
  }
  return settings.rewardScale * row.reward + munchausen + (row.terminated ? 0 : settings.gamma * softValue);
}

// ── Running error bounds of the kernel's float32 arithmetic ─────────────────────────────────────
//
// The bounds of the max and Munchausen targets follow the kernel (shaders/train_targets.wgsl)
// operation by operation, in its order, by the rules of tracked-float32.ts.

/** The kernel's mean_target_q / mean_state_q for every action: 0 + q_0 + q_1 + …, then / E. */
function trackedMeans(q: readonly ArrayLike<number>[]): Tracked[] {
  return Array.from({ length: q[0].length }, (_, a) => {
    let sum = exact(0);
    for (const member of q) sum = add(sum, exact(member[a]));
    return div(sum, q.length);
  });
}

/** The kernel's max over actions, in action order. */
function trackedMax(q: readonly Tracked[]): Tracked {
  return q.slice(1).reduce(max, q[0]);
}

/** The kernel's scaled_log_partition: (m, τ · log Σ_b exp((q_b − m) / τ)). */
function trackedScaledLogPartition(q: readonly Tracked[], tau: number): { m: Tracked; tauL: Tracked } {
  const m = trackedMax(q);
  let z = exact(0);
  for (const qb of q) z = add(z, exp(div(sub(qb, m), tau)));
  return { m, tauL: mul(exact(tau), log(z)) };
}

/** γ (1 − t) · v + the rest, the kernel's last line. */
function trackedBootstrap(row: MaxTargetRow, settings: MaxTargetSettings, v: Tracked): Tracked {
  return mul(mul(exact(settings.gamma), sub(exact(1), exact(row.terminated ? 1 : 0))), v);
}

// The float64 twins' own error, TWIN_SLACK · scale: each takes a few dozen float64 operations
// (relative error 2^-53 each) on terms no larger than `scale` in sum, far below 2^-40 · scale. (The
// one amplifier is exp in munchausenTarget's π̄ = exp(τ log π̄ / τ), whose argument x carries a
// relative rounding error: it makes π̄'s relative error about 2^-52 |x|, but π̄ |x| = e^x |x| ≤ 1/e,
// so each term π̄ (Q̄ − τ log π̄) still moves by at most 2^-52 of |Q̄ − τ log π̄| = |m + τ L|.)

/**
 * A bound on |kernel − maxTarget| from the kernel's float32 arithmetic alone (its inputs being the
 * same float32 numbers, settings included): the running bound of the rules above, through the
 * member means, the max over actions, γ(1 − t)·, c_r·r and the final +.
 */
export function maxTargetBound(row: MaxTargetRow, settings: MaxTargetSettings): number {
  const best = trackedMax(trackedMeans(row.targetQ));
  const y = add(mul(exact(settings.rewardScale), exact(row.reward)), trackedBootstrap(row, settings, best));
  const scale = 1 + Math.abs(settings.rewardScale * row.reward) + Math.abs(settings.gamma * best.value);
  return y.error + TWIN_SLACK * scale;
}

/**
 * A bound on |kernel − munchausenTarget| from the kernel's float32 arithmetic alone (the same
 * float32 inputs and settings): the running bound of the rules above through the kernel's steps,
 *
 *   on s:   Q̄(s, ·) means, m = max, d_b = Q̄_b − m, d_b / τ, exp, the sum z, log z, τ·log z,
 *           τ log π̄(a|s) = d_a − τ log z, the clamp to [l₀, 0], α·;
 *   on s':  the same up to τ·log z', then the soft value m' + τ log z' (which equals the twin's
 *           Σ_a' π̄(a'|s')(Q̄(s', a') − τ log π̄(a'|s')) exactly, Σ π̄ being 1: the twin's float64
 *           evaluation of the other form is within TWIN_SLACK of it);
 *   last:   c_r·r + α·clip, γ(1 − t)·v, and their sum.
 *
 * The clamp keeps the error of τ log π̄(a|s) (1-Lipschitz), and ends it when the exact value is
 * beyond l₀ by more than the bound; the bound keeps it regardless, to stay simple and safe.
 */
export function munchausenTargetBound(row: MunchausenTargetRow, settings: MunchausenTargetSettings): number {
  const { tau } = settings;
  const stateQ = trackedMeans(row.stateQ);
  const onS = trackedScaledLogPartition(stateQ, tau);
  const scaledLogPi = sub(sub(stateQ[row.action], onS.m), onS.tauL);
  const munchausen = mul(exact(settings.alpha), clamp(scaledLogPi, settings.clipMin, 0));
  const onNext = trackedScaledLogPartition(trackedMeans(row.targetQ), tau);
  const softValue = add(onNext.m, onNext.tauL);
  const y = add(add(mul(exact(settings.rewardScale), exact(row.reward)), munchausen), trackedBootstrap(row, settings, softValue));
  const largest = (q: readonly Tracked[]) => Math.max(...q.map((x) => Math.abs(x.value)));
  const scale =
    1 +
    Math.abs(settings.rewardScale * row.reward) +
    Math.abs(settings.alpha) * (3 * largest(stateQ) + Math.abs(onS.tauL.value)) +
    Math.abs(settings.gamma) * (3 * largest(trackedMeans(row.targetQ)) + Math.abs(onNext.tauL.value));
  return y.error + TWIN_SLACK * scale;
}
