// The PyTorch baseline (bench/pytorch_stack.py through bench/pytorch-baseline.ts) on the CPU:
// JSON shape, its own float64 check, and its float32 logits against staq's float64 reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { findTorchPython, runPytorchBaseline, type PytorchConfig, type PytorchStackInputs } from "../../bench/pytorch-baseline.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";
import { randomSnapshots, randomStates, seededSigned } from "../helpers/random.ts";

// A Python with torch, else a skip saying what to install; under CI a missing torch fails instead
// (npm test's setup installs Debian's python3-torch as root on Debian: scripts/python-torch.ts).
const { python, skip } = torchPythonForTests();

const TINY: PytorchConfig[] = [
  { memory: 3, batch: 5, width: 8, inputs: 4, ensemble: 2, actions: 3 },
  { memory: 3, batch: 5, width: 8, inputs: 4, ensemble: 1, actions: 3 },
];

test("the PyTorch baseline times tiny configs on the CPU and its stacked computation matches a loop of nn.Linear", { skip }, async () => {
  const result = await runPytorchBaseline({ configs: TINY, device: "cpu", seconds: 0.05, gemm: 32, check: true, python });
  assert.equal(typeof result.torch, "string");
  assert.equal(result.device, "cpu");
  assert.equal(typeof result.deviceName, "string");
  assert.equal(result.tf32, false);
  assert.equal(result.configs.length, TINY.length);
  result.configs.forEach((row, k) => {
    const c = TINY[k];
    assert.deepEqual(row.config, c);
    assert.equal(row.flops, 2 * c.ensemble * c.memory * c.batch * (c.inputs * c.width + c.width * c.width + c.width * c.actions));
    assert.ok(row.ms.p10 > 0 && row.ms.p10 <= row.ms.median && row.ms.median <= row.ms.p90, JSON.stringify(row.ms));
    assert.ok(row.ms.runs >= 5);
    assert.ok(Math.abs(row.gflops - row.flops / (row.ms.median * 1e-3) / 1e9) <= 1e-9 * row.gflops);
  });
  assert.ok(result.gemm);
  assert.equal(result.gemm.n, 32);
  assert.equal(result.gemm.flops, 2 * 32 ** 3);
  assert.ok(result.gemm.gflops > 0);
  // The check: stacked float64 within 1e-9·(1 + max|logit|) of the per-snapshot nn.Linear loop in
  // float64, stacked float32 within 1e-4·(1 + max|logit|) (the script's stated tolerances).
  assert.equal(result.check?.length, TINY.length);
  for (const check of result.check!) {
    assert.ok(check.float64.ok && check.float64.maxError <= 1e-9 * check.scale, JSON.stringify(check));
    assert.ok(check.float32.ok && check.float32.maxError <= 1e-4 * check.scale, JSON.stringify(check));
  }
});

test("the PyTorch baseline's float32 logits are within staq's float32 bound of the float64 reference", { skip }, async () => {
  // Per product c·w·a torch rounds at most n + 1 times in the head (matmul, bias add), once for
  // the coefficient (correction·c rounded to float32), once for the product, M − 1 + E − 1 times
  // in the sums over snapshots and members and once dividing by E: n + N + 2 ≤ D = 2n + 2N + 4,
  // the depth stackLogitsReference's bound assumes. Hidden layers round n + 1 times too (matmul,
  // bias add), as the reference assumes. So each logit must lie within the reference's bound.
  const cases: { spec: MlpSpec; memory: number; ensemble: number; batch: number; correction: number; seed: number }[] = [
    { spec: { inputs: 4, hidden: [8, 8], outputs: 3 }, memory: 3, ensemble: 2, batch: 5, correction: 1.7, seed: 11 },
    { spec: { inputs: 4, hidden: [8, 8], outputs: 3 }, memory: 3, ensemble: 1, batch: 5, correction: 1, seed: 12 },
    { spec: { inputs: 5, hidden: [13], outputs: 4 }, memory: 6, ensemble: 2, batch: 7, correction: 0.3, seed: 13 },
  ];
  for (const { spec, memory, ensemble, batch, correction, seed } of cases) {
    const flat = randomSnapshots(spec, memory * ensemble, seed);
    const snapshots: MlpWeights[][] = Array.from({ length: ensemble }, (_, e) => flat.slice(e * memory, (e + 1) * memory));
    const sample = seededSigned(seed + 100);
    const coefficients = Array.from({ length: ensemble }, () => Array.from({ length: memory }, () => sample()));
    const states = randomStates(batch, spec.inputs, seed + 200);
    const reference = stackLogitsReference({ spec, snapshots, coefficients, correction }, states, batch);

    const inputs: PytorchStackInputs = {
      snapshots: snapshots.map((member) =>
        member.map((weights) => ({
          layers: weights.layers.map(({ weight, bias }) => {
            const outputs = bias.length;
            const fanIn = weight.length / outputs;
            return {
              weight: Array.from({ length: outputs }, (_, o) => Array.from(weight.subarray(o * fanIn, (o + 1) * fanIn))),
              bias: Array.from(bias),
            };
          }),
        })),
      ),
      coefficients,
      correction,
      states: Array.from({ length: batch }, (_, b) => Array.from(states.subarray(b * spec.inputs, (b + 1) * spec.inputs))),
    };
    const result = await runPytorchBaseline({ configs: [], device: "cpu", dumpInputs: inputs, python });
    const dump = result.dump!;
    assert.deepEqual([dump.ensemble, dump.memory, dump.batch], [ensemble, memory, batch]);
    for (let b = 0; b < batch; b++) {
      assert.equal(dump.logits[b].length, spec.outputs);
      for (let a = 0; a < spec.outputs; a++) {
        const k = b * spec.outputs + a;
        const error = Math.abs(dump.logits[b][a] - reference.logits[k]);
        assert.ok(
          error <= reference.bound[k],
          `E=${ensemble} M=${memory} logit[${b}][${a}]: torch ${dump.logits[b][a]}, reference ${reference.logits[k]}, error ${error} > bound ${reference.bound[k]}`,
        );
      }
    }
  }
});

test("a failing script run reports the script's stderr", { skip }, async () => {
  await assert.rejects(
    runPytorchBaseline({ configs: [{ memory: 0, batch: 1, width: 1, inputs: 1, ensemble: 1, actions: 1 }], device: "cpu", python }),
    /needs positive integers for \['memory'\]/,
  );
});

test("findTorchPython names what to install when the Python has no torch", () => {
  assert.throws(
    () => findTorchPython("/nonexistent/python3"),
    /no Python with PyTorch found \(\/nonexistent\/python3: not found\).*install/i,
  );
});
