/**
 * A stack as one safetensors file (docs/formats.md, “The stack file”), readable by any program:
 *
 *     stack.layers.{l}.weight   F32 [E, N, out_l, in_l]   (nn.Linear convention, out × in)
 *                               or, for l = 0 only, [E, N, out, in, kh, kw]: a conv layer (nn.Conv2d,
 *                               stride 1, no padding) over the state read as an image
 *     stack.layers.{l}.bias     F32 [E, N, out_l]
 *     stack.coefficients        F32 [E, N]                (c_i, oldest first)
 *     __metadata__              format "staq-stack/1", activation "relu", ensemble_reduce "mean",
 *                               correction, memory, eta, tau, gamma, variant, normalization,
 *                               and input_shape "H,W,C" when layer 0 is a conv
 *
 * with logits ξ(s) = correction · mean_e Σ_i c[e,i] · MLP_{e,i}(s). Snapshots are written oldest
 * first whatever the ring's internal order, so a reader needs nothing but this file.
 *
 * Numbers in the metadata are written with String(x), the shortest text that parses back to the
 * same float64, so correction, η, τ and γ survive exactly. The coefficients are float32 in the
 * file (as the format says), so a pushed stack's float64 coefficients come back rounded to
 * float32; saving a loaded stack again gives the same bytes.
 *
 * The conv layer's file form is that of the network file (./conv-layer-file.ts); a stack whose conv layer has another stride or padding cannot be saved.
 *
 * Portable: no `node:` modules (files on disk are in ../node/stack-files.ts).
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { STACK_RULES, stackSlots, type PmdNormalization, type PmdVariant, type StackRule } from "../pmd/coefficients.ts";
import type { ConvSpec } from "../stack/conv.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { checkBudget } from "../gpu/buffer-budget.ts";
import { snapshotLayout } from "../stack/layout.ts";
import { createStack, stackBudget, uploadedWeight, type Stack } from "../stack/stack.ts";
import {
  convFeatures,
  convNotFirstError,
  convOutputsText,
  convWithoutHeadError,
  fileWeightDims,
  indexText,
  readFileConv,
  refuseStrayInputShape,
  requireStorableConv,
  withInputShape,
} from "./conv-layer-file.ts";
import { F32_MAX, float32Problem } from "./float32-range.ts";
import { decodeSafetensors, encodeSafetensors, type Float32Tensor } from "./safetensors.ts";

export const STACK_FORMAT = "staq-stack/1";
export const COEFFICIENTS_TENSOR = "stack.coefficients";
export const weightTensorName = (layer: number) => `stack.layers.${layer}.weight`;
export const biasTensorName = (layer: number) => `stack.layers.${layer}.bias`;

const LAYER_TENSOR = /^stack\.layers\.(0|[1-9][0-9]*)\.(weight|bias)$/;
const VARIANTS: readonly PmdVariant[] = ["vanilla", "corrected"];
const NORMALIZATIONS: readonly PmdNormalization[] = ["memory", "sum"];

/**
 * Reads the stack back from the GPU and encodes it as a safetensors file. A conv first layer is
 * written as PyTorch's Conv2d weight with "input_shape"; one with stride ≠ 1 or padding ≠ 0 is
 * refused (StaqInputError), as the format cannot express it.
 */
export async function stackToSafetensors(stack: Stack): Promise<Uint8Array> {
  const { spec } = stack;
  requireStorableConv(spec, "a stack file");
  const snapshots = await stack.readSnapshots(); // [member][i], oldest first
  const members = stack.ensemble;
  const stored = stack.size;
  const tensors = new Map<string, Float32Tensor>();
  layerShapes(spec).forEach(({ inputs, outputs }, l) => {
    const weight = new Float32Array(members * stored * outputs * inputs);
    const bias = new Float32Array(members * stored * outputs);
    for (let e = 0; e < members; e++) {
      for (let i = 0; i < stored; i++) {
        const flat = e * stored + i;
        weight.set(snapshots[e][i].layers[l].weight, flat * outputs * inputs);
        bias.set(snapshots[e][i].layers[l].bias, flat * outputs);
      }
    }
    tensors.set(weightTensorName(l), { shape: [members, stored, ...fileWeightDims(spec, l)], data: weight });
    tensors.set(biasTensorName(l), { shape: [members, stored, outputs], data: bias });
  });
  const coefficients = new Float32Array(members * stored);
  stack.coefficients.forEach((c, e) => coefficients.set(c, e * stored));
  tensors.set(COEFFICIENTS_TENSOR, { shape: [members, stored], data: coefficients });

  const { eta, tau, gamma, variant, normalization, rule } = stack.pmd;
  return encodeSafetensors(
    tensors,
    withInputShape(spec, {
      format: STACK_FORMAT,
      activation: "relu",
      ensemble_reduce: "mean",
      correction: String(stack.correction),
      memory: String(stack.memory),
      eta: String(eta),
      tau: String(tau),
      gamma: String(gamma),
      variant,
      normalization,
      // Written only when it is not the default, so exact stacks' files are as before.
      ...(rule !== "exact" ? { stack_rule: rule } : {}),
    }),
  );
}

export interface LoadStackOptions {
  /**
   * M of the new stack, instead of the file's `memory` (e.g. to keep more snapshots from now
   * on). Must be at least the number of snapshots in the file.
   */
  memory?: number;
  /** Passed to createStack. */
  label?: string;
  maxBindingBytes?: number;
  targetWorkgroups?: number;
  convFusion?: boolean;
}

/** What a stack file holds, checked and in the shapes `Stack.set` takes. */
export interface StackFileContents {
  spec: MlpSpec;
  members: number;
  stored: number;
  /** [member][i], oldest first; views into the decoded tensors. */
  snapshots: MlpWeights[][];
  coefficients: Float64Array[];
  correction: number;
  memory: number;
  eta: number;
  tau: number;
  gamma: number;
  variant: PmdVariant;
  normalization: PmdNormalization;
  /** The stack rule ("stack_rule" in the metadata; "exact" when absent). */
  rule: StackRule;
}

// A decimal number as JSON (and String(x)) writes it: no hex, no "Infinity", no blanks.
const DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

function metadataNumber(metadata: Record<string, string>, key: string, valid: (x: number) => boolean, requirement: string): number {
  const text = metadata[key];
  if (text === undefined)
    throw new StaqFormatError(`__metadata__ has no ${JSON.stringify(key)}; a staq stack file needs it (${requirement})`);
  const value = DECIMAL.test(text) ? Number(text) : NaN;
  if (!(Number.isFinite(value) && valid(value))) {
    throw new StaqFormatError(`__metadata__ ${JSON.stringify(key)} is ${JSON.stringify(text)}; it must be ${requirement}`);
  }
  return value;
}

/**
 * `metadataNumber` for a setting that reaches float32 GPU code: it must also be 0 or within
 * float32's normal range (float32Problem). correction multiplies every coefficient on its way to
 * the GPU; η, τ and γ are the settings the agent's kernels compute with, which staq's config
 * refuses outside that range too. Finite in float64 is not enough: a correction of 1e39 loaded,
 * and the logits came out NaN only after the GPU run, and one of 1e-50 would make every logit 0.
 */
function metadataFloat32(metadata: Record<string, string>, key: string, valid: (x: number) => boolean, requirement: string): number {
  const value = metadataNumber(metadata, key, valid, requirement);
  const problem = float32Problem(value);
  if (problem !== undefined)
    throw new StaqFormatError(`__metadata__ ${JSON.stringify(key)} is ${JSON.stringify(metadata[key])}; it ${problem}`);
  return value;
}

function metadataChoice<T extends string>(metadata: Record<string, string>, key: string, choices: readonly T[], fallback?: T): T {
  const text = metadata[key];
  if (text === undefined && fallback !== undefined) return fallback;
  if (!choices.includes(text as T)) {
    const got = text === undefined ? "missing" : JSON.stringify(text);
    throw new StaqFormatError(
      `__metadata__ ${JSON.stringify(key)} is ${got}; it must be ${choices.map((c) => JSON.stringify(c)).join(" or ")}`,
    );
  }
  return text as T;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function requireTensor(tensors: Map<string, Float32Tensor>, name: string, why: string): Float32Tensor {
  const tensor = tensors.get(name);
  if (!tensor) throw new StaqFormatError(`missing tensor ${JSON.stringify(name)} (${why})`);
  return tensor;
}

function requireShape(name: string, tensor: Float32Tensor, expected: readonly number[], meaning: string): void {
  if (tensor.shape.length !== expected.length || tensor.shape.some((d, k) => d !== expected[k])) {
    throw new StaqFormatError(
      `tensor ${JSON.stringify(name)} has shape ${shapeText(tensor.shape)}; expected ${shapeText(expected)} (${meaning})`,
    );
  }
}

/** Throws naming the tensor and the multi-index of the first value that is NaN or infinite. */
function requireFinite(name: string, tensor: Float32Tensor, what: string): void {
  const { data, shape } = tensor;
  // A plain loop: a stack file's tensors may hold hundreds of millions of values.
  for (let k = 0; k < data.length; k++) {
    if (!Number.isFinite(data[k]))
      throw new StaqFormatError(`tensor ${JSON.stringify(name)} ${indexText(shape, k)} is ${data[k]}; ${what} must be finite`);
  }
}

/**
 * Throws naming the first coefficient whose weight on the GPU, correction · c[e, i] / E (what the
 * stack uploads as float32), is beyond float32's range: each factor may be in range and the product
 * not, and the logits would then be ±Infinity or NaN. Only overflow is refused: an old snapshot's
 * weight decaying below float32's normal range is what PMD does to it, and it rounds to what it
 * contributes anyway.
 */
function requireFloat32Weights(coefficients: Float32Tensor, correction: number, members: number): void {
  const { data, shape } = coefficients;
  for (let k = 0; k < data.length; k++) {
    // What the upload stores: Infinity exactly when the GPU would get it.
    if (!Number.isFinite(uploadedWeight(correction, data[k], members))) {
      const weight = (correction * data[k]) / members;
      throw new StaqFormatError(
        `tensor "${COEFFICIENTS_TENSOR}" ${indexText(shape, k)} is ${data[k]}, and correction · c / E = ${correction} · ${data[k]} / ${members} = ${weight} is beyond float32's range (±${F32_MAX.toPrecision(8)}), so the GPU would compute with Infinity; the file's coefficients or its __metadata__ "correction" are wrong`,
      );
    }
  }
}

interface LayerTensors {
  weight: Float32Tensor;
  bias: Float32Tensor;
  /** The weight as a matrix [outputs, inputs] (a conv layer's inputs: channels·kh·kw). */
  inputs: number;
  outputs: number;
}

/** What layer l's weight must take: the previous layer's outputs, and how to say so in an error. */
interface Chain {
  inputs: number;
  /** "8 (the out of …)". */
  text: string;
}

/** Throws unless layer l's weight has 4 dimensions, or 6 (a conv) for layer 0. */
function requireWeightRank(l: number, name: string, shape: readonly number[]): void {
  if (shape.length === 6 && l > 0) throw convNotFirstError(name, shape, weightTensorName(0));
  if (shape.length !== 4 && shape.length !== 6) {
    throw new StaqFormatError(
      `tensor ${JSON.stringify(name)} has shape ${shapeText(shape)}; expected 4 dimensions [E, N, out, in]` +
        (l === 0 ? ` (a dense layer) or 6 [E, N, out, in, kh, kw] (a conv layer, PyTorch's Conv2d weight per snapshot)` : ""),
    );
  }
}

/** A conv layer 0 ([E, N, out, in, kh, kw]) and the file's "input_shape": the conv's spec. */
function readConvWeight(name: string, weight: Float32Tensor, metadata: Record<string, string>, members: number, stored: number): ConvSpec {
  const dims = weight.shape.slice(2);
  requireShape(
    name,
    weight,
    [members, stored, ...dims],
    `[E, N, out, in, kh, kw] with E = ${members}, N = ${stored} from "${COEFFICIENTS_TENSOR}"`,
  );
  if (dims.some((d) => d < 1)) {
    throw new StaqFormatError(
      `tensor ${JSON.stringify(name)} has shape ${shapeText(weight.shape)}; a conv layer needs out, in, kh and kw >= 1`,
    );
  }
  const [filters, channels, kh, kw] = dims;
  return readFileConv(metadata, name, weight.shape, [filters, channels, kh, kw]);
}

/** A dense layer's weight [E, N, out, in], whose in must follow `chain` (layer 0: any); returns in. */
function readDenseWeight(name: string, weight: Float32Tensor, chain: Chain | undefined, members: number, stored: number): number {
  const [, , outputs, inputs] = weight.shape;
  const expectedInputs = chain?.inputs ?? inputs;
  const meaning = `[E, N, out, in] with E = ${members}, N = ${stored} from "${COEFFICIENTS_TENSOR}"${chain ? `, in = ${chain.text}` : ""}`;
  requireShape(name, weight, [members, stored, outputs, expectedInputs], meaning);
  if (outputs < 1 || inputs < 1) {
    throw new StaqFormatError(`tensor ${JSON.stringify(name)} has shape ${shapeText(weight.shape)}; a layer needs out >= 1 and in >= 1`);
  }
  return inputs;
}

/**
 * Checks every layer's tensors against E and N, the chaining of the layers (each layer's input is
 * the previous one's output; after a conv layer, its filters·H'·W' flattened outputs) and their
 * values, and reads the MLP's spec off the shapes.
 */
function readLayers(
  tensors: Map<string, Float32Tensor>,
  metadata: Record<string, string>,
  layers: number,
  members: number,
  stored: number,
): { spec: MlpSpec; layerTensors: LayerTensors[] } {
  let conv: ConvSpec | undefined;
  let stateInputs = 0;
  let chain: Chain | undefined;
  const layerTensors: LayerTensors[] = [];
  for (let l = 0; l < layers; l++) {
    const weightName = weightTensorName(l);
    const biasName = biasTensorName(l);
    const weight = requireTensor(tensors, weightName, `layer ${l} of ${layers}`);
    const bias = requireTensor(tensors, biasName, `layer ${l} of ${layers}`);
    requireWeightRank(l, weightName, weight.shape);
    const outputs = weight.shape[2];
    let inputs: number;
    if (weight.shape.length === 6) {
      if (layers === 1) throw convWithoutHeadError(weightName, weightTensorName(1));
      conv = readConvWeight(weightName, weight, metadata, members, stored);
      const [height, width, channels] = conv.inputShape;
      stateInputs = height * width * channels;
      inputs = weight.shape.slice(3).reduce((a, b) => a * b, 1);
      chain = { inputs: convFeatures(conv), text: convOutputsText(conv, weightName) };
    } else {
      inputs = readDenseWeight(weightName, weight, chain, members, stored);
      if (l === 0) {
        refuseStrayInputShape(metadata, weightName, weight.shape);
        stateInputs = inputs;
      }
      chain = { inputs: outputs, text: `${outputs} (the out of "${weightName}")` };
    }
    requireShape(biasName, bias, [members, stored, outputs], `[E, N, out] with out = ${outputs} from "${weightName}"`);
    requireFinite(weightName, weight, "weights");
    requireFinite(biasName, bias, "biases");
    layerTensors.push({ weight, bias, inputs, outputs });
  }
  const widths = layerTensors.map(({ outputs }) => outputs);
  const spec: MlpSpec = {
    inputs: stateInputs,
    ...(conv ? { conv } : {}),
    hidden: widths.slice(conv ? 1 : 0, -1),
    outputs: widths[widths.length - 1],
  };
  return { spec, layerTensors };
}

/** Decodes and checks a stack file without touching a GPU. */
export function readStackFile(bytes: Uint8Array): StackFileContents {
  const { tensors, metadata } = decodeSafetensors(bytes);

  if (metadata.format !== STACK_FORMAT) {
    const got = metadata.format === undefined ? "missing" : JSON.stringify(metadata.format);
    throw new StaqFormatError(`__metadata__ "format" is ${got}; a staq stack file has "${STACK_FORMAT}" (is this a stack saved by staq?)`);
  }
  metadataChoice(metadata, "activation", ["relu"]);
  metadataChoice(metadata, "ensemble_reduce", ["mean"]);
  const correction = metadataFloat32(metadata, "correction", () => true, "a finite number");
  const memory = metadataNumber(metadata, "memory", (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  const eta = metadataFloat32(metadata, "eta", (x) => x >= 0, "a finite number >= 0");
  const tau = metadataFloat32(metadata, "tau", (x) => x > 0, "a finite number > 0");
  const gamma = metadataFloat32(metadata, "gamma", (x) => x >= 0 && x < 1, "a number in [0, 1)");
  // Optional in docs/formats.md, “The stack file”, so a file written by another program may leave them out; they
  // only matter for later pushes, and default as createStack does.
  const variant = metadataChoice(metadata, "variant", VARIANTS, "corrected");
  const normalization = metadataChoice(metadata, "normalization", NORMALIZATIONS, "memory");
  const rule = metadataChoice(metadata, "stack_rule", STACK_RULES, "exact");

  let layers = 0;
  for (const name of tensors.keys()) {
    const match = LAYER_TENSOR.exec(name);
    if (match) layers = Math.max(layers, Number(match[1]) + 1);
    else if (name !== COEFFICIENTS_TENSOR) {
      throw new StaqFormatError(
        `unexpected tensor ${JSON.stringify(name)}; a staq stack file holds only stack.layers.{l}.weight, stack.layers.{l}.bias and ${COEFFICIENTS_TENSOR}`,
      );
    }
  }

  const coefficientTensor = requireTensor(tensors, COEFFICIENTS_TENSOR, "the [E, N] snapshot coefficients");
  if (coefficientTensor.shape.length !== 2 || coefficientTensor.shape[0] < 1) {
    throw new StaqFormatError(
      `tensor "${COEFFICIENTS_TENSOR}" has shape ${shapeText(coefficientTensor.shape)}; expected [E, N] with E >= 1 ensemble members`,
    );
  }
  const [members, stored] = coefficientTensor.shape;
  requireFinite(COEFFICIENTS_TENSOR, coefficientTensor, "coefficients");
  requireFloat32Weights(coefficientTensor, correction, members);
  if (stored > stackSlots(memory, rule)) {
    throw new StaqFormatError(
      `tensor "${COEFFICIENTS_TENSOR}" holds ${stored} snapshots per member, more than the file's memory M = ${memory}${rule === "authors" ? " plus one (the authors' stack rule)" : ""}`,
    );
  }
  if (layers === 0) throw new StaqFormatError(`missing tensor "${weightTensorName(0)}" (a stack's MLP has at least one layer)`);

  const { spec, layerTensors } = readLayers(tensors, metadata, layers, members, stored);
  // Snapshot [e][i] is a view into the decoded tensors: no copy of what may be hundreds of MB.
  const snapshots = Array.from({ length: members }, (_, e) =>
    Array.from({ length: stored }, (_, i) => ({
      layers: layerTensors.map(({ weight, bias, inputs, outputs }) => {
        const flat = e * stored + i;
        return {
          weight: weight.data.subarray(flat * outputs * inputs, (flat + 1) * outputs * inputs),
          bias: bias.data.subarray(flat * outputs, (flat + 1) * outputs),
        };
      }),
    })),
  );
  const coefficients = Array.from({ length: members }, (_, e) =>
    Float64Array.from(coefficientTensor.data.subarray(e * stored, (e + 1) * stored)),
  );
  return { spec, members, stored, snapshots, coefficients, correction, memory, eta, tau, gamma, variant, normalization, rule };
}

/** Creates a stack on `gpu` holding exactly what the file holds. */
export function stackFromSafetensors(gpu: Gpu, bytes: Uint8Array, options: LoadStackOptions = {}): Stack {
  return stackFromContents(gpu, readStackFile(bytes), options);
}

/** `stackFromSafetensors` for a file already decoded by `readStackFile` (so it is decoded once). */
export function stackFromContents(gpu: Gpu, contents: StackFileContents, options: LoadStackOptions = {}): Stack {
  let memory = contents.memory;
  if (options.memory !== undefined) {
    const least = Math.max(1, contents.stored - (contents.rule === "authors" ? 1 : 0));
    if (!(Number.isInteger(options.memory) && options.memory >= least)) {
      throw new StaqInputError(
        `memory override ${options.memory} must be an integer >= ${least}: the file holds ${contents.stored} snapshots per member${contents.rule === "authors" ? " (M + 1 under the authors' stack rule)" : ""}`,
      );
    }
    memory = options.memory;
  } else {
    // createStack checks M too; checked here first so that the message says the file chose it.
    checkBudget(
      gpu.info,
      { name: "memory M", value: stackSlots(memory, contents.rule), source: `the file's __metadata__ "memory"` },
      stackBudget(snapshotLayout(contents.spec), contents.members),
    );
  }
  const stack = createStack(gpu, {
    mlp: contents.spec,
    memory,
    ensemble: contents.members,
    eta: contents.eta,
    tau: contents.tau,
    gamma: contents.gamma,
    variant: contents.variant,
    normalization: contents.normalization,
    rule: contents.rule,
    label: options.label,
    maxBindingBytes: options.maxBindingBytes,
    targetWorkgroups: options.targetWorkgroups,
    convFusion: options.convFusion,
  });
  try {
    stack.set({ snapshots: contents.snapshots, coefficients: contents.coefficients, correction: contents.correction, tau: contents.tau });
  } catch (error) {
    stack.destroy();
    throw error;
  }
  return stack;
}
