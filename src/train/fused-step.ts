/**
 * The fused trainer (shaders/train_fused.wgsl): whole gradient steps of every ensemble member in
 * one dispatch, one workgroup per member, instead of a dozen dispatches per step. A step is bound
 * by dispatches and barriers, not arithmetic, for the networks StaQ trains (docs/training.md,
 * "Training on the GPU"), so fusing them is where the trainer's time goes down.
 *
 * It computes what the multi-dispatch pieces (trainer-pieces.ts) compute, element by element in
 * the same order; `fusedSupport` says when it can run (storage bindings, workgroup memory, scratch
 * size) and `fusedPreferred` when the trainer picks it by itself.
 */
import { StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import type { Gpu, GpuInfo } from "../gpu/gpu.ts";
import type { Kernel } from "../gpu/kernel.ts";
import type { SnapshotLayout } from "../stack/layout.ts";
import { adamBiasCorrection, adamConstants, type AdamSettings } from "./adam-step.ts";
import { SteppedDispatch } from "./dispatch.ts";
import type { TrainerBuffers } from "./trainer-pieces.ts";

/** How the trainer runs a gradient step: one dispatch per piece, or the fused kernel. */
export type TrainerPath = "multi-dispatch" | "fused";

/** Storage buffers the fused kernel binds (shaders/train_fused.wgsl). */
export const FUSED_STORAGE_BINDINGS = 12;

/** Threads per workgroup (one workgroup per member); the tree reductions assume it. */
const WORKGROUP_SIZE = 64;

/**
 * Multiply-adds one member's dispatch may run: a fused dispatch is one long-running workgroup per
 * member, and operating systems reset a GPU whose dispatch runs for seconds (Windows' 2 s TDR).
 * 2^30 multiply-adds take well under 0.1 s in one workgroup of a current GPU.
 */
export const FUSED_WORK_PER_DISPATCH = 2 ** 30;

/** The most steps one dispatch runs: the schedule and uniform slots are sized for it. */
export const FUSED_MAX_STEPS_PER_DISPATCH = 64;

/** Dispatches encoded per command buffer. */
export const FUSED_DISPATCHES_PER_SUBMIT = 16;

/**
 * Multiply-adds of one gradient step of one member: the forward pass, the parameter gradients
 * and the gradients with respect to the hidden layers' inputs.
 */
export function macsPerStep(layout: SnapshotLayout, batch: number): number {
  let forward = 0;
  let inputGradients = 0;
  layout.layers.forEach((layer, l) => {
    forward += layer.rows * layer.paddedOutputs;
    if (l > 0) inputGradients += layer.rows * layer.paddedOutputs;
  });
  return batch * (2 * forward + inputGradients);
}

/** Steps one fused dispatch runs for this network: the work limit, at most 64, at least 1. */
export function fusedStepsPerDispatch(layout: SnapshotLayout, batch: number): number {
  return Math.max(1, Math.min(FUSED_MAX_STEPS_PER_DISPATCH, Math.floor(FUSED_WORK_PER_DISPATCH / macsPerStep(layout, batch))));
}

/** Where each kept activation and the two delta regions sit in a member's scratch, in vec4s. */
export interface ScratchLayout {
  activations: number[];
  deltas: [number, number];
  /** vec4s per member. */
  member: number;
}

export function scratchLayout(layout: SnapshotLayout, batch: number): ScratchLayout {
  let offset = 0;
  const activations = layout.layers.map((layer) => {
    const at = offset;
    offset += (batch * layer.paddedOutputs) / 4;
    return at;
  });
  // A delta holds dq (the head's padded outputs) or dx of a hidden layer (its input width).
  const widest4 = Math.max(...layout.layers.map((layer) => layer.paddedOutputs / 4));
  const deltas: [number, number] = [offset, offset + batch * widest4];
  return { activations, deltas, member: offset + 2 * batch * widest4 };
}

/** Whether the fused kernel can run this trainer on this device, and if not, why. */
export function fusedSupport(
  info: Pick<GpuInfo, "limits">,
  layout: SnapshotLayout,
  ensemble: number,
  batch: number,
): { ok: true } | { ok: false; reason: string } {
  const { limits } = info;
  if (layout.layers[0].conv)
    return { ok: false, reason: "the fused kernel covers MLPs only; a network with a conv layer trains on the multi-dispatch path" };
  if (limits.maxStorageBuffersPerShaderStage < FUSED_STORAGE_BINDINGS)
    return {
      ok: false,
      reason: `the fused kernel binds ${FUSED_STORAGE_BINDINGS} storage buffers; this device allows ${limits.maxStorageBuffersPerShaderStage} per shader stage`,
    };
  if (ensemble > limits.maxComputeWorkgroupsPerDimension)
    return {
      ok: false,
      reason: `the fused kernel runs a workgroup per member; this device dispatches at most ${limits.maxComputeWorkgroupsPerDimension}`,
    };
  if (limits.maxComputeInvocationsPerWorkgroup < WORKGROUP_SIZE)
    return { ok: false, reason: `the fused kernel needs ${WORKGROUP_SIZE} invocations per workgroup` };
  const scratchBytes = ensemble * scratchLayout(layout, batch).member * 16;
  if (scratchBytes > Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize))
    return {
      ok: false,
      reason: `the fused kernel's scratch (${scratchBytes} bytes of activations and deltas) exceeds one storage binding (${limits.maxStorageBufferBindingSize} bytes)`,
    };
  return { ok: true };
}

/**
 * Whether the trainer picks the fused kernel by itself where it can run. The fused kernel runs
 * each member's whole step on one workgroup of 64 threads, in one dispatch; the multi-dispatch
 * kernels spread each piece over the device and pay for every dispatch.
 *
 * - On a GPU: up to 2^24 multiply-adds per member-step (a 2×256 network at batch 64; 2×64 at batch
 *   1024); past that one workgroup per member wastes the chip. A first guess from the arithmetic,
 *   not measured on a GPU yet (docs/training.md).
 * - On a software adapter every workgroup runs on a CPU core, so the fused kernel's E workgroups
 *   use min(E, cores) of the host's cores: it is picked when the step is at most 2^21
 *   multiply-adds, where dispatches are most of the cost, or when E fills the cores (`hostCores`;
 *   unknown counts as one) and the step is at most 2^24. On lavapipe's 2 cores
 *   (bench/results/train-llvmpipe.md): at E = 1 fused 1.7× faster at 2×64 batch 64 (2^19.7) and
 *   the multi-dispatch path 1.9× faster at 2×256 batch 256 (2^25.6); at E = 2 fused 2.0× faster
 *   at 2×64 batch 64 and the multi-dispatch path 1.2× faster at 2×256 batch 256. A throwaway
 *   script (soft Q fit, both paths interleaved, two runs) put the E = 2 crossover between 2^22.7
 *   and 2^24.6: fused 1.2–1.5× faster from 2^20.7 to 2^21.7, 0.85–1.07× from 2^22.7 to 2^24.6,
 *   0.88–0.90× at 2^25.6. At E = 1 the same kind of script (before the forward-pass change of
 *   530147d) had the multi-dispatch path 1.16–1.44× faster at 2×64 batch 256 (2^21.7), 2×128
 *   batch 128 and 2×256 batch 64 and 128.
 */
export function fusedPreferred(
  info: Pick<GpuInfo, "fallbackAdapter" | "hostCores">,
  layout: SnapshotLayout,
  batch: number,
  ensemble: number,
): boolean {
  const macs = macsPerStep(layout, batch);
  if (info.fallbackAdapter) return macs <= 2 ** 21 || (ensemble >= (info.hostCores ?? 1) && macs <= 2 ** 24);
  return macs <= 2 ** 24;
}

/** What a fused dispatch trains on and writes: the trainer's networks, gradients, Adam state, norms and loss rows, and these. */
export interface FusedBuffers extends Pick<TrainerBuffers, "params" | "grads" | "m" | "v" | "norms" | "lossRows"> {
  /** The minibatch: states f32 [rows × inputs], actions u32 [rows], targets f32 [rows]. */
  states: GPUBuffer;
  actions: GPUBuffer;
  targets: GPUBuffer;
  /** [E] vec4s: the statistics' running sums (any buffer of ≥ 16 bytes when `statistics` is off). */
  sums: GPUBuffer;
  /** Activations and deltas, [E × scratchLayout(…).member] vec4s (shared by a trainer's fused programs). */
  scratch: GPUBuffer;
}

export interface FusedOptions {
  layout: SnapshotLayout;
  ensemble: number;
  batch: number;
  adam: AdamSettings;
  huber: boolean;
  huberDelta: number;
  /** True: step s trains on rows s·batch … of the minibatch buffers (the soft Q fit's plan); false: every step on rows 0 … batch − 1. */
  perStepRows: boolean;
  /** Add each step's mean loss and |Q| to `sums` (the soft Q fit's summary). */
  statistics: boolean;
  /** Steps per dispatch (see `fusedStepsPerDispatch`). */
  stepsPerDispatch: number;
  label: string;
}

/** One dispatch of a command buffer: its steps, and where the kept norm falls. */
export interface FusedDispatchPlan {
  steps: number;
  /** The step (within this dispatch) whose gradient norm is written to `norms`; undefined: none (clipping computes every step's anyway). */
  normAt?: number;
}

/** Counts Adam steps for the bias correction: the trainer's counter, whichever path runs. */
export interface AdamCounter {
  steps: number;
}

/** A fused kernel bound to its buffers: `write` a command buffer's dispatches, then `encode` each. */
export class FusedSteps {
  private readonly schedule: GPUBuffer;
  private readonly scheduleData: Float32Array;
  private readonly dispatch: SteppedDispatch;
  private readonly gradScale: number;

  private constructor(
    private readonly gpu: Gpu,
    kernel: Kernel,
    buffers: FusedBuffers,
    private readonly options: FusedOptions,
    private readonly counter: AdamCounter,
  ) {
    const { stepsPerDispatch, label } = options;
    const scheduleSteps = FUSED_DISPATCHES_PER_SUBMIT * stepsPerDispatch;
    this.scheduleData = new Float32Array(scheduleSteps * 4);
    this.schedule = createBuffer(gpu, this.scheduleData.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, `${label} schedule`);
    const { scratch, lossRows, sums, ...rest } = buffers;
    this.dispatch = new SteppedDispatch(
      gpu,
      kernel,
      { ...rest, scratch, loss_rows: lossRows, sums, schedule: this.schedule },
      { x: options.ensemble, y: 1, z: 1 },
      FUSED_DISPATCHES_PER_SUBMIT,
      `${label} fused`,
    );
    // PyTorch's mean reduction: the slope of d² is 2d/B, of the Huber loss clamp(d)/B.
    this.gradScale = options.huber ? 1 / options.batch : 2 / options.batch;
  }

  static async create(gpu: Gpu, buffers: FusedBuffers, options: FusedOptions, counter: AdamCounter): Promise<FusedSteps> {
    const { layout, ensemble, batch, stepsPerDispatch } = options;
    if (!(Number.isInteger(stepsPerDispatch) && stepsPerDispatch >= 1 && stepsPerDispatch <= FUSED_MAX_STEPS_PER_DISPATCH))
      throw new StaqInputError(
        `fused steps per dispatch must be an integer in [1, ${FUSED_MAX_STEPS_PER_DISPATCH}]; got ${stepsPerDispatch}`,
      );
    const scratch = scratchLayout(layout, batch);
    if (buffers.scratch.size < ensemble * scratch.member * 16)
      throw new StaqInputError(`the fused scratch has ${buffers.scratch.size} bytes; it needs ${ensemble * scratch.member * 16}`);
    const kernel = await gpu.kernel("train_fused", {
      LAYERS: layout.layers.length,
      LAYER_ROWS: layout.layers.map((layer) => layer.rows),
      LAYER_OUT4: layout.layers.map((layer) => layer.paddedOutputs / 4),
      LAYER_WEIGHTS: layout.layers.map((layer) => layer.weightOffset),
      LAYER_BIAS: layout.layers.map((layer) => layer.biasOffset),
      LAYER_ACTIVATIONS: scratch.activations,
      DELTAS: scratch.deltas,
      MEMBER_SCRATCH: scratch.member,
      SNAPSHOT_VEC4S: layout.vec4s,
      INPUTS: layout.spec.inputs,
      BATCH: batch,
    });
    return new FusedSteps(gpu, kernel, buffers, options, counter);
  }

  get stepsPerDispatch(): number {
    return this.options.stepsPerDispatch;
  }

  /**
   * Writes the uniforms and Adam schedule of a command buffer's dispatches (slot j for
   * `dispatches[j]`) with one upload each, and counts their Adam steps as taken: they are encoded
   * and submitted next.
   */
  write(dispatches: readonly FusedDispatchPlan[]): void {
    const { adam, stepsPerDispatch } = this.options;
    if (dispatches.length > FUSED_DISPATCHES_PER_SUBMIT)
      throw new StaqInputError(`a command buffer holds at most ${FUSED_DISPATCHES_PER_SUBMIT} fused dispatches; got ${dispatches.length}`);
    let written = 0;
    dispatches.forEach((d, slot) => {
      if (!(Number.isInteger(d.steps) && d.steps >= 1 && d.steps <= stepsPerDispatch))
        throw new StaqInputError(`a fused dispatch runs 1 … ${stepsPerDispatch} steps; got ${d.steps}`);
      for (let s = 0; s < d.steps; s++) {
        const { stepSize, bias2Root } = adamBiasCorrection(adam, this.counter.steps + 1 + s);
        const at = (slot * stepsPerDispatch + s) * 4;
        this.scheduleData[at] = stepSize;
        this.scheduleData[at + 1] = bias2Root;
      }
      this.counter.steps += d.steps;
      written = slot * stepsPerDispatch + d.steps;
    });
    if (written > 0) this.gpu.writeBuffer(this.schedule, 0, this.scheduleData.subarray(0, written * 4));
    this.dispatch.write(dispatches.length, (slot) => ({
      steps: dispatches[slot].steps,
      schedule_offset: slot * stepsPerDispatch,
      norm_at: dispatches[slot].normAt ?? stepsPerDispatch,
      grad_scale: this.gradScale,
      ...adamConstants(adam),
      per_step_rows: this.options.perStepRows ? 1 : 0,
      clip: adam.maxGradNorm !== undefined ? 1 : 0,
      huber: this.options.huber ? 1 : 0,
      huber_delta: this.options.huberDelta,
      statistics: this.options.statistics ? 1 : 0,
    }));
  }

  /** Encodes the dispatch written to `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void {
    this.dispatch.encode(pass, slot);
  }

  destroy(): void {
    this.dispatch.destroy();
    this.schedule.destroy();
  }
}

/**
 * Splits a run of `count` steps into dispatches of at most `perDispatch` steps, each command
 * buffer's worth at a time, keeping the norm of the run's last step.
 */
export function fusedRunPlan(count: number, perDispatch: number): FusedDispatchPlan[][] {
  const submits: FusedDispatchPlan[][] = [];
  let current: FusedDispatchPlan[] = [];
  for (let first = 0; first < count; first += perDispatch) {
    const steps = Math.min(perDispatch, count - first);
    current.push({ steps, normAt: first + steps === count ? steps - 1 : undefined });
    if (current.length === FUSED_DISPATCHES_PER_SUBMIT) {
      submits.push(current);
      current = [];
    }
  }
  if (current.length > 0) submits.push(current);
  return submits;
}
