/**
 * What the three classic-control ports share: the reset stream's seeding, the step guards, the
 * validation of a state given to setState, and the saving and loading of their complete state.
 */
import { StaqInputError } from "../../errors.ts";
import { createRandomStream, restoreRandomStream, validateSeed, type RandomStreamState, type RestorableRandomStream } from "../../random/random-stream.ts";
import type { EnvState, JsonObject } from "../env.ts";
import { encodeFloat, EPISODE_PHASES, openState } from "../state-reader.ts";

/** "idle" before the first reset/setState, "running", or "terminated" after a terminal step. */
export type EpisodePhase = "idle" | "running" | "terminated";

/**
 * The generator for a reset: a new stream when a seed is given, the current one otherwise, and on
 * the very first unseeded reset a stream seeded once from Math.random (Gymnasium's unseeded reset).
 */
export function resetStream(current: RestorableRandomStream | undefined, seed: number | undefined): RestorableRandomStream {
  if (seed !== undefined) {
    validateSeed(seed);
    return createRandomStream(seed);
  }
  return current ?? createRandomStream(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
}

/** Throws unless `action` is valid and an episode is running. `meaning` lists what the actions do. */
export function checkStep(name: string, action: number, actionCount: number, phase: EpisodePhase, meaning: string): void {
  if (!(Number.isInteger(action) && action >= 0 && action < actionCount)) {
    throw new StaqInputError(`${name}: action must be an integer in [0, ${actionCount}) (${meaning}); got ${action}`);
  }
  if (phase === "idle") throw new StaqInputError(`${name}: step() called before reset(); call reset() (or setState()) first`);
  if (phase === "terminated") throw new StaqInputError(`${name}: step() called after the episode terminated; call reset() to start a new episode`);
}

/** Throws unless `state` is `length` finite numbers laid out as `layout`. */
export function checkState(name: string, state: ArrayLike<number>, length: number, layout: string): void {
  if (state === null || typeof state !== "object" || typeof state.length !== "number") {
    throw new StaqInputError(`${name}: setState needs an array of ${length} numbers ${layout}; got ${String(state)}`);
  }
  if (state.length !== length) throw new StaqInputError(`${name}: setState needs ${length} numbers ${layout}; got ${state.length}`);
  for (let i = 0; i < length; i++) {
    const v = state[i];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new StaqInputError(`${name}: setState needs finite numbers; element ${i} is ${String(v)}`);
  }
}

/**
 * min(max(x, lo), hi): numpy's `clip` and Acrobot's `bound` for finite inputs (the order of min and
 * max matters only when lo > hi, which no caller passes).
 */
export function clip(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

/** What a classic-control environment's state holds (saveClassicState / readClassicState). */
export interface ClassicSnapshot {
  phase: EpisodePhase;
  /** The float64 state (getState's values). */
  physics: Float64Array;
  /** The reset generator; undefined before the first reset (the first unseeded one seeds it from Math.random). */
  random: RestorableRandomStream | undefined;
}

/**
 * A classic-control environment's complete state as JSON: the float64 state (numbers are written
 * exactly by JSON; −0 as "-0"), the episode phase and where the reset generator stands (null when
 * there is none yet).
 */
export function saveClassicState(name: string, { phase, physics, random }: ClassicSnapshot): JsonObject {
  return { env: name, kind: "classic", phase, physics: Array.from(physics, encodeFloat), random: random === undefined ? null : random.saveState() };
}

/** Reads back a state from saveClassicState for the environment `name`, whose float64 state has `length` values; throws a StaqInputError on anything else. */
export function readClassicState(name: string, state: EnvState, length: number): ClassicSnapshot {
  const root = openState(name, state, "classic");
  return {
    phase: root.get("phase").oneOf(EPISODE_PHASES),
    physics: Float64Array.from(root.get("physics").floats(length)),
    random: root.get("random").orNull((r) => r.parse((value) => restoreRandomStream(value as RandomStreamState))) ?? undefined,
  };
}
