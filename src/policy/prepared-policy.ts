/**
 * The policy kernel (shaders/policy.wgsl) prepared for fixed buffers: logits and six outputs with
 * room for `maxBatch` rows. Preparing checks the buffers, plans the dispatches and allocates one
 * uniform slot per dispatch; the first `encode` makes the bind groups, which every later call
 * reuses, so a loop that runs the policy on the same buffers every step (acting, the replay
 * buffer's precompute) allocates nothing per call: `encode` only rewrites the slots.
 *
 * Each bind group covers its dispatch's rows of `maxBatch`, whatever the batch: the kernel writes
 * the rows below its `rows` parameter only, so one group per dispatch serves every batch.
 *
 * The slots are rewritten in queue order, so submit what one `encode` recorded before the next
 * `encode` of the same prepared policy (else both would run with the later parameters).
 * `encodePolicy` prepares a policy per call for callers that record several into one encoder.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Gpu, GpuLimits } from "../gpu/gpu.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { UniformSlots } from "../gpu/uniform-slots.ts";
import { checkU64, splitU64 } from "../random/philox.ts";
import type { BufferRegion, PolicyOutputBuffers, PolicySampling } from "./policy.ts";
import { validateActions, validateBehaviour, validateEpsilon, type BehaviourKind } from "./reference.ts";

/** Threads per workgroup in shaders/policy.wgsl. */
export const POLICY_WORKGROUP_SIZE = 64;

export interface PolicyDispatch {
  firstRow: number;
  rows: number;
  workgroups: number;
}

/**
 * Splits `batch` rows into dispatches the device can run: at most maxComputeWorkgroupsPerDimension
 * workgroups each, and every binding (rows × actions floats, starting up to one alignment unit
 * before the data) within maxStorageBufferBindingSize. Pure, so it is tested without a GPU.
 */
export function planPolicyDispatches(
  batch: number,
  actions: number,
  limits: Pick<GpuLimits, "maxComputeWorkgroupsPerDimension" | "maxStorageBufferBindingSize" | "minStorageBufferOffsetAlignment">,
  maxRowsPerDispatch = Infinity,
): PolicyDispatch[] {
  const byDispatch = limits.maxComputeWorkgroupsPerDimension * POLICY_WORKGROUP_SIZE;
  const byBinding = Math.floor((limits.maxStorageBufferBindingSize - limits.minStorageBufferOffsetAlignment) / (4 * actions));
  const rowsPerDispatch = Math.min(byDispatch, byBinding, maxRowsPerDispatch);
  if (!(rowsPerDispatch >= 1)) {
    throw new StaqInputError(
      `a row of ${actions} actions does not fit this device's storage bindings (maxRowsPerDispatch ${maxRowsPerDispatch})`,
    );
  }
  const dispatches: PolicyDispatch[] = [];
  for (let firstRow = 0; firstRow < batch; firstRow += rowsPerDispatch) {
    const rows = Math.min(rowsPerDispatch, batch - firstRow);
    dispatches.push({ firstRow, rows, workgroups: Math.ceil(rows / POLICY_WORKGROUP_SIZE) });
  }
  return dispatches;
}

/**
 * The draw of one call: its rows, the key and counter of its samples (see `PolicySampling`) and,
 * optionally, this call's ε in place of the one the policy was prepared with (an ε that follows a
 * schedule, without preparing again).
 */
export type PolicyDraw = Omit<PolicySampling, "epsilon" | "behaviour"> & { batch: number; epsilon?: number };

/** Checks the seed, the step and the row offset of `batch` rows; returns the row offset. */
export function validateDraw(draw: Omit<PolicySampling, "epsilon" | "behaviour">, batch: number): number {
  checkU64("seed", draw.seed);
  checkU64("step", draw.step);
  const rowOffset = draw.rowOffset ?? 0;
  if (!(Number.isInteger(rowOffset) && rowOffset >= 0 && rowOffset + batch <= 2 ** 32)) {
    throw new StaqInputError(
      `rowOffset must be an integer ≥ 0 with rowOffset + batch ≤ 2^32 (the counter is 32 bits); got ${rowOffset} for a batch of ${batch}`,
    );
  }
  return rowOffset;
}

export interface PreparePolicyOptions {
  /** float32 [maxBatch, actions] logits, from a byte offset that is a multiple of 4. */
  logits: BufferRegion;
  /** Where the kernel writes; six buffers distinct from each other and from the logits. */
  outputs: PolicyOutputBuffers;
  /** The most rows one call takes: every buffer must hold this many. */
  maxBatch: number;
  actions: number;
  /** ε of the behaviour policy, in [0, 1]: the default of every `encode` (a draw may override it). */
  epsilon: number;
  /**
   * The behaviour policy ε mixes with the uniform one (default "softmax"): the softmax of the
   * logits, or their argmax ("greedy": ε-greedy). The other outputs are the softmax's either way.
   */
  behaviour?: BehaviourKind;
  /** Upper limit on rows per dispatch, below what the device allows (tests of the chunked path). */
  maxRowsPerDispatch?: number;
  label?: string;
}

export interface PreparedPolicy {
  readonly maxBatch: number;
  /** Records the policy of rows [0, draw.batch) into `encoder` (one compute pass). */
  encode(encoder: GPUCommandEncoder, draw: PolicyDraw): Promise<void>;
  /** Frees the uniform buffer; only for when no encoded work that uses it can still be submitted. */
  destroy(): void;
}

/** A buffer the kernel binds: its binding and row-0 field in shaders/policy.wgsl, and where its rows are. */
interface Binding {
  name: string;
  binding: string;
  base: string;
  buffer: GPUBuffer;
  offset: number;
  rowBytes: number;
}

/**
 * Whether `value` is a GPUBuffer. Recognised by shape (a size, a usage and a destroy method), not
 * by class: Node's WebGPU bindings do not all expose GPUBuffer as a global to test against.
 */
export function isGpuBuffer(value: unknown): value is GPUBuffer {
  if (value === null || typeof value !== "object") return false;
  const buffer = value as Partial<GPUBuffer>;
  return typeof buffer.size === "number" && typeof buffer.usage === "number" && typeof buffer.destroy === "function";
}

function region(value: BufferRegion | undefined, name: string): { buffer: GPUBuffer; offset: number } {
  if (isGpuBuffer(value)) return { buffer: value, offset: 0 };
  // A { buffer, offset } region; anything else (a missing output) would fail below as a TypeError.
  if (value !== null && typeof value === "object" && isGpuBuffer((value as { buffer?: unknown }).buffer)) {
    checkOptionKeys(value, ["buffer", "offset"], name);
    return { buffer: value.buffer, offset: value.offset ?? 0 };
  }
  throw new StaqInputError(`${name} must be a GPUBuffer, or { buffer: GPUBuffer, offset? }; got ${describeValue(value)}`);
}

/** The six outputs, as PolicyOutputBuffers names them. */
const OUTPUT_KEYS = [
  "probs",
  "logProbs",
  "entropy",
  "behaviour",
  "greedy",
  "sampled",
] as const satisfies readonly (keyof PolicyOutputBuffers)[];

function bindingsOf(options: PreparePolicyOptions): Binding[] {
  const row = 4 * options.actions;
  const out = options.outputs;
  if (out === null || typeof out !== "object")
    throw new StaqInputError(`outputs must be an object of six buffers { ${OUTPUT_KEYS.join(", ")} }; got ${describeValue(out)}`);
  checkOptionKeys(out, OUTPUT_KEYS, "outputs");
  return [
    { name: "logits", binding: "logits", base: "logits_base", ...region(options.logits, "logits"), rowBytes: row },
    { name: "outputs.probs", binding: "probs_out", base: "probs_base", ...region(out.probs, "outputs.probs"), rowBytes: row },
    {
      name: "outputs.logProbs",
      binding: "log_probs_out",
      base: "log_probs_base",
      ...region(out.logProbs, "outputs.logProbs"),
      rowBytes: row,
    },
    { name: "outputs.entropy", binding: "entropy_out", base: "entropy_base", ...region(out.entropy, "outputs.entropy"), rowBytes: 4 },
    {
      name: "outputs.behaviour",
      binding: "behaviour_out",
      base: "behaviour_base",
      ...region(out.behaviour, "outputs.behaviour"),
      rowBytes: row,
    },
    { name: "outputs.greedy", binding: "greedy_out", base: "greedy_base", ...region(out.greedy, "outputs.greedy"), rowBytes: 4 },
    { name: "outputs.sampled", binding: "sampled_out", base: "sampled_base", ...region(out.sampled, "outputs.sampled"), rowBytes: 4 },
  ];
}

function checkBinding(binding: Binding, rows: number): void {
  const { name, buffer, offset } = binding;
  const bytes = rows * binding.rowBytes;
  if (!(Number.isInteger(offset) && offset >= 0 && offset % 4 === 0)) {
    throw new StaqInputError(`${name}: the byte offset must be a non-negative multiple of 4; got ${offset}`);
  }
  if ((buffer.usage & BufferUsage.STORAGE) === 0) {
    throw new StaqInputError(`${name}: the buffer lacks STORAGE usage; create it with BufferUsage.STORAGE`);
  }
  if (offset + bytes > buffer.size) {
    throw new StaqInputError(
      `${name}: the buffer holds ${buffer.size} bytes; the batch needs ${bytes} bytes from offset ${offset} (${offset + bytes} in all)`,
    );
  }
}

/**
 * Checks the buffers and allocates the uniform slots. The pipeline and bind groups are made by
 * the first `encode` (so preparing is synchronous) and kept.
 */
export function preparePolicy(gpu: Gpu, options: PreparePolicyOptions): PreparedPolicy {
  const { actions, maxBatch, epsilon } = options;
  validateActions(actions);
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new StaqInputError(`maxBatch must be an integer ≥ 1; got ${maxBatch}`);
  validateEpsilon(epsilon);
  const behaviourKind = validateBehaviour(options.behaviour ?? "softmax");
  const maxRows = options.maxRowsPerDispatch ?? Infinity;
  if (!(maxRows === Infinity || (Number.isInteger(maxRows) && maxRows >= 1))) {
    throw new StaqInputError(`maxRowsPerDispatch must be an integer ≥ 1; got ${maxRows}`);
  }
  const bindings = bindingsOf(options);
  for (const binding of bindings) checkBinding(binding, maxBatch);
  // A buffer written in a dispatch cannot be bound a second time in it (WebGPU usage rules).
  for (let i = 0; i < bindings.length; i++) {
    for (let j = i + 1; j < bindings.length; j++) {
      if (bindings[i].buffer === bindings[j].buffer) {
        throw new StaqInputError(
          `${bindings[i].name} and ${bindings[j].name} are the same buffer; give the logits and each output a buffer of its own`,
        );
      }
    }
  }

  const label = options.label ?? "staq policy";
  const align = gpu.info.limits.minStorageBufferOffsetAlignment;
  // Dispatch k covers the same rows for every batch (the plan's rows per dispatch do not depend on
  // the batch), so the plan of maxBatch gives each dispatch's bindings.
  const dispatches = planPolicyDispatches(maxBatch, actions, gpu.info.limits, maxRows).map((dispatch) => {
    const resources: Record<string, GPUBufferBinding> = {};
    const bases: Record<string, number> = {};
    for (const binding of bindings) {
      const start = binding.offset + dispatch.firstRow * binding.rowBytes;
      // Bindings must start on an alignment boundary; the shader skips the gap (an element offset).
      const bindStart = start - (start % align);
      bases[binding.base] = (start - bindStart) / 4;
      resources[binding.binding] = {
        buffer: binding.buffer,
        offset: bindStart,
        size: start - bindStart + dispatch.rows * binding.rowBytes,
      };
    }
    return { firstRow: dispatch.firstRow, maxRows: dispatch.rows, resources, bases };
  });
  const slots = new UniformSlots(gpu, dispatches.length, label);
  // 1 − ε and ε/A (of the prepared ε, or of the draw's), rounded once to float32 when packed, so
  // every row and dispatch of a call uses the same values.
  const mix = (eps: number) => ({ keep: 1 - eps, share: eps / actions });
  const prepared = mix(epsilon);
  let bound: Promise<{ kernel: Kernel; groups: GPUBindGroup[] }> | undefined;
  let destroyed = false;
  // Writing the destroyed uniform buffer would be a WebGPU error, after which every readback fails.
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  async function bind() {
    const kernel = await gpu.kernel("policy", { ACTIONS: actions });
    if (kernel.workgroupSize[0] !== POLICY_WORKGROUP_SIZE) {
      throw new StaqGpuError(
        `shaders/policy.wgsl has ${kernel.workgroupSize[0]} threads per workgroup; planPolicyDispatches plans with ${POLICY_WORKGROUP_SIZE}`,
      );
    }
    const groups = dispatches.map((dispatch, k) => kernel.bind({ params: slots.binding(k), ...dispatch.resources }, label));
    return { kernel, groups };
  }

  return {
    maxBatch,
    async encode(encoder, draw) {
      alive();
      const { batch } = draw;
      if (!(Number.isInteger(batch) && batch >= 1 && batch <= maxBatch)) {
        throw new StaqInputError(`batch must be an integer from 1 to ${maxBatch} (the rows this policy was prepared for); got ${batch}`);
      }
      const rowOffset = validateDraw(draw, batch);
      if (draw.epsilon !== undefined) validateEpsilon(draw.epsilon);
      const { keep, share } = draw.epsilon === undefined ? prepared : mix(draw.epsilon);
      const { kernel, groups } = await (bound ??= bind());
      alive(); // destroyed while the kernel compiled
      const [seedLo, seedHi] = splitU64(draw.seed);
      const [stepLo, stepHi] = splitU64(draw.step);
      const used = dispatches.findIndex((dispatch) => dispatch.firstRow >= batch);
      const count = used === -1 ? dispatches.length : used;
      const rows = (k: number) => Math.min(dispatches[k].maxRows, batch - dispatches[k].firstRow);
      for (let k = 0; k < count; k++) {
        slots.write(k, kernel, {
          rows: rows(k),
          row_offset: rowOffset + dispatches[k].firstRow,
          step_lo: stepLo,
          step_hi: stepHi,
          seed_lo: seedLo,
          seed_hi: seedHi,
          keep,
          share,
          behaviour_kind: behaviourKind,
          ...dispatches[k].bases,
        });
      }
      slots.upload(0, count);
      const pass = encoder.beginComputePass({ label });
      // The plan keeps each dispatch within the device's workgroups per dimension, so grid() never
      // folds (the kernel indexes rows by id.x alone).
      for (let k = 0; k < count; k++) kernel.dispatch(pass, groups[k], kernel.grid(rows(k)));
      pass.end();
    },
    destroy() {
      destroyed = true;
      slots.destroy();
    },
  };
}
