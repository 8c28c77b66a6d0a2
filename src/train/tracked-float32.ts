/**
 * Running error bounds of a kernel's float32 arithmetic, for the float64 twins that derive them
 * operation by operation in the kernel's order (src/train/targets-reference.ts,
 * mdpo-reference.ts, smoothness-reference.ts). Each quantity is carried as its exact value x
 * (computed in float64, whose own error the twins cover with TWIN_SLACK) and a bound e on |x̂ − x|,
 * x̂ the kernel's float32 value; each operation's rule gives the bound of its result from its
 * operands' (U = 2^-24, the unit roundoff; TINY = 2^-126, the smallest normal float32):
 *
 * - Flushing: WGSL may flush a subnormal operand or result to zero, moving it by less than TINY,
 *   so every operand's bound grows by TINY (e' = e + TINY) and every result's by TINY.
 * - x + y, x − y, x·y: correctly rounded (relative error ≤ U). |x̂'ŷ' − xy| ≤ |x|e'_y + |y|e'_x +
 *   e'_x e'_y, and the rounding adds U times the computed operation's magnitude, at most
 *   |exact| + the propagated error.
 * - x / y (y exact, normal): within 2.5 ULP, and an ULP of a value v is at most 2^-23 |v|
 *   (normal) or 2^-149 (subnormal), so at most 5U |x̂'/y| + 2.5 · 2^-149.
 * - max(x, y) and clamp(x, lo, hi) (lo, hi exact) are exact and 1-Lipschitz: max(e_x, e_y), e_x.
 * - exp(x): x̂ lies in [x − e', x + e'], so |exp x̂ − exp x| ≤ exp(x) expm1(e') (capped by
 *   exp(x + e'), keeping 0·∞ out), and the function adds at most (3 + 2|x̂|) ULP(exp x̂) ≤
 *   (3 + 2(|x| + e')) (2^-23 exp(x + e') + 2^-149).
 * - log(x), x > 0: with r = e'/x < 1/2, x̂ ∈ [x(1 − r), x(1 + r)], so |log x̂ − log x| ≤
 *   −log(1 − r); the function adds 2^-21 absolutely for x̂ in [0.5, 2] and 3 ULP ≤
 *   3 (2^-23 |log x̂| + 2^-149) elsewhere, |log x̂| ≤ max(|log(x(1 − r))|, |log(x(1 + r))|). With
 *   r ≥ 1/2 no useful bound is claimed (Infinity).
 *
 * Every rule bounds the worst case of its operation alone, so chained they bound the kernel's
 * result whatever the individual roundings were. A contracted a·b + c (fused multiply-add, which
 * WGSL allows) removes a rounding, which only shrinks the error the unfused rules bound.
 */

export const U = 2 ** -24;
export const TINY = 2 ** -126;
export const ULP_SUBNORMAL = 2 ** -149;
/** A float64 twin's own error relative to the magnitudes it adds: a few dozen float64 operations (2^-53 each). */
export const TWIN_SLACK = 2 ** -40;

/** An exact value and a bound on how far the kernel's float32 value of it may be. */
export interface Tracked {
  value: number;
  error: number;
}

/** A float32 input the kernel reads as it is (error 0 before flushing). */
export const exact = (value: number): Tracked => ({ value, error: 0 });

/** A float64 value the host rounds once to float32 for a kernel's uniform: at most U relative (and a flush). */
export const hostRounded = (value: number): Tracked => ({ value, error: U * Math.abs(value) + TINY });

/** A float32 constant the host rounds from `value`: its error is exactly the rounding's. */
export const constant = (value: number): Tracked => ({ value, error: Math.abs(Math.fround(value) - value) });

export function rounded(value: number, propagated: number, relative: number, absolute = 0): Tracked {
  return { value, error: propagated + relative * (Math.abs(value) + propagated) + absolute + TINY };
}

export function add(x: Tracked, y: Tracked): Tracked {
  return rounded(x.value + y.value, x.error + y.error + 2 * TINY, U);
}

export function sub(x: Tracked, y: Tracked): Tracked {
  return add(x, { value: -y.value, error: y.error });
}

export function mul(x: Tracked, y: Tracked): Tracked {
  const ex = x.error + TINY;
  const ey = y.error + TINY;
  return rounded(x.value * y.value, Math.abs(x.value) * ey + Math.abs(y.value) * ex + ex * ey, U);
}

/** x / y for an exact, normal float32 y. */
export function div(x: Tracked, y: number): Tracked {
  return rounded(x.value / y, (x.error + TINY) / Math.abs(y), 5 * U, 2.5 * ULP_SUBNORMAL);
}

export function max(x: Tracked, y: Tracked): Tracked {
  return { value: Math.max(x.value, y.value), error: Math.max(x.error, y.error) + TINY };
}

/** clamp(x, lo, hi) for exact lo ≤ hi. */
export function clamp(x: Tracked, lo: number, hi: number): Tracked {
  return { value: Math.min(hi, Math.max(lo, x.value)), error: x.error + TINY };
}

export function exp(x: Tracked): Tracked {
  const e = x.error + TINY;
  const value = Math.exp(x.value);
  const high = Math.exp(x.value + e);
  const drift = value === 0 ? high : Math.min(value * Math.expm1(e), high);
  const functionError = (3 + 2 * (Math.abs(x.value) + e)) * (2 ** -23 * high + ULP_SUBNORMAL);
  return { value, error: drift + functionError + TINY };
}

export function log(x: Tracked): Tracked {
  const r = (x.error + TINY) / x.value;
  if (!(x.value > 0 && r < 0.5)) return { value: Math.log(x.value), error: Infinity };
  const extreme = Math.max(Math.abs(Math.log(x.value * (1 - r))), Math.abs(Math.log(x.value * (1 + r))));
  const functionError = Math.max(2 ** -21, 3 * (2 ** -23 * extreme + ULP_SUBNORMAL));
  return { value: Math.log(x.value), error: -Math.log1p(-r) + functionError + TINY };
}
