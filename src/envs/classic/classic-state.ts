/**
 * The state every classic-control port keeps — a short float64 vector, the episode phase and the
 * reset generator — and what the ports all do with it: read and set the vector (ClassicEnv's
 * getState/setState) and save and restore the whole of it for checkpoints (SnapshotEnv). A port
 * extends ClassicStateEnv, names the components of its vector, and writes only what is its own:
 * reset's draws, step and the observation.
 *
 * The saved format is what checkpoints hold, so it must not change (states saved by earlier
 * versions are kept as literal text in test/envs/classic-saved-state.test.ts), key order included:
 *
 *   {"env": name, "kind": "classic", "phase": "idle" | "running" | "terminated",
 *    "physics": [the float64 vector, each value as encodeFloat writes it],
 *    "random": the generator's saveState(), or null before the first reset}
 */
import { StaqInputError } from "../../errors.ts";
import { checkSeed } from "../../random/seed.ts";
import { markFinite } from "../finite-envs.ts";
import {
  createRandomStream,
  restoreRandomStream,
  type RandomStreamState,
  type RestorableRandomStream,
} from "../../random/random-stream.ts";
import type { EnvState, ResetResult, SnapshotEnv, StepResult } from "../env.ts";
import { encodeFloat, EPISODE_PHASES, openState } from "../state-reader.ts";
import type { ClassicEnv } from "./classic-env.ts";

/** "idle" before the first reset/setState, "running", or "terminated" after a terminal step. */
export type EpisodePhase = "idle" | "running" | "terminated";

export abstract class ClassicStateEnv implements ClassicEnv, SnapshotEnv {
  abstract readonly name: string;
  abstract readonly observationShape: readonly number[];
  abstract readonly actionCount: number;

  /** The float64 state, one value per name in `fields`. */
  protected readonly state: Float64Array;
  /** The reset generator; undefined until the first reset (see startEpisode). */
  protected random: RestorableRandomStream | undefined;
  protected phase: EpisodePhase = "idle";

  /**
   * `fields`: the names of the state's components, in order, as upstream names them (e.g.
   * ["x", "x_dot", "theta", "theta_dot"]); setState's messages show them.
   */
  protected constructor(private readonly fields: readonly string[]) {
    this.state = new Float64Array(fields.length);
    markFinite(this);
  }

  abstract reset(options?: { seed?: number }): ResetResult;
  abstract step(action: number): StepResult;
  /** The observation of the current state, as a new array. */
  protected abstract observe(): Float32Array;

  /**
   * For reset: the generator to draw the new episode's start from, and the episode is running. With
   * a seed, a new stream from it; without, the current one goes on, and on the very first unseeded
   * reset a stream is seeded once from Math.random (Gymnasium's unseeded reset).
   */
  protected startEpisode(seed: number | undefined): RestorableRandomStream {
    if (seed !== undefined) {
      checkSeed(this.name, seed);
      this.random = createRandomStream(seed);
    } else {
      this.random ??= createRandomStream(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
    }
    this.phase = "running";
    return this.random;
  }

  /** A copy of the float64 state, laid out as `fields`. */
  getState(): Float64Array {
    return Float64Array.from(this.state);
  }

  /**
   * Puts the environment in the given state (finite numbers, one per field, used as given: no
   * wrapping or clipping) and starts a new, non-terminated episode from it; returns its observation.
   * The generator is not touched.
   */
  setState(values: ArrayLike<number>): Float32Array {
    checkValues(this.name, values, this.fields);
    this.state.set(values);
    this.phase = "running";
    return this.observe();
  }

  /** The complete state, mid-episode included (SnapshotEnv), as JSON data in the format above. */
  saveState(): EnvState {
    return {
      env: this.name,
      kind: "classic",
      phase: this.phase,
      physics: Array.from(this.state, encodeFloat),
      random: this.random === undefined ? null : this.random.saveState(),
    };
  }

  /**
   * Restores a state from saveState exactly. Every field is read and checked before anything
   * changes, so a refused state (a StaqInputError saying what was wrong) leaves the env as it was.
   */
  loadState(state: EnvState): void {
    const root = openState(this.name, state, "classic");
    const phase = root.get("phase").oneOf(EPISODE_PHASES);
    const physics = root.get("physics").floats(this.fields.length);
    const random = root.get("random").orNull((r) => r.parse((value) => restoreRandomStream(value as RandomStreamState)));
    this.state.set(physics);
    this.phase = phase;
    this.random = random ?? undefined;
  }
}

/** Throws unless `values` is one finite number per name in `fields`. */
function checkValues(name: string, values: ArrayLike<number>, fields: readonly string[]): void {
  const length = fields.length;
  const layout = `[${fields.join(", ")}]`;
  if (values === null || typeof values !== "object" || typeof values.length !== "number") {
    throw new StaqInputError(`${name}: setState needs an array of ${length} numbers ${layout}; got ${String(values)}`);
  }
  if (values.length !== length) throw new StaqInputError(`${name}: setState needs ${length} numbers ${layout}; got ${values.length}`);
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new StaqInputError(`${name}: setState needs finite numbers; element ${i} is ${String(v)}`);
  }
}
