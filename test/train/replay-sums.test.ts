// The replay buffer's incremental sums (src/train/replay-sums.ts; docs/algorithm.md, “Incremental
// logits”) on the GPU:
// - by hand, with linear networks whose every number is a short binary fraction, so that the GPU's
//   float32 gets them exactly: the pushes' updates, rows filled by an evaluation, rows filled from
//   acting logits with the correction divided out, the drop order, and the kept sums really used;
// - a fast-check property over random stacks, τ schedules and ring wrap-around, against the
//   float64 full recompute, within a bound tracked per row in float64 across the sequence;
// - `full: true` bit for bit the stack's own evaluation, and the incremental path going on from it;
// - an exact resume from `read()` / `restore(contents, { stack })`, and the full recompute after
//   a restore without a stack;
// - bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createBuffer, poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { pmdRates, type PmdNormalization, type PmdVariant } from "../../src/pmd/coefficients.ts";
import { createActor, type Actor } from "../../src/policy/actor.ts";
import { pushErrorBound } from "../../src/stack/incremental-sums.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { F32_MIN_NORMAL, gammaBound, stackLogitsReference } from "../../src/stack/reference.ts";
import { createStack, type Stack, type StackOptions } from "../../src/stack/stack.ts";
import { encodeStackLogits } from "../../src/stack/stack-logits.ts";
import { createReplayBuffer, type ReplayBuffer, type ReplayContents, type Transitions } from "../../src/train/replay-buffer.ts";
import type { NextLogits } from "../../src/train/replay-sums.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

const gpu = await testGpu();

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

/** `count` transitions whose next states are `nextObs` ([count × inputs]); the rest does not matter here. */
function transitionsTo(nextObs: Float32Array, inputs: number): Transitions {
  const count = nextObs.length / inputs;
  return {
    obs: new Float32Array(count * inputs),
    nextObs,
    actions: new Array(count).fill(0),
    rewards: new Array(count).fill(0),
    terminated: new Array(count).fill(false),
  };
}

/** Poisons what a precompute writes (so a row it skips cannot pass), runs it and reads logits, sums, probs and entropy. */
async function precomputeAndRead(replay: ReplayBuffer, stack: Stack, full = false) {
  for (const buffer of [replay.buffers.logits, replay.buffers.probs, replay.buffers.entropy]) poisonBuffer(gpu, buffer);
  await replay.precomputePolicy(stack, { full });
  const n = replay.size * replay.actionCount;
  const [logits, sums, probs, entropy] = await Promise.all([
    readFloat32(gpu, replay.buffers.logits, 0, n),
    readFloat32(gpu, replay.buffers.sums, 0, n),
    readFloat32(gpu, replay.buffers.probs, 0, n),
    readFloat32(gpu, replay.buffers.entropy, 0, replay.size),
  ]);
  return { logits, sums, probs, entropy };
}

/** Rows of a flat [rows × width] array, −0 read as 0 (the literals below do not tell them apart). */
function rowsOf(values: Float32Array, width = 2): number[][] {
  return Array.from({ length: values.length / width }, (_, r) => Array.from(values.subarray(r * width, (r + 1) * width), (x) => x + 0));
}

// ---------------------------------------------------------------------------------------------
// 1. By hand.

const HAND: MlpSpec = { inputs: 1, hidden: [], outputs: 2 };
/** A linear network with Q(s) = s · (q0, q1): Q(1) = (q0, q1) and Q(2) = (2q0, 2q1). */
const net = (q0: number, q1: number): MlpWeights => ({ layers: [{ weight: Float32Array.of(q0, q1), bias: Float32Array.of(0, 0) }] });
/** Transitions to the one-input next states `states`. */
const to = (...states: number[]) => transitionsTo(Float32Array.from(states), 1);
/** A buffer of acting logits, [rows × 2], written by hand (the actor's `keepLogits` buffer). */
function actingBuffer(rows: number): GPUBuffer {
  return createBuffer(gpu, rows * 2 * 4, STORAGE, "test acting logits");
}
const setActing = (buffer: GPUBuffer, row: number, q0: number, q1: number) => gpu.writeBuffer(buffer, row * 8, Float32Array.of(q0, q1));
const acted = (buffer: GPUBuffer, stack: Stack, ...rows: number[]): { nextLogits: NextLogits } => ({
  nextLogits: { buffer, rows: Int32Array.from(rows), stack, version: stack.version },
});

// Every number below is a short binary fraction: the coefficients (α, β ∈ {1/2, 1/4, 3/4}), the
// Q-values and all their sums and products are exact in float32, so the GPU must give these
// literals exactly, whatever the order of its additions. The arithmetic is in the comments.

test("by hand, vanilla, M = 2, E = 1: pushes, pending rows evaluated, acting logits copied, stale ones not, the drop order", async () => {
  const stack = createStack(gpu, { mlp: HAND, memory: 2, eta: 1, tau: 1, variant: "vanilla" }); // correction 1: ξ = S
  const replay = createReplayBuffer(gpu, { capacity: 6, inputs: 1, actions: 2 });
  const acting = actingBuffer(4);
  // Q1(1) = [2, −4], Q2(1) = [6, 0], Q3(1) = [−8, 4], Q4(1) = [1, 3]; at s' = 2 all doubled.

  // Rows 0, 1: s' = 1; row 2: s' = 2. The stack is empty: ξ = 0 (the uniform policy), S = 0.
  replay.add(to(1, 1, 2));
  let r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [0, 0],
    [0, 0],
    [0, 0],
  ]);
  assert.deepEqual(rowsOf(r.sums), rowsOf(r.logits));

  // Push 1 (τ = 1: α = 1/(1+1) = 1/2, β = 1/2; nothing leaves): S ← ½·0 + ½·Q1, c = [1/2].
  // S(1) = [1, −2], S(2) = [2, −4].
  await replay.followPush(stack, 1, () => stack.push(net(2, -4), { tau: 1 }));
  // Row 3 (s' = 1) with the actor's logits of version 1, ξ(1) = [1, −2], in acting row 0; row 4
  // (s' = 2) with −1 (no acting logits): evaluated.
  setActing(acting, 0, 1, -2);
  replay.add(to(1, 2), acted(acting, stack, 0, -1));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [1, -2],
    [1, -2],
    [2, -4],
    [1, -2],
    [2, -4],
  ]);
  assert.deepEqual(rowsOf(r.sums), rowsOf(r.logits));

  // Row 5 (s' = 1) is added with the acting logits of version 1, [1, −2] (acting row 1)...
  setActing(acting, 1, 1, -2);
  replay.add(to(1), acted(acting, stack, 1));
  // ...then push 2 (τ = 1, α = β = 1/2, ring not yet full): S ← ½·S + ½·Q2, c = [1/4, 1/2].
  // S(1) = ½[1, −2] + ½[6, 0] = [0.5, −1] + [3, 0] = [3.5, −1]  (= ¼Q1 + ½Q2 = [0.5, −1] + [3, 0]);
  // S(2) = [7, −2].
  await replay.followPush(stack, 1, () => stack.push(net(6, 0), { tau: 1 }));
  // The ring wraps: row 0 becomes s' = 2, no acting logits (evaluated).
  replay.add(to(2));
  assert.equal(replay.next, 1);
  r = await precomputeAndRead(replay, stack);
  // Row 5's acting logits are of version 1, the stack is at version 2: it is evaluated, [3.5, −1]
  // (copying the stale logits would have left [1, −2]).
  assert.deepEqual(rowsOf(r.logits), [
    [7, -2],
    [3.5, -1],
    [7, -2],
    [3.5, -1],
    [7, -2],
    [3.5, -1],
  ]);
  assert.deepEqual(rowsOf(r.sums), rowsOf(r.logits));

  // Push 3, τ = 3: α = β = 1/(1+3) = 1/4; the ring is full, Q1 leaves with its coefficient before
  // the push, 1/4: S ← ¼·(S − ¼·Q1) + ¼·Q3.
  // S(1) = ¼([3.5, −1] − [0.5, −1]) + [−2, 1] = ¼[3, 0] + [−2, 1] = [−1.25, 1]; S(2) = [−2.5, 2].
  // Full: c = [β·½, ¼] = [⅛, ¼], ⅛·Q2 + ¼·Q3 = [0.75, 0] + [−2, 1] = [−1.25, 1].
  // Dropping the scaled coefficient β·¼ = 1/16 before scaling would give ¼([3.5, −1] − [0.125, −0.25])
  // + [−2, 1] = [−1.15625, 0.8125]; dropping the unscaled ¼ after scaling, ¼[3.5, −1] − ¼[2, −4] +
  // [−2, 1] = [−1.625, 1.75].
  await replay.followPush(stack, 3, () => stack.push(net(-8, 4), { tau: 3 }));
  // Row 1 becomes s' = 2, with the actor's logits of version 3: ξ(2) = [−2.5, 2] (acting row 2).
  setActing(acting, 2, -2.5, 2);
  replay.add(to(2), acted(acting, stack, 2));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [-2.5, 2],
    [-2.5, 2],
    [-2.5, 2],
    [-1.25, 1],
    [-2.5, 2],
    [-1.25, 1],
  ]);
  assert.deepEqual(rowsOf(r.sums), rowsOf(r.logits));
  assert.deepEqual(rowsOf(await replay.readSums([5, 1])), [
    [-1.25, 1],
    [-2.5, 2],
  ]);

  // The kept sums are what the incremental path uses (a white-box check, since every path gives
  // the same exact values above): row 3's sums set to a marker [100, 200] come out as its logits...
  gpu.writeBuffer(replay.buffers.sums, 3 * 8, Float32Array.of(100, 200));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits)[3], [100, 200]);
  // ...and push 4 updates them: τ = 1, α = β = ½, Q2 leaves with c = ⅛.
  // Row 3: ½([100, 200] − ⅛[6, 0]) + ½[1, 3] = ½[99.25, 200] + [0.5, 1.5] = [50.125, 101.5].
  // Other s' = 1 rows: ½([−1.25, 1] − [0.75, 0]) + [0.5, 1.5] = [−1, 0.5] + [0.5, 1.5] = [−0.5, 2]
  // (full: c = [¼·½, ½] = [⅛, ½], ⅛[−8, 4] + ½[1, 3] = [−1, 0.5] + [0.5, 1.5]); s' = 2: [−1, 4].
  await replay.followPush(stack, 1, () => stack.push(net(1, 3), { tau: 1 }));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [-1, 4],
    [-1, 4],
    [-1, 4],
    [50.125, 101.5],
    [-1, 4],
    [-0.5, 2],
  ]);
  // The full recompute evaluates every snapshot again and replaces the marker.
  r = await precomputeAndRead(replay, stack, true);
  assert.deepEqual(rowsOf(r.logits)[3], [-0.5, 2]);
  assert.deepEqual(rowsOf(r.sums)[3], [-0.5, 2]);
  acting.destroy();
  replay.destroy();
  stack.destroy();
});

test("by hand, vanilla, M = 2, E = 2: the dropped and the new term are means over the members", async () => {
  const stack = createStack(gpu, { mlp: HAND, memory: 2, ensemble: 2, eta: 1, tau: 1, variant: "vanilla" });
  const replay = createReplayBuffer(gpu, { capacity: 3, inputs: 1, actions: 2 });
  const acting = actingBuffer(2);
  // Member 0: Q1 = [2, −4], Q2 = [6, 0], Q3 = [−8, 4]; member 1: P1 = [0, 2], P2 = [−2, 4], P3 = [4, 0] (at s' = 1).
  // Means: (Q1 + P1)/2 = [1, −1], (Q2 + P2)/2 = [2, 2], (Q3 + P3)/2 = [−2, 2].
  replay.add(to(1, 2));
  let r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [0, 0],
    [0, 0],
  ]);

  // Push 1 (α = β = ½): S = ½·[1, −1] = [0.5, −0.5]; S(2) = [1, −1].
  await replay.followPush(stack, 1, () => stack.push([net(2, -4), net(0, 2)], { tau: 1 }));
  // Row 2 (s' = 1) from acting logits of version 1: [0.5, −0.5].
  setActing(acting, 1, 0.5, -0.5);
  replay.add(to(1), acted(acting, stack, 1));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [0.5, -0.5],
    [1, -1],
    [0.5, -0.5],
  ]);

  // Push 2 (α = β = ½): S = ½[0.5, −0.5] + ½[2, 2] = [0.25, −0.25] + [1, 1] = [1.25, 0.75]; S(2) = [2.5, 1.5].
  await replay.followPush(stack, 1, () => stack.push([net(6, 0), net(-2, 4)], { tau: 1 }));
  replay.add(to(2)); // row 0 overwritten, s' = 2 → evaluated
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [2.5, 1.5],
    [2.5, 1.5],
    [1.25, 0.75],
  ]);

  // Push 3 (τ = 3: α = β = ¼), the ring is full: D = mean_e c_e·Q_{e,1} with c_e = ¼ (before the
  // push) = ¼[1, −1] = [0.25, −0.25]; N = ¼·[−2, 2] = [−0.5, 0.5].
  // S = ¼([1.25, 0.75] − [0.25, −0.25]) + [−0.5, 0.5] = ¼[1, 1] + [−0.5, 0.5] = [−0.25, 0.75]; S(2) = [−0.5, 1.5].
  // Full: c = [⅛, ¼]: ⅛[2, 2] + ¼[−2, 2] = [0.25, 0.25] + [−0.5, 0.5] = [−0.25, 0.75].
  // Dropping β·¼ = 1/16 instead: ¼([1.25, 0.75] − [0.0625, −0.0625]) + [−0.5, 0.5] = [−0.203125, 0.703125].
  await replay.followPush(stack, 3, () => stack.push([net(-8, 4), net(4, 0)], { tau: 3 }));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [-0.5, 1.5],
    [-0.5, 1.5],
    [-0.25, 0.75],
  ]);
  assert.deepEqual(rowsOf(r.sums), rowsOf(r.logits));
  acting.destroy();
  replay.destroy();
  stack.destroy();
});

test("by hand, weight-corrected, M = 1: acting logits enter with the correction divided out, and the latest correction multiplies S", async () => {
  // M = 1, η = 1: correction = 1/(1 − β), β = 1/(1 + τ). τ = 1: α = β = ½, correction 2;
  // τ = 1/3: α = β = 1/(1 + 1/3) = ¾, correction 1/(1 − ¾) = 4. All powers of two or short fractions.
  const stack = createStack(gpu, { mlp: HAND, memory: 1, eta: 1, tau: 1, variant: "corrected", normalization: "memory" });
  const replay = createReplayBuffer(gpu, { capacity: 5, inputs: 1, actions: 2 });
  const acting = actingBuffer(3);
  replay.add(to(1, 2));
  let r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.logits), [
    [0, 0],
    [0, 0],
  ]);

  // Push 1 (τ = 1): c = [½], correction 2. S(1) = ½Q1 = [1, −2], ξ(1) = [2, −4]; S(2) = [2, −4], ξ(2) = [4, −8].
  await replay.followPush(stack, 1, () => stack.push(net(2, -4), { tau: 1 }));
  assert.equal(stack.correction, 2);
  // Rows 2 (s' = 1) and 3 (s' = 2) with the stack's logits as the actor computed them: [2, −4] and
  // [4, −8]; copied as S = ξ · ½: [1, −2] and [2, −4].
  setActing(acting, 0, 2, -4);
  setActing(acting, 1, 4, -8);
  // Row 4 (s' = 1) gets acting logits that are *not* the stack's, [10, 6] (a white-box marker: an
  // evaluation would give [2, −4]): they must be what the copy takes, S = [5, 3].
  setActing(acting, 2, 10, 6);
  replay.add(to(1, 2, 1), acted(acting, stack, 0, 1, 2));
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.sums), [
    [1, -2],
    [2, -4],
    [1, -2],
    [2, -4],
    [5, 3],
  ]);
  assert.deepEqual(rowsOf(r.logits), [
    [2, -4],
    [4, -8],
    [2, -4],
    [4, -8],
    [10, 6],
  ]);

  // Push 2 (τ = 1/3): α = β = ¾; Q1 leaves with c = ½ (before the push); correction becomes 4.
  // S(1) = ¾([1, −2] − ½[2, −4]) + ¾[6, 0] = ¾[0, 0] + [4.5, 0] = [4.5, 0], ξ(1) = 4·S = [18, 0];
  // S(2) = [9, 0], ξ(2) = [36, 0]. Row 4: ¾([5, 3] − [1, −2]) + [4.5, 0] = [3, 3.75] + [4.5, 0] =
  // [7.5, 3.75], ξ = [30, 15].
  // Dropping β·½ = 3/8 before scaling would give S(1) = ¾[0.25, −0.5] + [4.5, 0] = [4.6875, −0.375]
  // (ξ = [18.75, −1.5]); keeping the old correction 2, ξ(1) = [9, 0].
  await replay.followPush(stack, 1 / 3, () => stack.push(net(6, 0), { tau: 1 / 3 }));
  assert.equal(stack.correction, 4);
  r = await precomputeAndRead(replay, stack);
  assert.deepEqual(rowsOf(r.sums), [
    [4.5, 0],
    [9, 0],
    [4.5, 0],
    [9, 0],
    [7.5, 3.75],
  ]);
  assert.deepEqual(rowsOf(r.logits), [
    [18, 0],
    [36, 0],
    [18, 0],
    [36, 0],
    [30, 15],
  ]);
  acting.destroy();
  replay.destroy();
  stack.destroy();
});

// ---------------------------------------------------------------------------------------------
// 2. Against the float64 full recompute, with a bound tracked per element.
//
// Notation: S the exact raw sums of the stack as it is, ξ = corr·S its logits, b_ξ the bound of
// `stackLogitsReference` on |ξ̂ − ξ| for a float32 evaluation (any split of the work), γ_n from
// `gammaBound`, u = 2^-24, and 2^-126 for each operation that may underflow (WGSL may flush).
// B is a bound on |Ŝ − S| for one element of the sums buffer:
//
// - a row filled from a stack evaluation ξ̂ (the full path, the gathered evaluation of pending rows,
//   or acting logits: all are stack_forward evaluations of the same stack on the same state), as
//   Ŝ = fl(ξ̂ · fl(1/corr)) (copy_rows.wgsl): two roundings, so Ŝ = (ξ̂/corr)(1 + θ), |θ| ≤ γ_2, and
//   Ŝ − S = (ξ̂ − ξ)(1 + θ)/corr + θ S, plus 2^-126 if the product underflows:
//     B = (b_ξ/corr)(1 + γ_2) + γ_2 |S| + 2·2^-126;
//   the gather of the next states multiplies by 1, which is exact.
// - a followed push: B ← pushErrorBound({ β, previous: B, kept: |S − D|, droppedError: b_D, fresh:
//   |N|, freshError: b_N }) with D, N and their bounds b_D, b_N from `stackLogitsReference` of the
//   leaving (coefficients c_e before the push) or the new slot's E snapshots (coefficients α) with
//   correction 1: exactly the D̂ = Σ_e f32(c_e/E)·Q and N̂ = Σ_e f32(α/E)·Q the GPU evaluates
//   (src/stack/incremental-sums.ts derives the update's bound).
// - the incremental path writes ξ̂ = fl(fl(corr)·Ŝ) for every row: ξ̂ = corr(1 + θ)Ŝ, |θ| ≤ γ_2, and
//   ξ̂ − ξ = corr(1 + θ)(Ŝ − S) + θ ξ, plus 2^-126 if the product underflows:
//     |ξ̂ − ξ| ≤ corr(1 + γ_2) B + γ_2 |ξ| + 2·2^-126;
//   the full path writes the evaluation itself: |ξ̂ − ξ| ≤ b_ξ.
// The float64 reference rounds too: it follows the derivation of b_ξ with u = 2^-53 instead of
// 2^-24, so |ξ_ref − ξ| is below 2^-29 (1 + ε) times b_ξ's rounding terms; every comparison adds
// ε_ref = 2^-20 · b_ξ for it (and ε_ref/corr on S). Where float64 values enter B as magnitudes
// (|S|, |S − D|, |N|) they are multiplied by γ ≤ 2^-21, so their own float64 error is far below ε_ref.

const G2 = gammaBound(2);
const TINY = F32_MIN_NORMAL;
const REFERENCE_SLACK = 2 ** -20;

/** A replay buffer and a stack used together, with a float64 model of both and the bound B of every element. */
class Tracker {
  readonly capacity: number;
  readonly actions: number;
  readonly inputs: number;
  /** The model of the next states, [capacity × inputs]. */
  readonly nextObs: Float32Array;
  /** Rows added since the last precompute: their sums are not tracked. */
  readonly pending: boolean[];
  /** B per element of the sums, [capacity × actions], for rows not pending. */
  readonly bound: Float64Array;
  /** Per pending row, the stack version of its acting logits (−1: none). */
  readonly actingVersion: number[];
  /** What the sequence exercised: the test asserts that the paths it means to check ran. */
  readonly seen = { full: 0, incremental: 0, evaluated: 0, copied: 0, stale: 0, drops: 0 };
  /** [member][i] oldest first, as the stack holds them. */
  snapshots: MlpWeights[][];
  /** Whether the sums are current for the stack, as replay-sums.ts decides it: the next precompute is incremental. */
  current = false;
  size = 0;
  next = 0;

  constructor(
    readonly stack: Stack,
    readonly replay: ReplayBuffer,
    readonly label: string,
  ) {
    this.capacity = replay.capacity;
    this.actions = replay.actionCount;
    this.inputs = replay.inputs;
    this.nextObs = new Float32Array(this.capacity * this.inputs);
    this.pending = new Array(this.capacity).fill(false);
    this.actingVersion = new Array(this.capacity).fill(-1);
    this.bound = new Float64Array(this.capacity * this.actions);
    this.snapshots = Array.from({ length: stack.ensemble }, () => []);
  }

  private states(): Float32Array {
    return this.nextObs.subarray(0, this.size * this.inputs);
  }

  private contents(correction: number) {
    return { spec: this.stack.spec, snapshots: this.snapshots, coefficients: this.stack.coefficients, correction };
  }

  add(transitions: Transitions, options?: { nextLogits?: NextLogits }): void {
    this.replay.add(transitions, options);
    const count = transitions.actions.length;
    for (let j = 0; j < count; j++) {
      const row = this.next;
      this.nextObs.set(transitions.nextObs.subarray(j * this.inputs, (j + 1) * this.inputs), row * this.inputs);
      this.pending[row] = true;
      this.actingVersion[row] = options?.nextLogits && options.nextLogits.rows[j] >= 0 ? options.nextLogits.version : -1;
      this.next = (this.next + 1) % this.capacity;
    }
    this.size = Math.min(this.capacity, this.size + count);
    assert.equal(this.replay.size, this.size);
    assert.equal(this.replay.next, this.next);
  }

  /** A precompute (poisoned outputs first), checked element by element against the float64 reference. */
  async precompute(full = false, where = "") {
    const fullPath = full || !this.current;
    const result = await precomputeAndRead(this.replay, this.stack, full);
    const { actions, stack } = this;
    const corr = stack.correction;
    const reference = stackLogitsReference(this.contents(corr), this.states(), this.size);
    this.seen[fullPath ? "full" : "incremental"]++;
    for (let r = 0; r < this.size; r++) {
      if (!fullPath && this.pending[r]) {
        // Rows with acting logits of this version are copied, the others evaluated (replay-sums.ts).
        const version = this.actingVersion[r];
        if (version === stack.version) this.seen.copied++;
        else this.seen.evaluated++;
        if (version >= 0 && version !== stack.version) this.seen.stale++;
      }
      let probabilitySum = 0;
      for (let a = 0; a < actions; a++) {
        const i = r * actions + a;
        const xi = reference.logits[i];
        const b = reference.bound[i];
        const slack = REFERENCE_SLACK * b;
        const s = xi / corr;
        const evaluated = (b / corr) * (1 + G2) + G2 * Math.abs(s) + 2 * TINY;
        let logitBound: number;
        if (fullPath) {
          this.bound[i] = evaluated;
          logitBound = b + slack;
        } else {
          if (this.pending[r]) this.bound[i] = evaluated;
          logitBound = corr * (1 + G2) * this.bound[i] + G2 * Math.abs(xi) + 2 * TINY + slack;
        }
        // Messages are built only on failure: the checks run over every element of every precompute.
        const at = () => `${this.label}${where}: row ${r}, action ${a} (${fullPath ? "full" : "incremental"}, pending ${this.pending[r]})`;
        const logit = result.logits[i];
        if (!(Math.abs(logit - xi) <= logitBound)) {
          assert.fail(`${at()}: logit ${logit}, reference ${xi}, |Δ| ${Math.abs(logit - xi)} > ${logitBound}`);
        }
        const sum = result.sums[i];
        const sumBound = this.bound[i] + slack / corr;
        if (!(Math.abs(sum - s) <= sumBound)) assert.fail(`${at()}: sum ${sum}, reference ${s}, |Δ| ${Math.abs(sum - s)} > ${sumBound}`);
        const p = result.probs[i];
        if (!(Number.isFinite(p) && p >= 0 && p <= 1)) assert.fail(`${at()}: probability ${p}`);
        probabilitySum += p;
      }
      if (!(Math.abs(probabilitySum - 1) <= 1e-5)) assert.fail(`${this.label}${where}: row ${r}'s probabilities sum to ${probabilitySum}`);
      const h = result.entropy[r];
      if (!(Number.isFinite(h) && h >= -1e-6 && h <= Math.log(actions) + 1e-5))
        assert.fail(`${this.label}${where}: row ${r}'s entropy ${h}`);
    }
    this.pending.fill(false);
    this.current = true;
    return result;
  }

  /** `replay.followPush` around a push of `weights` with `tau`, and B updated by the push's bound. */
  async followPush(weights: MlpWeights[], tau: number): Promise<void> {
    const { stack, actions } = this;
    if (this.current && this.size > 0) {
      const { alpha, beta } = pmdRates(stack.pmd.eta, tau);
      const states = this.states();
      const before = stackLogitsReference(this.contents(1), states, this.size).logits; // S, exact (float64)
      const coefficients = stack.coefficients;
      const dropped =
        this.snapshots[0].length === stack.memory
          ? stackLogitsReference(
              {
                spec: stack.spec,
                snapshots: this.snapshots.map((s) => [s[0]]),
                coefficients: coefficients.map((c) => [c[0]]),
                correction: 1,
              },
              states,
              this.size,
            )
          : undefined;
      const fresh = stackLogitsReference(
        { spec: stack.spec, snapshots: weights.map((w) => [w]), coefficients: weights.map(() => [alpha]), correction: 1 },
        states,
        this.size,
      );
      if (dropped) this.seen.drops++;
      for (let r = 0; r < this.size; r++) {
        if (this.pending[r]) continue;
        for (let a = 0; a < actions; a++) {
          const i = r * actions + a;
          this.bound[i] = pushErrorBound({
            beta,
            previous: this.bound[i],
            kept: Math.abs(before[i] - (dropped?.logits[i] ?? 0)),
            droppedError: dropped?.bound[i] ?? 0,
            fresh: Math.abs(fresh.logits[i]),
            freshError: fresh.bound[i],
          });
        }
      }
    } else {
      // Not followed (replay-sums.ts only pushes): the next precompute recomputes everything.
      this.current = false;
    }
    await this.replay.followPush(stack, tau, () => stack.push(weights, { tau }));
    this.pushed(weights);
  }

  /** A push the replay buffer does not follow: its sums are stale, the next precompute is the full one. */
  plainPush(weights: MlpWeights[], tau: number): void {
    this.stack.push(weights, { tau });
    this.pushed(weights);
    this.current = false;
  }

  private pushed(weights: MlpWeights[]): void {
    weights.forEach((w, e) => {
      this.snapshots[e].push(w);
      if (this.snapshots[e].length > this.stack.memory) this.snapshots[e].shift();
    });
  }
}

/**
 * `count` random transitions; with `acting`, the actor acts on their next states (padded with other
 * states to a batch of `capacity`, so that every call has the same batch and compiles no new
 * kernel) keeping its logits in rows [base, base + capacity) of `buffer`, and the transitions that
 * `uses` picks take their row (the others −1: evaluated).
 */
async function randomAdd(
  tracker: Tracker,
  count: number,
  seed: number,
  acting?: { actor: Actor; buffer: GPUBuffer; base: number; uses: (j: number, random: () => number) => boolean },
): Promise<void> {
  const { inputs, actions, stack, capacity } = tracker;
  const random = seededUniform(seed);
  const transitions: Transitions = {
    obs: randomStates(count, inputs, seed + 1),
    nextObs: randomStates(count, inputs, seed + 2),
    actions: Array.from({ length: count }, () => Math.floor(random() * actions)),
    rewards: Array.from({ length: count }, () => random() * 2 - 1),
    terminated: Array.from({ length: count }, () => random() < 0.3),
  };
  if (!acting) return tracker.add(transitions);
  const states = randomStates(capacity, inputs, seed + 3);
  states.set(transitions.nextObs);
  await acting.actor.act(states, { step: seed, keepLogits: { buffer: acting.buffer, offset: acting.base * actions * 4 } });
  const rows = Int32Array.from({ length: count }, (_, j) => (acting.uses(j, random) ? acting.base + j : -1));
  tracker.add(transitions, { nextLogits: { buffer: acting.buffer, rows, stack, version: stack.version } });
}

const iterationArb = fc.record({
  tau: fc.double({ min: 0.05, max: 5, noNaN: true }),
  adds: fc.array(
    // acting: the share of the transitions that come with acting logits (0: no nextLogits at all).
    fc.record({ count: fc.integer({ min: 1, max: 24 }), acting: fc.constantFrom(0, 0.5, 1), seed: fc.nat(1e6) }),
    { minLength: 1, maxLength: 2 },
  ),
  // A skipped precompute leaves the rows just added pending across the push: their acting logits are then stale.
  precompute: fc.constantFrom("incremental", "incremental", "incremental", "incremental", "full", "skip", "skip"),
  push: fc.constantFrom("follow", "follow", "follow", "follow", "follow", "follow", "follow", "plain"),
});

const caseArb = fc.record({
  inputs: fc.integer({ min: 1, max: 4 }),
  hidden: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 2 }),
  actions: fc.integer({ min: 2, max: 5 }),
  ensemble: fc.constantFrom(1, 2),
  memory: fc.integer({ min: 1, max: 4 }),
  capacity: fc.integer({ min: 3, max: 24 }),
  eta: fc.double({ min: 0.5, max: 30, noNaN: true }),
  variant: fc.constantFrom<PmdVariant>("corrected", "vanilla"),
  normalization: fc.constantFrom<PmdNormalization>("memory", "sum"),
  prePushes: fc.integer({ min: 0, max: 5 }),
  iterations: fc.array(iterationArb, { minLength: 1, maxLength: 11 }),
  seed: fc.nat(1e6),
});

test("property: the incremental logits and sums stay within the tracked bound of the float64 full recompute", async () => {
  const seen = { full: 0, incremental: 0, evaluated: 0, copied: 0, stale: 0, drops: 0 };
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const spec: MlpSpec = { inputs: c.inputs, hidden: c.hidden, outputs: c.actions };
      const E = c.ensemble;
      // K ∈ [1, 2M + 3] iterations, each with its own τ: α and β change at every push.
      const iterations = c.iterations.slice(0, 2 * c.memory + 3);
      const stack = createStack(gpu, {
        mlp: spec,
        memory: c.memory,
        ensemble: E,
        eta: c.eta,
        tau: 1,
        variant: c.variant,
        normalization: c.normalization,
      });
      const replay = createReplayBuffer(gpu, { capacity: c.capacity, inputs: c.inputs, actions: c.actions });
      const actor = createActor(stack, { maxBatch: c.capacity, seed: c.seed });
      // Two adds' acting logits, each in rows of its own: capacity rows after a shift of up to 2.
      const acting = createBuffer(gpu, 2 * (c.capacity + 2) * c.actions * 4, STORAGE, "test acting logits");
      const tracker = new Tracker(stack, replay, "property"); // fast-check reports the case
      const fresh = (k: number) => randomSnapshots(spec, E, c.seed + 7919 * (k + 1));
      try {
        // Pushes before the replay buffer follows the stack: its first precompute is the full one.
        for (let k = 0; k < c.prePushes; k++) tracker.plainPush(fresh(1000 + k), 0.05 + (k % 5));
        for (const [k, step] of iterations.entries()) {
          for (const [j, add] of step.adds.entries()) {
            const count = ((add.count - 1) % c.capacity) + 1;
            // Each add's acting logits in rows of their own (a shifted start), all of the same version:
            // an add's rows must not overlap the other's, whose pending rows still copy from them.
            const base = j * (c.capacity + 2) + (add.seed % 3);
            const uses = (_: number, random: () => number) => random() < add.acting;
            await randomAdd(tracker, count, add.seed, add.acting > 0 ? { actor, buffer: acting, base, uses } : undefined);
          }
          if (step.precompute !== "skip") await tracker.precompute(step.precompute === "full", `, iteration ${k}`);
          if (step.push === "follow") await tracker.followPush(fresh(k), step.tau);
          else tracker.plainPush(fresh(k), step.tau);
        }
        await tracker.precompute(false, ", after the last push");
        for (const key of Object.keys(seen) as (keyof typeof seen)[]) seen[key] += tracker.seen[key];
      } finally {
        acting.destroy();
        actor.destroy();
        replay.destroy();
        stack.destroy();
      }
    }),
    // Each run compiles its shapes' kernels: 2–7 s each for a hidden layer on lavapipe with a cold shader cache.
    { numRuns: 10 },
  );
  // The paths meant to be checked ran: full and incremental precomputes, pending rows evaluated and
  // copied from acting logits, and pushes that drop a snapshot.
  for (const key of ["full", "incremental", "evaluated", "copied", "drops"] as const)
    assert.ok(seen[key] > 0, `no ${key} in the sample: ${JSON.stringify(seen)}`);
});

// ---------------------------------------------------------------------------------------------
// 3. The full recompute.

const FIXED: StackOptions = {
  mlp: { inputs: 3, hidden: [], outputs: 4 },
  memory: 3,
  ensemble: 2,
  eta: 2,
  tau: 1,
  variant: "corrected",
  normalization: "sum",
};

/** The fixed tests' replay capacity: every evaluation is of 8 rows (or of the 4 rows an add leaves to evaluate), two kernels to compile. */
const CAP = 8;

/**
 * A tracked sequence on a fresh stack and replay buffer: the ring filled (the full recompute), then
 * per push 8 new rows, every other one with acting logits, and a precompute.
 */
async function trackedSequence(stack: Stack, replay: ReplayBuffer, pushes: number, seed: number) {
  const tracker = new Tracker(stack, replay, `sequence ${seed}`);
  const actor = createActor(stack, { maxBatch: CAP, seed });
  const acting = createBuffer(gpu, CAP * replay.actionCount * 4, STORAGE, "test acting logits");
  await randomAdd(tracker, CAP, seed);
  await tracker.precompute(false, ", first");
  for (let k = 0; k < pushes; k++) {
    await tracker.followPush(randomSnapshots(stack.spec, stack.ensemble, seed + 17 * k), 0.3 + 0.4 * (k % 3));
    await randomAdd(tracker, CAP, seed + 31 * k, { actor, buffer: acting, base: 0, uses: (j) => j % 2 === 0 });
    await tracker.precompute(false, `, push ${k}`);
  }
  actor.destroy();
  acting.destroy();
  return tracker;
}

test("full: true writes the stack's own logits bit for bit, S = fl(ξ · fl(1/corr)), and the incremental path goes on from it", async () => {
  const stack = createStack(gpu, FIXED);
  const replay = createReplayBuffer(gpu, { capacity: CAP, inputs: 3, actions: 4 });
  const tracker = await trackedSequence(stack, replay, 5, 11);
  await randomAdd(tracker, 4, 99);
  const n = replay.size * replay.actionCount;

  // The full path evaluates the stack into the logits buffer and nothing else touches it: the
  // same evaluation of the same states buffer, recorded by the test, gives the same bits.
  const full = await tracker.precompute(true, ", full");
  const own = createBuffer(gpu, n * 4, STORAGE, "test logits");
  const encoder = gpu.encoder("test stack logits");
  await encodeStackLogits(stack, encoder, { states: replay.buffers.nextObs, logits: own, batch: replay.size });
  const expected = await readFloat32(gpu, own, 0, n, [encoder.finish()]);
  own.destroy();
  assert.deepEqual(bits(full.logits), bits(expected));
  // S = fl(ξ̂ · fl(1/corr)): the product of two float32 values is exact in float64, so rounding it
  // once gives the correctly rounded float32 product.
  const inverse = Math.fround(1 / stack.correction);
  assert.deepEqual(bits(full.sums), bits(Float32Array.from(full.logits, (x) => x * inverse)));

  // With nothing pending, the incremental path writes ξ = fl(fl(corr) · S) for every row.
  const again = await tracker.precompute(false, ", incremental after full");
  assert.deepEqual(bits(again.sums), bits(full.sums));
  const corr = Math.fround(stack.correction);
  assert.deepEqual(bits(again.logits), bits(Float32Array.from(full.sums, (s) => s * corr)));

  // And goes on: pushes, new rows, precomputes, each checked within the tracked bound.
  for (let k = 0; k < 4; k++) {
    await tracker.followPush(randomSnapshots(stack.spec, stack.ensemble, 500 + k), 0.2 + k);
    await randomAdd(tracker, 4, 600 + k);
    await tracker.precompute(false, `, after full, push ${k}`);
  }
  replay.destroy();
  stack.destroy();
});

// ---------------------------------------------------------------------------------------------
// 4. Resume.

/** The stack as another stack object with the same contents in the same slots (the same evaluation, bit for bit). */
async function copyStack(stack: Stack): Promise<Stack> {
  const copy = createStack(gpu, { ...FIXED, tau: stack.pmd.tau });
  copy.set({
    snapshots: await stack.readSnapshots(),
    coefficients: stack.coefficients,
    correction: stack.correction,
    tau: stack.pmd.tau,
    oldestSlot: stack.slotsOldestFirst()[0],
  });
  return copy;
}

async function assertSameState(a: ReplayBuffer, b: ReplayBuffer, what: string): Promise<void> {
  assert.equal(b.size, a.size, what);
  assert.equal(b.next, a.next, what);
  const n = a.size * a.actionCount;
  for (const name of ["logits", "sums", "probs"] as const) {
    const [x, y] = await Promise.all([readFloat32(gpu, a.buffers[name], 0, n), readFloat32(gpu, b.buffers[name], 0, n)]);
    assert.deepEqual(bits(y), bits(x), `${what}: ${name}`);
  }
}

test("exact resume: read() returns the sums, restore(contents, { stack }) continues bit for bit; without a stack, the full recompute", async () => {
  const stackA = createStack(gpu, FIXED);
  const a = createReplayBuffer(gpu, { capacity: CAP, inputs: 3, actions: 4 });
  const tracker = await trackedSequence(stackA, a, 6, 23);
  // Rows added since the last precompute have no sums: read() leaves them out.
  await randomAdd(tracker, 4, 7);
  assert.equal((await a.read()).sums, undefined, "pending rows: no sums to save");
  await tracker.precompute(false, ", before read");
  const contents = await a.read();
  assert.ok(contents.sums instanceof Float32Array && contents.sums.length === a.size * a.actionCount);
  assert.deepEqual(bits(contents.sums), bits(await readFloat32(gpu, a.buffers.sums, 0, a.size * a.actionCount)));

  const stackB = await copyStack(stackA);
  const b = createReplayBuffer(gpu, { capacity: CAP, inputs: 3, actions: 4 });
  b.restore(contents, { stack: stackB });
  assert.equal(b.policyCurrent, false);
  await Promise.all([a.precomputePolicy(stackA), b.precomputePolicy(stackB)]);
  await assertSameState(a, b, "after restore");

  // The same adds (acting logits from each stack's own actor) and pushes on both.
  const actors = [stackA, stackB].map((s) => createActor(s, { maxBatch: CAP, seed: 5 }));
  const buffers = [0, 1].map(() => createBuffer(gpu, CAP * 4 * 4, STORAGE, "test acting logits"));
  for (let k = 0; k < 4; k++) {
    const t = transitionsTo(randomStates(CAP, 3, 40 + k), 3);
    const rows = Int32Array.from({ length: CAP }, (_, j) => (j % 2 === 0 ? j : -1));
    const step = (s: number) => actors[s].act(t.nextObs, { step: k, keepLogits: { buffer: buffers[s], offset: 0 } });
    await Promise.all([step(0), step(1)]);
    a.add(t, { nextLogits: { buffer: buffers[0], rows, stack: stackA, version: stackA.version } });
    b.add(t, { nextLogits: { buffer: buffers[1], rows, stack: stackB, version: stackB.version } });
    await Promise.all([a.precomputePolicy(stackA), b.precomputePolicy(stackB)]);
    await assertSameState(a, b, `after add ${k}`);
    const weights = randomSnapshots(FIXED.mlp, 2, 70 + k);
    const tau = 0.25 + 0.5 * k;
    await a.followPush(stackA, tau, () => stackA.push(weights, { tau }));
    await b.followPush(stackB, tau, () => stackB.push(weights, { tau }));
    await Promise.all([a.precomputePolicy(stackA), b.precomputePolicy(stackB)]);
    await assertSameState(a, b, `after push ${k}`);
  }
  actors.forEach((actor) => actor.destroy());
  buffers.forEach((buffer) => buffer.destroy());

  // Without a stack (or without sums) a restore keeps nothing: the next precompute is the full
  // recompute, the same bits as `full: true`.
  const saved = await a.read();
  await a.precomputePolicy(stackA, { full: true });
  const restored: [string, ReplayContents, Stack | undefined][] = [
    ["no stack", saved, undefined],
    ["no sums", { ...saved, sums: undefined }, stackA],
  ];
  for (const [what, contents, stack] of restored) {
    const c = createReplayBuffer(gpu, { capacity: CAP, inputs: 3, actions: 4 });
    c.restore(contents, { stack });
    await c.precomputePolicy(stackA);
    await assertSameState(a, c, `restore with ${what}`);
    c.destroy();
  }
  // Sums restored for one stack object are not taken for another (with the same contents: the
  // full recompute of either gives the same bits).
  const d = createReplayBuffer(gpu, { capacity: CAP, inputs: 3, actions: 4 });
  d.restore(saved, { stack: stackB });
  await d.precomputePolicy(stackA);
  await assertSameState(a, d, "restored for another stack");
  d.destroy();
  for (const x of [a, b]) x.destroy();
  for (const s of [stackA, stackB]) s.destroy();
});

test("read() after a push the buffer did not follow leaves the stale sums out", async () => {
  const stack = createStack(gpu, { mlp: HAND, memory: 2, eta: 1, tau: 1, variant: "vanilla" });
  const a = createReplayBuffer(gpu, { capacity: 4, inputs: 1, actions: 2 });
  a.add(to(1));
  await a.followPush(stack, 1, () => stack.push(net(2, -4), { tau: 1 }));
  await a.precomputePolicy(stack); // S(1) = ½Q1 = [1, −2]
  stack.push(net(6, 0), { tau: 1 }); // not followed: S(1) is now ¼Q1 + ½Q2 = [3.5, −1]
  const contents = await a.read();
  const b = createReplayBuffer(gpu, { capacity: 4, inputs: 1, actions: 2 });
  b.restore(contents, { stack });
  await b.precomputePolicy(stack);
  const logits = await readFloat32(gpu, b.buffers.logits, 0, 2);
  a.destroy();
  b.destroy();
  stack.destroy();
  assert.equal(contents.sums, undefined, `read() returned sums ${contents.sums} of the stack's previous version`);
  assert.deepEqual(Array.from(logits), [3.5, -1]);
});

// ---------------------------------------------------------------------------------------------
// 5. Bad input.

test("bad input: nextLogits rows out of range or of the wrong length, a followPush that does not push once, an empty buffer", async () => {
  const stack = createStack(gpu, { mlp: HAND, memory: 2, eta: 1, tau: 1, variant: "vanilla" });
  const replay = createReplayBuffer(gpu, { capacity: 4, inputs: 1, actions: 2 });
  await assert.rejects(
    replay.precomputePolicy(stack),
    (e: unknown) => e instanceof StaqInputError && /the replay buffer is empty/.test(e.message),
  );

  replay.add(to(1, 2));
  await replay.followPush(stack, 1, () => stack.push(net(2, -4), { tau: 1 }));
  await replay.precomputePolicy(stack);
  const before = await replay.read();
  const logitsBefore = await readFloat32(gpu, replay.buffers.logits, 0, 4);
  assert.deepEqual(rowsOf(logitsBefore), [
    [1, -2],
    [2, -4],
  ]);

  const acting = actingBuffer(3); // rows 0, 1, 2
  const nextLogits = (rows: number[], buffer = acting): NextLogits => ({
    buffer,
    rows: Int32Array.from(rows),
    stack,
    version: stack.version,
  });
  const inputError = (pattern: RegExp) => (e: unknown) => e instanceof StaqInputError && pattern.test(e.message);
  assert.throws(
    () => replay.add(to(1, 1), { nextLogits: nextLogits([0, 3]) }),
    inputError(/nextLogits\.rows holds 3; rows are −1 or in \[0, 3\)/),
  );
  assert.throws(() => replay.add(to(1, 1), { nextLogits: nextLogits([0, -2]) }), inputError(/nextLogits\.rows holds -2/));
  assert.throws(
    () => replay.add(to(1, 1), { nextLogits: nextLogits([0]) }),
    inputError(/nextLogits\.rows has 1 entries for 2 transitions/),
  );
  const notStorage = createBuffer(gpu, 16, BufferUsage.COPY_DST, "test not storage");
  assert.throws(() => replay.add(to(1), { nextLogits: nextLogits([0], notStorage) }), inputError(/lacks STORAGE usage/));
  notStorage.destroy();
  // Nothing was written: the same rows, and the same logits from the same sums.
  assert.equal(replay.size, 2);
  assert.equal(replay.next, 2);
  assert.deepEqual(await replay.read(), before);
  await replay.precomputePolicy(stack);
  assert.deepEqual(bits(await readFloat32(gpu, replay.buffers.logits, 0, 4)), bits(logitsBefore));

  // A callback that does not push: an error, and the sums are still those of the stack.
  await assert.rejects(
    replay.followPush(stack, 1, () => {}),
    inputError(/the callback must push into the stack exactly once, with tau 1/),
  );
  await replay.precomputePolicy(stack);
  assert.deepEqual(bits(await readFloat32(gpu, replay.buffers.logits, 0, 4)), bits(logitsBefore));
  // One that pushes twice, or with another τ: an error, and the next precompute is the full one.
  const wrongPushes: [string, () => void, number[][]][] = [
    // Q2 and Q3 = [−8, 4] pushed with τ = 1 (α = β = ½): c = [½·½, ½] = [¼, ½] for Q2, Q3 (Q1 dropped);
    // ξ(1) = ¼[6, 0] + ½[−8, 4] = [1.5, 0] + [−4, 2] = [−2.5, 2], ξ(2) = [−5, 4].
    [
      "twice",
      () => {
        stack.push(net(6, 0), { tau: 1 });
        stack.push(net(-8, 4), { tau: 1 });
      },
      [
        [-2.5, 2],
        [-5, 4],
      ],
    ],
    // Q4 = [1, 3] pushed with τ = 3 instead of 1 (α = β = ¼): c = [½·¼, ¼] = [⅛, ¼] for Q3, Q4;
    // ξ(1) = ⅛[−8, 4] + ¼[1, 3] = [−1, 0.5] + [0.25, 0.75] = [−0.75, 1.25], ξ(2) = [−1.5, 2.5].
    [
      "with tau 3",
      () => stack.push(net(1, 3), { tau: 3 }),
      [
        [-0.75, 1.25],
        [-1.5, 2.5],
      ],
    ],
  ];
  for (const [what, push, expected] of wrongPushes) {
    await assert.rejects(replay.followPush(stack, 1, push), inputError(/the callback must push into the stack exactly once/), what);
    await replay.precomputePolicy(stack);
    assert.deepEqual(rowsOf(await readFloat32(gpu, replay.buffers.logits, 0, 4)), expected, what);
  }
  // A stack of another shape.
  const other = createStack(gpu, { mlp: { inputs: 2, hidden: [], outputs: 2 }, memory: 1 });
  await assert.rejects(
    replay.followPush(other, 1, () => other.push(randomSnapshots(other.spec, 1, 1), { tau: 1 })),
    inputError(/the stack maps 2 inputs to 2 actions; the replay buffer holds 1 inputs and 2 actions/),
  );
  other.destroy();
  acting.destroy();
  replay.destroy();
  stack.destroy();
});
