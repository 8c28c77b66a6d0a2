/**
 * A seeded stream of random numbers for the tabular toolkit (MDP generators, evaluation noise).
 * Philox4x32-10 in counter mode, the generator the GPU policy kernel uses: the stream is fully
 * determined by the seed, and two streams with different seeds are independent.
 */
import { StaqInputError } from "../errors.ts";
import { philox4x32, splitU64 } from "./philox.ts";
import { checkSeed } from "./seed.ts";

export interface RandomStream {
  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
  /** Uniform integer in [0, n). */
  integer(n: number): number;
}

/**
 * Where a stream stands, as plain JSON data: its seed, the next Philox block to generate, and the
 * words of the last block not drawn yet (0 to 4 unsigned 32-bit integers, in drawing order).
 */
export type RandomStreamState = { seed: number; block: number; words: number[] };

/** A RandomStream that can say where it stands (for checkpoints); restoreRandomStream continues it. */
export interface RestorableRandomStream extends RandomStream {
  saveState(): RandomStreamState;
}

export function createRandomStream(seed: number): RestorableRandomStream {
  checkSeed("random stream", seed);
  return streamAt(seed, 0, []);
}

/**
 * A stream that draws exactly what the stream that saved `state` (saveState) would have drawn next.
 * Throws a StaqInputError naming the field when the state is not one a stream could be in.
 */
export function restoreRandomStream(state: RandomStreamState): RestorableRandomStream {
  if (state === null || typeof state !== "object" || Array.isArray(state)) {
    throw new StaqInputError(`a random stream's state must be an object { seed, block, words }; got ${String(state)}`);
  }
  const { seed, block, words } = state;
  checkSeed("a random stream's state", seed);
  if (!(Number.isSafeInteger(block) && block >= 0))
    throw new StaqInputError(`a random stream's block counter must be a non-negative integer (at most 2^53 - 1); got ${String(block)}`);
  if (!Array.isArray(words) || words.length > 4) {
    throw new StaqInputError(
      `a random stream's buffered words must be an array of at most 4 unsigned 32-bit integers; got ${Array.isArray(words) ? `an array of ${words.length}` : String(words)}`,
    );
  }
  words.forEach((word, i) => {
    if (!(Number.isInteger(word) && word >= 0 && word <= 0xffffffff))
      throw new StaqInputError(`a random stream's buffered word ${i} must be an unsigned 32-bit integer; got ${String(word)}`);
  });
  // Words are left over only from a block already generated, which moved the counter past 0.
  if (words.length > 0 && block === 0)
    throw new StaqInputError("a random stream's state has buffered words but block counter 0; no block was generated yet");
  return streamAt(seed, block, [...words]);
}

/** The stream of `seed` positioned at Philox block `block`, with `words` of the previous block still to draw. */
function streamAt(seed: number, block: number, words: number[]): RestorableRandomStream {
  const key = splitU64(seed);
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
      // 1 − u is in (0, 1], so the logarithm is finite. Both uniforms are drawn on every call (no
      // cached second value), so the stream's position is all the state there is.
      const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
      return radius * Math.cos(2 * Math.PI * uniform());
    },
    integer(n: number) {
      if (!(Number.isSafeInteger(n) && n >= 1)) throw new StaqInputError(`integer(n) needs an integer n >= 1; got ${n}`);
      return Math.min(n - 1, Math.floor(uniform() * n));
    },
    saveState() {
      return { seed, block, words: [...words] };
    },
  };
}
