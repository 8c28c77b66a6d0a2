// The done-when for `staq fit`: torch.optim.Adam on the same network file and batch gives
// the same weights to float32 accuracy. The other program is fit_torch.py: PyTorch's nn.Linear
// (and nn.Conv2d for a conv network file), F.mse_loss and torch.optim.Adam in float32, reading and
// writing the files by hand, sharing no code with staq. npm test's setup installs Debian's python3-torch as root on Debian
// (scripts/ensure-test-tools.ts); elsewhere this test skips, saying what to install, except under
// CI, where it fails (scripts/python-torch.ts).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { shortestFloat32 } from "../../src/cli/logits-command.ts";
import { networkToSafetensors, readNetworkFile } from "../../src/io/network-file.ts";
import { convGeometry } from "../../src/stack/conv.ts";
import { layerShapes, randomMlpWeights, type MlpSpec } from "../../src/stack/mlp.ts";
import { F32_UNIT_ROUNDOFF, gammaBound } from "../../src/stack/reference.ts";
import { flattenParameters } from "../../src/train/reference.ts";
import { randomStates, seededSigned } from "../helpers/random.ts";
import { run, runStaq, tempDir } from "../io/stack-fixtures.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";

const SCRIPT = fileURLToPath(new URL("./fit_torch.py", import.meta.url));

// $STAQ_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3 (where python3-torch installs).
const { python, skip } = torchPythonForTests();

// The sizes: two hidden layers of 64, a batch of 32.
const MLP: MlpSpec = { inputs: 8, hidden: [64, 64], outputs: 4 };
// A conv network file (Conv2d's [out, in, kh, kw] weight and "input_shape"): a 5×6×2 image, 5
// filters, a 2×3 kernel (80 conv outputs), then 6 and 3; test/cli/fit.test.ts's, so the two
// share compiled kernels.
const CONV: MlpSpec = { inputs: 60, conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3] }, hidden: [6], outputs: 3 };
const LR = 1e-3;

/**
 * Roundings on a gradient element's path, counted as in test/train/mlp-trainer.test.ts: the
 * forward sums, the loss, the backward sums, the batch sum (a conv layer's weight gradient sums
 * over the batch and its output positions) and 2 more.
 */
function gradientRoundings(spec: MlpSpec, batch: number): number {
  const positions = spec.conv ? convGeometry(spec.conv).positions : 1;
  return layerShapes(spec).reduce((n, { inputs, outputs }) => n + inputs + 1 + outputs + 1, 0) + 3 + batch * positions + 1 + 2;
}

/** The same random problem for both programs: PyTorch's default init range, states and targets of a few units. */
async function writeProblem(dir: string, spec: MlpSpec, batchSize: number, seed: number): Promise<{ net: string; batch: string }> {
  const network = randomMlpWeights(spec, seededSigned(seed), 1);
  const states = randomStates(batchSize, spec.inputs, seed + 1);
  const sample = seededSigned(seed + 2);
  const rows = Array.from(
    { length: batchSize },
    (_, b) => `[${Array.from(states.subarray(b * spec.inputs, (b + 1) * spec.inputs), shortestFloat32).join(", ")}]`,
  );
  const actions = Array.from({ length: batchSize }, () => Math.floor(((sample() + 1) / 2) * spec.outputs));
  const targets = Array.from({ length: batchSize }, () => shortestFloat32(Math.fround(2 * sample())));
  const net = join(dir, "net.safetensors");
  const batch = join(dir, "batch.json");
  await writeFile(net, networkToSafetensors(spec, network));
  await writeFile(batch, `{"obs": [${rows.join(", ")}], "actions": [${actions.join(", ")}], "targets": [${targets.join(", ")}]}`);
  return { net, batch };
}

const flatWeights = async (path: string) => flattenParameters(readNetworkFile(new Uint8Array(await readFile(path))).weights);

const CASES: { what: string; spec: MlpSpec; batch: number; steps: number[] }[] = [
  { what: "", spec: MLP, batch: 32, steps: [1, 10, 100] },
  { what: " on a conv network", spec: CONV, batch: 8, steps: [1, 10] },
];

for (const { what, spec, batch: batchSize, steps: stepCounts } of CASES) {
  const GRADIENT_ROUNDINGS = gradientRoundings(spec, batchSize);
  for (const steps of stepCounts) {
    test(
      `staq fit and torch.optim.Adam agree to float32 accuracy after ${steps} step${steps === 1 ? "" : "s"}${what}`,
      { timeout: 300_000, skip },
      async (t: TestContext) => {
        const dir = await tempDir();
        const { net, batch } = await writeProblem(dir, spec, batchSize, 17);
        const ours = join(dir, "staq.safetensors");
        const theirs = join(dir, "torch.safetensors");
        const common = ["--net", net, "--batch", batch, "--steps", String(steps), "--lr", String(LR)];
        const [staq, torch] = await Promise.all([
          runStaq(["fit", ...common, "--out", ours]),
          run(python!, [SCRIPT, ...common, "--out", theirs]),
        ]);
        assert.equal(staq.code, 0, staq.stderr);
        assert.equal(torch.code, 0, torch.stderr);

        const [start, got, expected] = await Promise.all([flatWeights(net), flatWeights(ours), flatWeights(theirs)]);
        // The tolerance, per parameter: both programs compute the same exact trajectory in float32,
        // so each is within the following of it and they are within twice that of each other.
        // - Every step rounds θ + U once: at most u·|θ_t| per step, K·u·max_t |θ_t| in all, with
        //   max_t |θ_t| ≤ max(|θ_0|, |θ_K|) + K·lr.
        // - Every step's gradient passes through at most n roundings (n = GRADIENT_ROUNDINGS, the
        //   forward, loss, backward and batch sums), a relative error of n·u of its terms. Adam's step
        //   U = s·m/(√v/c + ε) is scale-free in the gradient, so it carries that relative error to
        //   U, whose size is about lr: n·u·lr per step, n·u·K·lr along the update path of K·lr.
        //   (A gradient that is mostly cancellation would carry more; a random problem far from its
        //   minimum has few, and fit.test.ts checks the rigorous per-parameter bound on such.)
        // The feedback of these errors into later gradients is second order over a path of K·lr ≤ 0.1.
        const path = steps * LR;
        let maxAbsolute = 0;
        let maxRelative = 0;
        let maxMoved = 0;
        let maxShare = 0;
        got.forEach((x, k) => {
          const difference = Math.abs(x - expected[k]);
          const largest = Math.max(Math.abs(start[k]), Math.abs(expected[k])) + path;
          const tolerance = 2 * F32_UNIT_ROUNDOFF * (steps * largest + GRADIENT_ROUNDINGS * path);
          assert.ok(
            difference <= tolerance,
            `parameter ${k}: staq ${x}, torch ${expected[k]}, |diff| ${difference} > tolerance ${tolerance}`,
          );
          maxAbsolute = Math.max(maxAbsolute, difference);
          maxRelative = Math.max(maxRelative, difference / Math.max(Math.abs(expected[k]), Number.MIN_VALUE));
          maxMoved = Math.max(maxMoved, Math.abs(expected[k] - start[k]));
          maxShare = Math.max(maxShare, difference / tolerance);
        });
        // The comparison must be able to fail: the parameters moved by much more than the tolerance.
        assert.ok(
          maxMoved > 100 * 2 * F32_UNIT_ROUNDOFF * (steps + GRADIENT_ROUNDINGS * path),
          `the largest change, ${maxMoved}, is not far above the tolerance`,
        );
        t.diagnostic(
          `K = ${steps}: max |staq − torch| = ${maxAbsolute.toExponential(3)}, max relative ${maxRelative.toExponential(3)}, ` +
            `largest parameter change ${maxMoved.toExponential(3)}, largest |diff|/tolerance ${maxShare.toFixed(3)}`,
        );

        // The loss before step 1 is a forward pass of the same weights in both: each within the
        // bound test/train/mlp-trainer.test.ts derives for the GPU (float32 on both sides), plus
        // staq's printing to 7 significant digits.
        const printed = Number(/loss before step 1: (\S+?)[,\n]/.exec(staq.stdout)?.[1]);
        const { loss_first: torchLoss } = JSON.parse(torch.stdout) as { loss_first: number };
        const lossBound =
          2 * gammaBound(layerShapes(spec).reduce((n, { inputs }) => n + inputs + 1, 0) + batchSize + 8) * 4 * (torchLoss + 1) +
          5e-7 * torchLoss;
        assert.ok(Math.abs(printed - torchLoss) <= lossBound, `loss before step 1: staq ${printed}, torch ${torchLoss}`);
      },
    );
  }
}
