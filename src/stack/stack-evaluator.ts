/**
 * What a stack keeps for evaluating itself, created and destroyed with it: its prepared
 * evaluations, the scratch buffers of `stackLogits` (states, logits) and of the partial sums, the
 * readback of `stackLogits` and the queue its calls run through.
 *
 * A few prepared evaluations are kept, the least recently used dropped first: an acting loop
 * evaluates the same buffers every step (and so prepares nothing after its first call), and may
 * alternate with a greedy evaluation of another batch and the replay buffer's precompute. One is
 * found by its buffers, offsets, batch and number of stored snapshots, which is all of the stack's
 * state it depends on (prepared-evaluation.ts): a push that fills a slot prepares anew, a push into
 * a full ring does not. Dropped evaluations and outgrown scratch buffers are not destroyed, since
 * work encoded with them may not be submitted yet; the garbage collector frees them.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { checkBudget } from "../gpu/buffer-budget.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { Readback } from "../gpu/readback.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import { prepareEvaluation, type EvaluatedStack, type PreparedEvaluation } from "./prepared-evaluation.ts";
import { validateIO, validateStates, type EncodeOptions, type StackLogitsIO } from "./stack-logits.ts";

const MAX_PREPARED = 4;

export class StackEvaluator {
  private readonly prepared = new Map<string, PreparedEvaluation>();
  private readonly scratch = new Map<string, GPUBuffer>();
  /** Cache keys name buffers by a number of this evaluator's. */
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly readback: Readback;
  /** Runs `logits` calls one at a time: they share the scratch buffers and the readback. */
  private readonly calls = new SerialQueue();
  private destroyed = false;

  constructor(private readonly stack: EvaluatedStack) {
    this.readback = new Readback(stack.gpu, `${stack.label} logits`);
  }

  /** Records the evaluation of `io` into `encoder` and returns the prepared evaluation it used. */
  async encode(encoder: GPUCommandEncoder, io: StackLogitsIO, options: EncodeOptions = {}): Promise<PreparedEvaluation> {
    this.alive();
    validateIO(this.stack, io);
    const prepared = await this.prepare(io);
    prepared.encode(encoder, options);
    return prepared;
  }

  /**
   * `stackLogits`: uploads `states`, evaluates them and reads the logits back, one call at a time.
   * What a call evaluates is fixed when it is made: the states are checked and copied then (the
   * caller may reuse its array at once), and a call that would run after the stack changed rejects
   * (see `unchangedSince`).
   */
  logits(callerStates: Float32Array): Promise<Float32Array> {
    let states: Float32Array;
    let batch: number;
    try {
      this.alive();
      batch = validateStates(callerStates, this.stack.spec.inputs);
      states = callerStates.slice();
    } catch (error) {
      return Promise.reject(error);
    }
    const version = this.stack.version;
    return this.calls.run(async () => {
      this.alive();
      const { gpu, spec, label } = this.stack;
      // The kernel splits a large batch into row ranges, but each scratch buffer is one buffer.
      checkBudget(
        gpu.info,
        { name: "the batch", value: batch },
        {
          buffers: [
            { what: `a states buffer (batch × ${spec.inputs} inputs × 4 bytes)`, bytesPerUnit: spec.inputs * 4, binding: "ranges" },
            {
              what: `logits buffers (batch × ${spec.outputs} actions × 4 bytes)`,
              bytesPerUnit: spec.outputs * 4,
              binding: "ranges",
              count: 2,
            },
          ],
        },
      );
      const logitsBytes = batch * spec.outputs * 4;
      const statesBuffer = this.scratchBuffer("states", states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
      // COPY_DST: an empty stack clears the logits instead of running the kernel.
      const logitsBuffer = this.scratchBuffer("logits", logitsBytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST);
      gpu.writeBuffer(statesBuffer, 0, states);
      const encoder = gpu.encoder(`${label} stackLogits`);
      const prepared = await this.encode(encoder, { states: statesBuffer, logits: logitsBuffer, batch });
      unchangedSince(this.stack, version, "stackLogits");
      const [logits] = await this.readback.read(encoder, [{ source: logitsBuffer, bytes: logitsBytes }], prepared.duration);
      return new Float32Array(logits);
    });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const prepared of this.prepared.values()) prepared.destroy();
    this.prepared.clear();
    for (const buffer of this.scratch.values()) buffer.destroy();
    this.scratch.clear();
    this.readback.destroy();
  }

  private alive(): void {
    if (this.destroyed) throw new StaqGpuError(`${this.stack.label} was destroyed`);
    if (this.stack.gpu.destroyed) throw new StaqGpuError(`${this.stack.label}'s Gpu was destroyed; create a new Gpu and stack`);
  }

  private async prepare(io: StackLogitsIO): Promise<PreparedEvaluation> {
    const key = [
      this.bufferId(io.states),
      io.statesOffset ?? 0,
      this.bufferId(io.logits),
      io.logitsOffset ?? 0,
      io.batch,
      this.stack.size,
    ].join(",");
    const cached = this.prepared.get(key);
    if (cached) {
      // Most recently used last.
      this.prepared.delete(key);
      this.prepared.set(key, cached);
      return cached;
    }
    while (this.prepared.size >= MAX_PREPARED) this.prepared.delete(this.prepared.keys().next().value!);
    const prepared = await prepareEvaluation(this.stack, io, (bytes) =>
      this.scratchBuffer("partials", bytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
    );
    if (this.destroyed) {
      // Destroyed while the kernels compiled: nothing can encode it any more.
      prepared.destroy();
      this.alive();
    }
    this.prepared.set(key, prepared);
    return prepared;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  /** A scratch buffer, grown (doubling) when too small. */
  private scratchBuffer(name: string, bytes: number, usage: number): GPUBuffer {
    this.alive(); // a buffer made after destroy() would never be destroyed
    const existing = this.scratch.get(name);
    if (existing && existing.size >= bytes) return existing;
    this.prepared.clear(); // prepared bind groups may reference the old buffer
    // Doubling must not push a size that fits over the device's limit.
    const doubled = Math.min(existing ? existing.size * 2 : 0, Math.floor(this.stack.gpu.info.limits.maxBufferSize / 4) * 4);
    const buffer = createBuffer(this.stack.gpu, Math.max(bytes, doubled), usage, `${this.stack.label} ${name}`);
    this.scratch.set(name, buffer);
    return buffer;
  }
}

/** A queued stackLogits or act call whose stack changed before it ran (a StaqInputError: await calls before changing the stack). */
export class StaqStackChangedError extends StaqInputError {}

/**
 * Throws unless `stack` is still at `version`: a call queued behind other work (or waiting for a
 * kernel to compile) that would otherwise evaluate the snapshots a later `push` or `set` wrote,
 * not those the stack held when the call was made. Checked right before the call's submit, after
 * which the stack's writes queue behind it.
 */
export function unchangedSince(stack: Pick<EvaluatedStack, "label" | "version">, version: number, call: string): void {
  if (stack.version !== version) {
    throw new StaqStackChangedError(
      `${call}: ${stack.label} changed (push or set) after this call was made and before it ran; await the call before changing the stack`,
    );
  }
}
