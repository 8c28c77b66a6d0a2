/**
 * The environment interface, Gymnasium-style. Every environment staq trains on implements it —
 * the built-in classic-control and MinAtar ports, and a user's own. Observations are flat
 * Float32Arrays (the shape says how to read them); actions are integers 0..actionCount−1.
 *
 * `terminated` and `truncated` are separate everywhere: a terminal state ends the return (no
 * bootstrapping), a truncation (a time limit) only ends the episode.
 */

/** What reset returns. */
export interface ResetResult {
  obs: Float32Array;
  info: Record<string, unknown>;
}

/** What one step returns. */
export interface StepResult {
  obs: Float32Array;
  reward: number;
  /** The episode reached a terminal state of the MDP. */
  terminated: boolean;
  /** The episode was cut short (a time limit); the state is not terminal. */
  truncated: boolean;
  info: Record<string, unknown>;
}

export interface Env {
  /** The registry name, e.g. "CartPole-v1". */
  readonly name: string;
  /** Shape of one observation, e.g. [4] or [10, 10, 4] (channels last); obs.length is its product. */
  readonly observationShape: readonly number[];
  /** Number of discrete actions. */
  readonly actionCount: number;
  /**
   * The largest seed reset() takes, where it is below 2^53 − 1 (MinAtar: 2^32 − 1, numpy's
   * RandomState). A vector env checks seed + i of every copy against it before resetting any.
   */
  readonly maxSeed?: number;
  /**
   * Starts an episode. With a seed, the environment's generator is re-seeded first (the same seed
   * gives the same episode for the same actions); without one, the generator continues.
   */
  reset(options?: { seed?: number }): ResetResult;
  /** Applies one action (an integer in [0, actionCount)). Call reset() after an episode ends. */
  step(action: number): StepResult;
}

/** The product of an observation shape. */
export function observationSize(env: Pick<Env, "observationShape">): number {
  return env.observationShape.reduce((product, n) => product * n, 1);
}

/** A value that survives `JSON.parse(JSON.stringify(value))` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (what every built-in environment's state is). */
export type JsonObject = { [key: string]: JsonValue };

/**
 * An environment's complete state as plain JSON data: finite numbers, strings, booleans, arrays and
 * objects only (no typed arrays, NaN or Infinity), so a checkpoint can store it as JSON text.
 */
export type EnvState = JsonValue;

/**
 * An Env that can save its complete state (mid-episode) and restore it exactly: after
 * `b.loadState(a.saveState())` — also through `JSON.parse(JSON.stringify(...))` — `b` produces the
 * same observations, rewards, flags and random draws as `a` would have, for the same calls.
 * Training checkpoints use it to resume as if never interrupted.
 *
 * The state names the environment; `loadState` validates all of it before changing anything and
 * throws a StaqInputError saying what was wrong (another environment's state, a wrong length, a
 * non-finite number, a wrong type).
 */
export interface SnapshotEnv {
  saveState(): EnvState;
  loadState(state: EnvState): void;
}

/** True when `env` implements SnapshotEnv (both saveState and loadState). */
export function savesState(env: Env): env is Env & SnapshotEnv {
  const candidate = env as Partial<SnapshotEnv>;
  return typeof candidate.saveState === "function" && typeof candidate.loadState === "function";
}

/**
 * What an Env may add so that a vector env (vector-env.ts) fills its batch in place, without a new
 * observation array per copy and step, and without copying it (the MinAtar ports do: their frames
 * are 400–1000 values). An Env without it works just as well, through step() and reset().
 */
export interface ObservationWriter {
  /**
   * step(action), except that the observation is written to out[offset, offset + observation size)
   * instead of returned. The vector env passes a new batch, so that range holds zeros.
   */
  stepInto(action: number, out: Float32Array, offset: number): Omit<StepResult, "obs" | "info">;
  /** reset() without a seed (the generator continues), overwriting that range with the observation (it holds the final one). */
  resetInto(out: Float32Array, offset: number): void;
}

/** True when `env` implements ObservationWriter. */
export function writesObservations(env: Env): env is Env & ObservationWriter {
  const candidate = env as Partial<ObservationWriter>;
  return typeof candidate.stepInto === "function" && typeof candidate.resetInto === "function";
}
