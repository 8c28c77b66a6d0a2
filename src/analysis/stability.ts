/**
 * Stability metrics of one training run: numbers that say how well and how steadily a run's greedy
 * evaluation return grew, so runs (seeds, algorithms, settings) can be compared in a table rather
 * than by eye on overlaid curves. docs/stability.md defines each one, says why, and what it misses.
 *
 * Every function is pure and reads one run's evaluation sequence: environment steps
 * x_1 < x_2 < … < x_n at which the policy was evaluated and the returns R_1 … R_n measured there
 * (n ≥ 1). Indices below are 1-based as in the formulas; the arrays are 0-based. A sequence that is
 * empty, holds a value that is not a finite number, or whose steps do not increase strictly is a
 * StaqInputError: a metric of such a run would be NaN or depend on the order records were read in.
 */
import { StaqInputError } from "../errors.ts";

/** One run's evaluations: the steps (strictly increasing) and the return at each. */
export interface EvaluationPoints {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** The five metrics of one run (see each function for its formula). */
export interface StabilityMetrics {
  finalReturn: number;
  normalizedArea: number;
  meanDrop: number;
  movingAverageDeviation: number;
  belowBestFraction: number;
}

/** The metrics' names, in the order tables and files list them. */
export const STABILITY_METRICS = ["finalReturn", "normalizedArea", "meanDrop", "movingAverageDeviation", "belowBestFraction"] as const;

/** Each metric's column name in tables (`staq compare`, the study's tables). */
export const STABILITY_COLUMNS: Readonly<Record<keyof StabilityMetrics, string>> = {
  finalReturn: "final",
  normalizedArea: "area",
  meanDrop: "drop",
  movingAverageDeviation: "deviation",
  belowBestFraction: "below best",
};

/** The window of movingAverageDeviation and the fraction of belowBestFraction that stabilityMetrics uses. */
export const DEFAULT_WINDOW = 5;
export const DEFAULT_BELOW_BEST_FRACTION = 0.1;

function checkReturns(returns: ArrayLike<number>): void {
  const n = (returns as { length?: unknown } | null | undefined)?.length;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new StaqInputError("the returns must be an array of numbers");
  if (n === 0) throw new StaqInputError("a stability metric needs at least one evaluation; the run has none");
  for (let t = 0; t < n; t++) {
    const r = returns[t];
    if (typeof r !== "number" || !Number.isFinite(r))
      throw new StaqInputError(`return ${t} is ${String(r)}; every return must be a finite number`);
  }
}

function checkPoints({ x, y }: EvaluationPoints): void {
  checkReturns(y);
  const n = (x as { length?: unknown } | null | undefined)?.length;
  if (n !== y.length) throw new StaqInputError(`the run has ${String(n)} steps but ${y.length} returns; give one step per return`);
  for (let t = 0; t < y.length; t++) {
    const v = x[t];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new StaqInputError(`step ${t} is ${String(v)}; every step must be a finite number`);
    // Two evaluations at one step (or out of order) leave the area, the drops and the running best
    // dependent on which record was read first: refused rather than guessed.
    if (t > 0 && !(v > x[t - 1]))
      throw new StaqInputError(
        `the steps must increase strictly; step ${t} is ${v}, after ${x[t - 1]} (sort the evaluations, drop repeats)`,
      );
  }
}

/** R_n: the return of the last evaluation, what a run ends with. */
export function finalReturn(returns: ArrayLike<number>): number {
  checkReturns(returns);
  return returns[returns.length - 1];
}

/**
 * The time-average return: (1 / (x_n − x_1)) Σ_{t=1}^{n−1} (x_{t+1} − x_t)(R_t + R_{t+1}) / 2, the
 * trapezoidal area under R against the steps divided by the steps it spans; R_1 when n = 1.
 *
 * Why divided by the span: the raw area grows with the length of the run, so a run of 100k steps
 * would "beat" a better run of 50k. Divided, it is in units of return (a weighted mean of R, between
 * min R and max R) and runs of different lengths, or evaluated at different steps, compare. It
 * rewards learning early as well as learning well, which the final return alone does not.
 */
export function normalizedArea(points: EvaluationPoints): number {
  checkPoints(points);
  const { x, y } = points;
  const n = y.length;
  if (n === 1) return y[0];
  let area = 0;
  for (let t = 0; t + 1 < n; t++) area += ((x[t + 1] - x[t]) * (y[t] + y[t + 1])) / 2;
  return area / (x[n - 1] - x[0]);
}

/**
 * The mean fall between consecutive evaluations: (1/(n−1)) Σ_{t=1}^{n−1} max(0, R_t − R_{t+1});
 * 0 when n = 1. Rises count as 0, so a run that collapses and recovers is not excused by its
 * recovery: 0 exactly when R never decreases. It is per evaluation interval, so it depends on how
 * often the run was evaluated (compare runs with the same evalEvery).
 */
export function meanDrop(returns: ArrayLike<number>): number {
  checkReturns(returns);
  const n = returns.length;
  if (n === 1) return 0;
  let total = 0;
  for (let t = 0; t + 1 < n; t++) total += Math.max(0, returns[t] - returns[t + 1]);
  return total / (n - 1);
}

/**
 * The root-mean-square distance of R from its centred moving average:
 * sqrt((1/n) Σ_{t=1}^{n} (R_t − m_t)²), where m_t is the mean of R_s over |s − t| ≤ h, h = ⌊window/2⌋,
 * s clipped to [1, n] (so the window is shorter at the ends, never padded). `window` must be an odd
 * integer ≥ 1; window 1 gives 0. The moving average stands for the trend of the curve, so this is
 * its jitter around the trend, whichever way the trend goes: a steady climb scores near 0, a curve
 * that zig-zags between evaluations scores high.
 */
export function movingAverageDeviation(returns: ArrayLike<number>, window = DEFAULT_WINDOW): number {
  checkReturns(returns);
  if (!(Number.isSafeInteger(window) && window >= 1 && window % 2 === 1))
    throw new StaqInputError(`the moving-average window must be an odd integer >= 1 (centred on each evaluation); got ${window}`);
  const n = returns.length;
  const h = Math.floor(window / 2);
  let squares = 0;
  for (let t = 0; t < n; t++) {
    const from = Math.max(0, t - h);
    const to = Math.min(n - 1, t + h);
    let sum = 0;
    for (let s = from; s <= to; s++) sum += returns[s];
    squares += (returns[t] - sum / (to - from + 1)) ** 2;
  }
  return Math.sqrt(squares / n);
}

/**
 * The fraction of evaluations well below the best the run had reached by then:
 * #{t : R_t < best_t − fraction · range} / n, where best_t = max_{s ≤ t} R_s and
 * range = max R − min R; 0 when range = 0 (a constant run never fell). `fraction` is a finite
 * number ≥ 0. Measured against the run's own range so that it does not depend on the scale of the
 * rewards (scaling R by c > 0 leaves it unchanged) and a small wobble at the top does not count. It
 * says how much of the run was spent below a level already reached: forgetting.
 */
export function belowBestFraction(returns: ArrayLike<number>, fraction = DEFAULT_BELOW_BEST_FRACTION): number {
  checkReturns(returns);
  if (!(typeof fraction === "number" && Number.isFinite(fraction) && fraction >= 0))
    throw new StaqInputError(`the below-best fraction must be a finite number >= 0 (of the run's range); got ${fraction}`);
  const n = returns.length;
  let min = Infinity;
  let max = -Infinity;
  for (let t = 0; t < n; t++) {
    min = Math.min(min, returns[t]);
    max = Math.max(max, returns[t]);
  }
  const range = max - min;
  if (range === 0) return 0;
  const gap = fraction * range;
  let best = -Infinity;
  let below = 0;
  for (let t = 0; t < n; t++) {
    best = Math.max(best, returns[t]);
    if (returns[t] < best - gap) below++;
  }
  return below / n;
}

/** All five metrics of one run, with the default window (5) and fraction (0.1). */
export function stabilityMetrics(points: EvaluationPoints): StabilityMetrics {
  checkPoints(points);
  return {
    finalReturn: finalReturn(points.y),
    normalizedArea: normalizedArea(points),
    meanDrop: meanDrop(points.y),
    movingAverageDeviation: movingAverageDeviation(points.y),
    belowBestFraction: belowBestFraction(points.y),
  };
}
