/**
 * The policy of a batch of logits on the GPU: softmax probabilities, log-probabilities, entropy,
 * behaviour probabilities (ε-softmax, or ε-greedy with `behaviour: "greedy"`), greedy actions and
 * sampled actions, in one pass of shaders/policy.wgsl (one thread per row).
 *
 * `encodePolicy` records the work into the caller's encoder, reading logits that are already on
 * the GPU (e.g. from `encodeStackLogits`) and leaving the results there for the trainer;
 * `policyFromLogits` uploads CPU logits and reads everything back. Both prepare the kernel for
 * their buffers on every call; a loop over the same buffers keeps a prepared policy instead
 * (prepared-policy.ts), which allocates nothing per call.
 *
 * Samples come from Philox4x32-10 keyed by (seed, step) with the global row index as counter, so
 * a row's sample depends only on (seed, step, rowOffset + row): evaluating a batch in one call or
 * in several (with matching `rowOffset`s) gives the same actions, bit for bit.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { createBuffer, createStorageBuffer } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { Readback } from "../gpu/readback.ts";
import { isGpuBuffer, preparePolicy, validateDraw } from "./prepared-policy.ts";
import { validateBehaviour, validateEpsilon, validateLogits, type BehaviourKind } from "./reference.ts";

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
  /**
   * float32 [batch, actions]: the behaviour probabilities, (1 − ε)·probs + ε/actions (the softmax
   * kind) or (1 − ε)·[a = greedy] + ε/actions (the greedy kind).
   */
  behaviour: BufferRegion;
  /** u32 [batch]: argmax of the logits, ties → lowest index. */
  greedy: BufferRegion;
  /** u32 [batch]: a draw from the behaviour probabilities. */
  sampled: BufferRegion;
}

/** The settings of the sampled actions (and of the behaviour policy). */
export interface PolicySampling {
  /** ε of the behaviour policy, in [0, 1] (0: sample from the softmax, or take the argmax; 1: uniform). */
  epsilon: number;
  /**
   * What ε mixes with the uniform policy (default "softmax"): the softmax ((1 − ε)·probs + ε/A, the
   * ε-softmax) or the argmax ("greedy": (1 − ε)·[a = greedy] + ε/A, the ε-greedy policy). Only the
   * behaviour output and the sampled actions depend on it; probs, logProbs and entropy are the
   * softmax's in both kinds.
   */
  behaviour?: BehaviourKind;
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

/** The options of `policyFromLogits` (PolicySampling): a misspelt one (`epsilonn`) is refused, not ignored. */
const SAMPLING_KEYS = ["epsilon", "behaviour", "seed", "step", "rowOffset"] as const satisfies readonly (keyof PolicySampling)[];

/** The options of `encodePolicy` (EncodePolicyOptions). */
const ENCODE_KEYS = [
  ...SAMPLING_KEYS,
  "logits",
  "logitsOffset",
  "batch",
  "actions",
  "outputs",
  "maxRowsPerDispatch",
] as const satisfies readonly (keyof EncodePolicyOptions)[];

/** The results of `policyFromLogits`, laid out like the logits. */
export interface PolicyResult {
  probs: Float32Array;
  logProbs: Float32Array;
  entropy: Float32Array;
  behaviour: Float32Array;
  greedy: Uint32Array;
  sampled: Uint32Array;
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
  checkOptionKeys(options, ENCODE_KEYS, "encodePolicy");
  if (!isGpuBuffer(options.logits))
    throw new StaqInputError(
      `encodePolicy: logits must be a GPUBuffer (with logitsOffset for a region); got ${describeValue(options.logits)}`,
    );
  const { batch } = options;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new StaqInputError(`batch must be an integer ≥ 1; got ${batch}`);
  // A policy of its own per call, so two calls recorded into one encoder keep their own
  // parameters. Dropped, not destroyed: the encoder still refers to its uniform buffer, and the
  // garbage collector frees it after use.
  const policy = preparePolicy(gpu, {
    logits: { buffer: options.logits, offset: options.logitsOffset },
    outputs: options.outputs,
    maxBatch: batch,
    actions: options.actions,
    epsilon: options.epsilon,
    behaviour: options.behaviour,
    maxRowsPerDispatch: options.maxRowsPerDispatch,
  });
  await policy.encode(encoder, options);
}

/**
 * The policy of CPU logits ([batch, actions], row-major, finite): uploads them, runs the kernel
 * and reads every result back.
 */
export async function policyFromLogits(gpu: Gpu, logits: Float32Array, actions: number, options: PolicySampling): Promise<PolicyResult> {
  checkOptionKeys(options, SAMPLING_KEYS, "policyFromLogits");
  const batch = validateLogits(logits, actions);
  validateEpsilon(options.epsilon);
  validateBehaviour(options.behaviour ?? "softmax");
  validateDraw(options, batch);
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
  const sizes = {
    probs: batch * actions,
    logProbs: batch * actions,
    entropy: batch,
    behaviour: batch * actions,
    greedy: batch,
    sampled: batch,
  };
  const names = Object.keys(sizes) as (keyof typeof sizes)[];
  const input = createStorageBuffer(gpu, logits, "staq policy logits");
  const outputs = Object.fromEntries(
    names.map((name) => [name, createBuffer(gpu, sizes[name] * 4, storage, `staq policy ${name}`)]),
  ) as Record<keyof typeof sizes, GPUBuffer>;
  const policy = preparePolicy(gpu, {
    logits: input,
    outputs,
    maxBatch: batch,
    actions,
    epsilon: options.epsilon,
    behaviour: options.behaviour,
  });
  const readback = new Readback(gpu, "staq policyFromLogits");
  try {
    const encoder = gpu.encoder("staq policyFromLogits");
    await policy.encode(encoder, { ...options, batch });
    // All six results in one readback: one map, one round trip.
    const [probs, logProbs, entropy, behaviour, greedy, sampled] = await readback.read(
      encoder,
      names.map((name) => ({ source: outputs[name], bytes: sizes[name] * 4 })),
    );
    return {
      probs: new Float32Array(probs),
      logProbs: new Float32Array(logProbs),
      entropy: new Float32Array(entropy),
      behaviour: new Float32Array(behaviour),
      greedy: new Uint32Array(greedy),
      sampled: new Uint32Array(sampled),
    };
  } finally {
    input.destroy();
    for (const name of names) outputs[name].destroy();
    policy.destroy();
    readback.destroy();
  }
}
