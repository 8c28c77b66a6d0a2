/**
 * The entropy weight τ over a run: linear from tauStart/ln|A| to tauEnd/ln|A| over the first
 * tauAnnealSteps environment steps, then constant (the StaQ authors' schedule). Dividing by ln|A|,
 * the largest entropy, makes the same setting mean the same regularisation for any action count.
 */
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
