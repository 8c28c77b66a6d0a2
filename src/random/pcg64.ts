/**
 * A port of numpy's default generator, `numpy.random.default_rng(seed)` — that is,
 * `Generator(PCG64(SeedSequence(seed)))` — so environments ported from Gymnasium, which seeds every
 * environment that way (`gymnasium.utils.seeding.np_random`), make the same random draws, in the
 * same order, as upstream: the same seed gives LunarLander the same terrain and the same push.
 *
 * What is reproduced, and from where in numpy (numpy/random/):
 * - `SeedSequence(entropy)` (bit_generator.pyx) for a non-negative integer entropy and no spawn
 *   key: the integer is split into 32-bit words, least significant first (`_int_to_uint32_array`;
 *   0 is one word); the words are hashed into a pool of 4 with `hashmix` (INIT_A, MULT_A) and
 *   cross-mixed with `mix` (MIX_MULT_L, MIX_MULT_R); `generate_state(n)` hashes the pool, cycled,
 *   with INIT_B and MULT_B. All arithmetic is uint32, XSHIFT = 16.
 * - `PCG64(seed_seq)` (_pcg64.pyx, src/pcg64/pcg64.h): `generate_state(4, uint64)` — the 8 words
 *   above paired little-end first — gives initstate = words64[0]·2⁶⁴ + words64[1] and
 *   initseq = words64[2]·2⁶⁴ + words64[3] (`pcg64_set_seed`, PCG_128BIT_CONSTANT(high, low)); then
 *   PCG's srandom: state = 0, inc = (initseq << 1) | 1, step, state += initstate, step.
 * - `next_uint64` (`pcg64_random_r`, the XSL-RR output of the 128-bit LCG): step first
 *   (state = state · 0x2360ED051FC65DA44385DF649FCCF645 + inc mod 2¹²⁸), then output
 *   rotr64(high64 ^ low64, state >> 122) of the new state. This is numpy's PCG64, not PCG64DXSM.
 * - `next_uint32` (`pcg64_next32`): the low half of a 64-bit output, the high half kept for the
 *   next call (`has_uint32`, `uinteger` in numpy's state).
 * - `random()` (`next_double`): (next_uint64 >> 11) · 2⁻⁵³.
 * - `uniform(low, high)` (`random_uniform`): low + (high − low)·next_double, with Generator's
 *   checks (high − low finite and ≥ 0). Always one draw, as numpy's `cont` makes one.
 * - `integers(low, high)` with the default int64 dtype (`_rand_int64` → `random_bounded_uint64_fill`,
 *   use_masked = False): Lemire's method. A range of one value draws nothing; a range that fits 32
 *   bits draws 32-bit outputs (`buffered_bounded_lemire_uint32`; exactly 2³² values: one raw
 *   32-bit output); a wider one 64-bit outputs (`bounded_lemire_uint64`).
 *
 * The 128-bit state is kept as eight 16-bit limbs in plain numbers: every limb product is below 2³²,
 * so a whole multiply-add is exact in float64 without BigInt: about 0.1 µs a draw, some 3× faster
 * than the same in BigInt and allocation-free (which matters little — LunarLander draws two numbers
 * a step — but costs no more code). BigInt is used only for seeding, raw 64-bit output and wide ranges.
 *
 * Verified draw for draw against numpy 2 (test/random/pcg64.test.ts, fixture written by
 * scripts/pcg64-reference.py).
 */
import { StaqInputError } from "../errors.ts";
import { mulhi32 } from "./philox.ts";

// SeedSequence's hashing constants (bit_generator.pyx).
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
// 0x58f38ded, as in numpy and O'Neill's seed_seq_fe (randutils.hpp); not 0x58f35a1b.
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const POOL_SIZE = 4;

/** PCG's default 128-bit LCG multiplier (PCG_DEFAULT_MULTIPLIER_128). */
const MULTIPLIER = 0x2360ed051fc65da44385df649fccf645n;
const LIMBS = 8;
const LIMB = 0x10000;
const TWO_POW_MINUS_53 = 2 ** -53;
const UINT32_MAX = 0xffffffff;
const UINT64_MASK = (1n << 64n) - 1n;

/**
 * The generator's state as plain JSON data, numpy's `bit_generator.state` in other clothes: the
 * 128-bit LCG state and increment as 32 lowercase hex digits, and the buffered upper half of the
 * last 64-bit output that `integers` split (`has_uint32`, `uinteger`).
 */
export interface Pcg64State {
  state: string;
  inc: string;
  hasUint32: boolean;
  uinteger: number;
}

/** A seed as SeedSequence takes it here: a non-negative integer (a number up to 2⁵³ − 1, or a bigint of any size). */
export type Pcg64Seed = number | bigint;

/**
 * numpy's `SeedSequence(entropy).generate_state(nWords)` (uint32 words) for a non-negative integer
 * entropy and no spawn key.
 */
export function seedSequenceWords(entropy: Pcg64Seed, nWords: number): Uint32Array {
  if (!(Number.isSafeInteger(nWords) && nWords >= 0)) {
    throw new StaqInputError(`seedSequenceWords: nWords must be a non-negative integer; got ${String(nWords)}`);
  }
  const pool = seedSequencePool(entropy);
  const out = new Uint32Array(nWords);
  let hashConst = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let value = pool[i % POOL_SIZE] ^ hashConst;
    hashConst = Math.imul(hashConst, MULT_B) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    out[i] = (value ^ (value >>> XSHIFT)) >>> 0;
  }
  return out;
}

/** numpy's `SeedSequence(entropy).pool`: the 4 mixed words. */
export function seedSequencePool(entropy: Pcg64Seed): Uint32Array {
  const words = entropyWords(entropy);
  const pool = new Uint32Array(POOL_SIZE);
  let hashConst = INIT_A;
  // hashmix, with the running hash constant carried from call to call as numpy's pointer does.
  const hashmix = (input: number): number => {
    let value = (input ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> XSHIFT)) >>> 0;
  };
  // Math.imul gives the exact low 32 bits of each product; >>> 0 reduces the difference mod 2³².
  const mix = (x: number, y: number): number => {
    const result = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (result ^ (result >>> XSHIFT)) >>> 0;
  };
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < words.length ? words[i] : 0);
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
    }
  }
  for (let src = POOL_SIZE; src < words.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst], hashmix(words[src]));
  }
  return pool;
}

/** `_int_to_uint32_array`: the 32-bit words of a non-negative integer, least significant first (0 → [0]). */
function entropyWords(entropy: Pcg64Seed): number[] {
  let big: bigint;
  if (typeof entropy === "bigint") big = entropy;
  else if (typeof entropy === "number" && Number.isSafeInteger(entropy)) big = BigInt(entropy);
  else big = -1n;
  if (big < 0n) {
    throw new StaqInputError(
      `PCG64 seed must be a non-negative integer (a number up to 2^53 - 1, or a bigint), as numpy's SeedSequence takes; got ${String(entropy)}`,
    );
  }
  const words = [Number(big & 0xffffffffn)];
  for (big >>= 32n; big > 0n; big >>= 32n) words.push(Number(big & 0xffffffffn));
  return words;
}

const MULTIPLIER_LIMBS = toLimbs(MULTIPLIER);

/** numpy's `Generator(PCG64(SeedSequence(seed)))`, i.e. `numpy.random.default_rng(seed)`. */
export class Pcg64Generator {
  /** The LCG state, 16-bit limbs, least significant first. */
  private readonly state = new Float64Array(LIMBS);
  private readonly inc = new Float64Array(LIMBS);
  /** Column sums of the multiply (scratch, so a step allocates nothing). */
  private readonly sums = new Float64Array(LIMBS);
  private hasUint32 = false;
  private uinteger = 0;
  /** The two halves of the last 64-bit output (set by next64). */
  private outHigh = 0;
  private outLow = 0;

  /** `default_rng(seed)`: seeds through SeedSequence as numpy does (see the file's comment). */
  constructor(seed: Pcg64Seed) {
    const words = seedSequenceWords(seed, 8);
    // generate_state(4, uint64): words64[k] = words[2k] + words[2k+1]·2³²; initstate is words64[0]
    // (high) and words64[1] (low), initseq words64[2] (high) and words64[3] (low).
    const initState = joinWords([words[2], words[3], words[0], words[1]]);
    const initSeq = joinWords([words[6], words[7], words[4], words[5]]);
    this.inc.set(toLimbs(((initSeq << 1n) | 1n) & ((1n << 128n) - 1n)));
    this.state.fill(0);
    this.step();
    addLimbs(this.state, toLimbs(initState));
    this.step();
  }

  /** A generator in the given state (from getState, or numpy's `bit_generator.state` written as Pcg64State). */
  static fromState(state: Pcg64State): Pcg64Generator {
    const generator = new Pcg64Generator(0);
    generator.setState(state);
    return generator;
  }

  /** numpy's `bit_generator.random_raw()`: the next 64-bit output, as a bigint. */
  nextUint64(): bigint {
    this.next64();
    return (BigInt(this.outHigh) << 32n) | BigInt(this.outLow);
  }

  /** numpy's `next_uint32`: the low half of a new 64-bit output, or the high half kept from the last one. */
  nextUint32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    this.next64();
    this.hasUint32 = true;
    this.uinteger = this.outHigh;
    return this.outLow;
  }

  /** `Generator.random()`: a double in [0, 1) from the top 53 bits of one 64-bit output. */
  random(): number {
    this.next64();
    // (x >> 11) = high·2²¹ + (low >>> 11), exact in float64 (below 2⁵³).
    return (this.outHigh * 0x200000 + (this.outLow >>> 11)) * TWO_POW_MINUS_53;
  }

  /** `Generator.uniform(low, high)` (scalar): low + (high − low)·random(). numpy requires high − low finite and ≥ 0. */
  uniform(low: number, high: number): number {
    const range = high - low;
    if (!Number.isFinite(range)) {
      throw new StaqInputError(
        `uniform: high - low must be finite (numpy: "high - low range exceeds valid bounds"); got low ${low}, high ${high}`,
      );
    }
    if (range < 0) throw new StaqInputError(`uniform: high must be >= low (numpy: "high - low < 0"); got low ${low}, high ${high}`);
    return low + range * this.random();
  }

  /**
   * `Generator.integers(low, high)` (default int64 dtype, high excluded): an integer in [low, high)
   * by Lemire's method, drawing exactly what numpy draws. low and high must be safe integers.
   */
  integers(low: number, high: number): number {
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high)) {
      throw new StaqInputError(`integers: low and high must be integers within ±(2^53 - 1); got low ${String(low)}, high ${String(high)}`);
    }
    if (low >= high) {
      throw new StaqInputError(
        `integers: ${low === 0 ? "high <= 0" : "low >= high"} (got low ${low}, high ${high}; the range [low, high) is empty)`,
      );
    }
    // rng = high − low − 1 can reach 2⁵⁴ − 3, past float64's exact integers, so it is a bigint.
    const rng = BigInt(high) - BigInt(low) - 1n;
    if (rng === 0n) return low;
    if (rng <= BigInt(UINT32_MAX)) return low + this.boundedUint32(Number(rng));
    return Number(BigInt(low) + this.boundedUint64(rng));
  }

  /** The state as plain JSON data (a copy). */
  getState(): Pcg64State {
    return { state: limbsToHex(this.state), inc: limbsToHex(this.inc), hasUint32: this.hasUint32, uinteger: this.uinteger };
  }

  /** Restores a state from getState; validates all of it first (a StaqInputError says what was wrong). */
  setState(state: Pcg64State): void {
    if (state === null || typeof state !== "object" || Array.isArray(state)) {
      throw new StaqInputError(`PCG64 setState expects { state, inc, hasUint32, uinteger } (from getState); got ${describe(state)}`);
    }
    const lcg = hexToLimbs(state.state, "state");
    const inc = hexToLimbs(state.inc, "inc");
    if (inc[0] % 2 !== 1) {
      throw new StaqInputError(
        `PCG64 setState: inc must be odd (PCG's seeding always sets the low bit; an even increment is not a state this generator can be in); got ${describe(state.inc)}`,
      );
    }
    if (typeof state.hasUint32 !== "boolean") {
      throw new StaqInputError(`PCG64 setState: hasUint32 must be true or false; got ${describe(state.hasUint32)}`);
    }
    const uinteger = state.uinteger;
    if (typeof uinteger !== "number" || !Number.isInteger(uinteger) || uinteger < 0 || uinteger > UINT32_MAX) {
      throw new StaqInputError(`PCG64 setState: uinteger must be an integer in [0, 2^32 - 1]; got ${describe(uinteger)}`);
    }
    this.state.set(lcg);
    this.inc.set(inc);
    this.hasUint32 = state.hasUint32;
    this.uinteger = uinteger;
  }

  /** One LCG step, state = state·MULTIPLIER + inc mod 2¹²⁸, exactly, on 16-bit limbs. */
  private step(): void {
    const s = this.state;
    const m = MULTIPLIER_LIMBS;
    const sums = this.sums;
    // Column k of the truncated product: at most 8 products below 2³² plus a limb — below 2³⁶.
    for (let k = 0; k < LIMBS; k++) {
      let sum = this.inc[k];
      for (let i = 0; i <= k; i++) sum += s[i] * m[k - i];
      sums[k] = sum;
    }
    let carry = 0;
    for (let k = 0; k < LIMBS; k++) {
      const v = sums[k] + carry;
      carry = Math.floor(v / LIMB);
      s[k] = v - carry * LIMB;
    }
  }

  /** pcg64_random_r: step, then the XSL-RR output of the new state into outHigh / outLow. */
  private next64(): void {
    this.step();
    const s = this.state;
    let high = ((s[7] * LIMB + s[6]) ^ (s[3] * LIMB + s[2])) >>> 0;
    let low = ((s[5] * LIMB + s[4]) ^ (s[1] * LIMB + s[0])) >>> 0;
    // The rotation is the state's top 6 bits (state >> 122).
    let rot = s[7] >>> 10;
    if (rot >= 32) {
      const t = high;
      high = low;
      low = t;
      rot -= 32;
    }
    if (rot > 0) {
      const h = ((high >>> rot) | (low << (32 - rot))) >>> 0;
      low = ((low >>> rot) | (high << (32 - rot))) >>> 0;
      high = h;
    }
    this.outHigh = high;
    this.outLow = low;
  }

  /** buffered_bounded_lemire_uint32 (rng in [1, 2³² − 1]; 2³² − 1 takes one raw 32-bit output). */
  private boundedUint32(rng: number): number {
    if (rng === UINT32_MAX) return this.nextUint32();
    const rngExcl = rng + 1;
    let x = this.nextUint32();
    let leftover = Math.imul(x, rngExcl) >>> 0;
    if (leftover < rngExcl) {
      const threshold = (UINT32_MAX - rng) % rngExcl;
      while (leftover < threshold) {
        x = this.nextUint32();
        leftover = Math.imul(x, rngExcl) >>> 0;
      }
    }
    return mulhi32(x, rngExcl);
  }

  /** bounded_lemire_uint64 (rng in [2³², 2⁶⁴ − 2]), in BigInt: only the rare wide ranges come here. */
  private boundedUint64(rng: bigint): bigint {
    const rngExcl = rng + 1n;
    let m = this.nextUint64() * rngExcl;
    let leftover = m & UINT64_MASK;
    if (leftover < rngExcl) {
      const threshold = (UINT64_MASK - rng) % rngExcl;
      while (leftover < threshold) {
        m = this.nextUint64() * rngExcl;
        leftover = m & UINT64_MASK;
      }
    }
    return m >> 64n;
  }
}

/** The 128-bit integer whose 32-bit words, least significant first, are `words`. */
function joinWords(words: number[]): bigint {
  let value = 0n;
  for (let i = words.length - 1; i >= 0; i--) value = (value << 32n) | BigInt(words[i]);
  return value;
}

function toLimbs(value: bigint): Float64Array {
  const limbs = new Float64Array(LIMBS);
  for (let k = 0; k < LIMBS; k++) limbs[k] = Number((value >> BigInt(16 * k)) & 0xffffn);
  return limbs;
}

/** a += b mod 2¹²⁸, on limbs. */
function addLimbs(a: Float64Array, b: Float64Array): void {
  let carry = 0;
  for (let k = 0; k < LIMBS; k++) {
    const v = a[k] + b[k] + carry;
    carry = v >= LIMB ? 1 : 0;
    a[k] = v - carry * LIMB;
  }
}

function limbsToHex(limbs: Float64Array): string {
  let hex = "";
  for (let k = LIMBS - 1; k >= 0; k--) hex += limbs[k].toString(16).padStart(4, "0");
  return hex;
}

function hexToLimbs(hex: unknown, field: string): Float64Array {
  if (typeof hex !== "string" || !/^[0-9a-f]{32}$/.test(hex)) {
    throw new StaqInputError(
      `PCG64 setState: ${field} must be the 128-bit value as 32 lowercase hex digits (as getState writes it); got ${describe(hex)}`,
    );
  }
  return toLimbs(BigInt(`0x${hex}`));
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}
