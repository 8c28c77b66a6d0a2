/**
 * The target plan of the fused soft Q fit: the minibatches and soft-Bellman targets of many
 * gradient steps, computed before the fused kernel trains on them. The target networks do not
 * change between two hard refreshes, and every minibatch and next action is a pure function of
 * (seed, step), so the targets of a run of steps inside one refresh period do not depend on the
 * online networks' updates: they can be computed for all those steps at once, wide and parallel,
 * and the fused kernel's workgroups (one per member, each running steps one after another) need
 * nothing from each other.
 *
 * One plan, for `steps` consecutive steps, is three kernels the multi-dispatch trainer also uses,
 * each over steps × batch rows: the sampler (shaders/replay_sample.wgsl) gathers the rows, the
 * forward pass (shaders/train_forward.wgsl) runs the E target networks on their next states layer
 * by layer, and shaders/train_targets.wgsl forms y = c_r·r + γ(1−terminated)[mean_e Q̄_e(s', a') +
 * τH]. Each row is computed exactly as the multi-dispatch trainer computes it for the same step.
 */
import { StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import type { Gpu, GpuLimits } from "../gpu/gpu.ts";
import type { UniformValues } from "../gpu/kernel.ts";
import { splitU64 } from "../random/philox.ts";
import { SteppedDispatch } from "./dispatch.ts";
import { FUSED_DISPATCHES_PER_SUBMIT } from "./fused-step.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import type { ReplayBuffer } from "./replay-buffer.ts";
import { createReplaySampler, type ReplaySampler } from "./replay-sample.ts";
import type { NextActionMode } from "./targets-reference.ts";
import { forwardConstants, forwardThreads } from "./trainer-pieces.ts";

/** Bytes one plan's largest buffer may take: it bounds the steps per plan for wide networks and large batches. */
export const PLAN_BUFFER_BYTES = 32 * 2 ** 20;

export interface TargetPlanOptions {
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  seed: number | bigint;
  gamma: number;
  rewardScale: number;
  nextAction: NextActionMode;
  /** The most steps one plan covers. */
  steps: number;
  label: string;
}

/** One plan of a command buffer: its steps, and their settings. */
export interface PlanDraw {
  /** Filled replay rows to draw from. */
  size: number;
  /** The Philox step of the plan's first gradient step. */
  firstStep: number;
  steps: number;
  tau: number;
}

export interface TargetPlan {
  /** The most steps one plan covers. */
  readonly steps: number;
  /** The plan's minibatches, step after step: states f32 [steps × batch × inputs], actions u32 and targets f32 [steps × batch]. */
  readonly states: GPUBuffer;
  readonly actions: GPUBuffer;
  readonly targets: GPUBuffer;
  /** The replay rows drawn, u32 [steps × batch], and their next states (for tests). */
  readonly indices: GPUBuffer;
  readonly nextStates: GPUBuffer;
  /** The target networks' Q̄ on the next states, [E × (the last plan's steps × batch) × padded actions]. */
  readonly targetQ: GPUBuffer;
  /** Writes a command buffer's plans, `plans[j]` into slot j. */
  write(plans: readonly PlanDraw[]): void;
  /** Encodes the plan written to `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void;
  destroy(): void;
}

/**
 * shaders/train_targets.wgsl bound to the replay buffer and the caller's minibatch rows, target
 * network outputs (whose first target member is `targetMemberBase`) and targets, for up to `rows`
 * rows per dispatch, with a uniform slot per dispatch of a command buffer: the multi-dispatch soft
 * Q fit's (one step) and the plan's (many).
 */
export async function createTargetsDispatch(
  gpu: Gpu,
  trainer: MlpTrainer,
  replay: ReplayBuffer,
  options: {
    nextAction: NextActionMode;
    targetMemberBase: number;
    buffers: { indices: GPUBuffer; headQ: GPUBuffer; targets: GPUBuffer };
    rows: number;
    slots: number;
    label: string;
  },
): Promise<SteppedDispatch> {
  const { layout, spec, ensemble, batch } = trainer;
  const kernel = await gpu.kernel("train_targets", {
    ACTIONS: spec.outputs,
    OUT4: layout.layers[layout.layers.length - 1].paddedOutputs / 4,
    ENSEMBLE: ensemble,
    BATCH: batch,
    EXPECTATION: options.nextAction === "expectation",
    TARGET_MEMBER_BASE: options.targetMemberBase,
  });
  const { indices, headQ, targets } = options.buffers;
  const resources = {
    indices,
    rewards: replay.buffers.rewards,
    terminated: replay.buffers.terminated,
    probs: replay.buffers.probs,
    entropy: replay.buffers.entropy,
    head_q: headQ,
    targets,
  };
  return new SteppedDispatch(gpu, kernel, resources, kernel.grid(options.rows), options.slots, options.label);
}

/**
 * shaders/train_targets.wgsl's uniform: the targets of `steps` steps from `firstStep` (the Philox
 * step of their next-action draws), with entropy bonus τ, reading Q̄ from a head buffer whose
 * members are `rowsPerMember` rows apart.
 */
export function targetsUniform(
  settings: { seed: number | bigint; rewardScale: number; gamma: number },
  draw: { firstStep: number; steps: number; tau: number; rowsPerMember: number },
): UniformValues {
  const [seedLo, seedHi] = splitU64(settings.seed);
  const [stepLo, stepHi] = splitU64(draw.firstStep);
  return {
    seed_lo: seedLo,
    seed_hi: seedHi,
    step_lo: stepLo,
    step_hi: stepHi,
    reward_scale: settings.rewardScale,
    gamma: settings.gamma,
    tau: draw.tau,
    steps: draw.steps,
    rows_per_member: draw.rowsPerMember,
  };
}

/**
 * Steps one plan may cover for this trainer: `wanted`, fewer where the plan's buffers would be too
 * large or its kernels (a thread per row) would need more workgroups than the device dispatches.
 */
export function planSteps(
  trainer: MlpTrainer,
  wanted: number,
  limits: Pick<GpuLimits, "maxStorageBufferBindingSize" | "maxComputeWorkgroupsPerDimension">,
): number {
  const { layout, ensemble, batch, spec } = trainer;
  const widest = Math.max(spec.inputs, ...layout.layers.map((layer) => ensemble * layer.width));
  const bytesPerStep = batch * widest * 4;
  const byBytes = Math.floor(Math.min(PLAN_BUFFER_BYTES, limits.maxStorageBufferBindingSize) / bytesPerStep);
  // Kernel.grid folds x into y: at most max² workgroups of 64 threads.
  const byThreads = Math.floor((limits.maxComputeWorkgroupsPerDimension ** 2 * 64) / batch);
  return Math.max(1, Math.min(wanted, byBytes, byThreads));
}

export async function createTargetPlan(gpu: Gpu, options: TargetPlanOptions): Promise<TargetPlan> {
  const { trainer, replay, steps, label } = options;
  const { layout, ensemble, batch, spec } = trainer;
  const targetParams = trainer.targetParams;
  if (!targetParams) throw new StaqInputError("the target plan needs target networks: create the trainer with targetNetworks: true");
  const rows = steps * batch;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} plan ${name}`);
  const indices = buffer(rows * 4, "rows");
  const states = buffer(rows * spec.inputs * 4, "states");
  const nextStates = buffer(rows * spec.inputs * 4, "next states");
  const actions = buffer(rows * 4, "actions");
  const targets = buffer(rows * 4, "targets");
  const head = layout.layers.length - 1;
  const widest = Math.max(4, ...layout.layers.map((layer) => layer.width));
  // The target networks' hidden outputs alternate between two buffers; the head has its own.
  const hidden = head > 0 ? [buffer(ensemble * rows * widest * 4, "hidden a"), buffer(ensemble * rows * widest * 4, "hidden b")] : [];
  const headQ = buffer(ensemble * rows * layout.layers[head].paddedOutputs * 4, "target q");

  const sampler: ReplaySampler = await createReplaySampler(gpu, {
    inputs: spec.inputs,
    batch,
    replay: { obs: replay.buffers.obs, nextObs: replay.buffers.nextObs, actions: replay.buffers.actions },
    out: { indices, states, nextStates, actions },
    steps: FUSED_DISPATCHES_PER_SUBMIT,
    draws: steps,
    label: `${label} plan sample`,
  });

  const forward: SteppedDispatch[] = [];
  for (let l = 0; l <= head; l++) {
    const kernel = await gpu.kernel("train_forward", { ...forwardConstants(layout, l), RELU: l < head, MEMBERS: ensemble });
    const x = l === 0 ? nextStates : hidden[(l - 1) % 2];
    const out = l === head ? headQ : hidden[l % 2];
    // The target networks are the kernel's only members: the extra bindings alias, unread.
    const resources = { x, weights: targetParams, out, x_target: x, weights_target: targetParams };
    forward.push(
      new SteppedDispatch(
        gpu,
        kernel,
        resources,
        kernel.grid(forwardThreads(layout, l, rows), 1, ensemble),
        FUSED_DISPATCHES_PER_SUBMIT,
        `${label} plan forward ${l}`,
      ),
    );
  }

  const softTargets = await createTargetsDispatch(gpu, trainer, replay, {
    nextAction: options.nextAction,
    targetMemberBase: 0,
    buffers: { indices, headQ, targets },
    rows,
    slots: FUSED_DISPATCHES_PER_SUBMIT,
    label: `${label} plan targets`,
  });
  return {
    steps,
    states,
    actions,
    targets,
    indices,
    nextStates,
    targetQ: headQ,
    write(plans) {
      for (const plan of plans)
        if (!(Number.isInteger(plan.steps) && plan.steps >= 1 && plan.steps <= steps))
          throw new StaqInputError(`a target plan covers 1 … ${steps} steps; got ${plan.steps}`);
      sampler.write(plans.length, (slot) => ({
        size: plans[slot].size,
        seed: options.seed,
        step: plans[slot].firstStep,
        steps: plans[slot].steps,
      }));
      for (const dispatch of forward) dispatch.write(plans.length, (slot) => ({ batch: plans[slot].steps * batch }));
      softTargets.write(plans.length, (slot) => {
        const plan = plans[slot];
        return targetsUniform(options, { firstStep: plan.firstStep, steps: plan.steps, tau: plan.tau, rowsPerMember: plan.steps * batch });
      });
    },
    encode(pass, slot) {
      sampler.encode(pass, slot);
      for (const dispatch of forward) dispatch.encode(pass, slot);
      softTargets.encode(pass, slot);
    },
    destroy() {
      sampler.destroy();
      for (const dispatch of forward) dispatch.destroy();
      softTargets.destroy();
      for (const b of [indices, states, nextStates, actions, targets, ...hidden, headQ]) b.destroy();
    },
  };
}
