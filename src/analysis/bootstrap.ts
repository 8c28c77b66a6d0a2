/**
 * A percentile-bootstrap confidence interval of a mean: how far the mean of a metric over a few
 * seeds could be from the mean over many, without assuming the seeds' values are normal (with 3 to
 * 10 seeds nothing can be assumed about their distribution; the bootstrap at least uses nothing
 * but the values themselves).
 *
 * The resampling draws from a seeded Philox stream (src/random/random-stream.ts), so an interval is
 * a function of the values, the options and the seed: the same table on every machine and rerun.
 */
import { StaqInputError } from "../errors.ts";
import { createRandomStream } from "../random/random-stream.ts";
import { checkSeed } from "../random/seed.ts";

export interface BootstrapOptions {
  /** How many resamples B to draw (default 10000); an integer from 1 to MAX_RESAMPLES. */
  resamples?: number;
  /** The interval's nominal coverage, in (0, 1) (default 0.95). */
  confidence?: number;
  /** Seed of the resampling stream, an integer >= 0 (default 0). */
  seed?: number;
}

export interface MeanInterval {
  /** The mean of the values. */
  mean: number;
  lower: number;
  upper: number;
}

export const DEFAULT_RESAMPLES = 10000;
export const DEFAULT_CONFIDENCE = 0.95;
/** Bounds the means kept in memory (8 bytes each) and the time spent. */
export const MAX_RESAMPLES = 10_000_000;

/**
 * The rounding slack of the percentile positions: (1 − 0.9)/2 · 100 is 4.999999999999999 in float64,
 * not 5; without it floor would pick the 4th mean where the decimal rule says the 5th.
 */
const POSITION_SLACK = 1e-9;

/**
 * The percentile interval of B sorted means m_0 ≤ … ≤ m_{B−1}: with α = 1 − confidence,
 * [m_⌊(α/2)(B−1)⌋, m_⌈(1−α/2)(B−1)⌉]. Floor below and ceiling above round the positions outwards,
 * so the interval is never narrower than the nominal one (the conservative side).
 */
export function percentileInterval(sortedMeans: ArrayLike<number>, confidence = DEFAULT_CONFIDENCE): [number, number] {
  checkConfidence(confidence);
  const b = sortedMeans.length;
  if (b === 0) throw new StaqInputError("a percentile interval needs at least one resampled mean");
  const alpha = 1 - confidence;
  const lower = Math.floor((alpha / 2) * (b - 1) + POSITION_SLACK);
  const upper = Math.ceil((1 - alpha / 2) * (b - 1) - POSITION_SLACK);
  return [sortedMeans[Math.max(0, lower)], sortedMeans[Math.min(b - 1, upper)]];
}

/**
 * The mean of `values` and a percentile-bootstrap interval of it. Resample b (b = 1 … B) draws n
 * indices i_1 … i_n, each `integer(n)` of createRandomStream(seed) in that order (resample 1's n
 * draws, then resample 2's, …), with replacement, and its mean is (1/n) Σ_k values[i_k]; the B
 * means are sorted and percentileInterval picks the bounds. n = 1 gives [x, x] (every resample is
 * the value itself), and so do n equal values. Deterministic for given values, options and seed.
 */
export function bootstrapMeanInterval(values: ArrayLike<number>, options: BootstrapOptions = {}): MeanInterval {
  const { resamples, confidence, stream } = checkedOptions(options, [values]);
  const n = values.length;
  const mean = meanOf(values);
  // One value: every resample is that value, and so is the interval (no draws needed).
  if (n === 1) return { mean, lower: values[0], upper: values[0] };

  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) means[b] = resampledMean(values, stream);
  means.sort();
  const [lower, upper] = percentileInterval(means, confidence);
  return { mean, lower, upper };
}

export interface DifferenceInterval {
  /** mean(a) − mean(b). */
  difference: number;
  lower: number;
  upper: number;
}

/**
 * The difference of two groups' means, mean(a) − mean(b), and a percentile-bootstrap interval of
 * it, for two independent groups (two settings' seeds): resample b (b = 1 … B) draws n indices into
 * `a` and then m into `b` (each `integer(n)`, then `integer(m)`, of createRandomStream(seed), in
 * that order), with replacement, and takes the difference of the two resampled means; the B
 * differences are sorted and percentileInterval picks the bounds. An interval that excludes 0 says
 * the groups differ at that confidence, as far as a few seeds can say.
 */
export function bootstrapDifferenceInterval(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: BootstrapOptions = {},
): DifferenceInterval {
  const { resamples, confidence, stream } = checkedOptions(options, [a, b]);
  const difference = meanOf(a) - meanOf(b);
  // One value each: every resample is the same difference (no draws needed).
  if (a.length === 1 && b.length === 1) return { difference, lower: difference, upper: difference };
  const differences = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) differences[r] = resampledMean(a, stream) - resampledMean(b, stream);
  differences.sort();
  const [lower, upper] = percentileInterval(differences, confidence);
  return { difference, lower, upper };
}

function meanOf(values: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < values.length; k++) sum += values[k];
  return sum / values.length;
}

/** The mean of one resample of `values`: n draws with replacement from the stream. */
function resampledMean(values: ArrayLike<number>, stream: ReturnType<typeof createRandomStream>): number {
  const n = values.length;
  let total = 0;
  for (let k = 0; k < n; k++) total += values[stream.integer(n)];
  return total / n;
}

/** Checks the value arrays and the options; then the seed, whose stream is created last. */
function checkedOptions(options: BootstrapOptions, groups: readonly ArrayLike<number>[]) {
  const { resamples = DEFAULT_RESAMPLES, confidence = DEFAULT_CONFIDENCE, seed = 0 } = options;
  groups.forEach((values, g) => {
    const which = groups.length > 1 ? `group ${g === 0 ? "a" : "b"}: ` : "";
    const n = (values as { length?: unknown } | null | undefined)?.length;
    if (typeof n !== "number" || !Number.isInteger(n))
      throw new StaqInputError(`${which}the bootstrap's values must be an array of numbers`);
    if (n === 0) throw new StaqInputError(`${which}a bootstrap interval of a mean needs at least one value; got none`);
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new StaqInputError(`${which}value ${k} is ${String(v)}; a bootstrap interval needs finite numbers`);
    }
  });
  if (!(Number.isSafeInteger(resamples) && resamples >= 1 && resamples <= MAX_RESAMPLES))
    throw new StaqInputError(`the bootstrap's resamples must be an integer from 1 to ${MAX_RESAMPLES}; got ${resamples}`);
  checkConfidence(confidence);
  checkSeed("the bootstrap", seed);
  return { resamples, confidence, stream: createRandomStream(seed) };
}

function checkConfidence(confidence: number): void {
  if (!(typeof confidence === "number" && confidence > 0 && confidence < 1))
    throw new StaqInputError(`the confidence level must be a number between 0 and 1 (e.g. 0.95); got ${confidence}`);
}
