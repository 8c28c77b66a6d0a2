// The kernel layer: what the shader reader finds in every library shader, offsets checked by hand
// against WGSL's layout rules, the by-name checks of Kernel, the workgroup folding, and one kernel
// run end to end on the test GPU through UniformSlots and Readback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SHADER_SOURCES } from "../../src/gpu/shader-sources.generated.ts";
import { injectableConstants, resolveIncludes } from "../../src/gpu/shader-template.ts";
import { reflectShader } from "../../src/gpu/shader-reflection.ts";
import { Kernel } from "../../src/gpu/kernel.ts";
import { UniformSlots } from "../../src/gpu/uniform-slots.ts";
import { Readback } from "../../src/gpu/readback.ts";
import { createStorageBuffer, poisonBuffer, createBuffer } from "../../src/gpu/buffers.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { StaqInputError } from "../../src/errors.ts";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { testGpu } from "../helpers/gpu.ts";

test("every library shader declares an interface the kernel layer can read: bindings 0…n−1 of group 0, unique names, a workgroup size", () => {
  for (const [name, source] of Object.entries(SHADER_SOURCES)) {
    if (!/@compute/.test(source)) continue; // a library of functions (philox)
    const shader = reflectShader(resolveIncludes(source, SHADER_SOURCES, name), name);
    assert.deepEqual(
      shader.bindings.map((b) => b.binding),
      shader.bindings.map((_, i) => i),
      name,
    );
    assert.ok(
      shader.bindings.every((b) => b.group === 0),
      name,
    );
    assert.equal(new Set(shader.bindings.map((b) => b.name)).size, shader.bindings.length, name);
    assert.ok(
      shader.workgroupSize.every((d) => Number.isInteger(d) && d >= 1),
      `${name}: ${shader.workgroupSize}`,
    );
    // Injectable constants are not bindings (a name in both would be ambiguous in messages).
    const constants = new Set(injectableConstants(source));
    assert.ok(
      shader.bindings.every((b) => !constants.has(b.name)),
      name,
    );
  }
});

test("uniform offsets follow WGSL's layout: 4-byte scalars back to back, size rounded up to 16", () => {
  const shader = reflectShader(
    `struct P {\n  a: u32,   // first\n  b: f32,\n  c: i32,\n  d: u32,\n  e: f32,\n}\n@group(0) @binding(0) var<uniform> p: P;\n@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n@compute @workgroup_size(32, 2)\nfn main() {}`,
  );
  assert.deepEqual(shader.uniform, {
    struct: "P",
    fields: [
      { name: "a", type: "u32", offset: 0 },
      { name: "b", type: "f32", offset: 4 },
      { name: "c", type: "i32", offset: 8 },
      { name: "d", type: "u32", offset: 12 },
      { name: "e", type: "f32", offset: 16 },
    ],
    size: 32,
  });
  assert.deepEqual(shader.workgroupSize, [32, 2, 1]);
  assert.deepEqual(
    shader.bindings.map((b) => [b.name, b.kind]),
    [
      ["p", "uniform"],
      ["out", "read_write"],
    ],
  );
  // The policy kernel's struct: 16 words, `keep` (1 − ε) the 7th, at byte 24.
  const policy = reflectShader(SHADER_SOURCES.policy, "policy").uniform!;
  assert.equal(policy.size, 64);
  assert.deepEqual(
    policy.fields.find((f) => f.name === "keep"),
    { name: "keep", type: "f32", offset: 24 },
  );
});

test("a workgroup size given by a constant is read after injection", () => {
  const source = `const WG: u32 = 96u;\n@group(0) @binding(0) var<storage, read_write> out: array<f32>;\n@compute @workgroup_size(WG)\nfn main() {}`;
  assert.deepEqual(reflectShader(source).workgroupSize, [96, 1, 1]);
});

test("declarations the reader cannot bind by name are refused when the shader loads", () => {
  const wgsl = (decl: string) => `${decl}\n@compute @workgroup_size(1)\nfn main() {}`;
  assert.throws(() => reflectShader(wgsl("@group(0) @binding(0) var<storage> x: array<f32>;"), "s"), /must state its access/);
  assert.throws(
    () => reflectShader(wgsl("struct P { v: vec4<f32> }\n@group(0) @binding(0) var<uniform> p: P;"), "s"),
    /u32, i32 and f32 members only/,
  );
  assert.throws(() => reflectShader("@group(0) @binding(0) var<storage, read> x: array<f32>;\nfn main() {}", "s"), /no @workgroup_size/);
});

/** A Gpu that only answers what Kernel asks of it without a device. */
function fakeGpu(maxWorkgroups: number): Gpu {
  return {
    info: { limits: { maxComputeWorkgroupsPerDimension: maxWorkgroups } },
    createBindGroup: (_pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]) => entries as unknown as GPUBindGroup,
  } as unknown as Gpu;
}

const SAMPLE = reflectShader(
  `struct Step {\n  count: u32,\n  scale: f32,\n  pad0: u32,\n}\n@group(0) @binding(0) var<uniform> step: Step;\n@group(0) @binding(1) var<storage, read> x: array<f32>;\n@group(0) @binding(2) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(64)\nfn main() {}`,
);

test("Kernel.bind takes every binding by name and refuses an unknown or a missing one", () => {
  const kernel = new Kernel(fakeGpu(65535), "sample", {} as GPUComputePipeline, SAMPLE);
  const [u, x, y] = [{ label: "u" }, { label: "x" }, { label: "y" }] as GPUBuffer[];
  // Given in any order, bound at the shader's indices.
  const entries = kernel.bind({ y, step: { buffer: u, offset: 256, size: 256 }, x }) as unknown as GPUBindGroupEntry[];
  assert.deepEqual(entries, [
    { binding: 0, resource: { buffer: u, offset: 256, size: 256 } },
    { binding: 1, resource: { buffer: x } },
    { binding: 2, resource: { buffer: y } },
  ]);
  assert.throws(
    () => kernel.bind({ step: u, x, y, z: y }),
    (e: Error) => e instanceof StaqInputError && /has no binding z \(it declares: step, x, y\)/.test(e.message),
  );
  assert.throws(() => kernel.bind({ step: u, x }), /needs a buffer for its binding y/);
});

test("Kernel.packUniform writes each field at its offset, zeroes padding, and refuses unknown, missing and out-of-range values", () => {
  const kernel = new Kernel(fakeGpu(65535), "sample", {} as GPUComputePipeline, SAMPLE);
  const view = new DataView(kernel.packUniform({ scale: 0.5, count: 7 }));
  assert.equal(view.byteLength, 16);
  assert.equal(view.getUint32(0, true), 7);
  assert.equal(view.getFloat32(4, true), 0.5);
  assert.equal(view.getUint32(8, true), 0);
  assert.throws(() => kernel.packUniform({ count: 1, scale: 1, cuont: 2 }), /has no field cuont/);
  assert.throws(() => kernel.packUniform({ scale: 1 }), /needs a value for count/);
  assert.throws(() => kernel.packUniform({ count: -1, scale: 1 }), /count is u32; got -1/);
  assert.throws(() => kernel.packUniform({ count: 1, scale: NaN }), /scale is f32; got NaN/);
  // Into a slot of a larger buffer.
  const block = new ArrayBuffer(512);
  kernel.packUniform({ count: 9, scale: 2 }, block, 256);
  assert.equal(new DataView(block).getUint32(256, true), 9);
});

test("Kernel.grid covers the threads with the shader's workgroup size and folds x into y past the device limit", () => {
  const kernel = new Kernel(fakeGpu(100), "sample", {} as GPUComputePipeline, SAMPLE);
  assert.deepEqual(kernel.grid(64 * 100), { x: 100, y: 1, z: 1 });
  assert.deepEqual(kernel.grid(64 * 100 + 1), { x: 100, y: 2, z: 1 });
  assert.deepEqual(kernel.grid(1, 3), { x: 1, y: 3, z: 1 });
  assert.throws(() => kernel.grid(64 * 101, 2), /y is already used/);
  assert.throws(() => kernel.grid(64 * 100 * 101), /more workgroups than this device can dispatch/);
});

test("a kernel runs by name on the GPU: stack_reduce adds parts in order through uniform slots and one readback", async () => {
  const gpu = await testGpu();
  const reduce = await gpu.kernel("stack_reduce", {});
  assert.equal(await gpu.kernel("stack_reduce", {}), reduce, "kernels are cached by shader and constants");
  const elements = 300; // two workgroups of 256
  const parts = 3;
  const input = new Float32Array(parts * elements).map((_, i) => (i % 7) - 3 + i / 1024);
  const partsBuffer = createStorageBuffer(gpu, input, "parts");
  const logits = createBuffer(gpu, elements * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "logits");
  poisonBuffer(gpu, logits);
  const slots = new UniformSlots(gpu, 2, "test");
  slots.write(1, reduce, { elements, parts });
  slots.upload();
  const group = reduce.bind({ params: slots.binding(1), parts: partsBuffer, logits });
  const encoder = gpu.encoder("test");
  const pass = encoder.beginComputePass();
  reduce.dispatch(pass, group, reduce.grid(elements));
  pass.end();
  const readback = new Readback(gpu, "test");
  const [bytes] = await readback.read(encoder, [{ source: logits, bytes: elements * 4 }]);
  const out = new Float32Array(bytes);
  for (let i = 0; i < elements; i++) {
    // float32 sums in the kernel's fixed order (part 0, then 1, then 2): exactly what Math.fround gives.
    const expected = Math.fround(Math.fround(input[i] + input[elements + i]) + input[2 * elements + i]);
    assert.equal(out[i], expected, `element ${i}`);
  }
  readback.destroy();
  slots.destroy();
});
