/**
 * Timing for benchmarks: repeated runs after a warm-up, summarised as median, p10 and p90.
 * Device time comes from timestamp queries (Dawn's quantisation is off in staq's Node createGpu);
 * without them, R repetitions go into one submit and the wall time is divided by R.
 */
import { BufferUsage, MapMode } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { DurationEstimate, waitPatiently } from "../src/gpu/patient-wait.ts";

export interface Summary {
  median: number;
  p10: number;
  p90: number;
  runs: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), runs: sorted.length };
}

export interface RepeatOptions {
  warmup: number;
  minRuns: number;
  maxRuns: number;
  /** Stop after this much measured time once minRuns are done. */
  minSeconds: number;
}

/** Times `run` (milliseconds) repeatedly within the options' limits. */
export async function repeat(run: () => Promise<number>, options: RepeatOptions): Promise<Summary> {
  for (let i = 0; i < options.warmup; i++) await run();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < options.maxRuns && (samples.length < options.minRuns || total < options.minSeconds * 1000)) {
    const ms = await run();
    samples.push(ms);
    total += ms;
  }
  return summarize(samples);
}

export async function wallTime(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/**
 * Measures the device time of the work `encode` records, in milliseconds per run. With timestamp
 * queries, `encode` receives the pass's timestampWrites and must put them on its (single) pass.
 */
export class DeviceTimer {
  private readonly querySet?: GPUQuerySet;
  private readonly resolve?: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly duration = new DurationEstimate();

  constructor(
    private readonly gpu: Gpu,
    /** Repetitions per submit when the adapter has no timestamp queries. */
    private readonly repetitions = 10,
  ) {
    if (gpu.info.features.timestampQuery) {
      this.querySet = gpu.device.createQuerySet({ type: "timestamp", count: 2 });
      this.resolve = createBuffer(gpu, 16, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, "bench timestamps");
    }
    this.readback = createBuffer(gpu, 16, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "bench timestamp readback");
  }

  get method(): string {
    return this.querySet ? "timestamp queries" : `wall time / ${this.repetitions} runs per submit`;
  }

  async time(
    encode: (encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites) => Promise<void> | void,
  ): Promise<number> {
    const { device } = this.gpu;
    const encoder = device.createCommandEncoder({ label: "bench device time" });
    if (this.querySet && this.resolve) {
      await encode(encoder, { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 });
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
    } else {
      for (let r = 0; r < this.repetitions; r++) await encode(encoder);
    }
    const submitted = performance.now();
    device.queue.submit([encoder.finish()]);
    if (!this.querySet) {
      await waitPatiently(this.duration, this.gpu.info.busyPolls, submitted, () => device.queue.onSubmittedWorkDone());
      return (performance.now() - submitted) / this.repetitions;
    }
    await waitPatiently(this.duration, this.gpu.info.busyPolls, submitted, () => this.readback.mapAsync(MapMode.READ));
    const stamps = new BigInt64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return Number(stamps[1] - stamps[0]) / 1e6;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback.destroy();
  }
}
