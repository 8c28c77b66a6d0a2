// The GPU agent (src/agent/staq-agent.ts) beside StaQ in one file, in float64
// (src/agent/reference-agent.ts), on a tiny CartPole run of two iterations: the same sampled
// actions (so the same transitions, in the same replay rows), the same minibatch rows, the same
// PMD coefficients, and weights within the float32-vs-float64 trajectory bound.
//
// The bound on the weights: ‖θ_gpu(t) − θ_ref(t)‖∞ ≤ 1e-4 · lr · t after t Adam steps, the bound
// test/train/trajectory.test.ts derives and checks for the trainer alone. Why it carries over: an
// Adam step moves each coordinate by lr · m̂/(√v̂ + ε), at most about lr; float32 perturbs each
// step's gradient by a relative 1e-7 … 1e-5 (here its inputs too: the targets come from float32
// target networks and a float32 π_k, themselves within the same bound of the reference's), and
// Adam's normalised step turns that into at most ~1e-5 · lr per step, adding up at most linearly
// while the iterates are far from a stationary point (the first iterations of a run always are:
// Q starts at 0 and the targets are ≥ 1). t is the Adam steps behind each network: K·k for the
// online networks after iteration k and for the snapshot pushed at iteration k, and the step of
// the last hard refresh for the target networks.
//
// Identical actions and a' rely on no uniform draw lying within float32 rounding of a CDF
// boundary (where float32 and float64 may legitimately choose differently); the test checks that
// every draw was at least 1e-4 from one, far above the ~1e-6 by which the GPU's CDF can differ.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { StaQ } from "../../src/node/staq.ts";
import type { IterationMetrics } from "../../src/agent/metrics.ts";
import { ReferenceStaQ, type ReferenceIteration } from "../../src/agent/reference-agent.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { philox4x32, splitU64, STREAM_NEXT_ACTION, uniformFromPhilox } from "../../src/random/philox.ts";
import { layerShapes, type MlpSpec, type MlpWeights } from "../../src/stack/mlp.ts";
import { unpackSnapshot } from "../../src/stack/layout.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { flattenParameters, forwardActivations, toFloat64, unflattenParameters, type MlpWeights64 } from "../../src/train/reference.ts";
import { softBellmanTarget, softBellmanTargetBound } from "../../src/train/targets-reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomStates } from "../helpers/random.ts";

const gpu = await testGpu();

/** The trajectory bound's slope (test/train/trajectory.test.ts): 1e-4 · lr per Adam step. */
const TRAJECTORY_SLOPE = 1e-4;
/** How far from a CDF boundary every draw must be for float32 and float64 to agree on it. */
const DRAW_MARGIN = 1e-4;

/**
 * A replay ring (48) smaller than the two iterations' 64 steps, so the second wraps it; K = 8
 * gradient steps with a hard target refresh every 4, so it happens mid-iteration; clipping on;
 * τ annealing (quick's), so the two iterations use different τ; an ensemble of 2 (quick's).
 */
const TINY = {
  preset: "quick",
  numEnvs: 2,
  stepsPerIteration: 32,
  totalSteps: 64,
  replayCapacity: 48,
  gradientSteps: 8,
  batchSize: 8,
  targetUpdateEvery: 4,
  maxGradNorm: 1,
  memory: 2,
  hidden: [8],
  evalEvery: 0,
};

const flat = (w: MlpWeights) => flattenParameters(toFloat64(w));

function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
  return worst;
}

/** min over draws and inner boundaries of |u − C_a|: how close a draw came to choosing differently. */
function drawMargin(u: number, cdf: ArrayLike<number>): number {
  let margin = Infinity;
  for (let a = 0; a < cdf.length - 1; a++) margin = Math.min(margin, Math.abs(u - cdf[a]));
  return margin;
}

/**
 * |Q_ŵ(s) − Q_w(s)| per output when every weight and bias of ŵ is within β of w's: through a
 * layer, |Ŵx̂ + b̂ − Wx − b| ≤ |W|·e + β·(|x| + e) summed over inputs, plus β; ReLU is 1-Lipschitz.
 */
function perturbationBound(spec: MlpSpec, w: MlpWeights64, state: ArrayLike<number>, beta: number): Float64Array {
  let x = Float64Array.from(state);
  let e = new Float64Array(x.length);
  const shapes = layerShapes(spec);
  for (let l = 0; l < shapes.length; l++) {
    const { inputs, outputs } = shapes[l];
    const { weight, bias } = w.layers[l];
    const y = new Float64Array(outputs);
    const ey = new Float64Array(outputs);
    for (let o = 0; o < outputs; o++) {
      let v = bias[o];
      let err = beta;
      for (let i = 0; i < inputs; i++) {
        v += weight[o * inputs + i] * x[i];
        err += Math.abs(weight[o * inputs + i]) * e[i] + beta * (Math.abs(x[i]) + e[i]);
      }
      y[o] = l < shapes.length - 1 ? Math.max(0, v) : v;
      ey[o] = err;
    }
    x = y;
    e = ey;
  }
  return e;
}

interface Compared {
  actionMargin: number;
  nextActionMargin: number;
  weightRatio: number;
}

/** Everything the two agents must agree on after the same iteration. */
async function compare(agent: StaQ, reference: ReferenceStaQ, record: ReferenceIteration, metrics: IterationMetrics): Promise<Compared> {
  const { config, spec } = reference;
  const { inputs, outputs: A } = spec;
  const lr = config.lr;
  const iteration = record.iteration;

  // The sampled actions: identical, and so the whole replay ring (placement included), since
  // CartPole's steps depend only on the actions.
  const stored = await agent.replay.read();
  const ring = reference.replay;
  assert.equal(stored.next, ring.next, "the ring's write position");
  assert.equal(stored.actions.length, ring.size);
  assert.deepEqual(
    Array.from(stored.actions),
    Array.from(ring.actions.subarray(0, ring.size)),
    "the sampled actions (replay rows in storage order)",
  );
  assert.deepEqual(stored.obs, ring.obs.subarray(0, ring.size * inputs), "observations");
  assert.deepEqual(stored.nextObs, ring.nextObs.subarray(0, ring.size * inputs), "next observations");
  assert.deepEqual(
    Array.from(stored.rewards),
    Array.from(ring.rewards.subarray(0, ring.size)),
    "rewards (CartPole's 1s are exact in float32)",
  );
  assert.deepEqual(Array.from(stored.terminated), Array.from(ring.terminated.subarray(0, ring.size)), "terminated");
  // This iteration's own draws, in step order, where the ring put them (it may have wrapped).
  const collected = record.transitions.actions;
  const start = (stored.next - collected.length + ring.capacity) % ring.capacity;
  assert.deepEqual(
    Array.from(collected, (_, r) => stored.actions[(start + r) % ring.capacity]),
    Array.from(collected),
    "this iteration's sampled actions",
  );
  let actionMargin = Infinity;
  record.actionDraws.u.forEach(
    (u, row) => (actionMargin = Math.min(actionMargin, drawMargin(u, record.actionDraws.cdf.subarray(row * A, (row + 1) * A)))),
  );
  assert.ok(actionMargin >= DRAW_MARGIN, `an action draw came within ${actionMargin} of a CDF boundary; pick another seed`);

  // The minibatch rows: the soft Q fit reads back the last gradient step's gathered minibatch
  // (CartPole's states are all distinct, so equal states mean equal rows). The GPU keeps no record
  // of earlier steps' rows; they show in the weights instead (one step trained on other rows puts
  // them thousands of times past the bound below).
  const last = record.gradientSteps.at(-1)!;
  const lastStep = await agent.softQFit.readLastStep();
  const { states, nextStates, actions } = lastStep;
  const gather = (source: Float32Array) =>
    Float32Array.from(Array.from(last.rows, (i) => Array.from(source.subarray(i * inputs, (i + 1) * inputs))).flat());
  assert.deepEqual(states, gather(ring.obs), `the minibatch rows of gradient step ${last.step}: ${Array.from(last.rows)}`);
  assert.deepEqual(nextStates, gather(ring.nextObs), "the minibatch's next states");
  assert.deepEqual(
    Array.from(actions),
    Array.from(last.rows, (i) => ring.actions[i]),
    "the minibatch's actions",
  );
  assert.equal(new Set(last.rows).size, config.batchSize, "rows are drawn without replacement");

  // The a' draws (sampled mode): none near a boundary of π_k's CDF, so float32 and float64 agree
  // on every one.
  const [seedLo, seedHi] = splitU64(BigInt(config.seed) | (1n << 32n));
  let nextActionMargin = Infinity;
  for (const step of config.nextAction === "sample" ? record.gradientSteps : []) {
    step.rows.forEach((i, b) => {
      const u = uniformFromPhilox(philox4x32([b, ...splitU64(step.step), STREAM_NEXT_ACTION], [seedLo, seedHi])[0]);
      let cdf = 0;
      const cumulative = Array.from(ring.probs.subarray(i * A, (i + 1) * A), (p) => (cdf += p));
      nextActionMargin = Math.min(nextActionMargin, drawMargin(u, cumulative));
    });
  }
  assert.ok(nextActionMargin >= DRAW_MARGIN, `an a' draw came within ${nextActionMargin} of a CDF boundary; pick another seed`);

  // The last step's targets, which show the a' the GPU drew (its Q̄ differ between actions once
  // the target networks were refreshed from trained ones). y* is the float64 target of the GPU's
  // own inputs (its π_k and H read from the replay buffer, its target networks' Q̄ from the
  // trainer's head activations): the kernel is within softBellmanTargetBound of it, and y* differs
  // from the reference's target only through those inputs, by at most
  //   γ(1 − t)·(max_a |ΔQ̄(a)| + Σ_a |Δπ_k(a)|·max_a |Q̄(a)| + τ|ΔH|)
  // when both drew the same a'. A different a' would add γ|Q̄(a') − Q̄(a'')|, far more here.
  const E = config.ensemble;
  const layout = agent.trainer.layout;
  const padded = layout.layers.at(-1)!.paddedOutputs;
  const gpuTargets = lastStep.targets;
  const [gpuProbs, gpuEntropy] = await Promise.all([
    readFloat32(gpu, agent.replay.buffers.probs),
    readFloat32(gpu, agent.replay.buffers.entropy),
  ]);
  const refQ = reference.target.map((p) =>
    forwardActivations(spec, unflattenParameters(spec, p), gather(ring.nextObs), config.batchSize).at(-1)!,
  );
  const settings = { rewardScale: config.rewardScale, gamma: config.gamma, tau: record.tau, nextAction: config.nextAction };
  // The kernel reads its scalars from a float32 uniform.
  const f32Settings = {
    ...settings,
    rewardScale: Math.fround(settings.rewardScale),
    gamma: Math.fround(settings.gamma),
    tau: Math.fround(settings.tau),
  };
  const lastU = (b: number) => uniformFromPhilox(philox4x32([b, ...splitU64(last.step), STREAM_NEXT_ACTION], [seedLo, seedHi])[0]);
  last.rows.forEach((i, b) => {
    const gpuQ = Array.from({ length: E }, (_, e) => lastStep.targetQ[e].subarray(b * padded, b * padded + A));
    const row = {
      reward: stored.rewards[i],
      terminated: stored.terminated[i] === 1,
      probs: gpuProbs.subarray(i * A, (i + 1) * A),
      entropy: gpuEntropy[i],
      targetQ: gpuQ,
      u: lastU(b),
    };
    const kernelBound = softBellmanTargetBound(row, f32Settings);
    assert.ok(Math.abs(gpuTargets[b] - softBellmanTarget(row, f32Settings)) <= kernelBound, `GPU target of batch row ${b}`);
    const mean = (qs: ArrayLike<number>[], a: number) => qs.reduce((sum, q) => sum + q[a], 0) / E;
    let qDifference = 0;
    let qLargest = 0;
    let probsDifference = 0;
    for (let a = 0; a < A; a++) {
      qDifference = Math.max(
        qDifference,
        Math.abs(
          mean(gpuQ, a) -
            mean(
              refQ.map((q) => q.subarray(b * A, (b + 1) * A)),
              a,
            ),
        ),
      );
      qLargest = Math.max(qLargest, Math.abs(mean(gpuQ, a)));
      probsDifference += Math.abs(gpuProbs[i * A + a] - ring.probs[i * A + a]);
    }
    const carried = row.terminated
      ? 0
      : config.gamma * (qDifference + probsDifference * qLargest + record.tau * Math.abs(gpuEntropy[i] - ring.entropy[i]));
    const bound = kernelBound + carried + 1e-12 * Math.abs(last.targets[b]);
    const got = gpuTargets[b];
    assert.ok(
      Math.abs(got - last.targets[b]) <= bound,
      `target of batch row ${b} (replay row ${i}) at gradient step ${last.step}: GPU ${got}, reference ${last.targets[b]} ± ${bound}`,
    );
  });

  // The trainer: online and target networks within the trajectory bound of their Adam steps.
  const state = await agent.trainer.exportState();
  assert.equal(state.adamSteps, reference.adam[0].step);
  assert.equal(reference.gradientSteps, config.gradientSteps * iteration);
  const member = (packed: Float32Array, e: number) =>
    flat(unpackSnapshot(layout, packed.subarray(e * layout.vec4s * 4, (e + 1) * layout.vec4s * 4)));
  const refreshedAt = record.gradientSteps.filter((s) => s.refreshedTargets).at(-1)!.step;
  let weightRatio = 0;
  const within = (got: ArrayLike<number>, expected: ArrayLike<number>, t: number, what: string) => {
    const worst = largestDifference(got, expected);
    const bound = TRAJECTORY_SLOPE * lr * t;
    assert.ok(
      worst <= bound,
      `${what} (${t} Adam steps): the GPU's differ from the reference's by ${worst.toExponential(3)} > ${bound.toExponential(3)}`,
    );
    if (t > 0) weightRatio = Math.max(weightRatio, worst / bound);
  };
  for (let e = 0; e < config.ensemble; e++) {
    within(member(state.params, e), reference.online[e], state.adamSteps, `online network ${e}`);
    within(member(state.targetParams!, e), reference.target[e], refreshedAt, `target network ${e}`);
  }

  // The stack: the same PMD coefficients (both are pmdStep in float64 with the same τ), and each
  // snapshot within the bound of the steps behind it.
  assert.equal(agent.stack.size, reference.stack.snapshots[0].length);
  assert.deepEqual(agent.stack.coefficients, reference.stack.coefficients, "PMD coefficients");
  assert.equal(agent.stack.correction, reference.stack.correction);
  const snapshots = await agent.stack.readSnapshots();
  const kept = reference.stack.snapshots[0].length;
  const stepsBehind = (i: number) => config.gradientSteps * (iteration - kept + 1 + i);
  for (let e = 0; e < config.ensemble; e++) {
    snapshots[e].forEach((w, i) =>
      within(flat(w), flattenParameters(reference.stack.snapshots[e][i]), stepsBehind(i), `snapshot ${i} of member ${e}`),
    );
  }

  // The logits: the GPU's within its float32 evaluation bound (stack/reference.ts) of the float64
  // logits of its own snapshots, and those within the weights' perturbation bound of the reference's.
  const probe = randomStates(6, inputs, 100 + iteration, 0.5);
  const gpuLogits = await stackLogits(agent.stack, probe);
  const ofGpuSnapshots = stackLogitsReference({ ...reference.stackContents(), snapshots }, probe, 6);
  const referenceLogits = reference.logits(probe);
  const contents = reference.stackContents();
  for (let b = 0; b < 6; b++) {
    const probeState = probe.subarray(b * inputs, (b + 1) * inputs);
    const carried = new Float64Array(A);
    for (let e = 0; e < config.ensemble; e++) {
      reference.stack.snapshots[e].forEach((w, i) => {
        const weight = Math.abs(contents.correction * contents.coefficients[e][i]) / config.ensemble;
        const q = perturbationBound(spec, w, probeState, TRAJECTORY_SLOPE * lr * stepsBehind(i));
        for (let a = 0; a < A; a++) carried[a] += weight * q[a];
      });
    }
    for (let a = 0; a < A; a++) {
      const k = b * A + a;
      const bound = ofGpuSnapshots.bound[k] + carried[a];
      assert.ok(
        Math.abs(gpuLogits[k] - referenceLogits[k]) <= bound,
        `logit ${a} of probe state ${b}: GPU ${gpuLogits[k]}, reference ${referenceLogits[k]} ± ${bound}`,
      );
    }
  }

  // The reported losses: the mean over members of each member's mean over the K steps; the losses
  // of networks this close differ by far less than 1e-3 relative (as in trajectory.test.ts).
  const steps = record.gradientSteps;
  const tdLoss = steps.reduce((s, g) => s + g.loss.reduce((x, y) => x + y, 0), 0) / (steps.length * config.ensemble);
  assert.ok(
    Math.abs(metrics["losses/td_loss"]! - tdLoss) <= 1e-3 * tdLoss,
    `td loss: GPU ${metrics["losses/td_loss"]}, reference ${tdLoss}`,
  );
  assert.equal(metrics["charts/tau"], record.tau);
  assert.equal(metrics["charts/episodes"], record.episodeReturns.length);
  return { actionMargin, nextActionMargin, weightRatio };
}

async function sideBySide(t: TestContext, overrides: Record<string, unknown>, iterations = 2): Promise<void> {
  const options = { ...TINY, ...overrides };
  const agent = await StaQ.create({ env: "CartPole-v1", gpu, ...options });
  const reference = new ReferenceStaQ({ env: "CartPole-v1", ...options });
  assert.deepEqual(reference.config, { ...agent.config });
  try {
    for (let k = 1; k <= iterations; k++) {
      let metrics: IterationMetrics | undefined;
      await agent.learn({ steps: options.stepsPerIteration, onIteration: (m) => void (metrics = m) });
      const record = reference.iterate();
      assert.equal(agent.globalStep, reference.globalStep);
      const result = await compare(agent, reference, record, metrics!);
      t.diagnostic(
        `iteration ${k}: closest action draw ${result.actionMargin.toExponential(2)}, closest a' draw ${Number.isFinite(result.nextActionMargin) ? result.nextActionMargin.toExponential(2) : "(none drawn)"} from a CDF boundary; ` +
          `largest weight difference ${(100 * result.weightRatio).toFixed(2)} % of the trajectory bound`,
      );
    }
  } finally {
    agent.destroy();
  }
}

test("two iterations beside the GPU agent: same actions, replay rows and minibatches; weights within the trajectory bound (sampled a', MSE, E = 2)", async (t) => {
  await sideBySide(t, { seed: 3 });
});

test("the same with the expected a', the Huber loss, one network and the vanilla stack", async (t) => {
  await sideBySide(t, { seed: 4, nextAction: "expectation", loss: "huber", ensemble: 1, variant: "vanilla" });
});

test("the authors' stack rule while τ anneals: M = 1 keeps two snapshots, both weighted by the current α (three iterations)", async (t) => {
  await sideBySide(t, { seed: 5, memory: 1, stackRule: "authors", tauStart: 1, tauEnd: 0.2, tauAnnealSteps: 96, totalSteps: 96 }, 3);
});
