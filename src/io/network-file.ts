/**
 * One Q-network as a safetensors file, and a training batch as JSON: the inputs and output of
 * `staq fit`, in forms any framework can write and read.
 *
 *     net.layers.{l}.weight   F32 [out_l, in_l]   (nn.Linear convention: out × in)
 *                             or, for l = 0 only, [out, in, kh, kw]: a conv layer (nn.Conv2d,
 *                             stride 1, no padding) over the state read as an image
 *     net.layers.{l}.bias     F32 [out_l]
 *     __metadata__            optional; staq writes format "staq-net/1" and what produced the file;
 *                             "input_shape" = "H,W,C" is required when layer 0 is a conv
 *
 * The names are those of the stack file (docs/formats.md, “The stack file”) for one snapshot, without the [E, N]
 * dimensions, so a PyTorch `state_dict` of an nn.Sequential of (Conv2d, ReLU, Flatten,) Linear/ReLU
 * saved under these names is a network file. The layers must chain (in_l = out_{l−1}, or
 * out·H'·W' after a conv); the MLP's spec is read off the shapes. Hidden layers are ReLU, the head
 * is linear, as everywhere in staq.
 *
 *     BATCH.json   {"obs": [[...], ...], "actions": [...], "targets": [...]}
 *
 * one row per sample: the state, the action taken (an integer in [0, outputs)) and the regression
 * target of that action's Q value.
 *
 * The conv layer's file form, shared with the stack file, is ./conv-layer-file.ts.
 *
 * Portable: no `node:` modules (files on disk are the CLI's business).
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import type { ConvSpec } from "../stack/conv.ts";
import {
  convFeatures,
  convNotFirstError,
  convOutputsText,
  convWithoutHeadError,
  fileWeightDims,
  indexText,
  quote,
  readFileConv,
  refuseStrayInputShape,
  requireStorableConv,
  shapeText,
  withInputShape,
} from "./conv-layer-file.ts";
import { layerShapes, validateMlpWeights, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { parseJsonObject } from "./json.ts";
import { decodeSafetensors, encodeSafetensors, type Float32Tensor } from "./safetensors.ts";

export const NETWORK_FORMAT = "staq-net/1";
export const networkWeightName = (layer: number) => `net.layers.${layer}.weight`;
export const networkBiasName = (layer: number) => `net.layers.${layer}.bias`;

const LAYER_TENSOR = /^net\.layers\.(0|[1-9][0-9]*)\.(weight|bias)$/;

export interface NetworkFileContents {
  spec: MlpSpec;
  /** Views into the decoded tensors. */
  weights: MlpWeights;
  /** The file's `__metadata__` ({} when it has none). */
  metadata: Record<string, string>;
}

function requireTensor(tensors: Map<string, Float32Tensor>, name: string, layers: number): Float32Tensor {
  const tensor = tensors.get(name);
  if (!tensor) {
    throw new StaqFormatError(
      `missing tensor ${quote(name)}: the file has layers up to net.layers.${layers - 1}, and each layer needs a weight and a bias`,
    );
  }
  return tensor;
}

/** Throws naming the tensor and the index of its first value that is NaN or infinite. */
function requireFinite(name: string, tensor: Float32Tensor): void {
  const { data, shape } = tensor;
  const k = data.findIndex((x) => !Number.isFinite(x));
  if (k < 0) return;
  throw new StaqFormatError(`tensor ${quote(name)} ${indexText(shape, k)} is ${data[k]}; weights and biases must be finite`);
}

/** The number of layers: one past the highest net.layers.{l}; any other tensor is refused. */
function countLayers(tensors: Map<string, Float32Tensor>): number {
  let layers = 0;
  for (const name of tensors.keys()) {
    const match = LAYER_TENSOR.exec(name);
    if (!match) {
      const hint = name.startsWith("stack.") ? " (this looks like a stack file; `staq fit` takes one network)" : "";
      throw new StaqFormatError(
        `unexpected tensor ${quote(name)}; a network file holds only net.layers.{l}.weight [out, in] and net.layers.{l}.bias [out]${hint}`,
      );
    }
    layers = Math.max(layers, Number(match[1]) + 1);
  }
  if (layers === 0) throw new StaqFormatError(`missing tensor ${quote(networkWeightName(0))}: the file holds no layers`);
  return layers;
}

/** Layer 0 as a conv layer (a 4-D weight) and the file's "input_shape": the conv's spec. */
function readConvLayer(weight: Float32Tensor, metadata: Record<string, string>, layers: number): ConvSpec {
  const name = networkWeightName(0);
  if (weight.shape.some((d) => d < 1)) {
    throw new StaqFormatError(
      `tensor ${quote(name)} has shape ${shapeText(weight.shape)}; a conv layer's [out, in, kh, kw] needs every dimension >= 1`,
    );
  }
  if (layers === 1) throw convWithoutHeadError(name, networkWeightName(1));
  const [filters, channels, kh, kw] = weight.shape;
  return readFileConv(metadata, name, weight.shape, [filters, channels, kh, kw]);
}

/** Decodes and checks a network file: tensor names, shapes, the chaining of layers, finite values. */
export function readNetworkFile(bytes: Uint8Array): NetworkFileContents {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const layers = countLayers(tensors);

  // Each layer's input width must be the previous layer's output width (out·H'·W' after a conv);
  // layer 0's is the MLP's.
  let conv: ConvSpec | undefined;
  let stateInputs = 0;
  const outputs: number[] = [];
  const parsed: MlpWeights = { layers: [] };
  for (let l = 0; l < layers; l++) {
    const weightName = networkWeightName(l);
    const biasName = networkBiasName(l);
    const weight = requireTensor(tensors, weightName, layers);
    const bias = requireTensor(tensors, biasName, layers);
    if (weight.shape.length === 4) {
      if (l > 0) throw convNotFirstError(weightName, weight.shape, networkWeightName(0));
      conv = readConvLayer(weight, metadata, layers);
      stateInputs = conv.inputShape.reduce((a, b) => a * b, 1);
    } else {
      requireDenseShape(l, weight.shape);
      if (l === 0) {
        refuseStrayInputShape(metadata, weightName, weight.shape);
        stateInputs = weight.shape[1];
      } else {
        checkChain(l, weight.shape, l === 1 ? conv : undefined, outputs[l - 1]);
      }
    }
    const out = weight.shape[0];
    if (bias.shape.length !== 1 || bias.shape[0] !== out) {
      throw new StaqFormatError(
        `tensor ${quote(biasName)} has shape ${shapeText(bias.shape)}; expected [${out}], the out of ${quote(weightName)}`,
      );
    }
    requireFinite(weightName, weight);
    requireFinite(biasName, bias);
    outputs.push(out);
    parsed.layers.push({ weight: weight.data, bias: bias.data });
  }
  const spec: MlpSpec = {
    inputs: stateInputs,
    ...(conv ? { conv } : {}),
    hidden: outputs.slice(conv ? 1 : 0, -1),
    outputs: outputs[outputs.length - 1],
  };
  return { spec, weights: parsed, metadata };
}

/** Throws unless layer l's weight `shape` is a dense layer's [out, in]; at layer 0 the message names the conv form too. */
function requireDenseShape(l: number, shape: readonly number[]): void {
  if (shape.length === 2 && shape[0] >= 1 && shape[1] >= 1) return;
  throw new StaqFormatError(
    `tensor ${quote(networkWeightName(l))} has shape ${shapeText(shape)}; expected [out, in] with out >= 1 and in >= 1` +
      (l === 0 ? ` (or, for a conv first layer, PyTorch's Conv2d [out, in, kh, kw])` : ""),
  );
}

/** Throws unless dense layer l (weight `shape`) takes the outputs of layer l − 1: `conv`'s flattened ones after a conv. */
function checkChain(l: number, shape: readonly number[], conv: ConvSpec | undefined, previousOutputs: number): void {
  const weightName = networkWeightName(l);
  const previous = networkWeightName(l - 1);
  const expected = conv ? convFeatures(conv) : previousOutputs;
  const [out, inputs] = shape;
  if (inputs === expected) return;
  const source = conv
    ? `layers must chain: it takes ${convOutputsText(conv, previous)}, so`
    : `${quote(previous)} has ${expected} outputs; layers must chain, so`;
  throw new StaqFormatError(
    `tensor ${quote(weightName)} has shape ${shapeText(shape)}, taking ${inputs} inputs, but ${source} expected [${out}, ${expected}]`,
  );
}

/**
 * Encodes one network as a network file (layer by layer, weight then bias), a conv first layer as
 * PyTorch's Conv2d weight with its "input_shape"; refuses a conv layer the format cannot express.
 */
export function networkToSafetensors(spec: MlpSpec, weights: MlpWeights, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  validateMlpWeights(spec, weights, "network");
  requireStorableConv(spec, "a network file");
  const tensors = new Map<string, Float32Tensor>();
  layerShapes(spec).forEach(({ outputs }, l) => {
    tensors.set(networkWeightName(l), { shape: fileWeightDims(spec, l), data: weights.layers[l].weight });
    tensors.set(networkBiasName(l), { shape: [outputs], data: weights.layers[l].bias });
  });
  return encodeSafetensors(tensors, { format: NETWORK_FORMAT, ...withInputShape(spec, metadata) });
}

export interface TrainingBatchFile {
  /** Rows in the batch. */
  batch: number;
  /** [batch × inputs], float32. */
  states: Float32Array;
  /** [batch], integers in [0, outputs). */
  actions: Int32Array;
  /** [batch], float32. */
  targets: Float32Array;
}

const BATCH_EXAMPLE = 'expected {"obs": [[s0, s1, ...], ...], "actions": [a, ...], "targets": [y, ...]}';

/** An entry as the file wrote it: a number as JavaScript prints it (NaN too, which JSON.stringify makes null), else its JSON. */
function describeEntry(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

/** A number that is finite in float32 (staq computes in float32); throws naming the entry otherwise. */
function float32Entry(value: unknown, where: string, source: string): number {
  if (typeof value !== "number") throw new StaqFormatError(`${source}: ${where} is ${JSON.stringify(value)}; expected a number`);
  // NaN and ±Infinity come from bare tokens, which Python's json module writes (parseJsonObject).
  if (!Number.isFinite(value)) throw new StaqInputError(`${source}: ${where} is ${value}; every value must be a finite number`);
  const single = Math.fround(value);
  if (!Number.isFinite(single)) throw new StaqInputError(`${source}: ${where} = ${value} is beyond the float32 range (about ±3.4e38)`);
  return single;
}

function arrayField(parsed: Record<string, unknown>, key: string, source: string): unknown[] {
  const value = parsed[key];
  if (!Array.isArray(value)) {
    throw new StaqFormatError(`${source}: ${value === undefined ? `has no "${key}"` : `"${key}" is not an array`}; ${BATCH_EXAMPLE}`);
  }
  return value;
}

/**
 * Parses BATCH.json for a network of `spec`. `source` names the file in errors, which say which
 * entry is wrong and what is expected. Values are rounded to float32, as staq trains in float32;
 * NaN, ±Infinity and numbers beyond float32's range are refused.
 */
export function parseTrainingBatchJson(text: string, source: string, spec: MlpSpec): TrainingBatchFile {
  const record = parseJsonObject(text, source, { fields: ["obs", "actions", "targets"], expected: BATCH_EXAMPLE });
  const obs = arrayField(record, "obs", source);
  const actions = arrayField(record, "actions", source);
  const targets = arrayField(record, "targets", source);
  const batch = obs.length;
  if (batch === 0) throw new StaqInputError(`${source}: "obs" is empty; a batch needs at least one row`);
  if (actions.length !== batch || targets.length !== batch) {
    throw new StaqInputError(
      `${source}: "obs" has ${batch} rows, "actions" ${actions.length} and "targets" ${targets.length}; each row needs one of each`,
    );
  }

  const width = spec.inputs;
  const states = new Float32Array(batch * width);
  obs.forEach((row, b) => {
    if (!Array.isArray(row))
      throw new StaqFormatError(`${source}: obs[${b}] is ${describeEntry(row)}; expected an array of ${width} numbers`);
    if (row.length !== width) {
      throw new StaqInputError(
        `${source}: obs[${b}] has ${row.length} values, but the network takes ${width} inputs; every row of "obs" needs ${width}`,
      );
    }
    row.forEach((value, i) => (states[b * width + i] = float32Entry(value, `obs[${b}][${i}]`, source)));
  });
  const actionValues = new Int32Array(batch);
  actions.forEach((a, b) => {
    if (!(typeof a === "number" && Number.isInteger(a) && a >= 0 && a < spec.outputs)) {
      throw new StaqInputError(
        `${source}: actions[${b}] is ${describeEntry(a)}; actions are integers in [0, ${spec.outputs}), the network's outputs`,
      );
    }
    actionValues[b] = a;
  });
  const targetValues = Float32Array.from(targets, (y, b) => float32Entry(y, `targets[${b}]`, source));
  return { batch, states, actions: actionValues, targets: targetValues };
}
