// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * One MinAtar game (Young & Tian 2019), as the environment wrapper drives it. Each game is a
 * port written from the rules of the game, reproducing upstream MinAtar's behaviour exactly —
 * including the order of its random draws, so the same seed gives the same episode.
 *
 * The games draw from numpy's legacy RandomState (src/envs/random-state.ts); the subset they use
 * is `NumpyRandom`.
 */
import type { JsonObject } from "../env.ts";
import { checkTag, type StateReader } from "../state-reader.ts";

/** The numpy RandomState methods MinAtar uses. */
export interface NumpyRandom {
  /** random_sample(): uniform in [0, 1). */
  rand(): number;
  /** randint(n) in [0, n), or randint(lo, hi) in [lo, hi). */
  randint(lowOrN: number, high?: number): number;
}

export interface MinatarGameOptions {
  /** Probability that the previous action is repeated instead of the chosen one (upstream 0.1). */
  stickyActionProb: number;
  /** Whether the game speeds up over time (upstream default true). */
  difficultyRamping: boolean;
}

export interface MinatarGame {
  /** Channel names in upstream order (the observation's last axis). */
  readonly channels: readonly string[];
  /** Upstream's minimal action set, as indices into the full set of 6 actions. */
  readonly minimalActions: readonly number[];
  /** Upstream Env.reset(): starts a new episode, drawing from the generator exactly as upstream does. */
  reset(): void;
  /**
   * Upstream Env.act(a) with `a` an index into the full action set [n, l, u, r, d, f]: applies the
   * sticky-action rule and one step of the game, exactly as upstream (same random draws, in order).
   */
  act(action: number): { reward: number; terminal: boolean };
  /**
   * Writes the 10 × 10 × C boolean state, channels last (index (row·10 + col)·C + channel), as 0/1.
   * `out` is cleared first unless `zeroed` says it holds only zeros already, as a new array does:
   * clearing 400–1000 values again cost a fifth of a whole step (bench/envs.ts).
   */
  state(out: Float32Array, zeroed?: boolean): void;
  /**
   * The game's complete state as JSON data: every field that affects the future, the sticky action's
   * memory included (not the generator, which the environment saves). Tagged with the game's name.
   */
  saveState(): JsonObject;
  /**
   * Restores a state from saveState. Reads and checks every field first (a StaqInputError naming the
   * field otherwise) and changes the game only once all passed.
   */
  loadState(state: StateReader): void;
}

/** Builds a game drawing from `random` (shared with the wrapper, as upstream shares it). */
export type MinatarGameFactory = (random: NumpyRandom, options: MinatarGameOptions) => MinatarGame;

/** MinAtar's full action set, in upstream order. */
export const MINATAR_ACTIONS = ["n", "l", "u", "r", "d", "f"] as const;

/**
 * Upstream's sticky-action rule, shared by every game: each act draws one rand() from the game's
 * generator (even after the episode ended) and, below the probability, repeats the previous action.
 * The previous action starts at 0 and survives resets, as on upstream's wrapper.
 */
export class StickyActions {
  /** The previous action (full-set index), part of the game's saved state. */
  last = 0;
  constructor(
    private readonly random: NumpyRandom,
    private readonly probability: number,
  ) {}

  /** The action actually taken when `chosen` is asked for. */
  apply(chosen: number): number {
    if (this.random.rand() < this.probability) chosen = this.last;
    this.last = chosen;
    return chosen;
  }
}

/** Checks that `state` is `game`'s (its `game` tag) and reads the sticky action's memory from it. */
export function readGameHeader(state: StateReader, game: string): { sticky: number } {
  checkTag(state, "game", game);
  return { sticky: state.get("sticky").integer(0, MINATAR_ACTIONS.length - 1) };
}
