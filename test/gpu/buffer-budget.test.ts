// Sizes the user chooses (the stack's memory M, a replay capacity, a batch size) are checked against
// the device's limits and the host's memory before anything is allocated. No GPU here: the Gpu is a
// stand-in whose device throws when touched, so a check that comes after an allocation fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqGpuError, StaqInputError } from "../../src/errors.ts";
import { checkBudget, formatBytes, largestValue, HOST_MEMORY_SHARE } from "../../src/gpu/buffer-budget.ts";
import { createBuffer } from "../../src/gpu/buffers.ts";
import { BufferUsage } from "../../src/gpu/constants.ts";
import type { Gpu, GpuInfo, GpuLimits } from "../../src/gpu/gpu.ts";
import { snapshotLayout } from "../../src/stack/layout.ts";
import { createStack, stackBudget, type Stack } from "../../src/stack/stack.ts";
import { createActor } from "../../src/policy/actor.ts";
import { createReplayBuffer } from "../../src/train/replay-buffer.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { LAVAPIPE_LIMITS } from "../helpers/limits.ts";

const LIMITS: GpuLimits = { ...LAVAPIPE_LIMITS };

function fakeGpu(info: Partial<Pick<GpuInfo, "hostMemory" | "fallbackAdapter">> & { limits?: Partial<GpuLimits> } = {}): Gpu {
  const device = new Proxy(
    {},
    {
      get(_, property) {
        throw new Error(`the device was used (${String(property)}) before the sizes were checked`);
      },
    },
  ) as GPUDevice;
  return {
    device,
    info: {
      adapter: "fake",
      vendor: "",
      architecture: "",
      features: { shaderF16: false, subgroups: false, timestampQuery: false },
      limits: { ...LIMITS, ...info.limits },
      fast: false,
      source: "external",
      busyPolls: false,
      fallbackAdapter: info.fallbackAdapter ?? false,
      hostMemory: info.hostMemory ?? null,
    },
    destroyed: false,
    error: undefined,
    throwIfFailed() {},
    destroy() {},
    // Everything that reaches the device throws, like `device` itself.
    ...Object.fromEntries(
      ["kernel", "pipeline", "writeBuffer", "encoder", "submit", "createBindGroup", "idle"].map((name) => [
        name,
        () => {
          throw new Error(`the device was used (${name}) before the sizes were checked`);
        },
      ]),
    ),
  } as Gpu;
}

const MLP = { inputs: 4, hidden: [8], outputs: 3 };

test("createStack refuses a memory M whose coefficients exceed a storage binding, before allocating anything", () => {
  for (const [memory, ensemble, largest] of [
    [100_000_000, 1, 33554432],
    [1_000_000_000, 1, 33554432],
    [100_000_000, 2, 16777216],
  ]) {
    assert.throws(
      () => createStack(fakeGpu(), { mlp: MLP, memory, ensemble }),
      (error: Error) => {
        assert.ok(error instanceof StaqInputError, `${error.name}: ${error.message}`);
        assert.match(error.message, new RegExp(`^memory M = ${memory} needs a coefficients buffer`));
        assert.match(error.message, new RegExp(`of ${memory * ensemble * 4} bytes`));
        assert.match(error.message, /maxStorageBufferBindingSize of 134217728 bytes/);
        assert.match(error.message, new RegExp(`memory M can be at most ${largest} on this machine`));
        return true;
      },
    );
  }
});

test("on a fallback adapter a stack's weights count against the host's memory", () => {
  const gpu = fakeGpu({ fallbackAdapter: true, hostMemory: 2 ** 30 });
  const mlp = { inputs: 4, hidden: [256, 256], outputs: 2 };
  assert.throws(
    () => createStack(gpu, { mlp, memory: 1_000_000, ensemble: 2 }),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /^memory M = 1000000 needs about .* of memory \(.*GPU buffers, which a fallback adapter keeps in host memory\), more than 50% of this machine's 1073741824 bytes \(1 GiB\); memory M can be at most \d+ on this machine$/,
      );
      return true;
    },
  );
  // The same M on an adapter with memory of its own only needs its host arrays.
  assert.throws(() => createStack(fakeGpu({ hostMemory: 2 ** 30 }), { mlp, memory: 1_000_000, ensemble: 2 }), /the device was used/);
});

test("the host arrays of the coefficients are checked where the host's memory is known", () => {
  const gpu = fakeGpu({ hostMemory: 64 * 2 ** 20 });
  assert.throws(
    () => createStack(gpu, { mlp: MLP, memory: 2_000_000 }),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /needs about 40000000 bytes \(38\.1 MiB\) of memory \(40000000 bytes \(38\.1 MiB\) of arrays in JavaScript\)/,
      );
      assert.match(error.message, /memory M can be at most 1677721 on this machine/);
      return true;
    },
  );
});

test("the largest value a refusal offers fits, and one more does not", () => {
  fc.assert(
    fc.property(
      fc.record({
        hidden: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 0, maxLength: 3 }),
        ensemble: fc.integer({ min: 1, max: 8 }),
        binding: fc.integer({ min: 2 ** 16, max: 2 ** 31 }),
        hostMemory: fc.option(fc.integer({ min: 2 ** 24, max: 2 ** 40 }), { nil: null }),
        fallbackAdapter: fc.boolean(),
      }),
      ({ hidden, ensemble, binding, hostMemory, fallbackAdapter }) => {
        const info = fakeGpu({ limits: { maxStorageBufferBindingSize: binding }, hostMemory, fallbackAdapter }).info;
        const budget = stackBudget(snapshotLayout({ inputs: 5, hidden, outputs: 3 }), ensemble);
        const { value } = largestValue(info, budget);
        assert.ok(Number.isFinite(value) && value >= 1);
        checkBudget(info, { name: "memory M", value }, budget);
        assert.throws(() => checkBudget(info, { name: "memory M", value: value + 1 }, budget), StaqInputError);
        assert.ok(4 * ensemble * value <= binding);
        if (hostMemory !== null) assert.ok(20 * ensemble * value <= hostMemory * HOST_MEMORY_SHARE);
      },
    ),
  );
});

test("a size staq derived itself is a StaqGpuError; one that fits passes", () => {
  const { info } = fakeGpu();
  const budget = { buffers: [{ what: "a scratch buffer", bytesPerUnit: 16, binding: "whole" as const }] };
  assert.throws(() => checkBudget(info, { name: "rows", value: 2 ** 24, userChosen: false }, budget), StaqGpuError);
  checkBudget(info, { name: "rows", value: 2 ** 23, userChosen: false }, budget);
});

test("a buffer too large at any value says so instead of offering a largest value", () => {
  const { info } = fakeGpu();
  const budget = { buffers: [{ what: "parameter buffers", bytesPerUnit: 0, fixedBytes: 2 ** 28, binding: "whole" as const }] };
  assert.throws(
    () => checkBudget(info, { name: "batch size", value: 1 }, budget),
    /needs parameter buffers of 268435456 bytes \(256 MiB\), more than this device's maxStorageBufferBindingSize of 134217728 bytes \(128 MiB\); not even batch size = 1 fits; use a smaller network/,
  );
});

test("createReplayBuffer refuses a capacity beyond a storage binding, naming the largest that fits", () => {
  assert.throws(
    () => createReplayBuffer(fakeGpu(), { capacity: 10_000_000, inputs: 4, actions: 2 }),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /^replay capacity = 10000000 needs observation buffers \(capacity × 4 inputs × 4 bytes\) of 160000000 bytes/,
      );
      assert.match(error.message, /replay capacity can be at most 8388608 on this machine$/);
      return true;
    },
  );
  assert.throws(
    () => createReplayBuffer(fakeGpu({ hostMemory: 2 ** 30 }), { capacity: 8_000_000, inputs: 4, actions: 2 }),
    /of arrays in JavaScript/,
  );
});

test("createMlpTrainer refuses a batch whose buffers exceed a storage binding", async () => {
  await assert.rejects(
    createMlpTrainer(fakeGpu(), {
      mlp: { inputs: 4, hidden: [256, 256], outputs: 2 },
      ensemble: 2,
      batch: 50_000,
      adam: { lr: 1e-3 },
      targetNetworks: true,
    }),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError, error.message);
      assert.match(
        error.message,
        /^batch size = 50000 needs layer 0's activations \(batch × 4 networks × 256 × 4 bytes\) of 204800000 bytes/,
      );
      assert.match(error.message, /batch size can be at most 32768 on this machine$/);
      return true;
    },
  );
});

test("createActor refuses a maxBatch beyond maxBufferSize", () => {
  const gpu = fakeGpu({ limits: { maxBufferSize: 2 ** 28 } });
  const stack = { gpu, destroyed: false, spec: MLP, label: "fake stack" } as unknown as Stack;
  assert.throws(
    () => createActor(stack, { maxBatch: 2 ** 25, seed: 1 }),
    /^StaqInputError: maxBatch = 33554432 needs a states buffer \(maxBatch × 4 inputs × 4 bytes\) of 536870912 bytes \(512 MiB\), more than this device's maxBufferSize of 268435456 bytes \(256 MiB\); maxBatch can be at most 16777216 on this machine$/,
  );
});

test("createBuffer checks the size it allocates, rounded up to a multiple of 4", () => {
  assert.throws(
    () => createBuffer(fakeGpu(), 2 ** 32 - 1, BufferUsage.STORAGE, "big"),
    (error: Error) => {
      assert.ok(error instanceof StaqGpuError);
      assert.match(
        error.message,
        /^big: 4294967295 bytes \(4 GiB\) \(4294967296 rounded up to a multiple of 4\) is more than this device's maxBufferSize of 4294967295 bytes/,
      );
      return true;
    },
  );
});

test("formatBytes gives the exact count and a readable unit", () => {
  assert.equal(formatBytes(1000), "1000 bytes");
  assert.equal(formatBytes(134217728), "134217728 bytes (128 MiB)");
  assert.equal(formatBytes(4000000000), "4000000000 bytes (3.73 GiB)");
});
