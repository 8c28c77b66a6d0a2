/**
 * The float64 reference of every policy quantity shaders/policy.wgsl computes, and bounds on how
 * far the kernel's float32 results may be from it.
 *
 * The reference takes the float32 logits the GPU sees (as doubles, exactly) and computes in
 * float64, whose own error (a few units of 2^-53) is far below the float32 bounds; the bounds add
 * REFERENCE_SLACK for it.
 *
 * ## Where the bounds come from
 *
 * The kernel evaluates, per row, in float32 and in this order:
 *
 *     g = argmax l (exact: it compares bit patterns)   m = l[g]
 *     d_a = l_a − m        e_a = exp(d_a)        z = e_0 + e_1 + … (left to right)
 *     p_a = e_a / z        L = log(z)            logp_a = d_a − L
 *     H = −Σ_a p_a·logp_a (left to right)         b_a = k·w_a + s  (k = f32(1 − ε), s = f32(ε/A))
 *     c_a = c_{a−1} + b_a  (the CDF the sample is drawn from)
 *
 * where the behaviour kind picks the weights: w_a = p_a for "softmax" (the ε-softmax), and
 * w_a = [a = g] for "greedy" (ε-greedy, exact 0s and 1s since g is exact).
 *
 * WGSL's accuracy rules for f32 (WGSL spec, "Floating Point Accuracy"): + − × are correctly
 * rounded (relative error ≤ U = 2^-24); exp(x) is within 3 + 2|x| ULP; x / y within 2.5 ULP;
 * log(x) within 2^-21 absolutely for x in [0.5, 2] and 3 ULP elsewhere; any subnormal operand or
 * result may be flushed to zero (an absolute error below TINY = 2^-126 per operation); a·b + c may
 * or may not be fused (fusing only removes a rounding, so the unfused bound covers both). One ULP
 * of a value v is at most 2^-23·|v| for normal v and 2^-149 below.
 *
 * Following each value through (hat = the kernel's float32 value, no hat = exact):
 *
 * - d̂_a − d_a: one rounding plus two possibly flushed operands and a possibly flushed result:
 *   ed_a = U(|d_a| + 2·TINY) + 3·TINY ≤ U|d_a| + 4·TINY.
 * - ê_a: exp of d̂_a lies in exp([d_a − ed_a, d_a + ed_a]); the function adds at most
 *   (3 + 2|d̂_a|)·ULP(exp d̂_a) and a flushed subnormal result loses at most TINY, so
 *   |ê_a − e_a| ≤ e_a·expm1(ed_a) + (3 + 2(|d_a| + ed_a))·(2^-23·exp(d_a + ed_a) + 2^-149) + TINY.
 * - ẑ: recursive summation of A non-negative terms adds at most γ_{A−1}·Σ ê_a (Higham, Accuracy
 *   and Stability of Numerical Algorithms, §4.2; γ_n = nU / (1 − nU)) plus a flush per addition:
 *   |ẑ − z| ≤ Σ|ê_a − e_a| + γ_{A−1}(z + Σ|ê_a − e_a|) + A·TINY =: ez, and z ≥ e_g = 1, so the
 *   relative error rz = ez / z is small whenever the row's logits are.
 * - p̂_a = ê_a / ẑ with 2.5 ULP = 5U relative, plus TINY for a flushed result. With
 *   q_a = (e_a·rz + |ê_a − e_a|) / (z(1 − rz)) ≥ |ê_a/ẑ − e_a/z|: |p̂_a − p_a| ≤ q_a + 5U(p_a + q_a) + TINY.
 * - L̂ = log(ẑ): ẑ ∈ [1 − rz, A(1 + rz)], so the function's own error is at most
 *   max(2^-21, 3·2^-23·log(z(1 + rz))); ẑ ≠ z adds |log(ẑ/z)| ≤ −log(1 − rz).
 * - logp̂_a = d̂_a − L̂ rounded once: ed_a + eL + U(|logp_a| + ed_a + eL) + TINY.
 * - Ĥ: each product p̂·logp̂ is off by ep·(|logp| + elp) + p·elp before its rounding
 *   (U of its magnitude, plus TINY), and the left-to-right sum of A same-signed terms adds
 *   γ_A·Σ|terms| (no cancellation: every −p·logp ≥ 0) plus A·TINY.
 * - b̂_a = k̂·ŵ_a + ŝ: k̂ and ŝ are float64 values rounded to float32 on the host (relative
 *   U + 2^-52, plus TINY for a subnormal ŝ the device flushes); then one product and one sum, each
 *   rounded. ŵ_a is p̂_a (error as above) in the softmax kind and exactly w_a in the greedy kind.
 * - ĉ_a: |ĉ_a − C_a| ≤ |ĉ_{a−1} − C_{a−1}| + |b̂_a − b_a| + U(C_a + …) + TINY, which grows with a;
 *   the bound for the row is the last one, δ = |ĉ_{A−1} − C_{A−1}|'s bound. It also covers the
 *   fallback to the last drawable action g: every later action j has b̂_j = 0, so b_j ≤ its error,
 *   and C_g ≥ 1 − δ.
 *
 * The kernel returns the first a with u < ĉ_a, so it can return a only if
 * C_{a−1} − δ ≤ u < C_a + δ (C_{−1} = 0): the range `sampledActionRange` returns. Farther than δ
 * from every boundary that is the single action the float64 CDF gives.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";

/** Unit roundoff of float32 (round to nearest). */
export const F32_UNIT_ROUNDOFF = 2 ** -24;
/** The smallest normal float32: WGSL may flush anything below it to zero. */
export const F32_TINY = 2 ** -126;
/** The largest finite float32. */
export const F32_MAX = 3.4028234663852886e38;
/**
 * The float64 reference's own error, relative and absolute: each reference value takes at most a
 * few dozen float64 operations of relative error 2^-53 on same-signed terms (at most 64 actions),
 * far below 2^-40.
 */
export const REFERENCE_SLACK = 2 ** -40;

/** The largest number of actions the kernel supports (one private array of this many floats per thread). */
export const MAX_ACTIONS = 64;

const U = F32_UNIT_ROUNDOFF;
const TINY = F32_TINY;

/** γ_n = nU / (1 − nU), Higham's bound on n successive roundings. */
function gamma(n: number): number {
  return (n * U) / (1 - n * U);
}

/** Checks the action count: an integer in [1, MAX_ACTIONS]. */
export function validateActions(actions: number): void {
  if (!(Number.isInteger(actions) && actions >= 1 && actions <= MAX_ACTIONS)) {
    throw new StaqInputError(`actions must be an integer from 1 to ${MAX_ACTIONS}; got ${actions}`);
  }
}

/**
 * What the behaviour policy mixes with the uniform distribution: the softmax of the logits
 * ("softmax": (1 − ε)·softmax + ε/A, staq's ε-softmax) or the argmax ("greedy": (1 − ε)·[a = argmax]
 * + ε/A, the ε-greedy policy of DQN and M-DQN; argmax ties go to the lowest index).
 */
export type BehaviourKind = "softmax" | "greedy";

/** The behaviour kinds, in the order of their codes in shaders/policy.wgsl (Params.behaviour_kind). */
export const BEHAVIOUR_KINDS: readonly BehaviourKind[] = ["softmax", "greedy"];

/** Checks a behaviour kind and returns its code for the kernel (0 softmax, 1 greedy). */
export function validateBehaviour(kind: BehaviourKind): number {
  const code = BEHAVIOUR_KINDS.indexOf(kind);
  if (code < 0) throw new StaqInputError(`behaviour must be "softmax" or "greedy"; got ${describeValue(kind)}`);
  return code;
}

/** Checks ε: a number in [0, 1]. */
export function validateEpsilon(epsilon: number): void {
  if (!(typeof epsilon === "number" && epsilon >= 0 && epsilon <= 1)) {
    throw new StaqInputError(`epsilon (the ε of the behaviour policy) must be a number in [0, 1]; got ${describeValue(epsilon)}`);
  }
}

/**
 * Checks a CPU batch of logits ([batch, actions], row-major) and returns the batch size. Every
 * logit must be finite, and within a row the spread max − min must be a finite float32, since the
 * kernel subtracts the row's maximum from every logit (a spread beyond 3.4e38 would give −∞
 * log-probabilities and NaN entropies).
 */
export function validateLogits(logits: Float32Array, actions: number): number {
  validateActions(actions);
  if (!(logits instanceof Float32Array)) throw new StaqInputError("logits must be a Float32Array of [batch, actions] values");
  if (logits.length === 0 || logits.length % actions !== 0) {
    throw new StaqInputError(`logits has ${logits.length} values, which is not a whole number (≥ 1) of rows of ${actions} actions`);
  }
  const batch = logits.length / actions;
  for (let row = 0; row < batch; row++) {
    let lowest = Infinity;
    let highest = -Infinity;
    for (let a = 0; a < actions; a++) {
      const value = logits[row * actions + a];
      if (!Number.isFinite(value)) {
        throw new StaqInputError(
          `logits[${row}][${a}] is ${value}; logits must be finite (check the network or the stack that produced them)`,
        );
      }
      lowest = Math.min(lowest, value);
      highest = Math.max(highest, value);
    }
    if (Math.fround(highest - lowest) > F32_MAX) {
      throw new StaqInputError(
        `logits row ${row} spans ${lowest} to ${highest}, a spread that overflows float32; rescale the logits (only their differences matter)`,
      );
    }
  }
  return batch;
}

/** Float64 policy quantities of a batch, laid out like the kernel's outputs. */
export interface PolicyReference {
  batch: number;
  actions: number;
  /** [batch, actions] softmax probabilities. */
  probs: Float64Array;
  /** [batch, actions] log-probabilities. */
  logProbs: Float64Array;
  /** [batch] entropies −Σ p log p. */
  entropy: Float64Array;
  /**
   * [batch, actions] behaviour probabilities: (1 − ε)·p + ε/A for the softmax kind,
   * (1 − ε)·[a = greedy] + ε/A for the greedy kind.
   */
  behaviour: Float64Array;
  /** [batch] argmax of the logits, ties → lowest index (−0 equals +0). */
  greedy: Uint32Array;
  /** [batch, actions] running sums of the behaviour probabilities: the CDF a sample inverts. */
  cdf: Float64Array;
}

/** The argmax of `row` of `logits`, ties going to the lowest index. */
function argmax(logits: Float32Array, first: number, actions: number): number {
  let best = 0;
  for (let a = 1; a < actions; a++) if (logits[first + a] > logits[first + best]) best = a;
  return best;
}

/**
 * Every policy quantity of `logits` ([batch, actions]) in float64, for the behaviour policy of
 * kind `behaviour` (default "softmax") mixed with the uniform one by `epsilon`. Only `behaviour`
 * and `cdf` depend on the kind.
 */
export function policyReference(
  logits: Float32Array,
  actions: number,
  epsilon: number,
  behaviour: BehaviourKind = "softmax",
): PolicyReference {
  const batch = validateLogits(logits, actions);
  validateEpsilon(epsilon);
  const greedyKind = validateBehaviour(behaviour) === 1;
  const n = batch * actions;
  const ref: PolicyReference = {
    batch,
    actions,
    probs: new Float64Array(n),
    logProbs: new Float64Array(n),
    entropy: new Float64Array(batch),
    behaviour: new Float64Array(n),
    greedy: new Uint32Array(batch),
    cdf: new Float64Array(n),
  };
  const d = new Float64Array(actions);
  for (let row = 0; row < batch; row++) {
    const first = row * actions;
    const g = argmax(logits, first, actions);
    ref.greedy[row] = g;
    const top = logits[first + g];
    let z = 0;
    for (let a = 0; a < actions; a++) {
      d[a] = logits[first + a] - top;
      z += Math.exp(d[a]);
    }
    const logZ = Math.log(z);
    let entropy = 0;
    let cdf = 0;
    for (let a = 0; a < actions; a++) {
      const p = Math.exp(d[a]) / z;
      const logp = d[a] - logZ;
      const weight = greedyKind ? (a === g ? 1 : 0) : p;
      const b = (1 - epsilon) * weight + epsilon / actions;
      ref.probs[first + a] = p;
      ref.logProbs[first + a] = logp;
      ref.behaviour[first + a] = b;
      entropy -= p * logp;
      cdf += b;
      ref.cdf[first + a] = cdf;
    }
    ref.entropy[row] = entropy;
  }
  return ref;
}

/** Bounds on |float32 kernel result − float64 reference|, element by element (see the file comment). */
export interface PolicyErrorBounds {
  probs: Float64Array;
  logProbs: Float64Array;
  entropy: Float64Array;
  behaviour: Float64Array;
  /** [batch] δ: the kernel's float32 CDF is within δ of `PolicyReference.cdf` at every action. */
  cdf: Float64Array;
}

/**
 * Derives the error bounds of the kernel's float32 results for `logits` and the behaviour kind
 * (default "softmax"; derivation in the file comment).
 */
export function policyErrorBounds(
  logits: Float32Array,
  actions: number,
  epsilon: number,
  behaviour: BehaviourKind = "softmax",
): PolicyErrorBounds {
  const ref = policyReference(logits, actions, epsilon, behaviour);
  const greedyKind = behaviour === "greedy";
  const { batch } = ref;
  const n = batch * actions;
  const bounds: PolicyErrorBounds = {
    probs: new Float64Array(n),
    logProbs: new Float64Array(n),
    entropy: new Float64Array(batch),
    behaviour: new Float64Array(n),
    cdf: new Float64Array(batch),
  };
  // The host's float32 copies of 1 − ε and ε/A (computed in float64, then rounded once).
  const keep = 1 - epsilon;
  const share = epsilon / actions;
  const keepError = (U + 2 ** -52) * keep + TINY;
  const shareError = (U + 2 ** -52) * share + TINY;
  const slack = (value: number) => REFERENCE_SLACK * (1 + Math.abs(value));

  const ed = new Float64Array(actions);
  const ee = new Float64Array(actions);
  const e = new Float64Array(actions);
  for (let row = 0; row < batch; row++) {
    const first = row * actions;
    const top = logits[first + ref.greedy[row]];
    let z = 0;
    let sumEe = 0;
    for (let a = 0; a < actions; a++) {
      const d = logits[first + a] - top;
      e[a] = Math.exp(d);
      z += e[a];
      ed[a] = U * Math.abs(d) + 4 * TINY;
      // e·expm1(ed) is exp(d + ed) − e; the min keeps 0·∞ (a huge ed on an underflowed e) out.
      const drift = e[a] === 0 ? Math.exp(d + ed[a]) : Math.min(e[a] * Math.expm1(ed[a]), Math.exp(d + ed[a]));
      const functionError = (3 + 2 * (Math.abs(d) + ed[a])) * (2 ** -23 * Math.exp(d + ed[a]) + 2 ** -149) + TINY;
      ee[a] = drift + functionError;
      sumEe += ee[a];
    }
    const ez = sumEe + gamma(actions - 1) * (z + sumEe) + actions * TINY;
    const rz = ez / z;
    if (!(rz < 1)) {
      // Only for spreads near float32's range, where WGSL's exp bound (3 + 2|x| ULP) allows any
      // result: no useful bound exists, and saying so beats a negative one.
      for (const name of ["probs", "logProbs", "behaviour"] as const) bounds[name].fill(Infinity, first, first + actions);
      bounds.entropy[row] = Infinity;
      bounds.cdf[row] = Infinity;
      continue;
    }
    const logFunctionError = Math.max(2 ** -21, 3 * 2 ** -23 * Math.log(z * (1 + rz)));
    const eL = logFunctionError - Math.log1p(-rz);

    let entropyError = 0;
    let entropyMagnitude = 0;
    let cdfError = 0;
    for (let a = 0; a < actions; a++) {
      const i = first + a;
      const p = ref.probs[i];
      const logp = ref.logProbs[i];
      const q = (e[a] * rz + ee[a]) / (z * (1 - rz));
      const ep = q + 5 * U * (p + q) + TINY;
      const elp = ed[a] + eL + U * (Math.abs(logp) + ed[a] + eL) + TINY;
      bounds.probs[i] = ep + slack(p);
      bounds.logProbs[i] = elp + slack(logp);

      const termError = ep * (Math.abs(logp) + elp) + p * elp;
      const term = Math.abs(p * logp) + termError;
      entropyError += termError + U * term + TINY;
      entropyMagnitude += term;

      // The weight of the behaviour and its error: p̂ in the softmax kind, an exact 0 or 1 in the greedy kind.
      const w = greedyKind ? (a === ref.greedy[row] ? 1 : 0) : p;
      const ew = greedyKind ? 0 : ep;
      const product = keep * w;
      const productError = (keep + keepError) * ew + w * keepError;
      const roundedProductError = productError + U * (product + productError) + TINY;
      const sumError = roundedProductError + shareError;
      const b = ref.behaviour[i];
      const eb = sumError + U * (b + sumError) + TINY;
      bounds.behaviour[i] = eb + slack(b);

      cdfError += eb;
      cdfError += U * (ref.cdf[i] + cdfError) + TINY;
    }
    const H = ref.entropy[row];
    // Each rounded term is at most term·(1 + U) + TINY in size.
    bounds.entropy[row] = entropyError + gamma(actions) * (entropyMagnitude * (1 + U) + actions * TINY) + actions * TINY + slack(H);
    bounds.cdf[row] = cdfError + slack(1);
  }
  return bounds;
}

/**
 * The actions a float32 inverse-CDF draw of `u` may return for one row, given its float64 CDF
 * (`cdf[first .. first + actions)`) and the row's bound δ: every a with C_{a−1} − δ ≤ u < C_a + δ.
 * Away from a boundary (farther than δ) that is the one action of the float64 CDF.
 */
export function sampledActionRange(
  cdf: Float64Array,
  first: number,
  actions: number,
  delta: number,
  u: number,
): { lowest: number; highest: number } {
  let lowest = -1;
  let highest = -1;
  for (let a = 0; a < actions; a++) {
    const below = a === 0 ? 0 : cdf[first + a - 1];
    const above = cdf[first + a];
    if (below - delta <= u && u < above + delta) {
      if (lowest < 0) lowest = a;
      highest = a;
    }
  }
  // u < 1 = C_{A−1}, so at least the last action qualifies; a miss means a broken CDF.
  if (lowest < 0) throw new RangeError(`no action's CDF interval holds u = ${u}; is the CDF non-decreasing and ending at 1?`);
  return { lowest, highest };
}

/** The float64 inverse-CDF draw: the first action a with u < C_a (the last one if rounding leaves C_{A−1} ≤ u). */
export function sampleFromCdf(cdf: Float64Array, first: number, actions: number, u: number): number {
  for (let a = 0; a < actions; a++) if (u < cdf[first + a]) return a;
  return actions - 1;
}
