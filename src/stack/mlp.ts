/**
 * The Q-network of one snapshot: an MLP with ReLU hidden layers and a linear head, stored in the
 * PyTorch `nn.Linear` convention (weight [out, in], row-major; bias [out]), optionally behind a
 * convolutional first layer (conv.ts), whose Conv2d weight [filters, channels, kh, kw] is the
 * same numbers as a dense weight [filters, channels·kh·kw].
 */
import { StaqInputError } from "../errors.ts";
import { convGeometry, validateConvSpec, type ConvSpec } from "./conv.ts";

export interface MlpSpec {
  inputs: number;
  /**
   * A conv layer (+ ReLU) first, its flattened output feeding the hidden layers; `inputs` is then
   * the image's height·width·channels.
   */
  conv?: ConvSpec;
  /** Hidden layer widths (after the conv layer, if any); empty for a linear model. */
  hidden: readonly number[];
  /** Number of actions (the head's width). */
  outputs: number;
}

export interface DenseLayer {
  /** [out, in], row-major. */
  weight: Float32Array;
  /** [out]. */
  bias: Float32Array;
}

export interface MlpWeights {
  layers: DenseLayer[];
}

/**
 * (in, out) of each layer's weight [out, in], hidden layers first, head last. A conv layer's is
 * (channels·kh·kw, filters): its weight as a matrix; the next layer has filters·H'·W' inputs.
 */
export function layerShapes(spec: MlpSpec): { inputs: number; outputs: number }[] {
  if (spec.conv) {
    const g = convGeometry(spec.conv);
    const dense = layerShapes({ inputs: g.filters * g.positions, hidden: spec.hidden, outputs: spec.outputs });
    return [{ inputs: g.patch, outputs: g.filters }, ...dense];
  }
  const widths = [spec.inputs, ...spec.hidden, spec.outputs];
  return widths.slice(1).map((outputs, l) => ({ inputs: widths[l], outputs }));
}

/** A copy of `spec` that shares no arrays with it. */
export function copyMlpSpec(spec: MlpSpec): MlpSpec {
  const { conv } = spec;
  return {
    inputs: spec.inputs,
    ...(conv
      ? {
          conv: {
            inputShape: [...conv.inputShape] as [number, number, number],
            filters: conv.filters,
            ...(conv.kernel ? { kernel: [...conv.kernel] as [number, number] } : {}),
            ...(conv.stride !== undefined ? { stride: conv.stride } : {}),
            ...(conv.padding !== undefined ? { padding: conv.padding } : {}),
          },
        }
      : {}),
    hidden: [...spec.hidden],
    outputs: spec.outputs,
  };
}

/** Number of float32 parameters of one snapshot. */
export function parameterCount(spec: MlpSpec): number {
  return layerShapes(spec).reduce((sum, { inputs, outputs }) => sum + inputs * outputs + outputs, 0);
}

/**
 * The most hidden layers a network may have. The kernels unroll their loop over layers (shaders
 * get the layer table as constants), so compile time grows with depth: a file of 3000 one-unit
 * layers took a minute and a gigabyte to compile on lavapipe. Q-networks in the literature have
 * two or three; sixteen leaves room to experiment.
 */
export const MAX_HIDDEN_LAYERS = 16;

export function validateMlpSpec(spec: MlpSpec): void {
  const positive = (value: unknown, name: string) => {
    if (!(typeof value === "number" && Number.isInteger(value) && value >= 1)) {
      throw new StaqInputError(`mlp.${name} must be an integer >= 1; got ${typeof value === "number" ? value : JSON.stringify(value)}`);
    }
  };
  if (typeof spec !== "object" || spec === null) throw new StaqInputError("mlp must be { inputs, hidden: number[], outputs }");
  positive(spec.inputs, "inputs");
  positive(spec.outputs, "outputs");
  if (!Array.isArray(spec.hidden)) throw new StaqInputError(`mlp.hidden must be an array of widths; got ${JSON.stringify(spec.hidden)}`);
  if (spec.hidden.length > MAX_HIDDEN_LAYERS) {
    throw new StaqInputError(
      `mlp.hidden has ${spec.hidden.length} layers; staq takes at most ${MAX_HIDDEN_LAYERS} (its kernels are generated layer by layer, so a deeper network's compile time and memory grow with its depth)`,
    );
  }
  spec.hidden.forEach((width, l) => positive(width, `hidden[${l}]`));
  if (spec.conv !== undefined) validateConvSpec(spec.conv, spec.inputs);
}

function checkFinite(values: Float32Array, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new StaqInputError(`${what}[${i}] is ${values[i]}; weights must be finite`);
  }
}

/** Throws an error naming the layer and the problem if `weights` does not match `spec`. */
export function validateMlpWeights(spec: MlpSpec, weights: MlpWeights, label = "snapshot"): void {
  const shapes = layerShapes(spec);
  if (!weights || !Array.isArray(weights.layers)) throw new StaqInputError(`${label} must be { layers: [{ weight, bias }, …] }`);
  if (weights.layers.length !== shapes.length) {
    throw new StaqInputError(`${label} has ${weights.layers.length} layers; the stack's MLP has ${shapes.length}`);
  }
  shapes.forEach(({ inputs, outputs }, l) => {
    const { weight, bias } = weights.layers[l];
    if (!(weight instanceof Float32Array) || !(bias instanceof Float32Array)) {
      throw new StaqInputError(`${label}.layers[${l}]: weight and bias must be Float32Arrays`);
    }
    if (weight.length !== inputs * outputs) {
      throw new StaqInputError(
        `${label}.layers[${l}].weight has ${weight.length} values; expected [${outputs}, ${inputs}] = ${inputs * outputs}`,
      );
    }
    if (bias.length !== outputs) {
      throw new StaqInputError(`${label}.layers[${l}].bias has ${bias.length} values; expected ${outputs}`);
    }
    checkFinite(weight, `${label}.layers[${l}].weight`);
    checkFinite(bias, `${label}.layers[${l}].bias`);
  });
}

/**
 * An MLP with every parameter drawn from `sample()` times `scale / sqrt(fan_in)` (for tests and
 * benchmarks; training initialisation lives with the trainer).
 */
export function randomMlpWeights(spec: MlpSpec, sample: () => number, scale = 1): MlpWeights {
  return {
    layers: layerShapes(spec).map(({ inputs, outputs }) => {
      const s = scale / Math.sqrt(inputs);
      return {
        weight: Float32Array.from({ length: inputs * outputs }, () => sample() * s),
        bias: Float32Array.from({ length: outputs }, () => sample() * s),
      };
    }),
  };
}
