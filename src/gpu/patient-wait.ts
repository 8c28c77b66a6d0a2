/**
 * Waiting for GPU work without burning a core.
 *
 * Dawn's Node bindings poll for completion with `setImmediate` for as long as any WebGPU promise
 * is pending, which keeps the JS thread at 100% of a core. On a GPU that costs only power, but on
 * a software adapter (lavapipe) on a 2-core machine it takes a core from the shader threads:
 * measured here, a 2×256 stack evaluation ran in 535 ms with a pending promise and in 375 ms when
 * the promise was created only after the work was nearly done.
 *
 * So for work expected to take a while, staq first sleeps on a timer for most of the expected
 * time (no pending WebGPU promise, no polling), then awaits the promise. The expectation is
 * learned from earlier runs of the same work; short work waits directly.
 *
 * A wrong expectation costs a sleep of seconds where the work takes milliseconds, so it is
 * learned cautiously: the first run of a piece of work often includes compiling its pipelines
 * (seconds on a cold Mesa shader cache), so no sleep is planned until two runs were seen, and
 * then from the faster of the recent ones; and a wait that finds the work already done forgets
 * everything learned, so the next run is awaited directly and measured afresh.
 */

/** Work shorter than this is awaited directly: a timer's ~1 ms granularity would cost more. */
export const PATIENT_MIN_MS = 10;
/** Fraction of the expected time spent sleeping before the promise is created. */
export const PATIENT_FRACTION = 0.8;
/**
 * A promise that settles this soon after the sleep means the work was already done: we overslept.
 * 0.5 ms, or 5% of the expected time when that is more: on a loaded machine an already-settled
 * promise can take a millisecond or two to be seen, and that must not read as work still running.
 */
const OVERSLEPT_MS = 0.5;
const OVERSLEPT_FRACTION = 0.05;

/** A running estimate of how long a repeated piece of GPU work takes, from submit to completion. */
export class DurationEstimate {
  private recent: number[] = [];
  /** The estimate (the smallest recent time), or undefined before two observations. */
  get ms(): number | undefined {
    return this.recent.length >= 2 ? Math.min(...this.recent) : undefined;
  }
  observe(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > 8) this.recent.shift();
  }
  /** Forgets every observation (the work was faster than expected). */
  reset(): void {
    this.recent = [];
  }
}

/**
 * Waits for GPU work submitted at `submitted` (a performance.now() time): sleeps for most of the
 * estimated duration when the adapter's promises busy-poll and the work is long, then awaits
 * `wait()`. Updates the estimate; a wait that found the work already done resets it, so a
 * workload that got faster is slept through once at most.
 */
export async function waitPatiently<T>(
  estimate: DurationEstimate,
  busyPolls: boolean,
  submitted: number,
  wait: () => Promise<T>,
): Promise<T> {
  const expected = estimate.ms;
  let slept = false;
  if (busyPolls && expected !== undefined && expected >= PATIENT_MIN_MS) {
    const remaining = expected * PATIENT_FRACTION - (performance.now() - submitted);
    if (remaining > 1) {
      await new Promise((resolve) => setTimeout(resolve, remaining));
      slept = true;
    }
  }
  const waitStarted = performance.now();
  const result = await wait();
  const done = performance.now();
  const overslept = slept && done - waitStarted < Math.max(OVERSLEPT_MS, OVERSLEPT_FRACTION * expected!);
  if (overslept) estimate.reset();
  else estimate.observe(done - submitted);
  return result;
}
