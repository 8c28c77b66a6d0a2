/**
 * Draws gradient steps' minibatches from the GPU replay ring and gathers them into dense batch
 * buffers: shaders/replay_sample.wgsl, one thread per (step, batch position), with the rows
 * chosen by the keyed permutation of src/train/minibatch-sampling.ts (its exact CPU twin). The
 * multi-dispatch trainer draws one step per dispatch into its batch; the fused trainer's target
 * plan draws up to `draws` consecutive steps at once, step after step in its buffers.
 *
 * Each dispatch's (size, seed, first step, steps) is the kernel's uniform. A caller that encodes
 * many dispatches in one command buffer gives each its own uniform slot: `write` fills a command
 * buffer's slots with one upload, and `encode(pass, j)` draws with slot j's.
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
  /** The gradient step (the first, when drawing several); every step draws a fresh minibatch. */
  step: number | bigint;
  /** Consecutive steps to draw, step … step + steps − 1 (default 1; at most the sampler's `draws`). */
  steps?: number;
}

/** Validates `params` and gives the kernel's uniform (with h, the permutation's half width, computed here). */
export function sampleUniform(params: SampleParams): UniformValues {
  const steps = params.steps ?? 1;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new StaqInputError(`steps must be an integer >= 1; got ${String(steps)}`);
  const key = minibatchKey(params.size, params.seed, params.step);
  // The last step drawn must be a valid step too (below 2^64).
  if (steps > 1) minibatchKey(params.size, params.seed, BigInt(params.step) + BigInt(steps - 1));
  return {
    steps,
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
  /** The dense batches: indices u32 [draws × batch], states and nextStates f32 [draws × batch × inputs], actions u32 [draws × batch]. */
  out: { indices: GPUBuffer; states: GPUBuffer; nextStates: GPUBuffer; actions: GPUBuffer };
  /** Dispatches per command buffer: the uniform slots. */
  steps: number;
  /** The most consecutive steps one dispatch draws (default 1). */
  draws?: number;
  label?: string;
}

export interface ReplaySampler {
  /** Writes the draws of the next `count` dispatches, `params(j)` into slot j, and uploads them. */
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
  const draws = options.draws ?? 1;
  if (!(Number.isInteger(inputs) && inputs >= 1))
    throw new StaqInputError(`createReplaySampler: inputs must be an integer >= 1; got ${String(inputs)}`);
  if (!(Number.isInteger(batch) && batch >= 1))
    throw new StaqInputError(`createReplaySampler: batch must be an integer >= 1; got ${String(batch)}`);
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new StaqInputError(`createReplaySampler: steps must be an integer >= 1; got ${String(steps)}`);
  if (!(Number.isInteger(draws) && draws >= 1))
    throw new StaqInputError(`createReplaySampler: draws must be an integer >= 1; got ${String(draws)}`);
  // The ring's capacity is not checked against `size` here: size lives in the uniform, written
  // later. Each ring buffer must at least hold one row, since every step has size ≥ 1.
  checkSize(replay.obs, inputs * 4, "replay.obs");
  checkSize(replay.nextObs, inputs * 4, "replay.nextObs");
  checkSize(replay.actions, 4, "replay.actions");
  const rows = draws * batch;
  checkSize(out.indices, rows * 4, "out.indices");
  checkSize(out.states, rows * inputs * 4, "out.states");
  checkSize(out.nextStates, rows * inputs * 4, "out.nextStates");
  checkSize(out.actions, rows * 4, "out.actions");

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
  const dispatch = new SteppedDispatch(gpu, kernel, resources, kernel.grid(rows), steps, options.label ?? "staq replay sample");
  return {
    write: (count, params) =>
      dispatch.write(count, (slot) => {
        const drawn = params(slot);
        if ((drawn.steps ?? 1) > draws)
          throw new StaqInputError(`createReplaySampler: a dispatch draws at most ${draws} steps; got ${drawn.steps}`);
        return sampleUniform(drawn);
      }),
    encode: (pass, slot) => dispatch.encode(pass, slot),
    destroy: () => dispatch.destroy(),
  };
}
