/**
 * A seeded stream of random numbers for the tabular toolkit (MDP generators, evaluation noise).
 * Philox4x32-10 in counter mode, the generator the GPU policy kernel uses: the stream is fully
 * determined by the seed, and two streams with different seeds are independent.
 */
import { StaqInputError } from "../errors.ts";
import { philox4x32, splitU64 } from "../policy/philox.ts";

export interface RandomStream {
  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
  /** Uniform integer in [0, n). */
  integer(n: number): number;
}

export function validateSeed(seed: number): void {
  if (!(Number.isSafeInteger(seed) && seed >= 0)) {
    throw new StaqInputError(`seed must be a non-negative integer (at most 2^53 - 1); got ${seed}`);
  }
}

export function createRandomStream(seed: number): RandomStream {
  validateSeed(seed);
  const key = splitU64(seed);
  let block = 0;
  let words: number[] = [];
  const nextWord = (): number => {
    if (words.length === 0) {
      // Counter (block_lo, block_hi, 0, 0): 2^53 blocks of four words before it repeats.
      words = philox4x32([block >>> 0, Math.floor(block / 2 ** 32), 0, 0], key);
      block++;
    }
    return words.shift()!;
  };
  const uniform = (): number => {
    // 27 + 26 bits → a multiple of 2^-53 in [0, 1).
    const high = nextWord() >>> 5;
    const low = nextWord() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };
  return {
    uniform,
    normal() {
      // 1 − u is in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
      return radius * Math.cos(2 * Math.PI * uniform());
    },
    integer(n: number) {
      if (!(Number.isSafeInteger(n) && n >= 1)) throw new StaqInputError(`integer(n) needs an integer n >= 1; got ${n}`);
      return Math.min(n - 1, Math.floor(uniform() * n));
    },
  };
}
