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
import { BufferUsage } from "../gpu/constants.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { checkBudget } from "../gpu/buffer-budget.ts";
import { Readback } from "../gpu/readback.ts";
import { SerialQueue } from "../gpu/serial-queue.ts";
import type { Stack } from "../stack/stack.ts";
import { unchangedSince } from "../stack/stack-evaluator.ts";
import { encodeStackLogits, validateStates } from "../stack/stack-logits.ts";
import { preparePolicy } from "./prepared-policy.ts";
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

export function createActor(stack: Stack, options: ActorOptions): Actor {
  if (stack.destroyed) throw new StaqGpuError(`${stack.label} was destroyed`);
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
    const batch = validateStates(observations, inputs);
    if (batch > maxBatch) throw new StaqInputError(`act: ${batch} states, but this actor was created for at most ${maxBatch}`);
    checkU64("step", act.step);
    if (act.epsilon !== undefined) validateEpsilon(act.epsilon);
    return { observations: observations.slice(), act: { ...act }, batch };
  }

  async function actNow(observations: Float32Array, act: ActOptions, batch: number, version: number): Promise<Uint32Array> {
    if (destroyed) throw new StaqGpuError("this actor was destroyed");
    gpu.writeBuffer(states, 0, observations);
    const encoder = gpu.encoder(`${stack.label} act`);
    await encodeStackLogits(stack, encoder, { states, logits, batch });
    await prepared.encode(encoder, { batch, seed, step: act.step, epsilon: act.epsilon ?? epsilon });
    if (act.keepLogits) {
      const { buffer, offset } = act.keepLogits;
      const bytes = batch * outputs * 4;
      if (!(Number.isInteger(offset) && offset >= 0 && offset % 4 === 0 && offset + bytes <= buffer.size)) {
        throw new StaqInputError(
          `act: keepLogits needs ${bytes} bytes from offset ${offset} (a multiple of 4); its buffer holds ${buffer.size}`,
        );
      }
      if ((buffer.usage & BufferUsage.COPY_DST) === 0) throw new StaqInputError("act: the keepLogits buffer lacks COPY_DST usage");
      encoder.copyBufferToBuffer(logits, 0, buffer, offset, bytes);
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
