// Conv stacks against PyTorch: a stack with a conv first layer, saved by staq's stack-file writer,
// evaluated by `staq logits` on the GPU (float32) and by conv_logits_torch.py (PyTorch's conv2d,
// flatten and linear, per snapshot, in float64, reading the file by hand). PyTorch's float64 value
// is the exact one up to float64 rounding, so staq's logits must be within the float32 bound that
// src/stack/reference.ts derives. This checks the file's conv layout (Conv2d's [out, in, kh, kw],
// "input_shape", the state as [H][W][C], the flatten order) as well as the kernel.
//
// Like fit-torch.test.ts: npm test's setup installs Debian's python3-torch as root on Debian
// (scripts/ensure-test-tools.ts); elsewhere this test skips, saying what to install, except under
// CI, where it fails (scripts/python-torch.ts).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readStackFile, type StackFileContents } from "../../src/io/stack-file.ts";
import { saveStack } from "../../src/node/stack-files.ts";
import { convGeometry } from "../../src/stack/conv.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { F32_UNIT_ROUNDOFF, stackLogitsReference } from "../../src/stack/reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { pushedStack, randomStates, run, runStaq, statesJson, tempDir } from "../io/stack-fixtures.ts";
import { torchPythonForTests } from "../../scripts/python-torch.ts";

const SCRIPT = fileURLToPath(new URL("./conv_logits_torch.py", import.meta.url));

// $STAQ_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3 (where python3-torch installs).
const { python, skip } = torchPythonForTests();
// At the top level, so that the Gpu lives until the file's last test (test/helpers/gpu.ts).
const gpu = skip ? undefined : await testGpu();

const CASES: { name: string; mlp: MlpSpec; memory: number; ensemble: number; pushes: number }[] = [
  {
    // The StaQ paper's MinAtar network: a 10×10×4 image, Conv2d(4 → 16, 3×3), 16·8·8 → 128 → 3.
    // A ring of 3 that wrapped (5 pushes), two members.
    name: "10×10×4 image, 16 3×3 filters, 128 hidden",
    mlp: { inputs: 400, conv: { inputShape: [10, 10, 4], filters: 16 }, hidden: [128], outputs: 3 },
    memory: 3,
    ensemble: 2,
    pushes: 5,
  },
  {
    // Nothing square: 5×6 pixels of 2 channels, 5 filters (not a multiple of 4), a 2×3 kernel.
    name: "5×6×2 image, 5 2×3 filters, 7 hidden",
    mlp: { inputs: 60, conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3] }, hidden: [7], outputs: 3 },
    memory: 4,
    ensemble: 2,
    pushes: 3,
  },
];
const BATCH = 6;

/** The states as they would be read by a program taking them as [C][H][W]: pixel (y, x, c) gets state[(c·H + y)·W + x]. */
function channelsFirst(mlp: MlpSpec, states: Float32Array): Float32Array {
  const [height, width, channels] = mlp.conv!.inputShape;
  const read = new Float32Array(states.length);
  for (let b = 0; b < states.length / mlp.inputs; b++) {
    const at = b * mlp.inputs;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < channels; c++) read[at + (y * width + x) * channels + c] = states[at + (c * height + y) * width + x];
  }
  return read;
}

/** The stack as a program would evaluate it that flattens the conv outputs position-major (p·F + f, not f·P + p). */
function positionMajor(contents: StackFileContents): StackFileContents {
  const { filters, positions } = convGeometry(contents.spec.conv!);
  const snapshots = contents.snapshots.map((member) =>
    member.map(({ layers }) => {
      const { weight, bias } = layers[1];
      const inputs = filters * positions;
      const permuted = new Float32Array(weight.length);
      for (let o = 0; o < weight.length / inputs; o++)
        for (let f = 0; f < filters; f++)
          for (let p = 0; p < positions; p++) permuted[o * inputs + f * positions + p] = weight[o * inputs + p * filters + f];
      return { layers: [layers[0], { weight: permuted, bias }, ...layers.slice(2)] };
    }),
  );
  return { ...contents, snapshots };
}

for (const [k, { name, mlp, memory, ensemble, pushes }] of CASES.entries()) {
  test(
    `conv stack (${name}): staq logits is within the float32 bound of PyTorch's float64 logits`,
    { timeout: 300_000, skip },
    async (t: TestContext) => {
      const dir = await tempDir();
      // PMD coefficients that are not float32-exact and a correction far from 1: every part of the formula matters.
      const { stack } = pushedStack(gpu!, { mlp, memory, ensemble, eta: 20, tau: 0.5, gamma: 0.99, pushes, seed: 61 + k });
      const stackPath = join(dir, "conv.safetensors");
      await saveStack(stack, stackPath);
      stack.destroy();
      const states = randomStates(BATCH, mlp.inputs, 67 + k);
      const statesPath = join(dir, "states.json");
      await writeFile(statesPath, statesJson(states, mlp.inputs));

      const [staq, torch] = await Promise.all([
        runStaq(["logits", "--stack", stackPath, "--states", statesPath]),
        run(python!, [SCRIPT, stackPath, statesPath]),
      ]);
      assert.equal(staq.code, 0, staq.stderr);
      assert.equal(torch.code, 0, torch.stderr);
      const ours = (JSON.parse(staq.stdout) as { logits: number[][] }).logits.flat();
      const theirs = (JSON.parse(torch.stdout) as { logits: number[][] }).logits.flat();
      assert.equal(ours.length, BATCH * mlp.outputs);
      assert.equal(theirs.length, BATCH * mlp.outputs);

      const contents = readStackFile(await readFile(stackPath));
      const reference = stackLogitsReference(contents, states, BATCH);
      let maxShare = 0;
      theirs.forEach((expected, i) => {
        // PyTorch's float64 differs from the exact value by float64 rounding: the float32 bound
        // scaled from u = 2^-24 to 2^-53 (γ_n is linear in u to first order), doubled for safety.
        const float64Bound = 2 * reference.bound[i] * (2 ** -53 / F32_UNIT_ROUNDOFF) + 1e-300;
        const tolerance = reference.bound[i] + float64Bound;
        const difference = Math.abs(Math.fround(ours[i]) - expected);
        assert.ok(difference <= tolerance, `logit ${i}: staq ${ours[i]}, torch ${expected}, |diff| ${difference} > bound ${tolerance}`);
        // And staq's own float64 reference reads the file as PyTorch does.
        assert.ok(
          Math.abs(expected - reference.logits[i]) <= 2 * float64Bound,
          `logit ${i}: torch ${expected} vs staq's float64 reference ${reference.logits[i]}`,
        );
        maxShare = Math.max(maxShare, difference / tolerance);
      });
      // The comparison can fail: had PyTorch (or staq) read the layout otherwise, the state
      // channels-first or the conv outputs flattened position-major, some logit would be off by
      // far more than its bound.
      const misread: string[] = [];
      for (const [mistake, mutated] of [
        ["the state read as [C][H][W]", stackLogitsReference(contents, channelsFirst(mlp, states), BATCH)],
        ["the conv outputs flattened as [H'][W'][filters]", stackLogitsReference(positionMajor(contents), states, BATCH)],
      ] as const) {
        const worst = Math.max(...theirs.map((expected, i) => Math.abs(mutated.logits[i] - expected) / reference.bound[i]));
        assert.ok(worst > 10, `with ${mistake}, the logits stay within ${worst.toFixed(2)} × the bound: the test could not tell`);
        misread.push(`${mistake}: ${worst.toFixed(0)}`);
      }
      t.diagnostic(
        `largest |staq − torch| / bound: ${maxShare.toExponential(2)}; misread, the largest |error| / bound: ${misread.join(", ")}`,
      );
    },
  );
}
