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
 *   forward     the online networks on the states and the target networks on the next states,
 *               layer by layer (the trainer's);
 *   targets     the regression targets of the rule (shaders/train_targets.wgsl): StaQ's soft
 *               y = c_r·r + γ(1−terminated)[mean_e Q̄_e(s', a') + τ H(π_k(·|s'))] from the replay
 *               buffer's precomputed π_k (the default), or a baseline's: DQN's max
 *               y = c_r·r + γ(1−terminated) max_a Q̄(s', a), or M-DQN's Munchausen target (whose
 *               term α·clip(τ log π̄(a|s), l₀, 0) needs Q̄ on the states too: one more forward of
 *               the target networks, on the minibatch states, runs before it);
 *   loss, backward, norm, adam   one Adam step on the MSE/Huber loss of the taken actions (the trainer's);
 *   statistics  the step's mean loss and mean |Q| added to running sums (shaders/train_statistics.wgsl).
 *
 * With the smoothness regulariser (`smoothness`, docs/baselines.md "Smoothness regulariser") the
 * trainer's rows are 3B for a minibatch of B, [s; s + ε; s']: after sampling,
 * shaders/smoothness_states.wgsl writes s + ε (ε ~ N(0, σ² I) from Philox) and s' into rows
 * B … 3B − 1 of the trainer's states; the forward and backward run over all 3B rows (the target
 * networks' forward too, wasted on the last 2B: the trainer's forward runs every row); the targets are
 * computed for rows 0 … B − 1 only; and shaders/train_smoothness_loss.wgsl replaces both the loss
 * and the statistics: the regression loss on rows 0 … B − 1 plus λ_S‖A(s+ε,·) − A(s,·)‖² +
 * λ_T‖A(s',·) − A(s,·)‖² (A = Q − mean_a Q, the online networks'), its gradient on all 3B rows,
 * and the step's statistics (src/train/smoothness-reference.ts is its float64 twin). It runs on
 * the multi-dispatch path only.
 *
 * The K steps are encoded STEPS_PER_SUBMIT to a command buffer; the host reads back only the
 * summary, once, at the end.
 *
 * With a trainer on the fused path and hard target refreshes, the same steps run differently:
 * between two refreshes the sampling and targets of up to 64 steps are computed at once (the
 * target plan, target-plan.ts), then one fused dispatch runs those steps' forward, loss, backward,
 * Adam and statistics for every member (fused-step.ts). Every number is computed as above.
 *
 * Random draws (minibatch rows, next actions, the smoothness noise) come from Philox keyed by the
 * seed and the global gradient-step count, so a run is reproducible and a resumed run continues
 * the same streams.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { float32Problem } from "../io/float32-range.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { Readback } from "../gpu/readback.ts";
import { DurationEstimate } from "../gpu/patient-wait.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { checkU64, splitU64 } from "../random/philox.ts";
import { Dispatch, SteppedDispatch } from "./dispatch.ts";
import { encodeSteps, fixedPiece, STEPS_PER_SUBMIT, type StepPiece } from "./gradient-step.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import type { ReplayBuffer } from "./replay-buffer.ts";
import { createReplaySampler } from "./replay-sample.ts";
import { FUSED_DISPATCHES_PER_SUBMIT, type FusedDispatchPlan, type TrainerPath } from "./fused-step.ts";
import {
  checkTau,
  createTargetPlan,
  createTargetsDispatch,
  planSteps,
  resolveTargetRule,
  targetsUniform,
  type PlanDraw,
  type TargetPlan,
} from "./target-plan.ts";
import { createTargetForward } from "./target-forward.ts";
import type { NextActionMode, TargetRule } from "./targets-reference.ts";

export type { TargetRule } from "./targets-reference.ts";

export type TargetUpdate = { kind: "hard"; every: number } | { kind: "polyak"; rho: number };

export interface SoftQFitOptions {
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  /** Key of the minibatch and next-action draws: an integer in [0, 2^64). */
  seed: number | bigint;
  gamma: number;
  /** c_r (10 for classic control, 200 for MinAtar: docs/algorithm.md, “The published defaults”). */
  rewardScale: number;
  /**
   * The regression target: StaQ's soft-Bellman target (default), DQN's `max` or M-DQN's
   * `munchausen` (α default 0.9, l₀ = `clipMin` default −1; τ is the fit's). See TargetRule.
   */
  target?: TargetRule;
  /**
   * How a' enters the soft target (default "sample", as the authors do); the same as the soft
   * rule's own `nextAction` (giving both, they must agree). The other rules ignore it.
   */
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
  /**
   * The smoothness regulariser (off by default, and when both weights are 0): adds
   * λ_S‖A(s+ε,·) − A(s,·)‖² + λ_T‖A(s',·) − A(s,·)‖², averaged over the minibatch, to the
   * regression loss, A(x, a) = Q(x, a) − mean_a Q(x, a) of each online member. The trainer must
   * then hold 3 rows per minibatch row: create it with batch `smoothnessTrainerBatch(B, smoothness)`
   * (= 3B); the minibatch is its batch / 3. Multi-dispatch only: "auto" runs multi-dispatch,
   * "fused" is refused. The trainer's `lossRows` then hold, per member, ℓ of rows 0 … B − 1, then
   * the unweighted ‖A(s+ε,·) − A(s,·)‖² and ‖A(s',·) − A(s,·)‖² of each row (so its
   * `readStatistics` mean, over all 3B rows, is not the fit's loss: read the fit's summary).
   */
  smoothness?: SmoothnessOptions;
  label?: string;
}

/** The smoothness regulariser's settings (SoftQFitOptions.smoothness). */
export interface SmoothnessOptions {
  /** λ_S ≥ 0, the weight of ‖A(s+ε,·) − A(s,·)‖², ε ~ N(0, σ² I) (default 0). */
  state?: number;
  /** λ_T ≥ 0, the weight of ‖A(s',·) − A(s,·)‖², s' the transition's next state (default 0). */
  transition?: number;
  /** σ > 0, the standard deviation of each input's noise ε (default 0.01). */
  sigma?: number;
}

/** The smoothness regulariser's settings with their defaults, when on. */
export interface ResolvedSmoothness {
  state: number;
  transition: number;
  sigma: number;
}

export const SMOOTHNESS_DEFAULTS = { state: 0, transition: 0, sigma: 0.01 } as const;

/** The settings `smoothness` takes: another (a misspelt `sigmas`) would be ignored and its default used. */
const SMOOTHNESS_KEYS = ["state", "transition", "sigma"] as const satisfies readonly (keyof SmoothnessOptions)[];

/** The options `createSoftQFit` takes (from SoftQFitOptions): a misspelt one (`targetUpdates`) is refused, not ignored. */
const SOFT_Q_FIT_KEYS = [
  "trainer",
  "replay",
  "seed",
  "gamma",
  "rewardScale",
  "target",
  "nextAction",
  "targetUpdate",
  "gradientSteps",
  "path",
  "smoothness",
  "label",
] as const satisfies readonly (keyof SoftQFitOptions)[];

/** The options of one fit (FitSoftQOptions). */
const FIT_KEYS = ["steps", "tau"] as const satisfies readonly (keyof FitSoftQOptions)[];

/**
 * Refuses a destroyed trainer or replay buffer: their buffers, submitted, are a WebGPU validation
 * error that fails every later readback on the Gpu, not only this fit's.
 */
function checkAlive(trainer: MlpTrainer, replay: ReplayBuffer, call: string): void {
  if (trainer.destroyed) throw new StaqGpuError(`${call}: the trainer was destroyed; create a new trainer and a soft Q fit on it`);
  if (replay.destroyed)
    throw new StaqGpuError(`${call}: the replay buffer was destroyed; create a new replay buffer and a soft Q fit on it`);
}

/**
 * Checks the smoothness settings and fills in their defaults: undefined when the regulariser is
 * off (no settings, or both weights 0).
 */
export function resolveSmoothness(smoothness: SmoothnessOptions | undefined): ResolvedSmoothness | undefined {
  if (smoothness === undefined) return undefined;
  if (typeof smoothness !== "object" || smoothness === null)
    throw new StaqInputError(`smoothness must be an object { state?, transition?, sigma? }; got ${describeValue(smoothness)}`);
  checkOptionKeys(smoothness, SMOOTHNESS_KEYS, "smoothness");
  const { state = SMOOTHNESS_DEFAULTS.state, transition = SMOOTHNESS_DEFAULTS.transition, sigma = SMOOTHNESS_DEFAULTS.sigma } = smoothness;
  const weight = (name: string, value: unknown) => {
    if (!(typeof value === "number" && Number.isFinite(value) && value >= 0))
      throw new StaqInputError(`smoothness.${name} must be a finite number >= 0; got ${describeValue(value)}`);
    // 2λ/B is a float32 constant of the loss kernel: 1e40 is Infinity there, 1e-40 flushed to 0.
    const problem = float32Problem(value);
    if (problem) throw new StaqInputError(`smoothness.${name} ${describeValue(value)} ${problem}`);
  };
  weight("state", state);
  weight("transition", transition);
  // The kernel adds σ·z in float32: σ must be a normal float32 (and finite).
  if (!(typeof sigma === "number" && Number.isFinite(sigma) && Math.fround(sigma) >= 2 ** -126 && Number.isFinite(Math.fround(sigma))))
    throw new StaqInputError(`smoothness.sigma must be a finite number > 0 (at least 2^-126); got ${describeValue(sigma)}`);
  return state === 0 && transition === 0 ? undefined : { state, transition, sigma };
}

/**
 * The batch to create the soft Q fit's trainer with for a minibatch of `batch` rows: 3·batch when
 * the smoothness regulariser is on (rows [s; s + ε; s']), else `batch`.
 */
export function smoothnessTrainerBatch(batch: number, smoothness?: SmoothnessOptions): number {
  return resolveSmoothness(smoothness) ? 3 * batch : batch;
}

export interface SoftQFit {
  readonly trainer: MlpTrainer;
  readonly replay: ReplayBuffer;
  /** The path its steps run on. */
  readonly path: TrainerPath;
  /** B, the rows of each step's minibatch: the trainer's batch, or a third of it with the smoothness regulariser. */
  readonly batch: number;
  /** The smoothness regulariser's settings, or undefined when it is off. */
  readonly smoothness: ResolvedSmoothness | undefined;
  /** The fused path's target plan (its buffers, for tests and debugging); undefined on the multi-dispatch path. */
  readonly plan: TargetPlan | undefined;
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
  /** The regression targets, [batch]. */
  targets: Float32Array;
  /** Per ensemble member, the target network's Q̄(s', ·), [batch × padded actions]. */
  targetQ: Float32Array[];
  /** The munchausen rule's: per ensemble member, the target network's Q̄(s, ·), [batch × padded actions]. */
  stateQ?: Float32Array[];
  /** With the smoothness regulariser: the perturbed states s + ε, [batch × inputs]. */
  perturbedStates?: Float32Array;
}

export interface FitSoftQOptions {
  /** K, the gradient steps to take. */
  steps: number;
  /**
   * The soft rule's τ of the policy whose soft Q-function is fitted (the entropy bonus of the
   * targets); the munchausen rule's temperature of π̄ = softmax(Q̄/τ) (> 0); ignored by max.
   */
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
  /**
   * With the smoothness regulariser, per member, averaged over the steps like `meanLoss` (which
   * stays the regression loss alone): the minibatch means of ‖A(s+ε,·) − A(s,·)‖² (`state`) and
   * ‖A(s',·) − A(s,·)‖² (`transition`), unweighted by λ.
   */
  smoothness?: { state: number[]; transition: number[] };
}

function checkTargetUpdate(targetUpdate: TargetUpdate): void {
  if (targetUpdate === null || typeof targetUpdate !== "object")
    throw new StaqInputError(`targetUpdate must be { kind: "hard", every } or { kind: "polyak", rho }; got ${describeValue(targetUpdate)}`);
  if (targetUpdate.kind === "hard") {
    checkOptionKeys(targetUpdate, ["kind", "every"], "targetUpdate");
    if (!(Number.isSafeInteger(targetUpdate.every) && targetUpdate.every >= 1))
      throw new StaqInputError(`targetUpdate.every must be an integer >= 1; got ${describeValue(targetUpdate.every)}`);
  } else if (targetUpdate.kind === "polyak") {
    checkOptionKeys(targetUpdate, ["kind", "rho"], "targetUpdate");
    // A number, not one that compares like one: "0.5" passed and failed later, in the kernel's constants.
    const { rho } = targetUpdate;
    if (!(typeof rho === "number" && rho > 0 && rho <= 1))
      throw new StaqInputError(`targetUpdate.rho must be a number in (0, 1]; got ${describeValue(rho)}`);
    // ρ is a float32 constant of the averaging kernel: a subnormal ρ is 0 there, and the targets never move.
    const problem = float32Problem(rho);
    if (problem) throw new StaqInputError(`targetUpdate.rho ${describeValue(rho)} ${problem}`);
  } else {
    throw new StaqInputError(
      `targetUpdate.kind must be "hard" or "polyak"; got ${JSON.stringify((targetUpdate as { kind: unknown }).kind)}`,
    );
  }
}

export async function createSoftQFit(gpu: Gpu, options: SoftQFitOptions): Promise<SoftQFit> {
  if (gpu === null || typeof gpu !== "object")
    throw new StaqInputError(`createSoftQFit needs a Gpu (createGpu); got ${describeValue(gpu)}`);
  if (gpu.destroyed) throw new StaqGpuError("createSoftQFit: this Gpu was destroyed");
  // Every option is checked before the first buffer or kernel is made: a bad one found later
  // (a string ρ reached the kernel's constants) left the buffers made before it allocated.
  checkOptionKeys(options, SOFT_Q_FIT_KEYS, "createSoftQFit");
  const { trainer, replay } = options;
  if (trainer === null || typeof trainer !== "object")
    throw new StaqInputError(`createSoftQFit: trainer must be an MlpTrainer (createMlpTrainer); got ${describeValue(trainer)}`);
  if (replay === null || typeof replay !== "object")
    throw new StaqInputError(`createSoftQFit: replay must be a ReplayBuffer (createReplayBuffer); got ${describeValue(replay)}`);
  checkAlive(trainer, replay, "createSoftQFit");
  if (trainer.gpu !== gpu || replay.gpu !== gpu) throw new StaqInputError("the trainer and the replay buffer must live on the Gpu given");
  const { spec, layout, ensemble } = trainer;
  const smoothness = resolveSmoothness(options.smoothness);
  // The trainer's rows per step: the minibatch, or with the smoothness regulariser [s; s + ε; s'].
  const trainerRows = trainer.batch;
  if (smoothness && trainerRows % 3 !== 0)
    throw new StaqInputError(
      `the smoothness regulariser trains on 3 rows per minibatch row ([s; s + ε; s']): create the trainer with batch smoothnessTrainerBatch(B, smoothness) = 3·B; its batch is ${trainerRows}, not a multiple of 3`,
    );
  const batch = smoothness ? trainerRows / 3 : trainerRows;
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
    throw new StaqInputError(
      smoothness
        ? `the minibatch (${batch}, a third of the trainer's batch with the smoothness regulariser) is larger than the replay buffer's capacity (${replay.capacity})`
        : `the trainer's batch (${batch}) is larger than the replay buffer's capacity (${replay.capacity})`,
    );
  checkU64("seed", options.seed);
  // Numbers, not values that compare like them (null >= 0 and "0.5" < 1 are true). c_r is a
  // float32 uniform of the targets kernel, where 1e40 is Infinity (the loss NaN) and 1e-40 is 0.
  // γ < 1 cannot overflow; a subnormal γ is let through, since flushed to 0 it gives the targets
  // of γ = 0 within float32 rounding (baseline-targets-fit.test.ts's property tests draw such γ).
  const { gamma, rewardScale } = options;
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1))
    throw new StaqInputError(`gamma must be in [0, 1) (a number); got ${describeValue(gamma)}`);
  if (!(typeof rewardScale === "number" && Number.isFinite(rewardScale)))
    throw new StaqInputError(`rewardScale must be a finite number; got ${describeValue(rewardScale)}`);
  const rewardScaleProblem = float32Problem(rewardScale);
  if (rewardScaleProblem) throw new StaqInputError(`rewardScale ${describeValue(rewardScale)} ${rewardScaleProblem}`);
  if (options.nextAction !== undefined && options.nextAction !== "sample" && options.nextAction !== "expectation")
    throw new StaqInputError(`nextAction must be "sample" or "expectation"; got ${describeValue(options.nextAction)}`);
  const target = resolveTargetRule(options.target, options.nextAction);
  const targetUpdate = options.targetUpdate ?? { kind: "hard", every: 200 };
  checkTargetUpdate(targetUpdate);
  let gradientSteps = options.gradientSteps ?? 0;
  if (!(Number.isSafeInteger(gradientSteps) && gradientSteps >= 0))
    throw new StaqInputError(`gradientSteps must be an integer >= 0; got ${describeValue(gradientSteps)}`);
  const label = options.label ?? "staq soft Q fit";
  if (typeof label !== "string") throw new StaqInputError(`label must be a string; got ${describeValue(label)}`);
  const requested = options.path ?? "auto";
  if (requested !== "auto" && requested !== "fused" && requested !== "multi-dispatch")
    throw new StaqInputError(`path must be "auto", "fused" or "multi-dispatch"; got ${describeValue(requested)}`);
  if (requested === "fused" && smoothness)
    throw new StaqInputError(
      'path "fused" cannot run the smoothness regulariser (the fused kernel has its own loss, on the minibatch rows only); use path "auto" or "multi-dispatch"',
    );
  if (requested === "fused" && trainer.path !== "fused")
    throw new StaqInputError(
      `path "fused" needs a trainer on the fused path; this one runs ${trainer.path} (createMlpTrainer's path option)`,
    );
  if (requested === "fused" && targetUpdate.kind !== "hard")
    throw new StaqInputError(
      'path "fused" needs hard target refreshes (Polyak averaging changes the target networks every step, so their targets cannot be planned ahead); use targetUpdate { kind: "hard" } or path "multi-dispatch"',
    );
  const path: TrainerPath =
    requested === "multi-dispatch" || trainer.path !== "fused" || targetUpdate.kind !== "hard" || smoothness ? "multi-dispatch" : "fused";

  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const indices = createBuffer(gpu, batch * 4, storage, `${label} minibatch rows`);
  // Per member (loss, compensation, |Q|, compensation); with the smoothness regulariser a second
  // vec4, (state penalty, compensation, transition penalty, compensation).
  const sums = createBuffer(gpu, ensemble * (smoothness ? 32 : 16), storage, `${label} statistics`);
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
  // The munchausen rule's Q̄ on the states: the target networks alone on the minibatch states
  // (the trainer's forward runs them on the next states only), [E × trainer rows × padded
  // actions]: over all the trainer's rows, so that its members are as far apart as in the
  // trainer's head (the targets kernel reads both with one stride; with the smoothness
  // regulariser the last 2B rows are computed and unread).
  const stateForward =
    target.kind === "munchausen"
      ? await createTargetForward(gpu, trainer, { x: states, rows: trainerRows, slots: 1, label: `${label} state target` })
      : undefined;
  stateForward?.write(1, () => trainerRows);
  const targetsDispatch = await createTargetsDispatch(gpu, trainer, replay, {
    target,
    // The trainer's head activations hold the online networks first, then the targets.
    targetMemberBase: ensemble,
    buffers: { indices, headQ: trainer.headActivations, headQStates: stateForward?.headQ, targets: trainer.batchBuffers.targets },
    rows: batch,
    batch,
    slots: STEPS_PER_SUBMIT,
    label: `${label} targets`,
  });
  // The loss and the statistics: the trainer's loss piece and train_statistics, or with the
  // smoothness regulariser one kernel doing both (one workgroup per member either way: the
  // shaders reduce a member's batch within its workgroup).
  const smoothnessLoss = smoothness
    ? await gpu.kernel("train_smoothness_loss", {
        ACTIONS: spec.outputs,
        OUT4: out4,
        BATCH: batch,
        HUBER: trainer.pieces.lossSettings.huber,
        HUBER_DELTA: trainer.pieces.lossSettings.huberDelta,
        // PyTorch's mean reduction over the minibatch, as the trainer's loss piece (rounded to f32 in the shader).
        GRAD_SCALE: trainer.pieces.lossSettings.huber ? 1 / batch : 2 / batch,
        STATE_SCALE: (2 * smoothness.state) / batch,
        TRANSITION_SCALE: (2 * smoothness.transition) / batch,
      })
    : undefined;
  const statistics = smoothnessLoss
    ? fixedPiece([
        new Dispatch(
          smoothnessLoss,
          {
            q: trainer.headActivations,
            actions,
            targets: trainer.batchBuffers.targets,
            dq: trainer.dq,
            loss_rows: trainer.lossRows,
            sums,
          },
          { x: ensemble, y: 1, z: 1 },
          `${label} smoothness loss`,
        ),
      ])
    : fixedPiece([
        new Dispatch(
          await gpu.kernel("train_statistics", { BATCH: batch, OUT4: out4 }),
          { loss_rows: trainer.lossRows, q: trainer.headActivations, actions, sums },
          { x: ensemble, y: 1, z: 1 },
          `${label} statistics`,
        ),
      ]);
  // The smoothness regulariser's rows B … 3B − 1 of the trainer's states: s + ε and s'.
  const noiseKernel = smoothness
    ? await gpu.kernel("smoothness_states", { INPUTS: spec.inputs, BATCH: batch, SIGMA: smoothness.sigma })
    : undefined;
  const noise = noiseKernel
    ? new SteppedDispatch(
        gpu,
        noiseKernel,
        { states, next_states: nextStates },
        noiseKernel.grid(batch * Math.ceil(spec.inputs / 4)),
        STEPS_PER_SUBMIT,
        `${label} smoothness states`,
      )
    : undefined;

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
  /** The smoothness rows of run step i, with the noise of Philox step `firstStep + i` (after `sampling`'s draw). */
  const smoothnessStates = (firstStep: number): StepPiece => ({
    prepare: (first, n) =>
      noise?.write(n, (slot) => {
        const [seedLo, seedHi] = splitU64(options.seed);
        const [stepLo, stepHi] = splitU64(firstStep + first + slot);
        return { seed_lo: seedLo, seed_hi: seedHi, step_lo: stepLo, step_hi: stepHi };
      }),
    encode: (pass, at) => noise?.encode(pass, at.slot),
  });
  /** The targets with τ; run step i draws a' (the soft rule's) with the Philox step `firstStep + i`. */
  const regressionTargets = (firstStep: number, tau: number): StepPiece => ({
    prepare: (first, n) =>
      targetsDispatch.write(n, (slot) =>
        targetsUniform({ ...options, target }, { firstStep: firstStep + first + slot, steps: 1, tau, rowsPerMember: trainerRows }),
      ),
    encode: (pass, at) => targetsDispatch.encode(pass, at.slot),
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
          target,
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
    const [first, memberRows] = plan ? [(lastPlanSteps - 1) * batch, lastPlanSteps * batch] : [0, trainerRows];
    const sources = plan
      ? {
          rows: plan.indices,
          states: plan.states,
          nextStates: plan.nextStates,
          actions: plan.actions,
          targets: plan.targets,
          q: plan.targetQ,
          stateQ: plan.stateQ,
        }
      : {
          rows: indices,
          states,
          nextStates: batchNextStates,
          actions,
          targets: trainer.batchBuffers.targets,
          q: trainer.headActivations,
          stateQ: stateForward?.headQ,
        };
    // The multi-dispatch heads hold the online networks first, then the targets.
    const qMember = (e: number) => ((plan ? e : ensemble + e) * memberRows + first) * padded * 4;
    // Q̄ on the states: members from 0 in either buffer.
    const stateQMember = (e: number) => (e * memberRows + first) * padded * 4;
    const stateQSource = sources.stateQ;
    const ranges = [
      { source: sources.rows, offset: first * 4, bytes: batch * 4 },
      { source: sources.states, offset: first * inputs * 4, bytes: batch * inputs * 4 },
      { source: sources.nextStates, offset: first * inputs * 4, bytes: batch * inputs * 4 },
      { source: sources.actions, offset: first * 4, bytes: batch * 4 },
      { source: sources.targets, offset: first * 4, bytes: batch * 4 },
      ...Array.from({ length: ensemble }, (_, e) => ({ source: sources.q, offset: qMember(e), bytes: batch * padded * 4 })),
      ...(stateQSource
        ? Array.from({ length: ensemble }, (_, e) => ({ source: stateQSource, offset: stateQMember(e), bytes: batch * padded * 4 }))
        : []),
      // The perturbed states, rows B … 2B − 1 of the trainer's (multi-dispatch only).
      ...(smoothness ? [{ source: states, offset: batch * inputs * 4, bytes: batch * inputs * 4 }] : []),
    ];
    const [rows, s, ns, a, y, ...rest] = await readback.read(gpu.encoder(`${label} last step`), ranges);
    const heads = smoothness ? rest.slice(0, -1) : rest;
    const q = heads.slice(0, ensemble);
    const sq = heads.slice(ensemble);
    return {
      rows: new Uint32Array(rows),
      states: new Float32Array(s),
      nextStates: new Float32Array(ns),
      actions: new Uint32Array(a),
      targets: new Float32Array(y),
      targetQ: q.map((bytes) => new Float32Array(bytes)),
      ...(stateQSource ? { stateQ: sq.map((bytes) => new Float32Array(bytes)) } : {}),
      ...(smoothness ? { perturbedStates: new Float32Array(rest[rest.length - 1]) } : {}),
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

  /** Checks a fit's options and copies them, when the fit is called (not when its turn comes). */
  function takeFitOptions(options: FitSoftQOptions): FitSoftQOptions {
    checkOptionKeys(options, FIT_KEYS, "fitSoftQ");
    const { steps, tau } = options;
    // A safe integer, so that the step count (the Philox step of later draws) stays exact.
    if (!(Number.isSafeInteger(steps) && steps >= 1))
      throw new StaqInputError(`steps must be an integer >= 1; got ${describeValue(steps)}`);
    checkTau(target, tau);
    return { steps, tau };
  }

  async function fit({ steps, tau }: FitSoftQOptions): Promise<SoftQFitSummary> {
    alive();
    // Checked when the fit runs: the trainer or the buffer may have been destroyed while it waited.
    checkAlive(trainer, replay, "fitSoftQ");
    if (replay.size < batch) {
      throw new StaqInputError(
        `the replay buffer holds ${replay.size} transitions; a minibatch of ${batch} distinct rows needs at least that many`,
      );
    }
    // Only the soft rule reads π_k (and H) of the next states.
    if (target.kind === "soft" && !replay.policyCurrent) {
      throw new StaqInputError(
        "the replay buffer's policy is stale (transitions were added since the last precomputePolicy); call replay.precomputePolicy(stack) first",
      );
    }
    const sample = sampling(replay.size, gradientSteps);
    const targets = regressionTargets(gradientSteps, tau);
    const stateForwardPiece: StepPiece[] = stateForward ? [{ encode: (pass) => stateForward.encode(pass, 0) }] : [];
    const { forward, loss, backward, norm, adam } = trainer.pieces;
    // One gradient step, in order. A hard copy refreshes the target networks before the step,
    // Polyak averaging after it. With the smoothness regulariser its rows follow the sample, and
    // its kernel computes the loss and the statistics at once, before the backward pass.
    const hard = targetUpdate.kind === "hard";
    const step: StepPiece[] = smoothness
      ? [
          ...(hard ? [refresh] : []),
          sample,
          smoothnessStates(gradientSteps),
          forward,
          ...stateForwardPiece,
          targets,
          statistics,
          backward,
          norm,
          adam,
          ...(hard ? [] : [refresh]),
        ]
      : [
          ...(hard ? [refresh] : []),
          sample,
          forward,
          ...stateForwardPiece,
          targets,
          loss,
          backward,
          norm,
          adam,
          statistics,
          ...(hard ? [] : [refresh]),
        ];
    gpu.writeBuffer(sums, 0, new Float32Array(sums.size / 4));
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
    const stride = smoothness ? 8 : 4;
    const perMember = (k: number) => Array.from({ length: ensemble }, (_, e) => totals[e * stride + k] / steps);
    return {
      steps,
      meanLoss: perMember(0),
      meanAbsQ: perMember(2),
      gradNorm: Array.from(norms),
      ...(smoothness ? { smoothness: { state: perMember(4), transition: perMember(6) } } : {}),
    };
  }

  const softQFit: SoftQFit = {
    trainer,
    replay,
    path,
    batch,
    smoothness,
    plan,
    readLastStep: () =>
      fits.run(() => {
        checkAlive(trainer, replay, "readLastStep");
        return readLastStep();
      }),
    get gradientSteps() {
      return gradientSteps;
    },
    syncTargets() {
      alive();
      checkAlive(trainer, replay, "syncTargets");
      const encoder = gpu.encoder(`${label} target copy`);
      const pass = encoder.beginComputePass();
      copy.encode(pass);
      pass.end();
      gpu.submit([encoder.finish()]);
    },
    fit(options) {
      let taken: FitSoftQOptions;
      try {
        alive();
        taken = takeFitOptions(options);
      } catch (error) {
        return Promise.reject(error);
      }
      return fits.run(() => fit(taken));
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      sampler.destroy();
      targetsDispatch.destroy();
      stateForward?.destroy();
      noise?.destroy();
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
  if (softQFit === null || typeof softQFit !== "object" || typeof softQFit.fit !== "function")
    return Promise.reject(new StaqInputError(`fitSoftQ needs a soft Q fit (createSoftQFit); got ${describeValue(softQFit)}`));
  return softQFit.fit(options);
}
