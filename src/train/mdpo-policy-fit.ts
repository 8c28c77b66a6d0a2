/**
 * The policy update of discrete, off-policy MDPO (Tomar et al., Mirror Descent Policy Optimization;
 * our adaptation): after the critic (a Q-network ensemble) has been fitted, K Adam steps of the
 * policy network π_θ minimise, on minibatch states s from the replay buffer,
 *
 *     L(θ) = (1/B) Σ_b Σ_a π_θ(a|s_b) [ c (log π_θ(a|s_b) − log π_old(a|s_b)) + λ log π_old(a|s_b) − Q̄(s_b, a) ],
 *
 * c = η + τ, λ = τ, π_old = π_θ as it was when the fit began, Q̄ the mean of the critic's online
 * networks. Per state the minimiser is softmax(β log π_old + α Q̄), β = η/(η+τ), α = 1/(η+τ):
 * StaQ's PMD step (src/train/mdpo-reference.ts derives it, and is the kernel's float64 twin).
 *
 * The policy is an MlpTrainer of one network, created with target networks: its target network
 * holds π_old. One policy step, as `fit` lists it:
 *
 *   copy        (the fit's first step only) the online network into the target network: π_old
 *               (shaders/train_polyak.wgsl, a hard copy);
 *   sample      a minibatch of replay rows, uniform without replacement (replay-sample.ts; Philox
 *               step = gradient steps so far), whose states s go into the policy's `states` and
 *               also its `nextStates`, so that its target network sees s too;
 *   forward     the policy's online and target networks on s, layer by layer;
 *   critic      the critic's online networks on s (target-forward.ts, `networks: "online"`);
 *   loss        the MDPO loss and its gradient at the policy head (shaders/mdpo_loss.wgsl);
 *   backward, norm, adam   one Adam step of the policy (the trainer's pieces: its moments and
 *               step count);
 *   statistics  the step's mean loss added to a running sum (shaders/train_statistics.wgsl).
 *
 * Multi-dispatch only: the fused kernel has the regression loss built in. Every piece but the
 * loss is the policy trainer's own (trainer-pieces.ts): the MDPO loss writes the trainer's head
 * gradient `dq` where its regression loss would. The K steps are encoded STEPS_PER_SUBMIT to a
 * command buffer; the host reads back only the summary, once, at the end.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { DurationEstimate } from "../gpu/patient-wait.ts";
import { Readback } from "../gpu/readback.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import { MAX_ACTIONS } from "../policy/reference.ts";
import { checkU64 } from "../random/philox.ts";
import { Dispatch, SteppedDispatch } from "./dispatch.ts";
import { encodeSteps, fixedPiece, STEPS_PER_SUBMIT, type StepPiece } from "./gradient-step.ts";
import { checkMdpoSettings, mdpoCoefficients } from "./mdpo-reference.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import type { ReplayBuffer } from "./replay-buffer.ts";
import { createReplaySampler } from "./replay-sample.ts";
import { createTargetForward } from "./target-forward.ts";

export interface MdpoPolicyFitOptions {
  /** π_θ: one network (ensemble 1), created with targetNetworks: true (its target network holds π_old). */
  policy: MlpTrainer;
  /** The critic whose online networks' mean is Q̄: the same inputs and actions as the policy. */
  critic: MlpTrainer;
  replay: ReplayBuffer;
  /** Key of the minibatch draws: an integer in [0, 2^64). */
  seed: number | bigint;
  /** Policy steps already taken (a resumed run's): the Philox step of the first draw (default 0). */
  gradientSteps?: number;
  label?: string;
}

export interface FitMdpoPolicyOptions {
  /** K, the policy steps to take (≥ 1). */
  steps: number;
  /** η > 0, the KL weight to π_old. */
  eta: number;
  /** τ > 0, the entropy weight. */
  tau: number;
}

export interface MdpoPolicyFitSummary {
  steps: number;
  /** The loss averaged over the steps (each step's loss is its minibatch mean). */
  meanLoss: number;
  /** ‖gradient‖₂ of the last step (before clipping). */
  gradNorm: number;
}

/** One policy step's inputs and outputs, read back (for tests and debugging). */
export interface MdpoLastStep {
  /** Replay rows, [batch]. */
  rows: Uint32Array;
  /** The minibatch states, [batch × inputs]. */
  states: Float32Array;
  /** The policy's online logits z, [batch × padded actions] (before the step's Adam update). */
  logits: Float32Array;
  /** π_old's logits (the policy's target network), [batch × padded actions]. */
  oldLogits: Float32Array;
  /** Per critic member, its online network's Q, [batch × padded critic actions]. */
  criticQ: Float32Array[];
  /** The loss's gradient at the policy head, [batch × padded actions]. */
  dq: Float32Array;
  /** L_s per row, [batch]. */
  lossRows: Float32Array;
}

export interface MdpoPolicyFit {
  readonly policy: MlpTrainer;
  readonly critic: MlpTrainer;
  readonly replay: ReplayBuffer;
  /** Policy steps taken so far, by every `fit` (and before a resume): the Philox step of the next one. */
  readonly gradientSteps: number;
  /** The buffers the loss kernel writes (for tests: poison them before a run). */
  readonly buffers: { readonly dq: GPUBuffer; readonly lossRows: GPUBuffer };
  /** K policy steps from π_old = the policy as it is now; fits run one after another. */
  fit(options: FitMdpoPolicyOptions): Promise<MdpoPolicyFitSummary>;
  /** The last step's minibatch, network outputs and loss, as the GPU computed them. */
  readLastStep(): Promise<MdpoLastStep>;
  destroy(): void;
}

export async function createMdpoPolicyFit(gpu: Gpu, options: MdpoPolicyFitOptions): Promise<MdpoPolicyFit> {
  if (gpu.destroyed) throw new StaqGpuError("createMdpoPolicyFit: this Gpu was destroyed");
  const { policy, critic, replay } = options;
  if (!policy || !critic || !replay) throw new StaqInputError("createMdpoPolicyFit needs a policy, a critic and a replay buffer");
  if (policy.gpu !== gpu || critic.gpu !== gpu || replay.gpu !== gpu)
    throw new StaqInputError("the policy, the critic and the replay buffer must live on the Gpu given");
  if (policy === critic) throw new StaqInputError("the policy and the critic must be different trainers");
  if (policy.ensemble !== 1)
    throw new StaqInputError(`the MDPO policy is one network: create its trainer with ensemble 1; got ${policy.ensemble}`);
  const { spec, layout, batch } = policy;
  const targetParams = policy.targetParams;
  const nextStates = policy.batchBuffers.nextStates;
  if (!targetParams || !nextStates)
    throw new StaqInputError(
      "the MDPO policy fit keeps π_old in the policy's target network: create the policy trainer with targetNetworks: true",
    );
  if (critic.spec.inputs !== spec.inputs || critic.spec.outputs !== spec.outputs)
    throw new StaqInputError(
      `the policy maps ${spec.inputs} inputs to ${spec.outputs} actions; the critic maps ${critic.spec.inputs} inputs to ${critic.spec.outputs} actions`,
    );
  if (replay.inputs !== spec.inputs || replay.actionCount !== spec.outputs)
    throw new StaqInputError(
      `the replay buffer holds ${replay.inputs} inputs and ${replay.actionCount} actions; the policy maps ${spec.inputs} inputs to ${spec.outputs} actions`,
    );
  if (spec.outputs > MAX_ACTIONS) throw new StaqInputError(`the MDPO loss supports at most ${MAX_ACTIONS} actions; got ${spec.outputs}`);
  if (batch > replay.capacity)
    throw new StaqInputError(`the policy's batch (${batch}) is larger than the replay buffer's capacity (${replay.capacity})`);
  checkU64("seed", options.seed);
  let gradientSteps = options.gradientSteps ?? 0;
  if (!(Number.isSafeInteger(gradientSteps) && gradientSteps >= 0))
    throw new StaqInputError(`gradientSteps must be an integer >= 0; got ${gradientSteps}`);
  const label = options.label ?? "staq MDPO policy fit";

  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} ${name}`);
  const padded = layout.layers[layout.layers.length - 1].paddedOutputs;
  const indices = buffer(batch * 4, "minibatch rows");
  const sums = buffer(16, "statistics");
  const { states, actions } = policy.batchBuffers;
  // The policy trainer's head outputs: the online network (π_θ's logits z) on rows [0, batch), its
  // target network (π_old's) on the next batch rows.
  const logits = policy.headActivations;

  // The states of each row go to both batch buffers: the policy's target network reads nextStates.
  const sampler = await createReplaySampler(gpu, {
    inputs: spec.inputs,
    batch,
    replay: { obs: replay.buffers.obs, nextObs: replay.buffers.obs, actions: replay.buffers.actions },
    out: { indices, states, nextStates, actions },
    steps: STEPS_PER_SUBMIT,
    label: `${label} sample`,
  });
  const criticForward = await createTargetForward(gpu, critic, {
    x: states,
    rows: batch,
    slots: 1,
    networks: "online",
    label: `${label} critic`,
  });
  criticForward.write(1, () => batch);
  const criticPadded = critic.layout.layers[critic.layout.layers.length - 1].paddedOutputs;

  const lossKernel = await gpu.kernel("mdpo_loss", {
    ACTIONS: spec.outputs,
    OUT4: padded / 4,
    CRITIC_OUT4: criticPadded / 4,
    CRITIC_ENSEMBLE: critic.ensemble,
  });
  const lossDispatch = new SteppedDispatch(
    gpu,
    lossKernel,
    { policy_q: logits, critic_q: criticForward.headQ, dq: policy.dq, loss_rows: policy.lossRows },
    lossKernel.grid(batch),
    1,
    `${label} loss`,
  );

  const copyKernel = await gpu.kernel("train_polyak", { COUNT: layout.vec4s, HARD: true, KEEP: 0, RHO: 1 });
  const copy = new Dispatch(
    copyKernel,
    { online: policy.params, target_params: targetParams },
    copyKernel.grid(layout.vec4s),
    `${label} π_old copy`,
  );
  const statisticsKernel = await gpu.kernel("train_statistics", { BATCH: batch, OUT4: padded / 4 });
  // Its second sum (mean |z| of the sampled actions) is not reported.
  const statistics = fixedPiece([
    new Dispatch(statisticsKernel, { loss_rows: policy.lossRows, q: logits, actions, sums }, { x: 1, y: 1, z: 1 }, `${label} statistics`),
  ]);

  const readback = new Readback(gpu, label);
  const durations = new Map<number, DurationEstimate>();
  const fits = new SerialQueue();
  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  async function fit({ steps, eta, tau }: FitMdpoPolicyOptions): Promise<MdpoPolicyFitSummary> {
    alive();
    if (!(Number.isInteger(steps) && steps >= 1)) throw new StaqInputError(`steps must be an integer >= 1; got ${steps}`);
    checkMdpoSettings({ eta, tau });
    if (replay.size < batch)
      throw new StaqInputError(
        `the replay buffer holds ${replay.size} transitions; a minibatch of ${batch} distinct rows needs at least that many`,
      );
    const { klWeight, priorWeight } = mdpoCoefficients({ eta, tau });
    lossDispatch.write(1, () => ({ batch, grad_scale: 1 / batch, kl_weight: klWeight, prior_weight: priorWeight }));
    const size = replay.size;
    const firstStep = gradientSteps;
    const sample: StepPiece = {
      prepare: (first, n) => sampler.write(n, (slot) => ({ size, seed: options.seed, step: firstStep + first + slot })),
      encode: (pass, at) => sampler.encode(pass, at.slot),
    };
    // The policy trainer's own pieces, with the MDPO loss in place of its regression loss.
    const { forward, backward, norm, adam } = policy.pieces;
    // One policy step, in order.
    const step: StepPiece[] = [
      {
        encode(pass, at) {
          if (at.index === 0) copy.encode(pass);
        },
      },
      sample,
      forward,
      { encode: (pass) => criticForward.encode(pass, 0) },
      { encode: (pass) => lossDispatch.encode(pass, 0) },
      backward,
      norm,
      adam,
      statistics,
    ];
    gpu.writeBuffer(sums, 0, new Float32Array(4));
    encodeSteps(gpu, step, steps, `${label} steps`);
    gradientSteps += steps;
    let estimate = durations.get(steps);
    if (!estimate) durations.set(steps, (estimate = new DurationEstimate()));
    const [totals, norms] = (
      await readback.read(
        gpu.encoder(`${label} summary`),
        [
          { source: sums, bytes: 16 },
          { source: policy.norms, bytes: 4 },
        ],
        estimate,
      )
    ).map((bytes) => new Float32Array(bytes));
    return { steps, meanLoss: totals[0] / steps, gradNorm: norms[0] };
  }

  async function readLastStep(): Promise<MdpoLastStep> {
    alive();
    const memberBytes = batch * padded * 4;
    const criticBytes = batch * criticPadded * 4;
    const [rows, s, z, zOld, gradient, loss, ...q] = await readback.read(gpu.encoder(`${label} last step`), [
      { source: indices, bytes: batch * 4 },
      { source: states, bytes: batch * spec.inputs * 4 },
      { source: logits, offset: 0, bytes: memberBytes },
      { source: logits, offset: memberBytes, bytes: memberBytes },
      { source: policy.dq, bytes: memberBytes },
      { source: policy.lossRows, bytes: batch * 4 },
      ...Array.from({ length: critic.ensemble }, (_, e) => ({ source: criticForward.headQ, offset: e * criticBytes, bytes: criticBytes })),
    ]);
    return {
      rows: new Uint32Array(rows),
      states: new Float32Array(s),
      logits: new Float32Array(z),
      oldLogits: new Float32Array(zOld),
      dq: new Float32Array(gradient),
      lossRows: new Float32Array(loss),
      criticQ: q.map((bytes) => new Float32Array(bytes)),
    };
  }

  return {
    policy,
    critic,
    replay,
    buffers: { dq: policy.dq, lossRows: policy.lossRows },
    get gradientSteps() {
      return gradientSteps;
    },
    fit: (o) => fits.run(() => fit(o)),
    readLastStep: () => fits.run(readLastStep),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      sampler.destroy();
      criticForward.destroy();
      lossDispatch.destroy();
      readback.destroy();
      for (const b of [indices, sums]) b.destroy();
    },
  };
}

/** Runs K policy steps on the GPU and returns the summary (one readback). */
export function fitMdpoPolicy(fit: MdpoPolicyFit, options: FitMdpoPolicyOptions): Promise<MdpoPolicyFitSummary> {
  return fit.fit(options);
}
