/**
 * Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11),
 * the counter-based generator behind the policy kernel's sampled actions.
 *
 * A counter-based generator is a pure function of (counter, key): the sample of a row depends only
 * on (seed, step, row), never on which thread, dispatch or chunk computed it, so samples are
 * reproducible and independent of how a batch is split. This file is the exact CPU twin of the
 * functions in shaders/philox.wgsl: the same u32 operations in the same order, so a test can
 * recompute every GPU draw bit for bit.
 */

import { StaqInputError } from "../errors.ts";

/** Round multipliers and Weyl key increments of Philox4x32 (Random123's PHILOX_M4x32_* / PHILOX_W32_*). */
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

/**
 * Word 3 of the counter separates the streams drawn under one seed, so no two uses of the
 * generator ever share a counter: the policy kernel's sampled actions (0), the trainer's
 * next-state actions a' ~ π_k (1, shaders/train_targets.wgsl), the rounds of the minibatch
 * permutation (0x100 + round, shaders/replay_sample.wgsl; STREAM_MINIBATCH) and the smoothness
 * regulariser's state noise ε (0x80000000 + j for inputs 4j … 4j + 3 of a row, j < 2^31: the
 * whole upper half of word 3; shaders/smoothness_states.wgsl, src/train/smoothness-reference.ts).
 */
export const STREAM_POLICY_ACTION = 0;
export const STREAM_NEXT_ACTION = 1;
export const STREAM_STATE_NOISE = 0x80000000;

/**
 * The high 32 bits of the 64-bit product a·b of two u32 values.
 *
 * WGSL has no 64-bit integers, so the kernel splits each factor into 16-bit halves; the four
 * partial products each fit in 32 bits and the carries are added explicitly. This function does the
 * same arithmetic (JavaScript doubles hold each partial product exactly) so that any slip in the
 * WGSL version shows up as a mismatch against this one, which is itself tested against BigInt.
 */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo; // < 2^32
  const lohi = aLo * bHi; // < 2^32
  const hilo = aHi * bLo; // < 2^32
  const hihi = aHi * bHi; // < 2^32
  // The middle column: the carry out of the low 32 bits. At most 3·(2^16 − 1), so no overflow.
  const middle = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  // The true high word is < 2^32, so this sum never wraps (in WGSL's u32 either).
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + (middle >>> 16)) >>> 0;
}

/** The low 32 bits of a·b (WGSL's u32 multiplication wraps the same way). */
export function mullo32(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}

export type PhiloxCounter = readonly [number, number, number, number];
export type PhiloxKey = readonly [number, number];

/** Philox4x32 with `rounds` rounds (10 is the standard, crush-resistant choice) → four u32 words. */
export function philox4x32(counter: PhiloxCounter, key: PhiloxKey, rounds = PHILOX_ROUNDS): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((w) => w >>> 0);
  let [k0, k1] = key.map((w) => w >>> 0);
  for (let round = 0; round < rounds; round++) {
    if (round > 0) {
      // The key schedule bumps the key before every round but the first.
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = mullo32(PHILOX_M0, c0);
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = mullo32(PHILOX_M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/**
 * A uniform number in [0, 1) from one Philox output word: its top 24 bits scaled by 2^-24.
 * Every such value is exactly representable in float32 (and float64), so the GPU's `u` and this one
 * are the same number, and the sampled action can be checked against a float64 CDF.
 */
export function uniformFromPhilox(word: number): number {
  return (word >>> 8) * 2 ** -24;
}

/**
 * Checks an integer in [0, 2^64): a safe-integer number or a bigint (a seed or a step counter).
 * `context` prefixes the message, e.g. "minibatch sampling: ".
 */
export function checkU64(name: string, value: number | bigint, context = ""): void {
  const ok =
    typeof value === "bigint" ? value >= 0n && value < 1n << 64n : typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  if (!ok) {
    throw new StaqInputError(
      `${context}${name} must be an integer in [0, 2^64) (a bigint, or a number up to 2^53 − 1); got ${String(value)}`,
    );
  }
}

/** Splits a u64 (a non-negative integer number ≤ 2^53 − 1, or a bigint < 2^64) into [low, high] u32 words. */
export function splitU64(value: number | bigint): [number, number] {
  const big = BigInt(value);
  return [Number(big & 0xffffffffn), Number((big >> 32n) & 0xffffffffn)];
}

/**
 * The uniform the policy kernel draws for global row `row` (its index in the batch plus the call's
 * `rowOffset`): Philox4x32-10 with counter = (row, step_lo, step_hi, 0) and key = (seed_lo, seed_hi),
 * first output word. `row` is taken modulo 2^32, as the kernel's u32 addition wraps.
 */
export function policyUniform(seed: number | bigint, step: number | bigint, row: number): number {
  const [seedLo, seedHi] = splitU64(seed);
  const [stepLo, stepHi] = splitU64(step);
  return uniformFromPhilox(philox4x32([row >>> 0, stepLo, stepHi, 0], [seedLo, seedHi])[0]);
}
