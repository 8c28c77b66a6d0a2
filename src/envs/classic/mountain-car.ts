/**
 * MountainCar-v0: an underpowered car in a valley must rock back and forth to build up enough
 * momentum to drive up the right hill to the flag.
 *
 * The problem is Moore's (A. W. Moore, "Efficient memory-based learning for robot control", PhD
 * thesis, University of Cambridge, 1990), in the form popularised by Sutton & Barto. The dynamics,
 * constants and episode rules are those of Gymnasium's `classic_control/mountain_car.py`, re-derived
 * and written anew with the same float64 operations in the same order:
 *
 *   velocity ← clip(velocity + ((action − 1)·0.001 + cos(3·position)·(−0.0025)), −0.07, 0.07)
 *   position ← clip(position + velocity, −1.2, 0.6)
 *   if position = −1.2 and velocity < 0: velocity ← 0     (the inelastic left wall)
 *
 * Upstream behaviour reproduced:
 * - state [position, velocity] in float64; the observation is the state cast to float32 (a new
 *   array each call);
 * - reset draws position from U(−0.6, −0.4) with velocity 0;
 * - the velocity reset at the left wall (only when the clipped position is exactly −1.2 and the
 *   velocity points left);
 * - termination when position ≥ 0.5 and velocity ≥ 0 (goal_velocity 0); reward −1 on every step,
 *   the terminating one included;
 * - no time limit inside the environment (Gymnasium's `TimeLimit`, 200 steps for v0, and staq's
 *   registry add it); `truncated` is always false here.
 *
 * Deliberate differences:
 * - Stepping after a terminal step throws a StaqInputError telling the caller to reset() (upstream
 *   silently keeps stepping). `setState` starts a fresh, non-terminated episode.
 * - The reset generator is staq's seeded Philox stream (`createRandomStream`), not numpy's: the reset
 *   distribution is Gymnasium's, the draws for a given seed are not. `reset({ seed })` re-seeds;
 *   `reset()` continues the stream; a fresh environment reset without a seed draws its seed once from
 *   `Math.random` (like Gymnasium's unseeded OS entropy).
 */
import { clip, checkStep } from "./common.ts";
import { ClassicStateEnv } from "./classic-state.ts";
import type { ResetResult, StepResult } from "../env.ts";

const MIN_POSITION = -1.2;
const MAX_POSITION = 0.6;
const MAX_SPEED = 0.07;
const GOAL_POSITION = 0.5;
const GOAL_VELOCITY = 0;
const FORCE = 0.001;
const GRAVITY = 0.0025;
const RESET_LOW = -0.6;
const RESET_HIGH = -0.4;

/**
 * The state [position, velocity] (getState/setState). setState uses it as given: not clipped to the
 * track or the speed limit.
 */
const STATE_FIELDS = ["position", "velocity"];

export class MountainCarEnv extends ClassicStateEnv {
  readonly name = "MountainCar-v0";
  /** [position, velocity]. */
  readonly observationShape: readonly number[] = [2];
  /** 0 accelerates left, 1 does nothing, 2 accelerates right. */
  readonly actionCount = 3;

  constructor() {
    super(STATE_FIELDS);
  }

  reset(options: { seed?: number } = {}): ResetResult {
    const random = this.startEpisode(options?.seed);
    this.state[0] = RESET_LOW + (RESET_HIGH - RESET_LOW) * random.uniform();
    this.state[1] = 0;
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    checkStep(this.name, action, this.actionCount, this.phase, "0 = left, 1 = none, 2 = right");
    let position = this.state[0];
    let velocity = this.state[1];
    velocity = velocity + ((action - 1) * FORCE + Math.cos(3 * position) * -GRAVITY);
    velocity = clip(velocity, -MAX_SPEED, MAX_SPEED);
    position = position + velocity;
    position = clip(position, MIN_POSITION, MAX_POSITION);
    if (position === MIN_POSITION && velocity < 0) velocity = 0;
    const terminated = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
    this.state[0] = position;
    this.state[1] = velocity;
    if (terminated) this.phase = "terminated";
    return { obs: this.observe(), reward: -1.0, terminated, truncated: false, info: {} };
  }

  protected observe(): Float32Array {
    return Float32Array.from(this.state);
  }
}
