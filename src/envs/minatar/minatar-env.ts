// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A MinAtar game as a staq `Env`, behaving as upstream's Gymnasium wrapper (`minatar.gym.BaseEnv`
 * over `minatar.Environment`):
 * - observations are the 10 × 10 × C boolean frame, channels last, as 0/1 in a Float32Array (a new
 *   one every step, carved from shared slabs: see ArraySlabs for why and what that means for `.buffer`);
 * - actions index the full set of 6 ("MinAtar/<Game>-v0") or the game's minimal set ("-v1");
 * - `reset({ seed })` re-seeds the one RandomState that the sticky-action rule and the game share
 *   (upstream's `Environment.seed`), then resets the game; `reset()` continues that generator. As
 *   upstream, the sticky action's memory survives resets and re-seeding;
 * - no time limit (upstream registers none); `makeEnv(name, { maxEpisodeSteps })` adds one.
 *
 * For vector envs it also writes observations in place (ObservationWriter: stepInto / resetInto), so a
 * batch of N frames costs no N frames of allocation and copying.
 *
 * Its complete state — the game's, the generator's and the sticky action's memory — can be saved
 * and restored exactly (SnapshotEnv), for checkpoints.
 *
 * Stepping after a terminal step throws (upstream would keep returning the terminal frame), so a
 * training loop that forgets to reset fails loudly instead of learning from a frozen frame.
 */
import { StaqInputError } from "../../errors.ts";
import { ArraySlabs } from "../array-slabs.ts";
import type { Env, EnvState, ObservationWriter, ResetResult, SnapshotEnv, StepResult } from "../env.ts";
import { RandomState, type RandomStateSnapshot } from "../random-state.ts";
import { checkSeed, NUMPY_MAX_SEED } from "../../random/seed.ts";
import { describeValue } from "../../io/describe-value.ts";
import { markFinite } from "../finite-envs.ts";
import { EPISODE_PHASES, openState, type StateReader } from "../state-reader.ts";
import type { MinatarGame, MinatarGameFactory, MinatarGameOptions, NumpyRandom } from "./game.ts";

export interface MinatarEnvOptions {
  /** "full": the 6 actions [n, l, u, r, d, f] (upstream -v0); "minimal": the game's own subset (-v1). Default "full". */
  actionSet?: "full" | "minimal";
  /** Probability of repeating the previous action instead of the chosen one. Default 0.1, as upstream. */
  stickyActionProb?: number;
  /** Whether the game speeds up over time. Default true, as upstream. */
  difficultyRamping?: boolean;
  /** The environment's name (for messages and the registry). Default "MinAtar". */
  name?: string;
}

/**
 * The game draws from this; re-seeding swaps the RandomState behind it without rebuilding the
 * game, as upstream's `Environment.seed` assigns a new RandomState to the existing game.
 */
class SeedableRandom implements NumpyRandom {
  constructor(public source: RandomState) {}
  rand(): number {
    return this.source.rand();
  }
  randint(lowOrN: number, high?: number): number {
    return this.source.randint(lowOrN, high);
  }
}

/**
 * Every MinatarEnv's observations come from one pool of slabs (see ArraySlabs: a new Float32Array of
 * 400–1000 values per step would cost more than the game step itself). One pool for all environments,
 * so the N copies of a vector env do not each hold a part-used slab.
 */
const observationSlabs = new ArraySlabs();

/** Upstream's game settings, what a MinatarEnv is made with unless told otherwise. */
export const MINATAR_UPSTREAM_SETTINGS: Readonly<MinatarGameOptions> = Object.freeze({ stickyActionProb: 0.1, difficultyRamping: true });

/**
 * Each environment's game settings, which a saved state records and a load checks: a state played
 * on with another sticky-action probability or ramping would continue as another game. Kept out
 * of the object (the maxSeed comment below says why its layout matters); read only at save and load.
 */
const gameSettings = new WeakMap<MinatarEnv, MinatarGameOptions>();

export class MinatarEnv implements Env, ObservationWriter, SnapshotEnv {
  readonly name: string;
  readonly observationShape: readonly number[];
  readonly actionCount: number;
  /**
   * numpy's RandomState takes seeds up to 2^32 − 1 (a vector env checks seed + i against it). A
   * getter, not a field: as an instance field it made a 16-copy vector env of Breakout step 10%
   * slower (measured old against new in one process; the object's layout is on the hot path).
   */
  get maxSeed(): number {
    return NUMPY_MAX_SEED;
  }
  /** The game behind the environment (its channel names, for rendering). */
  readonly game: MinatarGame;
  /** Full-set action index of each of this environment's actions. */
  readonly actions: readonly number[];

  private readonly random: SeedableRandom;
  /** Values in one observation: 10 × 10 × channels. */
  private readonly observationLength: number;
  private phase: "idle" | "running" | "terminated" = "idle";
  /**
   * The reward of the last step (act's second result, kept here rather than in an object per step).
   * Not part of the saved state: it is read only right after the act that sets it.
   */
  private lastReward = 0;

  constructor(factory: MinatarGameFactory, options: MinatarEnvOptions = {}) {
    const stickyActionProb = options.stickyActionProb ?? MINATAR_UPSTREAM_SETTINGS.stickyActionProb;
    // typeof first: `"0.5" >= 0` is true in JavaScript, and a string would then reach the game's arithmetic.
    if (!(typeof stickyActionProb === "number" && stickyActionProb >= 0 && stickyActionProb <= 1))
      throw new StaqInputError(`MinAtar: stickyActionProb must be a number in [0, 1]; got ${describeValue(stickyActionProb)}`);
    const difficultyRamping = options.difficultyRamping ?? MINATAR_UPSTREAM_SETTINGS.difficultyRamping;
    if (typeof difficultyRamping !== "boolean")
      throw new StaqInputError(`MinAtar: difficultyRamping must be true or false; got ${describeValue(difficultyRamping)}`);
    const actionSet = options.actionSet ?? "full";
    if (actionSet !== "full" && actionSet !== "minimal")
      throw new StaqInputError(`MinAtar: actionSet must be "full" or "minimal"; got ${describeValue(actionSet)}`);
    // Unseeded, as upstream's RandomState() from OS entropy: one seed from Math.random.
    this.random = new SeedableRandom(new RandomState(Math.floor(Math.random() * NUMPY_MAX_SEED)));
    this.game = factory(this.random, { stickyActionProb, difficultyRamping });
    gameSettings.set(this, { stickyActionProb, difficultyRamping });
    this.name = options.name ?? "MinAtar";
    this.observationShape = [10, 10, this.game.channels.length];
    this.actions = actionSet === "full" ? [0, 1, 2, 3, 4, 5] : [...this.game.minimalActions];
    this.actionCount = this.actions.length;
    this.observationLength = 100 * this.game.channels.length;
    markFinite(this);
  }

  reset(options: { seed?: number } = {}): ResetResult {
    const seed = options?.seed;
    if (seed !== undefined) {
      // numpy's RandomState(seed) takes integers in [0, 2^32 − 1].
      checkSeed(this.name, seed, NUMPY_MAX_SEED, " (numpy RandomState)");
      this.random.source = new RandomState(seed);
    }
    this.game.reset();
    this.phase = "running";
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    const terminal = this.act(action);
    return { obs: this.observe(), reward: this.lastReward, terminated: terminal, truncated: false, info: {} };
  }

  /** For vector envs (ObservationWriter): step(), with the observation written into `out` at `offset` (a range of zeros, as the contract says). */
  stepInto(action: number, out: Float32Array, offset: number): { reward: number; terminated: boolean; truncated: boolean } {
    const terminal = this.act(action);
    this.game.state(out.subarray(offset, offset + this.observationLength), true);
    return { reward: this.lastReward, terminated: terminal, truncated: false };
  }

  /** For vector envs (ObservationWriter): reset() without a seed, with the observation written into `out` at `offset`. */
  resetInto(out: Float32Array, offset: number): void {
    this.game.reset();
    this.phase = "running";
    this.game.state(out.subarray(offset, offset + this.observationLength));
  }

  /**
   * The complete state (SnapshotEnv), as JSON data: the episode phase, the generator that the game
   * and the sticky-action rule share (numpy's key and pos; the port has no cached Gaussian to save),
   * and the game's own state, the sticky action's memory included.
   */
  saveState(): EnvState {
    const { key, pos } = this.random.source.getState();
    const settings = gameSettings.get(this)!;
    return {
      env: this.name,
      kind: "minatar",
      phase: this.phase,
      random: { key, pos },
      settings: { ...settings },
      game: this.game.saveState(),
    };
  }

  /** Restores a state from saveState exactly (validated first; a StaqInputError says what was wrong). */
  loadState(state: EnvState): void {
    const root = openState(this.name, state, "minatar");
    checkSettings(root.get("settings"), gameSettings.get(this)!);
    const phase = root.get("phase").oneOf(EPISODE_PHASES);
    const random = root.get("random").parse((value) => {
      const restored = new RandomState(0);
      restored.setState(value as RandomStateSnapshot);
      return restored;
    });
    // The game checks all of its state before changing, and nothing after it can fail.
    this.game.loadState(root.get("game"));
    this.random.source = random;
    this.phase = phase;
  }

  /** Checks the action and the phase and plays one step of the game; returns whether it terminated (its reward goes to lastReward). */
  private act(action: number): boolean {
    if (!(Number.isInteger(action) && action >= 0 && action < this.actionCount)) {
      throw new StaqInputError(`${this.name}: action must be an integer in [0, ${this.actionCount}); got ${describeValue(action)}`);
    }
    if (this.phase === "idle") throw new StaqInputError(`${this.name}: step() called before reset(); call reset() first`);
    if (this.phase === "terminated")
      throw new StaqInputError(`${this.name}: step() called after the episode terminated; call reset() to start a new episode`);
    const { reward, terminal } = this.game.act(this.actions[action]);
    if (terminal) this.phase = "terminated";
    this.lastReward = reward;
    return terminal;
  }

  private observe(): Float32Array {
    const obs = observationSlabs.float32(this.observationLength);
    this.game.state(obs, true); // a new array from the slabs: all zeros
    return obs;
  }
}

/**
 * The game settings the MinatarEnvs whose saved states are `states` were made with (the copies of
 * a run: src/agent/env-factory.ts's sourceEnvStates gives them from a checkpoint), so that the
 * run's game can be made again as it was. Undefined where a state is not a MinatarEnv's (another
 * environment, or the game inside a wrapper of the run's own, which only its env function makes
 * again) or none records settings (saved before they were). A StaqInputError where a record is
 * malformed or the copies were made with different settings: no one game is the run's then.
 */
export function savedMinatarSettings(states: readonly unknown[]): MinatarGameOptions | undefined {
  const records = states.map((state) => (state !== null && typeof state === "object" ? (state as Record<string, unknown>) : undefined));
  if (records.length === 0 || records.some((record) => record?.kind !== "minatar")) return undefined;
  if (records.every((record) => record!.settings === undefined)) return undefined;
  const found = records.map((record, i) => {
    const settings = record!.settings as Partial<MinatarGameOptions> | null | undefined;
    const sticky = settings?.stickyActionProb;
    if (!(typeof sticky === "number" && sticky >= 0 && sticky <= 1 && typeof settings?.difficultyRamping === "boolean"))
      throw new StaqInputError(
        `the saved state of environment copy ${i} records the game settings ${JSON.stringify(settings)}; they must be { stickyActionProb: a number in [0, 1], difficultyRamping: true or false }`,
      );
    return { stickyActionProb: sticky, difficultyRamping: settings.difficultyRamping };
  });
  const differing = found.findIndex(
    (s) => s.stickyActionProb !== found[0].stickyActionProb || s.difficultyRamping !== found[0].difficultyRamping,
  );
  if (differing > 0)
    throw new StaqInputError(
      `the run's environment copies were made with different game settings (copy 0: ${JSON.stringify(found[0])}, copy ${differing}: ${JSON.stringify(found[differing])}); no one game is the run's: evaluate it with the run's own env function`,
    );
  return found[0];
}

/**
 * Refuses a state saved with other game settings than `own` (a state saved before they were
 * recorded has none, and is taken as it is).
 */
function checkSettings(saved: StateReader, own: MinatarGameOptions): void {
  if (saved.value === undefined) return;
  const stickyActionProb = saved.get("stickyActionProb").float({ finite: true });
  const difficultyRamping = saved.get("difficultyRamping").boolean();
  if (stickyActionProb !== own.stickyActionProb || difficultyRamping !== own.difficultyRamping) {
    throw new StaqInputError(
      `${saved.owner}: loadState: the state was saved by a game with stickyActionProb ${stickyActionProb} and difficultyRamping ${difficultyRamping}; ` +
        `this one has ${own.stickyActionProb} and ${own.difficultyRamping}: load it into an environment made with the same settings`,
    );
  }
}
