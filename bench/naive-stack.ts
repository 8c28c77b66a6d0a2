/**
 * The baseline the stack kernel is measured against: one dispatch per snapshot per layer
 * (bench/shaders/dense_layer.wgsl), the way a stack is evaluated by looping over snapshots with a
 * per-layer kernel. Reads the stack's own packed weights, so both evaluate the same numbers.
 */
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import { UniformSlots } from "../src/gpu/uniform-slots.ts";
import type { Workgroups } from "../src/gpu/kernel.ts";
import type { Stack } from "../src/stack/stack.ts";
import { BENCH_SHADER_SOURCES } from "./shader-sources.generated.ts";

export interface NaiveStack {
  /** Records clear + one dispatch per snapshot per layer into one compute pass. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  destroy(): void;
}

/** Prepares the baseline for `stack` on `batch` states in `states`, writing `logits`. */
export async function createNaiveStack(stack: Stack, states: GPUBuffer, logits: GPUBuffer, batch: number): Promise<NaiveStack> {
  const { gpu, layout } = stack;
  const dense = await gpu.kernel(
    { name: "dense_layer", source: BENCH_SHADER_SOURCES.dense_layer, file: "bench/shaders/dense_layer.wgsl" },
    {},
  );
  const width = Math.max(...layout.layers.map((layer) => layer.paddedOutputs));
  const scratch = [0, 1].map((i) => createBuffer(gpu, batch * width * 4, BufferUsage.STORAGE, `naive activations ${i}`));
  const coefficients = stack.coefficients; // [member][age]
  const slots = stack.slotsOldestFirst();
  const dispatches: { bindGroup: GPUBindGroup; workgroups: Workgroups }[] = [];
  const params = new UniformSlots(gpu, Math.max(1, slots.length * stack.ensemble * layout.layers.length), "naive");
  let entry = 0;
  slots.forEach((slot, age) => {
    for (let e = 0; e < stack.ensemble; e++) {
      const flat = slot * stack.ensemble + e;
      const chunk = stack.chunks.find((c) => flat >= c.first && flat < c.first + c.capacity)!;
      const base = (flat - chunk.first) * layout.vec4s;
      layout.layers.forEach((layer, l) => {
        const head = l === layout.layers.length - 1;
        params.write(entry, dense, {
          batch,
          inputs: layer.inputs,
          input_stride: l === 0 ? layer.inputs : width,
          outputs: layer.outputs,
          output_stride: head ? layer.outputs : width,
          out4: layer.paddedOutputs / 4,
          weight_offset: base + layer.weightOffset,
          bias_offset: base + layer.biasOffset,
          mode: head ? 1 : 0,
          coefficient: (stack.correction * coefficients[e][age]) / stack.ensemble,
        });
        const input = l === 0 ? states : scratch[(l - 1) % 2];
        const output = head ? logits : scratch[l % 2];
        const bindGroup = dense.bind({ params: params.binding(entry), input, weights: chunk.buffer, output });
        // One thread per (output, state).
        dispatches.push({ bindGroup, workgroups: dense.grid(layer.outputs, batch) });
        entry++;
      });
    }
  });
  params.upload();
  return {
    encode(encoder, timestampWrites) {
      encoder.clearBuffer(logits, 0, batch * stack.spec.outputs * 4);
      const pass = encoder.beginComputePass({ label: "naive stack", timestampWrites });
      for (const d of dispatches) dense.dispatch(pass, d.bindGroup, d.workgroups);
      pass.end();
    },
    destroy() {
      for (const buffer of scratch) buffer.destroy();
      params.destroy();
    },
  };
}
