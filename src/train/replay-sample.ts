/**
 * Draws a gradient step's minibatch from the GPU replay ring and gathers it into the trainer's
 * dense batch buffers: shaders/replay_sample.wgsl, one thread per batch position, with the rows
 * chosen by the keyed permutation of src/train/minibatch-sampling.ts (its exact CPU twin).
 *
 * The step's (size, seed, step) live in a 32-byte uniform struct. A caller that encodes many
 * gradient steps in one command buffer writes one struct per step into its own 256-byte slot of one
 * uniform buffer (`writeSampleUniform`), and binds slot j with bind group j: `prepareReplaySample`
 * makes one bind group per slot, so encoding a step is setPipeline, setBindGroup(0, groups[j]) and
 * dispatchWorkgroups(workgroups).
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { minibatchKey } from "./minibatch-sampling.ts";

/** Bytes of the kernel's SampleParams: size, seed_lo, seed_hi, step_lo, step_hi, domain_bits, two pads. */
export const SAMPLE_UNIFORM_BYTES = 32;
/** Uniform offsets must be multiples of this (the largest minUniformBufferOffsetAlignment WebGPU allows). */
export const SAMPLE_UNIFORM_ALIGNMENT = 256;
const WORKGROUP = 64;

export interface SampleParams {
  /** Filled replay rows to draw from: 1 ≤ size ≤ the ring's capacity, and ≥ the batch. */
  size: number;
  /** Integers in [0, 2^64): a bigint, or a number up to 2^53 − 1. */
  seed: number | bigint;
  /** The gradient step; every step draws a fresh minibatch. */
  step: number | bigint;
}

/** Validates `params` and writes the kernel's uniform struct (with h computed here) at `byteOffset`. */
export function writeSampleUniform(target: ArrayBuffer, byteOffset: number, params: SampleParams): void {
  if (!(Number.isInteger(byteOffset) && byteOffset >= 0 && byteOffset % 4 === 0 && byteOffset + SAMPLE_UNIFORM_BYTES <= target.byteLength)) {
    throw new StaqInputError(
      `writeSampleUniform: byteOffset must be a multiple of 4 with byteOffset + ${SAMPLE_UNIFORM_BYTES} ≤ ${target.byteLength} (the target's size); got ${String(byteOffset)}`,
    );
  }
  const key = minibatchKey(params.size, params.seed, params.step);
  new Uint32Array(target, byteOffset, SAMPLE_UNIFORM_BYTES / 4).set([key.size, key.seedLo, key.seedHi, key.stepLo, key.stepHi, key.domainBits, 0, 0]);
}

export interface ReplaySampleOptions {
  /** Floats per observation. */
  inputs: number;
  /** Rows per minibatch; every step's size must be at least this. */
  batch: number;
  /** The ring: obs and nextObs f32 [capacity × inputs], actions u32 [capacity]. */
  replay: { obs: GPUBuffer; nextObs: GPUBuffer; actions: GPUBuffer };
  /** The dense batch: indices u32 [batch], states and nextStates f32 [batch × inputs], actions u32 [batch]. */
  out: { indices: GPUBuffer; states: GPUBuffer; nextStates: GPUBuffer; actions: GPUBuffer };
  /** Holds a SampleParams struct at each of `uniformOffsets`. */
  uniform: GPUBuffer;
  /** Byte offsets of the slots, multiples of 256; bind group j reads the slot at uniformOffsets[j]. */
  uniformOffsets: readonly number[];
}

export interface ReplaySample {
  pipeline: GPUComputePipeline;
  /** One per uniform offset, in the same order. */
  groups: GPUBindGroup[];
  /** Workgroups along x for one step's dispatch. */
  workgroups: number;
}

function checkSize(buffer: GPUBuffer, bytes: number, name: string): void {
  if (buffer.size < bytes) throw new StaqInputError(`prepareReplaySample: ${name} has ${buffer.size} bytes; it needs at least ${bytes}`);
}

/** Compiles (or reuses) the kernel for (inputs, batch) and binds it once per uniform slot. */
export async function prepareReplaySample(gpu: Gpu, options: ReplaySampleOptions): Promise<ReplaySample> {
  if (gpu.destroyed) throw new StaqGpuError("prepareReplaySample: this Gpu was destroyed");
  const { inputs, batch, replay, out, uniform, uniformOffsets } = options;
  if (!(Number.isInteger(inputs) && inputs >= 1)) throw new StaqInputError(`prepareReplaySample: inputs must be an integer >= 1; got ${String(inputs)}`);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new StaqInputError(`prepareReplaySample: batch must be an integer >= 1; got ${String(batch)}`);
  const workgroups = Math.ceil(batch / WORKGROUP);
  const maxWorkgroups = gpu.info.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups > maxWorkgroups) {
    throw new StaqInputError(`prepareReplaySample: batch ${batch} needs ${workgroups} workgroups of ${WORKGROUP}; this device allows ${maxWorkgroups}`);
  }
  if (uniformOffsets.length === 0) throw new StaqInputError("prepareReplaySample: uniformOffsets is empty; give at least one slot");
  uniformOffsets.forEach((offset, j) => {
    if (!(Number.isInteger(offset) && offset >= 0 && offset % SAMPLE_UNIFORM_ALIGNMENT === 0 && offset + SAMPLE_UNIFORM_BYTES <= uniform.size)) {
      throw new StaqInputError(
        `prepareReplaySample: uniformOffsets[${j}] = ${String(offset)}; offsets must be multiples of ${SAMPLE_UNIFORM_ALIGNMENT} with offset + ${SAMPLE_UNIFORM_BYTES} ≤ ${uniform.size} (the uniform buffer's size)`,
      );
    }
  });
  // The ring's capacity is not checked against `size` here: size lives in the uniform, written
  // later. Each ring buffer must at least hold one row, since every step has size ≥ 1.
  checkSize(replay.obs, inputs * 4, "replay.obs");
  checkSize(replay.nextObs, inputs * 4, "replay.nextObs");
  checkSize(replay.actions, 4, "replay.actions");
  checkSize(out.indices, batch * 4, "out.indices");
  checkSize(out.states, batch * inputs * 4, "out.states");
  checkSize(out.nextStates, batch * inputs * 4, "out.nextStates");
  checkSize(out.actions, batch * 4, "out.actions");

  const pipeline = await gpu.pipeline("replay_sample", { INPUTS: inputs, BATCH: batch });
  const storage = [replay.obs, replay.nextObs, replay.actions, out.indices, out.states, out.nextStates, out.actions];
  const groups = uniformOffsets.map((offset, slot) =>
    gpu.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      label: `staq replay sample ${slot}`,
      entries: [
        { binding: 0, resource: { buffer: uniform, offset, size: SAMPLE_UNIFORM_BYTES } },
        ...storage.map((buffer, k) => ({ binding: k + 1, resource: { buffer } })),
      ],
    }),
  );
  return { pipeline, groups, workgroups };
}
