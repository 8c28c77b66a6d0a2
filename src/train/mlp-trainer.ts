/**
 * The GPU trainer of the active Q-network(s): forward with kept activations, the loss on the taken
 * actions, backprop, gradient norms and Adam, for E ensemble members in the same dispatches. A
 * whole run of gradient steps is encoded into a few command buffers; nothing is read back unless
 * asked for.
 *
 * Parameters, gradients and Adam's moments live in the stack's snapshot layout
 * (src/stack/layout.ts), member after member, so a trained network can be copied into a stack slot
 * as is. The kernels are shaders/train_*.wgsl; src/train/reference.ts is their float64 twin.
 *
 * This first form trains on a batch the caller uploads (`setBatch`): full-batch training, as
 * `staq fit` does, and the kernel tests. The replay buffer and soft-Bellman targets feed the same
 * buffers.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer, readFloat32 } from "../gpu/buffers.ts";
import { checkBudget, type Budget } from "../gpu/buffer-budget.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { packSnapshot, snapshotLayout, unpackSnapshot, type SnapshotLayout } from "../stack/layout.ts";
import { validateMlpSpec, validateMlpWeights, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { bindGroup, flatGrid, forwardPass, runDispatch, workgroupsFor, type Dispatch } from "./dispatch.ts";
import { ADAM_DEFAULTS, type AdamOptions, type LossOptions } from "./reference.ts";

export interface MlpTrainerOptions {
  mlp: MlpSpec;
  /** E, networks trained side by side (default 1). */
  ensemble?: number;
  /** Rows per gradient step. */
  batch: number;
  adam: AdamOptions;
  loss?: LossOptions;
  /**
   * Keep target networks beside the online ones (soft policy evaluation needs them): the trainer
   * then runs them on `batchBuffers.nextStates` in the same forward dispatches as the online
   * networks, their outputs following the online ones in `headActivations`.
   */
  targetNetworks?: boolean;
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

/**
 * Work a caller adds around each gradient step of `train` (soft policy evaluation samples a
 * minibatch and computes its targets before each step). All of it is encoded into the same
 * command buffers as the steps.
 */
export interface StepHooks {
  /** Called before steps first … first + n − 1 are encoded (to write per-step uniform slots 0 … n − 1). */
  prepare?(first: number, n: number): void;
  /** Encodes work before step `step` (counted from 0 in this `train` call), which uses slot `slot`. */
  before?(pass: GPUComputePassEncoder, slot: number, step: number): void;
  /** Encodes work between the forward pass and the loss (the targets, from the target networks' outputs). */
  beforeLoss?(pass: GPUComputePassEncoder, slot: number, step: number): void;
  /** Encodes work after the step's Adam update. */
  after?(pass: GPUComputePassEncoder, slot: number, step: number): void;
}

export interface MlpTrainer {
  readonly gpu: Gpu;
  readonly spec: MlpSpec;
  readonly layout: SnapshotLayout;
  readonly ensemble: number;
  readonly batch: number;
  /** Adam steps taken so far (t of the bias correction). */
  readonly adamSteps: number;
  /** [E × snapshot]: the networks being trained, in the snapshot layout. */
  readonly params: GPUBuffer;
  /** Gradients of the last step, same layout. */
  readonly grads: GPUBuffer;
  /** ‖grad‖₂ per member, of the last step of the last `train` call. */
  readonly norms: GPUBuffer;
  /** [E × batch]: ℓ(q − y) per row, of the last step. */
  readonly lossRows: GPUBuffer;
  /**
   * The batch a step trains on: states [batch × inputs], actions u32 [batch], targets [batch],
   * and with target networks the next states [batch × inputs] they see.
   */
  readonly batchBuffers: { readonly states: GPUBuffer; readonly actions: GPUBuffer; readonly targets: GPUBuffer; readonly nextStates?: GPUBuffer };
  /** [E × batch × padded actions]: the Q values of the last forward pass; with target networks [2E × …], theirs second. */
  readonly headActivations: GPUBuffer;
  /** With target networks: their parameters, [E × snapshot], in the same layout as `params`. */
  readonly targetParams?: GPUBuffer;
  /** Replaces the networks (one per member; the target networks too) and resets Adam's moments and step count. */
  setWeights(weights: readonly MlpWeights[]): void;
  readWeights(): Promise<MlpWeights[]>;
  /** Uploads the batch the next steps train on. */
  setBatch(batch: TrainingBatch): void;
  /**
   * Runs `count` gradient steps (encoded and submitted in chunks of STEPS_PER_SUBMIT; no readback),
   * on the batch buffers as they are at each step: the uploaded batch, or what `hooks` write there.
   */
  train(count: number, hooks?: StepHooks): void;
  /** The last step's mean loss and gradient norm per member (one readback). */
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

/** Steps encoded into one command buffer; their Adam constants share one uniform buffer. */
export const STEPS_PER_SUBMIT = 64;
const CHUNK = STEPS_PER_SUBMIT;
/** Uniform slots are 256 bytes apart (minUniformBufferOffsetAlignment). */
const SLOT_BYTES = 256;

const f32 = Math.fround;

/**
 * What a trainer needs per row of its batch: every buffer is bound whole by its kernels. The
 * parameters and Adam's moments do not grow with the batch but must fit a binding too.
 */
export function trainerBudget(layout: SnapshotLayout, ensemble: number, targetNetworks: boolean): Budget {
  const { inputs } = layout.spec;
  const members = targetNetworks ? 2 * ensemble : ensemble;
  const widest = Math.max(4, ...layout.layers.map((layer) => layer.paddedOutputs));
  const head = layout.layers[layout.layers.length - 1];
  return {
    buffers: [
      { what: `parameter and Adam buffers (${ensemble} × ${layout.vec4s * 16} bytes)`, bytesPerUnit: 0, fixedBytes: ensemble * layout.vec4s * 16, binding: "whole", count: targetNetworks ? 5 : 4 },
      { what: `state buffers (batch × ${inputs} inputs × 4 bytes)`, bytesPerUnit: inputs * 4, binding: "whole", count: targetNetworks ? 2 : 1 },
      { what: "action and target buffers (batch × 4 bytes)", bytesPerUnit: 4, binding: "whole", count: 2 },
      { what: `a loss buffer (batch × ${ensemble} members × 4 bytes)`, bytesPerUnit: ensemble * 4, binding: "whole" },
      ...layout.layers.map((layer, l) => ({
        what: `layer ${l}'s activations (batch × ${members} networks × ${layer.paddedOutputs} × 4 bytes)`,
        bytesPerUnit: members * layer.paddedOutputs * 4,
        binding: "whole" as const,
      })),
      { what: `gradient buffers (batch × ${ensemble} members × ${widest} × 4 bytes)`, bytesPerUnit: ensemble * widest * 4, binding: "whole", count: 2 },
      { what: `a Q-gradient buffer (batch × ${ensemble} members × ${head.paddedOutputs} × 4 bytes)`, bytesPerUnit: ensemble * head.paddedOutputs * 4, binding: "whole" },
    ],
  };
}

export async function createMlpTrainer(gpu: Gpu, options: MlpTrainerOptions): Promise<MlpTrainer> {
  if (gpu.destroyed) throw new StaqGpuError("createMlpTrainer: this Gpu was destroyed");
  validateMlpSpec(options.mlp);
  const ensemble = options.ensemble ?? 1;
  const batch = options.batch;
  if (!(Number.isInteger(ensemble) && ensemble >= 1)) throw new StaqInputError(`ensemble must be an integer >= 1; got ${ensemble}`);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new StaqInputError(`batch must be an integer >= 1; got ${batch}`);
  const adam = { ...ADAM_DEFAULTS, ...options.adam };
  if (!(adam.lr > 0 && Number.isFinite(adam.lr))) throw new StaqInputError(`adam.lr must be a positive number; got ${adam.lr}`);
  if (!(adam.beta1 >= 0 && adam.beta1 < 1 && adam.beta2 >= 0 && adam.beta2 < 1)) throw new StaqInputError(`adam betas must be in [0, 1); got ${adam.beta1}, ${adam.beta2}`);
  if (!(adam.eps >= 0 && adam.weightDecay >= 0)) throw new StaqInputError(`adam eps and weightDecay must be >= 0; got ${adam.eps}, ${adam.weightDecay}`);
  if (adam.maxGradNorm !== undefined && !(adam.maxGradNorm > 0)) throw new StaqInputError(`adam.maxGradNorm must be > 0; got ${adam.maxGradNorm}`);
  const loss = options.loss ?? {};
  const huber = (loss.loss ?? "mse") === "huber";
  const huberDelta = loss.huberDelta ?? 1;
  if (huber && !(huberDelta > 0)) throw new StaqInputError(`huberDelta must be > 0; got ${huberDelta}`);

  const spec: MlpSpec = { inputs: options.mlp.inputs, hidden: [...options.mlp.hidden], outputs: options.mlp.outputs };
  const layout = snapshotLayout(spec);
  const label = options.label ?? "staq trainer";
  const P4 = layout.vec4s;
  checkBudget(gpu.info, { name: "batch size", value: batch }, trainerBudget(layout, ensemble, options.targetNetworks ?? false));
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (bytes: number, name: string) => createBuffer(gpu, bytes, storage, `${label} ${name}`);
  const uniform = (bytes: number, name: string) => createBuffer(gpu, bytes, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${label} ${name}`);

  const params = buffer(ensemble * P4 * 16, "params");
  const grads = buffer(ensemble * P4 * 16, "grads");
  const m = buffer(ensemble * P4 * 16, "adam m");
  const v = buffer(ensemble * P4 * 16, "adam v");
  const norms = buffer(ensemble * 4, "grad norms");
  const states = buffer(batch * spec.inputs * 4, "states");
  const actions = buffer(batch * 4, "actions");
  const targets = buffer(batch * 4, "targets");
  const lossRows = buffer(ensemble * batch * 4, "loss rows");
  const withTargets = options.targetNetworks ?? false;
  const forwardMembers = withTargets ? 2 * ensemble : ensemble;
  const activations = layout.layers.map((layer, l) => buffer(forwardMembers * batch * layer.paddedOutputs * 4, `activations ${l}`));
  const target = withTargets ? { params: buffer(ensemble * P4 * 16, "target params"), states: buffer(batch * spec.inputs * 4, "next states") } : undefined;
  const widest = Math.max(4, ...layout.layers.map((layer) => layer.paddedOutputs));
  const deltas = [buffer(ensemble * batch * widest * 4, "deltas a"), buffer(ensemble * batch * widest * 4, "deltas b")];
  const head = layout.layers.length - 1;
  const dq = buffer(ensemble * batch * layout.layers[head].paddedOutputs * 4, "dq");

  const batchUniform = uniform(16, "batch");
  gpu.device.queue.writeBuffer(batchUniform, 0, Uint32Array.of(batch, 0, 0, 0));
  const lossUniform = uniform(16, "loss");
  {
    const data = new ArrayBuffer(16);
    new Uint32Array(data, 0, 1)[0] = batch;
    new Float32Array(data, 4, 1)[0] = huber ? 1 / batch : 2 / batch;
    gpu.device.queue.writeBuffer(lossUniform, 0, data);
  }
  const adamUniform = uniform(CHUNK * SLOT_BYTES, "adam steps");

  const group = (pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], name: string) => bindGroup(gpu, pipeline, buffers, `${label} ${name}`);

  // Pipelines and bind groups, in the order a step runs them.
  const forward = await forwardPass(gpu, { layout, batch, ensemble, batchUniform, states, params, activations, target, label });
  const backward: Dispatch[] = [];
  const lossPipeline = await gpu.pipeline("train_loss", { OUT4: layout.layers[head].paddedOutputs / 4, HUBER: huber, HUBER_DELTA: huberDelta });
  const lossDispatch: Dispatch = {
    pipeline: lossPipeline,
    group: group(lossPipeline, [lossUniform, activations[head], actions, targets, dq, lossRows], "loss"),
    x: workgroupsFor(batch),
    y: ensemble,
  };
  // Backward: layer l's gradient from dy_l, then dy_{l−1} = dx_l; dy of the head is dq.
  let dy = dq;
  for (let l = head; l >= 0; l--) {
    const layer = layout.layers[l];
    const out4 = layer.paddedOutputs / 4;
    const input = l === 0 ? states : activations[l - 1];
    const gradPipeline = await gpu.pipeline("train_weight_grad", {
      ROWS: layer.rows, X_STRIDE: l === 0 ? spec.inputs : layer.rows, X_MEMBER_STRIDE: l === 0 ? 0 : batch * layer.rows,
      OUT4: out4, W_OFFSET: layer.weightOffset, B_OFFSET: layer.biasOffset, SNAPSHOT_VEC4S: P4,
    });
    backward.push({ pipeline: gradPipeline, group: group(gradPipeline, [batchUniform, input, dy, grads], `weight grad ${l}`), x: workgroupsFor((layer.rows + 1) * out4), y: ensemble });
    if (l > 0) {
      const dx = deltas[(head - l) % 2];
      const inputPipeline = await gpu.pipeline("train_backward_input", { ROWS: layer.rows, OUT4: out4, W_OFFSET: layer.weightOffset, SNAPSHOT_VEC4S: P4 });
      backward.push({ pipeline: inputPipeline, group: group(inputPipeline, [batchUniform, dy, activations[l - 1], params, dx], `backward input ${l}`), x: workgroupsFor(batch * (layer.rows / 4)), y: ensemble });
      dy = dx;
    }
  }
  const normPipeline = await gpu.pipeline("train_grad_norm", { SNAPSHOT_VEC4S: P4 });
  const normDispatch: Dispatch = { pipeline: normPipeline, group: group(normPipeline, [grads, norms], "grad norm"), x: ensemble, y: 1 };
  const clipping = adam.maxGradNorm !== undefined;
  const adamPipeline = await gpu.pipeline("train_adam", { SNAPSHOT_VEC4S: P4, CLIP: clipping });
  const adamVec4s = ensemble * P4;
  const { x: adamX, y: adamY } = flatGrid(adamVec4s);
  const adamGroups = Array.from({ length: CHUNK }, (_, slot) =>
    gpu.device.createBindGroup({
      layout: adamPipeline.getBindGroupLayout(0),
      label: `${label} adam ${slot}`,
      entries: [
        { binding: 0, resource: { buffer: adamUniform, offset: slot * SLOT_BYTES, size: 48 } },
        ...[params, grads, m, v, norms].map((b, k) => ({ binding: k + 1, resource: { buffer: b } })),
      ],
    }),
  );

  let adamSteps = 0;
  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  /** Adam's per-step constants for steps t + 1 … t + n, rounded to f32 as PyTorch rounds its scalars. */
  function writeAdamSlots(first: number, n: number): void {
    const data = new ArrayBuffer(n * SLOT_BYTES);
    for (let j = 0; j < n; j++) {
      const t = first + j;
      const f = new Float32Array(data, j * SLOT_BYTES, 9);
      f.set([
        adam.lr / (1 - adam.beta1 ** t),
        Math.sqrt(1 - adam.beta2 ** t),
        adam.beta1,
        adam.beta2,
        1 - adam.beta1,
        1 - adam.beta2,
        adam.eps,
        adam.weightDecay,
        adam.maxGradNorm ?? 0,
      ].map(f32));
      new Uint32Array(data, j * SLOT_BYTES + 36, 1)[0] = adamVec4s;
    }
    gpu.device.queue.writeBuffer(adamUniform, 0, data);
  }

  const run = runDispatch;

  const trainer: MlpTrainer = {
    gpu,
    spec,
    layout,
    ensemble,
    batch,
    get adamSteps() {
      return adamSteps;
    },
    params,
    grads,
    norms,
    lossRows,
    batchBuffers: { states, actions, targets, nextStates: target?.states },
    headActivations: activations[head],
    targetParams: target?.params,
    setWeights(weights) {
      alive();
      if (weights.length !== ensemble) throw new StaqInputError(`setWeights: the trainer has ${ensemble} ensemble members; got ${weights.length} networks`);
      weights.forEach((w, e) => {
        validateMlpWeights(spec, w, ensemble > 1 ? `network[${e}]` : "network");
        const packed = packSnapshot(layout, w);
        gpu.device.queue.writeBuffer(params, e * P4 * 16, packed.buffer, 0, packed.byteLength);
        if (target) gpu.device.queue.writeBuffer(target.params, e * P4 * 16, packed.buffer, 0, packed.byteLength);
      });
      const zeros = new Float32Array(ensemble * P4 * 4);
      gpu.device.queue.writeBuffer(m, 0, zeros);
      gpu.device.queue.writeBuffer(v, 0, zeros);
      adamSteps = 0;
    },
    async readWeights() {
      alive();
      const data = await readFloat32(gpu, params);
      return Array.from({ length: ensemble }, (_, e) => unpackSnapshot(layout, data.subarray(e * P4 * 4, (e + 1) * P4 * 4)));
    },
    setBatch(data) {
      alive();
      if (data.states.length !== batch * spec.inputs) throw new StaqInputError(`setBatch: states has ${data.states.length} values; expected batch ${batch} × inputs ${spec.inputs} = ${batch * spec.inputs}`);
      if (data.actions.length !== batch || data.targets.length !== batch) throw new StaqInputError(`setBatch: expected ${batch} actions and targets; got ${data.actions.length} and ${data.targets.length}`);
      for (let k = 0; k < data.states.length; k++) if (!Number.isFinite(data.states[k])) throw new StaqInputError(`setBatch: states[${k}] is ${data.states[k]}; states must be finite`);
      const actionWords = new Uint32Array(batch);
      const targetValues = new Float32Array(batch);
      for (let b = 0; b < batch; b++) {
        const a = data.actions[b];
        if (!(Number.isInteger(a) && a >= 0 && a < spec.outputs)) throw new StaqInputError(`setBatch: actions[${b}] is ${a}; actions are integers in [0, ${spec.outputs})`);
        const y = data.targets[b];
        if (!Number.isFinite(y)) throw new StaqInputError(`setBatch: targets[${b}] is ${y}; targets must be finite`);
        actionWords[b] = a;
        targetValues[b] = y;
      }
      gpu.device.queue.writeBuffer(states, 0, data.states.buffer, data.states.byteOffset, data.states.byteLength);
      gpu.device.queue.writeBuffer(actions, 0, actionWords);
      gpu.device.queue.writeBuffer(targets, 0, targetValues);
    },
    train(count, hooks = {}) {
      alive();
      if (!(Number.isInteger(count) && count >= 0)) throw new StaqInputError(`train: count must be an integer >= 0; got ${count}`);
      for (let done = 0; done < count; done += CHUNK) {
        const n = Math.min(CHUNK, count - done);
        writeAdamSlots(adamSteps + 1, n);
        hooks.prepare?.(done, n);
        const encoder = gpu.device.createCommandEncoder({ label: `${label} steps` });
        const pass = encoder.beginComputePass({ label: `${label} steps` });
        for (let j = 0; j < n; j++) {
          hooks.before?.(pass, j, done + j);
          for (const d of forward) run(pass, d);
          hooks.beforeLoss?.(pass, j, done + j);
          run(pass, lossDispatch);
          for (const d of backward) run(pass, d);
          // Clipping needs every step's norm; otherwise only the last one is read (readStatistics).
          if (clipping || done + j === count - 1) run(pass, normDispatch);
          pass.setPipeline(adamPipeline);
          pass.setBindGroup(0, adamGroups[j]);
          pass.dispatchWorkgroups(adamX, adamY);
          hooks.after?.(pass, j, done + j);
        }
        pass.end();
        gpu.device.queue.submit([encoder.finish()]);
        adamSteps += n;
      }
    },
    async readStatistics() {
      alive();
      const [rows, gradNorms] = await Promise.all([readFloat32(gpu, lossRows), readFloat32(gpu, norms)]);
      const lossPerMember = Array.from({ length: ensemble }, (_, e) => {
        let sum = 0;
        for (let b = 0; b < batch; b++) sum += rows[e * batch + b];
        return sum / batch;
      });
      return { loss: lossPerMember, gradNorm: Array.from(gradNorms) };
    },
    async exportState() {
      alive();
      const [p, t, mm, vv] = await Promise.all([readFloat32(gpu, params), target ? readFloat32(gpu, target.params) : undefined, readFloat32(gpu, m), readFloat32(gpu, v)]);
      return { params: p, ...(t ? { targetParams: t } : {}), adamM: mm, adamV: vv, adamSteps };
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
          throw new StaqInputError(`importState: ${name} must be a Float32Array of ${floats} values (${ensemble} members × ${P4 * 4}); got ${data instanceof Float32Array ? data.length + " values" : String(data)}`);
        }
        for (let k = 0; k < floats; k++) if (!Number.isFinite(data[k])) throw new StaqInputError(`importState: ${name}[${k}] is ${data[k]}; the state must be finite`);
      }
      if (!(Number.isSafeInteger(state.adamSteps) && state.adamSteps >= 0)) throw new StaqInputError(`importState: adamSteps must be an integer >= 0; got ${state.adamSteps}`);
      for (const [, data, destination] of arrays) if (data && destination) gpu.device.queue.writeBuffer(destination, 0, data.buffer, data.byteOffset, data.byteLength);
      adamSteps = state.adamSteps;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const b of [params, grads, m, v, norms, states, actions, targets, lossRows, dq, batchUniform, lossUniform, adamUniform, ...activations, ...deltas, ...(target ? [target.params, target.states] : [])]) b.destroy();
    },
  };
  return trainer;
}
