// The trainer benchmark's PyTorch baseline (bench/pytorch_train.py through
// bench/pytorch-train-baseline.ts): it runs the training step on tiny configs on the CPU, reports
// finite timings, a finite loss and the BLAS it loaded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runPytorchTrainBaseline } from "../../bench/pytorch-train-baseline.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";

// A Python with torch, else a skip saying what to install; under CI a missing torch fails instead.
const { python, skip } = torchPythonForTests();

test("the PyTorch training-step baseline times tiny configs and reports its threads and BLAS", { skip }, async () => {
  const configs = [
    { width: 8, batch: 16, ensemble: 1 },
    { width: 8, batch: 16, ensemble: 2 },
  ];
  const result = await runPytorchTrainBaseline({ configs, threads: 1, steps: 20, repeats: 2, warmup: 2, python });
  assert.equal(result.device, "cpu");
  assert.equal(result.threads, 1);
  assert.ok(result.blas.libraries.length > 0, "no BLAS library was seen in the process");
  assert.equal(result.configs.length, configs.length);
  result.configs.forEach((row, k) => {
    assert.equal(row.config.width, configs[k].width);
    assert.equal(row.config.ensemble, configs[k].ensemble);
    assert.equal(row.steps, 20);
    assert.equal(row.msPerStep.samples.length, 2);
    assert.ok(row.msPerStep.median > 0 && Number.isFinite(row.msPerStep.median), JSON.stringify(row.msPerStep));
    assert.ok(Math.abs(row.stepsPerSecond - 1000 / row.msPerStep.median) <= 1e-9 * row.stepsPerSecond);
    assert.ok(row.finalLoss !== null && Number.isFinite(row.finalLoss));
  });
});
