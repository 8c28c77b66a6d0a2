/**
 * A gradient step as a list of pieces in the order they run, and the loop that encodes a run of
 * K such steps: the trainer supplies the pieces every step has (forward, loss, backward, norm,
 * Adam: mlp-trainer.ts), and each caller lists its own step from them (the soft Q fit adds target
 * refreshes, minibatch sampling, targets and statistics: soft-q-fit.ts; `staq fit` uses the
 * trainer's alone). Nothing is read back: a run is encoded and submitted, STEPS_PER_SUBMIT steps
 * per command buffer.
 */
import type { Gpu } from "../gpu/gpu.ts";
import type { Dispatch } from "./dispatch.ts";

/** Steps encoded into one command buffer: a `SteppedDispatch` has a uniform slot for each. */
export const STEPS_PER_SUBMIT = 64;

/** Where a step stands in the run being encoded. */
export interface StepPosition {
  /** Its place in its command buffer, 0 … STEPS_PER_SUBMIT − 1: the uniform slot it binds. */
  slot: number;
  /** Its index in the run, from 0. */
  index: number;
  /** True for the run's last step. */
  last: boolean;
}

/** One piece of a gradient step. */
export interface StepPiece {
  /**
   * Called before each command buffer is encoded, with the run indices of its steps (first …
   * first + count − 1, in slots 0 … count − 1): writes the uniforms that change per step.
   */
  prepare?(first: number, count: number): void;
  /** Encodes this piece of the step at `at`. */
  encode(pass: GPUComputePassEncoder, at: StepPosition): void;
}

/** A piece that encodes the same dispatches, in order, at every step. */
export function fixedPiece(dispatches: readonly Dispatch[]): StepPiece {
  return {
    encode(pass) {
      for (const dispatch of dispatches) dispatch.encode(pass);
    },
  };
}

/** Encodes and submits `count` gradient steps, each `step`'s pieces in order. */
export function encodeSteps(gpu: Gpu, step: readonly StepPiece[], count: number, label: string): void {
  for (let first = 0; first < count; first += STEPS_PER_SUBMIT) {
    const n = Math.min(STEPS_PER_SUBMIT, count - first);
    for (const piece of step) piece.prepare?.(first, n);
    const encoder = gpu.encoder(label);
    const pass = encoder.beginComputePass({ label });
    for (let slot = 0; slot < n; slot++) {
      const at = { slot, index: first + slot, last: first + slot === count - 1 };
      for (const piece of step) piece.encode(pass, at);
    }
    pass.end();
    gpu.submit([encoder.finish()]);
  }
}
