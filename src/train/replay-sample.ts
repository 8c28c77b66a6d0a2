/**
 * Draws a gradient step's minibatch from the GPU replay ring and gathers it into the trainer's
 * dense batch buffers: shaders/replay_sample.wgsl, one thread per batch position, with the rows
 * chosen by the keyed permutation of src/train/minibatch-sampling.ts (its exact CPU twin).
 *
 * Each step's (size, seed, step) is the kernel's uniform. A caller that encodes many gradient
 * steps in one command buffer gives each its own uniform slot: `write` fills a command buffer's
 * slots with one upload, and `encode(pass, j)` draws with slot j's.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import type { UniformValues } from "../gpu/kernel.ts";
import { SteppedDispatch } from "./dispatch.ts";
import { minibatchKey } from "./minibatch-sampling.ts";

export interface SampleParams {
  /** Filled replay rows to draw from: 1 ≤ size ≤ the ring's capacity, and ≥ the batch. */
  size: number;
  /** Integers in [0, 2^64): a bigint, or a number up to 2^53 − 1. */
  seed: number | bigint;
  /** The gradient step; every step draws a fresh minibatch. */
  step: number | bigint;
}

/** Validates `params` and gives the kernel's uniform (with h, the permutation's half width, computed here). */
export function sampleUniform(params: SampleParams): UniformValues {
  const key = minibatchKey(params.size, params.seed, params.step);
  return {
    size: key.size,
    seed_lo: key.seedLo,
    seed_hi: key.seedHi,
    step_lo: key.stepLo,
    step_hi: key.stepHi,
    domain_bits: key.domainBits,
  };
}

export interface ReplaySamplerOptions {
  /** Floats per observation. */
  inputs: number;
  /** Rows per minibatch; every step's size must be at least this. */
  batch: number;
  /** The ring: obs and nextObs f32 [capacity × inputs], actions u32 [capacity]. */
  replay: { obs: GPUBuffer; nextObs: GPUBuffer; actions: GPUBuffer };
  /** The dense batch: indices u32 [batch], states and nextStates f32 [batch × inputs], actions u32 [batch]. */
  out: { indices: GPUBuffer; states: GPUBuffer; nextStates: GPUBuffer; actions: GPUBuffer };
  /** Steps per command buffer: the uniform slots. */
  steps: number;
  label?: string;
}

export interface ReplaySampler {
  /** Writes the draws of the next `count` steps, `params(j)` into slot j, and uploads them. */
  write(count: number, params: (slot: number) => SampleParams): void;
  /** Encodes the draw whose parameters are in `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void;
  destroy(): void;
}

function checkSize(buffer: GPUBuffer, bytes: number, name: string): void {
  if (buffer.size < bytes) throw new StaqInputError(`createReplaySampler: ${name} has ${buffer.size} bytes; it needs at least ${bytes}`);
}

/** Compiles (or reuses) the kernel for (inputs, batch) and binds it once per uniform slot. */
export async function createReplaySampler(gpu: Gpu, options: ReplaySamplerOptions): Promise<ReplaySampler> {
  if (gpu.destroyed) throw new StaqGpuError("createReplaySampler: this Gpu was destroyed");
  const { inputs, batch, replay, out, steps } = options;
  if (!(Number.isInteger(inputs) && inputs >= 1))
    throw new StaqInputError(`createReplaySampler: inputs must be an integer >= 1; got ${String(inputs)}`);
  if (!(Number.isInteger(batch) && batch >= 1))
    throw new StaqInputError(`createReplaySampler: batch must be an integer >= 1; got ${String(batch)}`);
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new StaqInputError(`createReplaySampler: steps must be an integer >= 1; got ${String(steps)}`);
  // The ring's capacity is not checked against `size` here: size lives in the uniform, written
  // later. Each ring buffer must at least hold one row, since every step has size ≥ 1.
  checkSize(replay.obs, inputs * 4, "replay.obs");
  checkSize(replay.nextObs, inputs * 4, "replay.nextObs");
  checkSize(replay.actions, 4, "replay.actions");
  checkSize(out.indices, batch * 4, "out.indices");
  checkSize(out.states, batch * inputs * 4, "out.states");
  checkSize(out.nextStates, batch * inputs * 4, "out.nextStates");
  checkSize(out.actions, batch * 4, "out.actions");

  const kernel = await gpu.kernel("replay_sample", { INPUTS: inputs, BATCH: batch });
  const resources = {
    obs: replay.obs,
    next_obs: replay.nextObs,
    replay_actions: replay.actions,
    indices: out.indices,
    states: out.states,
    next_states: out.nextStates,
    actions: out.actions,
  };
  const dispatch = new SteppedDispatch(gpu, kernel, resources, kernel.grid(batch), steps, options.label ?? "staq replay sample");
  return {
    write: (count, params) => dispatch.write(count, (slot) => sampleUniform(params(slot))),
    encode: (pass, slot) => dispatch.encode(pass, slot),
    destroy: () => dispatch.destroy(),
  };
}
