/**
 * The dispatches a gradient step is made of, bound once and encoded at every step:
 *
 *   - `Dispatch`: a kernel with one bind group (its uniform, if any, never changes);
 *   - `SteppedDispatch`: a kernel whose uniform changes every step (Adam's bias correction, a
 *     minibatch's Philox step), with one uniform slot and one bind group per step of a command
 *     buffer, so a command buffer's steps are written with one upload;
 *   - `FixedUniforms`: the slots of the uniforms that never change (a batch size, a loss scale).
 */
import { StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import type { BufferResource, Kernel, UniformValues, Workgroups } from "../gpu/kernel.ts";
import { UniformSlots } from "../gpu/uniform-slots.ts";

type Resources = Readonly<Record<string, BufferResource>>;

export class Dispatch {
  private readonly group: GPUBindGroup;

  constructor(
    readonly kernel: Kernel,
    resources: Resources,
    readonly workgroups: Workgroups,
    label: string,
  ) {
    this.group = kernel.bind(resources, label);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch(pass, this.group, this.workgroups);
  }
}

export class SteppedDispatch {
  private readonly slots: UniformSlots;
  private readonly groups: GPUBindGroup[];

  /** `resources`: every binding but the uniform, which is slot j's in bind group j (j < `steps`). */
  constructor(
    gpu: Gpu,
    readonly kernel: Kernel,
    resources: Resources,
    readonly workgroups: Workgroups,
    steps: number,
    label: string,
  ) {
    const uniform = kernel.bindings.find((b) => b.kind === "uniform");
    if (!uniform) throw new StaqInputError(`shaders/${kernel.name}.wgsl has no uniform to change per step`);
    this.slots = new UniformSlots(gpu, steps, label);
    this.groups = Array.from({ length: steps }, (_, slot) =>
      kernel.bind({ ...resources, [uniform.name]: this.slots.binding(slot) }, `${label} (slot ${slot})`),
    );
  }

  /** Writes the uniforms of the next `count` steps, `values(j)` into slot j, and uploads them. */
  write(count: number, values: (slot: number) => UniformValues): void {
    for (let slot = 0; slot < count; slot++) this.slots.write(slot, this.kernel, values(slot));
    this.slots.upload(0, count);
  }

  /** Encodes the step whose uniform is in `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void {
    this.kernel.dispatch(pass, this.groups[slot], this.workgroups);
  }

  destroy(): void {
    this.slots.destroy();
  }
}

export class FixedUniforms {
  private readonly slots: UniformSlots;
  private used = 0;

  /** Room for `count` uniforms. */
  constructor(gpu: Gpu, count: number, label: string) {
    this.slots = new UniformSlots(gpu, count, label);
  }

  /** A slot holding `values` as `kernel`'s uniform (uploaded now), to bind as that uniform. */
  add(kernel: Kernel, values: UniformValues): GPUBufferBinding {
    const slot = this.used++;
    this.slots.write(slot, kernel, values);
    this.slots.upload(slot, 1);
    return this.slots.binding(slot);
  }

  destroy(): void {
    this.slots.destroy();
  }
}
