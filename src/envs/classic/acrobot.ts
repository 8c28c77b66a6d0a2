/**
 * Acrobot-v1: a two-link pendulum hanging from a fixed pivot, actuated only at the joint between the
 * links; swing the tip above the height of one link over the pivot.
 *
 * The task is Sutton's ("Generalization in reinforcement learning: successful examples using sparse
 * coarse coding", NIPS 8, 1996) with the equations of motion of Sutton & Barto's book (the "book"
 * dynamics, which include the −m₂·l₁·lc₂·θ̇₁²·sin θ₂ term the NIPS paper omits). Constants, the
 * integrator and the episode rules are those of Gymnasium's `classic_control/acrobot.py` (from RLPy),
 * re-derived and written anew with the same float64 operations in the same order, so one step from
 * the same state matches upstream up to the last bit of `cos`/`sin`.
 *
 * One step (dt = 0.2 s) is a single classical Runge–Kutta step of the augmented state
 * [θ₁, θ₂, θ̇₁, θ̇₂, torque] (torque's derivative is 0):
 *   k1 = f(y), k2 = f(y + dt/2·k1), k3 = f(y + dt/2·k2), k4 = f(y + dt·k3),
 *   y' = y + dt/6 · (((k1 + 2·k2) + 2·k3) + k4),
 * then θ₁, θ₂ are wrapped into [−π, π] (by repeated ±2π, as upstream's `wrap`), θ̇₁ is clipped to
 * [−4π, 4π] and θ̇₂ to [−9π, 9π] (upstream's `bound`).
 *
 * Upstream behaviour reproduced:
 * - state [θ₁, θ₂, θ̇₁, θ̇₂] in float64 (θ₂ relative to link 1; θ = 0 hangs down); the observation is
 *   [cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂] cast to float32 (a new array each call);
 * - reset draws the four values from U(−0.1, 0.1) and rounds them to float32, as upstream's
 *   `.astype(np.float32)` does (later states are float64);
 * - actions 0, 1, 2 apply torque −1, 0, +1; no torque noise (upstream's default `torque_noise_max = 0`);
 * - termination when −cos θ₁ − cos(θ₂ + θ₁) > 1; reward −1 per step, 0 on the terminating step;
 * - no time limit inside the environment (Gymnasium's `TimeLimit`, 500 steps for v1, and staq's
 *   registry add it); `truncated` is always false here.
 *
 * Deliberate differences:
 * - Stepping after a terminal step throws a StaqInputError telling the caller to reset() (upstream
 *   silently keeps integrating). `setState` starts a fresh, non-terminated episode.
 * - The reset generator is staq's seeded Philox stream (`createRandomStream`), not numpy's: the reset
 *   distribution is Gymnasium's, the draws for a given seed are not. `reset({ seed })` re-seeds;
 *   `reset()` continues the stream; a fresh environment reset without a seed draws its seed once from
 *   `Math.random` (like Gymnasium's unseeded OS entropy).
 */
import { clip, checkStep } from "./common.ts";
import { ClassicStateEnv } from "./classic-state.ts";
import type { ResetResult, StepResult } from "../env.ts";

const DT = 0.2;
const LINK_LENGTH_1 = 1.0;
const LINK_MASS_1 = 1.0;
const LINK_MASS_2 = 1.0;
const LINK_COM_POS_1 = 0.5;
const LINK_COM_POS_2 = 0.5;
const LINK_MOI = 1.0;
const G = 9.8;
const MAX_VEL_1 = 4 * Math.PI;
const MAX_VEL_2 = 9 * Math.PI;
const AVAIL_TORQUE = [-1.0, 0.0, 1.0] as const;
const RESET_LOW = -0.1;
const RESET_HIGH = 0.1;

/**
 * The time derivative of [θ₁, θ₂, θ̇₁, θ̇₂] under torque `a` ("book" dynamics), written into `out`
 * [dθ₁, dθ₂, ddθ₁, ddθ₂]. Every product and sum is grouped as upstream's Python expression is.
 */
function dsdt(theta1: number, theta2: number, dtheta1: number, dtheta2: number, a: number, out: Float64Array): void {
  const m1 = LINK_MASS_1;
  const m2 = LINK_MASS_2;
  const l1 = LINK_LENGTH_1;
  const lc1 = LINK_COM_POS_1;
  const lc2 = LINK_COM_POS_2;
  const I1 = LINK_MOI;
  const I2 = LINK_MOI;
  const cos2 = Math.cos(theta2);
  const sin2 = Math.sin(theta2);
  const d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos2) + I1 + I2;
  const d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + I2;
  const phi2 = m2 * lc2 * G * Math.cos(theta1 + theta2 - Math.PI / 2.0);
  const phi1 =
    -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2 -
    2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
    (m1 * lc1 + m2 * l1) * G * Math.cos(theta1 - Math.PI / 2) +
    phi2;
  const ddtheta2 = (a + (d2 / d1) * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2) / (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
  const ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  out[0] = dtheta1;
  out[1] = dtheta2;
  out[2] = ddtheta1;
  out[3] = ddtheta2;
}

/** Upstream's `wrap`: shift x by whole periods M − m until m ≤ x ≤ M. */
function wrap(x: number, m: number, M: number): number {
  const diff = M - m;
  while (x > M) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

/**
 * The state [θ₁, θ₂, θ̇₁, θ̇₂] (getState/setState), named as upstream. setState uses it as given: no
 * wrapping or clipping.
 */
const STATE_FIELDS = ["theta1", "theta2", "dtheta1", "dtheta2"];

export class AcrobotEnv extends ClassicStateEnv {
  readonly name = "Acrobot-v1";
  /** [cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂]. */
  readonly observationShape: readonly number[] = [6];
  /** 0, 1, 2: torque −1, 0, +1 on the joint between the links. */
  readonly actionCount = 3;

  // Scratch for the Runge–Kutta stages.
  private readonly k1 = new Float64Array(4);
  private readonly k2 = new Float64Array(4);
  private readonly k3 = new Float64Array(4);
  private readonly k4 = new Float64Array(4);

  constructor() {
    super(STATE_FIELDS);
  }

  reset(options: { seed?: number } = {}): ResetResult {
    const random = this.startEpisode(options?.seed);
    for (let i = 0; i < 4; i++) {
      this.state[i] = Math.fround(RESET_LOW + (RESET_HIGH - RESET_LOW) * random.uniform());
    }
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    checkStep(this.name, action, this.actionCount, this.phase, "0 = torque -1, 1 = none, 2 = torque +1");
    const torque = AVAIL_TORQUE[action];
    const y = this.state;
    const { k1, k2, k3, k4 } = this;
    const dt = DT - 0;
    const dt2 = dt / 2.0;
    // The torque component has derivative 0, so y[4] + h·0 = torque in every stage.
    dsdt(y[0], y[1], y[2], y[3], torque, k1);
    dsdt(y[0] + dt2 * k1[0], y[1] + dt2 * k1[1], y[2] + dt2 * k1[2], y[3] + dt2 * k1[3], torque, k2);
    dsdt(y[0] + dt2 * k2[0], y[1] + dt2 * k2[1], y[2] + dt2 * k2[2], y[3] + dt2 * k2[3], torque, k3);
    dsdt(y[0] + dt * k3[0], y[1] + dt * k3[1], y[2] + dt * k3[2], y[3] + dt * k3[3], torque, k4);
    const h6 = dt / 6.0;
    const next = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) next[i] = y[i] + h6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    y[0] = wrap(next[0], -Math.PI, Math.PI);
    y[1] = wrap(next[1], -Math.PI, Math.PI);
    y[2] = clip(next[2], -MAX_VEL_1, MAX_VEL_1);
    y[3] = clip(next[3], -MAX_VEL_2, MAX_VEL_2);
    const terminated = -Math.cos(y[0]) - Math.cos(y[1] + y[0]) > 1.0;
    if (terminated) this.phase = "terminated";
    return { obs: this.observe(), reward: terminated ? 0.0 : -1.0, terminated, truncated: false, info: {} };
  }

  protected observe(): Float32Array {
    const s = this.state;
    return Float32Array.of(Math.cos(s[0]), Math.sin(s[0]), Math.cos(s[1]), Math.sin(s[1]), s[2], s[3]);
  }
}
