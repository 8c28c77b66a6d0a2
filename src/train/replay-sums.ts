/**
 * The stack's raw sums S(s') = mean_e Σ_i c[e,i] · Q_{e,i}(s') for every next state of the replay
 * buffer, kept in step with the stack so that the buffer's logits ξ = correction · S cost O(1) in
 * M per iteration instead of O(M) (docs/algorithm.md, “Incremental logits”):
 *
 * - `followPush` wraps one push of the stack: it evaluates the slot the push overwrites before it,
 *   the slot it wrote after it, and updates every row's sums with
 *   S ← β · (S − dropped) + fresh (shaders/incremental_sums.wgsl): 2E snapshot evaluations per row.
 * - Rows added since are pending. `encodeRefresh` brings them up to date before the policy is
 *   computed: from the logits the actor computed when it acted on their next state (`NextLogits`:
 *   a copy, O(1)), or else from a full stack evaluation of only those rows (the final observations
 *   of episodes, the last step of a rollout); then it writes ξ = correction · S for every row.
 * - `full` (or sums that are not current: another stack, a stack changed by more than the pushes
 *   this object followed, a restore without sums) evaluates the whole stack on every row instead
 *   and sets S = ξ / correction: the full recompute, which tests compare the incremental path with.
 *
 * Every copy between buffers of rows goes through shaders/copy_rows.wgsl. Calls must not overlap
 * (the replay buffer runs them in its queue): they rewrite the same uniform slots and buffers.
 */
import { StaqInputError } from "../errors.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/gpu.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { DurationEstimate, waitPatiently } from "../gpu/patient-wait.ts";
import { Readback, type ReadbackRange } from "../gpu/readback.ts";
import { UniformSlots } from "../gpu/uniform-slots.ts";
import { prepareEvaluation, type SnapshotSelection } from "../stack/prepared-evaluation.ts";
import type { Stack } from "../stack/stack.ts";
import { encodeStackLogits } from "../stack/stack-logits.ts";
import { MAX_TILE_ROWS } from "../stack/tiling.ts";

/** Where the stack's logits of some rows' next states already are: the actor computed them when it acted. */
export interface NextLogits {
  /** float32 rows of `actions` logits. */
  buffer: GPUBuffer;
  /**
   * Per transition added, the row of `buffer` that holds the logits of its next state, or −1 when
   * none does (an episode's final observation, the last state of a rollout, not yet acted on).
   */
  rows: Int32Array;
  /** The stack that computed them, at `version`: at any other version they are not used. */
  stack: Stack;
  version: number;
}

/** Row states: a row is tracked (its sums are current), pending an evaluation, or pending a copy from acting row ≥ 0. */
const TRACKED = -2;
const EVALUATE = -1;

/** Uniform slots of one refresh: acted copy, gather, scatter, sums → logits; the full path uses the last two. */
const SLOTS = 4;

/** The config's largest ensemble: the coefficient buffers of one slot hold this many. */
const MAX_MEMBERS = 64;

export interface ReplaySumsBuffers {
  /** f32 [capacity × inputs]: the next states. */
  nextObs: GPUBuffer;
  /** f32 [capacity × actions]: where ξ = correction · S is written. */
  logits: GPUBuffer;
}

export class ReplaySums {
  /** f32 [capacity × actions]: S of each row's next state. */
  readonly sums: GPUBuffer;
  private readonly rowSource: Int32Array;
  /** The stack and version the tracked rows' sums are current for. */
  private current: { stack: Stack; version: number } | undefined;
  private acting: Omit<NextLogits, "rows"> | undefined;
  private readonly dropped: GPUBuffer;
  private readonly fresh: GPUBuffer;
  private readonly dropCoefficients: GPUBuffer;
  private readonly freshCoefficients: GPUBuffer;
  private readonly rowPairs: GPUBuffer[];
  private readonly slots: UniformSlots;
  private readonly readback: Readback;
  /**
   * How long a push's two evaluations over every row take, from their first submit; and when the
   * last push not yet waited for was submitted. The next read waits for it through the patient
   * wait: polling through it took a core from lavapipe (a 2×64, E = 2 push over 100k rows: 0.71 s
   * polled, 0.47 s slept).
   */
  private readonly pushDuration = new DurationEstimate();
  private pushSubmitted: number | undefined;
  private compact: { states: GPUBuffer; logits: GPUBuffer; rows: number } | undefined;
  private partials: GPUBuffer | undefined;
  /** Buffers replaced while work that uses them may still be queued; destroyed with this object. */
  private readonly retired: GPUBuffer[] = [];

  constructor(
    private readonly gpu: Gpu,
    private readonly shape: { capacity: number; inputs: number; actions: number },
    private readonly io: ReplaySumsBuffers,
    private readonly label: string,
  ) {
    const { capacity, actions } = shape;
    const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
    const floats = (count: number, name: string) => createBuffer(gpu, count * 4, storage, `${label} ${name}`);
    this.sums = floats(capacity * actions, "sums");
    this.dropped = floats(capacity * actions, "dropped sums");
    this.fresh = floats(capacity * actions, "fresh sums");
    // One coefficient per member, for any stack this buffer is used with.
    this.dropCoefficients = floats(MAX_MEMBERS, "dropped coefficients");
    this.freshCoefficients = floats(MAX_MEMBERS, "fresh coefficients");
    this.rowPairs = [0, 1, 2].map((k) => floats(2 * capacity, `row pairs ${k}`));
    this.slots = new UniformSlots(gpu, SLOTS, `${label} sums`);
    this.readback = new Readback(gpu, `${label} sums`);
    this.rowSource = new Int32Array(capacity).fill(EVALUATE);
  }

  /** True when the tracked rows' sums are those of `stack` as it is now. */
  isCurrent(stack: Stack): boolean {
    return this.current !== undefined && this.current.stack === stack && this.current.version === stack.version;
  }

  /** True when every one of the `size` stored rows is tracked (nothing pending): the sums are a state worth saving. */
  complete(size: number): boolean {
    for (let r = 0; r < size; r++) if (this.rowSource[r] !== TRACKED) return false;
    return true;
  }

  /**
   * Ring rows `rows` (in the order of the transitions) were just written; `nextLogits`, if given,
   * says where the acting pass left the logits of their next states.
   */
  added(rows: ArrayLike<number>, nextLogits?: NextLogits): void {
    if (nextLogits) {
      if (nextLogits.rows.length !== rows.length) {
        throw new StaqInputError(`add: nextLogits.rows has ${nextLogits.rows.length} entries for ${rows.length} transitions`);
      }
      if ((nextLogits.buffer.usage & BufferUsage.STORAGE) === 0) throw new StaqInputError("add: nextLogits.buffer lacks STORAGE usage");
      const available = Math.floor(nextLogits.buffer.size / (4 * this.shape.actions));
      for (const row of nextLogits.rows) {
        if (!(Number.isInteger(row) && row >= -1 && row < available)) {
          throw new StaqInputError(`add: nextLogits.rows holds ${row}; rows are −1 or in [0, ${available}) (the rows its buffer holds)`);
        }
      }
      const same =
        this.acting !== undefined &&
        this.acting.buffer === nextLogits.buffer &&
        this.acting.stack === nextLogits.stack &&
        this.acting.version === nextLogits.version;
      // Pending copies from another source would need it kept too: they are evaluated instead.
      if (!same) this.forgetActing();
      this.acting = { buffer: nextLogits.buffer, stack: nextLogits.stack, version: nextLogits.version };
    }
    for (let j = 0; j < rows.length; j++) this.rowSource[rows[j]] = nextLogits ? nextLogits.rows[j] : EVALUATE;
  }

  /** Every row pending; the sums are rebuilt by the next refresh (after a restore without them). */
  invalidate(): void {
    this.current = undefined;
    this.forgetActing();
    this.rowSource.fill(EVALUATE);
  }

  /**
   * Runs `push` (one push into `stack` with `tau`) and updates the tracked rows' sums by it, when
   * they are current; otherwise only pushes. Two stack_forward evaluations of one slot over the
   * `size` stored rows and one elementwise update, submitted around the push in queue order.
   */
  async followPush(stack: Stack, tau: number, size: number, push: () => void): Promise<void> {
    if (!this.isCurrent(stack) || size === 0) {
      push();
      return;
    }
    const { gpu, label } = this;
    const { actions } = this.shape;
    const preview = stack.nextPush(tau);
    const members = stack.ensemble;
    if (members > MAX_MEMBERS) throw new StaqInputError(`followPush: ${members} ensemble members; the sums follow at most ${MAX_MEMBERS}`);
    const before = stack.version;
    const range = { begin: preview.slot * members, end: (preview.slot + 1) * members, coefficientOffset: preview.slot * members };
    const io = { states: this.io.nextObs, batch: size };
    const bytes = size * actions * 4;

    // What leaves: Σ_e f32(c[e, oldest] / E) · Q_{e,oldest}, evaluated before the push overwrites the slot.
    const encoder = gpu.encoder(`${label} sums before push`);
    const submitted = performance.now();
    const retired: { destroy(): void }[] = [];
    if (preview.leaving) {
      gpu.writeBuffer(
        this.dropCoefficients,
        0,
        Float32Array.from(preview.leaving, (c) => c / members),
      );
      const dropped = await this.prepareSlot(stack, { ...io, logits: this.dropped }, { range, coefficients: this.dropCoefficients });
      dropped.encode(encoder);
      retired.push(dropped);
    } else {
      encoder.clearBuffer(this.dropped, 0, bytes);
    }
    gpu.submit([encoder.finish()]);
    push();
    if (stack.version !== before + 1 || stack.pmd.tau !== tau) {
      throw new StaqInputError(`followPush: the callback must push into the stack exactly once, with tau ${tau}`);
    }

    // What enters: Σ_e f32(α / E) · Q_{e,new}, from the slot the push wrote; then the update.
    gpu.writeBuffer(this.freshCoefficients, 0, new Float32Array(members).fill(preview.alpha / members));
    const fresh = await this.prepareSlot(stack, { ...io, logits: this.fresh }, { range, coefficients: this.freshCoefficients });
    const update = await gpu.kernel("incremental_sums", {});
    const elements = size * actions;
    this.slots.write(0, update, { elements, beta: preview.beta });
    this.slots.upload(0, 1);
    const after = gpu.encoder(`${label} sums after push`);
    fresh.encode(after);
    const pass = after.beginComputePass({ label: `${label} incremental sums` });
    const group = update.bind({ params: this.slots.binding(0), dropped: this.dropped, fresh: this.fresh, sums: this.sums }, label);
    update.dispatch(pass, group, update.strideGrid(elements));
    pass.end();
    gpu.submit([after.finish()]);
    this.pushSubmitted = submitted;
    retired.push(fresh);
    // Submitted: WebGPU keeps what queued work uses alive until it is done.
    for (const part of retired) part.destroy();
    this.current = { stack, version: stack.version };
  }

  /**
   * Records, into `encoder`, what brings the sums of the `size` stored rows up to `stack` as it is
   * now and writes ξ = correction · S into the logits buffer: pending rows only, or (with `full`,
   * or when the tracked sums are not current) a full recompute of every row.
   */
  async encodeRefresh(encoder: GPUCommandEncoder, stack: Stack, size: number, full: boolean): Promise<void> {
    const { actions } = this.shape;
    const copy = await this.gpu.kernel("copy_rows", { WIDTH: actions });
    const inverse = 1 / stack.correction;
    if (full || !this.isCurrent(stack)) {
      // The full recompute: ξ from every snapshot, S = ξ / correction. ξ stays as evaluated.
      await encodeStackLogits(stack, encoder, { states: this.io.nextObs, logits: this.io.logits, batch: size });
      this.encodeCopy(encoder, copy, 3, { src: this.io.logits, dst: this.sums, count: size, scale: inverse });
      this.track(stack, size);
      return;
    }
    const acted: number[] = [];
    const evaluate: number[] = [];
    const actingCurrent = this.acting !== undefined && this.acting.stack === stack && this.acting.version === stack.version;
    for (let r = 0; r < size; r++) {
      const source = this.rowSource[r];
      if (source === TRACKED) continue;
      if (source >= 0 && actingCurrent) acted.push(source, r);
      else evaluate.push(r);
    }
    if (acted.length > 0) {
      this.gpu.writeBuffer(this.rowPairs[0], 0, Uint32Array.from(acted));
      this.encodeCopy(encoder, copy, 0, {
        src: this.acting!.buffer,
        dst: this.sums,
        pairs: this.rowPairs[0],
        count: acted.length / 2,
        scale: inverse,
      });
    }
    if (evaluate.length > 0) {
      const count = evaluate.length;
      // Below MAX_TILE_ROWS rows the stack kernel's tiling follows the batch, and each tiling is a
      // pipeline compiled on first use (seconds each on lavapipe with a cold shader cache); the
      // pending rows, a few episode ends per rollout, would compile one after another. Evaluating at
      // least MAX_TILE_ROWS rows keeps the one tiling of every larger batch; the rows past `count`
      // hold earlier gathers (or zeros) and are never copied back.
      const rows = Math.max(count, MAX_TILE_ROWS);
      const compact = this.compactBuffers(rows);
      const gather = await this.gpu.kernel("copy_rows", { WIDTH: this.shape.inputs });
      this.gpu.writeBuffer(this.rowPairs[1], 0, Uint32Array.from(evaluate.flatMap((row, i) => [row, i])));
      this.gpu.writeBuffer(this.rowPairs[2], 0, Uint32Array.from(evaluate.flatMap((row, i) => [i, row])));
      this.encodeCopy(encoder, gather, 1, {
        src: this.io.nextObs,
        dst: compact.states,
        pairs: this.rowPairs[1],
        count,
        scale: 1,
        width: this.shape.inputs,
      });
      await encodeStackLogits(stack, encoder, { states: compact.states, logits: compact.logits, batch: rows });
      this.encodeCopy(encoder, copy, 2, { src: compact.logits, dst: this.sums, pairs: this.rowPairs[2], count, scale: inverse });
    }
    this.encodeCopy(encoder, copy, 3, { src: this.sums, dst: this.io.logits, count: size, scale: stack.correction });
    this.track(stack, size);
  }

  /** The sums of ring rows `rows` ([rows.length × actions]), read back. */
  async readRows(rows: readonly number[]): Promise<Float32Array> {
    const rowBytes = this.shape.actions * 4;
    const ranges = rows.map((row) => ({ source: this.sums, offset: row * rowBytes, bytes: rowBytes }));
    const parts = await this.read(ranges);
    const out = new Float32Array(rows.length * this.shape.actions);
    parts.forEach((part, k) => out.set(new Float32Array(part), k * this.shape.actions));
    return out;
  }

  /** The sums of rows [0, size) when every row is tracked (a state to save with the buffer), else undefined. */
  async readAll(size: number): Promise<Float32Array | undefined> {
    // Sums of a stack that has changed since (a push this object did not follow) are no state at all.
    if (size === 0 || this.current === undefined || !this.isCurrent(this.current.stack) || !this.complete(size)) return undefined;
    const [bytes] = await this.read([{ source: this.sums, bytes: size * this.shape.actions * 4 }]);
    return new Float32Array(bytes);
  }

  /** Reads `ranges` after the queued work; the first read after a push waits for it patiently. */
  private read(ranges: readonly ReadbackRange[]): Promise<ArrayBuffer[]> {
    const read = () => this.readback.read(this.gpu.encoder(`${this.label} read sums`), ranges);
    const submitted = this.pushSubmitted;
    if (submitted === undefined) return read();
    this.pushSubmitted = undefined;
    return waitPatiently(this.pushDuration, this.gpu.info.busyPolls, submitted, read);
  }

  /** Rows [0, size) get `sums` (as `readAll` returned them), current for `stack` as it is now. */
  restore(sums: Float32Array, size: number, stack: Stack): void {
    if (sums.length !== size * this.shape.actions) {
      throw new StaqInputError(`restore: ${sums.length} sums for ${size} rows of ${this.shape.actions} actions`);
    }
    this.invalidate();
    if (size === 0) return;
    this.gpu.writeBuffer(this.sums, 0, sums);
    this.track(stack, size);
  }

  destroy(): void {
    for (const b of [
      this.sums,
      this.dropped,
      this.fresh,
      this.dropCoefficients,
      this.freshCoefficients,
      ...this.rowPairs,
      ...this.retired,
    ]) {
      b.destroy();
    }
    if (this.compact) for (const b of [this.compact.states, this.compact.logits]) b.destroy();
    this.partials?.destroy();
    this.slots.destroy();
    this.readback.destroy();
  }

  private track(stack: Stack, size: number): void {
    this.rowSource.fill(TRACKED, 0, size);
    this.current = { stack, version: stack.version };
  }

  private forgetActing(): void {
    for (let r = 0; r < this.rowSource.length; r++) if (this.rowSource[r] >= 0) this.rowSource[r] = EVALUATE;
    this.acting = undefined;
  }

  private prepareSlot(stack: Stack, io: { states: GPUBuffer; logits: GPUBuffer; batch: number }, selection: SnapshotSelection) {
    return prepareEvaluation(stack, io, (bytes) => this.partialsBuffer(bytes), selection);
  }

  private partialsBuffer(bytes: number): GPUBuffer {
    if (this.partials && this.partials.size >= bytes) return this.partials;
    if (this.partials) this.retired.push(this.partials);
    this.partials = createBuffer(this.gpu, bytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC, `${this.label} sums partials`);
    return this.partials;
  }

  /** Buffers for `rows` gathered next states and their logits, grown (doubling) when too small. */
  private compactBuffers(rows: number): { states: GPUBuffer; logits: GPUBuffer } {
    if (this.compact && this.compact.rows >= rows) return this.compact;
    if (this.compact) this.retired.push(this.compact.states, this.compact.logits);
    const size = Math.max(rows, Math.min(this.shape.capacity, 2 * (this.compact?.rows ?? 0)));
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
    this.compact = {
      states: createBuffer(this.gpu, size * this.shape.inputs * 4, usage, `${this.label} gathered next states`),
      logits: createBuffer(this.gpu, size * this.shape.actions * 4, usage, `${this.label} gathered logits`),
      rows: size,
    };
    return this.compact;
  }

  private encodeCopy(
    encoder: GPUCommandEncoder,
    kernel: Kernel,
    slot: number,
    copy: { src: GPUBuffer; dst: GPUBuffer; count: number; scale: number; pairs?: GPUBuffer; width?: number },
  ): void {
    this.slots.write(slot, kernel, {
      count: copy.count,
      indexed: copy.pairs ? 1 : 0,
      first_src: 0,
      first_dst: 0,
      scale: copy.scale,
    });
    this.slots.upload(slot, 1);
    // Unindexed copies never read `rows`; any storage buffer fills the binding.
    const group = kernel.bind(
      { params: this.slots.binding(slot), src: copy.src, rows: copy.pairs ?? this.rowPairs[0], dst: copy.dst },
      `${this.label} copy rows`,
    );
    const pass = encoder.beginComputePass({ label: `${this.label} copy rows` });
    kernel.dispatch(pass, group, kernel.strideGrid(copy.count * (copy.width ?? this.shape.actions)));
    pass.end();
  }
}
