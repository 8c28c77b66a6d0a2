// Freezing the trained networks into the stack: a GPU copy into the ring's next slot (the trained
// weights come back bit for bit, the ring wraps as with `push`) and the same PMD coefficient step
// as a CPU push of the same weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { pushSnapshot } from "../../src/train/push-snapshot.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";

const gpu = await testGpu();
const SPEC = { inputs: 3, hidden: [5, 4], outputs: 2 };

test("pushSnapshot copies every member's trained weights into the next slot and steps the coefficients like push", async () => {
  const ensemble = 2;
  const trainer = await createMlpTrainer(gpu, { mlp: SPEC, ensemble, batch: 4, adam: { lr: 0.01 } });
  const onGpu = createStack(gpu, { mlp: SPEC, memory: 3, ensemble, eta: 3, tau: 0.7 });
  const onCpu = createStack(gpu, { mlp: SPEC, memory: 3, ensemble, eta: 3, tau: 0.7 });
  // Five pushes into a ring of three: the copy must land in the wrapped slot.
  for (let k = 0; k < 5; k++) {
    trainer.setWeights(randomSnapshots(SPEC, ensemble, 100 + k));
    trainer.setBatch({ states: randomStates(4, 3, k), actions: [0, 1, 1, 0], targets: [1, -1, 0.5, 2] });
    trainer.train(2);
    const trained = await trainer.readWeights();
    const tau = 0.7 - 0.1 * k;
    pushSnapshot(onGpu, trainer, { tau });
    onCpu.push(trained, { tau });
  }
  assert.equal(onGpu.size, 3);
  assert.deepEqual(onGpu.coefficients, onCpu.coefficients);
  assert.equal(onGpu.correction, onCpu.correction);
  assert.equal(onGpu.pmd.tau, onCpu.pmd.tau);
  const [fromGpu, fromCpu] = await Promise.all([onGpu.readSnapshots(), onCpu.readSnapshots()]);
  assert.deepEqual(fromGpu, fromCpu);
  const states = randomStates(6, 3, 9);
  assert.deepEqual(Array.from(await stackLogits(onGpu, states)), Array.from(await stackLogits(onCpu, states)));
  for (const o of [trainer, onGpu, onCpu]) o.destroy();
});

test("pushSnapshot refuses a trainer of another shape or ensemble", async () => {
  const trainer = await createMlpTrainer(gpu, { mlp: SPEC, ensemble: 1, batch: 2, adam: { lr: 0.01 } });
  const wide = createStack(gpu, { mlp: { ...SPEC, hidden: [6, 4] }, memory: 2 });
  const pair = createStack(gpu, { mlp: SPEC, memory: 2, ensemble: 2 });
  assert.throws(() => pushSnapshot(wide, trainer), /the stack holds 3→6→4→2 networks; the trainer trains 3→5→4→2/);
  assert.throws(() => pushSnapshot(pair, trainer), /the stack has 2 ensemble members; the trainer trains 1/);
  assert.equal(wide.size, 0);
  // A conv network and a dense one with the same inputs, widths and outputs have different layouts.
  const conv = { inputs: 18, hidden: [4], outputs: 2, conv: { inputShape: [3, 3, 2] as [number, number, number], filters: 4 } };
  const convTrainer = await createMlpTrainer(gpu, { mlp: conv, batch: 2, adam: { lr: 0.01 } });
  const dense = createStack(gpu, { mlp: { inputs: 18, hidden: [4], outputs: 2 }, memory: 2 });
  assert.throws(
    () => pushSnapshot(dense, convTrainer),
    /the stack holds 18→4→2 networks; the trainer trains conv 4×3×3 \(stride 1, padding 0\) on 3×3×2, then 18→4→2/,
  );
  assert.equal(dense.size, 0);
  // A destroyed trainer's buffers would be submitted (failing every later call on the Gpu) after the stack stepped.
  const same = createStack(gpu, { mlp: SPEC, memory: 2 });
  assert.throws(
    () => pushSnapshot(same, trainer, { tao: 5 } as never),
    /^StaqInputError: pushSnapshot: unknown option "tao"; the options are: tau$/,
  );
  trainer.destroy();
  assert.throws(() => pushSnapshot(same, trainer), /^StaqGpuError: pushSnapshot: the trainer was destroyed$/);
  assert.equal(same.size, 0);
  assert.equal(gpu.error, undefined);
  for (const o of [wide, pair, convTrainer, dense, same]) o.destroy();
});
