// `staq fit`, run in process (fitCommand.run) on small random networks and compared with the
// float64 reference of src/train/reference.ts run for the same steps, within a running float32
// error bound derived below (no tolerance chosen to make it pass); and its bad inputs, run as child
// processes so that the exit code and the single line on stderr are what a user sees.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fitCommand } from "../../src/cli/fit-command.ts";
import { checkOutputPath } from "../../src/cli/output-path.ts";
import { shortestFloat32 } from "../../src/cli/logits-command.ts";
import { UsageError, type CommandIO } from "../../src/cli/command.ts";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { NETWORK_FORMAT, networkToSafetensors, readNetworkFile } from "../../src/io/network-file.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { convGeometry } from "../../src/stack/conv.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../../src/stack/mlp.ts";
import { F32_UNIT_ROUNDOFF, gammaBound } from "../../src/stack/reference.ts";
import {
  ADAM_DEFAULTS,
  backward,
  flattenParameters,
  forwardActivations,
  layerForward,
  lossAndGradient,
  toFloat64,
  unflattenParameters,
  type MlpWeights64,
} from "../../src/train/reference.ts";
import { randomSnapshots, randomStates, seededSigned } from "../helpers/random.ts";
import { ownStderrLines, runStaq, tempDir } from "../io/stack-fixtures.ts";

const u = F32_UNIT_ROUNDOFF;
const dir = await tempDir();

interface Problem {
  spec: MlpSpec;
  network: MlpWeights;
  states: Float32Array;
  actions: Int32Array;
  targets: Float32Array;
}

/**
 * Random weights (uniform, ±2/√fan_in), states in [-2, 2), every action taken, and targets of
 * 20 … 40, far above the network's Q values (a few units): every residual q − y is negative and
 * large against |q| + |y| for the few steps of a test, so the gradients are far from 0 against
 * their rounding errors ("far from stationarity"; `referenceRun` checks it), which keeps the
 * bound below tight.
 */
function randomProblem(spec: MlpSpec, batch: number, seed: number): Problem {
  const [network] = randomSnapshots(spec, 1, seed);
  const states = randomStates(batch, spec.inputs, seed + 1);
  const sample = seededSigned(seed + 2);
  const actions = Int32Array.from({ length: batch }, (_, b) => b % spec.outputs);
  const targets = Float32Array.from({ length: batch }, () => 20 * (1 + Math.abs(sample())));
  return { spec, network, states, actions, targets };
}

/** BATCH.json with numbers that read back as the same float32. */
function batchJson({ spec, states, actions, targets }: Problem): string {
  const obs = Array.from(
    actions,
    (_, b) => `[${Array.from(states.subarray(b * spec.inputs, (b + 1) * spec.inputs), shortestFloat32).join(", ")}]`,
  );
  return `{"obs": [${obs.join(", ")}], "actions": [${Array.from(actions).join(", ")}], "targets": [${Array.from(targets, shortestFloat32).join(", ")}]}`;
}

async function writeProblem(problem: Problem, name: string): Promise<{ net: string; batch: string }> {
  const net = join(dir, `${name}.safetensors`);
  const batch = join(dir, `${name}.json`);
  await writeFile(net, networkToSafetensors(problem.spec, problem.network));
  await writeFile(batch, batchJson(problem));
  return { net, batch };
}

function captureIO(): CommandIO & { out: () => string } {
  let stdout = "";
  let stderr = "";
  return {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    out: () => stdout + stderr,
  };
}

// ---- the float64 reference run and its float32 error bound ----

/** |x| elementwise of every weight and bias, plus `extra` (flat, PyTorch order) when given. */
function absolutePlus(spec: MlpSpec, net: MlpWeights64, extra?: Float64Array): MlpWeights64 {
  const flat = flattenParameters(net).map(Math.abs);
  if (extra) flat.forEach((x, k) => (flat[k] = x + extra[k]));
  return unflattenParameters(spec, flat);
}

/**
 * The computation of the loss gradient with every weight, state and target replaced by its
 * absolute value, every subtraction by an addition, and the ReLU masks of `reference` (the float64
 * activations): `preActivations[l]` are hidden layer l's sums before the mask, `q` the head's
 * outputs, `gradient` the flat gradient. Each is a polynomial with non-negative coefficients that
 * dominates the true one term by term, which is what the bounds below are built from. The
 * reference's own layer functions do the sums, so a conv layer (its patches of |state|) is
 * covered too.
 */
function absoluteStep(spec: MlpSpec, absNet: MlpWeights64, problem: Problem, reference: Float64Array[]) {
  const shapes = layerShapes(spec);
  const batch = problem.actions.length;
  const activations: Float64Array[] = [Float64Array.from(problem.states, Math.abs)];
  const preActivations: Float64Array[] = [];
  shapes.forEach((_, l) => {
    const z = layerForward(spec, l, absNet.layers[l], activations[l], batch);
    const hidden = l < shapes.length - 1;
    if (hidden) preActivations.push(z);
    activations.push(hidden ? z.map((value, k) => (reference[l + 1][k] > 0 ? value : 0)) : z);
  });
  const q = activations[shapes.length];
  // MSE: dLoss/dq_b = (2/B)(q_b − y_b) at the taken action.
  const dHead = new Float64Array(batch * spec.outputs);
  for (let b = 0; b < batch; b++) {
    const k = b * spec.outputs + problem.actions[b];
    dHead[k] = (2 / batch) * (q[k] + Math.abs(problem.targets[b]));
  }
  return { preActivations, q, gradient: flattenParameters(backward(spec, absNet, activations, dHead, batch)) };
}

interface ReferenceRun {
  /** θ_K in float64, flat (PyTorch order). */
  weights: Float64Array;
  /** Per parameter, the largest |θ_K(GPU, float32) − θ_K(float64)| the derivation allows. */
  bound: Float64Array;
  /** Loss before step 1 and before step K, float64, and bounds on the GPU's float32 losses. */
  losses: { first: number; last: number; firstBound: number; lastBound: number };
}

/**
 * K Adam steps of the float64 reference (torch.optim.Adam semantics), carrying a bound E_t on
 * |θ_t(GPU) − θ_t| per parameter, the running error analysis of Wilkinson applied to the step:
 *
 * 1. The gradient. The GPU evaluates it at θ_GPU, whose |θ_GPU| ≤ |θ| + E. With the same ReLU
 *    decisions (checked below), the gradient is a polynomial in the weights, states and targets,
 *    and |g_GPU − g| ≤ δ = γ_K · Ā(|θ| + E) + (Ā(|θ| + E) − Ā(|θ|)), Ā the dominating
 *    polynomial of `absoluteStep`: the first term is rounding (Higham §3.1: each of the at most K
 *    roundings on a term's path multiplies it by 1 ± u; K counted as in
 *    test/train/mlp-trainer.test.ts, where a conv layer's weight gradient sums over the batch and
 *    its P output positions), the second the exact change from θ to θ_GPU (every monomial
 *    of g(θ + e) − g(θ) contains a factor of e and is dominated by the matching one of Ā).
 *    The ReLU decisions agree when every hidden pre-activation z has |z| larger than the same
 *    two terms for z (the rounding one doubled, as in that test); `Ambiguous ReLU` is thrown
 *    otherwise (then pick another seed).
 * 2. The moments, per parameter. m = β1·m + (1 − β1)·g takes 3 roundings per term (the f32
 *    constant, the product, the sum): Dm ← (1 + γ3)(β1·Dm + (1 − β1)·δ) + γ3(β1|m| + (1 − β1)|g|).
 *    √v is a weighted 2-norm of the gradients (weights (1 − β2)β2^(t−s)), so by the triangle
 *    inequality |√v(g_GPU) − √v(g)| ≤ √(Σ w_s δ_s²) =: Dv; each term of v is rounded at most
 *    4 + 3(t − s) times, ≤ γ(3t + 1) relative (√ would halve that; not taken, to keep it simple).
 * 3. The update U = s·m/(√v/c + ε), s = lr/(1 − β1^t), c = √(1 − β2^t). With the moments within
 *    Dm and Dv' of the exact ones, |ΔU| ≤ s(Dm·d + |m|·Dv'/c)/(d(d − Dv'/c)), d = √v/c + ε, when
 *    d > Dv'/c. Otherwise (the gradient's sign is not determined) the Cauchy–Schwarz bound on
 *    Adam's step, |m|/√v ≤ (1 − β1)/√(1 − β2)·√(Σ_{j<t}(β1²/β2)^j), bounds both updates. The
 *    update's own arithmetic, counted as WGSL's accuracy allows (√ 3 ULP, ÷ 2.5 ULP; 1 ULP ≤ 2u):
 *    denominator 6 + 1 + 5 + 2 = 14 roundings, s·m/d another 1 + 5 + 1, so γ21 of |U|; and
 *    θ + U is rounded once more, u|θ'|.
 * So E ← (E + ΔU + γ21(|U| + ΔU) + u|θ'|)/(1 − u). Subnormals are ignored: every quantity here is
 * far above 2^-126. To first order this is the sum over steps of each step's error, scaled by
 * Adam's sensitivity to its gradient (1/√v); the problems are chosen so that √v is not small.
 */
function referenceRun(problem: Problem, steps: number, lr: number): ReferenceRun {
  const { spec } = problem;
  const { beta1, beta2, eps } = ADAM_DEFAULTS;
  const shapes = layerShapes(spec);
  const batch = problem.actions.length;
  const positions = spec.conv ? convGeometry(spec.conv).positions : 1;
  const depth = shapes.reduce((k, { inputs, outputs }) => k + inputs + 1 + outputs + 1, 0) + 3 + batch * positions + 1 + 2;
  const forwardDepth = shapes.reduce((k, { inputs }) => k + inputs + 2, 0);
  const gradientGamma = gammaBound(depth);
  const data = { states: problem.states, actions: problem.actions, targets: problem.targets };

  let theta = flattenParameters(toFloat64(problem.network));
  const P = theta.length;
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const Dm = new Float64Array(P);
  const Dv2 = new Float64Array(P);
  const E = new Float64Array(P);
  const losses = { first: 0, last: 0, firstBound: 0, lastBound: 0 };
  let cauchySchwarzSum = 0;

  for (let t = 1; t <= steps; t++) {
    const net = unflattenParameters(spec, theta);
    const activations = forwardActivations(spec, net, problem.states, batch);
    const exact = absoluteStep(spec, absolutePlus(spec, net), problem, activations);
    const perturbed = absoluteStep(spec, absolutePlus(spec, net, E), problem, activations);
    // 1. ReLU decisions and the gradient's error.
    activations.slice(1, -1).forEach((hidden, l) => {
      // The reference's post-ReLU values are the pre-activations where positive; recompute z.
      const z = layerForward(spec, l, net.layers[l], activations[l], batch);
      const features = hidden.length / batch;
      for (let k = 0; k < hidden.length; k++) {
        const zAbs = exact.preActivations[l][k];
        const zAbsPerturbed = perturbed.preActivations[l][k];
        const margin = 2 * gammaBound(forwardDepth) * zAbsPerturbed + (zAbsPerturbed - zAbs);
        if (!(Math.abs(z[k]) > margin))
          throw new Error(
            `Ambiguous ReLU at step ${t}, layer ${l}, row ${Math.floor(k / features)}, unit ${k % features}: ` +
              `|z| = ${Math.abs(z[k])} <= ${margin}; choose another seed`,
          );
      }
    });
    const { loss, grads } = lossAndGradient(spec, net, data);
    const g = flattenParameters(grads);
    const delta = perturbed.gradient.map((a, k) => gradientGamma * a + (a - exact.gradient[k]));

    // The loss the GPU reports for this step, as test/train/mlp-trainer.test.ts bounds it, plus
    // the change of every residual from θ to θ_GPU (|Δq| ≤ q̄(|θ| + E) − q̄(|θ|)).
    let drift = 0;
    const q = activations[activations.length - 1];
    for (let b = 0; b < batch; b++) {
      const k = b * spec.outputs + problem.actions[b];
      const residual = q[k] - problem.targets[b];
      assert.ok(
        3 * Math.abs(residual) >= Math.abs(q[k]) + Math.abs(problem.targets[b]),
        `step ${t}, row ${b}: the residual ${residual} is not far from 0; the problem is too close to stationarity for a tight bound`,
      );
      const dq = perturbed.q[k] - exact.q[k];
      drift += (2 * Math.abs(residual) * dq + dq * dq) / batch;
    }
    const lossBound = gammaBound(shapes.reduce((n, { inputs }) => n + inputs + 1, 0) + batch + 8) * 4 * (loss + 1) + drift;
    if (t === 1) Object.assign(losses, { first: loss, firstBound: lossBound });
    if (t === steps) Object.assign(losses, { last: loss, lastBound: lossBound });

    // 2. and 3. Adam, with the error of every moment and of the update.
    const g3 = gammaBound(3);
    const vRounding = gammaBound(3 * t + 1);
    const stepSize = lr / (1 - beta1 ** t);
    const c = Math.sqrt(1 - beta2 ** t);
    cauchySchwarzSum += ((beta1 * beta1) / beta2) ** (t - 1);
    const adamCap = stepSize * c * ((1 - beta1) / Math.sqrt(1 - beta2)) * Math.sqrt(cauchySchwarzSum) * (1 + gammaBound(3 * t + 21));
    const next = theta.slice();
    for (let k = 0; k < P; k++) {
      Dm[k] = (1 + g3) * (beta1 * Dm[k] + (1 - beta1) * delta[k]) + g3 * (beta1 * Math.abs(m[k]) + (1 - beta1) * Math.abs(g[k]));
      Dv2[k] = beta2 * Dv2[k] + (1 - beta2) * delta[k] * delta[k];
      m[k] = beta1 * m[k] + (1 - beta1) * g[k];
      v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k];
      const rootV = Math.sqrt(v[k]);
      const dRoot = Math.sqrt(Dv2[k]) * (1 + vRounding) + vRounding * rootV;
      const d = rootV / c + eps;
      const update = (stepSize * m[k]) / d;
      const updateError =
        d > dRoot / c ? (stepSize * (Dm[k] * d + Math.abs(m[k]) * (dRoot / c))) / (d * (d - dRoot / c)) : adamCap + Math.abs(update);
      next[k] = theta[k] - update;
      E[k] = (E[k] + updateError + gammaBound(21) * (Math.abs(update) + updateError) + u * Math.abs(next[k])) / (1 - u);
    }
    theta = next;
  }
  return { weights: theta, bound: E, losses };
}

/** "loss before step 1: X, before step K: Y" from the summary. */
function summaryLosses(stdout: string): { first: number; last: number } {
  const match = /loss before step 1: (\S+?)(?:, before step \d+: (\S+))?\n/.exec(stdout);
  assert.ok(match, `no loss line in:\n${stdout}`);
  const first = Number(match[1]);
  return { first, last: match[2] === undefined ? first : Number(match[2]) };
}

/**
 * Runs `staq fit` in process on `problem` and checks it against the reference run; the summary
 * must describe the network as `description` (by default its widths, "4 -> 8 -> 3").
 */
async function checkFit(name: string, problem: Problem, steps: number, lr: number, description?: string) {
  const { net, batch } = await writeProblem(problem, name);
  const out = join(dir, `${name}.out.safetensors`);
  const io = captureIO();
  await fitCommand.run(["--net", net, "--batch", batch, "--steps", String(steps), "--lr", String(lr), "--out", out], io);
  const reference = referenceRun(problem, steps, lr);

  const bytes = new Uint8Array(await readFile(out));
  const written = readNetworkFile(bytes);
  assert.deepEqual(written.spec, problem.spec);
  assert.deepEqual(written.metadata, {
    format: NETWORK_FORMAT,
    loss: "mse",
    steps: String(steps),
    lr: String(lr),
    beta1: "0.9",
    beta2: "0.999",
    eps: "1e-8",
    ...(problem.spec.conv ? { input_shape: problem.spec.conv.inputShape.join(",") } : {}),
  });
  // Same names and shapes as the input, in the same order.
  const shapesOf = (b: Uint8Array) => [...decodeSafetensors(b).tensors].map(([n, t]) => [n, t.shape]);
  assert.deepEqual(shapesOf(bytes), shapesOf(new Uint8Array(await readFile(net))));

  const got = flattenParameters(written.weights);
  const start = flattenParameters(problem.network);
  reference.weights.forEach((expected, k) => {
    const error = Math.abs(got[k] - expected);
    assert.ok(
      error <= reference.bound[k],
      `${name} parameter ${k}: staq ${got[k]}, float64 ${expected}, |diff| ${error} > bound ${reference.bound[k]}`,
    );
  });
  // The bound must be able to fail. A wrong sign, a missing bias correction or a skipped step
  // moves a parameter by about lr; every parameter is checked to a tenth of that, the typical one
  // to a hundredth. (The largest bounds belong to gradients that are sums of terms of both signs:
  // their rounding error is large against the gradient, and Adam divides by the gradient's size.)
  const sorted = Array.from(reference.bound).sort((a, b) => a - b);
  assert.ok(
    sorted[sorted.length - 1] < 0.1 * lr,
    `${name}: the largest bound, ${sorted[sorted.length - 1]}, is not small against lr ${lr}`,
  );
  assert.ok(
    sorted[sorted.length >> 1] < 0.01 * lr,
    `${name}: the median bound, ${sorted[sorted.length >> 1]}, is not small against lr ${lr}`,
  );
  assert.ok(
    got.some((x, k) => Math.abs(x - start[k]) > 0.5 * lr),
    `${name}: no parameter moved`,
  );

  const printed = summaryLosses(io.out());
  // Printed with 7 significant digits: half a unit of the 7th digit more.
  const printing = (x: number) => 5e-7 * Math.abs(x);
  assert.ok(
    Math.abs(printed.first - reference.losses.first) <= reference.losses.firstBound + printing(printed.first),
    `${name} loss before step 1: ${printed.first} vs ${reference.losses.first}`,
  );
  assert.ok(
    Math.abs(printed.last - reference.losses.last) <= reference.losses.lastBound + printing(printed.last),
    `${name} loss before step ${steps}: ${printed.last} vs ${reference.losses.last}`,
  );
  const network = description ?? [problem.spec.inputs, ...problem.spec.hidden, problem.spec.outputs].join(" -> ");
  assert.ok(io.out().startsWith(`network ${network} (`), `the summary does not start with "network ${network} (":\n${io.out()}`);
  assert.match(io.out(), new RegExp(`\\(\\d+ parameters\\), batch ${problem.actions.length}, ${steps} Adam steps? `));
  return { reference };
}

const ONE_HIDDEN: MlpSpec = { inputs: 3, hidden: [8], outputs: 3 };
const TWO_HIDDEN: MlpSpec = { inputs: 4, hidden: [6, 5], outputs: 2 };

test("one step: staq fit's weights are within the derived float32 bound of the float64 Adam step", async () => {
  await checkFit("one-step", randomProblem(ONE_HIDDEN, 12, 101), 1, 1e-3);
  // A large step, so the bound is tested against a parameter change far above rounding.
  await checkFit("one-step-large", randomProblem(TWO_HIDDEN, 9, 211), 1, 0.05);
});

test("ten steps far from stationarity: within the accumulated float32 bound, and the loss goes down", async () => {
  for (const [name, problem] of [
    ["ten-steps-1", randomProblem(ONE_HIDDEN, 16, 307)],
    ["ten-steps-2", randomProblem(TWO_HIDDEN, 16, 401)],
  ] as const) {
    const { reference } = await checkFit(name, problem, 10, 1e-3);
    assert.ok(reference.losses.last < reference.losses.first, `${name}: the loss went down`);
  }
  // Nothing but the outputs is left in the directory (the atomic write's temporary files are gone).
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes(".tmp")),
    [],
  );
});

// A conv first layer (a 5×6×2 image, 5 filters, a 2×3 kernel: 80 conv outputs), as a network file
// stores it: Conv2d's [out, in, kh, kw] weight and "input_shape".
const CONV: MlpSpec = {
  inputs: 60,
  conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 0 },
  hidden: [6],
  outputs: 3,
};

test("a conv network: staq fit's weights are within the derived float32 bound of the float64 Adam step, and the summary shows the conv", async () => {
  // One step: over several, the many conv features (80 per row) make a pre-activation within
  // rounding of 0 ("Ambiguous ReLU") likely. The seeds give gradients that are not mostly
  // cancellation, which checkFit's test that the bound can fail needs (test/cross-check/
  // fit-torch.test.ts runs more steps of a conv network against PyTorch).
  const description = "60 -> conv 5×2×3 (5×6×2 → 5×4×4) -> 6 -> 3";
  await checkFit("conv-one-step-1", randomProblem(CONV, 8, 701), 1, 1e-3, description);
  await checkFit("conv-one-step-2", randomProblem(CONV, 8, 907), 1, 1e-3, description);
});

// ---- bad inputs ----

/** The one line a failing command prints (Dawn's own start-up warnings aside). */
function failureLine(stderr: string): string {
  const lines = ownStderrLines(stderr);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace without STAQ_DEBUG=1");
  return lines[0];
}

test("bad networks, batches and options exit 2 with a message naming the problem", async () => {
  const problem = randomProblem(TWO_HIDDEN, 4, 5);
  const { net, batch } = await writeProblem(problem, "bad");
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(net)));
  const variant = async (name: string, edit: (t: typeof tensors) => void) => {
    const copy = new Map(tensors);
    edit(copy);
    const path = join(dir, `${name}.safetensors`);
    await writeFile(path, encodeSafetensors(copy));
    return path;
  };
  const missingBias = await variant("missing-bias", (t) => t.delete("net.layers.1.bias"));
  const wrongShape = await variant("wrong-shape", (t) => t.set("net.layers.0.bias", { shape: [7], data: new Float32Array(7) }));
  const notChaining = await variant("not-chaining", (t) => t.set("net.layers.1.weight", { shape: [5, 7], data: new Float32Array(35) }));
  // A conv network whose file lost its "input_shape" (as a program writing only the tensors would).
  const conv = await writeProblem(randomProblem(CONV, 2, 13), "bad-conv");
  const convWithoutShape = join(dir, "conv-without-shape.safetensors");
  await writeFile(convWithoutShape, encodeSafetensors(decodeSafetensors(new Uint8Array(await readFile(conv.net))).tensors));
  const text = async (name: string, content: string) => {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  };
  const malformed = await text("malformed.json", '{"obs": [[1, 2, 3, 4]], "actions": [0],');
  const ragged = await text("ragged.json", '{"obs": [[1, 2, 3, 4], [1, 2, 3]], "actions": [0, 1], "targets": [0, 0]}');
  const outOfRange = await text("range.json", '{"obs": [[1, 2, 3, 4], [1, 2, 3, 4]], "actions": [0, 2], "targets": [0, 0]}');
  const nanTarget = await text("nan.json", '{"obs": [[1, 2, 3, 4], [1, 2, 3, 4]], "actions": [0, 1], "targets": [0.5, NaN]}');
  const out = join(dir, "bad-out.safetensors");
  const fit = (netPath: string, batchPath: string, ...extra: string[]) =>
    runStaq(["fit", "--net", netPath, "--batch", batchPath, "--steps", "3", "--lr", "1e-3", "--out", out, ...extra]);

  const cases: [Promise<Awaited<ReturnType<typeof runStaq>>>, RegExp][] = [
    [fit(missingBias, batch), /missing-bias\.safetensors: missing tensor "net\.layers\.1\.bias"/],
    [fit(wrongShape, batch), /wrong-shape\.safetensors: tensor "net\.layers\.0\.bias" has shape \[7\]; expected \[6\]/],
    [
      fit(notChaining, batch),
      /not-chaining\.safetensors: tensor "net\.layers\.1\.weight" has shape \[5, 7\], taking 7 inputs, but "net\.layers\.0\.weight" has 6 outputs; layers must chain, so expected \[5, 6\]/,
    ],
    [
      fit(convWithoutShape, conv.batch),
      /conv-without-shape\.safetensors: __metadata__ has no "input_shape": "net\.layers\.0\.weight" has shape \[5, 2, 2, 3\], a conv layer/,
    ],
    [fit(conv.net, batch), /bad\.json: obs\[0\] has 4 values, but the network takes 60 inputs/],
    [fit(net, malformed), /malformed\.json is not valid JSON/],
    [fit(net, ragged), /ragged\.json: obs\[1\] has 3 values, but the network takes 4 inputs/],
    [fit(net, outOfRange), /range\.json: actions\[1\] is 2; actions are integers in \[0, 2\)/],
    [fit(net, nanTarget), /nan\.json: targets\[1\] is NaN; every value must be a finite number/],
    [
      runStaq(["fit", "--net", net, "--batch", batch, "--steps", "3", "--lr=-0.1", "--out", out]),
      /--lr must be a finite number > 0, e\.g\. 1e-3; got "-0\.1"/,
    ],
    [
      runStaq(["fit", "--net", net, "--batch", batch, "--steps", "3", "--lr", "1e-3", "--out", net]),
      /--out .*bad\.safetensors is the --net file; write the trained network to another file/,
    ],
  ];
  for (const [running, message] of cases) {
    const result = await running;
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(ownStderrLines(result.stderr)[0], new RegExp(`^staq fit: .*${message.source}`));
    // Mistakes in the input files are one line; mistakes on the command line add the usage.
    if (/--lr|--out/.test(message.source)) assert.match(result.stderr, /Usage: staq fit/);
    else failureLine(result.stderr);
  }
  // Nothing was written for any of them.
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith("bad-out")),
    [],
  );
});

test("every option is checked, in process, before a GPU is created", async () => {
  const problem = randomProblem(ONE_HIDDEN, 3, 9);
  const { net, batch } = await writeProblem(problem, "options");
  const out = join(dir, "options-out.safetensors");
  const base = { "--net": net, "--batch": batch, "--steps": "2", "--lr": "0.01", "--out": out };
  /** The base arguments with some changed (undefined: left out), then `extra` as is. */
  const fit = (changes: Record<string, string | undefined>, ...extra: string[]) => {
    const args = Object.entries({ ...base, ...changes }).flatMap(([k, v]) => (v === undefined ? [] : [k, v]));
    return fitCommand.run([...args, ...extra], captureIO());
  };
  const usage = (pattern: RegExp) => (error: unknown) => error instanceof UsageError && pattern.test(error.message);
  await assert.rejects(fit({ "--steps": "0" }), usage(/--steps must be an integer >= 1 .*got "0"/));
  await assert.rejects(fit({ "--steps": "2.5" }), usage(/--steps must be an integer >= 1/));
  await assert.rejects(fit({ "--lr": "0" }), usage(/--lr must be a finite number > 0/));
  await assert.rejects(fit({ "--lr": "fast" }), usage(/--lr must be a finite number > 0.*got "fast"/));
  await assert.rejects(fit({ "--beta1": "1" }), usage(/--beta1 must be a number in \[0, 1\)/));
  await assert.rejects(fit({}, "--beta2=-0.5"), usage(/--beta2 must be a number in \[0, 1\)/));
  await assert.rejects(fit({}, "--eps=-1e-8"), usage(/--eps must be a finite number >= 0/));
  // Values float32 (the GPU's precision) turns into something else are refused, naming the option:
  // --lr 1e-50 became 0 and trained nothing (exit 0); --eps 1e-300 became 0 and a zero gradient
  // gave 0/0, reported as "diverged … try a smaller --lr".
  const outside = (option: string, text: string, fate: string) =>
    usage(
      new RegExp(
        `^--${option} ${text} is outside float32's normal range, \\[1\\.1754944e-38, 3\\.4028235e\\+38\\] in magnitude .*; there it is ${fate}`,
      ),
    );
  await assert.rejects(fit({ "--lr": "1e-50" }), outside("lr", "1e-50", "0"));
  await assert.rejects(fit({}, "--eps", "1e-300"), outside("eps", "1e-300", "0"));
  // Subnormal in float32 (WGSL may flush those to 0), and past float32's largest number.
  await assert.rejects(fit({ "--lr": "1e-40" }), outside("lr", "1e-40", "0"));
  await assert.rejects(fit({ "--lr": "1e39" }), outside("lr", "1e39", "Infinity"));
  await assert.rejects(fit({}, "--eps", "4e38"), outside("eps", "4e38", "Infinity"));
  // A beta that rounds to 1 in float32 (from 1 − 2^-25 ≈ 0.99999997 up): the moment would never decay.
  await assert.rejects(
    fit({}, "--beta2", "0.99999999"),
    usage(/^--beta2 0\.99999999 rounds to 1 in float32 .*; use at most 0\.99999994, the largest float32 below 1/),
  );
  await assert.rejects(fit({}, "--beta1", String(1 - 2 ** -25)), usage(/^--beta1 0\.9999999701976776 rounds to 1 in float32/));
  await assert.rejects(fit({ "--out": undefined }), usage(/fit needs --out OUT\.safetensors/));
  await assert.rejects(fit({ "--out": batch }), usage(/is the --batch file/));
  await assert.rejects(
    fit({ "--out": join(dir, "no-such-dir", "x.safetensors") }),
    (e: unknown) => e instanceof StaqInputError && /no-such-dir.* does not exist; create it first/.test((e as Error).message),
  );
  // Only plain decimals are numbers ("0x10" and "" are not), through the shared parser.
  await assert.rejects(fit({ "--steps": "0x10" }), usage(/--steps must be an integer >= 1 .*got "0x10"/));
  await assert.rejects(fit({ "--steps": "" }), usage(/--steps must be an integer >= 1 .*got ""/));
  await assert.rejects(fit({ "--lr": "0x10" }), usage(/--lr must be a finite number > 0.*got "0x10"/));
  await assert.rejects(fit({ "--lr": "" }), usage(/--lr must be a finite number > 0.*got ""/));
  // An output that is a directory, or another name (a link) for an input.
  await assert.rejects(
    fit({ "--out": dir }),
    (e: unknown) =>
      e instanceof StaqInputError && /--out .* is a directory; give a file name for the trained network/.test((e as Error).message),
  );
  const netLink = join(dir, "options-net-link.safetensors");
  await symlink(net, netLink);
  await assert.rejects(fit({ "--out": netLink }), usage(/--out .*options-net-link\.safetensors is the --net file/));
  // Outputs that would fail only at the write, after the training: each is refused first.
  const refused = (pattern: RegExp) => (e: unknown) => e instanceof StaqInputError && pattern.test((e as Error).message);
  await assert.rejects(fit({ "--out": "" }), refused(/^--out needs a file's path for the trained network; got an empty one/));
  await assert.rejects(
    fit({ "--out": join(dir, `${"n".repeat(300)}.safetensors`) }),
    refused(/^cannot write the trained network to --out .*: the name is too long \(ENAMETOOLONG\)$/),
  );
  // A link is written through (the file it leads to is replaced): its target's directory must exist.
  const dangling = join(dir, "options-dangling.safetensors");
  await symlink(join(dir, "nowhere", "x.safetensors"), dangling);
  await assert.rejects(
    fit({ "--out": dangling }),
    refused(
      /the directory of --out .*options-dangling\.safetensors \(.*nowhere, the target of the link .*\) does not exist; create it first/,
    ),
  );
  await assert.rejects(
    fit({ "--out": join(dir, "out.safetensors") + "/" }),
    refused(/^--out .*out\.safetensors\/ ends in a slash, as a directory's name does; give a file name for the trained network/),
  );
  // A link whose target is not there yet, in a directory that is: the write makes the target.
  const ahead = join(dir, "options-ahead.safetensors");
  await symlink(join(dir, "ahead-target.safetensors"), ahead);
  await checkOutputPath({
    output: { option: "--out", path: ahead },
    what: "the trained network",
    example: "x.safetensors",
    inputs: [],
    command: fitCommand,
  });
  // /proc's files are regular and root may write its directory by the permission bits, but no file can be made there.
  if (process.platform === "linux" && (await stat("/proc").catch(() => undefined))) {
    await assert.rejects(
      fit({ "--out": "/proc/version" }),
      refused(/^cannot write the trained network into \/proc \(the directory of --out \/proc\/version\): no file can be created in it/),
    );
  }
  // Inputs that cannot be read are the user's to fix (exit 2), named with the reason.
  await assert.rejects(
    fit({ "--net": join(dir, "absent.safetensors") }),
    (e: unknown) =>
      e instanceof StaqInputError &&
      /^Could not read the network file .*absent\.safetensors: no such file or directory \(ENOENT\)$/.test((e as Error).message),
  );
  await assert.rejects(
    fit({ "--batch": join(dir, "absent.json") }),
    (e: unknown) =>
      e instanceof StaqInputError &&
      /^Could not read the batch file .*absent\.json: no such file or directory \(ENOENT\)$/.test((e as Error).message),
  );
  await assert.rejects(
    fit({ "--net": dir }),
    (e: unknown) =>
      e instanceof StaqInputError && /^Could not read the network file .*: it is a directory \(EISDIR\)$/.test((e as Error).message),
  );
  // A stack file is not a network file, and says so.
  const stackLike = join(dir, "stack-like.safetensors");
  await writeFile(stackLike, encodeSafetensors({ "stack.coefficients": { shape: [1, 1], data: Float32Array.of(1) } }));
  await assert.rejects(
    fit({ "--net": stackLike }),
    (e: unknown) =>
      e instanceof StaqFormatError && /unexpected tensor "stack\.coefficients".*looks like a stack file/.test((e as Error).message),
  );
});
