/**
 * The pieces of a gradient step that every caller of the trainer needs, built once over the
 * trainer's buffers (shaders/train_*.wgsl; src/train/reference.ts is their float64 twin):
 *
 *   forward   every layer of the online networks (and then of the target networks, on the next
 *             states), keeping each layer's output for backprop;
 *   loss      ℓ(q − y) per row on the taken actions, and its gradient dq;
 *   backward  each layer's parameter gradient, from the head down;
 *   norm      ‖gradient‖₂ per member;
 *   adam      one Adam step.
 */
import type { Gpu } from "../gpu/gpu.ts";
import { convShaderConstants } from "../stack/conv.ts";
import type { SnapshotLayout } from "../stack/layout.ts";
import { AdamStep, type AdamSettings } from "./adam-step.ts";
import { Dispatch, FixedUniforms } from "./dispatch.ts";
import { fixedPiece, type StepPiece } from "./gradient-step.ts";

export interface TrainerPieces {
  readonly forward: StepPiece;
  readonly loss: StepPiece;
  readonly backward: StepPiece;
  /** Every step's norm when clipping needs it; otherwise only the run's last (what readStatistics reads). */
  readonly norm: StepPiece;
  readonly adam: StepPiece;
  /**
   * The regression loss the loss piece computes (the trainer's `loss` option), for a caller that
   * runs its own loss kernel in its place (the soft Q fit's smoothness regulariser).
   */
  readonly lossSettings: { readonly huber: boolean; readonly huberDelta: number };
}

/**
 * shaders/train_forward.wgsl's constants for layer l: its input is the states (shared by every
 * member) for l = 0, else the previous layer's outputs, each member's rows after the last's.
 */
export function forwardConstants(layout: SnapshotLayout, l: number) {
  const layer = layout.layers[l];
  return {
    X_STRIDE: l === 0 ? layout.spec.inputs : layer.rows,
    X_PER_MEMBER: l > 0,
    OUT4: layer.paddedOutputs / 4,
    COLS4: layer.width / 4,
    W_OFFSET: layer.weightOffset,
    B_OFFSET: layer.biasOffset,
    SNAPSHOT_VEC4S: layout.vec4s,
    RELU: l < layout.layers.length - 1,
    ...convShaderConstants(layer.conv),
  };
}

/**
 * shaders/train_forward.wgsl's uniform for layer l over `batch` rows, its members' rows of the
 * activations starting at member `memberBase` (E for the target networks beside the online ones).
 */
export function forwardUniform(layout: SnapshotLayout, l: number, batch: number, memberBase = 0) {
  return { batch, member_base: memberBase, rows: layout.layers[l].rows };
}

/**
 * Threads of a train_forward dispatch over `rows` rows of layer l: one per tile of 8 rows × 2 vec4s
 * of outputs (the shader's ROW_TILE, COL_TILE); a conv layer's tiles are per output position.
 */
export function forwardThreads(layout: SnapshotLayout, l: number, rows: number): number {
  const layer = layout.layers[l];
  const columnTiles = layer.conv ? layer.conv.positions * Math.ceil(layer.paddedOutputs / 4 / 2) : Math.ceil(layer.width / 4 / 2);
  return Math.ceil(rows / 8) * columnTiles;
}

/** What the pieces read and write: the trainer's buffers. */
export interface TrainerBuffers {
  /** [E × snapshot vec4s] each: the networks, their gradients and Adam's moments. */
  params: GPUBuffer;
  grads: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  /** [E]. */
  norms: GPUBuffer;
  /** The batch: states [batch × inputs], actions u32 [batch], targets [batch]. */
  states: GPUBuffer;
  actions: GPUBuffer;
  targets: GPUBuffer;
  /** [E × batch]. */
  lossRows: GPUBuffer;
  /** Per layer [E × batch × width] (src/stack/layout.ts), [2E × …] with target networks. */
  activations: readonly GPUBuffer[];
  /** Two [E × batch × widest] buffers the backward pass alternates between. */
  deltas: readonly [GPUBuffer, GPUBuffer];
  /** [E × batch × padded actions]: the loss's gradient with respect to the head's outputs. */
  dq: GPUBuffer;
  /** The target networks' parameters ([E × snapshot vec4s]) and the next states they see. */
  target?: { params: GPUBuffer; states: GPUBuffer };
}

export interface TrainerPieceOptions {
  layout: SnapshotLayout;
  ensemble: number;
  batch: number;
  adam: AdamSettings;
  huber: boolean;
  huberDelta: number;
  label: string;
}

export interface BuiltTrainerPieces {
  pieces: TrainerPieces;
  /** The Adam piece itself: the trainer reads and resets its step count. */
  adam: AdamStep;
  destroy(): void;
}

export async function createTrainerPieces(gpu: Gpu, buffers: TrainerBuffers, options: TrainerPieceOptions): Promise<BuiltTrainerPieces> {
  const { layout, ensemble, batch, label } = options;
  const { inputs } = layout.spec;
  const P4 = layout.vec4s;
  const head = layout.layers.length - 1;
  const { params, grads, activations, target } = buffers;
  // A uniform per forward dispatch (two per layer with target networks), weight-gradient and
  // input-gradient dispatch, and the loss's.
  const uniforms = new FixedUniforms(gpu, (target ? 4 : 3) * layout.layers.length, `${label} constants`);

  /**
   * The weight gradient of layer l: train_weight_grad for a dense layer (its input is the states,
   * shared by every member, for l = 0, else the previous layer's output), one thread per tile of
   * 8 stored rows × 2 vec4s of outputs (the shader's ROW_TILE, COL_TILE) and one per bias vec4;
   * train_conv_weight_grad for a conv layer 0, one workgroup per gradient vec4.
   */
  const weightGradient = async (l: number) => {
    const layer = layout.layers[l];
    const common = {
      ROWS: layer.rows,
      OUT4: layer.paddedOutputs / 4,
      W_OFFSET: layer.weightOffset,
      B_OFFSET: layer.biasOffset,
      SNAPSHOT_VEC4S: P4,
    };
    if (layer.conv) {
      const kernel = await gpu.kernel("train_conv_weight_grad", {
        ...common,
        X_STRIDE: inputs,
        POSITIONS: layer.conv.positions,
        CONV_SHAPE: convShaderConstants(layer.conv).CONV_SHAPE,
      });
      const vec4s = (layer.rows + 1) * (layer.paddedOutputs / 4);
      return { kernel, workgroups: kernel.grid(vec4s * kernel.workgroupSize[0], 1, ensemble) };
    }
    const kernel = await gpu.kernel("train_weight_grad", {
      ...common,
      X_STRIDE: l === 0 ? inputs : layer.rows,
      X_MEMBER_STRIDE: l === 0 ? 0 : batch * layer.rows,
    });
    const tiles = Math.ceil(layer.rows / 8) * Math.ceil(layer.paddedOutputs / 4 / 2);
    return { kernel, workgroups: kernel.grid(tiles + layer.paddedOutputs / 4, 1, ensemble) };
  };

  // Per layer, the online networks on the states, then (with target networks) the target networks
  // on the next states: the same pipeline, with the target pair of buffers bound and rows E … 2E − 1
  // of the activations (member_base), rather than one dispatch choosing between them at every load.
  const forward: Dispatch[] = [];
  for (let l = 0; l <= head; l++) {
    const kernel = await gpu.kernel("train_forward", forwardConstants(layout, l));
    const workgroups = kernel.grid(forwardThreads(layout, l, batch), 1, ensemble);
    const x = l === 0 ? buffers.states : activations[l - 1];
    const online = { params: uniforms.add(kernel, forwardUniform(layout, l, batch)), x, weights: params, out: activations[l] };
    forward.push(new Dispatch(kernel, online, workgroups, `${label} forward ${l}`));
    if (target) {
      const next = {
        params: uniforms.add(kernel, forwardUniform(layout, l, batch, ensemble)),
        x: l === 0 ? target.states : x,
        weights: target.params,
        out: activations[l],
      };
      forward.push(new Dispatch(kernel, next, workgroups, `${label} target forward ${l}`));
    }
  }

  const headOut4 = layout.layers[head].paddedOutputs / 4;
  const lossKernel = await gpu.kernel("train_loss", { OUT4: headOut4, HUBER: options.huber, HUBER_DELTA: options.huberDelta });
  const loss = new Dispatch(
    lossKernel,
    {
      // PyTorch's mean reduction: the slope of d² is 2d/B, of the Huber loss clamp(d)/B.
      params: uniforms.add(lossKernel, { batch, grad_scale: options.huber ? 1 / batch : 2 / batch }),
      q: activations[head],
      actions: buffers.actions,
      targets: buffers.targets,
      dq: buffers.dq,
      loss_rows: buffers.lossRows,
    },
    lossKernel.grid(batch, 1, ensemble),
    `${label} loss`,
  );

  // Layer l's gradient from dy_l, then dy_{l−1} = dx_l; dy of the head is dq.
  const backward: Dispatch[] = [];
  let dy = buffers.dq;
  for (let l = head; l >= 0; l--) {
    const layer = layout.layers[l];
    const out4 = layer.paddedOutputs / 4;
    const gradient = await weightGradient(l);
    const x = l === 0 ? buffers.states : activations[l - 1];
    backward.push(
      new Dispatch(
        gradient.kernel,
        { params: uniforms.add(gradient.kernel, { batch }), x, dy, grads },
        gradient.workgroups,
        `${label} weight grad ${l}`,
      ),
    );
    if (l > 0) {
      const dx = buffers.deltas[(head - l) % 2];
      const inputKernel = await gpu.kernel("train_backward_input", {
        ROWS: layer.rows,
        OUT4: out4,
        W_OFFSET: layer.weightOffset,
        SNAPSHOT_VEC4S: P4,
      });
      backward.push(
        new Dispatch(
          inputKernel,
          { params: uniforms.add(inputKernel, { batch }), dy, x: activations[l - 1], weights: params, dx },
          // One thread per tile of 8 rows × 2 input vec4s (the shader's ROW_TILE, COL_TILE).
          inputKernel.grid(Math.ceil(batch / 8) * Math.ceil(layer.rows / 4 / 2), 1, ensemble),
          `${label} backward input ${l}`,
        ),
      );
      dy = dx;
    }
  }

  const normKernel = await gpu.kernel("train_grad_norm", { SNAPSHOT_VEC4S: P4 });
  // One workgroup per member: the shader reduces a member's gradient within its workgroup.
  const norm = new Dispatch(normKernel, { grads, norms: buffers.norms }, { x: ensemble, y: 1, z: 1 }, `${label} grad norm`);
  const clipping = options.adam.maxGradNorm !== undefined;

  const adamKernel = await gpu.kernel("train_adam", { SNAPSHOT_VEC4S: P4, CLIP: clipping });
  const adam = new AdamStep(
    gpu,
    adamKernel,
    { params, grads, m: buffers.m, v: buffers.v, norms: buffers.norms },
    ensemble * P4,
    options.adam,
    label,
  );

  const pieces: TrainerPieces = {
    forward: fixedPiece(forward),
    loss: fixedPiece([loss]),
    backward: fixedPiece(backward),
    norm: {
      encode(pass, at) {
        if (clipping || at.last) norm.encode(pass);
      },
    },
    adam,
    lossSettings: { huber: options.huber, huberDelta: options.huberDelta },
  };
  return {
    pieces,
    adam,
    destroy() {
      uniforms.destroy();
      adam.destroy();
    },
  };
}
