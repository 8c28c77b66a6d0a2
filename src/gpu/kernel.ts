/**
 * One compute shader, compiled with its constants, as one object: the pipeline and the interface
 * the shader declares (shader-reflection.ts). Everything a caller gives it is checked against
 * that interface by name:
 *
 *   const reduce = await gpu.kernel("stack_reduce", {});
 *   const group = reduce.bind({ params: slots.binding(0), parts, logits }, "reduce");
 *   slots.write(0, reduce, { elements: rows * actions, parts: 3 });
 *   reduce.dispatch(pass, group, reduce.grid(rows * actions));
 *
 * A binding or uniform field that the shader does not declare, or one it declares and the caller
 * left out, throws (as `@inject` does for constants), so two buffers of the same type cannot be
 * swapped by position and a renamed field cannot silently keep its old offset. Workgroup counts
 * come from the shader's own `@workgroup_size` and are folded into the device's limit on
 * workgroups per dimension here, in one place.
 */
import { StaqInputError } from "../errors.ts";
import type { Gpu } from "./gpu.ts";
import type { ShaderBinding, ShaderInterface, UniformLayout } from "./shader-reflection.ts";

/** A buffer, or a range of one, to bind. */
export type BufferResource = GPUBuffer | GPUBufferBinding;

/** Values of a uniform struct's fields, by field name. */
export type UniformValues = Readonly<Record<string, number>>;

/** Workgroup counts of one dispatch. */
export interface Workgroups {
  x: number;
  y: number;
  z: number;
}

/** Uniform members named like this are padding: they may be left out and are written as 0. */
const PADDING = /^(pad\d*|unused\d*)$/;

export class Kernel {
  readonly bindings: readonly ShaderBinding[];
  readonly uniform: UniformLayout | undefined;
  readonly workgroupSize: readonly [number, number, number];

  constructor(
    private readonly gpu: Gpu,
    /** The shader's name, e.g. `stack_forward`, used in messages and labels. */
    readonly name: string,
    readonly pipeline: GPUComputePipeline,
    shader: ShaderInterface,
    /** Where the shader comes from, for messages: `shaders/<name>.wgsl` for the library's. */
    readonly file = `shaders/${name}.wgsl`,
  ) {
    this.bindings = shader.bindings;
    this.uniform = shader.uniform;
    this.workgroupSize = shader.workgroupSize;
    const groups = new Set(shader.bindings.map((b) => b.group));
    if (groups.size > 1 || (groups.size === 1 && !groups.has(0))) {
      throw new StaqInputError(`${file} uses bind groups ${[...groups].join(", ")}; kernels bind group 0 only`);
    }
  }

  /** A bind group giving every binding the shader declares, by name. */
  bind(resources: Readonly<Record<string, BufferResource>>, label = this.name): GPUBindGroup {
    const declared = new Map(this.bindings.map((b) => [b.name, b]));
    for (const name of Object.keys(resources)) {
      if (!declared.has(name)) {
        throw new StaqInputError(`${this.file} has no binding ${name} (it declares: ${[...declared.keys()].join(", ")})`);
      }
    }
    const entries: GPUBindGroupEntry[] = this.bindings.map((b) => {
      const resource = resources[b.name];
      if (resource === undefined) throw new StaqInputError(`${this.file} needs a buffer for its binding ${b.name}`);
      return { binding: b.binding, resource: "buffer" in resource ? resource : { buffer: resource } };
    });
    return this.gpu.createBindGroup(this.pipeline, entries, label);
  }

  /**
   * Writes the uniform struct's fields into `target` from `byteOffset` (by default, into a new
   * buffer of the struct's size), each at the offset WGSL gives it. Every field except padding
   * must be given; u32 and i32 values must be integers in range, f32 values finite.
   */
  packUniform(values: UniformValues, target?: ArrayBuffer, byteOffset = 0): ArrayBuffer {
    const layout = this.uniform;
    if (!layout) throw new StaqInputError(`${this.file} declares no uniform`);
    const buffer = target ?? new ArrayBuffer(layout.size);
    if (byteOffset + layout.size > buffer.byteLength) {
      throw new StaqInputError(
        `${this.name}: a ${layout.size}-byte ${layout.struct} at byte ${byteOffset} does not fit ${buffer.byteLength} bytes`,
      );
    }
    const fields = new Map(layout.fields.map((f) => [f.name, f]));
    for (const name of Object.keys(values)) {
      if (!fields.has(name)) {
        throw new StaqInputError(`${this.file}'s ${layout.struct} has no field ${name} (it has: ${[...fields.keys()].join(", ")})`);
      }
    }
    const view = new DataView(buffer, byteOffset, layout.size);
    for (const field of layout.fields) {
      const value = values[field.name];
      if (value === undefined) {
        if (PADDING.test(field.name)) {
          view.setUint32(field.offset, 0, true);
          continue;
        }
        throw new StaqInputError(`${this.file}'s ${layout.struct} needs a value for ${field.name}`);
      }
      writeField(view, field.offset, field.type, value, `${this.name}.${layout.struct}.${field.name}`);
    }
    return buffer;
  }

  /**
   * Workgroups covering `threads` invocations along x (and `y` × `z` along the others). When x
   * needs more workgroups than the device allows per dimension, they are folded into y: such a
   * shader computes its flat index as `id.x + id.y * num_workgroups.x * WORKGROUP_SIZE_X`.
   */
  grid(threads: number, y = 1, z = 1): Workgroups {
    if (!(Number.isInteger(threads) && threads >= 0)) throw new StaqInputError(`${this.name}: ${threads} threads is not a whole number`);
    const groups = Math.ceil(threads / this.workgroupSize[0]);
    const max = this.gpu.info.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return { x: groups, y, z };
    if (y !== 1) throw new StaqInputError(`${this.name}: ${groups} workgroups along x exceed ${max} and y is already used`);
    const rows = Math.ceil(groups / max);
    if (rows > max) throw new StaqInputError(`${this.name}: ${threads} threads need more workgroups than this device can dispatch`);
    return { x: max, y: rows, z };
  }

  /**
   * Workgroups for a grid-stride shader, which loops over its `threads` elements with a stride of
   * the invocations dispatched: `grid(threads)`, capped at what the device can dispatch along x and
   * y, so any number of elements fits one dispatch.
   */
  strideGrid(threads: number): Workgroups {
    const max = this.gpu.info.limits.maxComputeWorkgroupsPerDimension;
    return this.grid(Math.min(threads, max * max * this.workgroupSize[0]));
  }

  /** Records one dispatch of this kernel with `group` into `pass`. */
  dispatch(pass: GPUComputePassEncoder, group: GPUBindGroup, workgroups: Workgroups): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups.x, workgroups.y, workgroups.z);
  }
}

function writeField(view: DataView, offset: number, type: "u32" | "i32" | "f32", value: number, name: string): void {
  switch (type) {
    case "u32":
      if (!(Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) throw new StaqInputError(`${name} is u32; got ${value}`);
      view.setUint32(offset, value, true);
      return;
    case "i32":
      if (!(Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff))
        throw new StaqInputError(`${name} is i32; got ${value}`);
      view.setInt32(offset, value, true);
      return;
    case "f32":
      if (!Number.isFinite(value)) throw new StaqInputError(`${name} is f32; got ${value}`);
      view.setFloat32(offset, value, true);
  }
}
