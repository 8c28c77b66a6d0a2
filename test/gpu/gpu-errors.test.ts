// WebGPU errors fail staq's calls instead of being printed: once the device has reported an error
// (or was lost), every readback throws a StaqGpuError, no result computed on invalid state comes
// back, and nothing reaches stdout. Dawn's known start-up warnings can be kept off stderr.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { globals } from "webgpu";
import { StaqGpuError } from "../../src/errors.ts";
import { createBuffer, createStorageBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import { createActor } from "../../src/policy/actor.ts";
import { policyFromLogits } from "../../src/policy/policy.ts";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { createGpu } from "../../src/node/create-gpu.ts";
import { withoutKnownDawnWarnings } from "../../src/node/dawn-stderr.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";
import { runNodeScript } from "../helpers/run-node.ts";
import { REPO_ROOT } from "../io/stack-fixtures.ts";

const SPEC = { inputs: 4, hidden: [8], outputs: 3 };

/**
 * `runNodeScript` with the child's stderr a pipe made by the shell, as in `staq … 2>&1 | less` (Node's
 * own child pipes are sockets, which the filter leaves alone); its stdout is dropped.
 */
function runNodeStderrPiped(script: string) {
  const command = `"$0" --import tsx --input-type=module -e "$1" 2>&1 >/dev/null | cat`;
  return spawnSync("sh", ["-c", command, process.execPath, script], { encoding: "utf8", timeout: 120_000, cwd: REPO_ROOT });
}

/** A validation error nobody captures: a write past the end of a buffer. */
function provokeValidationError(device: GPUDevice): void {
  const small = device.createBuffer({ size: 16, usage: BufferUsage.COPY_DST, label: "too small" });
  device.queue.writeBuffer(small, 16, new Float32Array(4));
}

test("after an uncaptured validation error every readback throws a StaqGpuError with WebGPU's message", async () => {
  // A Gpu of its own: the failure is sticky.
  const gpu = await createGpu();
  try {
    const stack = createStack(gpu, { mlp: SPEC, memory: 3 });
    stack.push(randomSnapshots(SPEC, 1, 1)[0]);
    const actor = createActor(stack, { maxBatch: 2, seed: 1 });
    const states = randomStates(2, SPEC.inputs, 2);
    const logits = await stackLogits(stack, states); // a healthy device gives results
    assert.equal(gpu.error?.message, undefined);

    provokeValidationError(gpu.device);
    assert.ok(gpu.error instanceof StaqGpuError, "the error is recorded at once (Dawn reports it synchronously)");
    const failure = (error: Error) => {
      assert.ok(error instanceof StaqGpuError, `${error.name}: ${error.message}`);
      assert.match(error.message, /^WebGPU reported a validation error, so staq returns no results computed on this device: .*Write range/);
      assert.doesNotMatch(error.message, /\n/, "one line; the full message is the cause");
      assert.match(String((error.cause as Error).message), /too small/);
      return true;
    };
    await assert.rejects(stackLogits(stack, states), failure);
    await assert.rejects(actor.act(states, { step: 0 }), failure);
    await assert.rejects(policyFromLogits(gpu, logits, SPEC.outputs, { epsilon: 0, seed: 1, step: 0 }), failure);
    await assert.rejects(stack.readSnapshots(), failure);
    await assert.rejects(gpu.pipeline("stack_reduce", {}), failure);
    assert.throws(() => createBuffer(gpu, 16, BufferUsage.STORAGE, "later"), failure);
    actor.destroy();
    stack.destroy();
  } finally {
    gpu.destroy();
  }
});

test("an out-of-memory error fails the next allocation at once, with what to make smaller", async () => {
  const gpu = await createGpu();
  try {
    // lavapipe overcommits rather than refuse an allocation, so the error Dawn would report is sent.
    const { GPUOutOfMemoryError, GPUUncapturedErrorEvent } = globals as {
      GPUOutOfMemoryError: new (message: string) => GPUError;
      GPUUncapturedErrorEvent: typeof globalThis.GPUUncapturedErrorEvent;
    };
    const error = new GPUOutOfMemoryError('Out of memory while creating [Buffer "staq stack weights 3"]');
    gpu.device.dispatchEvent(new GPUUncapturedErrorEvent("uncapturederror", { error }));
    assert.throws(
      () => createBuffer(gpu, 16, BufferUsage.STORAGE, "next"),
      (thrown: Error) => {
        assert.ok(thrown instanceof StaqGpuError);
        assert.equal(
          thrown.message,
          'the GPU ran out of memory: Out of memory while creating [Buffer "staq stack weights 3"]; use a smaller stack (memory M), replay capacity or batch',
        );
        return true;
      },
    );
  } finally {
    gpu.destroy();
  }
});

test("a device destroyed by its owner fails the readbacks of a Gpu wrapping it with a StaqGpuError", async () => {
  const owner = await createGpu();
  const wrapped = await createGpu({ device: owner.device });
  const buffer = createStorageBuffer(wrapped, Float32Array.of(1, 2, 3, 4), "data");
  assert.deepEqual(Array.from(await readFloat32(wrapped, buffer)), [1, 2, 3, 4]);
  owner.destroy();
  await assert.rejects(readFloat32(wrapped, buffer), (error: Error) => {
    assert.ok(error instanceof StaqGpuError, `${error.name}: ${error.message}`);
    assert.match(error.message, /^the WebGPU device was destroyed outside this Gpu/);
    return true;
  });
  wrapped.destroy();
});

test("after gpu.destroy() a write, a push or an evaluation says the Gpu was destroyed, not what Dawn says", async () => {
  const gpu = await createGpu();
  const stack = createStack(gpu, { mlp: SPEC, memory: 2 });
  const buffer = createBuffer(gpu, 16, BufferUsage.COPY_DST, "data");
  gpu.destroy();
  const destroyed = (error: Error) => {
    assert.ok(error instanceof StaqGpuError, `${error.name}: ${error.message}`);
    assert.match(error.message, /Gpu was destroyed; create a new/);
    return true;
  };
  assert.throws(() => gpu.writeBuffer(buffer, 0, new Float32Array(4)), destroyed);
  assert.throws(() => gpu.submit([]), destroyed);
  assert.throws(() => stack.push(randomSnapshots(SPEC, 1, 1)[0]), destroyed);
  assert.equal(stack.size, 0, "the refused push changed nothing");
  await assert.rejects(stackLogits(stack, randomStates(1, SPEC.inputs, 1)), destroyed);
});

test("Dawn prints nothing on stdout for an uncaptured error; the readback fails instead", () => {
  const child = runNodeScript(`
    import { createGpu } from "./src/node/create-gpu.ts";
    import { createStorageBuffer } from "./src/gpu/buffers.ts";
import { readFloat32 } from "./src/gpu/readback.ts";
    const gpu = await createGpu();
    const buffer = createStorageBuffer(gpu, new Float32Array(4), "data");
    gpu.device.queue.writeBuffer(buffer, 16, new Float32Array(4)); // past the end
    try {
      const data = await readFloat32(gpu, buffer);
      console.error("returned " + Array.from(data));
    } catch (error) {
      console.error("threw " + error.name);
    }
    gpu.destroy();`);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, "", "stdout carries a command's output only");
  assert.match(child.stderr, /^threw StaqGpuError$/m);
});

test(
  "Dawn's known start-up warnings are kept off stderr; any other output written to fd 2 meanwhile stays",
  { skip: process.platform !== "linux" && "Linux only (Dawn's Vulkan backend)" },
  () => {
    const child = runNodeStderrPiped(`
    import { writeSync } from "node:fs";
    import { createGpu, filterDawnStartupWarnings } from "./src/node/create-gpu.ts";
    import { captureStderrDuring } from "./src/node/dawn-stderr.ts";
    filterDawnStartupWarnings();
    console.error("before");
    const gpu = await createGpu();
    console.error("adapter: " + gpu.info.adapter);
    // What native code writes to fd 2 during a capture: a known warning and two other lines.
    captureStderrDuring(() => writeSync(2, "native 1\\nWarning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 8 to 4 to fit dynamic offset allocation limit.\\nWarning: another\\n"));
    console.error("after");
    gpu.destroy();`);
    assert.equal(child.status, 0, child.stderr);
    assert.doesNotMatch(child.stdout, /artificially reduced/);
    assert.deepEqual(
      child.stdout.split("\n").filter((line) => !line.startsWith("adapter: ")),
      ["before", "native 1", "Warning: another", "after", ""],
    );
  },
);

test("only the known Dawn warnings are dropped from captured output", () => {
  const known =
    "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.";
  assert.equal(withoutKnownDawnWarnings(`${known}\n`), "");
  assert.equal(withoutKnownDawnWarnings(`a\n${known}\r\nb`), "a\nb");
  // A changed wording, a prefix or a different limit is not the known warning: it stays.
  for (const other of [
    `${known} extra`,
    `x ${known}`,
    known.replace("Uniform", "Sampler"),
    "Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced",
  ]) {
    assert.equal(withoutKnownDawnWarnings(`${other}\n`), `${other}\n`);
  }
});
