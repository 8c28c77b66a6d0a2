/**
 * Dense linear solve in float64: LU factorisation with partial pivoting (Gaussian elimination,
 * row-major, the inner loop over contiguous rows). Backward stable in practice, which is what the
 * exact policy evaluation needs: the matrices there, I − γP_π, are diagonally dominant with an
 * ∞-norm condition number at most (1+γ)/(1−γ).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { firstNonFinite } from "./overflow.ts";

/** Solves A x = b for x. `matrix` is row-major n×n and is not modified. */
export function solveLinearSystem(matrix: Float64Array, rhs: Float64Array, n: number): Float64Array {
  if (!(Number.isInteger(n) && n >= 1)) throw new StaqInputError(`the system size must be an integer >= 1; got ${describeValue(n)}`);
  if (!(matrix instanceof Float64Array))
    throw new StaqInputError(`the matrix must be a Float64Array, row-major n×n; got ${describeValue(matrix)}`);
  if (!(rhs instanceof Float64Array))
    throw new StaqInputError(`the right-hand side must be a Float64Array of n entries; got ${describeValue(rhs)}`);
  if (matrix.length !== n * n) throw new StaqInputError(`the matrix has ${matrix.length} entries; an ${n}×${n} system needs ${n * n}`);
  if (rhs.length !== n) throw new StaqInputError(`the right-hand side has ${rhs.length} entries; an ${n}×${n} system needs ${n}`);
  // O(n²) against the O(n³) solve: a NaN or ±Infinity would spread through the elimination unnoticed.
  for (const [values, name] of [
    [matrix, "the matrix"],
    [rhs, "the right-hand side"],
  ] as const) {
    const bad = firstNonFinite(values);
    if (bad >= 0) throw new StaqInputError(`entry ${bad} of ${name} is ${values[bad]}; a linear system needs finite numbers`);
  }
  const a = Float64Array.from(matrix);
  const x = Float64Array.from(rhs);
  for (let k = 0; k < n; k++) {
    let pivot = k;
    let largest = Math.abs(a[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const size = Math.abs(a[i * n + k]);
      if (size > largest) {
        largest = size;
        pivot = i;
      }
    }
    if (!(largest > 0))
      throw new StaqInputError(`the matrix is singular (no non-zero pivot in column ${k}), so the system has no unique solution`);
    if (pivot !== k) {
      const rowK = a.slice(k * n, (k + 1) * n);
      a.copyWithin(k * n, pivot * n, (pivot + 1) * n);
      a.set(rowK, pivot * n);
      const swap = x[k];
      x[k] = x[pivot];
      x[pivot] = swap;
    }
    const diagonal = a[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const factor = a[i * n + k] / diagonal;
      if (factor === 0) continue;
      const rowI = i * n;
      const rowK = k * n;
      for (let j = k + 1; j < n; j++) a[rowI + j] -= factor * a[rowK + j];
      x[i] -= factor * x[k];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let sum = x[i];
    const row = i * n;
    for (let j = i + 1; j < n; j++) sum -= a[row + j] * x[j];
    x[i] = sum / a[row + i];
  }
  return x;
}
