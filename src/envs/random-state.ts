/**
 * A port of numpy's legacy `numpy.random.RandomState` (MT19937), so environments ported from
 * Python (MinAtar) make the same random draws, in the same order, as their upstream code.
 *
 * It is a class rather than a factory: environments hold one generator, re-seed it
 * (`seed()`), and checkpoint it (`getState()` / `setState()`), exactly as Python code does with
 * a `RandomState` instance — a class keeps that one-to-one.
 *
 * What is reproduced, and from where in numpy (numpy/random/):
 * - Seeding: `RandomState(seed)` with an integer goes through `_MT19937._legacy_seeding`, which
 *   accepts only 0 ≤ seed ≤ 2³²−1 and calls `mt19937_seed` — Knuth's linear recurrence of the
 *   reference `init_genrand` — leaving `pos = 624`, so the first draw regenerates the block. An
 *   array seed goes through `mt19937_init_by_array` (the reference `init_by_array`).
 * - `nextUint32()`: the reference MT19937 `genrand_int32` (twist + tempering), `mt19937_next32`.
 * - `rand()`: `random_sample` = `mt19937_next_double`: two 32-bit outputs, `a >> 5` (27 bits) and
 *   `b >> 6` (26 bits), combined as (a·2²⁶ + b) / 2⁵³ — a first.
 * - `randint()`: `RandomState.randint` always uses the legacy *masked rejection* method (never
 *   Lemire's). With the default dtype ('l', int64) it calls `random_bounded_uint64_fill`, which for
 *   ranges that fit in 32 bits draws 32-bit outputs (`buffered_bounded_masked_uint32`): with
 *   rng = high − low − 1 and mask the smallest 2ᵏ−1 ≥ rng, draw `next32 & mask` until ≤ rng.
 *   rng = 0 returns `low` without drawing; rng = 2³²−1 returns low + next32 (no mask loop). The
 *   int32 dtype path draws the same way. The scalar and `size=` paths draw identically, one
 *   value after another. Ranges wider than 2³² are not supported (numpy would switch to 64-bit
 *   draws, whose two halves' order C leaves unspecified).
 * - `uniform(low, high)`: `random_uniform` = low + (high − low)·next_double, with numpy's check
 *   that high − low is finite (no check that low < high — numpy has none either).
 *
 * Verified draw for draw against numpy (test/envs/random-state.test.ts).
 */
import { StaqInputError } from "../errors.ts";

/** Words of MT19937 state (numpy's RK_STATE_LEN). */
const N = 624;
/** The twist's middle offset. */
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const UINT32_MAX = 0xffffffff;

/**
 * A plain, JSON-serialisable generator state: numpy's `get_state()['state']` (`key`, 624 unsigned
 * 32-bit words, and `pos`, the index of the next word to temper; 624 means "regenerate first").
 */
export interface RandomStateSnapshot {
  key: number[];
  pos: number;
}

/** A seed as numpy's legacy seeding takes it: an integer, or a non-empty array of them. */
export type RandomStateSeed = number | readonly number[] | Uint32Array;

export class RandomState {
  /** The 624-word MT19937 state; Uint32Array so every store wraps to 32 bits like C's uint32_t. */
  private readonly key = new Uint32Array(N);
  /** Index of the next word to temper; N means the block must be regenerated first. */
  private pos = N;

  /**
   * `new RandomState(seed)` is numpy's `RandomState(seed)`: an integer in [0, 2³²−1] (numpy
   * raises for others, so this throws rather than silently disagreeing), or a non-empty array of
   * such integers (numpy's `init_by_array` seeding).
   */
  constructor(seed: RandomStateSeed) {
    this.seed(seed);
  }

  /** numpy's `RandomState.seed(seed)`: re-seeds in place, as the constructor does. */
  seed(seed: RandomStateSeed): void {
    if (typeof seed === "number") {
      checkSeedWord(seed, "RandomState seed");
      this.initGenrand(seed);
      return;
    }
    if (seed === null || typeof seed !== "object" || typeof seed.length !== "number") {
      throw new StaqInputError(`RandomState seed must be an integer in [0, 2**32 - 1] or a non-empty array of them, got ${String(seed)}`);
    }
    if (seed.length === 0) throw new StaqInputError("RandomState seed array must be non-empty (numpy: 'Seed must be non-empty')");
    for (let i = 0; i < seed.length; i++) checkSeedWord(seed[i], `RandomState seed[${i}]`);
    this.initByArray(seed);
  }

  /** The next raw 32-bit output (numpy's `next_uint32` for MT19937): an integer in [0, 2³²). */
  nextUint32(): number {
    // The block is regenerated lazily, when the 624 words are used up, as mt19937_next does —
    // so state snapshots (pos included) mean the same thing as numpy's.
    if (this.pos >= N) this.twist();
    let y = this.key[this.pos++];
    // Tempering. `>>>` keeps the shifts unsigned; the final >>> 0 turns the int32 result of the
    // bitwise operators back into an unsigned value.
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** numpy's `random_sample()` / `rand()`: a double in [0, 1) with 53 random bits. */
  rand(): number {
    // mt19937_next_double: the high 27 bits of the first output, then the high 26 of the second.
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * numpy's `randint(n)` (an integer in [0, n)) or `randint(low, high)` (in [low, high)), default
   * dtype. Throws like numpy for an empty range: "high <= 0" when low is 0, else "low >= high".
   */
  randint(lowOrN: number, high?: number): number {
    const low = high === undefined ? 0 : lowOrN;
    const hi = high === undefined ? lowOrN : high;
    const rng = checkedRange(low, hi, "randint");
    return low + this.boundedUint32(rng, rangeMask(rng));
  }

  /**
   * numpy's `randint(low, high, size)`: `size` values in [low, high), drawn exactly as `size`
   * successive `randint(low, high)` calls would be. Values must fit an Int32Array, so low and
   * high − 1 must lie in [−2³¹, 2³¹−1].
   */
  randintN(low: number, high: number, size: number): Int32Array {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new StaqInputError(`randintN size must be a non-negative integer, got ${String(size)}`);
    }
    const rng = checkedRange(low, high, "randintN");
    if (low < -0x80000000 || high - 1 > 0x7fffffff) {
      throw new StaqInputError(
        `randintN returns an Int32Array, so low and high - 1 must lie in [-2**31, 2**31 - 1]; got low ${low}, high ${high} (use randint() per value for wider ranges)`,
      );
    }
    const out = new Int32Array(size);
    const mask = rangeMask(rng);
    for (let i = 0; i < size; i++) out[i] = low + this.boundedUint32(rng, mask);
    return out;
  }

  /** numpy's `uniform(low, high)`: low + (high − low)·random_sample(). high < low is allowed, as in numpy. */
  uniform(low: number, high: number): number {
    const range = high - low;
    // numpy raises OverflowError('Range exceeds valid bounds') when high − low is not finite
    // (this includes NaN inputs); it does not require low < high.
    if (!Number.isFinite(range)) {
      throw new StaqInputError(`uniform range exceeds valid bounds: high - low must be finite, got low ${low}, high ${high}`);
    }
    return low + range * this.rand();
  }

  /** The state as a plain object (a copy): numpy's `get_state()`'s key and pos. */
  getState(): RandomStateSnapshot {
    return { key: Array.from(this.key), pos: this.pos };
  }

  /** Restores a state from getState() (or numpy's `get_state()` key and pos); validates it first. */
  setState(state: RandomStateSnapshot): void {
    if (state === null || typeof state !== "object") {
      throw new StaqInputError(`setState expects { key: number[624], pos: number }, got ${String(state)}`);
    }
    const { key, pos } = state;
    if (key === null || typeof key !== "object" || key.length !== N) {
      throw new StaqInputError(
        `setState key must be an array of ${N} unsigned 32-bit integers, got ${key === null || typeof key !== "object" ? String(key) : `length ${String(key.length)}`}`,
      );
    }
    for (let i = 0; i < N; i++) {
      const word = key[i];
      if (!Number.isInteger(word) || word < 0 || word > UINT32_MAX) {
        throw new StaqInputError(`setState key[${i}] must be an integer in [0, 2**32 - 1], got ${String(word)}`);
      }
    }
    if (!Number.isInteger(pos) || pos < 0 || pos > N) {
      throw new StaqInputError(`setState pos must be an integer in [0, ${N}], got ${String(pos)}`);
    }
    this.key.set(key);
    this.pos = pos;
  }

  /**
   * Masked rejection on 32-bit outputs (buffered_bounded_masked_uint32), with the two special
   * cases of random_bounded_uint64_fill: rng 0 draws nothing, rng 2³²−1 takes one raw output.
   */
  private boundedUint32(rng: number, mask: number): number {
    if (rng === 0) return 0;
    if (rng === UINT32_MAX) return this.nextUint32();
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > rng);
    return value;
  }

  /** mt19937_seed / the reference init_genrand: Knuth's multiplier 1812433253. */
  private initGenrand(seed: number): void {
    const mt = this.key;
    mt[0] = seed;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1];
      // Math.imul is the exact low 32 bits of the product, as C's uint32 arithmetic gives.
      mt[i] = Math.imul(1812433253, prev ^ (prev >>> 30)) + i;
    }
    this.pos = N;
  }

  /** The reference init_by_array, as mt19937_init_by_array (numpy's array-seed path). */
  private initByArray(initKey: ArrayLike<number>): void {
    this.initGenrand(19650218);
    const mt = this.key;
    const length = initKey.length;
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, length); k > 0; k--) {
      const prev = mt[i - 1];
      // The sum can exceed 2³²; the Uint32Array store reduces it modulo 2³², as C's & 0xffffffff.
      mt[i] = ((mt[i] ^ Math.imul(prev ^ (prev >>> 30), 1664525)) >>> 0) + initKey[j] + j;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
      if (j >= length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1];
      mt[i] = ((mt[i] ^ Math.imul(prev ^ (prev >>> 30), 1566083941)) >>> 0) - i;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
    }
    mt[0] = UPPER_MASK; // MSB set: assures a non-zero initial state, as the reference does.
    this.pos = N;
  }

  /** mt19937_gen: regenerates all 624 words at once (the reference's block update). */
  private twist(): void {
    const mt = this.key;
    let i = 0;
    for (; i < N - M; i++) {
      const y = (mt[i] & UPPER_MASK) | (mt[i + 1] & LOWER_MASK);
      mt[i] = mt[i + M] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    for (; i < N - 1; i++) {
      const y = (mt[i] & UPPER_MASK) | (mt[i + 1] & LOWER_MASK);
      mt[i] = mt[i + M - N] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    const y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
    mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    this.pos = 0;
  }
}

function checkSeedWord(value: unknown, what: string): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new StaqInputError(
      `${what} must be an integer in [0, 2**32 - 1] (numpy's legacy seeding accepts no other), got ${String(value)}`,
    );
  }
}

/**
 * Validates [low, high) and returns rng = high − low − 1 (numpy's closed-interval width). Errors
 * follow numpy's wording: "high <= 0" when low is 0, else "low >= high".
 */
function checkedRange(low: number, high: number, what: string): number {
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high)) {
    throw new StaqInputError(`${what} bounds must be safe integers, got low ${String(low)}, high ${String(high)}`);
  }
  if (low >= high) {
    throw new StaqInputError(
      `${what}: ${low === 0 ? "high <= 0" : "low >= high"} (got low ${low}, high ${high}; the range [low, high) is empty)`,
    );
  }
  const rng = high - low - 1;
  if (rng > UINT32_MAX) {
    throw new StaqInputError(
      `${what}: high - low must be at most 2**32 (numpy switches to 64-bit draws beyond that, which this port does not reproduce), got ${high - low}`,
    );
  }
  return rng;
}

/** gen_mask: the smallest 2ᵏ−1 ≥ rng (rng < 2³²). */
function rangeMask(rng: number): number {
  let mask = rng;
  mask |= mask >>> 1;
  mask |= mask >>> 2;
  mask |= mask >>> 4;
  mask |= mask >>> 8;
  mask |= mask >>> 16;
  return mask >>> 0;
}
