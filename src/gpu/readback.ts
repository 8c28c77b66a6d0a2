/**
 * The one way staq reads results back from the GPU: copy into a mappable staging buffer at the end
 * of the caller's commands, submit, wait (patiently, when the work is long and the adapter's
 * promises busy-poll: patient-wait.ts), copy the bytes out, unmap. Every readback checks
 * `gpu.error` first and last (mapForReading), so data from a failed device never passes for a
 * result.
 *
 * A `Readback` owns its staging buffer and grows it when a read needs more, so a loop that reads
 * every step (acting, the stack's CPU entry point, trainer statistics) allocates nothing per
 * call. Its reads must not overlap: its owner runs them one after another (SerialQueue).
 */
import { StaqGpuError } from "../errors.ts";
import { createBuffer, mapForReading } from "./buffers.ts";
import { BufferUsage } from "./constants.ts";
import type { Gpu } from "./gpu.ts";
import { waitPatiently, type DurationEstimate } from "./patient-wait.ts";

/** `bytes` bytes of `source` from `offset` (both multiples of 4). */
export interface ReadbackRange {
  source: GPUBuffer;
  offset?: number;
  bytes: number;
}

export class Readback {
  private staging: GPUBuffer | undefined;
  private busy = false;

  constructor(
    private readonly gpu: Gpu,
    private readonly label: string,
  ) {}

  /**
   * Records copies of `ranges` into `encoder` after the work already in it, submits it, and
   * resolves with a copy of each range's bytes, in order. With `estimate`, a long wait sleeps on a
   * timer first and the estimate learns this call's duration.
   */
  async read(encoder: GPUCommandEncoder, ranges: readonly ReadbackRange[], estimate?: DurationEstimate): Promise<ArrayBuffer[]> {
    if (this.busy) throw new StaqGpuError(`${this.label}: a readback is already in flight; run reads one after another`);
    this.busy = true;
    try {
      const sizes = ranges.map((r) => Math.ceil(r.bytes / 4) * 4);
      const total = Math.max(
        4,
        sizes.reduce((a, b) => a + b, 0),
      );
      const staging = this.stagingOf(total);
      let at = 0;
      ranges.forEach((range, i) => {
        if (sizes[i] > 0) encoder.copyBufferToBuffer(range.source, range.offset ?? 0, staging, at, sizes[i]);
        at += sizes[i];
      });
      const submitted = performance.now();
      this.gpu.submit([encoder.finish()]);
      const map = () => mapForReading(this.gpu, staging, 0, total);
      await (estimate ? waitPatiently(estimate, this.gpu.info.busyPolls, submitted, map) : map());
      const mapped = staging.getMappedRange(0, total);
      at = 0;
      const results = ranges.map((range, i) => {
        const bytes = mapped.slice(at, at + range.bytes);
        at += sizes[i];
        return bytes;
      });
      staging.unmap();
      return results;
    } finally {
      this.busy = false;
    }
  }

  private stagingOf(bytes: number): GPUBuffer {
    if (this.staging && this.staging.size >= bytes) return this.staging;
    this.staging?.destroy();
    this.staging = createBuffer(this.gpu, bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, `${this.label} readback`);
    return this.staging;
  }

  destroy(): void {
    this.staging?.destroy();
    this.staging = undefined;
  }
}

/**
 * Reads `size` bytes of `source` from `offset` once, through a staging buffer of its own, after
 * the command buffers given. For tests, files and other one-off reads; loops keep a `Readback`.
 */
export async function readBuffer(
  gpu: Gpu,
  source: GPUBuffer,
  offset = 0,
  size = source.size - offset,
  commands: GPUCommandBuffer[] = [],
): Promise<ArrayBuffer> {
  const readback = new Readback(gpu, source.label || "staq");
  try {
    if (commands.length) gpu.submit(commands);
    const [bytes] = await readback.read(gpu.encoder("staq readback"), [{ source, offset, bytes: size }]);
    return bytes;
  } finally {
    readback.destroy();
  }
}

export async function readFloat32(
  gpu: Gpu,
  source: GPUBuffer,
  offset = 0,
  length = (source.size - offset) / 4,
  commands: GPUCommandBuffer[] = [],
): Promise<Float32Array> {
  return new Float32Array(await readBuffer(gpu, source, offset, length * 4, commands));
}

export async function readUint32(
  gpu: Gpu,
  source: GPUBuffer,
  offset = 0,
  length = (source.size - offset) / 4,
  commands: GPUCommandBuffer[] = [],
): Promise<Uint32Array> {
  return new Uint32Array(await readBuffer(gpu, source, offset, length * 4, commands));
}
