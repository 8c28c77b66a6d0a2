/**
 * The baseline the stack kernel is measured against: one dispatch per snapshot per layer
 * (shaders/dense_layer.wgsl), the way a stack is evaluated by looping over snapshots with a
 * per-layer kernel. Reads the stack's own packed weights, so both evaluate the same numbers.
 */
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import type { Stack } from "../src/stack/stack.ts";

const PARAM_STRIDE = 256;

export interface NaiveStack {
  /** Records clear + one dispatch per snapshot per layer into one compute pass. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  destroy(): void;
}

/** Prepares the baseline for `stack` on `batch` states in `states`, writing `logits`. */
export async function createNaiveStack(stack: Stack, states: GPUBuffer, logits: GPUBuffer, batch: number): Promise<NaiveStack> {
  const { gpu, layout } = stack;
  const pipeline = await gpu.pipeline("dense_layer", {});
  const width = Math.max(...layout.layers.map((layer) => layer.paddedOutputs));
  const scratch = [0, 1].map((i) => createBuffer(gpu, batch * width * 4, BufferUsage.STORAGE, `naive activations ${i}`));
  const coefficients = stack.coefficients; // [member][age]
  const slots = stack.slotsOldestFirst();
  const dispatches: { bindGroup: GPUBindGroup; x: number; y: number }[] = [];
  const params = new ArrayBuffer(slots.length * stack.ensemble * layout.layers.length * PARAM_STRIDE);
  const paramsBuffer = createBuffer(gpu, Math.max(params.byteLength, 4), BufferUsage.UNIFORM | BufferUsage.COPY_DST, "naive params");
  let entry = 0;
  slots.forEach((slot, age) => {
    for (let e = 0; e < stack.ensemble; e++) {
      const flat = slot * stack.ensemble + e;
      const chunk = stack.chunks.find((c) => flat >= c.first && flat < c.first + c.capacity)!;
      const base = (flat - chunk.first) * layout.vec4s;
      layout.layers.forEach((layer, l) => {
        const head = l === layout.layers.length - 1;
        const u32 = new Uint32Array(params, entry * PARAM_STRIDE, 10);
        const f32 = new Float32Array(params, entry * PARAM_STRIDE, 10);
        u32.set([batch, layer.inputs, l === 0 ? layer.inputs : width, layer.outputs, head ? layer.outputs : width, layer.paddedOutputs / 4]);
        u32.set([base + layer.weightOffset, base + layer.biasOffset, head ? 1 : 0], 6);
        f32[9] = (stack.correction * coefficients[e][age]) / stack.ensemble;
        const input = l === 0 ? states : scratch[(l - 1) % 2];
        const output = head ? logits : scratch[l % 2];
        const bindGroup = gpu.device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: paramsBuffer, offset: entry * PARAM_STRIDE, size: 40 } },
            { binding: 1, resource: { buffer: input } },
            { binding: 2, resource: { buffer: chunk.buffer } },
            { binding: 3, resource: { buffer: output } },
          ],
        });
        dispatches.push({ bindGroup, x: Math.ceil(layer.outputs / 64), y: batch });
        entry++;
      });
    }
  });
  gpu.device.queue.writeBuffer(paramsBuffer, 0, params);
  return {
    encode(encoder, timestampWrites) {
      encoder.clearBuffer(logits, 0, batch * stack.spec.outputs * 4);
      const pass = encoder.beginComputePass({ label: "naive stack", timestampWrites });
      pass.setPipeline(pipeline);
      for (const d of dispatches) {
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(d.x, d.y);
      }
      pass.end();
    },
    destroy() {
      for (const buffer of scratch) buffer.destroy();
      paramsBuffer.destroy();
    },
  };
}
