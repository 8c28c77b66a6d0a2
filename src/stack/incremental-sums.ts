/**
 * The stack's raw sums updated per push instead of recomputed (docs/algorithm.md, “Incremental
 * logits”). The raw sum of a state is
 *     S(s) = mean_e Σ_i c[e,i] · Q_{e,i}(s),      ξ(s) = correction · S(s),
 * and `pmdStep` (drop the oldest coefficient as it is, scale the kept ones by β, append α) turns it into
 *     S_{k+1}(s) = β_k · (S_k(s) − mean_e c[e,oldest] · Q_{e,oldest}(s)) + α_k · mean_e Q_{e,new}(s),
 * where c[e,oldest] is the leaving snapshot's coefficient *before* the push (the dropped term is
 * absent while the ring is not full). Two snapshot evaluations per state instead of E·M.
 *
 * `incrementalSumUpdate` is the float64 reference; `incrementalSumUpdateF32` rounds to float32 after
 * every operation, in the order a kernel uses, and carries the bound on its distance from the exact
 * sums: each push multiplies the accumulated error by β_k and adds at most
 *     δ_k = γ_{2E+5} · (β_k |Ŝ_k| + β_k · mean_e |c[e,oldest] Q_{e,oldest}| + α_k · mean_e |Q_{e,new}|) + (8E + 4) · 2^-126
 * per element, so the error stays below max_k δ_k / (1 − max_k β_k).
 *
 * Arrays are [batch · actions], one element per (state, action); every element is independent.
 */
import { StaqInputError } from "../errors.ts";
import { F32_MIN_NORMAL, gammaBound } from "./reference.ts";

export interface IncrementalPush {
  /** α_k = 1/(η+τ_k), the new snapshot's coefficient. */
  alpha: number;
  /** β_k = η/(η+τ_k), the factor on every kept coefficient. */
  beta: number;
  /** [member] → [batch · actions]: Q_{e,new}(s, a) of the snapshot pushed now. */
  entering: readonly ArrayLike<number>[];
  /** The snapshot that leaves the ring, absent while the ring is not full. */
  leaving?: {
    /** [member] → [batch · actions]: Q_{e,oldest}(s, a). */
    q: readonly ArrayLike<number>[];
    /** [member]: c[e,oldest] before the push (as stored, not yet scaled by β). */
    coefficients: ArrayLike<number>;
  };
}

function checkShapes(sums: ArrayLike<number>, push: IncrementalPush): number {
  const members = push.entering.length;
  if (members < 1) throw new StaqInputError("a push needs the entering snapshot of at least one member");
  const rows = [...push.entering, ...(push.leaving?.q ?? [])];
  if (push.leaving && (push.leaving.q.length !== members || push.leaving.coefficients.length !== members)) {
    throw new StaqInputError(
      `the leaving snapshot has ${push.leaving.q.length} members and ${push.leaving.coefficients.length} coefficients; expected ${members}`,
    );
  }
  for (const q of rows) {
    if (q.length !== sums.length) throw new StaqInputError(`a Q array has ${q.length} values; the sums have ${sums.length}`);
  }
  return members;
}

/** float64: S_{k+1} = β (S_k − mean_e c_{e,old} Q_{e,old}) + α mean_e Q_{e,new}, elementwise. */
export function incrementalSumUpdate(sums: ArrayLike<number>, push: IncrementalPush): Float64Array {
  const members = checkShapes(sums, push);
  const { alpha, beta, entering, leaving } = push;
  const next = new Float64Array(sums.length);
  for (let j = 0; j < sums.length; j++) {
    let dropped = 0;
    let fresh = 0;
    for (let e = 0; e < members; e++) {
      if (leaving) dropped += leaving.coefficients[e] * leaving.q[e][j];
      fresh += entering[e][j];
    }
    next[j] = beta * (sums[j] - dropped / members) + alpha * (fresh / members);
  }
  return next;
}

export interface IncrementalSumsF32 {
  /** Ŝ_{k+1}, float32. */
  sums: Float32Array;
  /** Per element, a bound on |Ŝ_{k+1} − S_{k+1}| (S the exact sums); β_k · previous bound + δ_k. */
  bound: Float64Array;
}

/** Roundings any term of the float32 update passes through (docs/algorithm.md, “Incremental logits”). */
export function incrementalRoundings(members: number): number {
  return 2 * members + 5;
}

/**
 * The float32 update as a kernel does it, rounding after every operation:
 *     t ← Ŝ;  for e: t ← t − fl(fl(c_e/E) · fl(Q_{e,old}));  t ← fl(β) · t;  for e: t ← t + fl(fl(α/E) · fl(Q_{e,new})).
 * `previousBound` bounds |Ŝ_k − S_k| (zeros for sums that start exact, e.g. an empty stack).
 */
export function incrementalSumUpdateF32(sums: Float32Array, push: IncrementalPush, previousBound?: ArrayLike<number>): IncrementalSumsF32 {
  const members = checkShapes(sums, push);
  const f = Math.fround;
  const { alpha, beta, entering, leaving } = push;
  const betaF = f(beta);
  const alphaF = f(alpha / members);
  const dropF = leaving ? Array.from(leaving.coefficients, (c) => f(c / members)) : [];
  const gamma = gammaBound(incrementalRoundings(members));
  // An underflowing operation errs by an absolute amount below 2^-126 (flushed) instead of relatively;
  // the update has 7E + 3 operations, each such error is carried by at most (1 + γ).
  const tiny = (8 * members + 4) * F32_MIN_NORMAL;
  const next = new Float32Array(sums.length);
  const bound = new Float64Array(sums.length);
  for (let j = 0; j < sums.length; j++) {
    let t = sums[j];
    let droppedMagnitude = 0;
    let freshMagnitude = 0;
    if (leaving) {
      for (let e = 0; e < members; e++) {
        t = f(t - f(dropF[e] * f(leaving.q[e][j])));
        droppedMagnitude += Math.abs(leaving.coefficients[e] * leaving.q[e][j]);
      }
    }
    t = f(betaF * t);
    for (let e = 0; e < members; e++) {
      t = f(t + f(alphaF * f(entering[e][j])));
      freshMagnitude += Math.abs(entering[e][j]);
    }
    next[j] = t;
    const local = gamma * (beta * Math.abs(sums[j]) + (beta * droppedMagnitude + alpha * freshMagnitude) / members) + tiny;
    bound[j] = beta * (previousBound?.[j] ?? 0) + local;
  }
  return { sums: next, bound };
}
