/**
 * Stack evaluation: logits[b, a] = correction · mean_e Σ_i c[e,i] · MLP_{e,i}(states[b])[a].
 *
 * One `stack_forward` dispatch per weights chunk (one chunk unless the stack is larger than a
 * storage binding) evaluates every stored snapshot; when the batch is too small to fill the GPU
 * the snapshots are spread over several runs and one `stack_reduce` dispatch adds the runs in a
 * fixed order. The number of dispatches never depends on M.
 *
 * `encodeStackLogits` records the work into the caller's encoder (states and logits stay on the
 * GPU); `stackLogits` uploads states from the CPU and reads the logits back.
 */
import { StaqInputError, StaqGpuError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer, mapForReading } from "../gpu/buffers.ts";
import { checkBudget } from "../gpu/buffer-budget.ts";
import { DurationEstimate, waitPatiently } from "../gpu/patient-wait.ts";
import type { GpuLimits } from "../gpu/gpu.ts";
import type { Stack } from "./stack.ts";
import { planStackTiling, stackForwardConstants, type StackTiling } from "./tiling.ts";

export interface ForwardDispatch {
  chunk: number;
  snapshotBegin: number;
  snapshotCount: number;
  coefficientBase: number;
  partBase: number;
  /** Runs the chunk's snapshots are spread over (dispatch y). */
  runs: number;
}

export interface RowChunk {
  firstRow: number;
  rows: number;
  /** Workgroups along the batch (dispatch x). */
  tiles: number;
  forward: ForwardDispatch[];
  /** Total parts written; 1 means the forward pass writes the logits directly. */
  parts: number;
}

export interface StackDispatchPlan {
  tiling: StackTiling;
  rowChunks: RowChunk[];
  /** Largest parts × rows of any row chunk: the size of the scratch buffer in elements / actions. */
  partialRows: number;
}

/**
 * Plans the dispatches of one evaluation. Pure: depends only on shapes, the number of stored
 * snapshots and the limits, so it can be tested without a GPU.
 */
export function planStackDispatch(
  stack: Pick<Stack, "layout" | "ensemble" | "chunks" | "targetWorkgroups">,
  stored: number,
  batch: number,
  limits: GpuLimits,
): StackDispatchPlan {
  const { inputs, outputs } = stack.layout.spec;
  const tiling = planStackTiling(stack.layout, batch, limits);
  const maxBinding = limits.maxStorageBufferBindingSize;
  // Rows per chunk: the states and the logits must each fit a binding, the tiles one dispatch
  // dimension, and every weights chunk's part of the partial sums the partials binding. Chunks
  // after the first start at a row whose states and logits offsets are multiples of 256 bytes.
  const byBinding = Math.floor(maxBinding / (4 * Math.max(inputs, outputs)));
  const byDispatch = limits.maxComputeWorkgroupsPerDimension * tiling.tileRows;
  const valid = stored * stack.ensemble; // snapshots [0, valid) in flat order
  const filledChunks = Math.max(1, stack.chunks.filter((chunk) => chunk.first < valid).length);
  const byParts = Math.floor(maxBinding / (4 * outputs * filledChunks));
  let rowsPerChunk = Math.min(batch, byBinding, byDispatch, byParts);
  if (rowsPerChunk < batch) rowsPerChunk -= rowsPerChunk % rowAlignment(inputs, outputs);
  if (rowsPerChunk < 1) {
    throw new StaqGpuError(
      `cannot split a batch of ${batch} states so that each part fits a storage binding of ${maxBinding} bytes ` +
        `(${inputs} inputs, ${outputs} actions, ${filledChunks} weight buffers in use); use a larger maxBindingBytes`,
    );
  }

  const rowChunks: RowChunk[] = [];
  let partialRows = 0;
  for (let firstRow = 0; firstRow < batch; firstRow += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, batch - firstRow);
    const tiles = Math.ceil(rows / tiling.tileRows);
    const forward: ForwardDispatch[] = [];
    let parts = 0;
    const counts = stack.chunks.map((chunk) => Math.max(0, Math.min(chunk.capacity, valid - chunk.first)));
    let chunksLeft = counts.filter((count) => count > 0).length;
    // Every part is rows × actions floats, and all parts share one binding; byParts above
    // guarantees room for at least one part per chunk.
    const partBudget = Math.floor(maxBinding / (4 * rows * outputs));
    counts.forEach((count, k) => {
      if (count === 0) return;
      chunksLeft--;
      // Spread the snapshots over runs until the dispatch has about targetWorkgroups workgroups,
      // keeping at least one snapshot per lane in every run.
      const perRun = Math.ceil(count / tiling.lanes);
      const wanted = Math.round(stack.targetWorkgroups / tiles);
      const runs = Math.max(1, Math.min(perRun, wanted, limits.maxComputeWorkgroupsPerDimension, partBudget - parts - chunksLeft));
      forward.push({ chunk: k, snapshotBegin: 0, snapshotCount: count, coefficientBase: stack.chunks[k].first, partBase: parts, runs });
      parts += runs;
    });
    if (parts > 1) partialRows = Math.max(partialRows, parts * rows);
    rowChunks.push({ firstRow, rows, tiles, forward, parts });
  }
  return { tiling, rowChunks, partialRows };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Smallest number of rows whose states and logits both span a multiple of 256 bytes. */
export function rowAlignment(inputs: number, outputs: number): number {
  const rowsFor = (floats: number) => 256 / gcd(floats * 4, 256);
  const a = rowsFor(inputs);
  const b = rowsFor(outputs);
  return (a * b) / gcd(a, b);
}

export interface StackLogitsIO {
  /** float32 [batch, inputs], from `statesOffset` bytes (a multiple of 256 when the batch is split). */
  states: GPUBuffer;
  statesOffset?: number;
  /** float32 [batch, actions] written from `logitsOffset` bytes. */
  logits: GPUBuffer;
  logitsOffset?: number;
  batch: number;
}

export interface EncodeOptions {
  /** Timestamps for the single compute pass (benchmarks). */
  timestampWrites?: GPUComputePassTimestampWrites;
}

interface PreparedEvaluation {
  /** How long a `stackLogits` round trip of this evaluation takes. */
  duration: DurationEstimate;
  passes: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; x: number; y: number }[];
  /** With an empty stack the logits are all zero (the uniform policy). */
  clear: boolean;
}

const MAX_PREPARED = 4;
const PARAM_STRIDE = 256; // bytes between uniform entries (minUniformBufferOffsetAlignment)

let nextBufferId = 1;
const bufferIds = new WeakMap<GPUBuffer, number>();
function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, (id = nextBufferId++));
  return id;
}

/**
 * A buffer of the stack's own, grown (doubling) when too small. The old one is dropped, not
 * destroyed, since commands encoded with it may not be submitted yet; the GC frees it.
 */
function scratchBuffer(stack: Stack, name: string, bytes: number, usage: number): GPUBuffer {
  const existing = stack.scratch.get(name);
  if (existing && existing.size >= bytes) return existing;
  stack.evaluationCache.clear(); // prepared bind groups may reference the old buffer
  // Doubling must not push a size that fits over the device's limit.
  const doubled = Math.min(existing ? existing.size * 2 : 0, Math.floor(stack.gpu.info.limits.maxBufferSize / 4) * 4);
  const buffer = createBuffer(stack.gpu, Math.max(bytes, doubled), usage, `${stack.label} ${name}`);
  stack.scratch.set(name, buffer);
  return buffer;
}

function validateIO(stack: Stack, io: StackLogitsIO): void {
  const { inputs, outputs } = stack.spec;
  if (!(Number.isInteger(io.batch) && io.batch >= 1)) throw new StaqInputError(`batch must be an integer >= 1; got ${io.batch}`);
  const alignment = stack.gpu.info.limits.minStorageBufferOffsetAlignment;
  for (const [name, offset] of [["statesOffset", io.statesOffset ?? 0], ["logitsOffset", io.logitsOffset ?? 0]] as const) {
    if (!(Number.isInteger(offset) && offset >= 0 && offset % alignment === 0)) {
      throw new StaqInputError(`${name} is ${offset}; buffer bindings must start at a multiple of ${alignment} bytes on this device`);
    }
  }
  const statesEnd = (io.statesOffset ?? 0) + io.batch * inputs * 4;
  if (statesEnd > io.states.size) {
    throw new StaqInputError(`states buffer holds ${io.states.size} bytes; ${io.batch} states of ${inputs} inputs from offset ${io.statesOffset ?? 0} need ${statesEnd}`);
  }
  const logitsEnd = (io.logitsOffset ?? 0) + io.batch * outputs * 4;
  if (logitsEnd > io.logits.size) {
    throw new StaqInputError(`logits buffer holds ${io.logits.size} bytes; ${io.batch} × ${outputs} logits from offset ${io.logitsOffset ?? 0} need ${logitsEnd}`);
  }
}

async function prepare(stack: Stack, io: StackLogitsIO): Promise<PreparedEvaluation> {
  const key = [bufferId(io.states), io.statesOffset ?? 0, bufferId(io.logits), io.logitsOffset ?? 0, io.batch, stack.size].join(",");
  const cached = stack.evaluationCache.get(key) as PreparedEvaluation | undefined;
  if (cached) return cached;

  // A few prepared evaluations per stack: an acting loop reuses the same buffers every step, and
  // may alternate with an evaluation of another batch.
  while (stack.evaluationCache.size >= MAX_PREPARED) stack.evaluationCache.delete(stack.evaluationCache.keys().next().value!);
  if (stack.size === 0) {
    const empty: PreparedEvaluation = { duration: new DurationEstimate(), passes: [], clear: true };
    stack.evaluationCache.set(key, empty);
    return empty;
  }
  const { gpu } = stack;
  const { inputs, outputs } = stack.spec;
  const plan = planStackDispatch(stack, stack.size, io.batch, gpu.info.limits);
  const forward = await gpu.pipeline("stack_forward", stackForwardConstants(stack.layout, plan.tiling));
  const needsReduce = plan.rowChunks.some((chunk) => chunk.parts > 1);
  const reduce = needsReduce ? await gpu.pipeline("stack_reduce", {}) : undefined;
  const partials = needsReduce
    ? scratchBuffer(stack, "partials", plan.partialRows * outputs * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC)
    : undefined;

  const entries = plan.rowChunks.reduce((n, chunk) => n + chunk.forward.length + (chunk.parts > 1 ? 1 : 0), 0);
  const params = createBuffer(gpu, Math.max(1, entries) * PARAM_STRIDE, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${stack.label} params`);
  const paramsData = new Uint32Array((Math.max(1, entries) * PARAM_STRIDE) / 4);
  const passes: PreparedEvaluation["passes"] = [];
  let entry = 0;
  const paramBinding = () => ({ buffer: params, offset: entry * PARAM_STRIDE, size: 32 });
  for (const chunk of plan.rowChunks) {
    const states = { buffer: io.states, offset: (io.statesOffset ?? 0) + chunk.firstRow * inputs * 4, size: chunk.rows * inputs * 4 };
    const logits = { buffer: io.logits, offset: (io.logitsOffset ?? 0) + chunk.firstRow * outputs * 4, size: chunk.rows * outputs * 4 };
    const direct = chunk.parts === 1;
    for (const dispatch of chunk.forward) {
      paramsData.set([chunk.rows, dispatch.snapshotBegin, dispatch.snapshotCount, dispatch.coefficientBase, dispatch.partBase], (entry * PARAM_STRIDE) / 4);
      const bindGroup = gpu.device.createBindGroup({
        layout: forward.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: paramBinding() },
          { binding: 1, resource: states },
          { binding: 2, resource: { buffer: stack.chunks[dispatch.chunk].buffer } },
          { binding: 3, resource: { buffer: stack.coefficientBuffer } },
          { binding: 4, resource: direct ? logits : { buffer: partials!, offset: 0, size: chunk.parts * chunk.rows * outputs * 4 } },
        ],
        label: `${stack.label} forward`,
      });
      passes.push({ pipeline: forward, bindGroup, x: chunk.tiles, y: dispatch.runs });
      entry++;
    }
    if (!direct) {
      const elements = chunk.rows * outputs;
      paramsData.set([elements, chunk.parts], (entry * PARAM_STRIDE) / 4);
      const bindGroup = gpu.device.createBindGroup({
        layout: reduce!.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: paramBinding() },
          { binding: 1, resource: { buffer: partials!, offset: 0, size: chunk.parts * elements * 4 } },
          { binding: 2, resource: logits },
        ],
        label: `${stack.label} reduce`,
      });
      const groups = Math.ceil(elements / 256);
      const x = Math.min(groups, gpu.info.limits.maxComputeWorkgroupsPerDimension);
      passes.push({ pipeline: reduce!, bindGroup, x, y: Math.ceil(groups / x) });
      entry++;
    }
  }
  gpu.device.queue.writeBuffer(params, 0, paramsData.buffer, 0, paramsData.byteLength);
  const prepared: PreparedEvaluation = { duration: new DurationEstimate(), passes, clear: false };
  stack.evaluationCache.set(key, prepared);
  return prepared;
}

/** Records the evaluation of `io.batch` states into `encoder`. Nothing is read back. */
export async function encodeStackLogits(stack: Stack, encoder: GPUCommandEncoder, io: StackLogitsIO, options: EncodeOptions = {}): Promise<void> {
  await encodePrepared(stack, encoder, io, options);
}

async function encodePrepared(stack: Stack, encoder: GPUCommandEncoder, io: StackLogitsIO, options: EncodeOptions): Promise<PreparedEvaluation> {
  if (stack.destroyed) throw new StaqGpuError(`${stack.label} was destroyed`);
  validateIO(stack, io);
  const prepared = await prepare(stack, io);
  if (prepared.clear) {
    encoder.clearBuffer(io.logits, io.logitsOffset ?? 0, io.batch * stack.spec.outputs * 4);
  }
  const pass = encoder.beginComputePass({ label: `${stack.label} logits`, timestampWrites: options.timestampWrites });
  // A pass is recorded even when empty, so that timestamps always bracket the evaluation.
  for (const step of prepared.passes) {
    pass.setPipeline(step.pipeline);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(step.x, step.y);
  }
  pass.end();
  return prepared;
}

/** Checks a CPU batch of states: length a multiple of the input size, every value finite. */
export function validateStates(states: Float32Array, inputs: number): number {
  if (!(states instanceof Float32Array)) throw new StaqInputError("states must be a Float32Array of [batch, inputs] values");
  if (states.length === 0 || states.length % inputs !== 0) {
    throw new StaqInputError(`states has ${states.length} values, which is not a whole number of states of ${inputs} inputs`);
  }
  for (let i = 0; i < states.length; i++) {
    if (!Number.isFinite(states[i])) {
      throw new StaqInputError(`states[${Math.floor(i / inputs)}][${i % inputs}] is ${states[i]}; states must be finite`);
    }
  }
  return states.length / inputs;
}

/**
 * Evaluates the stack on CPU states ([batch, inputs], row-major) and returns the logits
 * ([batch, actions]). Calls on one stack run one after another.
 */
export function stackLogits(stack: Stack, states: Float32Array): Promise<Float32Array> {
  const run = async () => {
    const batch = validateStates(states, stack.spec.inputs);
    const { gpu } = stack;
    // The kernel splits a large batch into row ranges, but each scratch buffer is one buffer.
    checkBudget(gpu.info, { name: "the batch", value: batch }, {
      buffers: [
        { what: `a states buffer (batch × ${stack.spec.inputs} inputs × 4 bytes)`, bytesPerUnit: stack.spec.inputs * 4, binding: "ranges" },
        { what: `logits buffers (batch × ${stack.spec.outputs} actions × 4 bytes)`, bytesPerUnit: stack.spec.outputs * 4, binding: "ranges", count: 2 },
      ],
    });
    const logitsBytes = batch * stack.spec.outputs * 4;
    const statesBuffer = scratchBuffer(stack, "states", states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
    // COPY_DST: an empty stack clears the logits instead of running the kernel.
    const logitsBuffer = scratchBuffer(stack, "logits", logitsBytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST);
    const readback = scratchBuffer(stack, "readback", logitsBytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    gpu.device.queue.writeBuffer(statesBuffer, 0, states.buffer, states.byteOffset, states.byteLength);
    const encoder = gpu.device.createCommandEncoder({ label: `${stack.label} stackLogits` });
    const prepared = await encodePrepared(stack, encoder, { states: statesBuffer, logits: logitsBuffer, batch }, {});
    encoder.copyBufferToBuffer(logitsBuffer, 0, readback, 0, logitsBytes);
    gpu.device.queue.submit([encoder.finish()]);
    await waitPatiently(prepared.duration, gpu.info.busyPolls, performance.now(), () => mapForReading(gpu, readback, 0, logitsBytes));
    const logits = new Float32Array(readback.getMappedRange(0, logitsBytes).slice(0));
    readback.unmap();
    return logits;
  };
  const result = stack.evaluationQueue.then(run, run);
  stack.evaluationQueue = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}
