// MDPO's policy loss in src/train/mdpo-reference.ts (the float64 twin of shaders/mdpo_loss.wgsl):
//
//   L_s = Σ_a π_a f_a,   f_a = c (log π_a − log π_old,a) + λ log π_old,a − Q̄_a,   c = η + τ, λ = τ,
//   ∂L_s/∂z_j = π_j (f_j − L_s),   argmin π = softmax(β log π_old + α Q̄), β = η/(η+τ), α = 1/(η+τ).
//
// A state worked out by hand (literals with their arithmetic in comments, never the formula called
// again); the gradient against central finite differences of the loss; the minimiser as a
// stationary point, the global minimum (L = c KL(π ‖ π*) − c log Z*) and StaQ's PMD step; gradient
// descent on one state's logits with the exact Q converging to the closed form; and the kernel's
// error bounds against a float32 emulation of the kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { pmdRates } from "../../src/pmd/coefficients.ts";
import { softmaxPolicy } from "../../src/tabular/policy-math.ts";
import {
  checkMdpoSettings,
  logSoftmax,
  mdpoCoefficients,
  mdpoLoss,
  mdpoMinimiser,
  mdpoRowReference,
  meanCriticQ,
} from "../../src/train/mdpo-reference.ts";

/** Agreement up to the last digits of the hand-computed literals (15 significant digits). */
function close(got: number, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(Math.abs(got - expected) <= tolerance, `${what}: got ${got}, expected ${expected}`);
}

const f = Math.fround;

// ── By hand ─────────────────────────────────────────────────────────────────────────────────────

// ln 2 = 0.693147180559945, ln 3 = 1.098612288668110, ln 4 = 2 ln 2 = 1.386294361119891.
const LN2 = 0.693147180559945;
const LN3 = 1.09861228866811;
const LN4 = 1.386294361119891;

test("the logarithm literals", () => {
  close(Math.log(2), LN2, "ln 2");
  close(Math.log(3), LN3, "ln 3");
  close(Math.log(4), LN4, "ln 4");
});

test("A = 2, z = (0, 0), z_old = (0, ln 3), Q̄ = (1, 0), η = τ = 1: loss, gradient and minimiser by hand", () => {
  const settings = { eta: 1, tau: 1 };
  // c = η + τ = 2, λ = τ = 1, α = 1/2, β = 1/2.
  const coefficients = mdpoCoefficients(settings);
  assert.deepEqual(coefficients, { klWeight: 2, priorWeight: 1, alpha: 0.5, beta: 0.5 });
  const r = mdpoLoss([0, 0], [0, Math.log(3)], [1, 0], settings);
  // π = softmax(0, 0) = (1/2, 1/2);  log π = (−ln 2, −ln 2).
  close(r.probs[0], 0.5, "π_0");
  close(r.probs[1], 0.5, "π_1");
  close(r.logProbs[0], -LN2, "log π_0");
  close(r.logProbs[1], -LN2, "log π_1");
  // π_old = softmax(0, ln 3) = (1, 3)/4;  log π_old = (−ln 4, ln 3 − ln 4) = (−1.386294361119891, −0.287682072451781).
  close(r.oldLogProbs[0], -LN4, "log π_old,0");
  close(r.oldLogProbs[1], LN3 - LN4, "log π_old,1");
  // f_0 = 2(−ln 2 + ln 4) + 1·(−ln 4) − 1 = 2 ln 2 − 2 ln 2 − 1 = −1.
  close(r.f[0], -1, "f_0");
  // f_1 = 2(−ln 2 − ln 3 + ln 4) + (ln 3 − ln 4) − 0 = 2 ln 2 − 2 ln 3 + ln 3 − 2 ln 2 = −ln 3.
  close(r.f[1], -LN3, "f_1");
  // L = ½·(−1) + ½·(−ln 3) = −(1 + ln 3)/2 = −2.09861228866811/2 = −1.049306144334055.
  close(r.loss, -1.049306144334055, "L");
  // ∂L/∂z_0 = π_0 (f_0 − L) = ½ (−1 + 1.049306144334055) = (ln 3 − 1)/4 = 0.098612288668110/4 = 0.024653072167028;
  // ∂L/∂z_1 = ½ (−ln 3 + 1.049306144334055) = (1 − ln 3)/4 = −0.024653072167028 (the two sum to 0).
  close(r.gradient[0], 0.024653072167028, "∂L/∂z_0");
  close(r.gradient[1], -0.024653072167028, "∂L/∂z_1");

  // π* = softmax(½ log π_old + ½ Q̄) = softmax(−ln 2 + ½, ½ ln 3 − ln 2) ∝ (e^{1/2}, √3)/2, with
  // e^{1/2} = 1.648721270700128, √3 = 1.732050807568877, sum 3.380772078269005:
  // π*_0 = 1.648721270700128 / 3.380772078269005 = 0.487675960558776, π*_1 = 0.512324039441224.
  const star = mdpoMinimiser([0, Math.log(3)], [1, 0], settings);
  close(star.probs[0], 0.487675960558776, "π*_0");
  close(star.probs[1], 0.512324039441224, "π*_1");
  // The descent direction −∇L lowers z_0 (∂L/∂z_0 > 0): from π_0 = 0.5 towards π*_0 = 0.4877.
  assert.ok(r.gradient[0] > 0 && star.probs[0] < 0.5);
  // Z* = Σ_a exp(β log π_old,a + α Q̄_a) = (e^{1/2} + √3)/2 = 1.690386039134503, ln Z* = 0.524956928373219,
  // the minimum L* = −c ln Z* = −1.049913856746438.
  close(star.loss, -1.049913856746438, "L*");
  close(mdpoLoss(star.logits, [0, Math.log(3)], [1, 0], settings).loss, -1.049913856746438, "L(π*)");
  // L = c KL(π ‖ π*) − c ln Z*: KL((½, ½) ‖ π*) = ½ ln(0.5/0.487675960558776) + ½ ln(0.5/0.512324039441224)
  // = 0.000303856206192, and 2 · 0.000303856206192 − 1.049913856746438 = −1.049306144334054 = L.
  close(2 * 0.000303856206192 - 1.049913856746438, r.loss, "c KL − c ln Z*");
});

test("Q̄ is the critic members' mean, added in order", () => {
  // Members (1, 4) and (3, −2): Q̄ = ((1 + 3)/2, (4 − 2)/2) = (2, 1).
  assert.deepEqual(
    Array.from(
      meanCriticQ(
        [
          [1, 4],
          [3, -2],
        ],
        2,
      ),
    ),
    [2, 1],
  );
  assert.deepEqual(Array.from(meanCriticQ([[5, 6, 7, 8]], 2)), [5, 6], "only the first A values of a padded row");
});

// ── Properties ──────────────────────────────────────────────────────────────────────────────────

const settingsArb = fc.record({
  eta: fc.double({ min: 0.05, max: 5, noNaN: true }),
  tau: fc.double({ min: 0.05, max: 5, noNaN: true }),
});

const moderateSettingsArb = fc.record({
  eta: fc.double({ min: 0.5, max: 2, noNaN: true }),
  tau: fc.double({ min: 0.5, max: 2, noNaN: true }),
});

/** A state: logits, π_old's logits and Q̄, of A actions. */
const stateArb = (minA: number, maxA: number, logitScale: number, qScale: number) =>
  fc.integer({ min: minA, max: maxA }).chain((A) => {
    const values = (scale: number) => fc.array(fc.double({ min: -scale, max: scale, noNaN: true }), { minLength: A, maxLength: A });
    return fc.record({ logits: values(logitScale), oldLogits: values(logitScale), q: values(qScale) });
  });

test("the gradient is the central finite difference of the loss", () => {
  fc.assert(
    fc.property(stateArb(1, 8, 5, 10), settingsArb, ({ logits, oldLogits, q }, settings) => {
      const { gradient, f: fa, loss } = mdpoLoss(logits, oldLogits, q, settings);
      // Central differences with step h: truncation h²/6 · |∂³L_s/∂z_j³|, where each derivative of
      // π or log π brings a factor of at most 1 in size (∂π_a/∂z_j = π_a(δ_aj − π_j)), so |∂³L_s| is
      // a few units of c + max|f| + |L|; rounding adds about 2^-52 · (c + max|f|) / h. With h = 1e-4
      // both are below 1e-7 · scale, and the tolerance 1e-6 · scale leaves room.
      const h = 1e-4;
      const scale = 1 + mdpoCoefficients(settings).klWeight + Math.max(...fa.map(Math.abs)) + Math.abs(loss);
      for (let j = 0; j < logits.length; j++) {
        const at = (step: number) =>
          mdpoLoss(
            logits.map((z, a) => (a === j ? z + step : z)),
            oldLogits,
            q,
            settings,
          ).loss;
        const numeric = (at(h) - at(-h)) / (2 * h);
        assert.ok(Math.abs(gradient[j] - numeric) <= 1e-6 * scale, `∂L/∂z_${j}: ${gradient[j]} vs finite difference ${numeric}`);
      }
      // The logits' common shift leaves π unchanged: the gradient sums to 0.
      assert.ok(Math.abs(gradient.reduce((s, g) => s + g, 0)) <= 1e-12 * scale);
    }),
    { numRuns: 200 },
  );
});

test("the closed-form minimiser is StaQ's PMD step, a stationary point, and the global minimum: L = c KL(π ‖ π*) + L*", () => {
  fc.assert(
    fc.property(stateArb(1, 8, 5, 10), settingsArb, ({ logits, oldLogits, q }, settings) => {
      const A = logits.length;
      const star = mdpoMinimiser(oldLogits, q, settings);
      // PMD's step from the tabular toolkit: softmax(β ξ_old + α Q) with pmdRates' α and β, ξ_old = log π_old.
      const { alpha, beta } = pmdRates(settings.eta, settings.tau);
      const oldLogProbs = logSoftmax(oldLogits).logProbs;
      const pmd = softmaxPolicy(
        Float64Array.from({ length: A }, (_, a) => beta * oldLogProbs[a] + alpha * q[a]),
        1,
        A,
      );
      for (let a = 0; a < A; a++) close(star.probs[a], pmd[a], `π*_${a} against the PMD step`, 1e-12);

      const atStar = mdpoLoss(star.logits, oldLogits, q, settings);
      const c = mdpoCoefficients(settings).klWeight;
      const scale = 1 + c * (1 + Math.max(...atStar.oldLogProbs.map(Math.abs))) + Math.max(...q.map(Math.abs));
      // Stationary: f is constant over the actions, so every π_j (f_j − L) is 0 (to rounding).
      for (let a = 0; a < A; a++) assert.ok(Math.abs(atStar.gradient[a]) <= 1e-12 * scale, `gradient ${a} at π*: ${atStar.gradient[a]}`);
      close(atStar.loss, star.loss, "L(π*) = −c log Z*", 1e-12 * scale);

      // At any logits, L − L* = c KL(π ‖ π*) ≥ 0.
      const r = mdpoLoss(logits, oldLogits, q, settings);
      let kl = 0;
      for (let a = 0; a < A; a++) if (r.probs[a] > 0) kl += r.probs[a] * (r.logProbs[a] - Math.log(star.probs[a]));
      close(r.loss - star.loss, c * kl, "L − L* = c KL", 1e-11 * scale);
      assert.ok(r.loss >= star.loss - 1e-12 * scale, "L* is the minimum");
    }),
    { numRuns: 200 },
  );
});

test("gradient descent on one state's logits with the exact Q converges to softmax(β log π_old + α Q)", () => {
  // One state, Q exact, K steps z ← z − h ∇L_s(z) from z = z_old (π = π_old, where the fit starts).
  // L_s = c KL(π ‖ π*) + L*, whose Hessian at the optimum is c (diag π* − π* π*ᵀ): on the directions
  // that change π its eigenvalues lie in [c min_a π*_a, c max_a π*_a] (interlacing with diag π*),
  // so with h = 1/c the error contracts by at least 1 − min_a π*_a per step near π*. The inputs keep
  // min_a π*_a ≥ e^{-4}/A ≥ 3.6·10^-3 (Q and z_old in [−1, 1], η, τ in [0.5, 2]: α Q̄ spreads over at
  // most 2, β log π_old over at most the 2 of z_old), so 20 000 steps contract by e^{-73}, far more
  // than the 10^-10 asked.
  //
  // The final iterate is then checked by a certificate that needs no rate: with u = log π − log π*,
  // ∇_j = c π_j (u_j − ū), ū = Σ π u. If |∇_j| ≤ ε for every j, then |u_j − ū| ≤ δ = max_j ε/(c π_j);
  // since Σ_a π_a e^{−u_a} = Σ π* = 1, |ū| ≤ δ, so |u_j| ≤ 2δ and |π_j − π*_j| ≤ π*_j (e^{2δ} − 1).
  fc.assert(
    fc.property(stateArb(2, 5, 1, 1), moderateSettingsArb, ({ oldLogits, q }, settings) => {
      const A = q.length;
      const c = mdpoCoefficients(settings).klWeight;
      const star = mdpoMinimiser(oldLogits, q, settings);
      const z = Float64Array.from(oldLogits);
      for (let k = 0; k < 20_000; k++) {
        const { gradient } = mdpoLoss(z, oldLogits, q, settings);
        for (let a = 0; a < A; a++) z[a] -= gradient[a] / c;
      }
      const r = mdpoLoss(z, oldLogits, q, settings);
      const epsilon = Math.max(...r.gradient.map(Math.abs));
      const delta = Math.max(...Array.from(r.probs, (p) => epsilon / (c * p)));
      for (let a = 0; a < A; a++) {
        const certified = star.probs[a] * Math.expm1(2 * delta);
        assert.ok(Math.abs(r.probs[a] - star.probs[a]) <= certified + 1e-15, `π_${a}: the certificate`);
        // The tolerance: 1e-10, reached (the rate above) and certified (δ ≤ 1e-11 here).
        close(r.probs[a], star.probs[a], `π_${a} after gradient descent`, 1e-10);
      }
      assert.ok(delta <= 1e-11, `δ = ${delta}`);
    }),
    { numRuns: 30 },
  );
});

// ── The kernel's error bounds ───────────────────────────────────────────────────────────────────

/**
 * shaders/mdpo_loss.wgsl's row in float32 arithmetic: every operation correctly rounded, exp and
 * log rounded once (well inside WGSL's accuracy), in the kernel's order.
 */
function emulateKernel(
  logits: Float32Array,
  oldLogits: Float32Array,
  criticQ: Float32Array[],
  settings: { eta: number; tau: number },
  batch: number,
): { loss: number; dq: number[] } {
  const A = logits.length;
  const c = f(settings.eta + settings.tau);
  const lambda = f(settings.tau);
  const scale = f(1 / batch);
  const logSoftmax32 = (z: Float32Array) => {
    let m = z[0];
    for (let a = 1; a < A; a++) m = Math.max(m, z[a]);
    const e = Array.from(z, (x) => f(Math.exp(f(x - m))));
    let s = 0;
    for (const x of e) s = f(s + x);
    const logS = f(Math.log(s));
    return { p: e.map((x) => f(x / s)), logP: Array.from(z, (x) => f(f(x - m) - logS)) };
  };
  const online = logSoftmax32(logits);
  const old = logSoftmax32(oldLogits);
  const fa: number[] = [];
  let loss = 0;
  for (let a = 0; a < A; a++) {
    let sum = 0;
    for (const q of criticQ) sum = f(sum + q[a]);
    const qBar = f(sum / criticQ.length);
    fa.push(f(f(f(c * f(online.logP[a] - old.logP[a])) + f(lambda * old.logP[a])) - qBar));
    loss = f(loss + f(online.p[a] * fa[a]));
  }
  return { loss, dq: fa.map((x, a) => f(scale * f(online.p[a] * f(x - loss)))) };
}

const f32Array = (scale: number, length: number) =>
  fc
    .array(fc.float({ min: f(-scale), max: f(scale), noNaN: true }), { minLength: length, maxLength: length })
    .map((v) => Float32Array.from(v));

test("a float32 emulation of the kernel stays within the derived bounds, which are tight enough to be useful", () => {
  const rowArb = fc
    .record({
      A: fc.integer({ min: 1, max: 8 }),
      E: fc.integer({ min: 1, max: 3 }),
      logitScale: fc.constantFrom(1, 10, 40),
      qScale: fc.constantFrom(1, 100),
    })
    .chain(({ A, E, logitScale, qScale }) =>
      fc.record({
        logits: f32Array(logitScale, A),
        oldLogits: f32Array(logitScale, A),
        criticQ: fc.array(f32Array(qScale, A), { minLength: E, maxLength: E }),
        settings: settingsArb,
        batch: fc.integer({ min: 1, max: 256 }),
      }),
    );
  fc.assert(
    fc.property(rowArb, ({ logits, oldLogits, criticQ, settings, batch }) => {
      const twin = mdpoRowReference(logits, oldLogits, criticQ, settings, batch);
      const got = emulateKernel(logits, oldLogits, criticQ, settings, batch);
      assert.ok(Math.abs(got.loss - twin.loss) <= twin.lossBound, `loss ${got.loss} vs ${twin.loss} ± ${twin.lossBound}`);
      twin.dq.forEach((expected, a) =>
        assert.ok(Math.abs(got.dq[a] - expected) <= twin.dqBound[a], `dq_${a} ${got.dq[a]} vs ${expected} ± ${twin.dqBound[a]}`),
      );
      // Useful: within 1e-4 of the size of what the kernel adds (observed: under 2e-6).
      const { klWeight: c } = mdpoCoefficients(settings);
      const size =
        1 +
        (c + 1) * (Math.max(...Array.from(logits, Math.abs)) + Math.max(...Array.from(oldLogits, Math.abs)) + 2 * Math.log(8)) +
        Math.max(...criticQ.flatMap((q) => Array.from(q, Math.abs)));
      assert.ok(twin.lossBound <= 1e-4 * size, `loss bound ${twin.lossBound} against size ${size}`);
      for (const bound of twin.dqBound) assert.ok(bound <= (1e-4 * size) / batch + 1e-30, `dq bound ${bound}`);
    }),
    { numRuns: 300 },
  );
});

test("bad settings and inputs say what is wrong", () => {
  assert.throws(() => checkMdpoSettings({ eta: 0, tau: 1 }), /eta must be a finite number > 0; got 0/);
  assert.throws(() => checkMdpoSettings({ eta: 1, tau: -1 }), /tau must be a finite number > 0; got -1/);
  assert.throws(() => checkMdpoSettings({ eta: Number.NaN, tau: 1 }), /eta must be a finite number > 0; got NaN/);
  assert.throws(() => mdpoLoss([0, 0], [0], [0, 0], { eta: 1, tau: 1 }), /oldLogits has 1 values; expected one per action \(2\)/);
  assert.throws(() => mdpoLoss([0, Infinity], [0, 0], [0, 0], { eta: 1, tau: 1 }), /logits\[1\] is Infinity; it must be finite/);
  assert.throws(() => mdpoMinimiser([0, 0], [0, 0], { eta: 1, tau: 0 }), /tau must be a finite number > 0/);
  assert.throws(() => meanCriticQ([], 2), /the critic has no members/);
});
