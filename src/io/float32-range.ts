/**
 * Whether a setting survives the trip to a float32 kernel. staq's GPU code computes in float32:
 * a magnitude below the smallest normal float32 becomes 0, or a subnormal that WGSL lets the GPU
 * flush to 0 (an lr of 1e-50 trains nothing, silently); one above the largest becomes Infinity.
 * The config table and `staq fit` refuse such values with the reason this gives.
 */

/** The smallest normal float32, 2^-126 (about 1.2e-38). */
export const F32_MIN_NORMAL = 2 ** -126;
/** The largest finite float32 (about 3.4e38). */
export const F32_MAX = (2 - 2 ** -23) * 2 ** 127;

/** Why `value` would not reach a float32 kernel as itself (0 does), or undefined when it does. */
export function float32Problem(value: number): string | undefined {
  const magnitude = Math.abs(value);
  if (magnitude === 0 || (magnitude >= F32_MIN_NORMAL && magnitude <= F32_MAX)) return undefined;
  const range = `float32's normal range, [${F32_MIN_NORMAL.toPrecision(8)}, ${F32_MAX.toPrecision(8)}] in magnitude`;
  const fate = magnitude < F32_MIN_NORMAL ? "0 (or flushed to 0)" : "Infinity";
  return `is outside ${range} (staq computes in float32 on the GPU); there it is ${fate}, so use a value in that range`;
}
