/**
 * The conv layer's form in staq's files, shared by the network file (./network-file.ts) and the
 * stack file (./stack-file.ts): a weight whose last four dimensions are PyTorch's Conv2d
 * [out, in, kh, kw], plus the metadata "input_shape" = "H,W,C" (docs/formats.md). A weight holds no
 * stride or padding, so the files imply stride 1 and no padding (the StaQ paper's layer), and the
 * writers refuse a conv layer with others rather than write a file that would be read back as a
 * different network.
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { convGeometry, type ConvSpec } from "../stack/conv.ts";
import { layerShapes, type MlpSpec } from "../stack/mlp.ts";

/** The metadata key of a conv first layer's image: "H,W,C" (docs/formats.md). */
export const INPUT_SHAPE_KEY = "input_shape";

/** A shape or index as the messages write it: "[1, 2]". */
export const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;
/** A tensor name or value, quoted as JSON. */
export const quote = (name: string) => JSON.stringify(name);

/** The "input_shape" metadata value of a conv layer: "H,W,C". */
export function inputShapeText(conv: ConvSpec): string {
  return conv.inputShape.join(",");
}

/**
 * Throws a StaqInputError when `spec` has a conv layer the files cannot hold. `what` names the
 * file kind in the message ("a stack file").
 */
export function requireStorableConv(spec: MlpSpec, what: string): void {
  if (!spec.conv) return;
  const { stride, padding } = convGeometry(spec.conv);
  if (stride === 1 && padding === 0) return;
  throw new StaqInputError(
    `the conv layer has stride ${stride} and padding ${padding}, which ${what} cannot hold: it stores the Conv2d weight and ` +
      `"${INPUT_SHAPE_KEY}" only, which mean stride 1 and no padding (docs/formats.md); only networks with a stride-1, ` +
      `unpadded conv layer (the StaQ paper's) can be saved`,
  );
}

/**
 * The dimensions a file gives layer l's weight after any leading [E, N]: [out, in] for a dense
 * layer, PyTorch's Conv2d [filters, channels, kh, kw] for a conv one (the same values, row-major).
 */
export function fileWeightDims(spec: MlpSpec, l: number): number[] {
  const { inputs, outputs } = layerShapes(spec)[l];
  if (l > 0 || !spec.conv) return [outputs, inputs];
  const g = convGeometry(spec.conv);
  return [g.filters, g.channels, g.kernelHeight, g.kernelWidth];
}

/**
 * `metadata` with "input_shape" for a conv first layer. A caller's "input_shape" must agree with
 * the spec, and a dense network may not carry one: its readers would take the file for a conv one.
 */
export function withInputShape(spec: MlpSpec, metadata: Readonly<Record<string, string>>): Record<string, string> {
  const given = metadata[INPUT_SHAPE_KEY];
  if (!spec.conv) {
    if (given !== undefined) {
      throw new StaqInputError(
        `metadata "${INPUT_SHAPE_KEY}" (${quote(given)}) describes a conv first layer, but the network has none; leave it out`,
      );
    }
    return { ...metadata };
  }
  const text = inputShapeText(spec.conv);
  if (given !== undefined && given !== text) {
    throw new StaqInputError(
      `metadata "${INPUT_SHAPE_KEY}" is ${quote(given)}, but the network's conv layer reads a ${text.replaceAll(",", "×")} image; leave it out (the writer adds it)`,
    );
  }
  return { ...metadata, [INPUT_SHAPE_KEY]: text };
}

const INPUT_SHAPE = /^\s*([1-9][0-9]*)\s*,\s*([1-9][0-9]*)\s*,\s*([1-9][0-9]*)\s*$/;

/** The image [H, W, C] of "input_shape"; throws naming the key and the conv weight that needs it. */
function parseInputShape(metadata: Record<string, string>, weightName: string, weightShape: readonly number[]): [number, number, number] {
  const text = metadata[INPUT_SHAPE_KEY];
  const why = `${quote(weightName)} has shape ${shapeText(weightShape)}, a conv layer, which reads the state as an image`;
  if (text === undefined) {
    throw new StaqFormatError(
      `__metadata__ has no "${INPUT_SHAPE_KEY}": ${why}; add "${INPUT_SHAPE_KEY}": "H,W,C" (e.g. "10,10,4") with the image's height, width and channels`,
    );
  }
  const match = INPUT_SHAPE.exec(text);
  const shape = match ? ([Number(match[1]), Number(match[2]), Number(match[3])] as [number, number, number]) : undefined;
  if (!shape || !shape.every(Number.isSafeInteger)) {
    throw new StaqFormatError(
      `__metadata__ "${INPUT_SHAPE_KEY}" is ${quote(text)}; it must be "H,W,C", three integers >= 1 (e.g. "10,10,4"), since ${why}`,
    );
  }
  return shape;
}

/**
 * The conv first layer of a file: its weight `weightName` has the trailing dimensions
 * [filters, channels, kh, kw] (`dims`, all >= 1) and `metadata` the image's "input_shape", which
 * must agree with them. Stride 1 and no padding, as the format implies.
 */
export function readFileConv(
  metadata: Record<string, string>,
  weightName: string,
  weightShape: readonly number[],
  dims: readonly [number, number, number, number],
): ConvSpec {
  const [filters, channels, kernelHeight, kernelWidth] = dims;
  const [height, width, imageChannels] = parseInputShape(metadata, weightName, weightShape);
  const image = `the ${height}×${width}×${imageChannels} image of __metadata__ "${INPUT_SHAPE_KEY}" (${quote(metadata[INPUT_SHAPE_KEY])})`;
  if (imageChannels !== channels) {
    throw new StaqFormatError(
      `tensor ${quote(weightName)} has shape ${shapeText(weightShape)}, a conv layer over ${channels} channels (its in), but ${image} has ${imageChannels}; they must agree`,
    );
  }
  if (kernelHeight > height || kernelWidth > width) {
    throw new StaqFormatError(
      `tensor ${quote(weightName)} has shape ${shapeText(weightShape)}, a ${kernelHeight}×${kernelWidth} kernel, which does not fit ${image}; check "${INPUT_SHAPE_KEY}" (H,W,C)`,
    );
  }
  return { inputShape: [height, width, channels], filters, kernel: [kernelHeight, kernelWidth], stride: 1, padding: 0 };
}

/** Throws when the file has "input_shape" but its layer 0 is dense: the file contradicts itself. */
export function refuseStrayInputShape(metadata: Record<string, string>, weightName: string, weightShape: readonly number[]): void {
  const text = metadata[INPUT_SHAPE_KEY];
  if (text === undefined) return;
  throw new StaqFormatError(
    `__metadata__ "${INPUT_SHAPE_KEY}" is ${quote(text)}, which describes a conv first layer, but ${quote(weightName)} has shape ` +
      `${shapeText(weightShape)}, a dense layer; store the conv weight as PyTorch's Conv2d [out, in, kh, kw] or remove "${INPUT_SHAPE_KEY}"`,
  );
}

/** The error for a conv weight after layer 0. */
export function convNotFirstError(weightName: string, weightShape: readonly number[], firstWeight: string): StaqFormatError {
  return new StaqFormatError(
    `tensor ${quote(weightName)} has shape ${shapeText(weightShape)}, a conv layer; staq supports one conv layer, first ` +
      `(${quote(firstWeight)}), followed by dense layers`,
  );
}

/** The error for a conv weight with no layer after it. */
export function convWithoutHeadError(weightName: string, nextWeight: string): StaqFormatError {
  return new StaqFormatError(
    `tensor ${quote(weightName)} is a conv layer, and the file has no layer after it; the conv's ReLU outputs feed at least a linear head, ${quote(nextWeight)}`,
  );
}

/** The conv layer's outputs, filters·H'·W': what the layer after it takes. */
export function convFeatures(conv: ConvSpec): number {
  const g = convGeometry(conv);
  return g.filters * g.positions;
}

/**
 * What the layer after a conv layer takes, for its chain error: "the 16·8·8 = 1024 outputs of the
 * 3×3 conv "…" over the 10×10×4 image of "input_shape" (…)".
 */
export function convOutputsText(conv: ConvSpec, weightName: string): string {
  const g = convGeometry(conv);
  return (
    `the ${g.filters}·${g.outHeight}·${g.outWidth} = ${g.filters * g.positions} outputs of the ${g.kernelHeight}×${g.kernelWidth} conv ` +
    `${quote(weightName)} over the ${g.height}×${g.width}×${g.channels} image of "${INPUT_SHAPE_KEY}" (filters·H'·W', flattened in PyTorch's order)`
  );
}

/** The multi-index of flat element k of a row-major tensor of `shape`, as text: "[1, 2]". */
export function indexText(shape: readonly number[], k: number): string {
  const index: number[] = [];
  let rest = k;
  for (let d = shape.length - 1; d >= 0; d--) {
    index.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return shapeText(index);
}
