/**
 * One Q-network as a safetensors file, and a training batch as JSON: the inputs and output of
 * `staq fit`, in forms any framework can write and read.
 *
 *     net.layers.{l}.weight   F32 [out_l, in_l]   (nn.Linear convention: out × in)
 *     net.layers.{l}.bias     F32 [out_l]
 *     __metadata__            optional; staq writes format "staq-net/1" and what produced the file
 *
 * The names are those of the stack file (docs/formats.md, “The stack file”) for one snapshot, without the [E, N]
 * dimensions, so a PyTorch `state_dict` of an nn.Sequential of Linear/ReLU saved under these names
 * is a network file. The layers must chain (in_l = out_{l−1}); the MLP's spec is read off the
 * shapes. Hidden layers are ReLU, the head is linear, as everywhere in staq.
 *
 *     BATCH.json   {"obs": [[...], ...], "actions": [...], "targets": [...]}
 *
 * one row per sample: the state, the action taken (an integer in [0, outputs)) and the regression
 * target of that action's Q value.
 *
 * Portable: no `node:` modules (files on disk are the CLI's business).
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { layerShapes, validateMlpWeights, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { checkJsonDepth, parseJsonText } from "./json.ts";
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

const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;
const quote = (name: string) => JSON.stringify(name);

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
  const index = shape.length === 2 ? `[${Math.floor(k / shape[1])}, ${k % shape[1]}]` : `[${k}]`;
  throw new StaqFormatError(`tensor ${quote(name)} ${index} is ${data[k]}; weights and biases must be finite`);
}

/** Decodes and checks a network file: tensor names, shapes, the chaining of layers, finite values. */
export function readNetworkFile(bytes: Uint8Array): NetworkFileContents {
  const { tensors, metadata } = decodeSafetensors(bytes);

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

  // Each layer's input width must be the previous layer's output width; layer 0's is the MLP's.
  const widths: number[] = [];
  const parsed: MlpWeights = { layers: [] };
  for (let l = 0; l < layers; l++) {
    const weightName = networkWeightName(l);
    const biasName = networkBiasName(l);
    const weight = requireTensor(tensors, weightName, layers);
    const bias = requireTensor(tensors, biasName, layers);
    if (weight.shape.length !== 2 || weight.shape[0] < 1 || weight.shape[1] < 1) {
      throw new StaqFormatError(
        `tensor ${quote(weightName)} has shape ${shapeText(weight.shape)}; expected [out, in] with out >= 1 and in >= 1`,
      );
    }
    const [outputs, inputs] = weight.shape;
    if (l === 0) widths.push(inputs);
    else if (inputs !== widths[l]) {
      throw new StaqFormatError(
        `tensor ${quote(weightName)} has shape ${shapeText(weight.shape)}, taking ${inputs} inputs, but ${quote(networkWeightName(l - 1))} ` +
          `has ${widths[l]} outputs; layers must chain, so expected [${outputs}, ${widths[l]}]`,
      );
    }
    if (bias.shape.length !== 1 || bias.shape[0] !== outputs) {
      throw new StaqFormatError(
        `tensor ${quote(biasName)} has shape ${shapeText(bias.shape)}; expected [${outputs}], the out of ${quote(weightName)}`,
      );
    }
    requireFinite(weightName, weight);
    requireFinite(biasName, bias);
    widths.push(outputs);
    parsed.layers.push({ weight: weight.data, bias: bias.data });
  }
  const spec: MlpSpec = { inputs: widths[0], hidden: widths.slice(1, -1), outputs: widths[widths.length - 1] };
  return { spec, weights: parsed, metadata };
}

/** Encodes one network as a network file (layer by layer, weight then bias). */
export function networkToSafetensors(spec: MlpSpec, weights: MlpWeights, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  validateMlpWeights(spec, weights, "network");
  const tensors = new Map<string, Float32Tensor>();
  layerShapes(spec).forEach(({ inputs, outputs }, l) => {
    tensors.set(networkWeightName(l), { shape: [outputs, inputs], data: weights.layers[l].weight });
    tensors.set(networkBiasName(l), { shape: [outputs], data: weights.layers[l].bias });
  });
  return encodeSafetensors(tensors, { format: NETWORK_FORMAT, ...metadata });
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

/** A string token or a bare NaN / Infinity / -Infinity outside strings. */
const NON_FINITE_TOKEN = /"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g;
/** What a bare non-finite token becomes, so the entry holding it can be named. */
const NON_FINITE_MARK = "\u0000non-finite ";

/**
 * JSON.parse, except that bare NaN and ±Infinity (which Python's json module writes by default,
 * but JSON does not allow) parse as marked strings: the batch checks then name the entry holding
 * one ("targets[3] is NaN") instead of reporting a JSON syntax error somewhere in the file.
 */
function parseBatchText(text: string, source: string): unknown {
  checkJsonDepth(text, source);
  try {
    return JSON.parse(text);
  } catch {
    const marked = text.replace(NON_FINITE_TOKEN, (match, token?: string) => (token ? JSON.stringify(NON_FINITE_MARK + token) : match));
    if (marked !== text) {
      try {
        return JSON.parse(marked);
      } catch {
        // Not valid even so: report the file's own syntax error below.
      }
    }
    return parseJsonText(text, source);
  }
}

/** An entry as the file wrote it. */
function describeEntry(value: unknown): string {
  return typeof value === "string" && value.startsWith(NON_FINITE_MARK) ? value.slice(NON_FINITE_MARK.length) : JSON.stringify(value);
}

/** A number that is finite in float32 (staq computes in float32); throws naming the entry otherwise. */
function float32Entry(value: unknown, where: string, source: string): number {
  if (typeof value === "string" && value.startsWith(NON_FINITE_MARK)) {
    throw new StaqInputError(`${source}: ${where} is ${describeEntry(value)}; every value must be a finite number`);
  }
  if (typeof value !== "number") throw new StaqFormatError(`${source}: ${where} is ${JSON.stringify(value)}; expected a number`);
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
  const parsed = parseBatchText(text, source);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StaqFormatError(`${source} is not a JSON object; ${BATCH_EXAMPLE}`);
  const record = parsed as Record<string, unknown>;
  const obs = arrayField(record, "obs", source);
  const actions = arrayField(record, "actions", source);
  const targets = arrayField(record, "targets", source);
  const unexpected = Object.keys(record).find((key) => !["obs", "actions", "targets"].includes(key));
  if (unexpected !== undefined) throw new StaqFormatError(`${source}: unexpected field ${quote(unexpected)}; ${BATCH_EXAMPLE}`);
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
