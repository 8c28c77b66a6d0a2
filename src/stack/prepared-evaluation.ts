/**
 * One stack evaluation made ready to record: the dispatches dispatch-plan.ts plans for a states
 * buffer, a logits buffer, a batch and a number of stored snapshots, each kernel bound by name
 * with its parameters in a slot of one uniform buffer. Nothing in it changes after it is prepared,
 * so it can be recorded any number of times, into one encoder or many, and encoded work stays
 * valid after the stack's evaluator stops keeping it.
 *
 * It depends on the stack only through the number of stored snapshots (the weights chunks and the
 * coefficients buffer are allocated once, with the stack), so a push that leaves that number
 * alone leaves it valid. A selection of snapshots (`SnapshotSelection`) is fixed when prepared.
 */
import type { Kernel, Workgroups } from "../gpu/kernel.ts";
import { DurationEstimate } from "../gpu/patient-wait.ts";
import { UniformSlots } from "../gpu/uniform-slots.ts";
import { StaqInputError } from "../errors.ts";
import { planStackDispatch, storedRange, type SnapshotRange } from "./dispatch-plan.ts";
import type { Stack } from "./stack.ts";
import type { EncodeOptions, StackLogitsIO } from "./stack-logits.ts";
import { stackForwardConstants } from "./tiling.ts";

/** What an evaluation reads of the stack. */
export type EvaluatedStack = Pick<
  Stack,
  "gpu" | "label" | "spec" | "layout" | "ensemble" | "chunks" | "coefficientBuffer" | "targetWorkgroups" | "convFusion" | "size" | "version"
>;

interface Step {
  kernel: Kernel;
  group: GPUBindGroup;
  workgroups: Workgroups;
}

export class PreparedEvaluation {
  /** How long a `stackLogits` round trip of this evaluation takes (see patient-wait.ts). */
  readonly duration = new DurationEstimate();

  constructor(
    private readonly label: string,
    private readonly steps: readonly Step[],
    /** The uniform slots of the steps; none for an empty stack. */
    private readonly slots: UniformSlots | undefined,
    /** With an empty stack the logits are all zero (the uniform policy): this range is cleared instead. */
    private readonly cleared: GPUBufferBinding | undefined,
  ) {}

  /** Records the evaluation into `encoder`: one compute pass. */
  encode(encoder: GPUCommandEncoder, options: EncodeOptions = {}): void {
    if (this.cleared) encoder.clearBuffer(this.cleared.buffer, this.cleared.offset, this.cleared.size);
    const pass = encoder.beginComputePass({ label: `${this.label} logits`, timestampWrites: options.timestampWrites });
    // A pass is recorded even when empty, so that timestamps always bracket the evaluation.
    for (const step of this.steps) step.kernel.dispatch(pass, step.group, step.workgroups);
    pass.end();
  }

  /** Frees the uniform buffer; only for when no encoded work that uses it can still be submitted. */
  destroy(): void {
    this.slots?.destroy();
  }
}

/**
 * Some of the stack's snapshots with coefficients of the caller's: the sum over `range` instead of
 * the logits (the replay buffer's incremental update evaluates the slot a push writes this way).
 */
export interface SnapshotSelection {
  range: SnapshotRange;
  /** float32, at least range.end − range.coefficientOffset values. */
  coefficients: GPUBuffer;
}

function checkSelection(stack: EvaluatedStack, selection: SnapshotSelection): void {
  const { begin, end, coefficientOffset } = selection.range;
  const total = stack.chunks.reduce((n, chunk) => n + chunk.capacity, 0);
  if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && begin <= end && end <= total)) {
    throw new StaqInputError(`snapshot range [${begin}, ${end}) is not inside the stack's ${total} snapshots`);
  }
  if (!(Number.isInteger(coefficientOffset) && coefficientOffset >= 0 && coefficientOffset <= begin)) {
    throw new StaqInputError(`coefficientOffset ${coefficientOffset} must be an integer in [0, ${begin}]`);
  }
  if ((end - coefficientOffset) * 4 > selection.coefficients.size) {
    throw new StaqInputError(
      `the coefficients buffer holds ${selection.coefficients.size} bytes; snapshots [${begin}, ${end}) from offset ${coefficientOffset} need ${(end - coefficientOffset) * 4}`,
    );
  }
}

/**
 * Prepares the evaluation of `io` (already validated): every stored snapshot with the stack's
 * coefficients (its logits), or `selection`. `partials(bytes)` gives the buffer of partial sums
 * when the plan needs one.
 */
export async function prepareEvaluation(
  stack: EvaluatedStack,
  io: StackLogitsIO,
  partials: (bytes: number) => GPUBuffer,
  selection?: SnapshotSelection,
): Promise<PreparedEvaluation> {
  const { gpu, label } = stack;
  const { inputs, outputs } = stack.spec;
  const statesOffset = io.statesOffset ?? 0;
  const logitsOffset = io.logitsOffset ?? 0;
  if (selection) checkSelection(stack, selection);
  const range = selection?.range ?? storedRange(stack.ensemble, stack.size);
  const coefficients = selection?.coefficients ?? stack.coefficientBuffer;
  if (range.end === range.begin) {
    return new PreparedEvaluation(label, [], undefined, { buffer: io.logits, offset: logitsOffset, size: io.batch * outputs * 4 });
  }
  const plan = planStackDispatch(stack, range, io.batch, gpu.info.limits);
  const forward = await gpu.kernel("stack_forward", stackForwardConstants(stack.layout, plan.tiling));
  const needsReduce = plan.rowChunks.some((chunk) => chunk.parts > 1);
  const reduce = needsReduce ? await gpu.kernel("stack_reduce", {}) : undefined;
  const sums = needsReduce ? partials(plan.partialRows * outputs * 4) : undefined;

  const slotCount = plan.rowChunks.reduce((n, chunk) => n + chunk.forward.length + (chunk.parts > 1 ? 1 : 0), 0);
  const slots = new UniformSlots(gpu, slotCount, `${label} evaluation`);
  const steps: Step[] = [];
  for (const chunk of plan.rowChunks) {
    const states = { buffer: io.states, offset: statesOffset + chunk.firstRow * inputs * 4, size: chunk.rows * inputs * 4 };
    const logits = { buffer: io.logits, offset: logitsOffset + chunk.firstRow * outputs * 4, size: chunk.rows * outputs * 4 };
    const elements = chunk.rows * outputs;
    const parts = chunk.parts === 1 ? undefined : { buffer: sums!, offset: 0, size: chunk.parts * elements * 4 };
    for (const dispatch of chunk.forward) {
      const slot = steps.length;
      slots.write(slot, forward, {
        batch: chunk.rows,
        snapshot_begin: dispatch.snapshotBegin,
        snapshot_count: dispatch.snapshotCount,
        coefficient_base: dispatch.coefficientBase,
        part_base: dispatch.partBase,
      });
      const group = forward.bind(
        {
          params: slots.binding(slot),
          states,
          weights: stack.chunks[dispatch.chunk].buffer,
          coefficients,
          out: parts ?? logits,
        },
        `${label} forward`,
      );
      // x: tiles of states (each tileRows rows, not one thread each), y: runs of snapshots.
      steps.push({ kernel: forward, group, workgroups: { x: chunk.tiles, y: dispatch.runs, z: 1 } });
    }
    if (parts) {
      const slot = steps.length;
      slots.write(slot, reduce!, { elements, parts: chunk.parts });
      const group = reduce!.bind({ params: slots.binding(slot), parts, logits }, `${label} reduce`);
      steps.push({ kernel: reduce!, group, workgroups: reduce!.grid(elements) });
    }
  }
  slots.upload();
  return new PreparedEvaluation(label, steps, slots, undefined);
}
