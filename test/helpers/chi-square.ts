// Pearson's chi-square goodness-of-fit test, with the p-value from the regularised upper incomplete
// gamma function Q(s, x) = Γ(s, x) / Γ(s): P(χ²_k ≥ X) = Q(k/2, X/2).
//
// Chi-square statistics only ever need s = k/2, a positive multiple of 1/2, so log Γ(s) is computed
// exactly by recursion from Γ(1) = 1 and Γ(1/2) = √π instead of with a general approximation.
// Q itself uses the two classic expansions (e.g. Press et al., Numerical Recipes §6.2): the series
// of the lower function P = 1 − Q for x < s + 1, where it converges fast, and Legendre's continued
// fraction for Q (evaluated with the modified Lentz method) for x ≥ s + 1.

/** log Γ(s) for s a positive multiple of 1/2. */
export function logGammaHalfInteger(s: number): number {
  if (!(s > 0 && Number.isInteger(2 * s))) throw new RangeError(`logGammaHalfInteger needs a positive multiple of 1/2; got ${s}`);
  // Γ(s) = (s − 1)(s − 2)… down to Γ(1) or Γ(1/2).
  let value = Number.isInteger(s) ? 0 : 0.5 * Math.log(Math.PI);
  for (let t = s - 1; t > 0; t -= 1) value += Math.log(t);
  return value;
}

const ITERATIONS = 10_000;
const EPS = 1e-16;

/** The regularised upper incomplete gamma function Q(s, x), for s a positive multiple of 1/2 and x ≥ 0. */
export function regularizedGammaQ(s: number, x: number): number {
  if (!(x >= 0)) throw new RangeError(`regularizedGammaQ needs x ≥ 0; got ${x}`);
  if (x === 0) return 1;
  const logPrefix = s * Math.log(x) - x - logGammaHalfInteger(s); // log(x^s e^-x / Γ(s))
  if (x < s + 1) {
    // P(s, x) = x^s e^-x / Γ(s + 1) · Σ_n x^n / ((s + 1)…(s + n))
    let term = 1 / s;
    let sum = term;
    for (let n = 1; n < ITERATIONS; n++) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(logPrefix);
  }
  // Q(s, x) = x^s e^-x / Γ(s) · 1/(x + 1 − s − 1·(1 − s)/(x + 3 − s − 2·(2 − s)/(x + 5 − s − …)))
  const floor = 1e-300;
  let b = x + 1 - s;
  let c = 1 / floor;
  let d = 1 / b;
  let h = d;
  for (let n = 1; n < ITERATIONS; n++) {
    const an = -n * (n - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < floor) d = floor;
    c = b + an / c;
    if (Math.abs(c) < floor) c = floor;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(logPrefix) * h;
}

/** P(χ²_df ≥ statistic). */
export function chiSquarePValue(statistic: number, degreesOfFreedom: number): number {
  return regularizedGammaQ(degreesOfFreedom / 2, statistic / 2);
}

/**
 * Pearson's X² = Σ (observed − n·p)² / (n·p) of `counts` against `probabilities` (which must sum
 * to 1 and be positive wherever a count is), and its degrees of freedom (cells − 1).
 */
export function chiSquareStatistic(
  counts: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): { statistic: number; degreesOfFreedom: number } {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) {
    const expected = n * probabilities[i];
    statistic += (counts[i] - expected) ** 2 / expected;
  }
  return { statistic, degreesOfFreedom: counts.length - 1 };
}
