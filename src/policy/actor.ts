/**
 * Acting: CPU observations in, actions out, in one submit and one readback — the stack's prepared
 * evaluation (stack-evaluator.ts) and a prepared policy (prepared-policy.ts) recorded into one
 * command buffer, with only the chosen actions copied back. This is the latency an environment
 * loop waits for every step.
 *
 * An actor allocates up front and reuses: at creation its states, logits and policy buffers
 * (sized for `maxBatch` states) and its policy's uniform slots; on its first call the policy's
 * bind groups, the stack's prepared evaluation of its buffers and the staging buffer of its
 * readback. After that a call writes the states and the policy's parameters and allocates
 * nothing. Only a batch larger than any before grows the staging buffer, and a batch not seen
 * lately or a push that fills another slot of the stack prepares that evaluation once more.
 * Calls are serialised (they share the buffers); sampled actions depend only on (seed, step, row),
 * as everywhere in staq.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { checkBudget } from "../gpu/buffer-budget.ts";
import { Readback } from "../gpu/readback.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import type { Stack } from "../stack/stack.ts";
import { unchangedSince } from "../stack/stack-evaluator.ts";
import { encodeStackLogits, validateStates } from "../stack/stack-logits.ts";
import { isGpuBuffer, preparePolicy } from "./prepared-policy.ts";
import { checkU64 } from "../random/philox.ts";
import { validateBehaviour, validateEpsilon, type BehaviourKind } from "./reference.ts";

export interface ActorOptions {
  /** The largest batch of states one call takes. */
  maxBatch: number;
  /**
   * ε of the behaviour policy, in [0, 1] (default 0: sample from the softmax, or take the argmax
   * in the greedy kind); a call may override it (`ActOptions.epsilon`).
   */
  epsilon?: number;
  /**
   * What ε mixes with the uniform policy (default "softmax"): the softmax of the logits (the
   * ε-softmax: (1 − ε)·softmax + ε/A), or their argmax ("greedy": the ε-greedy policy of DQN-style
   * agents, (1 − ε)·[a = argmax] + ε/A, ties to the lowest action).
   */
  behaviour?: BehaviourKind;
  /** Key of the sampled actions, an integer in [0, 2^64). */
  seed: number | bigint;
}

export interface ActOptions {
  /** The greedy action (argmax of the logits) instead of a sample. */
  greedy?: boolean;
  /**
   * This call's ε, in [0, 1], in place of the actor's (`ActorOptions.epsilon`): an ε that follows
   * a schedule (epsilon-schedule.ts) without creating another actor. Ignored when `greedy`.
   */
  epsilon?: number;
  /** The environment step: every step draws fresh samples. */
  step: number | bigint;
  /**
   * Also copy this call's logits ([batch × actions] float32) into `buffer` from byte `offset`, on
   * the GPU: the agent keeps them so the replay buffer need not evaluate the stack on states it
   * acted on (src/train/replay-sums.ts).
   */
  keepLogits?: { buffer: GPUBuffer; offset: number };
}

export interface Actor {
  readonly stack: Stack;
  readonly maxBatch: number;
  /**
   * Actions for `states` ([batch × inputs], batch ≤ maxBatch), one per state. `states` and
   * `options` are copied when the call is made; a push to the stack before the call has run makes
   * it reject (as `stackLogits`).
   */
  act(states: Float32Array, options: ActOptions): Promise<Uint32Array>;
  destroy(): void;
}

/** The options `createActor` takes: a misspelt one (or an act option such as `greedy`) is refused, not ignored. */
const ACTOR_KEYS = ["maxBatch", "epsilon", "behaviour", "seed"] as const satisfies readonly (keyof ActorOptions)[];
/** The options one `act` call takes. */
const ACT_KEYS = ["greedy", "epsilon", "step", "keepLogits"] as const satisfies readonly (keyof ActOptions)[];

export function createActor(stack: Stack, options: ActorOptions): Actor {
  if (stack === null || typeof stack !== "object")
    throw new StaqInputError(`createActor needs a Stack (createStack); got ${describeValue(stack)}`);
  if (stack.destroyed) throw new StaqGpuError(`${stack.label} was destroyed`);
  checkOptionKeys(options, ACTOR_KEYS, "createActor");
  const { maxBatch, seed } = options;
  const epsilon = options.epsilon ?? 0;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new StaqInputError(`maxBatch must be an integer >= 1; got ${maxBatch}`);
  validateEpsilon(epsilon);
  validateBehaviour(options.behaviour ?? "softmax");
  checkU64("seed", seed);
  const { gpu } = stack;
  const { inputs, outputs } = stack.spec;
  // Every buffer is bound in row ranges (the stack and policy kernels split large batches).
  checkBudget(
    gpu.info,
    { name: "maxBatch", value: maxBatch },
    {
      buffers: [
        { what: `a states buffer (maxBatch × ${inputs} inputs × 4 bytes)`, bytesPerUnit: inputs * 4, binding: "ranges" },
        {
          what: `logits and policy buffers (maxBatch × ${outputs} actions × 4 bytes)`,
          bytesPerUnit: outputs * 4,
          binding: "ranges",
          count: 4,
        },
        { what: "action buffers (maxBatch × 4 bytes)", bytesPerUnit: 4, binding: "ranges", count: 4 },
      ],
    },
  );
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const buffer = (floats: number, name: string) => createBuffer(gpu, floats * 4, storage, `${stack.label} actor ${name}`);
  const states = buffer(maxBatch * inputs, "states");
  const logits = buffer(maxBatch * outputs, "logits");
  const policy = {
    probs: buffer(maxBatch * outputs, "probs"),
    logProbs: buffer(maxBatch * outputs, "log probs"),
    entropy: buffer(maxBatch, "entropy"),
    behaviour: buffer(maxBatch * outputs, "behaviour"),
    greedy: buffer(maxBatch, "greedy"),
    sampled: buffer(maxBatch, "sampled"),
  };
  const prepared = preparePolicy(gpu, {
    logits,
    outputs: policy,
    maxBatch,
    actions: outputs,
    epsilon,
    behaviour: options.behaviour,
    label: `${stack.label} actor policy`,
  });
  const readback = new Readback(gpu, `${stack.label} actor`);
  const queue = new SerialQueue();
  let destroyed = false;

  /** Checks a call's input and copies it, so that the caller may reuse its arrays at once. */
  function take(observations: Float32Array, act: ActOptions): { observations: Float32Array; act: ActOptions; batch: number } {
    if (destroyed) throw new StaqGpuError("this actor was destroyed");
    if (act === null || typeof act !== "object") throw new StaqInputError("act needs options: { step, greedy?, epsilon?, keepLogits? }");
    checkOptionKeys(act, ACT_KEYS, "act");
    const batch = validateStates(observations, inputs);
    if (batch > maxBatch) throw new StaqInputError(`act: ${batch} states, but this actor was created for at most ${maxBatch}`);
    checkU64("step", act.step);
    if (act.epsilon !== undefined) validateEpsilon(act.epsilon);
    // A boolean: any other value ("no" included) was truthy, and took the greedy action.
    if (act.greedy !== undefined && typeof act.greedy !== "boolean")
      throw new StaqInputError(`act: greedy must be true or false; got ${describeValue(act.greedy)}`);
    return { observations: observations.slice(), act: { ...act, keepLogits: takeKeepLogits(act.keepLogits, batch) }, batch };
  }

  /** Checks where a call's logits go (now, not when the call runs) and copies the region. */
  function takeKeepLogits(keep: ActOptions["keepLogits"], batch: number): ActOptions["keepLogits"] {
    if (keep === undefined) return undefined;
    if (keep === null || typeof keep !== "object")
      throw new StaqInputError(`act: keepLogits must be { buffer: GPUBuffer, offset }; got ${describeValue(keep)}`);
    checkOptionKeys(keep, ["buffer", "offset"], "act: keepLogits");
    const { buffer, offset } = keep;
    if (!isGpuBuffer(buffer)) throw new StaqInputError(`act: keepLogits.buffer must be a GPUBuffer; got ${describeValue(buffer)}`);
    const bytes = batch * outputs * 4;
    if (!(Number.isInteger(offset) && offset >= 0 && offset % 4 === 0 && offset + bytes <= buffer.size)) {
      throw new StaqInputError(
        `act: keepLogits needs ${bytes} bytes from offset ${describeValue(offset)} (a multiple of 4); its buffer holds ${buffer.size}`,
      );
    }
    if ((buffer.usage & BufferUsage.COPY_DST) === 0) throw new StaqInputError("act: the keepLogits buffer lacks COPY_DST usage");
    return { buffer, offset };
  }

  async function actNow(observations: Float32Array, act: ActOptions, batch: number, version: number): Promise<Uint32Array> {
    if (destroyed) throw new StaqGpuError("this actor was destroyed");
    gpu.writeBuffer(states, 0, observations);
    const encoder = gpu.encoder(`${stack.label} act`);
    await encodeStackLogits(stack, encoder, { states, logits, batch });
    await prepared.encode(encoder, { batch, seed, step: act.step, epsilon: act.epsilon ?? epsilon });
    if (act.keepLogits) {
      // Checked when the call was made (takeKeepLogits).
      const { buffer, offset } = act.keepLogits;
      encoder.copyBufferToBuffer(logits, 0, buffer, offset, batch * outputs * 4);
    }
    unchangedSince(stack, version, "act");
    const [actions] = await readback.read(encoder, [{ source: act.greedy ? policy.greedy : policy.sampled, bytes: batch * 4 }]);
    return new Uint32Array(actions);
  }

  return {
    stack,
    maxBatch,
    act(observations, act) {
      // What a call acts on is fixed when it is made: its input now, and the stack as it is now.
      let taken: ReturnType<typeof take>;
      try {
        taken = take(observations, act);
      } catch (error) {
        return Promise.reject(error);
      }
      const version = stack.version;
      return queue.run(() => actNow(taken.observations, taken.act, taken.batch, version));
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const b of [states, logits, ...Object.values(policy)]) b.destroy();
      prepared.destroy();
      readback.destroy();
    },
  };
}
