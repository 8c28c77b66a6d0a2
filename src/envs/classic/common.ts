/**
 * Small helpers the classic-control ports share besides their state (which ClassicStateEnv, in
 * classic-state.ts, keeps): the step guard and numpy's clip.
 */
import { describeValue } from "../../io/describe-value.ts";
import { StaqInputError } from "../../errors.ts";
import type { EpisodePhase } from "./classic-state.ts";

/** Throws unless `action` is valid and an episode is running. `meaning` lists what the actions do. */
export function checkStep(name: string, action: number, actionCount: number, phase: EpisodePhase, meaning: string): void {
  if (!(Number.isInteger(action) && action >= 0 && action < actionCount)) {
    throw new StaqInputError(`${name}: action must be an integer in [0, ${actionCount}) (${meaning}); got ${describeValue(action)}`);
  }
  if (phase === "idle") throw new StaqInputError(`${name}: step() called before reset(); call reset() (or setState()) first`);
  if (phase === "terminated")
    throw new StaqInputError(`${name}: step() called after the episode terminated; call reset() to start a new episode`);
}

/**
 * min(max(x, lo), hi): numpy's `clip` and Acrobot's `bound` for finite inputs (the order of min and
 * max matters only when lo > hi, which no caller passes).
 */
export function clip(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}
