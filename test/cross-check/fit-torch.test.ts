// The done-when for `staq fit`: torch.optim.Adam on the same network file and batch gives
// the same weights to float32 accuracy. The other program is fit_torch.py: PyTorch's nn.Linear,
// F.mse_loss and torch.optim.Adam in float32, reading and writing the files by hand, sharing no
// code with staq. npm test's setup installs Debian's python3-torch as root on Debian
// (scripts/ensure-test-tools.ts); elsewhere this test skips, saying what to install, except under
// CI, where it fails (scripts/python-torch.ts).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { shortestFloat32 } from "../../src/cli/logits-command.ts";
import { networkToSafetensors, readNetworkFile } from "../../src/io/network-file.ts";
import { randomMlpWeights, type MlpSpec } from "../../src/stack/mlp.ts";
import { F32_UNIT_ROUNDOFF, gammaBound } from "../../src/stack/reference.ts";
import { flattenParameters } from "../../src/train/reference.ts";
import { randomStates, seededSigned } from "../helpers/random.ts";
import { run, runStaq, tempDir } from "../io/stack-fixtures.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";

const SCRIPT = fileURLToPath(new URL("./fit_torch.py", import.meta.url));

// $STAQ_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3 (where python3-torch installs).
const { python, skip } = torchPythonForTests();

// The sizes: two hidden layers of 64, a batch of 32.
const SPEC: MlpSpec = { inputs: 8, hidden: [64, 64], outputs: 4 };
const BATCH = 32;
const LR = 1e-3;
/** Roundings on a gradient element's path, counted as in test/train/mlp-trainer.test.ts. */
const GRADIENT_ROUNDINGS =
  [SPEC.inputs, ...SPEC.hidden].reduce((n, inputs, l) => n + inputs + 1 + [...SPEC.hidden, SPEC.outputs][l] + 1, 0) + 3 + BATCH + 1 + 2;

/** The same random problem for both programs: PyTorch's default init range, states and targets of a few units. */
async function writeProblem(dir: string, seed: number): Promise<{ net: string; batch: string }> {
  const network = randomMlpWeights(SPEC, seededSigned(seed), 1);
  const states = randomStates(BATCH, SPEC.inputs, seed + 1);
  const sample = seededSigned(seed + 2);
  const rows = Array.from(
    { length: BATCH },
    (_, b) => `[${Array.from(states.subarray(b * SPEC.inputs, (b + 1) * SPEC.inputs), shortestFloat32).join(", ")}]`,
  );
  const actions = Array.from({ length: BATCH }, () => Math.floor(((sample() + 1) / 2) * SPEC.outputs));
  const targets = Array.from({ length: BATCH }, () => shortestFloat32(Math.fround(2 * sample())));
  const net = join(dir, "net.safetensors");
  const batch = join(dir, "batch.json");
  await writeFile(net, networkToSafetensors(SPEC, network));
  await writeFile(batch, `{"obs": [${rows.join(", ")}], "actions": [${actions.join(", ")}], "targets": [${targets.join(", ")}]}`);
  return { net, batch };
}

const flatWeights = async (path: string) => flattenParameters(readNetworkFile(new Uint8Array(await readFile(path))).weights);

for (const steps of [1, 10, 100]) {
  test(
    `staq fit and torch.optim.Adam agree to float32 accuracy after ${steps} step${steps === 1 ? "" : "s"}`,
    { timeout: 300_000, skip },
    async (t: TestContext) => {
      const dir = await tempDir();
      const { net, batch } = await writeProblem(dir, 17);
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
        2 * gammaBound([SPEC.inputs, ...SPEC.hidden].reduce((n, inputs) => n + inputs + 1, 0) + BATCH + 8) * 4 * (torchLoss + 1) +
        5e-7 * torchLoss;
      assert.ok(Math.abs(printed - torchLoss) <= lossBound, `loss before step 1: staq ${printed}, torch ${torchLoss}`);
    },
  );
}
