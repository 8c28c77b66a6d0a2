import { test } from "node:test";
import assert from "node:assert/strict";
import { createGpu as createPortableGpu, type ShaderSource } from "../../src/gpu/gpu.ts";
import { createGpu } from "../../src/node/create-gpu.ts";
import { SHADER_SOURCES } from "../../src/gpu/shader-sources.generated.ts";
import { resolveIncludes } from "../../src/gpu/shader-template.ts";
import { StaqGpuError, StaqInputError } from "../../src/errors.ts";
import { testGpu } from "../helpers/gpu.ts";
import { runNodeScript } from "../helpers/run-node.ts";

const gpu = await testGpu();

test("reports the adapter, its features and the limits staq plans with", () => {
  assert.ok(gpu.info.adapter.length > 0);
  assert.equal(gpu.info.source, "dawn");
  for (const value of Object.values(gpu.info.features)) assert.equal(typeof value, "boolean");
  assert.ok(gpu.info.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  assert.ok(gpu.info.limits.maxComputeWorkgroupStorageSize >= 16 * 1024);
  assert.ok(gpu.info.limits.maxComputeInvocationsPerWorkgroup >= 256);
});

test("every shader file compiles as written, with its default constants and its includes", async () => {
  for (const [name, source] of Object.entries(SHADER_SOURCES)) {
    const code = resolveIncludes(source, SHADER_SOURCES, name);
    const module = gpu.device.createShaderModule({ code, label: name });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
    assert.deepEqual(
      errors.map((m) => `${m.lineNum}: ${m.message}`),
      [],
      `shaders/${name}.wgsl`,
    );
  }
});

/** A shader of the caller's own (not in shaders/), with two injectable constants. */
const SCALE: ShaderSource = {
  name: "scale",
  source: [
    "const FACTOR: f32 = 2.0;  // @inject",
    "const THREADS: u32 = 64u; // @inject",
    "@group(0) @binding(0) var<storage, read_write> x: array<f32>;",
    "@compute @workgroup_size(THREADS)",
    "fn main(@builtin(global_invocation_id) id: vec3<u32>) {",
    "  if (id.x < arrayLength(&x)) { x[id.x] = x[id.x] * FACTOR; }",
    "}",
  ].join("\n"),
};

test("kernels and their pipelines are cached by shader and constants, whatever the constants' order", async () => {
  const a = await gpu.pipeline("stack_reduce", {});
  assert.equal(await gpu.pipeline("stack_reduce", {}), a);
  const k1 = await gpu.kernel(SCALE, { FACTOR: 3, THREADS: 32 });
  const k2 = await gpu.kernel(SCALE, { THREADS: 32, FACTOR: 3 });
  const k3 = await gpu.kernel(SCALE, { FACTOR: 3, THREADS: 64 });
  assert.equal(k1, k2);
  assert.notEqual(k1, k3);
  assert.deepEqual(k1.workgroupSize, [32, 1, 1]);
  assert.equal(await gpu.pipeline(SCALE, { FACTOR: 3, THREADS: 32 }), k1.pipeline);
});

test("a shader that does not compile is a StaqGpuError naming the file and line", async () => {
  // A workgroup size of 0 is invalid WGSL; the error must come back as a rejection, not a crash.
  await assert.rejects(
    gpu.pipeline(SCALE, { FACTOR: 1, THREADS: 0 }),
    (error: Error) => error instanceof StaqGpuError && /  scale:4:\d+: /.test(error.message),
  );
});

test("compiled() waits for every compile begun, failed ones included, and for none when none is in flight", async () => {
  await gpu.compiled(); // nothing in flight: resolves
  const settled: string[] = [];
  const track = (name: string, kernel: Promise<unknown>) =>
    kernel.then(
      () => settled.push(name),
      () => settled.push(name),
    );
  // New constants, so each is a compile of its own (the cache would answer a repeat at once).
  track("threads 16", gpu.kernel(SCALE, { FACTOR: 5, THREADS: 16 }));
  track("threads 0 (fails)", gpu.kernel(SCALE, { FACTOR: 5, THREADS: 0 }));
  const later = gpu.compiled();
  track("threads 8", gpu.kernel(SCALE, { FACTOR: 5, THREADS: 8 })); // begun while compiled() waits
  await later;
  assert.deepEqual(settled.sort(), ["threads 0 (fails)", "threads 16", "threads 8"]);
  await gpu.compiled(); // and again with nothing in flight
});

test("no adapter is a StaqGpuError that says how to fix it", async () => {
  const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
  await assert.rejects(createGpu({ gpu: noAdapter }), (error: Error) => {
    assert.ok(error instanceof StaqGpuError);
    assert.match(error.message, /No WebGPU adapter found/);
    assert.match(error.message, /mesa-vulkan-drivers/);
    return true;
  });
});

test("the portable build explains a missing navigator.gpu and refuses fast mode", async () => {
  await assert.rejects(
    createPortableGpu(),
    (error: Error) => error instanceof StaqGpuError && /navigator\.gpu is undefined/.test(error.message),
  );
  await assert.rejects(createPortableGpu({ fast: true }), StaqInputError);
});

test("wrapping a caller's device leaves it alive on destroy", async () => {
  const wrapped = await createGpu({ device: gpu.device });
  assert.equal(wrapped.info.source, "external");
  wrapped.destroy();
  assert.equal(wrapped.destroyed, true);
  assert.equal(gpu.destroyed, false);
  await gpu.pipeline("stack_reduce", {}); // the device still works
});

test("after destroy() the process exits on its own", () => {
  const started = Date.now();
  const child = runNodeScript(`
    import { createGpu } from "./src/node/create-gpu.ts";
    const gpu = await createGpu();
    await gpu.pipeline("stack_reduce", {});
    gpu.destroy();
    console.log("destroyed");`);
  assert.equal(child.signal, null, `killed after ${Date.now() - started} ms: the process did not exit`);
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /destroyed/);
});

test("a second Dawn configuration in one process is refused with an explanation", () => {
  const child = runNodeScript(`
    import { createGpu } from "./src/node/create-gpu.ts";
    const a = await createGpu();
    const b = await createGpu();   // same flags: fine
    b.destroy();
    try { await createGpu({ fast: true }); console.log("accepted"); }
    catch (error) { console.log(error.name + ": " + error.message); }
    a.destroy();`);
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /StaqGpuError: This process already uses Dawn with flags/);
});
