/**
 * The Adam piece of a gradient step (shaders/train_adam.wgsl): one update of every parameter of
 * every member, with the step's bias-corrected constants in its own uniform slot. The piece counts
 * the steps it has been prepared for, so the count is t of the bias correction wherever the step
 * list comes from.
 */
import type { Gpu } from "../gpu/gpu.ts";
import type { Kernel, UniformValues } from "../gpu/kernel.ts";
import { SteppedDispatch } from "./dispatch.ts";
import { STEPS_PER_SUBMIT, type StepPiece, type StepPosition } from "./gradient-step.ts";
import type { AdamOptions } from "./reference.ts";

export type AdamSettings = Required<Omit<AdamOptions, "maxGradNorm">> & Pick<AdamOptions, "maxGradNorm">;

/**
 * Step t's bias-corrected constants, computed in float64 as PyTorch computes them; the kernels
 * read them as f32 (rounded by the uniform or schedule packing, as PyTorch rounds its scalars).
 */
export function adamBiasCorrection(adam: Pick<AdamSettings, "lr" | "beta1" | "beta2">, t: number): { stepSize: number; bias2Root: number } {
  return { stepSize: adam.lr / (1 - adam.beta1 ** t), bias2Root: Math.sqrt(1 - adam.beta2 ** t) };
}

/** The uniform fields every step shares (train_adam.wgsl's and train_fused.wgsl's, by the same names). */
export function adamConstants(adam: AdamSettings): UniformValues {
  return {
    beta1: adam.beta1,
    beta2: adam.beta2,
    one_minus_beta1: 1 - adam.beta1,
    one_minus_beta2: 1 - adam.beta2,
    eps: adam.eps,
    weight_decay: adam.weightDecay,
    max_norm: adam.maxGradNorm ?? 0,
  };
}

/** Step t's uniform. */
function adamUniform(adam: AdamSettings, t: number, count: number): UniformValues {
  const { stepSize, bias2Root } = adamBiasCorrection(adam, t);
  return { step_size: stepSize, bias2_root: bias2Root, ...adamConstants(adam), count };
}

export class AdamStep implements StepPiece {
  /** Adam steps taken: the next step's t is steps + 1. */
  steps = 0;
  private readonly dispatch: SteppedDispatch;

  constructor(
    gpu: Gpu,
    kernel: Kernel,
    buffers: { params: GPUBuffer; grads: GPUBuffer; m: GPUBuffer; v: GPUBuffer; norms: GPUBuffer },
    /** vec4s updated per step: every member's snapshot. */
    private readonly count: number,
    private readonly adam: AdamSettings,
    label: string,
  ) {
    this.dispatch = new SteppedDispatch(gpu, kernel, buffers, kernel.grid(count), STEPS_PER_SUBMIT, `${label} adam`);
  }

  /** A command buffer's steps are counted as taken here: they are encoded and submitted next. */
  prepare(_first: number, count: number): void {
    this.dispatch.write(count, (slot) => adamUniform(this.adam, this.steps + 1 + slot, this.count));
    this.steps += count;
  }

  encode(pass: GPUComputePassEncoder, at: StepPosition): void {
    this.dispatch.encode(pass, at.slot);
  }

  destroy(): void {
    this.dispatch.destroy();
  }
}
