/**
 * The stack: a GPU-resident ring of M snapshot slots per ensemble member, allocated once, and the
 * PMD coefficients that weight them.
 *
 * `push` writes one snapshot per member into the next slot (overwriting the oldest once the ring
 * is full) and applies one PMD step to the coefficients; it costs one snapshot's upload plus the
 * E·M coefficients, never a copy of the other snapshots. Evaluation lives in stack-logits.ts; what
 * it keeps between calls is the stack's evaluator (stack-evaluator.ts), created and destroyed with
 * the stack.
 */
import { StaqInputError, StaqGpuError } from "../errors.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { float32Problem } from "../io/float32-range.ts";
import { describeValue } from "../io/describe-value.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { readFloat32 } from "../gpu/readback.ts";
import { checkBudget, type Budget } from "../gpu/buffer-budget.ts";
import type { Gpu } from "../gpu/gpu.ts";
import {
  keptFactor,
  pmdRates,
  pmdStep,
  stackSlots,
  validatePmdOptions,
  type PmdNormalization,
  type PmdVariant,
  type StackRule,
} from "../pmd/coefficients.ts";
import { packSnapshot, planChunks, snapshotLayout, unpackSnapshot, type SnapshotLayout } from "./layout.ts";
import { copyMlpSpec, validateMlpSpec, validateMlpWeights, type MlpSpec, type MlpWeights } from "./mlp.ts";
import { StackEvaluator } from "./stack-evaluator.ts";

export interface PmdSettings {
  /** KL weight η. */
  eta: number;
  /** Entropy weight τ of the latest push (or the initial τ before any push). */
  tau: number;
  /** Discount γ; recorded in saved stacks for the reader, not used by the stack itself. */
  gamma: number;
  variant: PmdVariant;
  normalization: PmdNormalization;
  /** What a push keeps: exact finite-memory PMD, or the StaQ authors' code (M + 1 snapshots, the current α on all). */
  rule: StackRule;
}

export interface StackOptions extends Partial<PmdSettings> {
  mlp: MlpSpec;
  /** M, the number of snapshots kept per ensemble member. */
  memory: number;
  /** E, the number of ensemble members (default 1); the logits are their mean. */
  ensemble?: number;
  /** Largest weights buffer, in bytes (default: the device's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
  /**
   * Workgroups one evaluation aims for. When a batch has fewer tiles than this, the snapshots
   * are spread over several runs whose sums are added by a second, deterministic dispatch.
   */
  targetWorkgroups?: number;
  /**
   * Whether a conv layer and the dense layer after it are evaluated together, a chunk of the
   * conv's output at a time (default true; src/stack/tiling.ts says why). false evaluates the conv
   * layer whole first, the plan before chunks: for benchmarks that compare the two.
   */
  convFusion?: boolean;
  label?: string;
}

export interface WeightsChunk {
  buffer: GPUBuffer;
  /** Flat index (slot · E + member) of the chunk's first snapshot. */
  first: number;
  /** Snapshots the chunk holds. */
  capacity: number;
}

/** What the next push will do, for a caller that keeps sums in step with the stack (docs/algorithm.md, “Incremental logits”). */
export interface PushPreview {
  /** The ring slot the push writes: flat snapshot indices [slot · E, slot · E + E). */
  slot: number;
  /** α of the push: the new snapshot's coefficient. */
  alpha: number;
  /** The factor on every kept coefficient: β of the push (β·α/α_previous under the authors' rule). */
  beta: number;
  /** Per member, the coefficient of the snapshot the push overwrites (before the push); absent while the ring is not full. */
  leaving?: Float64Array;
}

export interface Stack {
  readonly gpu: Gpu;
  readonly spec: MlpSpec;
  readonly layout: SnapshotLayout;
  readonly memory: number;
  /** Ring slots per member: M, or M + 1 under the authors' rule. */
  readonly slots: number;
  readonly ensemble: number;
  readonly pmd: Readonly<PmdSettings>;
  readonly targetWorkgroups: number;
  readonly convFusion: boolean;
  readonly label: string;
  /** Snapshots stored per member (≤ slots). */
  readonly size: number;
  /** Per member, c_i oldest first (copies). */
  readonly coefficients: Float64Array[];
  readonly correction: number;
  readonly chunks: readonly WeightsChunk[];
  /** float32 per flat snapshot index: correction · c / E, zero for empty slots. */
  readonly coefficientBuffer: GPUBuffer;
  /** Ring slots, oldest snapshot first. */
  slotsOldestFirst(): number[];
  /**
   * Counts the changes of contents (pushes and `set`s): anything computed from the stack at one
   * version, such as the replay buffer's sums, is stale at another.
   */
  readonly version: number;
  /** What a push with `tau` (default: the current τ) would do now; changes nothing. */
  nextPush(tau?: number): PushPreview;
  /**
   * Writes one snapshot per member into the next slot and applies one PMD step with `tau`
   * (default: the stack's current τ).
   */
  push(snapshot: MlpWeights | readonly MlpWeights[], options?: { tau?: number }): void;
  /**
   * `push`, with the snapshots already on the GPU: `source` holds E snapshots in this stack's
   * layout, member after member from `sourceOffset` bytes (a trainer's parameters), and they are
   * copied into the next slot on the GPU, in queue order with other submitted work.
   */
  pushFromBuffer(source: GPUBuffer, options?: { tau?: number; sourceOffset?: number }): void;
  /**
   * Replaces the whole contents: `snapshots[e][i]` oldest first, with their coefficients and the
   * correction (as read from a file). At most `slots` snapshots per member.
   */
  set(contents: {
    snapshots: readonly (readonly MlpWeights[])[];
    coefficients: readonly Float64Array[];
    correction: number;
    tau?: number;
    oldestSlot?: number;
  }): void;
  /** Reads every stored snapshot back from the GPU: `[member][i]`, oldest first. */
  readSnapshots(): Promise<MlpWeights[][]>;
  /**
   * The stack's evaluation state: its prepared evaluations and the buffers `stackLogits` reuses.
   * Use it through `encodeStackLogits` and `stackLogits` (stack-logits.ts).
   */
  readonly evaluator: StackEvaluator;
  readonly destroyed: boolean;
  destroy(): void;
}

export const DEFAULT_TARGET_WORKGROUPS = 256;

function positiveInteger(value: unknown, name: string): number {
  if (!(typeof value === "number" && Number.isInteger(value) && value >= 1)) {
    throw new StaqInputError(`${name} must be an integer >= 1; got ${typeof value === "number" ? value : JSON.stringify(value)}`);
  }
  return value;
}

/**
 * What a stack of `ensemble` members needs per snapshot slot (per unit of M): a float32
 * coefficient per member in one buffer bound whole, the snapshots in weight buffers split to fit
 * a binding each, and on the host the float64 coefficients of every member twice (kept, and the
 * next PMD step's) plus their float32 upload.
 */
export function stackBudget(layout: SnapshotLayout, ensemble: number): Budget {
  return {
    buffers: [
      {
        what: `a coefficients buffer (M × ${ensemble} member${ensemble > 1 ? "s" : ""} × 4 bytes)`,
        bytesPerUnit: 4 * ensemble,
        binding: "whole",
      },
      { what: "weight buffers", bytesPerUnit: layout.vec4s * 16 * ensemble, binding: "split" },
    ],
    hostBytesPerUnit: (8 + 8 + 4) * ensemble,
  };
}

/** The keys of createStack's options: a misspelt one ("memroy") would otherwise be a default taken silently. */
const STACK_OPTION_KEYS = [
  "mlp",
  "memory",
  "ensemble",
  "maxBindingBytes",
  "targetWorkgroups",
  "convFusion",
  "label",
  "eta",
  "tau",
  "gamma",
  "variant",
  "normalization",
  "rule",
];

/**
 * η, τ, γ and the correction are saved as metadata that a load refuses outside float32's normal
 * range (src/io/stack-file.ts), and τ and the correction reach float32 kernels: refused here, a
 * value such as τ = 1e-40 would otherwise be used and saved, and the stack file never load.
 */
function checkFloat32Setting(who: string, name: string, value: number): void {
  const problem = float32Problem(value);
  if (problem !== undefined) throw new StaqInputError(`${who}: ${name} = ${value} ${problem}`);
}

/** What the GPU computes with for coefficient c of an E-member stack: correction · c / E, stored as float32. */
export function uploadedWeight(correction: number, c: number, members: number): number {
  return Math.fround((correction * c) / members);
}

/**
 * Refuses coefficients and a correction that would not reach the GPU, or a saved stack file, as
 * finite float32 values: each must, and so must their product, the weight a snapshot's logits are
 * multiplied by. `pmd`, the settings of the step that made them, explains the commonest way
 * there: a τ so small beside η that β = η/(η + τ) rounds to 1 and the corrected variant's
 * 1/(1 − β^M) is infinite.
 */
function checkWeights(
  who: string,
  coefficients: readonly ArrayLike<number>[],
  correction: number,
  pmd?: { eta: number; tau: number },
): void {
  if (!Number.isFinite(correction)) {
    const why =
      pmd && pmd.eta / (pmd.eta + pmd.tau) === 1
        ? ` (η = ${pmd.eta} and τ = ${pmd.tau}: β = η/(η + τ) rounds to 1 and 1/(1 − β^M) overflows); use a τ less small beside η, or variant "vanilla"`
        : "; it must be finite";
    throw new StaqInputError(`${who}: the correction is ${correction}${why}`);
  }
  checkFloat32Setting(who, "correction", correction);
  coefficients.forEach((list, e) => {
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (!Number.isFinite(Math.fround(c)))
        throw new StaqInputError(
          `${who}: coefficient [${e}, ${i}] is ${c}; coefficients must be finite float32 numbers (a saved stack holds them as float32)`,
        );
      if (!Number.isFinite(uploadedWeight(correction, c, coefficients.length)))
        throw new StaqInputError(
          `${who}: coefficient [${e}, ${i}] is ${c} and the correction ${correction}: the weight correction · c / E = ${(correction * c) / coefficients.length} is beyond float32's range, so the GPU would compute with Infinity`,
        );
    }
  });
}

export function createStack(gpu: Gpu, options: StackOptions): Stack {
  if (gpu.destroyed) throw new StaqGpuError("createStack: this Gpu was destroyed");
  checkOptionKeys(options, STACK_OPTION_KEYS, "createStack");
  validateMlpSpec(options.mlp);
  const memory = positiveInteger(options.memory, "memory");
  const ensemble = positiveInteger(options.ensemble ?? 1, "ensemble");
  const targetWorkgroups = positiveInteger(options.targetWorkgroups ?? DEFAULT_TARGET_WORKGROUPS, "targetWorkgroups");
  const convFusion = options.convFusion ?? true;
  if (typeof convFusion !== "boolean") throw new StaqInputError(`convFusion must be true or false; got ${JSON.stringify(convFusion)}`);
  const label = options.label ?? "staq stack";
  const pmd: PmdSettings = {
    eta: options.eta ?? 20,
    tau: options.tau ?? 1,
    gamma: options.gamma ?? 0.99,
    variant: options.variant ?? "corrected",
    normalization: options.normalization ?? "memory",
    rule: options.rule ?? "exact",
  };
  validatePmdOptions({ ...pmd, memory });
  if (!(Number.isFinite(pmd.gamma) && pmd.gamma >= 0 && pmd.gamma < 1)) {
    throw new StaqInputError(`gamma must be in [0, 1); got ${pmd.gamma}`);
  }
  for (const name of ["eta", "tau", "gamma"] as const) checkFloat32Setting("createStack", name, pmd[name]);
  // The first push's step has the largest correction a run at this τ meets (later ones hold more
  // mass, or the same under memory normalization): refused now, not at the first push.
  const first = pmdStep(new Float64Array(0), { ...pmd, memory });
  checkWeights("createStack", [first.coefficients], first.correction, pmd);
  const slots = stackSlots(memory, pmd.rule);

  const spec = copyMlpSpec(options.mlp);
  const layout = snapshotLayout(spec);
  // Before any allocation: an M beyond the device's limits would otherwise give invalid bind
  // groups (and all-zero logits), and one beyond the host's memory a crash.
  checkBudget(
    gpu.info,
    { name: pmd.rule === "authors" ? "memory M + 1 (the authors' rule)" : "memory M", value: slots },
    stackBudget(layout, ensemble),
  );
  if (options.maxBindingBytes !== undefined) positiveInteger(options.maxBindingBytes, "maxBindingBytes");
  const maxBindingBytes = Math.min(
    options.maxBindingBytes ?? Infinity,
    gpu.info.limits.maxStorageBufferBindingSize,
    gpu.info.limits.maxBufferSize,
  );
  const plan = planChunks(layout, slots * ensemble, maxBindingBytes);
  const snapshotBytes = layout.vec4s * 16;
  const chunks: WeightsChunk[] = plan.chunkSizes.map((capacity, k) => ({
    buffer: createBuffer(
      gpu,
      capacity * snapshotBytes,
      BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
      `${label} weights ${k}`,
    ),
    first: k * plan.snapshotsPerChunk,
    capacity,
  }));
  const coefficientBuffer = createBuffer(gpu, slots * ensemble * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST, `${label} coefficients`);

  let size = 0;
  let next = 0; // slot the next push writes
  let coefficients: Float64Array[] = Array.from({ length: ensemble }, () => new Float64Array(0));
  let correction = 1;
  let version = 0;
  let destroyed = false;
  const evaluator = new StackEvaluator({
    gpu,
    label,
    spec,
    layout,
    ensemble,
    chunks,
    coefficientBuffer,
    targetWorkgroups,
    convFusion,
    get size() {
      return size;
    },
    get version() {
      return version;
    },
  });

  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
    if (gpu.destroyed) throw new StaqGpuError(`${label}'s Gpu was destroyed; create a new Gpu and stack`);
  };

  const slotsOldestFirst = () =>
    size < slots ? Array.from({ length: size }, (_, i) => i) : Array.from({ length: slots }, (_, i) => (next + i) % slots);

  /** Which weights buffer holds a member's snapshot in a slot, and at which byte offset. */
  function slotLocation(slot: number, member: number): { chunk: number; offset: number } {
    const flat = slot * ensemble + member;
    const chunk = Math.floor(flat / plan.snapshotsPerChunk);
    return { chunk, offset: (flat - chunks[chunk].first) * snapshotBytes };
  }

  function writeSlot(slot: number, member: number, weights: MlpWeights): void {
    const { chunk, offset } = slotLocation(slot, member);
    gpu.writeBuffer(chunks[chunk].buffer, offset, packSnapshot(layout, weights));
  }

  /**
   * The PMD step of a push with `tau` (default: the current τ) and the coefficients it leads to,
   * checked whole before anything is written.
   */
  function plannedStep(who: string, tau = pmd.tau) {
    const step = { eta: pmd.eta, tau, memory, variant: pmd.variant, normalization: pmd.normalization, rule: pmd.rule };
    validatePmdOptions(step);
    checkFloat32Setting(who, "tau", tau);
    const stepped = coefficients.map((c) => pmdStep(c, step));
    checkWeights(
      who,
      stepped.map((s) => s.coefficients),
      stepped[0].correction,
      step,
    );
    return { step, stepped };
  }

  /** After a push's snapshots were written to slot `next`: the planned PMD step, and the ring moves on. */
  function advance({ step, stepped }: ReturnType<typeof plannedStep>): void {
    coefficients = stepped.map((s) => s.coefficients);
    correction = stepped[0].correction;
    pmd.tau = step.tau;
    version++;
    next = (next + 1) % slots;
    size = Math.min(size + 1, slots);
    writeCoefficients();
  }

  /** Uploads correction · c / E per flat snapshot index. */
  function writeCoefficients(): void {
    const flat = new Float32Array(slots * ensemble);
    slotsOldestFirst().forEach((slot, age) => {
      for (let e = 0; e < ensemble; e++) flat[slot * ensemble + e] = uploadedWeight(correction, coefficients[e][age], ensemble);
    });
    gpu.writeBuffer(coefficientBuffer, 0, flat);
  }

  function members(snapshot: MlpWeights | readonly MlpWeights[]): readonly MlpWeights[] {
    const list = Array.isArray(snapshot) ? (snapshot as readonly MlpWeights[]) : [snapshot as MlpWeights];
    if (list.length !== ensemble) {
      throw new StaqInputError(`push: the stack has ${ensemble} ensemble members, so it needs ${ensemble} networks; got ${list.length}`);
    }
    list.forEach((weights, e) => validateMlpWeights(spec, weights, ensemble > 1 ? `snapshot[${e}]` : "snapshot"));
    return list;
  }

  const stack: Stack = {
    gpu,
    spec,
    layout,
    memory,
    slots,
    ensemble,
    targetWorkgroups,
    convFusion,
    label,
    get pmd() {
      return { ...pmd };
    },
    get size() {
      return size;
    },
    get coefficients() {
      return coefficients.map((c) => c.slice());
    },
    get correction() {
      return correction;
    },
    chunks,
    coefficientBuffer,
    evaluator,
    get destroyed() {
      return destroyed;
    },
    slotsOldestFirst,
    get version() {
      return version;
    },
    nextPush(tau) {
      alive();
      const { step } = plannedStep("nextPush", tau);
      const { alpha } = pmdRates(step.eta, step.tau);
      // The slot `next` holds the oldest snapshot once the ring is full (pmdStep drops it).
      const leaving = size === slots ? Float64Array.from(coefficients, (c) => c[0]) : undefined;
      return { slot: next, alpha, beta: keptFactor(coefficients[0], step), leaving };
    },
    push(snapshot, pushOptions = {}) {
      alive();
      checkOptionKeys(pushOptions, ["tau"], "push");
      const list = members(snapshot);
      const planned = plannedStep("push", pushOptions.tau);
      list.forEach((weights, e) => writeSlot(next, e, weights));
      advance(planned);
    },
    pushFromBuffer(source, pushOptions = {}) {
      alive();
      checkOptionKeys(pushOptions, ["tau", "sourceOffset"], "pushFromBuffer");
      const sourceOffset = pushOptions.sourceOffset ?? 0;
      if (!(Number.isInteger(sourceOffset) && sourceOffset >= 0 && sourceOffset % 4 === 0)) {
        throw new StaqInputError(`pushFromBuffer: sourceOffset must be a non-negative multiple of 4; got ${sourceOffset}`);
      }
      if ((source.usage & BufferUsage.COPY_SRC) === 0) throw new StaqInputError("pushFromBuffer: the source buffer lacks COPY_SRC usage");
      if (sourceOffset + ensemble * snapshotBytes > source.size) {
        throw new StaqInputError(
          `pushFromBuffer: ${ensemble} snapshots of ${snapshotBytes} bytes from offset ${sourceOffset} need ${sourceOffset + ensemble * snapshotBytes} bytes; the buffer holds ${source.size}`,
        );
      }
      const planned = plannedStep("pushFromBuffer", pushOptions.tau);
      const encoder = gpu.encoder(`${label} push`);
      for (let e = 0; e < ensemble; e++) {
        const { chunk, offset } = slotLocation(next, e);
        encoder.copyBufferToBuffer(source, sourceOffset + e * snapshotBytes, chunks[chunk].buffer, offset, snapshotBytes);
      }
      gpu.submit([encoder.finish()]);
      advance(planned);
    },
    set(contents) {
      alive();
      const { snapshots, correction: newCorrection } = contents;
      if (snapshots.length !== ensemble || contents.coefficients.length !== ensemble) {
        throw new StaqInputError(`set: expected snapshots and coefficients for ${ensemble} ensemble members`);
      }
      const count = snapshots[0].length;
      if (count > slots)
        throw new StaqInputError(
          `set: ${count} snapshots per member, but the stack holds ${slots} (memory ${memory}${pmd.rule === "authors" ? ", plus one under the authors' rule" : ""})`,
        );
      snapshots.forEach((list, e) => {
        if (list.length !== count) throw new StaqInputError(`set: member ${e} has ${list.length} snapshots, member 0 has ${count}`);
        if (contents.coefficients[e].length !== count) {
          throw new StaqInputError(`set: member ${e} has ${contents.coefficients[e].length} coefficients for ${count} snapshots`);
        }
        list.forEach((weights, i) => validateMlpWeights(spec, weights, `snapshot [${e}, ${i}]`));
      });
      if (contents.tau !== undefined) {
        if (!(typeof contents.tau === "number" && Number.isFinite(contents.tau) && contents.tau > 0))
          throw new StaqInputError(`set: tau must be a finite number > 0; got ${describeValue(contents.tau)}`);
        checkFloat32Setting("set", "tau", contents.tau);
      }
      checkWeights("set", contents.coefficients, newCorrection);
      // Where the oldest snapshot goes: slot 0 unless a full ring is restored to its old position,
      // which keeps the kernel's order of summation (and so the logits, bit for bit).
      const oldestSlot = contents.oldestSlot ?? 0;
      if (!(Number.isInteger(oldestSlot) && oldestSlot >= 0 && oldestSlot < slots && (oldestSlot === 0 || count === slots))) {
        throw new StaqInputError(
          `set: oldestSlot must be 0, or an integer in [0, ${slots}) when all ${slots} slots are filled; got ${oldestSlot} with ${count} snapshots`,
        );
      }
      snapshots.forEach((list, e) => list.forEach((weights, i) => writeSlot((oldestSlot + i) % slots, e, weights)));
      coefficients = contents.coefficients.map((c) => Float64Array.from(c));
      correction = newCorrection;
      if (contents.tau !== undefined) pmd.tau = contents.tau;
      size = count;
      version++;
      next = (oldestSlot + count) % slots;
      writeCoefficients();
    },
    async readSnapshots() {
      alive();
      const result: MlpWeights[][] = Array.from({ length: ensemble }, () => []);
      const data = await Promise.all(chunks.map((chunk) => readFloat32(gpu, chunk.buffer)));
      for (const slot of slotsOldestFirst()) {
        for (let e = 0; e < ensemble; e++) {
          const flat = slot * ensemble + e;
          const k = Math.floor(flat / plan.snapshotsPerChunk);
          const start = (flat - chunks[k].first) * layout.vec4s * 4;
          result[e].push(unpackSnapshot(layout, data[k].subarray(start, start + layout.vec4s * 4)));
        }
      }
      return result;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const chunk of chunks) chunk.buffer.destroy();
      coefficientBuffer.destroy();
      evaluator.destroy();
    },
  };
  writeCoefficients();
  return stack;
}
