/**
 * The float64 twin of shaders/train_targets.wgsl: StaQ's soft-Bellman regression targets
 *
 *     y = c_r · r + γ (1 − terminated) [ q̄ + τ H(π_k(·|s')) ]
 *
 * with q̄ = mean_e Q̄_e(s', a'), a' ~ π_k(·|s') (sampled), or q̄ = Σ_a π_k(a|s') mean_e Q̄_e(s', a)
 * (expectation): the soft value of s' under π_k, estimated with the target networks.
 */

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
