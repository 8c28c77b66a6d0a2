// The PyTorch baseline (bench/pytorch_stack.py through bench/pytorch-baseline.ts) on the CPU:
// JSON shape, its own float64 check, and its float32 logits against staq's float64 reference, for
// MLPs and for conv networks (the authors' formulation: the input repeated E·M times, one grouped
// conv2d, then batched matmuls).
import { test } from "node:test";
import assert from "node:assert/strict";
import { findTorchPython, runPytorchBaseline, type PytorchConfig, type PytorchStackInputs } from "../../bench/pytorch-baseline.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { convGeometry, type ConvSpec } from "../../src/stack/conv.ts";
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";
import { randomSnapshots, randomStates, seededSigned } from "../helpers/random.ts";

// A Python with torch, else a skip saying what to install; under CI a missing torch fails instead
// (npm test's setup installs Debian's python3-torch as root on Debian: scripts/python-torch.ts).
const { python, skip } = torchPythonForTests();

/** A small conv network: a 5×6 image of 2 channels, 3 filters of 3×3 (12 output positions), then 8 and 3 actions. */
const TINY_CONV: ConvSpec = { inputShape: [5, 6, 2], filters: 3, kernel: [3, 3] };
/** Stride and padding too, and a kernel that is not square: the patch indexing of every option. */
const STRIDED_CONV: ConvSpec = { inputShape: [5, 6, 2], filters: 3, kernel: [2, 3], stride: 2, padding: 1 };

const TINY: PytorchConfig[] = [
  { memory: 3, batch: 5, width: 8, inputs: 4, ensemble: 2, actions: 3 },
  { memory: 3, batch: 5, width: 8, inputs: 4, ensemble: 1, actions: 3 },
  { memory: 3, batch: 5, width: 8, hidden: [8], inputs: 60, ensemble: 2, actions: 3, conv: TINY_CONV },
  { memory: 2, batch: 4, width: 8, hidden: [8, 5], inputs: 60, ensemble: 1, actions: 3, conv: STRIDED_CONV },
];

/** Multiply-adds of one state through one snapshot, from the config alone (the script's flops_of, written out). */
function expectedMacs(c: PytorchConfig): number {
  const hidden = c.hidden ?? [c.width, c.width];
  let conv = 0;
  let first = c.inputs;
  if (c.conv) {
    const g = convGeometry(c.conv);
    conv = g.positions * g.patch * g.filters;
    first = g.filters * g.positions;
  }
  const widths = [first, ...hidden, c.actions];
  return conv + widths.slice(1).reduce((sum, out, l) => sum + widths[l] * out, 0);
}

test("the PyTorch baseline times tiny configs on the CPU and its stacked computation matches a loop of nn.Linear", { skip }, async () => {
  const result = await runPytorchBaseline({ configs: TINY, device: "cpu", seconds: 0.05, gemm: 32, check: true, threads: 1, python });
  assert.equal(typeof result.torch, "string");
  assert.equal(result.device, "cpu");
  assert.equal(typeof result.deviceName, "string");
  assert.equal(result.tf32, false);
  assert.equal(result.threads, 1);
  // On the CPU it says which BLAS it loaded (the report marks a reference BLAS as not a fair baseline).
  assert.ok(result.blas && Array.isArray(result.blas.libraries), JSON.stringify(result.blas));
  assert.ok(result.build && "blasInfo" in result.build, JSON.stringify(result.build));
  assert.equal(result.configs.length, TINY.length);
  // The conv FLOPs by hand for the first conv config: 12 positions × (2·3·3) × 3 filters, then 36 → 8 → 3.
  assert.equal(expectedMacs(TINY[2]), 12 * 18 * 3 + 36 * 8 + 8 * 3);
  result.configs.forEach((row, k) => {
    const c = TINY[k];
    assert.deepEqual(row.config, c);
    assert.equal(row.flops, 2 * c.ensemble * c.memory * c.batch * expectedMacs(c));
    assert.equal(row.chunks, 1);
    assert.ok(row.ms.p10 > 0 && row.ms.p10 <= row.ms.median && row.ms.median <= row.ms.p90, JSON.stringify(row.ms));
    assert.ok(row.ms.runs >= 5);
    assert.ok(Math.abs(row.gflops - row.flops / (row.ms.median * 1e-3) / 1e9) <= 1e-9 * row.gflops);
  });
  assert.ok(result.gemm);
  assert.equal(result.gemm.n, 32);
  assert.equal(result.gemm.flops, 2 * 32 ** 3);
  assert.ok(result.gemm.gflops > 0);
  // The check: stacked float64 (whole batch and in chunks) within 1e-9·(1 + max|logit|) of the
  // per-snapshot loop of nn.Conv2d / nn.Linear in float64, stacked float32 within 1e-4·(1 + max|logit|)
  // (the script's stated tolerances). The conv configs keep their image and kernel.
  assert.equal(result.check?.length, TINY.length);
  assert.deepEqual(result.check![2].config.conv, TINY_CONV);
  for (const check of result.check!) {
    assert.ok(check.float64.ok && check.float64.maxError <= 1e-9 * check.scale, JSON.stringify(check));
    assert.ok(check.float32.ok && check.float32.maxError <= 1e-4 * check.scale, JSON.stringify(check));
  }
});

test("a conv network's batch runs in chunks when its intermediates exceed --max-chunk-bytes", { skip }, async () => {
  // One state's repeated input and conv output at N = 6: 4·6·(60 + 2·36) bytes; a budget of 1 byte gives one state per chunk.
  const config = TINY[2];
  const result = await runPytorchBaseline({ configs: [config], device: "cpu", seconds: 0.02, threads: 1, maxChunkBytes: 1, python });
  assert.equal(result.maxChunkBytes, 1);
  assert.equal(result.configs[0].chunks, config.batch);
});

test("the PyTorch baseline's float32 logits are within staq's float32 bound of the float64 reference", { skip }, async () => {
  // Per product c·w·a torch rounds at most n + 1 times in the head (matmul, bias add), once for
  // the coefficient (correction·c rounded to float32), once for the product, M − 1 + E − 1 times
  // in the sums over snapshots and members and once dividing by E: n + N + 2 ≤ D = 2n + 2N + 4,
  // the depth stackLogitsReference's bound assumes. Hidden layers round n + 1 times too (matmul,
  // bias add), as the reference assumes. So each logit must lie within the reference's bound.
  // A conv layer's output is a dot product of its patch (n = C·kh·kw) plus the bias, whatever
  // algorithm conv2d picks to sum it, and the repeated input and the transposes are exact copies, so
  // the same per-layer bound holds (src/stack/reference.ts); a wrong patch or flatten order would
  // miss it by far.
  const cases: { spec: MlpSpec; memory: number; ensemble: number; batch: number; correction: number; seed: number }[] = [
    { spec: { inputs: 4, hidden: [8, 8], outputs: 3 }, memory: 3, ensemble: 2, batch: 5, correction: 1.7, seed: 11 },
    { spec: { inputs: 4, hidden: [8, 8], outputs: 3 }, memory: 3, ensemble: 1, batch: 5, correction: 1, seed: 12 },
    { spec: { inputs: 5, hidden: [13], outputs: 4 }, memory: 6, ensemble: 2, batch: 7, correction: 0.3, seed: 13 },
    { spec: { inputs: 60, conv: TINY_CONV, hidden: [8], outputs: 3 }, memory: 3, ensemble: 2, batch: 4, correction: 1.3, seed: 14 },
    { spec: { inputs: 60, conv: STRIDED_CONV, hidden: [8], outputs: 3 }, memory: 2, ensemble: 1, batch: 3, correction: 1, seed: 15 },
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
      // Layer 0 of a conv network above is its Conv2d weight [F, C, kh, kw] as [F][C·kh·kw], staq's layout.
      ...(spec.conv ? { conv: spec.conv } : {}),
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
          `${spec.conv ? "conv " : ""}E=${ensemble} M=${memory} logit[${b}][${a}]: torch ${dump.logits[b][a]}, reference ${reference.logits[k]}, error ${error} > bound ${reference.bound[k]}`,
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
