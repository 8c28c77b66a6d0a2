/**
 * Stack evaluation: logits[b, a] = correction · mean_e Σ_i c[e,i] · MLP_{e,i}(states[b])[a].
 *
 * One `stack_forward` dispatch per weights chunk (one chunk unless the stack is larger than a
 * storage binding) evaluates every stored snapshot; when the batch is too small to fill the GPU
 * the snapshots are spread over several runs and one `stack_reduce` dispatch adds the runs in a
 * fixed order. The number of dispatches never depends on M.
 *
 * `encodeStackLogits` records the work into the caller's encoder (states and logits stay on the
 * GPU); `stackLogits` uploads states from the CPU and reads the logits back. Both go through the
 * stack's evaluator (stack-evaluator.ts), which keeps the prepared evaluations
 * (prepared-evaluation.ts, planned by dispatch-plan.ts) and the buffers `stackLogits` reuses.
 */
import { StaqInputError } from "../errors.ts";
import type { Stack } from "./stack.ts";

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

/** Checks the batch, the offsets and that both buffers hold the batch. */
export function validateIO(stack: Pick<Stack, "gpu" | "spec">, io: StackLogitsIO): void {
  const { inputs, outputs } = stack.spec;
  if (!(Number.isInteger(io.batch) && io.batch >= 1)) throw new StaqInputError(`batch must be an integer >= 1; got ${io.batch}`);
  const alignment = stack.gpu.info.limits.minStorageBufferOffsetAlignment;
  for (const [name, offset] of [
    ["statesOffset", io.statesOffset ?? 0],
    ["logitsOffset", io.logitsOffset ?? 0],
  ] as const) {
    if (!(Number.isInteger(offset) && offset >= 0 && offset % alignment === 0)) {
      throw new StaqInputError(`${name} is ${offset}; buffer bindings must start at a multiple of ${alignment} bytes on this device`);
    }
  }
  const statesEnd = (io.statesOffset ?? 0) + io.batch * inputs * 4;
  if (statesEnd > io.states.size) {
    throw new StaqInputError(
      `states buffer holds ${io.states.size} bytes; ${io.batch} states of ${inputs} inputs from offset ${io.statesOffset ?? 0} need ${statesEnd}`,
    );
  }
  const logitsEnd = (io.logitsOffset ?? 0) + io.batch * outputs * 4;
  if (logitsEnd > io.logits.size) {
    throw new StaqInputError(
      `logits buffer holds ${io.logits.size} bytes; ${io.batch} × ${outputs} logits from offset ${io.logitsOffset ?? 0} need ${logitsEnd}`,
    );
  }
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

/** Records the evaluation of `io.batch` states into `encoder`. Nothing is read back. */
export async function encodeStackLogits(
  stack: Stack,
  encoder: GPUCommandEncoder,
  io: StackLogitsIO,
  options: EncodeOptions = {},
): Promise<void> {
  await stack.evaluator.encode(encoder, io, options);
}

/**
 * Evaluates the stack on CPU states ([batch, inputs], row-major) and returns the logits
 * ([batch, actions]). Calls on one stack run one after another. A call evaluates what it was
 * given when it was made: `states` is copied then, and a `push` or `set` before the call has run
 * makes it reject rather than evaluate the changed stack (await it before changing the stack).
 */
export function stackLogits(stack: Stack, states: Float32Array): Promise<Float32Array> {
  return stack.evaluator.logits(states);
}
