/**
 * The GPU-resident replay buffer: a FIFO ring of transitions (obs, action, reward, terminated,
 * next obs) plus what the stack says about each next state, brought up to date once per iteration.
 *
 * StaQ's targets need π_k(·|s') for every sampled transition. π_k only changes when a snapshot is
 * pushed, so `precomputePolicy(stack)` brings the logits of every stored next state up to the stack
 * once and runs the policy kernel on them, keeping the probabilities and the entropy; each gradient
 * step then only reads the rows it samples (shaders/train_targets.wgsl). The logits are kept as raw
 * sums (replay-sums.ts, docs/algorithm.md “Incremental logits”): `followPush` updates them around
 * each push with two snapshot evaluations per row, so the precompute only fills the rows added since
 * (from the actor's logits when `add` is told where they are, else a stack evaluation of just those
 * rows); `{ full: true }` evaluates the whole stack on every row instead. Until the next
 * `precomputePolicy`, rows added later hold no policy, so `add` marks the precomputed policy stale
 * and the trainer refuses it. The precompute runs every iteration on the same buffers, so it keeps
 * its policy kernel prepared (prepared-policy.ts).
 *
 * Rows are written where the ring's write position is and never moved; sampling draws from
 * [0, size), so the ring's order does not matter to it.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { Readback } from "../gpu/readback.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import { checkBudget, type Budget } from "../gpu/buffer-budget.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { preparePolicy } from "../policy/prepared-policy.ts";
import { validateActions } from "../policy/reference.ts";
import type { Stack } from "../stack/stack.ts";
import { ReplaySums, type NextLogits } from "./replay-sums.ts";

export interface ReplayBufferOptions {
  /** Transitions kept; the oldest is overwritten once full. */
  capacity: number;
  /** Observation length (flattened). */
  inputs: number;
  /** Number of discrete actions. */
  actions: number;
  label?: string;
}

/** `count` transitions, row-major. */
export interface Transitions {
  /** [count × inputs] */
  obs: Float32Array;
  /** [count], integers in [0, actions). */
  actions: ArrayLike<number>;
  /** [count] */
  rewards: ArrayLike<number>;
  /** [count]: true (or 1) where the episode terminated at this step. Truncation is not termination. */
  terminated: ArrayLike<boolean | number>;
  /** [count × inputs]: the observation after the step (the final one, before any auto-reset). */
  nextObs: Float32Array;
}

/** A CPU copy of the stored rows [0, size), in storage order. */
export interface ReplayContents {
  obs: Float32Array;
  actions: Uint32Array;
  rewards: Float32Array;
  terminated: Float32Array;
  nextObs: Float32Array;
  /** The write position: the row the next `add` writes first. */
  next: number;
  /**
   * [size × actions]: the stack's raw sums of each next state (replay-sums.ts), when every row's
   * are current; a restore given the same stack continues exactly with them.
   */
  sums?: Float32Array;
}

export interface AddOptions {
  /** Where the acting pass left the logits of the transitions' next states (replay-sums.ts). */
  nextLogits?: NextLogits;
}

export interface PrecomputeOptions {
  /**
   * Evaluate the whole stack on every row (O(M)) instead of updating the rows that changed since
   * the sums were last brought up to date (O(1) in M); the default is the update, which falls back
   * to the full recompute when the sums are not those of this stack.
   */
  full?: boolean;
}

export interface ReplayBuffer {
  readonly gpu: Gpu;
  readonly capacity: number;
  readonly inputs: number;
  readonly actionCount: number;
  /** Rows stored (≤ capacity). */
  readonly size: number;
  /** The write position: the ring row the next `add` writes first. */
  readonly next: number;
  /** False from an `add` until the next `precomputePolicy`: some rows have no policy yet. */
  readonly policyCurrent: boolean;
  /** Set by destroy(): a soft Q fit holding the buffer refuses it then. */
  readonly destroyed: boolean;
  readonly buffers: {
    readonly obs: GPUBuffer;
    readonly nextObs: GPUBuffer;
    /** u32 [capacity] */
    readonly actions: GPUBuffer;
    readonly rewards: GPUBuffer;
    /** f32 [capacity], 0 or 1. */
    readonly terminated: GPUBuffer;
    /** f32 [capacity × actions]: ξ_k(s'), from the last `precomputePolicy`. */
    readonly logits: GPUBuffer;
    /** f32 [capacity × actions]: π_k(·|s') = softmax(ξ_k(s')). */
    readonly probs: GPUBuffer;
    /** f32 [capacity]: H(π_k(·|s')). */
    readonly entropy: GPUBuffer;
    /** f32 [capacity × actions]: the raw sums S(s') = ξ(s') / correction (replay-sums.ts). */
    readonly sums: GPUBuffer;
  };
  /** Appends transitions (FIFO: the oldest rows are overwritten once the ring is full). */
  add(transitions: Transitions, options?: AddOptions): void;
  /**
   * Brings ξ_k(s') = correction · S(s') of every stored next state up to `stack` (docs/algorithm.md,
   * “Incremental logits”) and keeps π_k(·|s') and its entropy.
   */
  precomputePolicy(stack: Stack, options?: PrecomputeOptions): Promise<void>;
  /**
   * Runs `push`, one push into `stack` with `tau`, and updates the stored rows' sums by it (two
   * snapshot evaluations per row), so that the next precompute only has the new rows to do.
   */
  followPush(stack: Stack, tau: number, push: () => void): Promise<void>;
  /** The raw sums S(s') of ring rows `rows`, [rows.length × actions] (the policy-change probe). */
  readSums(rows: readonly number[]): Promise<Float32Array>;
  /** Reads the stored transitions back, and the sums when all are current (checkpoints, tests). */
  read(): Promise<ReplayContents>;
  /**
   * Replaces the contents with what `read` returned (checkpoints); the policy is then stale. Saved
   * sums are taken as those of `options.stack` as it is now (restore the stack first).
   */
  restore(contents: ReplayContents, options?: { stack?: Stack }): void;
  destroy(): void;
}

function checkPositiveInteger(value: number, name: string): void {
  if (!(Number.isInteger(value) && value >= 1)) throw new StaqInputError(`${name} must be an integer >= 1; got ${value}`);
}

/** Checks a batch of transitions and converts it to the buffers' element types. */
function packTransitions(
  t: Transitions,
  inputs: number,
  actionCount: number,
  call: "add" | "restore" = "add",
): { count: number; actions: Uint32Array; rewards: Float32Array; terminated: Float32Array } {
  if (t === null || typeof t !== "object")
    throw new StaqInputError(`${call} needs transitions { obs, actions, rewards, terminated, nextObs }; got ${describeValue(t)}`);
  for (const key of ["actions", "rewards", "terminated"] as const)
    if (t[key] === null || typeof t[key] !== "object" || typeof t[key].length !== "number")
      throw new StaqInputError(`${call}: ${key} must be an array with one entry per transition; got ${describeValue(t[key])}`);
  const count = t.actions.length;
  if (t.rewards.length !== count || t.terminated.length !== count) {
    throw new StaqInputError(
      `${call}: actions, rewards and terminated must have one entry per transition; got ${count}, ${t.rewards.length} and ${t.terminated.length}`,
    );
  }
  for (const [name, obs] of [
    ["obs", t.obs],
    ["nextObs", t.nextObs],
  ] as const) {
    if (!(obs instanceof Float32Array))
      throw new StaqInputError(
        `${call}: ${name} must be a Float32Array of count × inputs values; got ${obs === null ? "null" : typeof obs === "object" ? (obs as object).constructor.name : typeof obs}`,
      );
    if (obs.length !== count * inputs) {
      throw new StaqInputError(`${call}: ${name} has ${obs.length} values; ${count} transitions × ${inputs} inputs need ${count * inputs}`);
    }
    for (let k = 0; k < obs.length; k++) {
      if (!Number.isFinite(obs[k]))
        throw new StaqInputError(`${call}: ${name}[${k}] (transition ${Math.floor(k / inputs)}) is ${obs[k]}; observations must be finite`);
    }
  }
  const actions = new Uint32Array(count);
  const rewards = new Float32Array(count);
  const terminated = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const a = t.actions[i];
    if (!(Number.isInteger(a) && a >= 0 && a < actionCount))
      throw new StaqInputError(`${call}: actions[${i}] is ${a}; actions are integers in [0, ${actionCount})`);
    const r = t.rewards[i];
    // Finite in float32, where they are stored: 1e40 would be stored as Infinity, and a
    // checkpoint of the buffer could then never be restored.
    if (!(typeof r === "number" && Number.isFinite(Math.fround(r))))
      throw new StaqInputError(`${call}: rewards[${i}] is ${describeValue(r)}; rewards must be finite float32 numbers (|r| < 3.4e38)`);
    const done = t.terminated[i];
    if (!(done === true || done === false || done === 0 || done === 1)) {
      throw new StaqInputError(`${call}: terminated[${i}] is ${String(done)}; use true/false or 1/0`);
    }
    actions[i] = a;
    rewards[i] = r;
    terminated[i] = done === true || done === 1 ? 1 : 0;
  }
  return { count, actions, rewards, terminated };
}

/**
 * What a replay buffer needs per row (per unit of capacity). The sampling and target kernels bind
 * the transitions, the probabilities and the entropies whole; the logits and the policy kernel's
 * unused outputs are written in row ranges. On the host, `read` (a checkpoint) copies the
 * transitions out through a staging buffer of the same size.
 */
export function replayBudget(inputs: number, actions: number): Budget {
  const transitionBytes = (2 * inputs + 3) * 4;
  return {
    buffers: [
      { what: `observation buffers (capacity × ${inputs} inputs × 4 bytes)`, bytesPerUnit: inputs * 4, binding: "whole", count: 2 },
      { what: `a probabilities buffer (capacity × ${actions} actions × 4 bytes)`, bytesPerUnit: actions * 4, binding: "whole" },
      { what: "action, reward, termination and entropy buffers (capacity × 4 bytes)", bytesPerUnit: 4, binding: "whole", count: 4 },
      {
        what: `logits and policy output buffers (capacity × ${actions} actions × 4 bytes)`,
        bytesPerUnit: actions * 4,
        binding: "ranges",
        count: 3,
      },
      { what: "greedy and sampled action buffers (capacity × 4 bytes)", bytesPerUnit: 4, binding: "ranges", count: 2 },
      { what: `sums buffers (capacity × ${actions} actions × 4 bytes)`, bytesPerUnit: actions * 4, binding: "whole", count: 4 },
      { what: "row index buffers (capacity × 8 bytes)", bytesPerUnit: 8, binding: "whole", count: 3 },
      { what: `a gathered next states buffer (capacity × ${inputs} inputs × 4 bytes)`, bytesPerUnit: inputs * 4, binding: "whole" },
    ],
    // The transitions' staging copy, and the sums' row sources and index lists.
    hostBytesPerUnit: 2 * transitionBytes + 64,
  };
}

export function createReplayBuffer(gpu: Gpu, options: ReplayBufferOptions): ReplayBuffer {
  if (gpu.destroyed) throw new StaqGpuError("createReplayBuffer: this Gpu was destroyed");
  const { capacity, inputs } = options;
  const actionCount = options.actions;
  checkPositiveInteger(capacity, "capacity");
  checkPositiveInteger(inputs, "inputs");
  validateActions(actionCount);
  // Before allocating: a capacity beyond a binding would give invalid bind groups, one beyond the
  // host's memory a process killed for it.
  checkBudget(gpu.info, { name: "replay capacity", value: capacity }, replayBudget(inputs, actionCount));
  const label = options.label ?? "staq replay";
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffer = (floats: number, name: string) => createBuffer(gpu, floats * 4, usage, `${label} ${name}`);
  const buffers = {
    obs: buffer(capacity * inputs, "obs"),
    nextObs: buffer(capacity * inputs, "next obs"),
    actions: buffer(capacity, "actions"),
    rewards: buffer(capacity, "rewards"),
    terminated: buffer(capacity, "terminated"),
    logits: buffer(capacity * actionCount, "logits"),
    probs: buffer(capacity * actionCount, "probs"),
    entropy: buffer(capacity, "entropy"),
  };
  const sums = new ReplaySums(gpu, { capacity, inputs, actions: actionCount }, { nextObs: buffers.nextObs, logits: buffers.logits }, label);
  // The policy kernel's other outputs, which the trainer does not use.
  const unused = {
    logProbs: buffer(capacity * actionCount, "log probs (unused)"),
    behaviour: buffer(capacity * actionCount, "behaviour (unused)"),
    greedy: buffer(capacity, "greedy (unused)"),
    sampled: buffer(capacity, "sampled (unused)"),
  };
  const policy = preparePolicy(gpu, {
    logits: buffers.logits,
    outputs: { probs: buffers.probs, entropy: buffers.entropy, ...unused },
    maxBatch: capacity,
    actions: actionCount,
    epsilon: 0,
    label: `${label} policy`,
  });

  // One precompute at a time: each rewrites the prepared policy's parameters, which must not
  // change before the previous one was submitted.
  const precomputes = new SerialQueue();

  let size = 0;
  let next = 0;
  let policyCurrent = false;
  let destroyed = false;
  /** precomputePolicy calls made and not yet finished (see `add`). */
  let precomputing = 0;
  /**
   * Rows added while a precompute is queued or running would be counted in the size it refreshes
   * (its awaits let an add in) but not computed, and it would then mark the policy current: the
   * new rows' targets would use the uniform policy of zero logits, silently.
   */
  const notPrecomputing = (call: string) => {
    if (precomputing > 0)
      throw new StaqInputError(`${call}: a precomputePolicy of this replay buffer has not finished; await it before changing the rows`);
  };
  const alive = () => {
    if (destroyed) throw new StaqGpuError(`${label} was destroyed`);
  };

  function checkStack(stack: Stack, caller: string): void {
    if (stack.gpu !== gpu) throw new StaqInputError(`${caller}: the stack and the replay buffer live on different Gpu objects`);
    if (stack.spec.inputs !== inputs || stack.spec.outputs !== actionCount) {
      throw new StaqInputError(
        `${caller}: the stack maps ${stack.spec.inputs} inputs to ${stack.spec.outputs} actions; the replay buffer holds ${inputs} inputs and ${actionCount} actions`,
      );
    }
  }

  /** Writes rows [from, from + count) of each source array at ring row `row` (no wrap). */
  function writeRows(row: number, from: number, count: number, t: Transitions, packed: ReturnType<typeof packTransitions>): void {
    const rowBytes = inputs * 4;
    gpu.writeBuffer(buffers.obs, row * rowBytes, t.obs.subarray(from * inputs, (from + count) * inputs));
    gpu.writeBuffer(buffers.nextObs, row * rowBytes, t.nextObs.subarray(from * inputs, (from + count) * inputs));
    gpu.writeBuffer(buffers.actions, row * 4, packed.actions.subarray(from, from + count));
    gpu.writeBuffer(buffers.rewards, row * 4, packed.rewards.subarray(from, from + count));
    gpu.writeBuffer(buffers.terminated, row * 4, packed.terminated.subarray(from, from + count));
  }

  return {
    gpu,
    capacity,
    inputs,
    actionCount,
    get size() {
      return size;
    },
    get next() {
      return next;
    },
    get policyCurrent() {
      return policyCurrent;
    },
    get destroyed() {
      return destroyed;
    },
    buffers: { ...buffers, sums: sums.sums },
    add(transitions, options = {}) {
      alive();
      notPrecomputing("add");
      const packed = packTransitions(transitions, inputs, actionCount);
      const { count } = packed;
      if (count > capacity) {
        throw new StaqInputError(
          `add: ${count} transitions do not fit a replay buffer of capacity ${capacity}; add at most ${capacity} at a time`,
        );
      }
      if (count === 0) return;
      const rows = Int32Array.from({ length: count }, (_, j) => (next + j) % capacity);
      sums.added(rows, options.nextLogits); // checks nextLogits before anything is written
      const first = Math.min(count, capacity - next);
      writeRows(next, 0, first, transitions, packed);
      if (first < count) writeRows(0, first, count - first, transitions, packed);
      next = (next + count) % capacity;
      size = Math.min(capacity, size + count);
      policyCurrent = false;
    },
    precomputePolicy(stack, options = {}) {
      precomputing++;
      return precomputes
        .run(async () => {
          alive();
          checkStack(stack, "precomputePolicy");
          if (size === 0) throw new StaqInputError("precomputePolicy: the replay buffer is empty; add transitions first");
          const encoder = gpu.encoder(`${label} precompute`);
          await sums.encodeRefresh(encoder, stack, size, options.full ?? false);
          await policy.encode(encoder, { batch: size, seed: 0, step: 0 });
          gpu.submit([encoder.finish()]);
          policyCurrent = true;
        })
        .finally(() => precomputing--);
    },
    followPush(stack, tau, push) {
      return precomputes.run(async () => {
        alive();
        checkStack(stack, "followPush");
        await sums.followPush(stack, tau, size, push);
      });
    },
    readSums(rows) {
      return precomputes.run(async () => {
        alive();
        for (const row of rows) {
          if (!(Number.isInteger(row) && row >= 0 && row < size)) throw new StaqInputError(`readSums: row ${row} is not in [0, ${size})`);
        }
        return sums.readRows(rows);
      });
    },
    async read() {
      alive();
      if (size === 0)
        return {
          obs: new Float32Array(0),
          nextObs: new Float32Array(0),
          actions: new Uint32Array(0),
          rewards: new Float32Array(0),
          terminated: new Float32Array(0),
          next,
        };
      // One staging buffer for all five, made for this read: checkpoints are rare, and it is as
      // large as the transitions.
      const readback = new Readback(gpu, label);
      try {
        const [obs, nextObs, actions, rewards, terminated] = await readback.read(gpu.encoder(`${label} read`), [
          { source: buffers.obs, bytes: size * inputs * 4 },
          { source: buffers.nextObs, bytes: size * inputs * 4 },
          { source: buffers.actions, bytes: size * 4 },
          { source: buffers.rewards, bytes: size * 4 },
          { source: buffers.terminated, bytes: size * 4 },
        ]);
        return {
          obs: new Float32Array(obs),
          nextObs: new Float32Array(nextObs),
          actions: new Uint32Array(actions),
          rewards: new Float32Array(rewards),
          terminated: new Float32Array(terminated),
          next,
          sums: await precomputes.run(() => sums.readAll(size)),
        };
      } finally {
        readback.destroy();
      }
    },
    restore(contents, options = {}) {
      alive();
      notPrecomputing("restore");
      const rows = contents.actions?.length;
      if (!(Number.isInteger(rows) && rows <= capacity))
        throw new StaqInputError(`restore: ${rows} rows do not fit a replay buffer of capacity ${capacity}`);
      const ringNext = contents.next;
      // Until the ring is full, rows fill it from 0 and the write position is the row count.
      const validNext = rows === capacity ? Number.isInteger(ringNext) && ringNext >= 0 && ringNext < capacity : ringNext === rows;
      if (!validNext)
        throw new StaqInputError(`restore: write position ${ringNext} is impossible for ${rows} rows in a ring of ${capacity}`);
      const packed = packTransitions(contents, inputs, actionCount, "restore");
      if (contents.sums !== undefined && !(contents.sums instanceof Float32Array && contents.sums.length === rows * actionCount)) {
        throw new StaqInputError(`restore: sums must be a Float32Array of ${rows} rows × ${actionCount} actions`);
      }
      if (options.stack) checkStack(options.stack, "restore");
      if (rows > 0) writeRows(0, 0, rows, contents, packed);
      size = rows;
      next = ringNext;
      policyCurrent = false;
      if (contents.sums && options.stack) sums.restore(contents.sums, rows, options.stack);
      else sums.invalidate();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const b of [...Object.values(buffers), ...Object.values(unused)]) b.destroy();
      policy.destroy();
      sums.destroy();
    },
  };
}
