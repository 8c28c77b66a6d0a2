/**
 * CartPole-v1: a pole hinged on a cart that moves along a frictionless track; push the cart left or
 * right to keep the pole upright.
 *
 * The problem is Barto, Sutton & Anderson's ("Neuronlike adaptive elements that can solve difficult
 * learning control problems", IEEE Trans. SMC 13(5), 1983). The dynamics, constants and episode rules
 * are those of Gymnasium's `classic_control/cartpole.py` (itself from Sutton's `pole.c`), re-derived
 * and written anew here with the same float64 operations in the same order, so one step from the
 * same state gives the same next state as upstream up to the last bit of `cos`/`sin` (JavaScript's
 * and numpy's trig may differ by an ulp):
 *
 *   temp     = (force + polemass_length · θ̇² · sin θ) / total_mass
 *   θ̈        = (g · sin θ − cos θ · temp) / (length · (4/3 − masspole · cos²θ / total_mass))
 *   ẍ        = temp − polemass_length · θ̈ · cos θ / total_mass
 *   explicit Euler with τ = 0.02: x += τ·ẋ, ẋ += τ·ẍ, θ += τ·θ̇, θ̇ += τ·θ̈ (each from the old values).
 *
 * Upstream behaviour reproduced:
 * - the state is float64; the observation is that state cast to float32 (a new array each call);
 * - reset draws each of the four state values from U(−0.05, 0.05);
 * - termination when x ∉ [−2.4, 2.4] or θ ∉ [−12°, 12°] (12·2·π/360 rad), strict comparisons;
 * - reward +1 on every step, the terminating step included (the default, not `sutton_barto_reward`);
 * - no time limit inside the environment: Gymnasium's `TimeLimit` wrapper (500 steps for v1) adds
 *   truncation, and so does staq's registry; `truncated` is always false here.
 *
 * Deliberate differences:
 * - Stepping after a terminal step: Gymnasium logs a warning, returns reward 0 and keeps integrating
 *   ("undefined behaviour"). Here it throws a StaqInputError telling the caller to reset(), so a
 *   training loop that forgets to reset fails loudly instead of learning from garbage transitions.
 *   `setState` starts a fresh (non-terminated) episode from the given state.
 * - The reset generator is staq's seeded Philox stream (`createRandomStream`), not numpy's PCG64:
 *   the reset *distribution* is Gymnasium's, but the same seed gives a different start state than
 *   upstream. `reset({ seed })` re-seeds; `reset()` continues the stream; a fresh environment reset
 *   without a seed draws its seed once from `Math.random` (like Gymnasium's unseeded OS entropy).
 */
import { checkStep } from "./common.ts";
import { ClassicStateEnv } from "./classic-state.ts";
import type { ResetResult, StepResult } from "../env.ts";

const GRAVITY = 9.8;
const MASS_CART = 1.0;
const MASS_POLE = 0.1;
const TOTAL_MASS = MASS_POLE + MASS_CART;
/** Half the pole's length, as upstream. */
const LENGTH = 0.5;
const POLEMASS_LENGTH = MASS_POLE * LENGTH;
const FORCE_MAG = 10.0;
const TAU = 0.02;
const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
const X_THRESHOLD = 2.4;
const RESET_LOW = -0.05;
const RESET_HIGH = 0.05;

/** The state [x, ẋ, θ, θ̇] (getState/setState), named as upstream. */
const STATE_FIELDS = ["x", "x_dot", "theta", "theta_dot"];

export class CartPoleEnv extends ClassicStateEnv {
  readonly name = "CartPole-v1";
  /** [cart position, cart velocity, pole angle (rad), pole angular velocity]. */
  readonly observationShape: readonly number[] = [4];
  /** 0 pushes the cart left, 1 pushes it right. */
  readonly actionCount = 2;

  constructor() {
    super(STATE_FIELDS);
  }

  reset(options: { seed?: number } = {}): ResetResult {
    const random = this.startEpisode(options?.seed);
    for (let i = 0; i < 4; i++) this.state[i] = RESET_LOW + (RESET_HIGH - RESET_LOW) * random.uniform();
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    checkStep(this.name, action, this.actionCount, this.phase, "0 = push left, 1 = push right");
    const s = this.state;
    const x = s[0],
      xDot = s[1],
      theta = s[2],
      thetaDot = s[3];
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const cosTheta = Math.cos(theta);
    const sinTheta = Math.sin(theta);
    const temp = (force + POLEMASS_LENGTH * (thetaDot * thetaDot) * sinTheta) / TOTAL_MASS;
    const thetaAcc = (GRAVITY * sinTheta - cosTheta * temp) / (LENGTH * (4.0 / 3.0 - (MASS_POLE * (cosTheta * cosTheta)) / TOTAL_MASS));
    const xAcc = temp - (POLEMASS_LENGTH * thetaAcc * cosTheta) / TOTAL_MASS;
    s[0] = x + TAU * xDot;
    s[1] = xDot + TAU * xAcc;
    s[2] = theta + TAU * thetaDot;
    s[3] = thetaDot + TAU * thetaAcc;
    const terminated = s[0] < -X_THRESHOLD || s[0] > X_THRESHOLD || s[2] < -THETA_THRESHOLD || s[2] > THETA_THRESHOLD;
    if (terminated) this.phase = "terminated";
    return { obs: this.observe(), reward: 1.0, terminated, truncated: false, info: {} };
  }

  protected observe(): Float32Array {
    return Float32Array.from(this.state);
  }
}
