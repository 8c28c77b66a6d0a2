/**
 * The soft Q fit: StaQ's inner loop, fitting the active Q-network(s) to the soft Q-function of the
 * current policy π_k by K gradient steps on minibatches from the replay buffer, all on the GPU
 * ("soft policy evaluation" in the paper). One gradient step, as `fit` lists it:
 *
 *   refresh     the target networks from the online ones: a hard copy every T steps (the first
 *               step of each fit included), or Polyak averaging after every step instead
 *               (shaders/train_polyak.wgsl);
 *   sample      a minibatch, uniform without replacement, gathered into the trainer's batch
 *               (replay-sample.ts);
 *   forward     the online networks on the states and the target networks on the next states, in
 *               the same dispatches (the trainer's);
 *   targets     y = c_r·r + γ(1−terminated)[mean_e Q̄_e(s', a') + τ H(π_k(·|s'))] from the replay
 *               buffer's precomputed π_k (shaders/train_targets.wgsl);
 *   loss, backward, norm, adam   one Adam step on the MSE/Huber loss of the taken actions (the trainer's);
 *   statistics  the step's mean loss and mean |Q| added to running sums (shaders/train_statistics.wgsl).
 *
 * The K steps are encoded STEPS_PER_SUBMIT to a command buffer; the host reads back only the
 * summary, once, at the end.
 *
 * With a trainer on the fused path and hard target refreshes, the same steps run differently:
 * between two refreshes the sampling and targets of up to 64 steps are computed at once (the
 * target plan, target-plan.ts), then one fused dispatch runs those steps' forward, loss, backward,
 * Adam and statistics for every member (fused-step.ts). Every number is computed as above. Random draws (minibatch rows, next actions) come from Philox keyed by
 * the seed and the global gradient-step count, so a run is reproducible and a resumed run
 * continues the same streams.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { Readback } from "../gpu/readback.ts";
import { DurationEstimate } from "../gpu/patient-wait.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { checkU64 } from "../random/philox.ts";
import { Dispatch, SteppedDispatch } from "./dispatch.ts";
import { encodeSteps, fixedPiece, STEPS_PER_SUBMIT, type StepPiece } from "./gradient-step.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import type { ReplayBuffer } from "./replay-buffer.ts";
import { createReplaySampler } from "./replay-sample.ts";
import { FUSED_DISPATCHES_PER_SUBMIT, type FusedDispatchPlan, type TrainerPath } from "./fused-step.ts";
import { createTargetPlan, createTargetsDispatch, planSteps, targetsUniform, type PlanDraw } from "./target-plan.ts";
import type { NextActionMode } from "./targets-reference.ts";

export type TargetUpdate = { kind: "hard"; every: number } | { kind: "polyak"; rho: number };

export interface SoftQFitOptions {
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  /** Key of the minibatch and next-action draws: an integer in [0, 2^64). */
  seed: number | bigint;
  gamma: number;
  /** c_r (10 for classic control, 200 for MinAtar: docs/algorithm.md, “The published defaults”). */
  rewardScale: number;
  /** How a' enters the target (default "sample", as the authors do). */
  nextAction?: NextActionMode;
  /** Default: a hard copy every 200 steps. */
  targetUpdate?: TargetUpdate;
  /** Gradient steps already taken (a resumed run's): the Philox step of the first draw (default 0). */
  gradientSteps?: number;
  /**
   * "auto" (default): the trainer's path, except that Polyak averaging (which changes the target
   * networks every step) runs multi-dispatch; "fused" insists (an error with Polyak averaging or a
   * multi-dispatch trainer); "multi-dispatch" always.
   */
  path?: "auto" | TrainerPath;
  label?: string;
}

export interface SoftQFit {
  readonly trainer: MlpTrainer;
  readonly replay: ReplayBuffer;
  /** The path its steps run on. */
  readonly path: TrainerPath;
  /** The last step's minibatch and targets, as the GPU gathered and computed them (for tests and debugging). */
  readLastStep(): Promise<LastStep>;
  /** Gradient steps taken so far, by every `fit` (and before a resume): the Philox step of the next one. */
  readonly gradientSteps: number;
  /** Copies the online networks into the target networks now. */
  syncTargets(): void;
  /** K gradient steps (see `fitSoftQ`); fits run one after another. */
  fit(options: FitSoftQOptions): Promise<SoftQFitSummary>;
  destroy(): void;
}

/** One gradient step's minibatch, read back. */
export interface LastStep {
  /** Replay rows, [batch]. */
  rows: Uint32Array;
  /** [batch × inputs] each. */
  states: Float32Array;
  nextStates: Float32Array;
  actions: Uint32Array;
  /** The soft-Bellman targets, [batch]. */
  targets: Float32Array;
  /** Per ensemble member, the target network's Q̄(s', ·), [batch × padded actions]. */
  targetQ: Float32Array[];
}

export interface FitSoftQOptions {
  /** K, the gradient steps to take. */
  steps: number;
  /** τ of the policy whose soft Q-function is fitted (the entropy bonus of the targets). */
  tau: number;
}

export interface SoftQFitSummary {
  steps: number;
  /** Per member: the loss averaged over the steps (each step's loss is its minibatch mean). */
  meanLoss: number[];
  /** Per member: mean |Q(s, a)| of the taken actions, averaged over the steps. */
  meanAbsQ: number[];
  /** Per member: ‖gradient‖₂ of the last step (before clipping). */
  gradNorm: number[];
}

function checkTargetUpdate(targetUpdate: TargetUpdate): void {
  if (targetUpdate.kind === "hard") {
    if (!(Number.isInteger(targetUpdate.every) && targetUpdate.every >= 1))
      throw new StaqInputError(`targetUpdate.every must be an integer >= 1; got ${targetUpdate.every}`);
  } else if (targetUpdate.kind === "polyak") {
    if (!(targetUpdate.rho > 0 && targetUpdate.rho <= 1))
      throw new StaqInputError(`targetUpdate.rho must be in (0, 1]; got ${targetUpdate.rho}`);
  } else {
    throw new StaqInputError(
      `targetUpdate.kind must be "hard" or "polyak"; got ${JSON.stringify((targetUpdate as { kind: unknown }).kind)}`,
    );
  }
}

export async function createSoftQFit(gpu: Gpu, options: SoftQFitOptions): Promise<SoftQFit> {
  if (gpu.destroyed) throw new StaqGpuError("createSoftQFit: this Gpu was destroyed");
  const { trainer, replay } = options;
  if (trainer.gpu !== gpu || replay.gpu !== gpu) throw new StaqInputError("the trainer and the replay buffer must live on the Gpu given");
  const { spec, layout, ensemble, batch } = trainer;
  if (replay.inputs !== spec.inputs || replay.actionCount !== spec.outputs) {
    throw new StaqInputError(
      `the replay buffer holds ${replay.inputs} inputs and ${replay.actionCount} actions; the trainer's network maps ${spec.inputs} inputs to ${spec.outputs} actions`,
    );
  }
  const targetParams = trainer.targetParams;
  const nextStates = trainer.batchBuffers.nextStates;
  if (!targetParams || !nextStates)
    throw new StaqInputError("the soft Q fit needs target networks: create the trainer with targetNetworks: true");
  if (batch > replay.capacity)
    throw new StaqInputError(`the trainer's batch (${batch}) is larger than the replay buffer's capacity (${replay.capacity})`);
  checkU64("seed", options.seed);
  if (!(options.gamma >= 0 && options.gamma < 1)) throw new StaqInputError(`gamma must be in [0, 1); got ${options.gamma}`);
  if (!Number.isFinite(options.rewardScale)) throw new StaqInputError(`rewardScale must be a finite number; got ${options.rewardScale}`);
  const nextAction = options.nextAction ?? "sample";
  if (nextAction !== "sample" && nextAction !== "expectation")
    throw new StaqInputError(`nextAction must be "sample" or "expectation"; got ${JSON.stringify(nextAction)}`);
  const targetUpdate = options.targetUpdate ?? { kind: "hard", every: 200 };
  checkTargetUpdate(targetUpdate);
  let gradientSteps = options.gradientSteps ?? 0;
  if (!(Number.isSafeInteger(gradientSteps) && gradientSteps >= 0))
    throw new StaqInputError(`gradientSteps must be an integer >= 0; got ${gradientSteps}`);
  const label = options.label ?? "staq soft Q fit";
  const requested = options.path ?? "auto";
  if (requested !== "auto" && requested !== "fused" && requested !== "multi-dispatch")
    throw new StaqInputError(`path must be "auto", "fused" or "multi-dispatch"; got ${JSON.stringify(requested)}`);
  if (requested === "fused" && trainer.path !== "fused")
    throw new StaqInputError(
      `path "fused" needs a trainer on the fused path; this one runs ${trainer.path} (createMlpTrainer's path option)`,
    );
  if (requested === "fused" && targetUpdate.kind !== "hard")
    throw new StaqInputError(
      'path "fused" needs hard target refreshes (Polyak averaging changes the target networks every step, so their targets cannot be planned ahead); use targetUpdate { kind: "hard" } or path "multi-dispatch"',
    );
  const path: TrainerPath =
    requested === "multi-dispatch" || trainer.path !== "fused" || targetUpdate.kind !== "hard" ? "multi-dispatch" : "fused";

  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const indices = createBuffer(gpu, batch * 4, storage, `${label} minibatch rows`);
  const sums = createBuffer(gpu, ensemble * 16, storage, `${label} statistics`);
  const { states, actions } = trainer.batchBuffers;

  const sampler = await createReplaySampler(gpu, {
    inputs: spec.inputs,
    batch,
    replay: { obs: replay.buffers.obs, nextObs: replay.buffers.nextObs, actions: replay.buffers.actions },
    out: { indices, states, nextStates, actions },
    steps: STEPS_PER_SUBMIT,
    label: `${label} sample`,
  });
  const out4 = layout.layers[layout.layers.length - 1].paddedOutputs / 4;
  const softTargets = await createTargetsDispatch(gpu, trainer, replay, {
    nextAction,
    // The trainer's head activations hold the online networks first, then the targets.
    targetMemberBase: ensemble,
    buffers: { indices, headQ: trainer.headActivations, targets: trainer.batchBuffers.targets },
    rows: batch,
    slots: STEPS_PER_SUBMIT,
    label: `${label} targets`,
  });
  const statisticsKernel = await gpu.kernel("train_statistics", { BATCH: batch, OUT4: out4 });
  // One workgroup per member: the shader reduces a member's batch within its workgroup.
  const statistics = fixedPiece([
    new Dispatch(
      statisticsKernel,
      { loss_rows: trainer.lossRows, q: trainer.headActivations, actions, sums },
      { x: ensemble, y: 1, z: 1 },
      `${label} statistics`,
    ),
  ]);

  const count = ensemble * layout.vec4s;
  const targetNetworks = async (constants: { HARD: boolean; KEEP: number; RHO: number }, name: string) => {
    const kernel = await gpu.kernel("train_polyak", { COUNT: count, ...constants });
    return new Dispatch(kernel, { online: trainer.params, target_params: targetParams }, kernel.grid(count), `${label} ${name}`);
  };
  const copy = await targetNetworks({ HARD: true, KEEP: 0, RHO: 1 }, "target copy");
  const refresh: StepPiece =
    targetUpdate.kind === "hard"
      ? {
          encode(pass, at) {
            if (at.index % targetUpdate.every === 0) copy.encode(pass);
          },
        }
      : fixedPiece([await targetNetworks({ HARD: false, KEEP: 1 - targetUpdate.rho, RHO: targetUpdate.rho }, "target averaging")]);

  /** Minibatches from the first `size` rows; run step i draws with the Philox step `firstStep + i`. */
  const sampling = (size: number, firstStep: number): StepPiece => ({
    prepare: (first, n) => sampler.write(n, (slot) => ({ size, seed: options.seed, step: firstStep + first + slot })),
    encode: (pass, at) => sampler.encode(pass, at.slot),
  });
  /** The targets with entropy bonus τ; run step i draws a' with the Philox step `firstStep + i`. */
  const softBellmanTargets = (firstStep: number, tau: number): StepPiece => ({
    prepare: (first, n) =>
      softTargets.write(n, (slot) => targetsUniform(options, { firstStep: firstStep + first + slot, steps: 1, tau, rowsPerMember: batch })),
    encode: (pass, at) => softTargets.encode(pass, at.slot),
  });

  // The fused path: target plans, and the fused kernel training on them.
  const plan =
    path === "fused"
      ? await createTargetPlan(gpu, {
          trainer,
          replay,
          seed: options.seed,
          gamma: options.gamma,
          rewardScale: options.rewardScale,
          nextAction,
          steps: planSteps(trainer, trainer.fusedStepsPerDispatch, gpu.info.limits),
          label,
        })
      : undefined;
  const fused = plan
    ? await trainer.fusedSteps(
        { states: plan.states, actions: plan.actions, targets: plan.targets, sums },
        { perStepRows: true, statistics: true, stepsPerDispatch: plan.steps },
      )
    : undefined;

  const batchNextStates: GPUBuffer = nextStates;
  /** Steps of the last plan encoded: the last step's rows come last in the plan's buffers. */
  let lastPlanSteps = 1;

  /** The last step's minibatch, from the trainer's batch buffers or the last plan's. */
  async function readLastStep(): Promise<LastStep> {
    alive();
    const { inputs } = spec;
    const padded = layout.layers[layout.layers.length - 1].paddedOutputs;
    // Where the last step's rows start, in rows, and how many rows one member's Q̄ spans.
    const [first, memberRows] = plan ? [(lastPlanSteps - 1) * batch, lastPlanSteps * batch] : [0, batch];
    const sources = plan
      ? {
          rows: plan.indices,
          states: plan.states,
          nextStates: plan.nextStates,
          actions: plan.actions,
          targets: plan.targets,
          q: plan.targetQ,
        }
      : { rows: indices, states, nextStates: batchNextStates, actions, targets: trainer.batchBuffers.targets, q: trainer.headActivations };
    // The multi-dispatch heads hold the online networks first, then the targets.
    const qMember = (e: number) => ((plan ? e : ensemble + e) * memberRows + first) * padded * 4;
    const ranges = [
      { source: sources.rows, offset: first * 4, bytes: batch * 4 },
      { source: sources.states, offset: first * inputs * 4, bytes: batch * inputs * 4 },
      { source: sources.nextStates, offset: first * inputs * 4, bytes: batch * inputs * 4 },
      { source: sources.actions, offset: first * 4, bytes: batch * 4 },
      { source: sources.targets, offset: first * 4, bytes: batch * 4 },
      ...Array.from({ length: ensemble }, (_, e) => ({ source: sources.q, offset: qMember(e), bytes: batch * padded * 4 })),
    ];
    const [rows, s, ns, a, y, ...q] = await readback.read(gpu.encoder(`${label} last step`), ranges);
    return {
      rows: new Uint32Array(rows),
      states: new Float32Array(s),
      nextStates: new Float32Array(ns),
      actions: new Uint32Array(a),
      targets: new Float32Array(y),
      targetQ: q.map((bytes) => new Float32Array(bytes)),
    };
  }

  /** The fused run of `steps` steps from Philox step `firstStep`: plans that never cross a refresh, a command buffer at a time. */
  function encodeFused(steps: number, firstStep: number, tau: number): void {
    if (!plan || !fused || targetUpdate.kind !== "hard") throw new StaqGpuError("the fused soft Q fit was not built");
    const every = targetUpdate.every;
    const chunks: { plan: PlanDraw; dispatch: FusedDispatchPlan; refresh: boolean }[] = [];
    for (let index = 0; index < steps;) {
      const n = Math.min(plan.steps, every - (index % every), steps - index);
      chunks.push({
        plan: { size: replay.size, firstStep: firstStep + index, steps: n, tau },
        dispatch: { steps: n, normAt: index + n === steps ? n - 1 : undefined },
        refresh: index % every === 0,
      });
      index += n;
    }
    lastPlanSteps = chunks[chunks.length - 1].plan.steps;
    for (let first = 0; first < chunks.length; first += FUSED_DISPATCHES_PER_SUBMIT) {
      const submit = chunks.slice(first, first + FUSED_DISPATCHES_PER_SUBMIT);
      plan.write(submit.map((c) => c.plan));
      fused.write(submit.map((c) => c.dispatch));
      const encoder = gpu.encoder(`${label} fused steps`);
      const pass = encoder.beginComputePass({ label: `${label} fused steps` });
      submit.forEach((chunk, slot) => {
        if (chunk.refresh) copy.encode(pass);
        plan.encode(pass, slot);
        fused.encode(pass, slot);
      });
      pass.end();
      gpu.submit([encoder.finish()]);
    }
  }

  const readback = new Readback(gpu, label);
  // How long a fit of K steps takes, per K: the summary's wait sleeps through most of it rather than
  // polling, which on a software adapter would take a core from the shaders (patient-wait.ts).
  const durations = new Map<number, DurationEstimate>();
  const fits = new SerialQueue();
  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  async function fit({ steps, tau }: FitSoftQOptions): Promise<SoftQFitSummary> {
    alive();
    if (!(Number.isInteger(steps) && steps >= 1)) throw new StaqInputError(`steps must be an integer >= 1; got ${steps}`);
    if (!(Number.isFinite(tau) && tau >= 0)) throw new StaqInputError(`tau must be a finite number >= 0; got ${tau}`);
    if (replay.size < batch) {
      throw new StaqInputError(
        `the replay buffer holds ${replay.size} transitions; a minibatch of ${batch} distinct rows needs at least that many`,
      );
    }
    if (!replay.policyCurrent) {
      throw new StaqInputError(
        "the replay buffer's policy is stale (transitions were added since the last precomputePolicy); call replay.precomputePolicy(stack) first",
      );
    }
    const sample = sampling(replay.size, gradientSteps);
    const targets = softBellmanTargets(gradientSteps, tau);
    const { forward, loss, backward, norm, adam } = trainer.pieces;
    // One gradient step, in order. A hard copy refreshes the target networks before the step,
    // Polyak averaging after it.
    const hard = targetUpdate.kind === "hard";
    const step: StepPiece[] = [
      ...(hard ? [refresh] : []),
      sample,
      forward,
      targets,
      loss,
      backward,
      norm,
      adam,
      statistics,
      ...(hard ? [] : [refresh]),
    ];
    gpu.writeBuffer(sums, 0, new Float32Array(ensemble * 4));
    if (path === "fused") encodeFused(steps, gradientSteps, tau);
    else encodeSteps(gpu, step, steps, `${label} steps`);
    gradientSteps += steps;
    let estimate = durations.get(steps);
    if (!estimate) durations.set(steps, (estimate = new DurationEstimate()));
    const [totals, norms] = (
      await readback.read(
        gpu.encoder(`${label} summary`),
        [
          { source: sums, bytes: sums.size },
          { source: trainer.norms, bytes: ensemble * 4 },
        ],
        estimate,
      )
    ).map((bytes) => new Float32Array(bytes));
    const perMember = (k: number) => Array.from({ length: ensemble }, (_, e) => totals[e * 4 + k] / steps);
    return { steps, meanLoss: perMember(0), meanAbsQ: perMember(2), gradNorm: Array.from(norms) };
  }

  const softQFit: SoftQFit = {
    trainer,
    replay,
    path,
    readLastStep: () => fits.run(readLastStep),
    get gradientSteps() {
      return gradientSteps;
    },
    syncTargets() {
      alive();
      const encoder = gpu.encoder(`${label} target copy`);
      const pass = encoder.beginComputePass();
      copy.encode(pass);
      pass.end();
      gpu.submit([encoder.finish()]);
    },
    fit: (options) => fits.run(() => fit(options)),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      sampler.destroy();
      softTargets.destroy();
      plan?.destroy();
      fused?.destroy();
      readback.destroy();
      for (const b of [indices, sums]) b.destroy();
    },
  };
  softQFit.syncTargets();
  return softQFit;
}

/**
 * Runs K gradient steps of the soft Q fit on the GPU and returns the summary (one readback). The
 * replay buffer's policy must be current: call `replay.precomputePolicy(stack)` after adding
 * transitions and before fitting.
 */
export function fitSoftQ(softQFit: SoftQFit, options: FitSoftQOptions): Promise<SoftQFitSummary> {
  return softQFit.fit(options);
}
