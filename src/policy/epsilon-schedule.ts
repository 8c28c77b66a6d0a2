/**
 * The linear ε schedule of DQN-style agents (CleanRL's `linear_schedule`): ε falls in a straight
 * line from `start` to `end` over the first `decaySteps` steps and stays at `end` after,
 *
 *     ε(step) = start + (end − start) · min(1, step / decaySteps)
 *
 * (decaySteps = 0: `end` from step 0). CleanRL writes it as max(slope·t + start, end) with
 * slope = (end − start) / duration, which is the same line for start ≥ end; the min form also
 * serves a rising schedule. Pure, so an actor can take each step's ε as `ActOptions.epsilon`.
 */
import { StaqInputError } from "../errors.ts";
import { validateEpsilon } from "./reference.ts";

export interface LinearEpsilon {
  /** ε at step 0, in [0, 1]. */
  start: number;
  /** ε from step `decaySteps` on, in [0, 1]. */
  end: number;
  /** Steps from `start` to `end`: an integer ≥ 0 (0: `end` throughout). */
  decaySteps: number;
}

/** Checks a schedule: ε values in [0, 1], decaySteps an integer ≥ 0. */
export function validateLinearEpsilon(schedule: LinearEpsilon): void {
  const { start, end, decaySteps } = schedule;
  validateEpsilon(start);
  validateEpsilon(end);
  if (!(Number.isSafeInteger(decaySteps) && decaySteps >= 0)) {
    throw new StaqInputError(`decaySteps must be an integer ≥ 0; got ${decaySteps}`);
  }
}

/** ε at `step` (an integer ≥ 0) of the linear schedule; always within [min(start, end), max(start, end)]. */
export function linearEpsilon(schedule: LinearEpsilon, step: number): number {
  validateLinearEpsilon(schedule);
  if (!(Number.isSafeInteger(step) && step >= 0)) throw new StaqInputError(`step must be an integer ≥ 0; got ${step}`);
  const { start, end, decaySteps } = schedule;
  if (step >= decaySteps) return end;
  const epsilon = start + (end - start) * (step / decaySteps);
  // Rounding cannot leave the segment by more than an ULP; clamp so the result stays a valid ε.
  return Math.min(Math.max(epsilon, Math.min(start, end)), Math.max(start, end));
}
