/**
 * The wall-clock side of a run, kept out of the algorithm: the seconds of learning so far (across
 * resumes) and the seconds each phase of an iteration took. Timings differ between identical runs
 * (metrics.ts lists them as TIMING_KEYS); nothing the agent computes depends on them.
 */
import type { Gpu } from "../gpu/gpu.ts";

/** A clock of learning seconds: `before` (a resumed run's), plus those since this call. */
export function learningClock(before: number): () => number {
  const started = performance.now();
  return () => before + (performance.now() - started) / 1000;
}

/** Seconds per phase, each phase's including the GPU work it submitted (waited for at its end). */
export class PhaseTimer<Phase extends string> {
  readonly seconds = {} as Record<Phase, number>;

  constructor(private readonly gpu: Gpu) {}

  async time<T>(phase: Phase, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    // Work a phase left queued would otherwise be counted in the next phase's time.
    await this.gpu.idle();
    this.seconds[phase] = (performance.now() - started) / 1000;
    return result;
  }
}
