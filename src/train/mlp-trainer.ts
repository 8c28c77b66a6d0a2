/**
 * The GPU trainer of the active Q-network(s): its buffers, and the pieces of a gradient step that
 * run on them (forward with kept activations, the loss on the taken actions, backprop, gradient
 * norms and Adam: trainer-pieces.ts), for E ensemble members in the same dispatches. A caller lists
 * its own step from the pieces (gradient-step.ts); `train` runs the full-batch step on a batch the
 * caller uploads (`setBatch`), as `staq fit` and the kernel tests do. Nothing is read back unless
 * asked for.
 *
 * Parameters, gradients and Adam's moments live in the stack's snapshot layout
 * (src/stack/layout.ts), member after member, so a trained network can be copied into a stack slot
 * as is. The kernels are shaders/train_*.wgsl; src/train/reference.ts is their float64 twin.
 *
 * A step runs on one of two paths that compute the same numbers (fused-step.ts): one dispatch per
 * piece, or the fused kernel, whole steps per dispatch with one workgroup per member. `path`
 * chooses; by default the trainer takes the fused kernel where it can run and pays off.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { Readback } from "../gpu/readback.ts";
import { DurationEstimate } from "../gpu/patient-wait.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import { checkBudget, type Budget } from "../gpu/buffer-budget.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { packSnapshot, snapshotLayout, unpackSnapshot, type SnapshotLayout } from "../stack/layout.ts";
import { copyMlpSpec, validateMlpSpec, validateMlpWeights, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { encodeSteps } from "./gradient-step.ts";
import { ADAM_DEFAULTS, type AdamOptions, type LossOptions } from "./reference.ts";
import { createTrainerPieces, type TrainerPieces } from "./trainer-pieces.ts";
import {
  FusedSteps,
  fusedPreferred,
  fusedRunPlan,
  fusedStepsPerDispatch,
  fusedSupport,
  scratchLayout,
  type FusedBuffers,
  type TrainerPath,
} from "./fused-step.ts";

export interface MlpTrainerOptions {
  mlp: MlpSpec;
  /** E, networks trained side by side (default 1). */
  ensemble?: number;
  /** Rows per gradient step. */
  batch: number;
  adam: AdamOptions;
  loss?: LossOptions;
  /**
   * Keep target networks beside the online ones (the soft Q fit needs them): the trainer
   * then runs them on `batchBuffers.nextStates` in the same forward dispatches as the online
   * networks, their outputs following the online ones in `headActivations`.
   */
  targetNetworks?: boolean;
  /**
   * "fused": the fused kernel (an error where it cannot run); "multi-dispatch": one dispatch per
   * piece; "auto" (default): fused where it can run and pays off (`fusedPreferred`).
   */
  path?: "auto" | TrainerPath;
  /** Steps per fused dispatch (default: `fusedStepsPerDispatch`, the watchdog-safe size, at most 64). */
  fusedStepsPerDispatch?: number;
  label?: string;
}

export interface TrainingBatch {
  /** [batch × inputs]. */
  states: Float32Array;
  /** [batch], integers in [0, actions). */
  actions: ArrayLike<number>;
  /** [batch]: the regression targets of the taken actions' Q values. */
  targets: ArrayLike<number>;
}

export interface MlpTrainer {
  readonly gpu: Gpu;
  /** Set by destroy(): a caller holding the trainer (pushSnapshot, a soft Q fit) refuses it then. */
  readonly destroyed: boolean;
  readonly spec: MlpSpec;
  readonly layout: SnapshotLayout;
  readonly ensemble: number;
  readonly batch: number;
  /** The path its steps run on. */
  readonly path: TrainerPath;
  /** Adam steps taken so far (t of the bias correction). */
  readonly adamSteps: number;
  /** [E × snapshot]: the networks being trained, in the snapshot layout. */
  readonly params: GPUBuffer;
  /** Gradients of the last step, same layout. */
  readonly grads: GPUBuffer;
  /** ‖grad‖₂ per member, of the last step of the last run (norm's piece skips the others unless clipping). */
  readonly norms: GPUBuffer;
  /** [E × batch]: ℓ(q − y) per row, of the last step. */
  readonly lossRows: GPUBuffer;
  /**
   * The batch a step trains on: states [batch × inputs], actions u32 [batch], targets [batch],
   * and with target networks the next states [batch × inputs] they see.
   */
  readonly batchBuffers: {
    readonly states: GPUBuffer;
    readonly actions: GPUBuffer;
    readonly targets: GPUBuffer;
    readonly nextStates?: GPUBuffer;
  };
  /** [E × batch × padded actions]: the Q values of the last forward pass; with target networks [2E × …], theirs second. */
  readonly headActivations: GPUBuffer;
  /**
   * [E × batch × padded actions]: the loss's gradient with respect to the head's outputs, which the
   * backward piece reads. A caller with its own loss kernel (MDPO's policy fit) writes it instead of
   * the loss piece.
   */
  readonly dq: GPUBuffer;
  /** With target networks: their parameters, [E × snapshot], in the same layout as `params`. */
  readonly targetParams?: GPUBuffer;
  /** Replaces the networks (one per member; the target networks too) and resets Adam's moments and step count. */
  setWeights(weights: readonly MlpWeights[]): void;
  readWeights(): Promise<MlpWeights[]>;
  /** Uploads the batch the next steps train on. */
  setBatch(batch: TrainingBatch): void;
  /**
   * The pieces of a gradient step on these buffers, for a caller that lists its own step and
   * encodes it with `encodeSteps` (gradient-step.ts). Adam's piece counts `adamSteps`.
   */
  readonly pieces: TrainerPieces;
  /**
   * The fused kernel on this trainer's networks, gradients, Adam state and scratch, training on
   * the minibatch buffers given (the soft Q fit's plan: `perStepRows`), for a caller that encodes
   * its own dispatches. Its Adam steps count in `adamSteps`.
   */
  fusedSteps(
    minibatch: Pick<FusedBuffers, "states" | "actions" | "targets" | "sums">,
    options: { perStepRows: boolean; statistics: boolean; stepsPerDispatch?: number },
  ): Promise<FusedSteps>;
  /** Steps per fused dispatch. */
  readonly fusedStepsPerDispatch: number;
  /**
   * Runs `count` full-batch gradient steps (forward, loss, backward, norm, Adam) on the batch
   * buffers as they are: encoded and submitted, no readback. Submitted work holds host memory
   * until the GPU has run it, so a caller running very many steps waits (`gpu.idle()`) between
   * runs of a few thousand, as `staq fit` does.
   */
  train(count: number): void;
  /** The last step's mean loss and gradient norm per member (one readback; the trainer's reads run one after another). */
  readStatistics(): Promise<{ loss: number[]; gradNorm: number[] }>;
  /** Everything training continues from (checkpoints): parameters, target parameters, Adam's moments and step count. */
  exportState(): Promise<MlpTrainerState>;
  /** Restores what `exportState` returned, so that training continues bit for bit as if never stopped. */
  importState(state: MlpTrainerState): void;
  destroy(): void;
}

/**
 * A trainer's complete state, each array [E × snapshot] in the snapshot layout (src/stack/layout.ts),
 * padding included: kept raw rather than unpacked, so a restore is exact whatever the padding holds.
 */
export interface MlpTrainerState {
  params: Float32Array;
  /** Present when the trainer has target networks. */
  targetParams?: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  /** Adam steps taken (t of the bias correction). */
  adamSteps: number;
}

/**
 * What a trainer needs per row of its batch: every buffer is bound whole by its kernels. The
 * parameters and Adam's moments do not grow with the batch but must fit a binding too.
 */
export function trainerBudget(layout: SnapshotLayout, ensemble: number, targetNetworks: boolean): Budget {
  const { inputs } = layout.spec;
  const members = targetNetworks ? 2 * ensemble : ensemble;
  const widest = Math.max(4, ...layout.layers.map((layer) => layer.width));
  const head = layout.layers[layout.layers.length - 1];
  return {
    buffers: [
      {
        what: `parameter and Adam buffers (${ensemble} × ${layout.vec4s * 16} bytes)`,
        bytesPerUnit: 0,
        fixedBytes: ensemble * layout.vec4s * 16,
        binding: "whole",
        count: targetNetworks ? 5 : 4,
      },
      {
        what: `state buffers (batch × ${inputs} inputs × 4 bytes)`,
        bytesPerUnit: inputs * 4,
        binding: "whole",
        count: targetNetworks ? 2 : 1,
      },
      { what: "action and target buffers (batch × 4 bytes)", bytesPerUnit: 4, binding: "whole", count: 2 },
      { what: `a loss buffer (batch × ${ensemble} members × 4 bytes)`, bytesPerUnit: ensemble * 4, binding: "whole" },
      ...layout.layers.map((layer, l) => ({
        what: `layer ${l}'s activations (batch × ${members} networks × ${layer.width} × 4 bytes)`,
        bytesPerUnit: members * layer.width * 4,
        binding: "whole" as const,
      })),
      {
        what: `gradient buffers (batch × ${ensemble} members × ${widest} × 4 bytes)`,
        bytesPerUnit: ensemble * widest * 4,
        binding: "whole",
        count: 2,
      },
      {
        what: `a Q-gradient buffer (batch × ${ensemble} members × ${head.paddedOutputs} × 4 bytes)`,
        bytesPerUnit: ensemble * head.paddedOutputs * 4,
        binding: "whole",
      },
    ],
  };
}

/** Throws a StaqInputError naming `name` unless `value` is a number that passes `test` (a string "0.9" would pass `>= 0`). */
function requireNumber(name: string, value: unknown, test: (x: number) => boolean, requirement: string): void {
  if (!(typeof value === "number" && test(value))) throw new StaqInputError(`${name} must be ${requirement}; got ${describeValue(value)}`);
}

export async function createMlpTrainer(gpu: Gpu, options: MlpTrainerOptions): Promise<MlpTrainer> {
  if (gpu.destroyed) throw new StaqGpuError("createMlpTrainer: this Gpu was destroyed");
  validateMlpSpec(options.mlp);
  const ensemble = options.ensemble ?? 1;
  const batch = options.batch;
  requireNumber("ensemble", ensemble, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  requireNumber("batch", batch, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  const adam = { ...ADAM_DEFAULTS, ...options.adam };
  requireNumber("adam.lr", adam.lr, (x) => x > 0 && Number.isFinite(x), "a finite number > 0");
  requireNumber("adam.beta1", adam.beta1, (x) => x >= 0 && x < 1, "a number in [0, 1)");
  requireNumber("adam.beta2", adam.beta2, (x) => x >= 0 && x < 1, "a number in [0, 1)");
  requireNumber("adam.eps", adam.eps, (x) => x >= 0 && Number.isFinite(x), "a finite number >= 0");
  requireNumber("adam.weightDecay", adam.weightDecay, (x) => x >= 0 && Number.isFinite(x), "a finite number >= 0");
  if (adam.maxGradNorm !== undefined) requireNumber("adam.maxGradNorm", adam.maxGradNorm, (x) => x > 0, "a number > 0");
  const loss = options.loss ?? {};
  const huber = (loss.loss ?? "mse") === "huber";
  const huberDelta = loss.huberDelta ?? 1;
  if (huber) requireNumber("huberDelta", huberDelta, (x) => x > 0 && Number.isFinite(x), "a finite number > 0");

  const spec = copyMlpSpec(options.mlp);
  const layout = snapshotLayout(spec);
  const label = options.label ?? "staq trainer";
  const P4 = layout.vec4s;
  const withTargets = options.targetNetworks ?? false;
  checkBudget(gpu.info, { name: "batch size", value: batch }, trainerBudget(layout, ensemble, withTargets));
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} ${name}`);

  const forwardMembers = withTargets ? 2 * ensemble : ensemble;
  const widest = Math.max(4, ...layout.layers.map((layer) => layer.width));
  const head = layout.layers.length - 1;
  const buffers = {
    params: buffer(ensemble * P4 * 16, "params"),
    grads: buffer(ensemble * P4 * 16, "grads"),
    m: buffer(ensemble * P4 * 16, "adam m"),
    v: buffer(ensemble * P4 * 16, "adam v"),
    norms: buffer(ensemble * 4, "grad norms"),
    states: buffer(batch * spec.inputs * 4, "states"),
    actions: buffer(batch * 4, "actions"),
    targets: buffer(batch * 4, "targets"),
    lossRows: buffer(ensemble * batch * 4, "loss rows"),
    activations: layout.layers.map((layer, l) => buffer(forwardMembers * batch * layer.width * 4, `activations ${l}`)),
    deltas: [buffer(ensemble * batch * widest * 4, "deltas a"), buffer(ensemble * batch * widest * 4, "deltas b")] as const,
    dq: buffer(ensemble * batch * layout.layers[head].paddedOutputs * 4, "dq"),
    target: withTargets
      ? { params: buffer(ensemble * P4 * 16, "target params"), states: buffer(batch * spec.inputs * 4, "next states") }
      : undefined,
  };
  const { params, m, v, states, actions, targets, target } = buffers;
  const built = await createTrainerPieces(gpu, buffers, { layout, ensemble, batch, adam, huber, huberDelta, label });
  const { forward, loss: lossPiece, backward, norm, adam: adamPiece } = built.pieces;
  /** The full-batch step: the trainer's pieces alone, on the uploaded batch. */
  const fullBatchStep = [forward, lossPiece, backward, norm, adamPiece];

  const requested = options.path ?? "auto";
  if (requested !== "auto" && requested !== "fused" && requested !== "multi-dispatch")
    throw new StaqInputError(`path must be "auto", "fused" or "multi-dispatch"; got ${JSON.stringify(requested)}`);
  const support = fusedSupport(gpu.info, layout, ensemble, batch);
  if (requested === "fused" && !support.ok)
    throw new StaqInputError(`path "fused" cannot run here: ${support.reason}; use path "multi-dispatch"`);
  const path: TrainerPath =
    requested === "auto" ? (support.ok && fusedPreferred(gpu.info, layout, batch, ensemble) ? "fused" : "multi-dispatch") : requested;
  const stepsPerDispatch = options.fusedStepsPerDispatch ?? fusedStepsPerDispatch(layout, batch);
  // Activations and deltas of the fused kernel: made with its first program, shared by all.
  let scratch: GPUBuffer | undefined;
  const fusedSteps = async (
    minibatch: Pick<FusedBuffers, "states" | "actions" | "targets" | "sums">,
    fusedOptions: { perStepRows: boolean; statistics: boolean; stepsPerDispatch?: number },
  ) => {
    if (!support.ok) throw new StaqInputError(`the fused kernel cannot run here: ${support.reason}`);
    scratch ??= buffer(ensemble * scratchLayout(layout, batch).member * 16, "fused scratch");
    return FusedSteps.create(
      gpu,
      { params, grads: buffers.grads, m, v, norms: buffers.norms, lossRows: buffers.lossRows, scratch, ...minibatch },
      {
        layout,
        ensemble,
        batch,
        adam,
        huber,
        huberDelta,
        perStepRows: fusedOptions.perStepRows,
        statistics: fusedOptions.statistics,
        stepsPerDispatch: fusedOptions.stepsPerDispatch ?? stepsPerDispatch,
        label,
      },
      built.adam,
    );
  };
  // The full-batch step on the uploaded batch (no statistics: its `sums` are bound, never written).
  const noSums = path === "fused" ? buffer(16, "fused unused sums") : undefined;
  const fullBatchFused = noSums
    ? await fusedSteps({ states, actions, targets, sums: noSums }, { perStepRows: false, statistics: false })
    : undefined;

  const readback = new Readback(gpu, label);
  const reads = new SerialQueue();
  /** The whole of each buffer, in one readback (reads run one after another: they share its staging buffer). */
  const read = (sources: readonly GPUBuffer[], estimate?: DurationEstimate) =>
    reads.run(async () => {
      // Checked when the read's turn comes, not only at the call: a trainer destroyed while a read
      // was queued would submit destroyed buffers, an error that fails every later call on the Gpu.
      alive();
      return (
        await readback.read(
          gpu.encoder(`${label} readback`),
          sources.map((source) => ({ source, bytes: source.size })),
          estimate,
        )
      ).map((bytes) => new Float32Array(bytes));
    });
  // How long a run of K steps takes, per K: `readStatistics` after one sleeps through most of it
  // rather than polling, which on a software adapter would take a core from the shaders.
  const durations = new Map<number, DurationEstimate>();
  let stepsSinceRead = 0;

  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  const trainer: MlpTrainer = {
    get destroyed() {
      return destroyed;
    },
    gpu,
    spec,
    layout,
    ensemble,
    batch,
    path,
    fusedStepsPerDispatch: stepsPerDispatch,
    fusedSteps: (minibatch, fusedOptions) => {
      alive();
      return fusedSteps(minibatch, fusedOptions);
    },
    get adamSteps() {
      return built.adam.steps;
    },
    params,
    grads: buffers.grads,
    norms: buffers.norms,
    lossRows: buffers.lossRows,
    batchBuffers: { states, actions, targets, nextStates: target?.states },
    headActivations: buffers.activations[head],
    dq: buffers.dq,
    targetParams: target?.params,
    get pieces() {
      alive();
      return built.pieces;
    },
    setWeights(weights) {
      alive();
      if (!Array.isArray(weights))
        throw new StaqInputError(
          `setWeights needs an array of ${ensemble} networks (one per ensemble member); got ${describeValue(weights)}`,
        );
      if (weights.length !== ensemble)
        throw new StaqInputError(`setWeights: the trainer has ${ensemble} ensemble members; got ${weights.length} networks`);
      // Every member checked and packed before any is written: a refused call changes nothing.
      const packed = weights.map((w, e) => {
        validateMlpWeights(spec, w, ensemble > 1 ? `network[${e}]` : "network");
        return packSnapshot(layout, w);
      });
      packed.forEach((data, e) => {
        gpu.writeBuffer(params, e * P4 * 16, data);
        if (target) gpu.writeBuffer(target.params, e * P4 * 16, data);
      });
      const zeros = new Float32Array(ensemble * P4 * 4);
      gpu.writeBuffer(m, 0, zeros);
      gpu.writeBuffer(v, 0, zeros);
      built.adam.steps = 0;
    },
    async readWeights() {
      alive();
      const [data] = await read([params]);
      return Array.from({ length: ensemble }, (_, e) => unpackSnapshot(layout, data.subarray(e * P4 * 4, (e + 1) * P4 * 4)));
    },
    setBatch(data) {
      alive();
      if (data === null || typeof data !== "object")
        throw new StaqInputError(`setBatch needs { states, actions, targets }; got ${describeValue(data)}`);
      // A Float64Array of the right length would write twice the buffer's bytes, an error that fails
      // every later call on the Gpu; an Int32Array would be written as reinterpreted bits.
      if (!(data.states instanceof Float32Array))
        throw new StaqInputError(`setBatch: states must be a Float32Array of batch × inputs values; got ${describeValue(data.states)}`);
      for (const key of ["actions", "targets"] as const)
        if (data[key] === null || typeof data[key] !== "object" || typeof data[key].length !== "number")
          throw new StaqInputError(`setBatch: ${key} must be an array of ${batch} numbers; got ${describeValue(data[key])}`);
      if (data.states.length !== batch * spec.inputs)
        throw new StaqInputError(
          `setBatch: states has ${data.states.length} values; expected batch ${batch} × inputs ${spec.inputs} = ${batch * spec.inputs}`,
        );
      if (data.actions.length !== batch || data.targets.length !== batch)
        throw new StaqInputError(`setBatch: expected ${batch} actions and targets; got ${data.actions.length} and ${data.targets.length}`);
      for (let k = 0; k < data.states.length; k++)
        if (!Number.isFinite(data.states[k]))
          throw new StaqInputError(`setBatch: states[${k}] is ${data.states[k]}; states must be finite`);
      const actionWords = new Uint32Array(batch);
      const targetValues = new Float32Array(batch);
      for (let b = 0; b < batch; b++) {
        const a = data.actions[b];
        if (!(Number.isInteger(a) && a >= 0 && a < spec.outputs))
          throw new StaqInputError(`setBatch: actions[${b}] is ${a}; actions are integers in [0, ${spec.outputs})`);
        const y = data.targets[b];
        // Finite in float32, where the kernels compute: 1e40 would be Infinity there.
        if (!(typeof y === "number" && Number.isFinite(Math.fround(y))))
          throw new StaqInputError(`setBatch: targets[${b}] is ${describeValue(y)}; targets must be finite float32 numbers (|y| < 3.4e38)`);
        actionWords[b] = a;
        targetValues[b] = y;
      }
      gpu.writeBuffer(states, 0, data.states);
      gpu.writeBuffer(actions, 0, actionWords);
      gpu.writeBuffer(targets, 0, targetValues);
    },
    train(count) {
      alive();
      if (!(Number.isInteger(count) && count >= 0)) throw new StaqInputError(`train: count must be an integer >= 0; got ${count}`);
      stepsSinceRead += count;
      if (!fullBatchFused) {
        encodeSteps(gpu, fullBatchStep, count, `${label} steps`);
        return;
      }
      for (const dispatches of fusedRunPlan(count, fullBatchFused.stepsPerDispatch)) {
        fullBatchFused.write(dispatches);
        const encoder = gpu.encoder(`${label} fused steps`);
        const pass = encoder.beginComputePass({ label: `${label} fused steps` });
        dispatches.forEach((_, slot) => fullBatchFused.encode(pass, slot));
        pass.end();
        gpu.submit([encoder.finish()]);
      }
    },
    async readStatistics() {
      alive();
      let estimate = durations.get(stepsSinceRead);
      if (!estimate) durations.set(stepsSinceRead, (estimate = new DurationEstimate()));
      stepsSinceRead = 0;
      const [rows, gradNorms] = await read([buffers.lossRows, buffers.norms], estimate);
      const lossPerMember = Array.from({ length: ensemble }, (_, e) => {
        let sum = 0;
        for (let b = 0; b < batch; b++) sum += rows[e * batch + b];
        return sum / batch;
      });
      return { loss: lossPerMember, gradNorm: Array.from(gradNorms) };
    },
    async exportState() {
      alive();
      const [p, mm, vv, t] = await read([params, m, v, ...(target ? [target.params] : [])]);
      return { params: p, ...(t ? { targetParams: t } : {}), adamM: mm, adamV: vv, adamSteps: built.adam.steps };
    },
    importState(state) {
      alive();
      const floats = ensemble * P4 * 4;
      const arrays: [string, Float32Array | undefined, GPUBuffer | undefined][] = [
        ["params", state.params, params],
        ["targetParams", state.targetParams, target?.params],
        ["adamM", state.adamM, m],
        ["adamV", state.adamV, v],
      ];
      for (const [name, data, destination] of arrays) {
        if (destination === undefined) {
          if (data !== undefined) throw new StaqInputError(`importState: ${name} given, but this trainer has no target networks`);
          continue;
        }
        if (!(data instanceof Float32Array) || data.length !== floats) {
          throw new StaqInputError(
            `importState: ${name} must be a Float32Array of ${floats} values (${ensemble} members × ${P4 * 4}); got ${data instanceof Float32Array ? data.length + " values" : String(data)}`,
          );
        }
        for (let k = 0; k < floats; k++)
          if (!Number.isFinite(data[k])) throw new StaqInputError(`importState: ${name}[${k}] is ${data[k]}; the state must be finite`);
      }
      if (!(Number.isSafeInteger(state.adamSteps) && state.adamSteps >= 0))
        throw new StaqInputError(`importState: adamSteps must be an integer >= 0; got ${state.adamSteps}`);
      for (const [, data, destination] of arrays) if (data && destination) gpu.writeBuffer(destination, 0, data);
      built.adam.steps = state.adamSteps;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      built.destroy();
      fullBatchFused?.destroy();
      noSums?.destroy();
      scratch?.destroy();
      readback.destroy();
      const { activations, deltas, target: targetNetworks, ...single } = buffers;
      for (const b of [
        ...Object.values(single),
        ...activations,
        ...deltas,
        ...(targetNetworks ? [targetNetworks.params, targetNetworks.states] : []),
      ])
        b.destroy();
    },
  };
  return trainer;
}
