// The smoothness regulariser's float64 twin (src/train/smoothness-reference.ts):
//
//   A(x, a) = Q(x, a) − mean_c Q(x, c),  penalty = λ_S ‖A(s+ε, ·) − A(s, ·)‖² + λ_T ‖A(s', ·) − A(s, ·)‖²,
//
// worked out by hand (literals with their arithmetic in comments, never the formula called again);
// the gradient against central finite differences; the invariance to a constant added to every
// action's Q at any one state; the state noise as a pure function of (seed, step, row) with the
// N(0, 1) distribution (on many CPU draws; the GPU's draws are checked against this twin in
// test/train/smoothness-fit.test.ts); and the kernels' error bounds against float32 emulations of
// the kernels' arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { philox4x32, uniformFromPhilox } from "../../src/random/philox.ts";
import {
  advantage,
  perturbedState,
  PI_BELOW,
  smoothnessRow,
  smoothnessStep,
  smoothnessStepBound,
  stateNoise,
  type SmoothnessWeights,
} from "../../src/train/smoothness-reference.ts";
import { chiSquarePValue, chiSquareStatistic, regularizedGammaQ } from "../helpers/chi-square.ts";

function close(got: number, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(Math.abs(got - expected) <= tolerance, `${what}: got ${got}, expected ${expected}`);
}

function closeAll(got: ArrayLike<number>, expected: readonly number[], what: string, tolerance = 1e-12): void {
  assert.equal(got.length, expected.length, `${what}: length`);
  expected.forEach((value, k) => close(got[k], value, `${what}[${k}]`, tolerance));
}

// ── By hand ─────────────────────────────────────────────────────────────────────────────────────

test("2 actions, Q(s) = [1, 3], Q(s+ε) = [2, 2], Q(s') = [0, 4], λ_S = 1/2, λ_T = 1/4: penalty and gradients by hand", () => {
  // A(s) = [1 − 2, 3 − 2] = [−1, 1];  A(s+ε) = [2 − 2, 2 − 2] = [0, 0];  A(s') = [0 − 2, 4 − 2] = [−2, 2].
  closeAll(advantage([1, 3]), [-1, 1], "A(s)");
  closeAll(advantage([2, 2]), [0, 0], "A(s+ε)");
  closeAll(advantage([0, 4]), [-2, 2], "A(s')");
  const r = smoothnessRow([1, 3], [2, 2], [0, 4], { state: 0.5, transition: 0.25 });
  // D_S = A(s+ε) − A(s) = [0 + 1, 0 − 1] = [1, −1]:  P_S = 1 + 1 = 2.
  // D_T = A(s') − A(s) = [−2 + 1, 2 − 1] = [−1, 1]:  P_T = 1 + 1 = 2.
  close(r.state, 2, "P_S");
  close(r.transition, 2, "P_T");
  // λ_S P_S + λ_T P_T = 0.5·2 + 0.25·2 = 1.5.
  close(r.penalty, 1.5, "penalty");
  // ∂/∂Q(s+ε) = λ_S · 2(D_S − mean D_S) = 0.5 · 2 · [1 − 0, −1 − 0] = [1, −1].
  closeAll(r.dqPerturbed, [1, -1], "∂/∂Q(s+ε)");
  // ∂/∂Q(s') = λ_T · 2(D_T − mean D_T) = 0.25 · 2 · [−1, 1] = [−0.5, 0.5].
  closeAll(r.dqNext, [-0.5, 0.5], "∂/∂Q(s')");
  // ∂/∂Q(s) = −[1, −1] − [−0.5, 0.5] = [−1 + 0.5, 1 − 0.5] = [−0.5, 0.5].
  closeAll(r.dq, [-0.5, 0.5], "∂/∂Q(s)");
});

test("3 actions, Q(s) = [0, 0, 3], Q(s+ε) = [1, 0, 2], Q(s') = [3, 0, 0], λ_S = λ_T = 1: penalty and gradients by hand", () => {
  // mean Q(s) = 1, A(s) = [−1, −1, 2];  mean Q(s+ε) = 1, A(s+ε) = [0, −1, 1];  mean Q(s') = 1, A(s') = [2, −1, −1].
  // D_S = [0 + 1, −1 + 1, 1 − 2] = [1, 0, −1]:  P_S = 1 + 0 + 1 = 2.
  // D_T = [2 + 1, −1 + 1, −1 − 2] = [3, 0, −3]:  P_T = 9 + 0 + 9 = 18.
  const r = smoothnessRow([0, 0, 3], [1, 0, 2], [3, 0, 0], { state: 1, transition: 1 });
  close(r.state, 2, "P_S");
  close(r.transition, 18, "P_T");
  close(r.penalty, 20, "penalty = 2 + 18");
  // ∂/∂Q(s+ε) = 2 D_S = [2, 0, −2];  ∂/∂Q(s') = 2 D_T = [6, 0, −6];  ∂/∂Q(s) = −[2 + 6, 0, −2 − 6] = [−8, 0, 8].
  closeAll(r.dqPerturbed, [2, 0, -2], "∂/∂Q(s+ε)");
  closeAll(r.dqNext, [6, 0, -6], "∂/∂Q(s')");
  closeAll(r.dq, [-8, 0, 8], "∂/∂Q(s)");
});

test("one minibatch step by hand: B = 1, the first example with action 1, target 2 and the MSE loss", () => {
  // Rows [s; s+ε; s'] = [1, 3; 2, 2; 0, 4]. d = Q(s, 1) − y = 3 − 2 = 1, ℓ = d² = 1, slope = 2d / B = 2.
  const step = smoothnessStep({
    q: [1, 3, 2, 2, 0, 4],
    actionCount: 2,
    actions: [1],
    targets: [2],
    weights: { state: 0.5, transition: 0.25 },
  });
  // dq(s) = [−0.5, 0.5 + 2] = [−0.5, 2.5];  dq(s+ε) = [1, −1];  dq(s') = [−0.5, 0.5] (B = 1: no division).
  closeAll(step.dq, [-0.5, 2.5, 1, -1, -0.5, 0.5], "dq");
  // loss rows: ℓ, P_S, P_T = 1, 2, 2 (unweighted).
  closeAll(step.lossRows, [1, 2, 2], "loss rows");
  close(step.meanLoss, 1, "mean ℓ");
  close(step.meanAbsQ, 3, "mean |Q(s, a)|");
  close(step.meanState, 2, "mean P_S");
  close(step.meanTransition, 2, "mean P_T");
});

// ── Finite differences and invariance ───────────────────────────────────────────────────────────

const rowCase = fc.record({
  actions: fc.integer({ min: 1, max: 6 }),
  values: fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 18, maxLength: 18 }),
  state: fc.double({ min: 0, max: 3, noNaN: true }),
  transition: fc.double({ min: 0, max: 3, noNaN: true }),
  shift: fc.double({ min: -100, max: 100, noNaN: true }),
  at: fc.integer({ min: 0, max: 2 }),
});

function split(values: readonly number[], actions: number): [number[], number[], number[]] {
  return [values.slice(0, actions), values.slice(6, 6 + actions), values.slice(12, 12 + actions)];
}

test("the gradient is the penalty's: central differences of each Q value at s, s+ε and s'", () => {
  fc.assert(
    fc.property(rowCase, ({ actions, values, state, transition }) => {
      const weights: SmoothnessWeights = { state, transition };
      const qs = split(values, actions);
      const r = smoothnessRow(...qs, weights);
      const gradients = [r.dq, r.dqPerturbed, r.dqNext];
      // The penalty is quadratic in Q, so the central difference is exact but for rounding: each
      // evaluation's float64 error is a few ulps of terms up to (λ_S + λ_T)·A·(20)², divided by 2h.
      const h = 1e-3;
      const scale = (state + transition) * actions * 400 + 1;
      const tolerance = (scale * 2 ** -45) / h;
      qs.forEach((q, x) => {
        for (let a = 0; a < actions; a++) {
          const at = (delta: number) => {
            const moved = qs.map((row) => row.slice()) as [number[], number[], number[]];
            moved[x][a] += delta;
            return smoothnessRow(...moved, weights).penalty;
          };
          const numeric = (at(h) - at(-h)) / (2 * h);
          close(gradients[x][a], numeric, `∂/∂Q(state ${x}, action ${a})`, tolerance);
        }
      });
      // Each state's gradient sums to 0 over actions (the advantage ignores a shift of all of them).
      for (const g of gradients)
        close(
          g.reduce((sum, v) => sum + v, 0),
          0,
          "Σ_a gradient",
          1e-12 * scale,
        );
    }),
    { numRuns: 200 },
  );
});

test("adding a constant to every action's Q at any one state changes neither the penalty nor its gradient", () => {
  fc.assert(
    fc.property(rowCase, ({ actions, values, state, transition, shift, at }) => {
      const weights = { state, transition };
      const qs = split(values, actions);
      const shifted = qs.map((row, x) => (x === at ? row.map((v) => v + shift) : row)) as [number[], number[], number[]];
      const before = smoothnessRow(...qs, weights);
      const after = smoothnessRow(...shifted, weights);
      // Only float64 rounding of the shifted values (|Q| up to 105) differs.
      const tolerance = 2 ** -40 * (1 + state + transition) * actions * 105 ** 2;
      close(after.penalty, before.penalty, "penalty", tolerance);
      for (const key of ["dq", "dqPerturbed", "dqNext"] as const)
        for (let a = 0; a < actions; a++) close(after[key][a], before[key][a], `${key}[${a}]`, tolerance);
    }),
    { numRuns: 200 },
  );
});

test("the minibatch step is the mean of the rows: its dq against central differences of the minibatch loss (MSE)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.double({ min: 0, max: 2, noNaN: true }),
      fc.double({ min: 0, max: 2, noNaN: true }),
      (B, A, seed, state, transition) => {
        let x = seed;
        const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32) * 4 - 2;
        const q = Array.from({ length: 3 * B * A }, next);
        const actions = Array.from({ length: B }, () => Math.floor(((next() + 2) / 4) * A) % A);
        const targets = Array.from({ length: B }, next);
        const weights = { state, transition };
        const loss = (values: number[]) => {
          const step = smoothnessStep({ q: values, actionCount: A, actions, targets, weights });
          return step.meanLoss + state * step.meanState + transition * step.meanTransition;
        };
        const { dq } = smoothnessStep({ q, actionCount: A, actions, targets, weights });
        const h = 1e-3;
        for (let k = 0; k < q.length; k++) {
          const up = q.slice();
          const down = q.slice();
          up[k] += h;
          down[k] -= h;
          close(dq[k], (loss(up) - loss(down)) / (2 * h), `dq[${k}]`, 1e-8);
        }
      },
    ),
    { numRuns: 100 },
  );
});

// ── The state noise ─────────────────────────────────────────────────────────────────────────────

test("PI_BELOW is the largest float32 below π", () => {
  assert.ok(PI_BELOW < Math.PI);
  // The next float32 up is above π.
  const bits = new Uint32Array(Float32Array.of(PI_BELOW).buffer);
  const up = new Float32Array(Uint32Array.of(bits[0] + 1).buffer)[0];
  assert.ok(up > Math.PI);
});

test("the noise is Box–Muller of the Philox words keyed by (seed, step, row), stream 0x80000000 + chunk", () => {
  // Chunk 1 (inputs 4 … 7) of row 3 at step 5 under seed 9, by hand from the generator.
  const words = philox4x32([3, 5, 0, 0x80000001], [9, 0]);
  const z = stateNoise(9, 5, 3, 7);
  const pair = (w0: number, w1: number) => {
    const r = Math.sqrt(-2 * Math.log(1 - uniformFromPhilox(w0)));
    const theta = PI_BELOW * (2 * uniformFromPhilox(w1) - 1);
    return [r * Math.cos(theta), r * Math.sin(theta)];
  };
  const [z4, z5] = pair(words[0], words[1]);
  const [z6] = pair(words[2], words[3]);
  close(z[4], z4, "z_4");
  close(z[5], z5, "z_5");
  close(z[6], z6, "z_6");
  // Pure: the same call again, a longer row (the first 7 inputs agree) and a 64-bit step.
  assert.deepEqual(Array.from(stateNoise(9, 5, 3, 7)), Array.from(z));
  assert.deepEqual(Array.from(stateNoise(9, 5, 3, 12).subarray(0, 7)), Array.from(z));
  assert.notDeepEqual(Array.from(stateNoise(9, 5, 4, 7)), Array.from(z), "another row");
  assert.notDeepEqual(Array.from(stateNoise(9, 6, 3, 7)), Array.from(z), "another step");
  assert.notDeepEqual(Array.from(stateNoise(10, 5, 3, 7)), Array.from(z), "another seed");
  assert.notDeepEqual(Array.from(stateNoise(9, 5n + (1n << 32n), 3, 7)), Array.from(z), "the step's high word");
});

/** Φ(x) = P(Z ≤ x) for Z ~ N(0, 1), from P(|Z| ≤ |x|) = P(χ²_1 ≤ x²) = 1 − Q(1/2, x²/2). */
function normalCdf(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  const inside = 1 - regularizedGammaQ(0.5, (x * x) / 2);
  return x >= 0 ? 0.5 + inside / 2 : 0.5 - inside / 2;
}

test("the noise is N(0, 1): mean, variance and a chi-square test on 10 bins, over 2^17 CPU draws (false alarm < 10^-5)", () => {
  const n = 2 ** 17;
  const values = new Float64Array(n);
  let k = 0;
  for (let step = 0; k < n; step++)
    for (let row = 0; row < 64 && k < n; row++) for (const z of stateNoise(123, step, row, 16)) values[k++] = z;
  let mean = 0;
  for (const z of values) mean += z / n;
  let squares = 0;
  for (const z of values) squares += (z - mean) ** 2;
  // mean ~ N(0, 1/n): |mean| ≤ 4.5/√n fails with probability 7·10^-6.
  assert.ok(Math.abs(mean) <= 4.5 / Math.sqrt(n), `mean ${mean}`);
  // Σ (z − z̄)² ~ χ²_{n−1}: both tails below 2.5·10^-6.
  const p = chiSquarePValue(squares, n - 1);
  assert.ok(p > 2.5e-6 && p < 1 - 2.5e-6, `variance ${squares / (n - 1)}, P(χ² ≥ X) = ${p}`);
  const edges = [-Infinity, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, Infinity];
  const counts = new Array(edges.length - 1).fill(0);
  for (const z of values) counts[edges.findIndex((edge, i) => z >= edge && z < edges[i + 1])]++;
  const probabilities = counts.map((_, i) => normalCdf(edges[i + 1]) - normalCdf(edges[i]));
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts, probabilities);
  const pBins = chiSquarePValue(statistic, degreesOfFreedom);
  assert.ok(pBins > 1e-5, `bins ${counts.join(", ")}: X² = ${statistic}, p = ${pBins}`);
});

// ── The kernels' bounds against float32 emulations ──────────────────────────────────────────────

const f = Math.fround;

/**
 * shaders/train_smoothness_loss.wgsl's arithmetic for one member, every operation rounded to
 * float32 in the kernel's order (one legal evaluation: the bound must hold for it).
 */
function emulateLossKernel(
  q: Float32Array,
  A: number,
  actions: readonly number[],
  targets: Float32Array,
  weights: SmoothnessWeights,
  huber: boolean,
  delta: number,
): { dq: Float64Array; lossRows: Float64Array } {
  const B = actions.length;
  const gradScale = f(huber ? 1 / B : 2 / B);
  const scales = [f((2 * weights.state) / B), f((2 * weights.transition) / B)];
  const dq = new Float64Array(3 * B * A);
  const lossRows = new Float64Array(3 * B);
  for (let b = 0; b < B; b++) {
    const d = f(q[b * A + actions[b]] - targets[b]);
    let value: number;
    let slope: number;
    if (huber) {
      value = Math.abs(d) <= delta ? f(f(0.5 * d) * d) : f(delta * f(Math.abs(d) - f(0.5 * delta)));
      slope = f(gradScale * Math.min(delta, Math.max(-delta, d)));
    } else {
      value = f(d * d);
      slope = f(gradScale * d);
    }
    const g: number[][] = [];
    [B + b, 2 * B + b].forEach((r, x) => {
      const ds = Array.from({ length: A }, (_, a) => f(q[r * A + a] - q[b * A + a]));
      const mean = f(ds.reduce((s, v) => f(s + v), 0) / A);
      const centred = ds.map((v) => f(v - mean));
      lossRows[r] = centred.reduce((s, v) => f(s + f(v * v)), 0);
      const centre = f(centred.reduce((s, v) => f(s + v), 0) / A);
      g.push(centred.map((v) => f(scales[x] * f(v - centre))));
    });
    lossRows[b] = value;
    for (let a = 0; a < A; a++) {
      dq[b * A + a] = f((a === actions[b] ? slope : 0) - f(g[0][a] + g[1][a]));
      dq[(B + b) * A + a] = g[0][a];
      dq[(2 * B + b) * A + a] = g[1][a];
    }
  }
  return { dq, lossRows };
}

test("the loss kernel's bound holds for a float32 emulation of the kernel, and is tight enough to matter", () => {
  let worst = 0;
  fc.assert(
    fc.property(
      fc.record({
        B: fc.integer({ min: 1, max: 6 }),
        A: fc.integer({ min: 2, max: 6 }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        state: fc.double({ min: 0, max: 5, noNaN: true }),
        transition: fc.double({ min: 0, max: 5, noNaN: true }),
        huber: fc.boolean(),
        // Q at s + ε close to Q(s) (σ small), or not.
        near: fc.constantFrom(1e-3, 1),
      }),
      ({ B, A, seed, state, transition, huber, near }) => {
        let x = seed;
        const next = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 6 - 3;
        const q = new Float32Array(3 * B * A);
        for (let b = 0; b < B; b++)
          for (let a = 0; a < A; a++) {
            q[b * A + a] = f(next());
            q[(B + b) * A + a] = f(q[b * A + a] + near * next());
            q[(2 * B + b) * A + a] = f(next());
          }
        const actions = Array.from({ length: B }, () => Math.floor(((next() + 3) / 6) * A) % A);
        const targets = Float32Array.from({ length: B }, next);
        const input = {
          q,
          actionCount: A,
          actions,
          targets,
          weights: { state, transition },
          loss: huber ? ({ loss: "huber", huberDelta: 1 } as const) : {},
        };
        const exact = smoothnessStep(input);
        const bound = smoothnessStepBound(input);
        const emulated = emulateLossKernel(q, A, actions, targets, { state, transition }, huber, 1);
        for (const key of ["dq", "lossRows"] as const)
          emulated[key].forEach((value, k) => {
            const error = Math.abs(value - exact[key][k]);
            assert.ok(error <= bound[key][k], `${key}[${k}]: emulated ${value}, exact ${exact[key][k]}, bound ${bound[key][k]}`);
            if (error > 0) worst = Math.max(worst, error / bound[key][k]);
          });
      },
    ),
    { numRuns: 300 },
  );
  // The bound is not vacuous: somewhere the emulation's error uses a fair part of it.
  assert.ok(worst > 1e-3, `the largest error / bound is ${worst}`);
});

test("the perturbed state's bound holds for a float32 emulation of the noise kernel with the worst legal functions", () => {
  // The emulation rounds every operation to float32 and moves log, sqrt, cos and sin by their full
  // WGSL allowance (in the direction that moves z away from the exact value), so it is the worst
  // legal kernel the bound claims to cover.
  let checked = 0;
  for (let row = 0; row < 40; row++) {
    const state = Float32Array.from({ length: 9 }, (_, i) => f(Math.sin(row * 9 + i) * 2));
    const sigma = 0.01;
    const { value, bound } = perturbedState(77, 3, row, state, sigma);
    for (let j = 0; 4 * j < 9; j++) {
      const words = philox4x32([row, 3, 0, 0x80000000 + j], [77, 0]);
      for (let pair = 0; pair < 2; pair++) {
        const u = uniformFromPhilox(words[2 * pair]);
        const v = uniformFromPhilox(words[2 * pair + 1]);
        const w = f(1 - u);
        const log = Math.log(w);
        const logAllowance = Math.max(2 ** -21, 3 * 2 ** -23 * Math.abs(log));
        for (const direction of [-1, 1]) {
          const logHat = f(log + direction * logAllowance);
          const t = Math.max(f(-2 * logHat), 0);
          const r = f(Math.sqrt(t) * (1 + direction * 9 * 2 ** -24));
          const theta = f(PI_BELOW * f(2 * v - 1));
          const trig = [f(Math.cos(theta) + direction * 2 ** -11), f(Math.sin(theta) + direction * 2 ** -11)];
          trig.forEach((c, k) => {
            const i = 4 * j + 2 * pair + k;
            if (i >= 9) return;
            const z = f(r * c);
            const out = f(state[i] + f(f(sigma) * z));
            assert.ok(Math.abs(out - value[i]) <= bound[i], `row ${row} input ${i}: emulated ${out}, exact ${value[i]}, bound ${bound[i]}`);
            checked++;
          });
        }
      }
    }
    // The bound is small against σ: at most σ (2^-11 · 5.8 + a few 10^-4) plus the state's rounding.
    for (let i = 0; i < 9; i++) assert.ok(bound[i] < sigma * 5e-3 + 4 * 2 ** -24 * (Math.abs(state[i]) + 0.1), `bound[${i}] = ${bound[i]}`);
  }
  assert.equal(checked, 40 * 9 * 2);
});
