/**
 * Buffer helpers: create with a clear error when a size is out of the device's limits, upload,
 * and poison (fill with a NaN pattern so that an element a kernel forgot to write cannot pass
 * for a result). Reading back is readback.ts's; it maps with `mapForReading`, which refuses to
 * hand out results once WebGPU has reported an error on the device (see `Gpu.error`).
 */
import { StaqGpuError } from "../errors.ts";
import { formatBytes } from "./buffer-budget.ts";
import { BufferUsage, MapMode } from "./constants.ts";
import type { Gpu } from "./gpu.ts";

/** A quiet-NaN bit pattern with a recognisable payload; as a u32 it is far above any index staq writes. */
export const POISON_BITS = 0x7fbadbad;

export function createBuffer(gpu: Gpu, size: number, usage: number, label: string): GPUBuffer {
  const max = gpu.info.limits.maxBufferSize;
  if (!Number.isInteger(size) || size < 0) throw new StaqGpuError(`${label}: buffer size ${size} is not a non-negative integer`);
  // WebGPU wants sizes in multiples of 4 for copies and mapping; round up (never down), and check
  // the size asked for.
  const padded = Math.max(4, Math.ceil(size / 4) * 4);
  if (padded > max) {
    const rounded = padded === size ? "" : ` (${padded} rounded up to a multiple of 4)`;
    throw new StaqGpuError(
      `${label}: ${formatBytes(size)}${rounded} is more than this device's maxBufferSize of ${formatBytes(max)}; use a smaller batch or stack`,
    );
  }
  gpu.throwIfFailed();
  const buffer = gpu.device.createBuffer({ size: padded, usage, label });
  // An allocation the device refused (out of memory) is reported as an uncaptured error, at once
  // where the error event is synchronous (Dawn in Node), else by the next readback.
  if (gpu.error) {
    buffer.destroy();
    gpu.throwIfFailed();
  }
  return buffer;
}

/**
 * Maps `buffer` (MAP_READ) for reading, and throws a StaqGpuError instead when WebGPU has reported
 * an error on the device since it was created (checked before and after the wait): data computed
 * with an invalid bind group or a failed allocation must not pass for a result. On success the
 * caller reads the mapped range and unmaps.
 */
export async function mapForReading(gpu: Gpu, buffer: GPUBuffer, offset?: number, size?: number): Promise<void> {
  gpu.throwIfFailed();
  try {
    await buffer.mapAsync(MapMode.READ, offset, size);
  } catch (error) {
    // A lost device rejects every map (with an empty message, in Dawn); its recorded loss, which
    // may only arrive after the rejection, says more.
    if (!gpu.error) await new Promise((resolve) => setTimeout(resolve, 0));
    gpu.throwIfFailed();
    const { name, message } = error as Error;
    throw new StaqGpuError(
      `reading ${buffer.label ? `"${buffer.label}"` : "a buffer"} back from the GPU failed (${name}${message ? `: ${message}` : ""})`,
      { cause: error },
    );
  }
  if (gpu.error) {
    buffer.unmap();
    gpu.throwIfFailed();
  }
}

/** A storage buffer holding `data`, also usable as a copy source and destination. */
export function createStorageBuffer(gpu: Gpu, data: Float32Array | Uint32Array, label: string): GPUBuffer {
  const buffer = createBuffer(gpu, data.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, label);
  if (data.byteLength > 0) gpu.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Fills `size` bytes of `buffer` from `offset` with POISON_BITS. */
export function poisonBuffer(gpu: Gpu, buffer: GPUBuffer, offset = 0, size = buffer.size - offset): void {
  const words = new Uint32Array(Math.ceil(size / 4)).fill(POISON_BITS);
  gpu.writeBuffer(buffer, offset, new Uint8Array(words.buffer, 0, size));
}
