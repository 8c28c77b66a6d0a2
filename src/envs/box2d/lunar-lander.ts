/**
 * LunarLander-v3 (discrete actions, no wind): fly a lander from the top of the screen onto the pad
 * between the flags, with a main engine and two orientation engines.
 *
 * A port of Gymnasium's `gymnasium/envs/box2d/lunar_lander.py` (Oleg Klimov's environment; the
 * physics in lunar-lander-physics.ts, the heuristic in lunar-lander-heuristic.ts) on planck, a
 * float64 TypeScript port of Box2D 2.3 — the Box2D line that Gymnasium's pybox2d bundles:
 * - observation (8 float32 values): x and y relative to the pad, scaled (±1 is the screen's edge
 *   for x); the velocity, scaled; the angle (rad, unwrapped); the angular velocity, scaled; and
 *   1/0 for each leg touching the ground — upstream's bookkeeping, which clears a leg's flag when
 *   any of its contacts ends, so a leg resting across two terrain edges can read 0;
 * - actions: 0 nothing, 1 fire the left orientation engine, 2 the main engine, 3 the right one;
 * - reward: the change in a shaping potential (distance, speed, tilt, +10 per leg down) less 0.3
 *   per main-engine step and 0.03 per side-engine step; a crash (anything touching the hull) or
 *   |x| ≥ 1 ends the episode with −100 instead, a lander at rest (asleep in Box2D's sense: the
 *   lander and legs still for 0.5 s) with +100 — the latter wins if both happen on one step;
 * - no time limit inside: the registry adds Gymnasium's 1000 steps (`max_episode_steps`);
 *   `truncated` is always false here.
 *
 * Seeding is Gymnasium's: `reset({ seed })` re-seeds with `np.random.default_rng(seed)` (the
 * PCG64 port, random/pcg64.ts), `reset()` continues the stream, and a fresh environment reset
 * without a seed seeds itself once from Math.random. The draws are upstream's, in upstream's order
 * — 12 terrain heights, the initial push (x, y), then two engine-dispersion numbers on every step,
 * the reset's own step included — so the same seed gives the same terrain and the same push as
 * Gymnasium, and the same dispersion on every step.
 *
 * What differs from upstream:
 * - Precision: planck computes in float64, pybox2d in float32. The reset observation agrees to
 *   about float32 precision; trajectories then drift apart, and after contacts they can take
 *   different courses. Returns agree in distribution (the heuristic's mean return, for one), not
 *   episode by episode.
 * - Particles (the engines' exhaust) are not simulated: upstream creates them only when rendering,
 *   and its own comment says they have no effect on the physics (their collision filter keeps them
 *   off the lander and legs); they draw no random numbers.
 * - Stepping after a terminal step, or before any reset, throws a StaqInputError (as the classic
 *   ports do); upstream keeps simulating.
 * - Only the discrete, windless default (`LunarLander-v3`); no continuous actions, wind or
 *   gravity option.
 *
 * LunarLander-v2 differs from v3 only in things this port does not have: v2 reused one Box2D world
 * across resets, so `reset(seed)` was not exactly reproducible (v3 builds a new world each reset,
 * as here); its observation-space bounds were narrower (±1.5, ±5, ±π instead of ±2.5, ±10, ±2π:
 * the values are the same); it drew the wind's phases from numpy's global generator (v3 draws them
 * from the env's, and only with wind on); and it cast continuous actions to float32. The discrete
 * windless dynamics, rewards and random draws are the same, so v2 results carry over.
 *
 * Save and restore (SnapshotEnv) cannot copy the world: planck's internals (contacts and their
 * warm-start impulses, broad-phase pairs, sleep timers, the solver's caches) decide the next steps
 * to the last bit, and are neither small nor public. The state is therefore what produced the
 * world: the generator's state at the start of the episode's reset and the actions taken since.
 * Restoring rebuilds the episode from them and replays the actions. planck is deterministic plain
 * JavaScript, so the replay reaches the same world bit for bit; it costs one step per action (at
 * most 1000 under the registry's time limit, a fraction of a second).
 */
import { StaqInputError } from "../../errors.ts";
import { Pcg64Generator, type Pcg64State } from "../../random/pcg64.ts";
import { checkStep } from "../classic/common.ts";
import type { EpisodePhase } from "../classic/classic-state.ts";
import type { Env, EnvState, ResetResult, SnapshotEnv, StepResult } from "../env.ts";
import { checkSeed } from "../../random/seed.ts";
import { markFinite } from "../finite-envs.ts";
import { EPISODE_PHASES, openState } from "../state-reader.ts";
import { LanderEpisode } from "./lunar-lander-physics.ts";

const ACTION_MEANING = "0 = nothing, 1 = left orientation engine, 2 = main engine, 3 = right orientation engine";

/** Gymnasium's `max_episode_steps` for LunarLander-v3 (the registry's time limit). */
export const LUNAR_LANDER_TIME_LIMIT = 1000;

export class LunarLanderEnv implements Env, SnapshotEnv {
  readonly name = "LunarLander-v3";
  /** [x, y, vx, vy, angle, angular velocity, left leg contact, right leg contact]. */
  readonly observationShape: readonly number[] = [8];
  readonly actionCount = 4;

  /** The environment's generator (numpy's np_random); undefined until the first reset. */
  private random: Pcg64Generator | undefined;
  /** The current episode's world; undefined before the first reset. */
  private episode: LanderEpisode | undefined;
  /** The generator's state just before this episode's reset drew from it (for saveState). */
  private episodeStart: Pcg64State | undefined;
  /** The actions taken since the reset (for saveState). */
  private actions: number[] = [];
  private phase: EpisodePhase = "idle";

  constructor() {
    markFinite(this);
  }

  reset(options: { seed?: number } = {}): ResetResult {
    const seed = options?.seed;
    if (seed !== undefined) {
      checkSeed(this.name, seed);
      this.random = new Pcg64Generator(seed);
    } else {
      // Gymnasium's unseeded generator comes from OS entropy, once; later resets continue it.
      this.random ??= new Pcg64Generator(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
    }
    this.episodeStart = this.random.getState();
    this.episode = new LanderEpisode(this.random);
    this.actions = [];
    this.phase = "running";
    return { obs: Float32Array.from(this.episode.state), info: {} };
  }

  step(action: number): StepResult {
    checkStep(this.name, action, this.actionCount, this.phase, ACTION_MEANING);
    const episode = this.episode as LanderEpisode;
    const { reward, terminated } = episode.advance(action);
    this.actions.push(action);
    if (terminated) this.phase = "terminated";
    return { obs: Float32Array.from(episode.state), reward, terminated, truncated: false, info: {} };
  }

  /**
   * The unrounded float64 values behind the last observation (a copy), which the reward and the
   * termination use; undefined before the first reset.
   */
  lastState(): Float64Array | undefined {
    return this.episode === undefined ? undefined : Float64Array.from(this.episode.state);
  }

  /** The terrain's height at x = 0, 2, ..., 20 (a copy; the pad spans x 8 to 12); undefined before the first reset. */
  terrain(): Float64Array | undefined {
    return this.episode === undefined ? undefined : Float64Array.from(this.episode.terrain);
  }

  /**
   * The complete state (SnapshotEnv) as JSON data:
   *
   *   {"env": "LunarLander-v3", "kind": "lunar-lander", "phase": "idle" | "running" | "terminated",
   *    "episodeStart": the generator's state before the episode's reset (Pcg64State), or null before the first reset,
   *    "actions": the actions taken since that reset}
   *
   * See the file's comment for why the world itself is not saved.
   */
  saveState(): EnvState {
    return {
      env: this.name,
      kind: "lunar-lander",
      phase: this.phase,
      episodeStart: this.episodeStart === undefined ? null : { ...this.episodeStart },
      actions: [...this.actions],
    };
  }

  /**
   * Restores a state from saveState exactly, by rebuilding the episode and replaying its actions.
   * Every field is checked — and the replay must end in the saved phase — before anything changes,
   * so a refused state (a StaqInputError saying what was wrong) leaves the env as it was.
   */
  loadState(state: EnvState): void {
    const root = openState(this.name, state, "lunar-lander");
    const phase = root.get("phase").oneOf(EPISODE_PHASES);
    const startReader = root.get("episodeStart");
    const random = startReader.orNull((reader) => reader.parse((value) => Pcg64Generator.fromState(value as Pcg64State)));
    const actionsReader = root.get("actions");
    const actions = actionsReader.items().map((item) => item.integer(0, this.actionCount - 1));

    if (phase === "idle") {
      if (random !== null) startReader.fail('null when the phase is "idle" (no episode has started)');
      if (actions.length > 0) actionsReader.fail('an empty array when the phase is "idle" (no episode has started)');
      this.random = undefined;
      this.episode = undefined;
      this.episodeStart = undefined;
      this.actions = [];
      this.phase = "idle";
      return;
    }
    if (random === null) return startReader.fail(`the generator's state at the episode's reset (the phase is ${JSON.stringify(phase)})`);

    if (actions.length === 0 && phase === "terminated") {
      actionsReader.fail('at least one action when the phase is "terminated" (an episode ends on a step)');
    }

    const episodeStart = random.getState();
    const episode = new LanderEpisode(random);
    for (let t = 0; t < actions.length; t++) {
      const { terminated } = episode.advance(actions[t]);
      const last = t === actions.length - 1;
      if (terminated && !last) {
        throw new StaqInputError(
          `${this.name}: loadState: state.actions do not replay to the saved episode: it terminates at action ${t + 1} of ${actions.length} (a state saveState wrote replays exactly; this one was edited or saved by another version)`,
        );
      }
      if (last && terminated !== (phase === "terminated")) {
        throw new StaqInputError(
          `${this.name}: loadState: state.actions do not replay to the saved phase ${JSON.stringify(phase)}: the episode ${terminated ? "terminates" : "does not terminate"} at its last action (a state saveState wrote replays exactly; this one was edited or saved by another version)`,
        );
      }
    }
    this.random = random;
    this.episode = episode;
    this.episodeStart = episodeStart;
    this.actions = actions;
    this.phase = phase;
  }
}
