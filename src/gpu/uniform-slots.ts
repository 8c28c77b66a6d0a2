/**
 * One uniform buffer holding several uniform structs, each in its own slot. A prepared sequence of
 * dispatches (the stack's row chunks, the trainer's K steps) gives every dispatch a slot, so all
 * their parameters are written with one upload, and a slot rewritten later (the step counter of
 * an acting loop) reuses the same buffer: nothing is allocated per call.
 *
 * Slots are `UNIFORM_SLOT_BYTES` apart: a uniform binding must start at a multiple of the device's
 * minUniformBufferOffsetAlignment, which WebGPU caps at 256.
 */
import { StaqInputError } from "../errors.ts";
import { createBuffer } from "./buffers.ts";
import { BufferUsage } from "./constants.ts";
import type { Gpu } from "./gpu.ts";
import type { Kernel, UniformValues } from "./kernel.ts";

/** Bytes between slots: the largest minUniformBufferOffsetAlignment WebGPU allows. */
export const UNIFORM_SLOT_BYTES = 256;

export class UniformSlots {
  readonly buffer: GPUBuffer;
  private readonly data: ArrayBuffer;

  constructor(
    private readonly gpu: Gpu,
    readonly count: number,
    label: string,
  ) {
    if (!(Number.isInteger(count) && count >= 1)) throw new StaqInputError(`uniform slots: count must be an integer >= 1; got ${count}`);
    this.data = new ArrayBuffer(count * UNIFORM_SLOT_BYTES);
    this.buffer = createBuffer(gpu, this.data.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${label} uniforms`);
  }

  private check(slot: number): void {
    if (!(Number.isInteger(slot) && slot >= 0 && slot < this.count))
      throw new StaqInputError(`uniform slot ${slot} is outside [0, ${this.count})`);
  }

  /** Packs `values` as `kernel`'s uniform struct into `slot` (on the CPU; `upload` sends it). */
  write(slot: number, kernel: Kernel, values: UniformValues): void {
    this.check(slot);
    kernel.packUniform(values, this.data, slot * UNIFORM_SLOT_BYTES);
  }

  /** The binding of `slot`, for `Kernel.bind` (its uniform binding). */
  binding(slot: number): GPUBufferBinding {
    this.check(slot);
    // The whole slot: a binding larger than the struct it holds is valid.
    return { buffer: this.buffer, offset: slot * UNIFORM_SLOT_BYTES, size: UNIFORM_SLOT_BYTES };
  }

  /** Sends slots [first, first + count) to the GPU (queue order: before any later submit). */
  upload(first = 0, count = this.count - first): void {
    this.check(first);
    if (count < 1 || first + count > this.count)
      throw new StaqInputError(`uniform slots: cannot upload ${count} slots from ${first} of ${this.count}`);
    this.gpu.writeBuffer(
      this.buffer,
      first * UNIFORM_SLOT_BYTES,
      new Uint8Array(this.data, first * UNIFORM_SLOT_BYTES, count * UNIFORM_SLOT_BYTES),
    );
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
