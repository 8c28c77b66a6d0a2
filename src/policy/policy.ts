/**
 * The policy of a batch of logits on the GPU: softmax probabilities, log-probabilities, entropy,
 * ε-softmax behaviour probabilities, greedy actions and sampled actions, in one pass of
 * shaders/policy.wgsl (one thread per row).
 *
 * `encodePolicy` records the work into the caller's encoder, reading logits that are already on
 * the GPU (e.g. from `encodeStackLogits`) and leaving the results there for the trainer;
 * `policyFromLogits` uploads CPU logits and reads everything back.
 *
 * Samples come from Philox4x32-10 keyed by (seed, step) with the global row index as counter, so
 * a row's sample depends only on (seed, step, rowOffset + row): evaluating a batch in one call or
 * in several (with matching `rowOffset`s) gives the same actions, bit for bit.
 */
import { StaqInputError } from "../errors.ts";
import { createBuffer, createStorageBuffer, mapForReading } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Gpu, GpuLimits } from "../gpu/gpu.ts";
import { checkU64, splitU64 } from "./philox.ts";
import { validateActions, validateEpsilon, validateLogits } from "./reference.ts";

/** A GPU buffer, or a buffer and the byte offset (a multiple of 4) at which the data starts. */
export type BufferRegion = GPUBuffer | { buffer: GPUBuffer; offset?: number };

/** Where the kernel writes its results; six distinct buffers. */
export interface PolicyOutputBuffers {
  /** float32 [batch, actions]. */
  probs: BufferRegion;
  /** float32 [batch, actions]. */
  logProbs: BufferRegion;
  /** float32 [batch]. */
  entropy: BufferRegion;
  /** float32 [batch, actions]: (1 − ε)·probs + ε/actions. */
  behaviour: BufferRegion;
  /** u32 [batch]: argmax of the logits, ties → lowest index. */
  greedy: BufferRegion;
  /** u32 [batch]: a draw from the behaviour probabilities. */
  sampled: BufferRegion;
}

/** The settings of the sampled actions (and of the ε-softmax). */
export interface PolicySampling {
  /** ε of the ε-softmax behaviour policy, in [0, 1] (0: sample from the softmax; 1: uniform). */
  epsilon: number;
  /** Generator key: an integer in [0, 2^64) (a number up to 2^53 − 1, or a bigint). */
  seed: number | bigint;
  /** The environment or training step: an integer in [0, 2^64); every step gives fresh samples. */
  step: number | bigint;
  /**
   * Global index of the batch's first row (default 0): row r draws with counter r + rowOffset, so
   * a batch split over calls samples like one call. rowOffset + batch must not exceed 2^32.
   */
  rowOffset?: number;
}

export interface EncodePolicyOptions extends PolicySampling {
  /** float32 [batch, actions] logits, from `logitsOffset` bytes (a multiple of 4). */
  logits: GPUBuffer;
  logitsOffset?: number;
  batch: number;
  actions: number;
  outputs: PolicyOutputBuffers;
  /**
   * Upper limit on rows per dispatch, below what the device allows (which is used by default).
   * Only useful to exercise the chunked path on small batches.
   */
  maxRowsPerDispatch?: number;
}

/** The results of `policyFromLogits`, laid out like the logits. */
export interface PolicyResult {
  probs: Float32Array;
  logProbs: Float32Array;
  entropy: Float32Array;
  behaviour: Float32Array;
  greedy: Uint32Array;
  sampled: Uint32Array;
}

/** Threads per workgroup in shaders/policy.wgsl. */
export const POLICY_WORKGROUP_SIZE = 64;
const PARAM_STRIDE = 256; // bytes between uniform entries (minUniformBufferOffsetAlignment)
const PARAM_BYTES = 64; // the shader's Params struct: 16 four-byte fields

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
    throw new StaqInputError(`a row of ${actions} actions does not fit this device's storage bindings (maxRowsPerDispatch ${maxRowsPerDispatch})`);
  }
  const dispatches: PolicyDispatch[] = [];
  for (let firstRow = 0; firstRow < batch; firstRow += rowsPerDispatch) {
    const rows = Math.min(rowsPerDispatch, batch - firstRow);
    dispatches.push({ firstRow, rows, workgroups: Math.ceil(rows / POLICY_WORKGROUP_SIZE) });
  }
  return dispatches;
}

function region(value: BufferRegion): { buffer: GPUBuffer; offset: number } {
  // A GPUBuffer has no `buffer` property; a { buffer, offset } region has.
  return "buffer" in value ? { buffer: value.buffer, offset: value.offset ?? 0 } : { buffer: value, offset: 0 };
}


function validateSampling(options: PolicySampling, batch: number): number {
  validateEpsilon(options.epsilon);
  checkU64("seed", options.seed);
  checkU64("step", options.step);
  const rowOffset = options.rowOffset ?? 0;
  if (!(Number.isInteger(rowOffset) && rowOffset >= 0 && rowOffset + batch <= 2 ** 32)) {
    throw new StaqInputError(`rowOffset must be an integer ≥ 0 with rowOffset + batch ≤ 2^32 (the counter is 32 bits); got ${rowOffset} for a batch of ${batch}`);
  }
  return rowOffset;
}

interface Binding {
  name: string;
  buffer: GPUBuffer;
  offset: number;
  /** Bytes from `offset` the whole batch needs. */
  bytes: number;
}

function checkBinding(binding: Binding): void {
  const { name, buffer, offset, bytes } = binding;
  if (!(Number.isInteger(offset) && offset >= 0 && offset % 4 === 0)) {
    throw new StaqInputError(`${name}: the byte offset must be a non-negative multiple of 4; got ${offset}`);
  }
  if ((buffer.usage & BufferUsage.STORAGE) === 0) {
    throw new StaqInputError(`${name}: the buffer lacks STORAGE usage; create it with BufferUsage.STORAGE`);
  }
  if (offset + bytes > buffer.size) {
    throw new StaqInputError(`${name}: the buffer holds ${buffer.size} bytes; the batch needs ${bytes} bytes from offset ${offset} (${offset + bytes} in all)`);
  }
}

/**
 * Records the policy of `options.batch` rows of logits into `encoder` (one compute pass). Nothing
 * is read back: the outputs are ready for later commands in the same submission.
 *
 * The logits are not checked here (they are on the GPU, and reading them back would cost a round
 * trip): a non-finite logit, or a row whose spread overflows float32, makes that row's results
 * meaningless (WGSL lets the device assume no NaN or infinity); other rows are unaffected.
 */
export async function encodePolicy(gpu: Gpu, encoder: GPUCommandEncoder, options: EncodePolicyOptions): Promise<void> {
  const { batch, actions } = options;
  validateActions(actions);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new StaqInputError(`batch must be an integer ≥ 1; got ${batch}`);
  const rowOffset = validateSampling(options, batch);
  const maxRows = options.maxRowsPerDispatch ?? Infinity;
  if (!(maxRows === Infinity || (Number.isInteger(maxRows) && maxRows >= 1))) {
    throw new StaqInputError(`maxRowsPerDispatch must be an integer ≥ 1; got ${maxRows}`);
  }

  const rowBytes = 4 * actions;
  const out = options.outputs;
  const bindings: Binding[] = [
    { name: "logits", buffer: options.logits, offset: options.logitsOffset ?? 0, bytes: batch * rowBytes },
    { name: "outputs.probs", ...region(out.probs), bytes: batch * rowBytes },
    { name: "outputs.logProbs", ...region(out.logProbs), bytes: batch * rowBytes },
    { name: "outputs.entropy", ...region(out.entropy), bytes: batch * 4 },
    { name: "outputs.behaviour", ...region(out.behaviour), bytes: batch * rowBytes },
    { name: "outputs.greedy", ...region(out.greedy), bytes: batch * 4 },
    { name: "outputs.sampled", ...region(out.sampled), bytes: batch * 4 },
  ];
  for (const binding of bindings) checkBinding(binding);
  // A buffer written in a dispatch cannot be bound a second time in it (WebGPU usage rules).
  for (let i = 0; i < bindings.length; i++) {
    for (let j = i + 1; j < bindings.length; j++) {
      if (bindings[i].buffer === bindings[j].buffer) {
        throw new StaqInputError(`${bindings[i].name} and ${bindings[j].name} are the same buffer; give the logits and each output a buffer of its own`);
      }
    }
  }

  const { limits } = gpu.info;
  const dispatches = planPolicyDispatches(batch, actions, limits, maxRows);
  const pipeline = await gpu.pipeline("policy", { ACTIONS: actions });

  const [seedLo, seedHi] = splitU64(options.seed);
  const [stepLo, stepHi] = splitU64(options.step);
  const paramsData = new ArrayBuffer(dispatches.length * PARAM_STRIDE);
  const params = createBuffer(gpu, paramsData.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, "staq policy params");
  const align = limits.minStorageBufferOffsetAlignment;

  const pass = encoder.beginComputePass({ label: "staq policy" });
  pass.setPipeline(pipeline);
  dispatches.forEach((dispatch, k) => {
    const words = new Uint32Array(paramsData, k * PARAM_STRIDE, PARAM_BYTES / 4);
    const floats = new Float32Array(paramsData, k * PARAM_STRIDE, PARAM_BYTES / 4);
    words.set([dispatch.rows, rowOffset + dispatch.firstRow, stepLo, stepHi, seedLo, seedHi]);
    // 1 − ε and ε/A rounded once to float32 here, so every row and dispatch uses the same values.
    floats[6] = 1 - options.epsilon;
    floats[7] = options.epsilon / actions;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: params, offset: k * PARAM_STRIDE, size: PARAM_BYTES } }];
    bindings.forEach((binding, b) => {
      const perRow = binding.bytes / batch;
      const start = binding.offset + dispatch.firstRow * perRow;
      // Bindings must start on an alignment boundary; the shader skips the gap (an element offset).
      const bindStart = start - (start % align);
      words[8 + b] = (start - bindStart) / 4;
      entries.push({ binding: 1 + b, resource: { buffer: binding.buffer, offset: bindStart, size: start - bindStart + dispatch.rows * perRow } });
    });
    const bindGroup = gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: "staq policy" });
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(dispatch.workgroups);
  });
  pass.end();
  // Written before the caller submits the encoder; each call has its own params buffer, so two
  // calls recorded into one encoder keep their own parameters. Dropped, not destroyed: the
  // encoder still refers to it, and the garbage collector frees it after use.
  gpu.device.queue.writeBuffer(params, 0, paramsData, 0, paramsData.byteLength);
}

/**
 * The policy of CPU logits ([batch, actions], row-major, finite): uploads them, runs the kernel
 * and reads every result back.
 */
export async function policyFromLogits(gpu: Gpu, logits: Float32Array, actions: number, options: PolicySampling): Promise<PolicyResult> {
  const batch = validateLogits(logits, actions);
  validateSampling(options, batch);
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
  const sizes = { probs: batch * actions, logProbs: batch * actions, entropy: batch, behaviour: batch * actions, greedy: batch, sampled: batch };
  const names = Object.keys(sizes) as (keyof typeof sizes)[];
  const input = createStorageBuffer(gpu, logits, "staq policy logits");
  const outputs = Object.fromEntries(names.map((name) => [name, createBuffer(gpu, sizes[name] * 4, storage, `staq policy ${name}`)])) as Record<
    keyof typeof sizes,
    GPUBuffer
  >;
  // One staging buffer for all six results: one map, one round trip.
  const totalBytes = names.reduce((sum, name) => sum + sizes[name] * 4, 0);
  const staging = createBuffer(gpu, totalBytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "staq policy readback");
  try {
    const encoder = gpu.device.createCommandEncoder({ label: "staq policyFromLogits" });
    await encodePolicy(gpu, encoder, { ...options, logits: input, batch, actions, outputs });
    let offset = 0;
    const offsets = {} as Record<keyof typeof sizes, number>;
    for (const name of names) {
      offsets[name] = offset;
      encoder.copyBufferToBuffer(outputs[name], 0, staging, offset, sizes[name] * 4);
      offset += sizes[name] * 4;
    }
    gpu.device.queue.submit([encoder.finish()]);
    await mapForReading(gpu, staging);
    const bytes = staging.getMappedRange(0, totalBytes);
    // Copies (slice), so each result owns its memory and survives the unmap.
    const result: PolicyResult = {
      probs: new Float32Array(bytes, offsets.probs, sizes.probs).slice(),
      logProbs: new Float32Array(bytes, offsets.logProbs, sizes.logProbs).slice(),
      entropy: new Float32Array(bytes, offsets.entropy, sizes.entropy).slice(),
      behaviour: new Float32Array(bytes, offsets.behaviour, sizes.behaviour).slice(),
      greedy: new Uint32Array(bytes, offsets.greedy, sizes.greedy).slice(),
      sampled: new Uint32Array(bytes, offsets.sampled, sizes.sampled).slice(),
    };
    staging.unmap();
    return result;
  } finally {
    input.destroy();
    for (const name of names) outputs[name].destroy();
    staging.destroy();
  }
}
