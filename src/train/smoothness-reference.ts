/**
 * The float64 twin of the soft Q fit's smoothness regulariser (shaders/smoothness_states.wgsl,
 * shaders/train_smoothness_loss.wgsl): a discrete-action version of PAVE's critic regulariser
 * (Lee et al. 2026), which penalises how fast the advantage changes between nearby states and
 * along transitions. For one minibatch row with state s, next state s' and noise ε ~ N(0, σ² I),
 * and the online network's Q,
 *
 *   A(x, a) = Q(x, a) − mean_c Q(x, c),
 *   P_S = ‖A(s + ε, ·) − A(s, ·)‖²,   P_T = ‖A(s', ·) − A(s, ·)‖²   (sums over actions),
 *
 * and the minibatch loss adds the mean over its B rows of λ_S P_S + λ_T P_T to the regression
 * loss. With D = A(x, ·) − A(s, ·) and A actions, ∂A(x, b)/∂Q(x, a) = [a = b] − 1/A, so
 *
 *   ∂‖D‖²/∂Q(x, a) = 2 (D_a − mean_b D_b) = 2 D_a   (D's mean is 0: both advantages have mean 0),
 *   ∂‖D‖²/∂Q(s, a) = −2 (D_a − mean_b D_b),
 *
 * and adding a constant to every action's Q at any one state changes neither the penalty nor its
 * gradient (the advantage does not see it).
 *
 * Also here: the state noise (ε as the kernel draws it, a pure function of (seed, step, row)), and
 * bounds on the kernels' float32 deviation from these twins, derived from WGSL's accuracy rules.
 */
import { TINY, TWIN_SLACK, U, ULP_SUBNORMAL, add, clamp, constant, div, exact, mul, sub, type Tracked } from "./tracked-float32.ts";
import { StaqInputError } from "../errors.ts";
import { philox4x32, splitU64, STREAM_STATE_NOISE, uniformFromPhilox } from "../random/philox.ts";
import { residualLoss, type LossOptions } from "./reference.ts";

/** λ_S and λ_T, the weights of the state and transition terms. */
export interface SmoothnessWeights {
  state: number;
  transition: number;
}

/** A(x, ·) = Q(x, ·) − mean_a Q(x, a). */
export function advantage(q: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let a = 0; a < q.length; a++) mean += q[a];
  mean /= q.length;
  return Float64Array.from(q, (value) => value - mean);
}

/** One row's penalty and its gradient with respect to the Q values at s, s + ε and s'. */
export interface SmoothnessRow {
  /** P_S = ‖A(s + ε, ·) − A(s, ·)‖². */
  state: number;
  /** P_T = ‖A(s', ·) − A(s, ·)‖². */
  transition: number;
  /** λ_S P_S + λ_T P_T. */
  penalty: number;
  /** ∂penalty/∂Q(s, ·), ∂penalty/∂Q(s + ε, ·), ∂penalty/∂Q(s', ·). */
  dq: Float64Array;
  dqPerturbed: Float64Array;
  dqNext: Float64Array;
}

/** The penalty of one row from Q(s, ·), Q(s + ε, ·) and Q(s', ·), and its gradient. */
export function smoothnessRow(
  q: ArrayLike<number>,
  qPerturbed: ArrayLike<number>,
  qNext: ArrayLike<number>,
  weights: SmoothnessWeights,
): SmoothnessRow {
  const actions = q.length;
  if (actions < 1 || qPerturbed.length !== actions || qNext.length !== actions)
    throw new StaqInputError(`smoothnessRow: Q(s), Q(s + ε) and Q(s') need the same number (≥ 1) of actions`);
  const base = advantage(q);
  const difference = (other: ArrayLike<number>) => {
    const a = advantage(other);
    return a.map((value, k) => value - base[k]);
  };
  const dState = difference(qPerturbed);
  const dTransition = difference(qNext);
  const squared = (d: Float64Array) => d.reduce((sum, value) => sum + value * value, 0);
  // 2 (D_a − mean D): D's mean is 0 in exact arithmetic; subtracting it keeps the twin's own
  // gradient summing to 0 over actions as the exact one does.
  const slope = (d: Float64Array, weight: number) => {
    const mean = d.reduce((sum, value) => sum + value, 0) / actions;
    return d.map((value) => 2 * weight * (value - mean));
  };
  const dqPerturbed = slope(dState, weights.state);
  const dqNext = slope(dTransition, weights.transition);
  const state = squared(dState);
  const transition = squared(dTransition);
  return {
    state,
    transition,
    penalty: weights.state * state + weights.transition * transition,
    dq: dqPerturbed.map((value, a) => -value - dqNext[a]),
    dqPerturbed,
    dqNext,
  };
}

/** One member's step as the loss kernel sees it. */
export interface SmoothnessStepInput {
  /** Q of the member on the trainer's 3B rows [s; s + ε; s'], [3B × actions] (unpadded). */
  q: ArrayLike<number>;
  actionCount: number;
  /** The minibatch's taken actions and regression targets, [B]. */
  actions: ArrayLike<number>;
  targets: ArrayLike<number>;
  weights: SmoothnessWeights;
  loss?: LossOptions;
}

export interface SmoothnessStep {
  /** ∂loss/∂Q on the 3B rows, [3B × actions]: the gradient of the minibatch mean of ℓ + λ_S P_S + λ_T P_T. */
  dq: Float64Array;
  /** [3B]: ℓ of row b, P_S of row b at B + b, P_T of row b at 2B + b (unweighted). */
  lossRows: Float64Array;
  /** Means over the B rows: of ℓ, of |Q(s, a_b)|, of P_S and of P_T. */
  meanLoss: number;
  meanAbsQ: number;
  meanState: number;
  meanTransition: number;
}

/** The exact (float64) step of one member: regression on rows 0 … B − 1 plus the penalty. */
export function smoothnessStep(input: SmoothnessStepInput): SmoothnessStep {
  const { q, actionCount: A, actions, targets, weights } = input;
  const B = actions.length;
  if (targets.length !== B || q.length !== 3 * B * A)
    throw new StaqInputError(
      `smoothnessStep: ${B} actions, ${targets.length} targets and ${q.length / A} rows of Q (3B expected) disagree`,
    );
  const dq = new Float64Array(3 * B * A);
  const lossRows = new Float64Array(3 * B);
  const row = (r: number) => Array.prototype.slice.call(q, r * A, (r + 1) * A) as number[];
  let meanLoss = 0;
  let meanAbsQ = 0;
  let meanState = 0;
  let meanTransition = 0;
  for (let b = 0; b < B; b++) {
    const q0 = row(b);
    const { value, slope } = residualLoss(q0[actions[b]] - targets[b], input.loss);
    const penalty = smoothnessRow(q0, row(B + b), row(2 * B + b), weights);
    for (let a = 0; a < A; a++) {
      dq[b * A + a] = penalty.dq[a] / B + (a === actions[b] ? slope / B : 0);
      dq[(B + b) * A + a] = penalty.dqPerturbed[a] / B;
      dq[(2 * B + b) * A + a] = penalty.dqNext[a] / B;
    }
    lossRows[b] = value;
    lossRows[B + b] = penalty.state;
    lossRows[2 * B + b] = penalty.transition;
    meanLoss += value / B;
    meanAbsQ += Math.abs(q0[actions[b]]) / B;
    meanState += penalty.state / B;
    meanTransition += penalty.transition / B;
  }
  return { dq, lossRows, meanLoss, meanAbsQ, meanState, meanTransition };
}

// ── Bounds on the kernels' float32 arithmetic ──────────────────────────────────────────────────
//
// As src/train/targets-reference.ts bounds train_targets.wgsl: each quantity is carried as its
// exact value x (computed here in float64, whose own error TWIN_SLACK covers) and a bound e on
// |x̂ − x|, x̂ the kernel's float32 value, following the kernel's operations in order
// (U = 2^-24, TINY = 2^-126):
//
// - WGSL may flush a subnormal operand or result to zero: every operand's and result's bound grows
//   by TINY.
// - x ± y, x·y are correctly rounded: |x̂ŷ − xy| ≤ |x|e_y + |y|e_x + e_x e_y, plus U times the
//   computed result's magnitude. A contracted a·b + c (fma) removes a rounding, which only shrinks
//   the error the unfused rule bounds.
// - x / y (y an exact, normal float32): within 2.5 ULP ≤ 5U relative, + 2.5·2^-149.
// - clamp, max and |·| are 1-Lipschitz and exact.
// - log(x): 2^-21 absolutely on [0.5, 2], 3 ULP elsewhere (≤ 3(2^-23 |log x| + 2^-149)).
// - sqrt(x): inherited from 1 / inverseSqrt(x): inverseSqrt within 2 ULP (≤ 4U relative), the
//   division 2.5 ULP (≤ 5U), so within (1 + 5U)/(1 − 4U) − 1 < 10U relative.
// - cos(x), sin(x) for x in [−π, π]: within 2^-11 absolutely; both are 1-Lipschitz in x.

/** td_loss(d, scale, huber, δ) of shaders/td_loss.wgsl: (ℓ, slope). δ is the kernel's float32 δ. */
function trackedResidualLoss(d: Tracked, scale: Tracked, huber: boolean, delta: number): { value: Tracked; slope: Tracked } {
  if (!huber) return { value: mul(d, d), slope: mul(scale, d) };
  const slope = mul(scale, clamp(d, -delta, delta));
  const abs: Tracked = { value: Math.abs(d.value), error: d.error };
  const inner = mul(mul(exact(0.5), d), d);
  const outer = mul(exact(delta), sub(abs, mul(exact(0.5), exact(delta))));
  if (abs.value + abs.error + TINY <= delta) return { value: inner, slope };
  if (abs.value - abs.error - TINY > delta) return { value: outer, slope };
  // d̂ may fall on either side of δ: the kernel's branch at d̂ is within its bound of that branch
  // at d, and the two branches differ there by |inner − outer| (the Huber loss is continuous).
  return {
    value: {
      value: Math.abs(d.value) <= delta ? inner.value : outer.value,
      error: Math.max(inner.error, outer.error) + Math.abs(inner.value - outer.value),
    },
    slope,
  };
}

/** Bounds on |kernel − smoothnessStep| per element of dq and of the loss rows, for one member. */
export interface SmoothnessStepBound {
  dq: Float64Array;
  lossRows: Float64Array;
}

/**
 * A bound on |kernel − smoothnessStep| from shaders/train_smoothness_loss.wgsl's float32
 * arithmetic alone: its inputs (the float32 Q values and targets) being the same numbers, its
 * constants GRAD_SCALE = f32(2/B or 1/B), SCALE_x = f32(2λ_x/B) and HUBER_DELTA = f32(δ) (pass a δ
 * that is a float32, or the twin's δ differs from the kernel's), by the rules above in the kernel's
 * order: δ_a = q_x[a] − q_0[a], their sum from 0 and / A, D_a = δ_a − mean, P = Σ D_a² from 0,
 * the centre Σ D_a / A, g = SCALE·(D_a − centre), and row b's slope·[a = a_b] − (g_1 + g_2).
 */
export function smoothnessStepBound(input: SmoothnessStepInput): SmoothnessStepBound {
  const { q, actionCount: A, actions, targets, weights } = input;
  const B = actions.length;
  const huber = (input.loss?.loss ?? "mse") === "huber";
  const delta = input.loss?.huberDelta ?? 1;
  const gradScale = constant(huber ? 1 / B : 2 / B);
  const scales = [constant((2 * weights.state) / B), constant((2 * weights.transition) / B)];
  const dq = new Float64Array(3 * B * A);
  const lossRows = new Float64Array(3 * B);
  for (let b = 0; b < B; b++) {
    const at = (r: number, a: number) => exact(q[r * A + a]);
    const loss = trackedResidualLoss(sub(at(b, actions[b]), exact(targets[b])), gradScale, huber, delta);
    // The largest |Q| of the row's three states: the scale of the twin's own float64 error.
    let largest = 0;
    for (const r of [b, B + b, 2 * B + b]) for (let a = 0; a < A; a++) largest = Math.max(largest, Math.abs(q[r * A + a]));
    const g: Tracked[][] = [];
    [B + b, 2 * B + b].forEach((r, x) => {
      const deltas = Array.from({ length: A }, (_, a) => sub(at(r, a), at(b, a)));
      const mean = div(
        deltas.reduce((sum, d) => add(sum, d), exact(0)),
        A,
      );
      const d = deltas.map((value) => sub(value, mean));
      const p = d.reduce((sum, value) => add(sum, mul(value, value)), exact(0));
      const centre = div(
        d.reduce((sum, value) => add(sum, value), exact(0)),
        A,
      );
      g.push(d.map((value) => mul(scales[x], sub(value, centre))));
      lossRows[r] = p.error + TWIN_SLACK * (1 + A * (4 * largest) ** 2);
    });
    lossRows[b] = loss.value.error + TWIN_SLACK * (1 + (largest + Math.abs(targets[b])) ** 2);
    const slopeScale = 1 + Math.abs(gradScale.value) * (largest + Math.abs(targets[b])) + (scales[0].value + scales[1].value) * 8 * largest;
    for (let a = 0; a < A; a++) {
      const taken = a === actions[b] ? loss.slope : exact(0);
      dq[b * A + a] = sub(taken, add(g[0][a], g[1][a])).error + TWIN_SLACK * slopeScale;
      dq[(B + b) * A + a] = g[0][a].error + TWIN_SLACK * slopeScale;
      dq[(2 * B + b) * A + a] = g[1][a].error + TWIN_SLACK * slopeScale;
    }
  }
  return { dq, lossRows };
}

// ── The state noise ε ──────────────────────────────────────────────────────────────────────────

/** θ's scale: the largest float32 below π (shaders/smoothness_states.wgsl's PI_BELOW). */
export const PI_BELOW = Math.fround(3.1415925);

/** The four Philox words of chunk j (inputs 4j … 4j + 3) of batch row `row` at step `step`. */
function noiseWords(seed: number | bigint, step: number | bigint, row: number, chunk: number): [number, number, number, number] {
  const [seedLo, seedHi] = splitU64(seed);
  const [stepLo, stepHi] = splitU64(step);
  return philox4x32([row >>> 0, stepLo, stepHi, (STREAM_STATE_NOISE + chunk) >>> 0], [seedLo, seedHi]);
}

/** One Box–Muller pair's exact values: r = √(−2 ln(1 − u)), θ = PI_BELOW (2v − 1). */
function boxMuller(radiusWord: number, angleWord: number): { r: number; theta: number } {
  const u = uniformFromPhilox(radiusWord);
  const v = uniformFromPhilox(angleWord);
  return { r: Math.sqrt(-2 * Math.log(1 - u)), theta: PI_BELOW * (2 * v - 1) };
}

/**
 * z of batch row `row` at gradient step `step` under `seed` (ε = σ z), `inputs` values: the exact
 * Box–Muller transform of the kernel's Philox words (inputs 4j … 4j + 3 from chunk j's words: r
 * and θ from words 0, 1, then words 2, 3; z = r cos θ, r sin θ). A pure function of (seed, step,
 * row): the batch size and the dispatch never enter.
 */
export function stateNoise(seed: number | bigint, step: number | bigint, row: number, inputs: number): Float64Array {
  const z = new Float64Array(inputs);
  for (let j = 0; 4 * j < inputs; j++) {
    const words = noiseWords(seed, step, row, j);
    for (let pair = 0; pair < 2; pair++) {
      const { r, theta } = boxMuller(words[2 * pair], words[2 * pair + 1]);
      const values = [r * Math.cos(theta), r * Math.sin(theta)];
      values.forEach((value, k) => {
        const i = 4 * j + 2 * pair + k;
        if (i < inputs) z[i] = value;
      });
    }
  }
  return z;
}

/**
 * The kernel's s + ε for batch row `row` (its state `state`), σ = f32(sigma) as the kernel's
 * SIGMA: the exact value s + σ z (z = stateNoise) and a bound on the kernel's float32 deviation,
 * by the rules above through log(1 − u) (1 − u exact), × −2 (exact), max(·, 0) (t ≥ 0 exactly, so
 * no larger), sqrt (√ moves by at most min(√e, e/√t) for an argument error e, + 10U), θ = f32(c·x)
 * with x = 2v − 1 exact (U|θ|), cos/sin (2^-11 + θ's error), r·cos θ, σ·z and s + σz.
 */
export function perturbedState(
  seed: number | bigint,
  step: number | bigint,
  row: number,
  state: ArrayLike<number>,
  sigma: number,
): { value: Float64Array; bound: Float64Array } {
  const inputs = state.length;
  const s = Math.fround(sigma);
  const z = stateNoise(seed, step, row, inputs);
  const value = Float64Array.from(z, (zi, i) => state[i] + s * zi);
  const bound = new Float64Array(inputs);
  for (let j = 0; 4 * j < inputs; j++) {
    const words = noiseWords(seed, step, row, j);
    for (let pair = 0; pair < 2; pair++) {
      const u = uniformFromPhilox(words[2 * pair]);
      const { r, theta } = boxMuller(words[2 * pair], words[2 * pair + 1]);
      const log = Math.log(1 - u);
      const logError = Math.max(2 ** -21, 3 * (2 ** -23 * Math.abs(log) + ULP_SUBNORMAL)) + TINY;
      const t = r * r;
      const tError = 2 * logError + TINY;
      const drift = t > 0 ? Math.min(Math.sqrt(tError), tError / Math.sqrt(t)) : Math.sqrt(tError);
      const radius: Tracked = { value: r, error: drift + 10 * U * (r + drift) + TINY };
      const thetaError = U * Math.abs(theta) + TINY;
      const trig = [Math.cos(theta), Math.sin(theta)];
      trig.forEach((value, k) => {
        const i = 4 * j + 2 * pair + k;
        if (i >= inputs) return;
        const zi = mul(radius, { value, error: 2 ** -11 + thetaError + TINY });
        const out = add(exact(state[i]), mul(exact(s), zi));
        bound[i] = out.error + TWIN_SLACK * (1 + Math.abs(state[i]) + Math.abs(s * zi.value));
      });
    }
  }
  return { value, bound };
}
