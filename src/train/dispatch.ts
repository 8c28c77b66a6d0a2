/**
 * The pieces of a trainer's command stream: one compute dispatch with its bind group, and the MLP
 * forward pass as a list of them (shaders/train_forward.wgsl, one dispatch per layer, keeping
 * every layer's output). The trainer runs the forward pass on its online networks; policy
 * evaluation runs the same pass on the target networks.
 */
import type { Gpu } from "../gpu/gpu.ts";
import type { SnapshotLayout } from "../stack/layout.ts";

export interface Dispatch {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  x: number;
  y: number;
}

export const WORKGROUP_SIZE = 64;
const MAX_WORKGROUPS = 65535;

export const workgroupsFor = (threads: number) => Math.ceil(threads / WORKGROUP_SIZE);

/** Workgroups (x, y) for one thread per element of a flat range too long for one dimension. */
export function flatGrid(threads: number): { x: number; y: number } {
  const groups = workgroupsFor(threads);
  return { x: Math.min(groups, MAX_WORKGROUPS), y: Math.ceil(groups / MAX_WORKGROUPS) };
}

export function runDispatch(pass: GPUComputePassEncoder, d: Dispatch, group: GPUBindGroup = d.group): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(d.x, d.y);
}

export function bindGroup(gpu: Gpu, pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], label: string): GPUBindGroup {
  return gpu.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    label,
  });
}

export interface ForwardPassOptions {
  layout: SnapshotLayout;
  batch: number;
  ensemble: number;
  /** 16-byte uniform holding the batch size (u32). */
  batchUniform: GPUBuffer;
  /** [batch × inputs], shared by every member. */
  states: GPUBuffer;
  /** [E × snapshot vec4s] in the snapshot layout. */
  params: GPUBuffer;
  /** Per layer, [E × batch × padded outputs], or [2E × …] with `target`. */
  activations: readonly GPUBuffer[];
  /**
   * The target networks, run in the same dispatches as members E … 2E − 1: their parameters
   * ([E × snapshot vec4s]) and the states they see ([batch × inputs], the next states).
   */
  target?: { params: GPUBuffer; states: GPUBuffer };
  label: string;
}

/** The dispatches of one forward pass of E networks (and E target networks) on one batch, layer by layer. */
export async function forwardPass(gpu: Gpu, o: ForwardPassOptions): Promise<Dispatch[]> {
  const { layout, batch } = o;
  const head = layout.layers.length - 1;
  const dispatches: Dispatch[] = [];
  for (let l = 0; l < layout.layers.length; l++) {
    const layer = layout.layers[l];
    const out4 = layer.paddedOutputs / 4;
    const pipeline = await gpu.pipeline("train_forward", {
      ROWS: layer.rows,
      X_STRIDE: l === 0 ? layout.spec.inputs : layer.rows,
      X_MEMBER_STRIDE: l === 0 ? 0 : batch * layer.rows,
      OUT4: out4,
      W_OFFSET: layer.weightOffset,
      B_OFFSET: layer.biasOffset,
      SNAPSHOT_VEC4S: layout.vec4s,
      RELU: l < head,
      MEMBERS: o.ensemble,
    });
    const input = l === 0 ? o.states : o.activations[l - 1];
    const targetInput = l === 0 && o.target ? o.target.states : input;
    const targetParams = o.target?.params ?? o.params;
    const group = bindGroup(gpu, pipeline, [o.batchUniform, input, o.params, o.activations[l], targetInput, targetParams], `${o.label} forward ${l}`);
    dispatches.push({ pipeline, group, x: workgroupsFor(batch * out4), y: o.target ? 2 * o.ensemble : o.ensemble });
  }
  return dispatches;
}
