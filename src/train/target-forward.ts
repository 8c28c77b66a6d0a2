/**
 * A trainer's networks alone on a buffer of states: shaders/train_forward.wgsl layer by layer, with
 * weights = the trainer's target parameters (the default) or its online ones (`networks:
 * "online"`), and member_base 0 (the networks run are the dispatch's only members). The target plan runs the
 * target networks on its next states (every rule) and its states (M-DQN's Munchausen term); the
 * multi-dispatch soft Q fit on the minibatch states (M-DQN), since the trainer's own forward runs
 * the target networks on the next states only; the MDPO policy fit runs the critic's online
 * networks on the policy's minibatch states (mdpo-policy-fit.ts).
 */
import { StaqInputError } from "../errors.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { SteppedDispatch } from "./dispatch.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";
import { forwardConstants, forwardThreads, forwardUniform } from "./trainer-pieces.ts";

export interface TargetForwardOptions {
  /** The states, f32 [rows × inputs]. */
  x: GPUBuffer;
  /**
   * Which of the trainer's networks run: "target" (default; the trainer needs target networks)
   * or "online" (its `params`, the networks being trained).
   */
  networks?: "target" | "online";
  /** The most rows one dispatch covers. */
  rows: number;
  /** Uniform slots: dispatches of one command buffer with different row counts. */
  slots: number;
  label: string;
  /**
   * Two buffers of at least E × rows × widest layer floats for the hidden layers' outputs, to
   * share with another target forward encoded in the same pass (default: its own).
   */
  hidden?: readonly GPUBuffer[];
}

export interface TargetForward {
  /** Q̄_e(x, ·) of the networks run, [E × rows × padded actions], member e's rows after e − 1's (`rows` of the dispatch apart). */
  readonly headQ: GPUBuffer;
  /** The hidden outputs' buffers (none for a network without hidden layers). */
  readonly hidden: readonly GPUBuffer[];
  readonly dispatches: readonly SteppedDispatch[];
  /** Writes the row counts of a command buffer's dispatches, `rows(j)` into slot j. */
  write(count: number, rows: (slot: number) => number): void;
  /** Encodes every layer with the row count in `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number): void;
  destroy(): void;
}

/** Floats one row of the widest layer takes for all E members (at least 4). */
export function targetForwardWidest(trainer: MlpTrainer): number {
  return Math.max(4, ...trainer.layout.layers.map((layer) => layer.width));
}

export async function createTargetForward(gpu: Gpu, trainer: MlpTrainer, options: TargetForwardOptions): Promise<TargetForward> {
  const { layout, ensemble } = trainer;
  const networks = options.networks ?? "target";
  if (networks !== "target" && networks !== "online")
    throw new StaqInputError(`networks must be "target" or "online"; got ${JSON.stringify(networks)}`);
  const weights = networks === "online" ? trainer.params : trainer.targetParams;
  if (!weights) throw new StaqInputError("the target forward needs target networks: create the trainer with targetNetworks: true");
  const { x, rows, slots, label } = options;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const head = layout.layers.length - 1;
  const bytes = ensemble * rows * targetForwardWidest(trainer) * 4;
  const own = head > 0 && !options.hidden;
  // The hidden outputs alternate between two buffers; the head has its own.
  const hidden: readonly GPUBuffer[] =
    head === 0
      ? []
      : (options.hidden ?? [
          createBuffer(gpu, bytes, storage, `${label} hidden a`),
          createBuffer(gpu, bytes, storage, `${label} hidden b`),
        ]);
  if (hidden.length !== (head === 0 ? 0 : 2))
    throw new StaqInputError(
      `${label}: a network of ${head} hidden layers needs ${head === 0 ? 0 : 2} hidden buffers; got ${hidden.length}`,
    );
  for (const b of hidden)
    if (b.size < bytes) throw new StaqInputError(`${label}: a shared hidden buffer holds ${b.size} bytes; this forward needs ${bytes}`);
  const headQ = createBuffer(gpu, ensemble * rows * layout.layers[head].paddedOutputs * 4, storage, `${label} q`);

  const dispatches: SteppedDispatch[] = [];
  for (let l = 0; l <= head; l++) {
    const kernel = await gpu.kernel("train_forward", forwardConstants(layout, l));
    const input = l === 0 ? x : hidden[(l - 1) % 2];
    const out = l === head ? headQ : hidden[l % 2];
    const resources = { x: input, weights, out };
    dispatches.push(
      new SteppedDispatch(gpu, kernel, resources, kernel.grid(forwardThreads(layout, l, rows), 1, ensemble), slots, `${label} ${l}`),
    );
  }
  return {
    headQ,
    hidden,
    dispatches,
    write(count, rowsOf) {
      dispatches.forEach((dispatch, l) => dispatch.write(count, (slot) => forwardUniform(layout, l, rowsOf(slot))));
    },
    encode(pass, slot) {
      for (const dispatch of dispatches) dispatch.encode(pass, slot);
    },
    destroy() {
      for (const dispatch of dispatches) dispatch.destroy();
      headQ.destroy();
      if (own) for (const b of hidden) b.destroy();
    },
  };
}
