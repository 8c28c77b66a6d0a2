/**
 * Soft policy evaluation: StaQ's inner loop, fitting the active Q-network(s) to the soft Q-function
 * of the current policy π_k by K gradient steps on minibatches from the replay buffer, all on the
 * GPU. Each step, encoded into the trainer's command stream (64 steps per submit):
 *
 *   1. sample a minibatch, uniform without replacement (shaders/replay_sample.wgsl), and gather
 *      its states, actions and next states into the trainer's batch;
 *   2. run the target networks on the next states, in the same dispatches as the online networks'
 *      forward pass (the trainer's `targetNetworks`);
 *   3. compute y = c_r·r + γ(1−terminated)[mean_e Q̄_e(s', a') + τ H(π_k(·|s'))] from the
 *      replay buffer's precomputed π_k (shaders/train_targets.wgsl);
 *   4. take one Adam step on the MSE/Huber loss of the taken actions (the trainer);
 *   5. add the step's mean loss and mean |Q| to running sums (shaders/train_statistics.wgsl);
 *
 * and the target networks are refreshed from the online ones, by a hard copy every T steps (the
 * first step of each `evaluatePolicy` call included) or by Polyak averaging after every step
 * (shaders/train_polyak.wgsl). The host reads back only the summary, once, at the end.
 *
 * Random draws (minibatch rows, next actions) come from Philox keyed by the seed and the global
 * gradient-step count, so a run is reproducible and a resumed run continues the same streams.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer, readFloat32 } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { checkU64, splitU64 } from "../policy/philox.ts";
import { bindGroup, flatGrid, runDispatch, workgroupsFor, type Dispatch } from "./dispatch.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import { STEPS_PER_SUBMIT } from "./mlp-trainer.ts";
import type { ReplayBuffer } from "./replay-buffer.ts";
import { prepareReplaySample, writeSampleUniform } from "./replay-sample.ts";
import type { NextActionMode } from "./targets-reference.ts";

export type TargetUpdate = { kind: "hard"; every: number } | { kind: "polyak"; rho: number };

export interface SoftPolicyEvaluationOptions {
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  /** Key of the minibatch and next-action draws: an integer in [0, 2^64). */
  seed: number | bigint;
  gamma: number;
  /** c_r (DESIGN §2: 10 for classic control, 200 for MinAtar). */
  rewardScale: number;
  /** How a' enters the target (default "sample", as the authors do). */
  nextAction?: NextActionMode;
  /** Default: a hard copy every 200 steps. */
  targetUpdate?: TargetUpdate;
  label?: string;
}

export interface SoftPolicyEvaluation {
  readonly trainer: MlpTrainer;
  readonly replay: ReplayBuffer;
  /** Gradient steps taken by every `evaluatePolicy` so far (the Philox step of the next one). */
  gradientSteps: number;
  /** Copies the online networks into the target networks now. */
  syncTargets(): void;
  /** K gradient steps (see `evaluatePolicy`). */
  evaluate(options: EvaluatePolicyOptions): Promise<PolicyEvaluationSummary>;
  destroy(): void;
}

export interface EvaluatePolicyOptions {
  /** K, the gradient steps to take. */
  steps: number;
  /** τ of the policy being evaluated (the entropy bonus of the targets). */
  tau: number;
}

export interface PolicyEvaluationSummary {
  steps: number;
  /** Per member: the loss averaged over the steps (each step's loss is its minibatch mean). */
  meanLoss: number[];
  /** Per member: mean |Q(s, a)| of the taken actions, averaged over the steps. */
  meanAbsQ: number[];
  /** Per member: ‖gradient‖₂ of the last step (before clipping). */
  gradNorm: number[];
}

const SLOT_BYTES = 256;
/** Each step has two uniform slots: the sampler's, then the targets'. */
const STEP_BYTES = 2 * SLOT_BYTES;
const TARGET_UNIFORM_BYTES = 32;


export async function createSoftPolicyEvaluation(gpu: Gpu, options: SoftPolicyEvaluationOptions): Promise<SoftPolicyEvaluation> {
  if (gpu.destroyed) throw new StaqGpuError("createSoftPolicyEvaluation: this Gpu was destroyed");
  const { trainer, replay } = options;
  if (trainer.gpu !== gpu || replay.gpu !== gpu) throw new StaqInputError("the trainer and the replay buffer must live on the Gpu given");
  const { spec, layout, ensemble, batch } = trainer;
  if (replay.inputs !== spec.inputs || replay.actionCount !== spec.outputs) {
    throw new StaqInputError(`the replay buffer holds ${replay.inputs} inputs and ${replay.actionCount} actions; the trainer's network maps ${spec.inputs} inputs to ${spec.outputs} actions`);
  }
  if (!trainer.targetParams || !trainer.batchBuffers.nextStates) {
    throw new StaqInputError("soft policy evaluation needs target networks: create the trainer with targetNetworks: true");
  }
  if (batch > replay.capacity) throw new StaqInputError(`the trainer's batch (${batch}) is larger than the replay buffer's capacity (${replay.capacity})`);
  checkU64("seed", options.seed);
  if (!(options.gamma >= 0 && options.gamma < 1)) throw new StaqInputError(`gamma must be in [0, 1); got ${options.gamma}`);
  if (!Number.isFinite(options.rewardScale)) throw new StaqInputError(`rewardScale must be a finite number; got ${options.rewardScale}`);
  const nextAction = options.nextAction ?? "sample";
  if (nextAction !== "sample" && nextAction !== "expectation") throw new StaqInputError(`nextAction must be "sample" or "expectation"; got ${JSON.stringify(nextAction)}`);
  const targetUpdate = options.targetUpdate ?? { kind: "hard", every: 200 };
  if (targetUpdate.kind === "hard") {
    if (!(Number.isInteger(targetUpdate.every) && targetUpdate.every >= 1)) throw new StaqInputError(`targetUpdate.every must be an integer >= 1; got ${targetUpdate.every}`);
  } else if (targetUpdate.kind === "polyak") {
    if (!(targetUpdate.rho > 0 && targetUpdate.rho <= 1)) throw new StaqInputError(`targetUpdate.rho must be in (0, 1]; got ${targetUpdate.rho}`);
  } else {
    throw new StaqInputError(`targetUpdate.kind must be "hard" or "polyak"; got ${JSON.stringify((targetUpdate as { kind: unknown }).kind)}`);
  }
  const label = options.label ?? "staq policy evaluation";
  const [seedLo, seedHi] = splitU64(options.seed);

  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} ${name}`);
  const targetParams = trainer.targetParams;
  const nextStates = trainer.batchBuffers.nextStates;
  const indices = buffer(batch * 4, "minibatch rows");
  const sums = buffer(ensemble * 16, "statistics");
  const stepUniform = createBuffer(gpu, STEPS_PER_SUBMIT * STEP_BYTES, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${label} steps`);
  const slots = Array.from({ length: STEPS_PER_SUBMIT }, (_, j) => j);

  const sample = await prepareReplaySample(gpu, {
    inputs: spec.inputs,
    batch,
    replay: { obs: replay.buffers.obs, nextObs: replay.buffers.nextObs, actions: replay.buffers.actions },
    out: { indices, states: trainer.batchBuffers.states, nextStates, actions: trainer.batchBuffers.actions },
    uniform: stepUniform,
    uniformOffsets: slots.map((j) => j * STEP_BYTES),
  });
  const head = layout.layers.length - 1;
  const out4 = layout.layers[head].paddedOutputs / 4;
  const targetsPipeline = await gpu.pipeline("train_targets", { ACTIONS: spec.outputs, OUT4: out4, ENSEMBLE: ensemble, BATCH: batch, EXPECTATION: nextAction === "expectation" });
  const targetsGroups = slots.map((j) =>
    gpu.device.createBindGroup({
      layout: targetsPipeline.getBindGroupLayout(0),
      label: `${label} targets ${j}`,
      entries: [
        { binding: 0, resource: { buffer: stepUniform, offset: j * STEP_BYTES + SLOT_BYTES, size: TARGET_UNIFORM_BYTES } },
        ...[indices, replay.buffers.rewards, replay.buffers.terminated, replay.buffers.probs, replay.buffers.entropy, trainer.headActivations, trainer.batchBuffers.targets].map(
          (b, k) => ({ binding: k + 1, resource: { buffer: b } }),
        ),
      ],
    }),
  );
  const targetsDispatch: Dispatch = { pipeline: targetsPipeline, group: targetsGroups[0], x: workgroupsFor(batch), y: 1 };
  const statsPipeline = await gpu.pipeline("train_statistics", { BATCH: batch, OUT4: out4 });
  const statsDispatch: Dispatch = {
    pipeline: statsPipeline,
    group: bindGroup(gpu, statsPipeline, [trainer.lossRows, trainer.headActivations, trainer.batchBuffers.actions, sums], `${label} statistics`),
    x: ensemble,
    y: 1,
  };
  const refreshPipeline = await gpu.pipeline("train_polyak", {
    COUNT: ensemble * layout.vec4s,
    HARD: targetUpdate.kind === "hard",
    KEEP: targetUpdate.kind === "polyak" ? 1 - targetUpdate.rho : 0,
    RHO: targetUpdate.kind === "polyak" ? targetUpdate.rho : 1,
  });
  const copyPipeline = targetUpdate.kind === "hard" ? refreshPipeline : await gpu.pipeline("train_polyak", { COUNT: ensemble * layout.vec4s, HARD: true, KEEP: 0, RHO: 1 });
  const grid = flatGrid(ensemble * layout.vec4s);
  const refreshDispatch: Dispatch = { pipeline: refreshPipeline, group: bindGroup(gpu, refreshPipeline, [trainer.params, targetParams], `${label} target refresh`), ...grid };
  const copyDispatch: Dispatch = { pipeline: copyPipeline, group: bindGroup(gpu, copyPipeline, [trainer.params, targetParams], `${label} target copy`), ...grid };

  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  /** Writes the sampler's and the targets' uniforms of steps first … first + n − 1 into slots 0 … n − 1. */
  function writeStepSlots(first: number, n: number, size: number, tau: number): void {
    const data = new ArrayBuffer(n * STEP_BYTES);
    for (let j = 0; j < n; j++) {
      const step = first + j;
      writeSampleUniform(data, j * STEP_BYTES, { size, seed: options.seed, step });
      const base = j * STEP_BYTES + SLOT_BYTES;
      new Uint32Array(data, base, 4).set([seedLo, seedHi, ...splitU64(step)]);
      new Float32Array(data, base + 16, 3).set([options.rewardScale, options.gamma, tau]);
    }
    gpu.device.queue.writeBuffer(stepUniform, 0, data);
  }

  const evaluation: SoftPolicyEvaluation = {
    trainer,
    replay,
    gradientSteps: 0,
    syncTargets() {
      alive();
      const encoder = gpu.device.createCommandEncoder({ label: `${label} target copy` });
      const pass = encoder.beginComputePass();
      runDispatch(pass, copyDispatch);
      pass.end();
      gpu.device.queue.submit([encoder.finish()]);
    },
    async evaluate({ steps, tau }) {
      alive();
      if (!(Number.isInteger(steps) && steps >= 1)) throw new StaqInputError(`steps must be an integer >= 1; got ${steps}`);
      if (!(Number.isFinite(tau) && tau >= 0)) throw new StaqInputError(`tau must be a finite number >= 0; got ${tau}`);
      if (replay.size < batch) {
        throw new StaqInputError(`the replay buffer holds ${replay.size} transitions; a minibatch of ${batch} distinct rows needs at least that many`);
      }
      if (!replay.policyCurrent) {
        throw new StaqInputError("the replay buffer's policy is stale (transitions were added since the last precomputePolicy); call replay.precomputePolicy(stack) first");
      }
      const size = replay.size;
      const first = evaluation.gradientSteps;
      gpu.device.queue.writeBuffer(sums, 0, new Float32Array(ensemble * 4));
      trainer.train(steps, {
        prepare: (done, n) => writeStepSlots(first + done, n, size, tau),
        before(pass, slot, step) {
          if (targetUpdate.kind === "hard" && step % targetUpdate.every === 0) runDispatch(pass, refreshDispatch);
          pass.setPipeline(sample.pipeline);
          pass.setBindGroup(0, sample.groups[slot]);
          pass.dispatchWorkgroups(sample.workgroups);
        },
        beforeLoss(pass, slot) {
          runDispatch(pass, targetsDispatch, targetsGroups[slot]);
        },
        after(pass) {
          runDispatch(pass, statsDispatch);
          if (targetUpdate.kind === "polyak") runDispatch(pass, refreshDispatch);
        },
      });
      evaluation.gradientSteps += steps;
      const [totals, norms] = await Promise.all([readFloat32(gpu, sums), readFloat32(gpu, trainer.norms)]);
      const perMember = (k: number) => Array.from({ length: ensemble }, (_, e) => totals[e * 4 + k] / steps);
      return { steps, meanLoss: perMember(0), meanAbsQ: perMember(2), gradNorm: Array.from(norms) };
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const b of [indices, sums, stepUniform]) b.destroy();
    },
  };
  evaluation.syncTargets();
  return evaluation;
}

/**
 * Runs K gradient steps of soft policy evaluation on the GPU and returns the summary (one readback).
 * The replay buffer's policy must be current: call `replay.precomputePolicy(stack)` after adding
 * transitions and before evaluating.
 */
export function evaluatePolicy(evaluation: SoftPolicyEvaluation, options: EvaluatePolicyOptions): Promise<PolicyEvaluationSummary> {
  return evaluation.evaluate(options);
}
