/**
 * A convolutional first layer: the front of the StaQ paper's MinAtar network (Conv2d(C→16, 3×3,
 * stride 1, no padding) + ReLU → flatten → dense layers).
 *
 * The state is an image flattened as [height][width][channels] (MinAtar's observation, h, w, c
 * row-major), so pixel (y, x, c) of a state is state[(y·W + x)·C + c]; PyTorch reads the same
 * image as x[c][y][x] after `obs.view(B, H, W, C).permute(0, 3, 1, 2)`. The layer's parameters are
 * PyTorch's Conv2d weight [filters, channels, kh, kw] and bias [filters]. Read as a matrix, that
 * weight is an nn.Linear weight [filters, patch] over the patch of one output position, patch
 * index k = (c·kh + i)·kw + j; so a conv layer is a dense layer applied at every output position
 * to that position's patch (im2col), and everything that stores, validates or initialises dense
 * weights treats it as one. The conv layer's outputs, flattened in PyTorch's order
 * (filter · H'·W' + y'·W' + x'), are the next layer's inputs.
 */
import { StaqInputError } from "../errors.ts";

export interface ConvSpec {
  /** The state as an image: [height, width, channels]; the state has height·width·channels values. */
  inputShape: readonly [number, number, number];
  /** Output channels (Conv2d's out_channels). */
  filters: number;
  /** [kh, kw] (default [3, 3]). */
  kernel?: readonly [number, number];
  /** Default 1. */
  stride?: number;
  /** Zero padding on every side (default 0). */
  padding?: number;
}

/** A conv layer's numbers, defaults resolved. */
export interface ConvGeometry {
  height: number;
  width: number;
  channels: number;
  filters: number;
  kernelHeight: number;
  kernelWidth: number;
  stride: number;
  padding: number;
  outHeight: number;
  outWidth: number;
  /** Output positions: outHeight · outWidth. */
  positions: number;
  /** Inputs of one output: channels · kh · kw. */
  patch: number;
}

/** The Conv2d the StaQ paper puts in front of its MinAtar network, for a 10×10×`channels` observation. */
export function paperMinatarConv(channels: number): ConvSpec {
  return { inputShape: [10, 10, channels], filters: 16, kernel: [3, 3], stride: 1, padding: 0 };
}

export function convGeometry(conv: ConvSpec): ConvGeometry {
  const [height, width, channels] = conv.inputShape;
  const [kernelHeight, kernelWidth] = conv.kernel ?? [3, 3];
  const stride = conv.stride ?? 1;
  const padding = conv.padding ?? 0;
  const outHeight = Math.floor((height + 2 * padding - kernelHeight) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernelWidth) / stride) + 1;
  return {
    height,
    width,
    channels,
    filters: conv.filters,
    kernelHeight,
    kernelWidth,
    stride,
    padding,
    outHeight,
    outWidth,
    positions: outHeight * outWidth,
    patch: channels * kernelHeight * kernelWidth,
  };
}

/** Throws an error that names the field if `conv` is not a conv layer over `inputs` state values. */
export function validateConvSpec(conv: ConvSpec, inputs: number): void {
  if (typeof conv !== "object" || conv === null)
    throw new StaqInputError("mlp.conv must be { inputShape: [H, W, C], filters, kernel?: [kh, kw], stride?, padding? }");
  const integer = (value: unknown, name: string, min: number) => {
    if (!(typeof value === "number" && Number.isInteger(value) && value >= min))
      throw new StaqInputError(`mlp.conv.${name} must be an integer >= ${min}; got ${JSON.stringify(value)}`);
  };
  if (!Array.isArray(conv.inputShape) || conv.inputShape.length !== 3)
    throw new StaqInputError(`mlp.conv.inputShape must be [height, width, channels]; got ${JSON.stringify(conv.inputShape)}`);
  conv.inputShape.forEach((n, k) => integer(n, `inputShape[${k}]`, 1));
  integer(conv.filters, "filters", 1);
  if (conv.kernel !== undefined) {
    if (!Array.isArray(conv.kernel) || conv.kernel.length !== 2)
      throw new StaqInputError(`mlp.conv.kernel must be [height, width]; got ${JSON.stringify(conv.kernel)}`);
    conv.kernel.forEach((n, k) => integer(n, `kernel[${k}]`, 1));
  }
  if (conv.stride !== undefined) integer(conv.stride, "stride", 1);
  if (conv.padding !== undefined) integer(conv.padding, "padding", 0);
  const g = convGeometry(conv);
  if (g.height * g.width * g.channels !== inputs)
    throw new StaqInputError(
      `mlp.conv.inputShape [${g.height}, ${g.width}, ${g.channels}] has ${g.height * g.width * g.channels} values; the state has ${inputs} (mlp.inputs)`,
    );
  if (g.padding >= Math.min(g.kernelHeight, g.kernelWidth))
    throw new StaqInputError(`mlp.conv.padding ${g.padding} must be smaller than the kernel (${g.kernelHeight}×${g.kernelWidth})`);
  if (g.outHeight < 1 || g.outWidth < 1)
    throw new StaqInputError(
      `a ${g.kernelHeight}×${g.kernelWidth} kernel does not fit a ${g.height}×${g.width} image with padding ${g.padding}; use a smaller kernel`,
    );
}

/**
 * Where patch element k of output position p reads the state: an index into the state, or −1
 * for a pixel of the zero padding. The GPU kernels compute the same index (shaders/conv_patch.wgsl).
 */
export function patchSource(g: ConvGeometry, p: number, k: number): number {
  const c = Math.floor(k / (g.kernelHeight * g.kernelWidth));
  const i = Math.floor(k / g.kernelWidth) % g.kernelHeight;
  const j = k % g.kernelWidth;
  const y = Math.floor(p / g.outWidth) * g.stride + i - g.padding;
  const x = (p % g.outWidth) * g.stride + j - g.padding;
  if (y < 0 || y >= g.height || x < 0 || x >= g.width) return -1;
  return (y * g.width + x) * g.channels + c;
}

/** The patches of one state: [positions × patch], zero where a patch reads the padding (im2col). */
export function statePatches(g: ConvGeometry, state: ArrayLike<number>): Float64Array {
  const patches = new Float64Array(g.positions * g.patch);
  for (let p = 0; p < g.positions; p++) {
    for (let k = 0; k < g.patch; k++) {
      const source = patchSource(g, p, k);
      if (source >= 0) patches[p * g.patch + k] = state[source];
    }
  }
  return patches;
}

/**
 * The constants a shader with a conv layer declares for shaders/conv_patch.wgsl: `CONV` (whether
 * there is one) and `CONV_SHAPE`, the fields of its ConvGeometry in order (without a conv layer,
 * placeholders the shader never reads).
 */
export function convShaderConstants(g: ConvGeometry | undefined) {
  return {
    CONV: g !== undefined,
    CONV_SHAPE: g
      ? [g.height, g.width, g.channels, g.kernelHeight, g.kernelWidth, g.stride, g.padding, g.outWidth]
      : [1, 1, 1, 1, 1, 1, 0, 1],
  };
}
