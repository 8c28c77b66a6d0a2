/**
 * The target plan of the fused soft Q fit: the minibatches and regression targets of many
 * gradient steps, computed before the fused kernel trains on them. The target networks do not
 * change between two hard refreshes, and every minibatch and next action is a pure function of
 * (seed, step), so the targets of a run of steps inside one refresh period do not depend on the
 * online networks' updates: they can be computed for all those steps at once, wide and parallel,
 * and the fused kernel's workgroups (one per member, each running steps one after another) need
 * nothing from each other.
 *
 * One plan, for `steps` consecutive steps, is the kernels the multi-dispatch trainer also uses,
 * each over steps × batch rows: the sampler (shaders/replay_sample.wgsl) gathers the rows, the
 * forward pass (shaders/train_forward.wgsl, target-forward.ts) runs the E target networks on their
 * next states layer by layer (and, for M-DQN's Munchausen term, on their states), and
 * shaders/train_targets.wgsl forms the targets of the rule: StaQ's soft-Bellman
 * y = c_r·r + γ(1−terminated)[mean_e Q̄_e(s', a') + τH], DQN's max or M-DQN's Munchausen target.
 * Each row is computed exactly as the multi-dispatch trainer computes it for the same step.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { F32_MAX, float32Problem } from "../io/float32-range.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
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
import { createTargetForward, type TargetForward } from "./target-forward.ts";
import { MUNCHAUSEN_DEFAULTS, type NextActionMode, type TargetRule } from "./targets-reference.ts";

/** Bytes one plan's largest buffer may take: it bounds the steps per plan for wide networks and large batches. */
export const PLAN_BUFFER_BYTES = 32 * 2 ** 20;

export interface TargetPlanOptions {
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  seed: number | bigint;
  gamma: number;
  rewardScale: number;
  /** The regression target (default: soft). */
  target?: TargetRule;
  /** How a' enters the soft target (default "sample"); the same as the soft rule's `nextAction`. */
  nextAction?: NextActionMode;
  /** The most steps one plan covers. */
  steps: number;
  label: string;
}

/** A target rule with its defaults filled in (resolveTargetRule). */
export type ResolvedTargetRule =
  { kind: "soft"; nextAction: NextActionMode } | { kind: "max" } | { kind: "munchausen"; alpha: number; clipMin: number };

/** The keys each rule takes: another (a misspelt `clipmin`) would be ignored and its default used. */
const RULE_KEYS = { soft: ["kind", "nextAction"], max: ["kind"], munchausen: ["kind", "alpha", "clipMin"] } as const;

/** shaders/train_targets.wgsl's TARGET_KIND of each rule. */
const TARGET_KIND = { soft: 0, max: 1, munchausen: 2 } as const;

/**
 * Checks a target rule and fills in its defaults: soft with a' sampled, M-DQN's α = 0.9 and
 * l₀ = −1. `nextAction` is the soft rule's, given beside the rule (the soft Q fit's older option)
 * or in it; the other rules ignore it.
 */
export function resolveTargetRule(rule: TargetRule | undefined, nextAction?: NextActionMode): ResolvedTargetRule {
  const kind = rule === undefined ? "soft" : typeof rule === "object" && rule !== null ? rule.kind : undefined;
  if (rule !== undefined && (kind === "soft" || kind === "max" || kind === "munchausen")) checkOptionKeys(rule, RULE_KEYS[kind], "target");
  if (kind === "soft") {
    const inRule = (rule as { nextAction?: NextActionMode } | undefined)?.nextAction;
    if (inRule !== undefined && nextAction !== undefined && inRule !== nextAction)
      throw new StaqInputError(
        `nextAction is given twice, as ${JSON.stringify(nextAction)} and as target.nextAction ${JSON.stringify(inRule)}; give it once`,
      );
    const mode = inRule ?? nextAction ?? "sample";
    if (mode !== "sample" && mode !== "expectation")
      throw new StaqInputError(`nextAction must be "sample" or "expectation"; got ${JSON.stringify(mode)}`);
    return { kind: "soft", nextAction: mode };
  }
  if (kind === "max") return { kind: "max" };
  if (kind === "munchausen") {
    const given = rule as { alpha?: number; clipMin?: number };
    const alpha = given.alpha ?? MUNCHAUSEN_DEFAULTS.alpha;
    const clipMin = given.clipMin ?? MUNCHAUSEN_DEFAULTS.clipMin;
    if (!(typeof alpha === "number" && Number.isFinite(alpha) && alpha >= 0))
      throw new StaqInputError(
        `target.alpha (M-DQN's weight of the Munchausen term) must be a finite number >= 0; got ${describeValue(alpha)}`,
      );
    if (!(typeof clipMin === "number" && Number.isFinite(clipMin) && clipMin <= 0))
      throw new StaqInputError(
        `target.clipMin (M-DQN's l₀, the lower clip of τ·log π̄(a|s)) must be a finite number <= 0; got ${describeValue(clipMin)}`,
      );
    // Both reach the kernel as float32 uniforms, where 1e40 is Infinity (and the targets NaN). A
    // subnormal one is let through: flushed to 0 it gives the targets of 0 within float32
    // rounding (baseline-targets-fit.test.ts's property tests draw such values).
    for (const [name, value] of [
      ["alpha", alpha],
      ["clipMin", clipMin],
    ] as const)
      if (Math.abs(value) > F32_MAX) throw new StaqInputError(`target.${name} ${describeValue(value)} ${float32Problem(value)}`);
    return { kind: "munchausen", alpha, clipMin };
  }
  throw new StaqInputError(`target.kind must be "soft", "max" or "munchausen"; got ${JSON.stringify(kind)}`);
}

/**
 * Checks the τ of a fit under `rule`: a finite number >= 0 (the soft rule's entropy bonus; the max
 * rule ignores it), and for M-DQN's temperature > 0, at least the smallest normal float32 (the
 * kernel divides by it, and may flush a subnormal to 0).
 */
export function checkTau(rule: ResolvedTargetRule, tau: number): void {
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau >= 0))
    throw new StaqInputError(`tau must be a finite number >= 0; got ${describeValue(tau)}`);
  if (rule.kind === "munchausen" && !(Math.fround(tau) >= 2 ** -126))
    throw new StaqInputError(
      `tau (M-DQN's temperature of softmax(Q̄/τ)) must be > 0 for the munchausen target (at least 2^-126); got ${tau}`,
    );
  // τ is a float32 uniform of the targets kernel (the max rule's too, though unread): 1e40 is
  // Infinity there and the loss NaN; a subnormal τ is flushed to 0.
  const problem = float32Problem(tau);
  if (problem) throw new StaqInputError(`tau ${describeValue(tau)} ${problem}`);
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
  /** The rule its targets follow. */
  readonly target: ResolvedTargetRule;
  /** The plan's minibatches, step after step: states f32 [steps × batch × inputs], actions u32 and targets f32 [steps × batch]. */
  readonly states: GPUBuffer;
  readonly actions: GPUBuffer;
  readonly targets: GPUBuffer;
  /** The replay rows drawn, u32 [steps × batch], and their next states (for tests). */
  readonly indices: GPUBuffer;
  readonly nextStates: GPUBuffer;
  /** The target networks' Q̄ on the next states, [E × (the last plan's steps × batch) × padded actions]. */
  readonly targetQ: GPUBuffer;
  /** The munchausen rule's: the target networks' Q̄ on the states, laid out as `targetQ`. */
  readonly stateQ: GPUBuffer | undefined;
  /** Writes a command buffer's plans, `plans[j]` into slot j. */
  write(plans: readonly PlanDraw[]): void;
  /** Encodes the plan written to `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void;
  destroy(): void;
}

/**
 * shaders/train_targets.wgsl bound to the replay buffer and the caller's minibatch rows, target
 * network outputs on the next states (whose first target member is `targetMemberBase`) and, for
 * the munchausen rule, on the states (`headQStates`, members from 0, laid out as `headQ`'s), and
 * targets, for up to `rows` rows per dispatch, with a uniform slot per dispatch of a command
 * buffer: the multi-dispatch soft Q fit's (one step) and the plan's (many).
 */
export async function createTargetsDispatch(
  gpu: Gpu,
  trainer: MlpTrainer,
  replay: ReplayBuffer,
  options: {
    /** The soft rule's a' (the same as its `nextAction`; default "sample"). */
    nextAction?: NextActionMode;
    /** Default: soft. */
    target?: TargetRule;
    targetMemberBase: number;
    buffers: { indices: GPUBuffer; headQ: GPUBuffer; targets: GPUBuffer; headQStates?: GPUBuffer };
    rows: number;
    /**
     * Rows of one step's minibatch (default: the trainer's batch; the soft Q fit's smoothness
     * regulariser trains on 3 rows per minibatch row, and only the first third has targets).
     */
    batch?: number;
    slots: number;
    label: string;
  },
): Promise<SteppedDispatch> {
  const { layout, spec, ensemble } = trainer;
  const batch = options.batch ?? trainer.batch;
  const rule = resolveTargetRule(options.target, options.nextAction);
  const kernel = await gpu.kernel("train_targets", {
    ACTIONS: spec.outputs,
    OUT4: layout.layers[layout.layers.length - 1].paddedOutputs / 4,
    ENSEMBLE: ensemble,
    BATCH: batch,
    EXPECTATION: rule.kind === "soft" && rule.nextAction === "expectation",
    TARGET_MEMBER_BASE: options.targetMemberBase,
    TARGET_KIND: TARGET_KIND[rule.kind],
  });
  const { indices, headQ, targets, headQStates } = options.buffers;
  if (rule.kind === "munchausen" && !headQStates)
    throw new StaqInputError("the munchausen targets need the target networks' Q̄ on the states (buffers.headQStates)");
  const resources = {
    indices,
    rewards: replay.buffers.rewards,
    terminated: replay.buffers.terminated,
    probs: replay.buffers.probs,
    entropy: replay.buffers.entropy,
    actions: replay.buffers.actions,
    head_q: headQ,
    // Unread by the soft and max rules: a read-only alias of head_q.
    head_q_states: headQStates ?? headQ,
    targets,
  };
  return new SteppedDispatch(gpu, kernel, resources, kernel.grid(options.rows), options.slots, options.label);
}

/**
 * shaders/train_targets.wgsl's uniform: the targets of `steps` steps from `firstStep` (the Philox
 * step of their next-action draws), with τ (the soft rule's entropy bonus, the munchausen rule's
 * temperature), reading Q̄ from head buffers whose members are `rowsPerMember` rows apart.
 */
export function targetsUniform(
  settings: { seed: number | bigint; rewardScale: number; gamma: number; target?: TargetRule },
  draw: { firstStep: number; steps: number; tau: number; rowsPerMember: number },
): UniformValues {
  const [seedLo, seedHi] = splitU64(settings.seed);
  const [stepLo, stepHi] = splitU64(draw.firstStep);
  const rule = settings.target?.kind === "munchausen" ? resolveTargetRule(settings.target) : undefined;
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
    alpha: rule?.kind === "munchausen" ? rule.alpha : 0,
    clip_min: rule?.kind === "munchausen" ? rule.clipMin : 0,
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
  const { batch, spec } = trainer;
  if (!trainer.targetParams)
    throw new StaqInputError("the target plan needs target networks: create the trainer with targetNetworks: true");
  const target = resolveTargetRule(options.target, options.nextAction);
  const rows = steps * batch;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} plan ${name}`);
  const indices = buffer(rows * 4, "rows");
  const states = buffer(rows * spec.inputs * 4, "states");
  const nextStates = buffer(rows * spec.inputs * 4, "next states");
  const actions = buffer(rows * 4, "actions");
  const targets = buffer(rows * 4, "targets");

  const sampler: ReplaySampler = await createReplaySampler(gpu, {
    inputs: spec.inputs,
    batch,
    replay: { obs: replay.buffers.obs, nextObs: replay.buffers.nextObs, actions: replay.buffers.actions },
    out: { indices, states, nextStates, actions },
    steps: FUSED_DISPATCHES_PER_SUBMIT,
    draws: steps,
    label: `${label} plan sample`,
  });

  // The target networks on the next states and, for the Munchausen term, on the states: encoded
  // one after the other, so they share the hidden layers' buffers.
  const forwardOptions = { rows, slots: FUSED_DISPATCHES_PER_SUBMIT };
  const forwards: TargetForward[] = [
    await createTargetForward(gpu, trainer, { ...forwardOptions, x: nextStates, label: `${label} plan target` }),
  ];
  if (target.kind === "munchausen")
    forwards.push(
      await createTargetForward(gpu, trainer, {
        ...forwardOptions,
        x: states,
        hidden: forwards[0].hidden,
        label: `${label} plan state target`,
      }),
    );
  const [targetQ, stateQ] = forwards.map((forward) => forward.headQ);

  const planTargets = await createTargetsDispatch(gpu, trainer, replay, {
    target,
    targetMemberBase: 0,
    buffers: { indices, headQ: targetQ, headQStates: stateQ, targets },
    rows,
    slots: FUSED_DISPATCHES_PER_SUBMIT,
    label: `${label} plan targets`,
  });
  return {
    steps,
    target,
    states,
    actions,
    targets,
    indices,
    nextStates,
    targetQ,
    stateQ,
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
      for (const forward of forwards) forward.write(plans.length, (slot) => plans[slot].steps * batch);
      planTargets.write(plans.length, (slot) => {
        const plan = plans[slot];
        return targetsUniform(
          { ...options, target },
          { firstStep: plan.firstStep, steps: plan.steps, tau: plan.tau, rowsPerMember: plan.steps * batch },
        );
      });
    },
    encode(pass, slot) {
      sampler.encode(pass, slot);
      for (const forward of forwards) forward.encode(pass, slot);
      planTargets.encode(pass, slot);
    },
    destroy() {
      sampler.destroy();
      // The first forward owns the hidden buffers the second shares.
      for (const forward of forwards) forward.destroy();
      planTargets.destroy();
      for (const b of [indices, states, nextStates, actions, targets]) b.destroy();
    },
  };
}
