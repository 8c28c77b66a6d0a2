/**
 * The float64 twin of MDPO's policy update (shaders/mdpo_loss.wgsl; our discrete, off-policy
 * adaptation of Tomar et al.'s Mirror Descent Policy Optimization), and bounds on how far the
 * kernel's float32 results may be from it.
 *
 * ## The loss
 *
 * Per state s, with z the policy's logits, π = softmax(z), π_old the policy when the K policy steps
 * began, Q̄ the critic's mean Q, c = η + τ and λ = τ (η, τ > 0):
 *
 *     L_s(z) = Σ_a π_a f_a,    f_a = c (log π_a − log π_old,a) + λ log π_old,a − Q̄_a,
 *
 * and the policy step minimises the minibatch mean (1/B) Σ_b L_{s_b}.
 *
 * ## Its gradient
 *
 * With ∂π_a/∂z_j = π_a (δ_aj − π_j) and ∂log π_a/∂z_j = δ_aj − π_j (π_old and Q̄ do not depend on z):
 *
 *     ∂L_s/∂z_j = Σ_a (∂π_a/∂z_j) f_a + Σ_a π_a c ∂log π_a/∂z_j
 *               = π_j f_j − π_j Σ_a π_a f_a + c (π_j − π_j Σ_a π_a)
 *               = π_j (f_j − L_s),
 *
 * the second sum vanishing because Σ_a π_a = 1.
 *
 * ## Its minimiser
 *
 * With π* = softmax(β log π_old + α Q̄), β = η/(η+τ) = (c − λ)/c, α = 1/(η+τ) = 1/c and
 * Z* = Σ_a π_old,a^β exp(α Q̄_a) its normaliser, log π*_a = β log π_old,a + α Q̄_a − log Z*, so
 *
 *     f_a = c log π_a − (c − λ) log π_old,a − Q̄_a = c (log π_a − log π*_a) − c log Z*,
 *     L_s = c KL(π ‖ π*) − c log Z*.
 *
 * KL ≥ 0 with equality only at π = π*: the minimiser over the simplex is π*, exactly StaQ's PMD
 * step (src/pmd/coefficients.ts, pmdRates: the same α and β), and the minimum is −c log Z*. The
 * stationary points of the logits are the same: π_j (f_j − L_s) = 0 for every j with π_j > 0 means
 * f is constant, i.e. log π − log π* is constant, i.e. π = π*. (So f_a − L_s = c (u_a − ū) with
 * u = log π − log π*, ū = Σ π u = KL: the gradient is c π_j (u_j − ū).)
 *
 * ## The kernel's error bounds
 *
 * The kernel computes, per row, in float32 and in this order: the log-softmax of the online
 * logits z and of the target's z_old exactly as shaders/policy.wgsl does (m = max, d = z − m,
 * e = exp(d), s = Σ e from 0 in order, p = e / s, log π = d − log s); Q̄_a = (0 + q_0,a + q_1,a + …) / E;
 * f_a = (ĉ · (log π_a − log π_old,a) + λ̂ · log π_old,a) − Q̄_a; L = 0 + p_0 f_0 + p_1 f_1 + …;
 * dq_a = ĝ · (p_a · (f_a − L)) with ĝ = f32(1/B); ĉ = f32(η + τ) and λ̂ = f32(τ) come from the host.
 *
 * - p_a, log π_a and log π_old,a: the same operations on the same float32 logits as the policy
 *   kernel, so `policyErrorBounds` (src/policy/reference.ts, derived there from WGSL's accuracy
 *   rules: + − × correctly rounded, / within 2.5 ULP, exp within 3 + 2|x| ULP, log within 2^-21 on
 *   [0.5, 2] and 3 ULP elsewhere, subnormals possibly flushed) bounds each.
 * - Every later operation follows the running rules of src/train/targets-reference.ts, repeated
 *   below (`Tracked`): each quantity carries its exact value and a bound on the kernel's error,
 *   each + − × adds the propagated error plus U = 2^-24 of the result's magnitude (correct
 *   rounding), / adds 5U (2.5 ULP ≤ 5U relative for a normal result, 2.5 · 2^-149 below), and
 *   every operand and result may be flushed (TINY = 2^-126 each).
 * - The host's ĉ, λ̂ and ĝ are float64 values rounded once to float32 (the uniform's packing):
 *   within U of the value (round to nearest) plus TINY if the device flushes a subnormal.
 * - L's error and f_a's error enter f_a − L as independent worst cases: that they are correlated
 *   (L is made of the f_a) can only make the true error smaller.
 * - A contracted a·b + c (WGSL allows fused multiply-add) removes a rounding, which only shrinks
 *   the error the unfused rules bound.
 * - The padding of dq is written as an exact 0.
 *
 * Chained, the rules bound the worst case whatever the individual roundings were. The float64
 * twin's own error is a few dozen roundings of 2^-53 relative on terms of the magnitudes the
 * bounds sum (`TWIN_SLACK` of them, far above it); no bound is widened beyond this derivation.
 */
import { TINY, TWIN_SLACK, add, div, exact, hostRounded, mul, sub, type Tracked } from "./tracked-float32.ts";
import { StaqInputError } from "../errors.ts";
import { policyErrorBounds } from "../policy/reference.ts";

/** η and τ of one policy fit. */
export interface MdpoSettings {
  /** η > 0: the KL weight to π_old. */
  eta: number;
  /** τ > 0: the entropy weight. */
  tau: number;
}

/** Checks η and τ: finite numbers > 0. */
export function checkMdpoSettings(settings: MdpoSettings): void {
  const { eta, tau } = settings;
  if (!(typeof eta === "number" && Number.isFinite(eta) && eta > 0))
    throw new StaqInputError(`eta must be a finite number > 0; got ${eta}`);
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau > 0))
    throw new StaqInputError(`tau must be a finite number > 0; got ${tau}`);
}

/** The loss's weights c = η + τ, λ = τ, and the minimiser's rates α = 1/(η + τ), β = η/(η + τ). */
export function mdpoCoefficients(settings: MdpoSettings): { klWeight: number; priorWeight: number; alpha: number; beta: number } {
  const c = settings.eta + settings.tau;
  return { klWeight: c, priorWeight: settings.tau, alpha: 1 / c, beta: settings.eta / c };
}

/** softmax and log-softmax of `logits`, computed stably (the maximum subtracted). */
export function logSoftmax(logits: ArrayLike<number>): { probs: Float64Array; logProbs: Float64Array } {
  const A = logits.length;
  let m = -Infinity;
  for (let a = 0; a < A; a++) m = Math.max(m, logits[a]);
  let s = 0;
  for (let a = 0; a < A; a++) s += Math.exp(logits[a] - m);
  const logS = Math.log(s);
  const probs = new Float64Array(A);
  const logProbs = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    probs[a] = Math.exp(logits[a] - m) / s;
    logProbs[a] = logits[a] - m - logS;
  }
  return { probs, logProbs };
}

/** (Σ_e q_e,a) / E for every action: the critic's mean Q, members added in order. */
export function meanCriticQ(members: readonly ArrayLike<number>[], actions: number): Float64Array {
  if (members.length === 0) throw new StaqInputError("meanCriticQ: the critic has no members");
  const mean = new Float64Array(actions);
  for (let a = 0; a < actions; a++) {
    let sum = 0;
    for (const q of members) sum += q[a];
    mean[a] = sum / members.length;
  }
  return mean;
}

/** One state's MDPO loss, its gradient with respect to the logits, and the pieces they are made of. */
export interface MdpoLoss {
  /** L_s = Σ_a π_a f_a. */
  loss: number;
  /** ∂L_s/∂z_a = π_a (f_a − L_s). */
  gradient: Float64Array;
  /** π = softmax(z). */
  probs: Float64Array;
  logProbs: Float64Array;
  /** log π_old. */
  oldLogProbs: Float64Array;
  /** f_a = c (log π_a − log π_old,a) + λ log π_old,a − Q̄_a. */
  f: Float64Array;
}

function checkLengths(name: string, values: ArrayLike<number>, actions: number): void {
  if (values.length !== actions) throw new StaqInputError(`${name} has ${values.length} values; expected one per action (${actions})`);
  for (let a = 0; a < actions; a++)
    if (!Number.isFinite(values[a])) throw new StaqInputError(`${name}[${a}] is ${values[a]}; it must be finite`);
}

/** L_s and its gradient in float64 for one state: logits z, π_old's logits and Q̄(s, ·) (see the file comment). */
export function mdpoLoss(logits: ArrayLike<number>, oldLogits: ArrayLike<number>, q: ArrayLike<number>, settings: MdpoSettings): MdpoLoss {
  checkMdpoSettings(settings);
  const A = logits.length;
  if (A < 1) throw new StaqInputError("mdpoLoss: logits must have at least one action");
  checkLengths("logits", logits, A);
  checkLengths("oldLogits", oldLogits, A);
  checkLengths("q", q, A);
  const { klWeight: c, priorWeight: lambda } = mdpoCoefficients(settings);
  const { probs, logProbs } = logSoftmax(logits);
  const oldLogProbs = logSoftmax(oldLogits).logProbs;
  const f = new Float64Array(A);
  let loss = 0;
  for (let a = 0; a < A; a++) {
    f[a] = c * (logProbs[a] - oldLogProbs[a]) + lambda * oldLogProbs[a] - q[a];
    loss += probs[a] * f[a];
  }
  const gradient = new Float64Array(A);
  for (let a = 0; a < A; a++) gradient[a] = probs[a] * (f[a] - loss);
  return { loss, gradient, probs, logProbs, oldLogProbs, f };
}

/**
 * The per-state minimiser in closed form: π* = softmax(β log π_old + α Q̄) (α = 1/(η + τ),
 * β = η/(η + τ)), its logits (this representative of them), and the minimum L_s(π*) = −c log Z*.
 */
export function mdpoMinimiser(
  oldLogits: ArrayLike<number>,
  q: ArrayLike<number>,
  settings: MdpoSettings,
): { logits: Float64Array; probs: Float64Array; loss: number } {
  checkMdpoSettings(settings);
  const A = oldLogits.length;
  checkLengths("oldLogits", oldLogits, A);
  checkLengths("q", q, A);
  const { alpha, beta, klWeight } = mdpoCoefficients(settings);
  const oldLogProbs = logSoftmax(oldLogits).logProbs;
  const logits = Float64Array.from({ length: A }, (_, a) => beta * oldLogProbs[a] + alpha * q[a]);
  const { probs, logProbs } = logSoftmax(logits);
  // log Z* = logits_a − log π*_a for any a; the largest π* loses the least to rounding.
  let best = 0;
  for (let a = 1; a < A; a++) if (probs[a] > probs[best]) best = a;
  return { logits, probs, loss: -klWeight * (logits[best] - logProbs[best]) };
}

// ── Running error bounds (the rules of src/train/tracked-float32.ts) ──

/** The kernel's outputs for one row, in float64, and bounds on the kernel's distance from them. */
export interface MdpoRowReference {
  /** L_s (the kernel's loss_rows[b]). */
  loss: number;
  /** (1/B) ∂L_s/∂z_a for a < A (the kernel's dq[b, a]). */
  dq: Float64Array;
  /** Bound on |kernel loss − loss|. */
  lossBound: number;
  /** Bounds on |kernel dq − dq|, per action. */
  dqBound: Float64Array;
}

/**
 * What shaders/mdpo_loss.wgsl computes for one row, in float64, from the float32 values it reads:
 * the policy's logits `logits` and π_old's `oldLogits` ([A] each), the critic members' Q values
 * (`criticQ[e]`, [≥ A] each: the first A are read), and the batch B of its 1/B; with the bounds on
 * its float32 error derived in the file comment.
 */
export function mdpoRowReference(
  logits: Float32Array,
  oldLogits: Float32Array,
  criticQ: readonly ArrayLike<number>[],
  settings: MdpoSettings,
  batch: number,
): MdpoRowReference {
  checkMdpoSettings(settings);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new StaqInputError(`batch must be an integer >= 1; got ${batch}`);
  const A = logits.length;
  const q = meanCriticQ(criticQ, A);
  const twin = mdpoLoss(logits, oldLogits, q, settings);
  const { klWeight: c, priorWeight: lambda } = mdpoCoefficients(settings);

  // p, log π and log π_old: the policy kernel's operations, so its bounds (ε = 0: no behaviour used).
  const online = policyErrorBounds(logits, A, 0);
  const old = policyErrorBounds(oldLogits, A, 0);
  const cHat = hostRounded(c);
  const lambdaHat = hostRounded(lambda);
  const scale = hostRounded(1 / batch);

  const p: Tracked[] = [];
  const f: Tracked[] = [];
  let loss = exact(0);
  let lossMagnitude = 0;
  const magnitude = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    let sum = exact(0);
    for (const member of criticQ) sum = add(sum, exact(member[a]));
    const qBar = div(sum, criticQ.length);
    const logP = { value: twin.logProbs[a], error: online.logProbs[a] };
    const logPOld = { value: twin.oldLogProbs[a], error: old.logProbs[a] };
    p.push({ value: twin.probs[a], error: online.probs[a] });
    f.push(sub(add(mul(cHat, sub(logP, logPOld)), mul(lambdaHat, logPOld)), qBar));
    loss = add(loss, mul(p[a], f[a]));
    // What the twin's f_a adds up: its float64 error is a few roundings of this.
    magnitude[a] =
      c * (Math.abs(twin.logProbs[a]) + Math.abs(twin.oldLogProbs[a])) + lambda * Math.abs(twin.oldLogProbs[a]) + Math.abs(q[a]);
    lossMagnitude += twin.probs[a] * magnitude[a];
  }
  const dq = new Float64Array(A);
  const dqBound = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    const g = mul(scale, mul(p[a], sub(f[a], loss)));
    dq[a] = twin.gradient[a] / batch;
    dqBound[a] = g.error + TWIN_SLACK * (TINY + (twin.probs[a] * (magnitude[a] + lossMagnitude)) / batch);
  }
  return { loss: twin.loss, dq, lossBound: loss.error + TWIN_SLACK * (1 + lossMagnitude), dqBound };
}
