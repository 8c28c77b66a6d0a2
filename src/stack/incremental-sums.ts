/**
 * The stack's raw sums updated per push instead of recomputed (docs/algorithm.md, “Incremental
 * logits”). The raw sum of a state is
 *     S(s) = mean_e Σ_i c[e,i] · Q_{e,i}(s),      ξ(s) = correction · S(s),
 * and `pmdStep` (drop the oldest coefficient as it is, scale the kept ones by β, append α) turns it into
 *     S_{k+1}(s) = β_k · (S_k(s) − D_k(s)) + N_k(s),
 *     D_k = mean_e c[e,oldest] · Q_{e,oldest},   N_k = α_k · mean_e Q_{e,new},
 * where c[e,oldest] is the leaving snapshot's coefficient *before* the push (D is absent while the
 * ring is not full). Two snapshot evaluations per state instead of E·M.
 *
 * `incrementalSumUpdate` is the float64 reference. `incrementalSumUpdateF32` rounds to float32 in
 * the order the GPU uses (D and N as two stack evaluations of one slot, then
 * shaders/incremental_sums.wgsl: Ŝ ← fl(β)·(Ŝ − D̂) + N̂) and carries the bound on its distance from
 * the exact sums, `pushErrorBound`: each push multiplies the accumulated error by β_k(1 + γ_4) and
 * adds the errors of D̂ and N̂ and a few roundings of what the update touches, so it stays bounded.
 *
 * Arrays are [batch · actions], one element per (state, action); every element is independent.
 */
import { StaqInputError } from "../errors.ts";
import { F32_MIN_NORMAL, F32_UNIT_ROUNDOFF, gammaBound } from "./reference.ts";

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
  /** Per element, a bound on |Ŝ_{k+1} − S_{k+1}| (S the exact sums), from `pushErrorBound`. */
  bound: Float64Array;
}

/** What one push's update is made of, per element, for `pushErrorBound`. */
export interface PushErrorTerms {
  beta: number;
  /** A bound on |Ŝ_k − S_k| before the push. */
  previous: number;
  /** An upper bound on |S_k − D_k| (exact quantities). */
  kept: number;
  /** A bound on |D̂ − D|, the computed dropped term's error (0 when nothing is dropped). */
  droppedError: number;
  /** An upper bound on |N_k|. */
  fresh: number;
  /** A bound on |N̂ − N|. */
  freshError: number;
}

/**
 * The bound on |Ŝ_{k+1} − S_{k+1}| after one update Ŝ_{k+1} = fl(fl(fl(β)·fl(Ŝ_k − D̂)) + N̂)
 * (docs/algorithm.md, “Incremental logits”): fl(β), the subtraction, the product and the addition
 * are four roundings, |θ| ≤ γ_4 on the kept part and u on N̂, so
 *     β(1 + γ_4)(B_k + |D̂ − D|) + γ_4 β |S_k − D_k| + (1 + u)|N̂ − N| + u |N_k| + 4 · 2^-126
 * (the last term for the three operations that may underflow, WGSL allowing a flush to zero).
 * A compiler that fuses the product and the addition only removes a rounding.
 */
export function pushErrorBound(t: PushErrorTerms): number {
  const g4 = gammaBound(4);
  return (
    t.beta * (1 + g4) * (t.previous + t.droppedError) +
    g4 * t.beta * t.kept +
    (1 + F32_UNIT_ROUNDOFF) * t.freshError +
    F32_UNIT_ROUNDOFF * t.fresh +
    4 * F32_MIN_NORMAL
  );
}

/**
 * The error bound of a float32 sum Σ_e fl(fl(w_e) · fl(q_e)) of E terms given in float64, added in
 * member order: each term passes through the rounding of its weight, of q, the product and at most
 * E − 1 additions (E + 2), and each of the 3E operations may underflow.
 */
function memberSumError(magnitude: number, members: number): number {
  return gammaBound(members + 2) * magnitude + 3 * members * F32_MIN_NORMAL;
}

/**
 * The float32 update in the GPU's order, rounding after every operation:
 *     D̂ = Σ_e fl(fl(c_e/E) · fl(Q_{e,old}));  N̂ = Σ_e fl(fl(α/E) · fl(Q_{e,new}));  Ŝ ← fl(fl(fl(β)·fl(Ŝ − D̂)) + N̂).
 * `previousBound` bounds |Ŝ_k − S_k| (zeros for sums that start exact, e.g. an empty stack).
 */
export function incrementalSumUpdateF32(sums: Float32Array, push: IncrementalPush, previousBound?: ArrayLike<number>): IncrementalSumsF32 {
  const members = checkShapes(sums, push);
  const f = Math.fround;
  const { alpha, beta, entering, leaving } = push;
  const betaF = f(beta);
  const alphaF = f(alpha / members);
  const dropF = leaving ? Array.from(leaving.coefficients, (c) => f(c / members)) : [];
  const next = new Float32Array(sums.length);
  const bound = new Float64Array(sums.length);
  for (let j = 0; j < sums.length; j++) {
    let dropped = 0;
    let droppedMagnitude = 0;
    if (leaving) {
      for (let e = 0; e < members; e++) {
        const term = f(dropF[e] * f(leaving.q[e][j]));
        dropped = e === 0 ? term : f(dropped + term);
        droppedMagnitude += Math.abs(leaving.coefficients[e] * leaving.q[e][j]) / members;
      }
    }
    let fresh = 0;
    let freshMagnitude = 0;
    for (let e = 0; e < members; e++) {
      const term = f(alphaF * f(entering[e][j]));
      fresh = e === 0 ? term : f(fresh + term);
      freshMagnitude += (alpha * Math.abs(entering[e][j])) / members;
    }
    next[j] = f(f(betaF * f(sums[j] - dropped)) + fresh);
    const previous = previousBound?.[j] ?? 0;
    const droppedError = leaving ? memberSumError(droppedMagnitude, members) : 0;
    const freshError = memberSumError(freshMagnitude, members);
    bound[j] = pushErrorBound({
      beta,
      previous,
      // |S − D| ≤ |Ŝ − D̂| + |Ŝ − S| + |D̂ − D|, and |N| ≤ |N̂| + |N̂ − N|: the twin knows only computed values.
      kept: Math.abs(sums[j] - dropped) + previous + droppedError,
      droppedError,
      fresh: Math.abs(fresh) + freshError,
      freshError,
    });
  }
  return { sums: next, bound };
}
