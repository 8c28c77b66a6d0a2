/**
 * Buffer helpers: create with a clear error when a size is out of the device's limits, upload,
 * read back, and poison (fill with a NaN pattern so that an element a kernel forgot to write
 * cannot pass for a result).
 */
import { StaqGpuError } from "../errors.ts";
import { BufferUsage, MapMode } from "./constants.ts";
import type { Gpu } from "./gpu.ts";

/** A quiet-NaN bit pattern with a recognisable payload; as a u32 it is far above any index staq writes. */
export const POISON_BITS = 0x7fbadbad;

export function createBuffer(gpu: Gpu, size: number, usage: number, label: string): GPUBuffer {
  const max = gpu.info.limits.maxBufferSize;
  if (!Number.isInteger(size) || size < 0) throw new StaqGpuError(`${label}: buffer size ${size} is not a non-negative integer`);
  if (size > max) {
    throw new StaqGpuError(`${label}: ${size} bytes is more than this device's maxBufferSize (${max} bytes); use a smaller batch or stack`);
  }
  // WebGPU wants sizes in multiples of 4 for copies and mapping; round up (never down).
  return gpu.device.createBuffer({ size: Math.max(4, Math.ceil(size / 4) * 4), usage, label });
}

/** A storage buffer holding `data`, also usable as a copy source and destination. */
export function createStorageBuffer(gpu: Gpu, data: Float32Array | Uint32Array, label: string): GPUBuffer {
  const buffer = createBuffer(gpu, data.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, label);
  if (data.byteLength > 0) gpu.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** Fills `size` bytes of `buffer` from `offset` with POISON_BITS. */
export function poisonBuffer(gpu: Gpu, buffer: GPUBuffer, offset = 0, size = buffer.size - offset): void {
  const words = new Uint32Array(Math.ceil(size / 4)).fill(POISON_BITS);
  gpu.device.queue.writeBuffer(buffer, offset, words.buffer, 0, size);
}

/**
 * Copies `size` bytes of `source` from `offset` into a fresh mappable buffer, submits (after any
 * command buffers given), and resolves with a copy of the bytes.
 */
export async function readBuffer(
  gpu: Gpu,
  source: GPUBuffer,
  offset = 0,
  size = source.size - offset,
  commands: GPUCommandBuffer[] = [],
): Promise<ArrayBuffer> {
  const padded = Math.ceil(size / 4) * 4;
  const staging = createBuffer(gpu, padded, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "staq readback");
  try {
    const encoder = gpu.device.createCommandEncoder({ label: "staq readback" });
    encoder.copyBufferToBuffer(source, offset, staging, 0, padded);
    gpu.device.queue.submit([...commands, encoder.finish()]);
    await staging.mapAsync(MapMode.READ);
    return staging.getMappedRange(0, padded).slice(0, size);
  } finally {
    staging.destroy();
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
