import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { incrementalSumUpdate, incrementalSumUpdateF32, type IncrementalPush } from "../../src/stack/incremental-sums.ts";
import { mlpReference, stackLogitsReference, gammaBound } from "../../src/stack/reference.ts";
import { pmdRates, pmdStep, type PmdNormalization, type PmdVariant } from "../../src/pmd/coefficients.ts";
import { StaqInputError } from "../../src/errors.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

test("incremental sums by hand: M = 2, E = 1, one state, two actions, a push that drops the oldest", () => {
  // Linear networks on the one-input state s = 1: Q(s) = weight + bias.
  const spec: MlpSpec = { inputs: 1, hidden: [], outputs: 2 };
  const net = (q0: number, q1: number): MlpWeights => ({ layers: [{ weight: Float32Array.of(q0, q1), bias: Float32Array.of(0, 0) }] });
  const Q1 = [2, -4];
  const Q2 = [6, 0];
  const Q3 = [-8, 4];
  const state = [1];
  const options = { eta: 1, memory: 2, variant: "corrected" as const };

  // Push 1, τ = 1: α = 1/2, β = 1/2; c = [1/2]. S1 = β·0 + α·Q1 = [1, −2].
  let s = incrementalSumUpdate([0, 0], { alpha: 0.5, beta: 0.5, entering: [Q1] });
  assert.deepEqual(Array.from(s), [1, -2]);
  // Push 2, τ = 1: c = [1/4, 1/2]. S2 = ½·[1, −2] + ½·[6, 0] = [3.5, −1] (= ¼·Q1 + ½·Q2).
  s = incrementalSumUpdate(s, { alpha: 0.5, beta: 0.5, entering: [Q2] });
  assert.deepEqual(Array.from(s), [3.5, -1]);
  // Push 3, τ = 3: α = 1/4, β = 1/4, the ring is full: Q1 leaves with its coefficient *before* the
  // push, 1/4. S2 − ¼·Q1 = [3, 0]; × ¼ = [0.75, 0]; + ¼·Q3 = [−2, 1]: S3 = [−1.25, 1].
  // Full: pmdStep([¼, ½]) = [⅛, ¼], ⅛·Q2 + ¼·Q3 = [0.75, 0] + [−2, 1] = [−1.25, 1].
  // (Dropping the scaled coefficient β·¼ = 1/16 instead would give [−1.15625, 0.8125].)
  const push3: IncrementalPush = { alpha: 0.25, beta: 0.25, entering: [Q3], leaving: { q: [Q1], coefficients: [0.25] } };
  const s3 = incrementalSumUpdate(s, push3);
  assert.deepEqual(Array.from(s3), [-1.25, 1]);

  const c = pmdStep(pmdStep(pmdStep(new Float64Array(0), { ...options, tau: 1 }).coefficients, { ...options, tau: 1 }).coefficients, {
    ...options,
    tau: 3,
  });
  assert.deepEqual(Array.from(c.coefficients), [0.125, 0.25]);
  // Weight-corrected: correction = 1/(1 − β^M) = 1/(1 − 1/16) = 16/15; ξ = 16/15 · S3.
  assert.equal(c.correction, 16 / 15);
  const full = stackLogitsReference(
    { spec, snapshots: [[net(6, 0), net(-8, 4)]], coefficients: [c.coefficients], correction: c.correction },
    state,
    1,
  );
  assert.deepEqual(Array.from(full.logits), [(-1.25 * 16) / 15, 16 / 15]);

  // Every number above is a short binary fraction, so float32 gets them exactly too.
  const f32 = incrementalSumUpdateF32(Float32Array.from(s), push3);
  assert.deepEqual(Array.from(f32.sums), [-1.25, 1]);
});

test("two members: the dropped and the new term are means over members", () => {
  // S = 3; leaving c = [1, 2], Q_old = [4, −1] → mean c·Q = (4 − 2)/2 = 1; new Q = [2, 6] → mean 4.
  // β = 0.5, α = 0.25: 0.5·(3 − 1) + 0.25·4 = 2.
  const push: IncrementalPush = { alpha: 0.25, beta: 0.5, entering: [[2], [6]], leaving: { q: [[4], [-1]], coefficients: [1, 2] } };
  assert.deepEqual(Array.from(incrementalSumUpdate([3], push)), [2]);
  assert.deepEqual(Array.from(incrementalSumUpdateF32(Float32Array.of(3), push).sums), [2]);
});

test("mismatched shapes are errors", () => {
  assert.throws(() => incrementalSumUpdate([0, 0], { alpha: 1, beta: 0, entering: [[1]] }), StaqInputError);
  assert.throws(
    () => incrementalSumUpdate([0], { alpha: 1, beta: 0, entering: [[1]], leaving: { q: [[1], [2]], coefficients: [1, 1] } }),
    StaqInputError,
  );
  assert.throws(() => incrementalSumUpdate([0], { alpha: 1, beta: 0, entering: [] }), StaqInputError);
});

test("incremental sums equal the full recompute over random stacks, τ schedules and ring wrap-around", () => {
  // float64: the incremental and the full sums are the same exact quantity computed in two orders;
  // each push adds a few ulps (2^-53) of the magnitudes in play and multiplies the earlier error by
  // β ≤ 2/2.05, so the difference stays below ~10·2^-53·41 ≈ 5e-14 of the largest mass
  // mean_e Σ_i |c Q| seen: 1e-12 of it leaves margin and still catches a wrong coefficient.
  //
  // float32 (emulated, in the GPU's order): |Ŝ_k − S_k| ≤ B_k, the running bound pushErrorBound
  // carries (B_{k+1} ≤ β_k(1 + 2γ_4) B_k + λ_k), and in closed form (docs/algorithm.md,
  // “Incremental logits”) B_k ≤ max λ / (1 − max β (1 + 2γ_4)) with
  //   λ_k = γ_{E+8} (β_k |Ŝ_k| + β_k mean_e |c_old Q_old| + α_k mean_e |Q_new|) + (6E + 5)·2^-126.
  // The comparison adds the float64 reference's own error, 1e-12 of the mass as above, which is
  // below γ_{E+8}·α|Q_new| by orders of magnitude.
  fc.assert(
    fc.property(
      fc.record({
        inputs: fc.integer({ min: 1, max: 3 }),
        hidden: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 1 }),
        outputs: fc.integer({ min: 1, max: 4 }),
        members: fc.integer({ min: 1, max: 2 }),
        memory: fc.integer({ min: 1, max: 6 }),
        batch: fc.integer({ min: 1, max: 3 }),
        eta: fc.double({ min: 0, max: 2, noNaN: true }),
        taus: fc.array(fc.double({ min: 0.05, max: 2, noNaN: true }), { minLength: 1, maxLength: 16 }),
        variant: fc.constantFrom<PmdVariant>("vanilla", "corrected"),
        normalization: fc.constantFrom<PmdNormalization>("memory", "sum"),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      }),
      ({ inputs, hidden, outputs, members, memory, batch, eta, taus, variant, normalization, seed }) => {
        const spec: MlpSpec = { inputs, hidden, outputs };
        const states = randomStates(batch, inputs, seed);
        const size = batch * outputs;
        const qOf = (weights: MlpWeights): Float64Array => {
          const q = new Float64Array(size);
          for (let b = 0; b < batch; b++)
            q.set(mlpReference(spec, weights, states.subarray(b * inputs, (b + 1) * inputs)).value, b * outputs);
          return q;
        };
        // [member][i] oldest first, as the ring's slots in age order.
        const snapshots: MlpWeights[][] = Array.from({ length: members }, () => []);
        const qs: Float64Array[][] = Array.from({ length: members }, () => []);
        let coefficients: Float64Array = new Float64Array(0);
        let sums64: Float64Array = new Float64Array(size);
        let sums32: Float32Array = new Float32Array(size);
        let bound: Float64Array = new Float64Array(size);
        const maxMass = new Float64Array(size);
        const maxDelta = new Float64Array(size);
        let maxBeta = 0;
        const gamma = gammaBound(members + 8);

        taus.forEach((tau, k) => {
          const options = { eta, tau, memory, variant, normalization };
          const { alpha, beta } = pmdRates(eta, tau);
          const fresh = Array.from({ length: members }, (_, e) => randomSnapshots(spec, 1, seed + 104729 * (k + 1) + 7919 * e)[0]);
          const enteringQ = fresh.map(qOf);
          const full = coefficients.length === memory;
          const push: IncrementalPush = {
            alpha,
            beta,
            entering: enteringQ,
            leaving: full ? { q: qs.map((q) => q[0]), coefficients: Array.from({ length: members }, () => coefficients[0]) } : undefined,
          };

          // δ_k from the computed Ŝ_k, for the closed-form bound.
          for (let j = 0; j < size; j++) {
            let dropped = 0;
            let entering = 0;
            for (let e = 0; e < members; e++) {
              if (full) dropped += Math.abs(coefficients[0] * qs[e][0][j]);
              entering += Math.abs(enteringQ[e][j]);
            }
            const delta =
              gamma * (beta * Math.abs(sums32[j]) + (beta * dropped + alpha * entering) / members) + (6 * members + 5) * 2 ** -126;
            maxDelta[j] = Math.max(maxDelta[j], delta);
          }
          maxBeta = Math.max(maxBeta, beta);

          sums64 = incrementalSumUpdate(sums64, push);
          const f32 = incrementalSumUpdateF32(sums32, push, bound);
          sums32 = f32.sums;
          bound = f32.bound;

          const next = pmdStep(coefficients, options);
          coefficients = next.coefficients;
          for (let e = 0; e < members; e++) {
            snapshots[e].push(fresh[e]);
            qs[e].push(enteringQ[e]);
            if (full) {
              snapshots[e].shift();
              qs[e].shift();
            }
          }
          assert.equal(snapshots[0].length, coefficients.length);

          const perMember = Array.from({ length: members }, () => coefficients);
          const reference = stackLogitsReference({ spec, snapshots, coefficients: perMember, correction: 1 }, states, batch).logits;
          const logits = stackLogitsReference(
            { spec, snapshots, coefficients: perMember, correction: next.correction },
            states,
            batch,
          ).logits;
          for (let j = 0; j < size; j++) {
            let mass = 0;
            for (let e = 0; e < members; e++) for (let i = 0; i < coefficients.length; i++) mass += Math.abs(coefficients[i] * qs[e][i][j]);
            maxMass[j] = Math.max(maxMass[j], mass / members);
            const f64Error = 1e-12 * maxMass[j];
            const where = `push ${k}, element ${j}`;
            assert.ok(Math.abs(sums64[j] - reference[j]) <= f64Error, `${where}: float64 ${sums64[j]} vs full ${reference[j]}`);
            assert.ok(
              Math.abs(next.correction * sums64[j] - logits[j]) <= next.correction * f64Error,
              `${where}: ξ = correction · S ${next.correction * sums64[j]} vs ${logits[j]}`,
            );
            const drift = Math.abs(sums32[j] - reference[j]);
            assert.ok(drift <= bound[j] + f64Error, `${where}: float32 drift ${drift} > bound ${bound[j]}`);
            const closed = maxDelta[j] / (1 - maxBeta * (1 + 2 * gammaBound(4)));
            assert.ok(bound[j] <= closed * (1 + 1e-12), `${where}: running bound ${bound[j]} > closed form ${closed}`);
          }
        });
      },
    ),
    { numRuns: 200 },
  );
});
