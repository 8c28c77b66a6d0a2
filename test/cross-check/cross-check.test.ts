// The done-when: `staq logits` reproduces, to 1e-4 relative, the logits another program
// computes from the same safetensors file. The other program is stack_logits.py: Python + numpy,
// reading the file by hand and following docs/formats.md, “The stack file”, in float64, sharing no code with staq.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { testGpu } from "../helpers/gpu.ts";
import { readStackFile } from "../../src/io/stack-file.ts";
import { saveStack } from "../../src/node/stack-files.ts";
import { F32_UNIT_ROUNDOFF, stackLogitsReference } from "../../src/stack/reference.ts";
import { TWO_HIDDEN, pushedStack, randomStates, run, runStaq, statesJson, tempDir } from "../io/stack-fixtures.ts";

const SCRIPT = fileURLToPath(new URL("./stack_logits.py", import.meta.url));
const RELATIVE = 1e-4;

const importsNumpy = (python: string) => spawnSync(python, ["-c", "import numpy"], { stdio: "ignore" }).status === 0;

/**
 * A Python 3 with numpy: the one on PATH, else Debian's. As root on Debian it installs Debian's
 * python3-numpy when neither has numpy; elsewhere it returns a message saying what to install.
 */
function findPython(): { python: string } | { missing: string } {
  // Debian's /usr/bin/python3 comes second: a PATH python (pyenv, venv) does not see Debian's numpy.
  const candidates = ["python3", "/usr/bin/python3"];
  const found = () => candidates.find(importsNumpy);
  const first = found();
  if (first) return { python: first };
  const debian = existsSync("/etc/debian_version");
  if (!(debian && process.getuid?.() === 0)) {
    return { missing: "the cross-check needs Python 3 with numpy: install python3-numpy (Debian/Ubuntu) or `pip install numpy`" };
  }
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "python3-numpy"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  if (install().status !== 0) {
    // A fresh machine's package lists may be missing or stale.
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    const retry = install();
    assert.equal(retry.status, 0, "apt-get install -y python3-numpy failed (see its output above)");
  }
  const installed = found();
  assert.ok(installed, "python3-numpy is installed, but neither python3 nor /usr/bin/python3 can import numpy");
  return { python: installed };
}

test(
  "staq logits agrees with an independent numpy evaluation of the same file to 1e-4 relative",
  { timeout: 600_000 },
  async (t: TestContext) => {
    const python = findPython();
    if ("missing" in python) {
      // Under CI a skip would hide a missing setup step (npm test's setup installs python3-torch,
      // and numpy with it, as root on Debian), so there it fails.
      if (process.env.CI) assert.fail(`Under CI the numpy cross-check must run, but ${python.missing}`);
      t.skip(python.missing);
      return;
    }
    const gpu = await testGpu();
    const dir = await tempDir();
    // Two hidden layers, two members, a ring of 4 that wrapped, PMD coefficients that are not
    // float32-exact, and a correction far from 1: every part of the formula matters.
    const { stack } = pushedStack(gpu, { mlp: TWO_HIDDEN, memory: 4, ensemble: 2, eta: 20, tau: 0.5, gamma: 0.99, pushes: 6, seed: 31 });
    const stackPath = join(dir, "stack.safetensors");
    await saveStack(stack, stackPath);
    stack.destroy();
    const batch = 16;
    const states = randomStates(batch, TWO_HIDDEN.inputs, 37);
    const statesPath = join(dir, "states.json");
    await writeFile(statesPath, statesJson(states, TWO_HIDDEN.inputs));

    const [staq, numpy] = await Promise.all([
      runStaq(["logits", "--stack", stackPath, "--states", statesPath]),
      run(python.python, [SCRIPT, stackPath, statesPath]),
    ]);
    assert.equal(staq.code, 0, staq.stderr);
    assert.equal(numpy.code, 0, numpy.stderr);
    const ours = (JSON.parse(staq.stdout) as { logits: number[][] }).logits;
    const theirs = (JSON.parse(numpy.stdout) as { logits: number[][] }).logits;
    assert.equal(ours.length, batch);
    assert.equal(theirs.length, batch);

    // The bound: staq computes in float32 on the GPU, numpy in float64, so they differ by staq's
    // rounding error, at most reference.bound (Higham's bound, see src/stack/reference.ts). A logit
    // is a sum of terms of both signs and may be near zero, so "relative" is taken to the row's
    // largest logit: |staq − numpy| ≤ 1e-4 · max_a |numpy[b][a]|. The derived bound is far smaller
    // here, so 1e-4 is the contract, not a fudge.
    const reference = stackLogitsReference(readStackFile(readFileSync(stackPath)), states, batch);
    theirs.forEach((row, b) => {
      assert.equal(row.length, TWO_HIDDEN.outputs);
      assert.equal(ours[b].length, TWO_HIDDEN.outputs);
      const scale = Math.max(...row.map(Math.abs));
      assert.ok(scale > 0, `row ${b} of numpy's logits is all zero: the test would compare nothing`);
      row.forEach((expected, a) => {
        const k = b * TWO_HIDDEN.outputs + a;
        assert.ok(
          Math.abs(ours[b][a] - expected) <= RELATIVE * scale,
          `logit [${b}][${a}]: staq ${ours[b][a]}, numpy ${expected} (row scale ${scale})`,
        );
        assert.ok(
          reference.bound[k] <= RELATIVE * scale,
          `the float32 error bound ${reference.bound[k]} of logit [${b}][${a}] exceeds the contract`,
        );
        // numpy and staq's float64 reference are two float64 evaluations in different orders; the
        // float32 bound scaled from u = 2^-24 to 2^-53 bounds each (γ_n is linear in u to first order).
        const float64Bound = 2 * reference.bound[k] * (2 ** -53 / F32_UNIT_ROUNDOFF) + 1e-300;
        assert.ok(
          Math.abs(expected - reference.logits[k]) <= float64Bound,
          `numpy ${expected} vs staq's float64 reference ${reference.logits[k]} ± ${float64Bound}`,
        );
      });
    });
  },
);
