/**
 * How snapshots are laid out in GPU memory, and how a stack is split into storage buffers.
 *
 * Each layer's weight is stored transposed, [in][out], with `out` padded to a multiple of 4, so a
 * thread reads four consecutive outputs as one vec4; the bias follows, padded the same way. Pads
 * are zero, so padded outputs are relu(0 + 0) = 0 and add nothing to the next layer. Layer l > 0
 * has as many rows as layer l−1 has padded outputs. A snapshot is a whole number of vec4s.
 *
 * Snapshots of all ensemble members are numbered slot-major (`flat = slot · E + member`), so the
 * stored snapshots of a partly filled ring are always the prefix [0, count · E). Chunks of whole
 * snapshots each fit one storage binding (128 MiB on lavapipe).
 *
 * A conv layer (conv.ts) is stored as the dense layer it is at each output position: its weight
 * transposed, [channels·kh·kw][filters padded to 4]. Its output row is position-major,
 * [H'·W'][padded filters], so that four filters of one position are one vec4; the next layer's
 * stored rows follow that order (PyTorch's input filter · H'·W' + position is stored row
 * position · padded filters + filter), and rows of padded filters are zero.
 */
import { StaqInputError } from "../errors.ts";
import { convGeometry, type ConvGeometry } from "./conv.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "./mlp.ts";

export interface LayerLayout {
  /** Columns of the PyTorch weight [out, in] (a conv layer's: channels·kh·kw). */
  inputs: number;
  /** Rows of the PyTorch weight (a conv layer's: filters). */
  outputs: number;
  /** Rows of the stored (transposed) weight: `inputs` for layer 0, else the previous layer's `width`. */
  rows: number;
  /** `outputs` rounded up to a multiple of 4: the columns of the stored weight. */
  paddedOutputs: number;
  /** Floats of the layer's output per state: `paddedOutputs`, or for a conv layer positions × `paddedOutputs`. */
  width: number;
  /** Present on a conv layer. */
  conv?: ConvGeometry;
  /** Offsets within a snapshot, in vec4s. */
  weightOffset: number;
  biasOffset: number;
}

export interface SnapshotLayout {
  spec: MlpSpec;
  layers: LayerLayout[];
  /** Size of one snapshot in vec4s. */
  vec4s: number;
}

export const roundUp4 = (n: number) => Math.ceil(n / 4) * 4;

export function snapshotLayout(spec: MlpSpec): SnapshotLayout {
  let offset = 0;
  let rows = spec.inputs;
  const layers = layerShapes(spec).map(({ inputs, outputs }, l) => {
    const paddedOutputs = roundUp4(outputs);
    const conv = l === 0 && spec.conv ? convGeometry(spec.conv) : undefined;
    const layer: LayerLayout = {
      inputs,
      outputs,
      rows: l === 0 ? inputs : rows,
      paddedOutputs,
      width: conv ? conv.positions * paddedOutputs : paddedOutputs,
      ...(conv ? { conv } : {}),
      weightOffset: offset,
      biasOffset: offset + ((l === 0 ? inputs : rows) * paddedOutputs) / 4,
    };
    offset = layer.biasOffset + paddedOutputs / 4;
    rows = layer.width;
    return layer;
  });
  return { spec, layers, vec4s: offset };
}

/** The stored row of input i (PyTorch's column) of layer l's weight: i itself, except after a conv layer. */
export function storedRow(layout: SnapshotLayout, l: number, i: number): number {
  const previous = l > 0 ? layout.layers[l - 1] : undefined;
  if (!previous?.conv) return i;
  const { positions } = previous.conv;
  return (i % positions) * previous.paddedOutputs + Math.floor(i / positions);
}

/** Packs one snapshot (PyTorch layout) into the GPU layout. */
export function packSnapshot(layout: SnapshotLayout, weights: MlpWeights): Float32Array {
  const packed = new Float32Array(layout.vec4s * 4);
  layout.layers.forEach((layer, l) => {
    const { weight, bias } = weights.layers[l];
    const base = layer.weightOffset * 4;
    for (let i = 0; i < layer.inputs; i++) {
      const row = base + storedRow(layout, l, i) * layer.paddedOutputs;
      for (let o = 0; o < layer.outputs; o++) packed[row + o] = weight[o * layer.inputs + i];
    }
    packed.set(bias, layer.biasOffset * 4);
  });
  return packed;
}

/** Inverse of `packSnapshot`. */
export function unpackSnapshot(layout: SnapshotLayout, packed: Float32Array): MlpWeights {
  return {
    layers: layout.layers.map((layer, l) => {
      const weight = new Float32Array(layer.outputs * layer.inputs);
      const base = layer.weightOffset * 4;
      for (let i = 0; i < layer.inputs; i++) {
        const row = base + storedRow(layout, l, i) * layer.paddedOutputs;
        for (let o = 0; o < layer.outputs; o++) weight[o * layer.inputs + i] = packed[row + o];
      }
      const bias = packed.slice(layer.biasOffset * 4, layer.biasOffset * 4 + layer.outputs);
      return { weight, bias };
    }),
  };
}

export interface ChunkPlan {
  /** Snapshots per chunk (the last chunk may hold fewer). */
  snapshotsPerChunk: number;
  /** Snapshots in each chunk. */
  chunkSizes: number[];
}

/** Splits `total` snapshots into as few, equally filled chunks as fit in `maxBindingBytes` each. */
export function planChunks(layout: SnapshotLayout, total: number, maxBindingBytes: number): ChunkPlan {
  const snapshotBytes = layout.vec4s * 16;
  const fit = Math.floor(maxBindingBytes / snapshotBytes);
  if (fit < 1) {
    // The network is the caller's input: a smaller one is the fix, as for the other size checks.
    throw new StaqInputError(
      `one snapshot takes ${snapshotBytes} bytes, more than one storage binding can hold (${maxBindingBytes} bytes); use a smaller network`,
    );
  }
  const chunks = Math.ceil(total / fit);
  const snapshotsPerChunk = Math.ceil(total / chunks);
  const chunkSizes = Array.from({ length: chunks }, (_, k) => Math.min(snapshotsPerChunk, total - k * snapshotsPerChunk));
  return { snapshotsPerChunk, chunkSizes };
}
