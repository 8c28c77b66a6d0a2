import { test } from "node:test";
import assert from "node:assert/strict";
import { DispatchProfiler } from "../../bench/dispatch-profiler.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { initialQNetworks } from "../../src/train/initialisation.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { randomStates } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = await testGpu();

/** A conv layer, a hidden layer and the head: every kind of trainer dispatch. */
const SPEC: MlpSpec = {
  inputs: 24,
  conv: { inputShape: [4, 3, 2], filters: 5, kernel: [2, 2], stride: 1, padding: 1 },
  hidden: [6],
  outputs: 3,
};
const BATCH = 9;
const STEPS = 3;

async function trainer(on: typeof gpu) {
  const t = await createMlpTrainer(on, { mlp: SPEC, ensemble: 2, batch: BATCH, adam: { lr: 0.01 }, path: "multi-dispatch" });
  t.setWeights(initialQNetworks(SPEC, 2, 5));
  t.setBatch({
    states: randomStates(BATCH, SPEC.inputs, 6),
    actions: Array.from({ length: BATCH }, (_, b) => b % SPEC.outputs),
    targets: Array.from({ length: BATCH }, (_, b) => b / 3 - 1),
  });
  return t;
}

test(
  "the dispatch profiler times every dispatch by its label, and splitting the passes changes no result",
  { skip: !gpu.info.features.timestampQuery && "no timestamp queries" },
  async () => {
    const profiler = new DispatchProfiler(gpu);
    const profiled = await trainer(profiler.gpu);
    const plain = await trainer(gpu);
    try {
      const times = await profiler.profile(async () => {
        profiled.train(STEPS);
        await profiled.readStatistics();
      });
      plain.train(STEPS);
      await plain.readStatistics();
      assert.deepEqual(await profiled.readWeights(), await plain.readWeights());

      // Three layers: per step a forward and a weight gradient each, input gradients of layers 1 and
      // 2, the loss and Adam (its per-step uniform slots under one name); the norm at the last step.
      const counts = Object.fromEntries(times.map((t) => [t.label.replace(/^staq trainer /, ""), t.count]));
      const perStep = [
        "forward 0",
        "forward 1",
        "forward 2",
        "loss",
        "weight grad 2",
        "backward input 2",
        "weight grad 1",
        "backward input 1",
        "weight grad 0",
        "adam",
      ];
      assert.deepEqual(counts, { ...Object.fromEntries(perStep.map((name) => [name, STEPS])), "grad norm": 1 });
      const kernel = Object.fromEntries(times.map((t) => [t.label.replace(/^staq trainer /, ""), t.kernel]));
      assert.equal(kernel["weight grad 0"], "train_conv_weight_grad");
      assert.equal(kernel["adam"], "train_adam");
      for (const t of times) assert.ok(Number.isFinite(t.ms) && t.ms >= 0, `${t.label}: ${t.ms} ms`);
      for (let k = 1; k < times.length; k++) assert.ok(times[k - 1].ms >= times[k].ms, "largest first");

      // Outside profile() the stand-in records nothing and passes work through unchanged.
      profiled.train(1);
      await profiled.readStatistics();
      assert.deepEqual(await profiler.profile(async () => {}), []);
    } finally {
      profiled.destroy();
      plain.destroy();
      profiler.destroy();
    }
  },
);

test(
  "the dispatch profiler refuses a pass with its own timestamps and an adapter without them",
  { skip: !gpu.info.features.timestampQuery && "no timestamp queries" },
  async () => {
    const profiler = new DispatchProfiler(gpu);
    try {
      const querySet = gpu.device.createQuerySet({ type: "timestamp", count: 2 });
      await assert.rejects(
        profiler.profile(async () => {
          profiler.gpu
            .encoder("x")
            .beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
        }),
        /writes its own timestamps/,
      );
      querySet.destroy();
      const without = { ...gpu, info: { ...gpu.info, features: { ...gpu.info.features, timestampQuery: false } } };
      assert.throws(() => new DispatchProfiler(without), /timestamp-query/);
    } finally {
      profiler.destroy();
    }
  },
);
