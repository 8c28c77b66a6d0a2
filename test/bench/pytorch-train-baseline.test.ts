// The trainer benchmark's PyTorch baseline (bench/pytorch_train.py through
// bench/pytorch-train-baseline.ts): it runs the training step on tiny configs on the CPU (MLPs and
// conv networks), reports finite timings, a finite loss and the BLAS it loaded; and its step, run
// once in float64 (--check), gives the targets, loss, gradients and Adam update of staq's float64
// reference (src/train/reference.ts), which is how the conv network's layout (the state as
// [H][W][C], Conv2d weight [F, C, kh, kw], flatten(1)) is checked against staq's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runPytorchTrainBaseline, type FlatLayer, type PytorchTrainConfig } from "../../bench/pytorch-train-baseline.ts";
import type { ConvSpec } from "../../src/stack/conv.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { adamStep, createAdamState, flattenParameters, forwardActivations, lossAndGradient, toFloat64 } from "../../src/train/reference.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";
import { randomSnapshots, randomStates, seededUniform } from "../helpers/random.ts";

// A Python with torch, else a skip saying what to install; under CI a missing torch fails instead.
const { python, skip } = torchPythonForTests();

/** A small conv network: a 5×6 image of 2 channels, 3 filters of 3×3, then 8 and 3 actions. */
const TINY_CONV: ConvSpec = { inputShape: [5, 6, 2], filters: 3, kernel: [3, 3] };
/** Stride, padding and a kernel that is not square. */
const STRIDED_CONV: ConvSpec = { inputShape: [5, 6, 2], filters: 3, kernel: [2, 3], stride: 2, padding: 1 };

test("the PyTorch training-step baseline times tiny configs and reports its threads and BLAS", { skip }, async () => {
  const configs: PytorchTrainConfig[] = [
    { width: 8, batch: 16, ensemble: 1 },
    { width: 8, batch: 16, ensemble: 2 },
    { width: 8, batch: 16, ensemble: 2, inputs: 60, actions: 3, hidden: [8], conv: TINY_CONV },
  ];
  const result = await runPytorchTrainBaseline({ configs, threads: 1, steps: 20, repeats: 2, warmup: 2, python });
  assert.equal(result.device, "cpu");
  assert.equal(result.threads, 1);
  assert.ok(result.blas.libraries.length > 0, "no BLAS library was seen in the process");
  assert.equal(result.check, undefined);
  assert.equal(result.configs.length, configs.length);
  result.configs.forEach((row, k) => {
    assert.equal(row.config.width, configs[k].width);
    assert.equal(row.config.ensemble, configs[k].ensemble);
    assert.deepEqual(row.config.conv, configs[k].conv);
    assert.equal(row.config.inputs, configs[k].inputs ?? 4);
    assert.equal(row.config.actions, configs[k].actions ?? 2);
    assert.equal(row.steps, 20);
    assert.equal(row.msPerStep.samples.length, 2);
    assert.ok(row.msPerStep.median > 0 && Number.isFinite(row.msPerStep.median), JSON.stringify(row.msPerStep));
    assert.ok(Math.abs(row.stepsPerSecond - 1000 / row.msPerStep.median) <= 1e-9 * row.stepsPerSecond);
    assert.ok(row.finalLoss !== null && Number.isFinite(row.finalLoss));
  });
});

const flat = (weights: MlpWeights): FlatLayer[] => weights.layers.map(({ weight, bias }) => ({ weight: [...weight], bias: [...bias] }));
const maxAbs = (values: ArrayLike<number>) => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The script's step in float64 against the same step composed from staq's float64 reference. */
async function checkStep(spec: MlpSpec, config: PytorchTrainConfig, ensemble: number, batch: number, seed: number) {
  const lr = 1e-3;
  const gamma = 0.9;
  const online = randomSnapshots(spec, ensemble, seed);
  const target = randomSnapshots(spec, ensemble, seed + 1);
  const states = randomStates(batch, spec.inputs, seed + 2);
  const nextStates = randomStates(batch, spec.inputs, seed + 3);
  const random = seededUniform(seed + 4);
  const actions = Array.from({ length: batch }, () => Math.floor(random() * spec.outputs));
  const nextActions = Array.from({ length: batch }, () => Math.floor(random() * spec.outputs));
  const rewards = Array.from({ length: batch }, () => 2 * random() - 1);
  const done = Array.from({ length: batch }, (_, b) => (b % 3 === 0 ? 1 : 0));

  const result = await runPytorchTrainBaseline({
    configs: [],
    threads: 1,
    lr,
    gamma,
    python,
    check: {
      config,
      online: online.map(flat),
      target: target.map(flat),
      states: [...states],
      nextStates: [...nextStates],
      actions,
      nextActions,
      rewards,
      done,
    },
  });
  const check = result.check!;
  assert.ok(check, "no check in the result");

  // y = r + γ(1 − done)·mean_e target_e(s')[a'].
  const nextQ = target.map((w) => forwardActivations(spec, toFloat64(w), nextStates, batch).at(-1)!);
  const y = rewards.map(
    (r, b) => r + gamma * (1 - done[b]) * (nextQ.reduce((sum, q) => sum + q[b * spec.outputs + nextActions[b]], 0) / ensemble),
  );
  assert.equal(check.targets.length, batch);
  check.targets.forEach((got, b) =>
    assert.ok(Math.abs(got - y[b]) <= 1e-12 * (1 + Math.abs(y[b])), `y[${b}]: torch ${got}, reference ${y[b]}`),
  );

  // loss = Σ_e MSE(Q_e(s)[a], y); per member its gradient, then one Adam step from a fresh state.
  let loss = 0;
  assert.equal(check.members.length, ensemble);
  online.forEach((w, e) => {
    const net = toFloat64(w);
    const step = lossAndGradient(spec, net, { states, actions, targets: y });
    loss += step.loss;
    const grads = flattenParameters(step.grads);
    const params = flattenParameters(net);
    adamStep(params, grads, createAdamState(params.length), { lr });
    const got = check.members[e];
    assert.equal(got.grads.length, grads.length);
    const gradScale = 1 + maxAbs(grads);
    got.grads.forEach((g, k) =>
      assert.ok(Math.abs(g - grads[k]) <= 1e-12 * gradScale, `member ${e} grad[${k}]: torch ${g}, reference ${grads[k]}`),
    );
    // Adam's first step moves each parameter by about lr·sign(g): compared at a small fraction of lr.
    got.params.forEach((p, k) =>
      assert.ok(
        Math.abs(p - params[k]) <= 1e-9 * lr + 1e-12 * Math.abs(params[k]),
        `member ${e} param[${k}]: torch ${p}, reference ${params[k]}`,
      ),
    );
  });
  assert.ok(Math.abs(check.loss - loss) <= 1e-12 * (1 + loss), `loss: torch ${check.loss}, reference ${loss}`);
}

test("the baseline's step in float64 matches staq's reference: an MLP", { skip }, async () => {
  const spec: MlpSpec = { inputs: 4, hidden: [8, 8], outputs: 2 };
  await checkStep(spec, { width: 8, batch: 6, ensemble: 2 }, 2, 6, 21);
});

test(
  "the baseline's step in float64 matches staq's reference: conv networks (state [H][W][C], Conv2d weight [F, C, kh, kw])",
  { skip },
  async () => {
    for (const [conv, seed] of [
      [TINY_CONV, 31],
      [STRIDED_CONV, 41],
    ] as const) {
      const spec: MlpSpec = { inputs: 60, conv, hidden: [8], outputs: 3 };
      await checkStep(spec, { width: 8, batch: 5, ensemble: 2, inputs: 60, actions: 3, hidden: [8], conv }, 2, 5, seed);
    }
  },
);

test("a check whose networks do not match the config fails with the script's message", { skip }, async () => {
  const spec: MlpSpec = { inputs: 4, hidden: [8], outputs: 2 };
  const [w] = randomSnapshots(spec, 1, 5);
  await assert.rejects(
    runPytorchTrainBaseline({
      configs: [],
      threads: 1,
      python,
      check: {
        // The config's default network has two hidden layers; the weights have one.
        config: { width: 8, batch: 2, ensemble: 1 },
        online: [flat(w)],
        target: [flat(w)],
        states: [...randomStates(2, 4, 6)],
        nextStates: [...randomStates(2, 4, 7)],
        actions: [0, 1],
        nextActions: [1, 0],
        rewards: [1, 1],
        done: [0, 0],
      },
    }),
    /the network has 3 layers, the file gives 2/,
  );
});
