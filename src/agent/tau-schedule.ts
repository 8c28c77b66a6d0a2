/**
 * The entropy weight τ over a run: linear from tauStart/ln|A| to tauEnd/ln|A| over the first
 * tauAnnealSteps environment steps, then constant (the StaQ authors' schedule). Dividing by ln|A|,
 * the largest entropy, makes the same setting mean the same regularisation for any action count.
 */
import { StaqInputError } from "../errors.ts";

export interface TauSchedule {
  tauStart: number;
  tauEnd: number;
  tauAnnealSteps: number;
}

/** τ after `envSteps` environment steps, for an environment with `actions` actions (≥ 2). */
export function tauAt(schedule: TauSchedule, envSteps: number, actions: number): number {
  const progress = schedule.tauAnnealSteps === 0 ? 1 : Math.min(1, envSteps / schedule.tauAnnealSteps);
  const tau = progress === 1 ? schedule.tauEnd : schedule.tauStart + (schedule.tauEnd - schedule.tauStart) * progress;
  return tau / Math.log(actions);
}

/**
 * Refuses a StaQ config whose τ is so small beside η that the weight-corrected PMD step degenerates
 * in float64: β = η/(η + τ) rounds to 1, the correction 1/(1 − β^M) is infinite, and the run would
 * diverge at its first push with NaN policy quantities that point nowhere near the cause.
 */
export function checkTauScale(config: TauSchedule & { algo: string; eta: number; memory: number; variant: string }, actions: number): void {
  if (config.algo !== "staq" || config.variant !== "corrected") return;
  const used: ["tauStart" | "tauEnd", number][] = [["tauEnd", config.tauEnd]];
  if (config.tauAnnealSteps > 0) used.push(["tauStart", config.tauStart]);
  for (const [key, value] of used) {
    const tau = value / Math.log(actions);
    const beta = config.eta / (config.eta + tau);
    if (!(beta < 1 && Number.isFinite(1 / (1 - beta ** config.memory)))) {
      throw new StaqInputError(
        `${key} (${value}) is too small beside eta (${config.eta}): β = η/(η + τ) rounds to 1, so the stack's weight correction 1/(1 − β^M) is infinite; raise ${key} or lower eta`,
      );
    }
  }
}
