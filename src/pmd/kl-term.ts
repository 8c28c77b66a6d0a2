/**
 * One action's term of KL(p ‖ q), written so that it is never negative: p log(p/q) − p + q.
 * Summed over a row whose p and q each sum to one it is the KL; Σ p log(p/q) alone has terms of
 * both signs, and for two nearly equal policies their rounding left a negative divergence (−5e-16
 * for identical policies). Each term is ≥ 0 in exact arithmetic (x log(x/y) ≥ x − y), so one that
 * rounds below 0 is the 0 it is within rounding. `logRatio` is log p − log q, from whichever form the
 * caller holds; p = 0 contributes q.
 */
export function klTerm(p: number, q: number, logRatio: number): number {
  const term = p > 0 ? p * logRatio - p + q : q;
  return term > 0 ? term : 0;
}
