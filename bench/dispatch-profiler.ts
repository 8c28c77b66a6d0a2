/**
 * Where a piece of GPU work spends its device time, dispatch by dispatch, without changing the code
 * that records it: `profiler.gpu` stands in for the Gpu the work was built with, and while
 * `profiler.profile(run)` runs, every compute pass recorded through it is split into one pass per
 * dispatch with a timestamp query before and after. Dispatches are named by their bind group's
 * label (src/train/dispatch.ts's labels: "soft Q fit weight grad 0"; a per-step uniform slot's
 * " (slot N)" is dropped, so every step's Adam is one name) and summed by name.
 *
 * A pass per dispatch is not free: each adds the timestamps and whatever the driver does between
 * passes, so the parts sum to a little more than the work takes unsplit (the caller can time that
 * too, outside `profile`). The shares are what the profile is for.
 */
import { BufferUsage, MapMode } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import type { Gpu } from "../src/gpu/gpu.ts";

/** One dispatch name's device time over a profiled run. */
export interface DispatchTime {
  label: string;
  /** The shader it runs. */
  kernel: string;
  /** Dispatches of this name in the run. */
  count: number;
  /** Their device time in all, milliseconds. */
  ms: number;
}

/** WebGPU's largest query set: two queries a dispatch. */
const QUERIES = 4096;

export class DispatchProfiler {
  /** Use this Gpu to build and run the work to profile; outside `profile` it is `gpu` unchanged. */
  readonly gpu: Gpu;
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;
  private recording: { label: string; kernel: string }[] | undefined;

  /** Throws when `gpu` has no timestamp queries (`gpu.info.features.timestampQuery`). */
  constructor(private readonly real: Gpu) {
    if (!real.info.features.timestampQuery)
      throw new Error("profiling dispatches needs the timestamp-query feature, which this adapter lacks");
    this.querySet = real.device.createQuerySet({ type: "timestamp", count: QUERIES });
    this.resolve = createBuffer(real, QUERIES * 8, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, "profile timestamps");
    this.readback = createBuffer(real, QUERIES * 8, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "profile timestamp readback");
    const encoder = (label: string) => {
      const inner = real.encoder(label);
      return this.recording ? this.splitting(inner) : inner;
    };
    this.gpu = new Proxy(real, { get: (target, key) => (key === "encoder" ? encoder : Reflect.get(target, key)) });
  }

  /**
   * Runs `run` (which must wait for its work, e.g. by reading a result back) with every dispatch
   * timed, and returns the device time by dispatch name, largest first.
   */
  async profile(run: () => Promise<unknown>): Promise<DispatchTime[]> {
    if (this.recording) throw new Error("profile() is already running");
    const dispatches: { label: string; kernel: string }[] = [];
    this.recording = dispatches;
    try {
      await run();
    } finally {
      this.recording = undefined;
    }
    const queries = 2 * dispatches.length;
    if (queries === 0) return [];
    const encoder = this.real.encoder("profile readback");
    encoder.resolveQuerySet(this.querySet, 0, queries, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, queries * 8);
    this.real.submit([encoder.finish()]);
    await this.readback.mapAsync(MapMode.READ, 0, queries * 8);
    const stamps = new BigInt64Array(this.readback.getMappedRange(0, queries * 8).slice(0));
    this.readback.unmap();
    const byLabel = new Map<string, DispatchTime>();
    dispatches.forEach(({ label, kernel }, k) => {
      const ms = Number(stamps[2 * k + 1] - stamps[2 * k]) / 1e6;
      const entry = byLabel.get(label) ?? { label, kernel, count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += ms;
      byLabel.set(label, entry);
    });
    return [...byLabel.values()].sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }

  /** `inner`, whose compute passes record each dispatch in a timed pass of its own. */
  private splitting(inner: GPUCommandEncoder): GPUCommandEncoder {
    const dispatches = this.recording!;
    const querySet = this.querySet;
    const beginComputePass = (descriptor?: GPUComputePassDescriptor): GPUComputePassEncoder => {
      if (descriptor?.timestampWrites) throw new Error("a pass that writes its own timestamps cannot be profiled");
      let pipeline: GPUComputePipeline | undefined;
      let group: GPUBindGroup | undefined;
      const pass = {
        setPipeline(p: GPUComputePipeline) {
          pipeline = p;
        },
        setBindGroup(index: number, g: GPUBindGroup | null) {
          if (index !== 0 || !g) throw new Error("the dispatch profiler follows bind group 0 only, as staq's kernels use");
          group = g;
        },
        dispatchWorkgroups(x: number, y = 1, z = 1) {
          if (!pipeline || !group) throw new Error("a dispatch before setPipeline and setBindGroup");
          const k = dispatches.length;
          if (2 * k + 2 > QUERIES) throw new Error(`a profiled run may record at most ${QUERIES / 2} dispatches; profile fewer steps`);
          dispatches.push({ label: group.label.replace(/ \(slot \d+\)$/, ""), kernel: pipeline.label.split(" ")[0] });
          const timed = inner.beginComputePass({
            label: descriptor?.label,
            timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 },
          });
          timed.setPipeline(pipeline);
          timed.setBindGroup(0, group);
          timed.dispatchWorkgroups(x, y, z);
          timed.end();
        },
        end() {},
      };
      return pass as unknown as GPUComputePassEncoder;
    };
    return new Proxy(inner, {
      get: (target, key) => {
        if (key === "beginComputePass") return beginComputePass;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}
