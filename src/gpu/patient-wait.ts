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
 * learned from earlier runs of the same work; short work (and the first run) waits directly.
 */

/** Work shorter than this is awaited directly: a timer's ~1 ms granularity would cost more. */
export const PATIENT_MIN_MS = 10;
/** Fraction of the expected time spent sleeping before the promise is created. */
export const PATIENT_FRACTION = 0.8;

/** Sleeps for most of `expectedMs` (when it is long enough), then runs `wait`. */
export async function waitPatiently<T>(expectedMs: number | undefined, wait: () => Promise<T>): Promise<T> {
  if (expectedMs !== undefined && expectedMs >= PATIENT_MIN_MS) {
    await new Promise((resolve) => setTimeout(resolve, Math.floor(expectedMs * PATIENT_FRACTION)));
  }
  return wait();
}

/** A running estimate of how long a repeated piece of GPU work takes (the smallest recent time). */
export class DurationEstimate {
  private recent: number[] = [];
  /** The estimate, or undefined before any observation. */
  get ms(): number | undefined {
    return this.recent.length ? Math.min(...this.recent) : undefined;
  }
  observe(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > 8) this.recent.shift();
  }
}
