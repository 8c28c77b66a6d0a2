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
 * learned cautiously. The estimate is the fastest of the recent runs, and none is made before two
 * runs were seen: the first run of a piece of work may include compiling its shaders, and lavapipe
 * (llvmpipe) compiles a shader at its first dispatch, not when the pipeline is created, so no
 * caller can tell that run apart (measured: the soft Q fit's first 200 fused steps took 28 s on a
 * cold Mesa shader cache, the next 200 steps 0.7 s; learning from the first made the second sleep
 * 22 s). A wait that finds the work already done (when the timer woke on time) makes the next run
 * be awaited directly and measured afresh. That fresh measurement polls the whole
 * time, which slows the work it measures (the fused trainer: 1.8× on two cores); when it comes out
 * longer than the oversleep proved the work takes, the proof is kept instead, so the estimate
 * still shrinks towards the unpolled duration rather than swinging back to the polled one.
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

/** Observations an estimate needs: the first run alone may have compiled the work's shaders. */
const OBSERVATIONS_BEFORE_SLEEPING = 2;

/** A running estimate of how long a repeated piece of GPU work takes, from submit to completion. */
export class DurationEstimate {
  private recent: number[] = [];
  /** Set by an oversleep: the next call waits directly, to measure the work afresh. */
  private probing = false;
  /** The oversleep's bound: the work, not polled, took at most this long. */
  private proven = Infinity;
  /** The estimate (the smallest recent time), or undefined before two observations and while probing. */
  get ms(): number | undefined {
    return !this.probing && this.recent.length >= OBSERVATIONS_BEFORE_SLEEPING ? Math.min(...this.recent) : undefined;
  }
  observe(ms: number): void {
    // A probe that polled the whole time and came out slower than the work was proven to run
    // measured the polling: keep the proof.
    if (this.probing && ms > this.proven) ms = this.proven;
    this.probing = false;
    this.proven = Infinity;
    this.recent.push(ms);
    if (this.recent.length > 8) this.recent.shift();
  }
  /**
   * The work was done before the sleep ended: it took at most `bound` ms, less than the estimate.
   * The bound is kept (an upper bound, so the estimate shrinks at once), and the next call waits
   * directly and measures the real duration.
   */
  overslept(bound: number): void {
    this.observe(bound);
    this.probing = true;
    this.proven = bound;
  }
}

/**
 * Waits for GPU work submitted at `submitted` (a performance.now() time): sleeps for most of the
 * estimated duration when the adapter's promises busy-poll and the work is long, then awaits
 * `wait()`. Updates the estimate. A wait that found the work already done although the timer woke
 * on time means the estimate is too long: the next call measures afresh, so a workload that got
 * faster is slept through once at most. A timer that woke late (a loaded machine) says nothing
 * about the estimate, and such a call teaches it nothing.
 */
export async function waitPatiently<T>(
  estimate: DurationEstimate,
  busyPolls: boolean,
  submitted: number,
  wait: () => Promise<T>,
): Promise<T> {
  const expected = estimate.ms;
  let wakeAt: number | undefined;
  if (busyPolls && expected !== undefined && expected >= PATIENT_MIN_MS) {
    const remaining = expected * PATIENT_FRACTION - (performance.now() - submitted);
    if (remaining > 1) {
      wakeAt = performance.now() + remaining;
      await new Promise((resolve) => setTimeout(resolve, remaining));
    }
  }
  const waitStarted = performance.now();
  const result = await wait();
  const done = performance.now();
  if (wakeAt === undefined) {
    estimate.observe(done - submitted);
    return result;
  }
  const slack = Math.max(OVERSLEPT_MS, OVERSLEPT_FRACTION * expected!);
  const settledAtOnce = done - waitStarted < slack;
  const wokeLate = waitStarted - wakeAt > slack;
  if (!settledAtOnce) estimate.observe(done - submitted);
  else if (!wokeLate) estimate.overslept(done - submitted);
  return result;
}
