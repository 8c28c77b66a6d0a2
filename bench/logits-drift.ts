/**
 * Drift of the replay buffer's incremental logits (docs/algorithm.md, “Incremental logits”): each
 * push updates the stored rows' raw sums S ← fl(β)·(S − D̂) + N̂ instead of re-evaluating the stack,
 * and float32 rounding makes S wander from a full recompute. This measures how far, to choose
 * `fullPrecomputeEvery` from numbers rather than from the proof alone.
 *
 * 1. Training run: the `quick` preset on CartPole-v1 (2×64, E = 2, M = 30, a 20k replay buffer,
 *    1000 steps per iteration: a row lives 20 iterations) with `fullPrecomputeEvery: 0`. After every
 *    iteration (after its push, when the sums follow the new stack) ξ_inc = correction · S of every
 *    stored row (float64 product of the f32 sums) is compared with a full float32 evaluation
 *    ξ_full = stackLogits(stack, nextObs), and on up to 96 rows (the 32 where the two differ most,
 *    64 spread over the ring) both with the float64 reference ξ_ref and its float32 error bound.
 * 2. Worst case, no row turnover: 2048 random next states added once and never overwritten, a
 *    stack (2×64, E = 2, M = 30, η = 20) fed K fresh random snapshots through `followPush` and
 *    `precomputePolicy`; every K/24 pushes the replay's logits buffer (what the trainer reads) is
 *    compared with `stackLogits` and, on every row, with the reference. τ falls linearly from 2/ln 2
 *    to 0.4/ln 2 over the first 25% of the pushes and stays there: β = η/(η + τ) rises with the
 *    annealing (0.87 → 0.97), and the steady drift, ~ per-push error / (1 − β), with it. In the
 *    second half of the pushes only accumulation could make the drift grow: it is judged there, by
 *    the exponent p of drift ∝ K^p (level: p ≤ 0.2; a random walk gives 1/2) and by the last
 *    quarter's mean drift over the third quarter's. The statistic is the rms over all rows of
 *    |ξ_inc − ξ_full| ÷ the reference's float32 bound: the bound scales with Σ|c·Q|, the magnitudes
 *    the recurrence rounds, while max|ξ| jumps with the random snapshots stored (their sum cancels)
 *    and the max over rows moves in whole ulps.
 *
 * Prints both tables and a conclusion computed from them; writes DIR/logits-drift-<adapter>.json
 * and .md.
 *
 *   npx tsx bench/logits-drift.ts             (40 iterations, 300 pushes: ~6.5 minutes on lavapipe)
 *   npx tsx bench/logits-drift.ts --quick     (8 iterations, 120 pushes: ~2 minutes)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGpu } from "../src/node/create-gpu.ts";
import { StaQ } from "../src/node/staq.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { readFloat32 } from "../src/gpu/readback.ts";
import type { MlpSpec } from "../src/stack/mlp.ts";
import { pmdRates } from "../src/pmd/coefficients.ts";
import { stackLogitsReference } from "../src/stack/reference.ts";
import { createStack, type Stack } from "../src/stack/stack.ts";
import { stackLogits } from "../src/stack/stack-logits.ts";
import { createReplayBuffer } from "../src/train/replay-buffer.ts";
import { randomSnapshots, randomStates } from "../test/helpers/random.ts";
import { parseProgramArgs, positiveIntegerOption, prepareOutputFolder } from "./arguments.ts";
import { adapterSlug, machineInfo, markdownTable, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: npx tsx bench/logits-drift.ts [--quick] [--iterations N] [--pushes K] [--out DIR]
  --quick          fewer iterations and pushes (8 and 120)
  --iterations N   iterations of the training run (default 40; a row lives 20)
  --pushes K       pushes of the worst case without row turnover (default 300)
  --out DIR        where to write logits-drift-<adapter>.json and .md (default bench/results)
How far the replay buffer's incremental logits (S ← β(S − D) + N per push) drift from a full float32
evaluation of the stack: in a training run (quick preset, CartPole-v1, fullPrecomputeEvery 0) and
in a worst case where 2048 rows see every push. Ends with a conclusion computed from the numbers.`;

const { values: args } = parseProgramArgs(
  {
    options: {
      quick: { type: "boolean", default: false },
      iterations: { type: "string" },
      pushes: { type: "string" },
      out: { type: "string", default: join(here, "results") },
      help: { type: "boolean", default: false },
    },
  },
  USAGE,
);

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const ITERATIONS = args.iterations === undefined ? (args.quick ? 8 : 40) : positiveIntegerOption(args.iterations, "--iterations");
const PUSHES = args.pushes === undefined ? (args.quick ? 120 : 300) : positiveIntegerOption(args.pushes, "--pushes");
// Made and tried now: a folder that cannot take the results would otherwise fail after the run.
await prepareOutputFolder(args.out);
/** Rows compared with the float64 reference: the WORST_ROWS where ξ_inc and ξ_full differ most, and SPREAD_ROWS spread over the buffer (all rows in the worst case). */
const WORST_ROWS = 32;
const SPREAD_ROWS = 64;
/** Comparisons of the worst case: one every CHECK_EVERY pushes. */
const CHECK_EVERY = Math.max(1, Math.floor(PUSHES / 24));
const WORST = {
  spec: { inputs: 4, hidden: [64, 64], outputs: 2 } satisfies MlpSpec,
  ensemble: 2,
  memory: 30,
  rows: 2048,
  eta: 20,
  /** τ·ln|A| at the start and after the annealing (the paper's classic-control schedule). */
  tauStart: 2.0,
  tauEnd: 0.4,
  /** Fraction of the pushes over which τ is annealed; constant after. */
  annealFraction: 0.25,
};
/**
 * The worst case's drift levels off when its rms grows as K^p with p at most this over the second
 * half of the pushes (a random walk of rounding errors would give 1/2, steady accumulation 1).
 */
const MAX_LEVEL_EXPONENT = 0.2;
/** With too few comparisons for the exponent: the largest ratio of last to third quarter called level. */
const GROWTH_TOLERANCE = 1.15;

/** What one comparison of incremental and full logits found. */
interface DriftRow {
  /** Iteration (training) or pushes so far (worst case). */
  step: number;
  tau: number;
  beta: number;
  rows: number;
  maxXi: number;
  /** max |ξ_inc − ξ_full|. */
  drift: number;
  /** drift / max|ξ_full|. */
  relative: number;
  /** drift in units in the last place of max|ξ_full|. */
  ulps: number;
  /** rms over rows and actions of ξ_inc − ξ_full, over the rms of ξ_full: the typical drift, far less noisy than the max. */
  rmsRelative: number;
  /**
   * rms over the spread rows' logits of |ξ_inc − ξ_full| ÷ the reference's float32 bound for that
   * logit. The bound scales with Σ |c·Q|, the magnitudes the recurrence rounds, so this does not
   * move with the snapshots that happen to be stored: the statistic the growth is judged by.
   */
  rmsOverBound: number;
  /** Rows compared with the reference. */
  referenceRows: number;
  /** On the sample: max over logits of |ξ_inc − ξ_ref| / bound, and the same for ξ_full. */
  incVsBound: number;
  fullVsBound: number;
  /** On the sample: max |ξ_inc − ξ_ref| and max |ξ_full − ξ_ref|. */
  incVsRef: number;
  fullVsRef: number;
  /** Rows whose greedy action differs between ξ_inc and ξ_full. */
  greedyDiffer: number;
  /** Over those rows, the largest ξ_full(its greedy action) − ξ_full(ξ_inc's): how near a tie they were (0 if none). */
  greedyGap: number;
  /** max over rows and actions of |softmax(ξ_inc) − softmax(ξ_full)|. */
  maxDeltaPi: number;
  seconds: number;
}

function ulpOf(x: number): number {
  return x > 0 ? 2 ** (Math.floor(Math.log2(x)) - 23) : 2 ** -149;
}

function argmax(values: ArrayLike<number>, from: number, count: number): number {
  let best = 0;
  for (let a = 1; a < count; a++) if (values[from + a] > values[from + best]) best = a;
  return best;
}

/** Largest |softmax(x) − softmax(y)| over the actions of one row, in float64. */
function probabilityGap(x: ArrayLike<number>, y: ArrayLike<number>, from: number, count: number): number {
  const softmax = (v: ArrayLike<number>) => {
    let top = -Infinity;
    for (let a = 0; a < count; a++) top = Math.max(top, v[from + a]);
    const p = Array.from({ length: count }, (_, a) => Math.exp(v[from + a] - top));
    const sum = p.reduce((s, q) => s + q, 0);
    return p.map((q) => q / sum);
  };
  const p = softmax(x);
  const q = softmax(y);
  return Math.max(...p.map((value, a) => Math.abs(value - q[a])));
}

/**
 * Compares incremental logits with a full evaluation over all rows, and both with the float64
 * reference of `stack` on a sample: `spread` rows spread over the buffer and the WORST_ROWS where
 * the two differ most.
 */
async function compare(
  stack: Stack,
  states: Float32Array,
  inc: ArrayLike<number>,
  full: Float32Array,
  rows: number,
  spread: number,
): Promise<Omit<DriftRow, "step" | "tau" | "beta" | "seconds">> {
  const actions = stack.spec.outputs;
  const inputs = stack.spec.inputs;
  let drift = 0;
  let maxXi = 0;
  let greedyDiffer = 0;
  let greedyGap = 0;
  let maxDeltaPi = 0;
  let squaredDrift = 0;
  let squaredXi = 0;
  const rowDrift = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < actions; a++) {
      const j = r * actions + a;
      rowDrift[r] = Math.max(rowDrift[r], Math.abs(inc[j] - full[j]));
      maxXi = Math.max(maxXi, Math.abs(full[j]));
      squaredDrift += (inc[j] - full[j]) ** 2;
      squaredXi += full[j] ** 2;
    }
    drift = Math.max(drift, rowDrift[r]);
    const incBest = argmax(inc, r * actions, actions);
    const fullBest = argmax(full, r * actions, actions);
    if (incBest !== fullBest) {
      greedyDiffer++;
      greedyGap = Math.max(greedyGap, full[r * actions + fullBest] - full[r * actions + incBest]);
    }
    maxDeltaPi = Math.max(maxDeltaPi, probabilityGap(inc, full, r * actions, actions));
  }

  const spreadCount = Math.min(rows, spread);
  const spreadRows = new Set(Array.from({ length: spreadCount }, (_, k) => Math.floor((k * rows) / spreadCount)));
  const worst = Array.from({ length: rows }, (_, r) => r)
    .sort((p, q) => rowDrift[q] - rowDrift[p])
    .slice(0, WORST_ROWS);
  const sample = [...new Set([...spreadRows, ...worst])];
  const sampleStates = new Float32Array(sample.length * inputs);
  sample.forEach((r, k) => sampleStates.set(states.subarray(r * inputs, (r + 1) * inputs), k * inputs));
  const snapshots = await stack.readSnapshots();
  const reference = stackLogitsReference(
    { spec: stack.spec, snapshots, coefficients: stack.coefficients, correction: stack.correction },
    sampleStates,
    sample.length,
  );
  let incVsBound = 0;
  let fullVsBound = 0;
  let incVsRef = 0;
  let fullVsRef = 0;
  let squaredOverBound = 0;
  sample.forEach((r, k) => {
    for (let a = 0; a < actions; a++) {
      const exact = reference.logits[k * actions + a];
      const bound = reference.bound[k * actions + a];
      const incError = Math.abs(inc[r * actions + a] - exact);
      const fullError = Math.abs(full[r * actions + a] - exact);
      if (spreadRows.has(r)) squaredOverBound += ((inc[r * actions + a] - full[r * actions + a]) / bound) ** 2;
      incVsRef = Math.max(incVsRef, incError);
      fullVsRef = Math.max(fullVsRef, fullError);
      incVsBound = Math.max(incVsBound, incError / bound);
      fullVsBound = Math.max(fullVsBound, fullError / bound);
    }
  });
  return {
    rows,
    maxXi,
    drift,
    relative: maxXi > 0 ? drift / maxXi : 0,
    ulps: drift / ulpOf(maxXi),
    rmsRelative: squaredXi > 0 ? Math.sqrt(squaredDrift / squaredXi) : 0,
    rmsOverBound: Math.sqrt(squaredOverBound / (spreadRows.size * actions)),
    referenceRows: sample.length,
    incVsBound,
    fullVsBound,
    incVsRef,
    fullVsRef,
    greedyDiffer,
    greedyGap,
    maxDeltaPi,
  };
}

const e = (x: number, digits = 2) => (x === 0 ? "0" : x.toExponential(digits));
const percent = (count: number, rows: number) => (count === 0 ? "0" : `${((100 * count) / rows).toPrecision(2)}% (${count})`);

function driftTable(rows: DriftRow[], stepName: string): string {
  return markdownTable(
    [
      stepName,
      "τ·ln2",
      "β",
      "rows",
      "max\\|ξ_full\\|",
      "max\\|ξ_inc − ξ_full\\|",
      "÷ max\\|ξ\\|",
      "ulps",
      "rms ÷ rms ξ",
      "rms drift ÷ bound",
      "inc vs ref ÷ bound",
      "full vs ref ÷ bound",
      "greedy differs",
      "max\\|Δπ\\|",
    ],
    rows.map((r) => [
      String(r.step),
      (r.tau * Math.LN2).toFixed(3),
      r.beta.toFixed(4),
      String(r.rows),
      e(r.maxXi, 3),
      e(r.drift),
      e(r.relative),
      r.ulps.toFixed(1),
      e(r.rmsRelative),
      e(r.rmsOverBound),
      r.incVsBound.toPrecision(2),
      r.fullVsBound.toPrecision(2),
      percent(r.greedyDiffer, r.rows),
      e(r.maxDeltaPi),
    ]),
  );
}

function progress(label: string, r: DriftRow): void {
  console.log(
    `${label} ${String(r.step).padStart(4)}: max|ξ| ${e(r.maxXi, 3)}  drift ${e(r.drift)} (${e(r.relative)} of max|ξ|, ${r.ulps.toFixed(1)} ulps; rms ${e(r.rmsRelative)}, ${e(r.rmsOverBound)} of bound)  ` +
      `vs bound: inc ${r.incVsBound.toPrecision(2)} full ${r.fullVsBound.toPrecision(2)}  greedy differs ${percent(r.greedyDiffer, r.rows)}  max|Δπ| ${e(r.maxDeltaPi)}  (${r.seconds.toFixed(1)} s)`,
  );
}

/** Measurement 1: the quick preset on CartPole-v1, never a full recompute. */
async function trainingRun(gpu: Gpu): Promise<{ rows: DriftRow[]; config: Record<string, unknown>; seconds: number }> {
  const started = performance.now();
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, fullPrecomputeEvery: 0, evalEvery: 0 });
  const { config } = agent;
  const rows: DriftRow[] = [];
  try {
    await agent.learn({
      steps: ITERATIONS * config.stepsPerIteration,
      onIteration: async (metrics) => {
        const measured = performance.now();
        const { replay, stack } = agent;
        // After the push: every row's sums follow the new stack, so `read` returns them with the next states.
        const contents = await replay.read();
        const size = replay.size;
        const sums = contents.sums ?? (await replay.readSums(Array.from({ length: size }, (_, r) => r)));
        const correction = stack.correction;
        const inc = Float64Array.from(sums, (s) => correction * s);
        const full = await stackLogits(stack, contents.nextObs);
        const tau = metrics["charts/tau"];
        const row: DriftRow = {
          step: metrics.iteration,
          tau,
          beta: pmdRates(stack.pmd.eta, tau).beta,
          ...(await compare(stack, contents.nextObs, inc, full, size, SPREAD_ROWS)),
          seconds: (performance.now() - measured) / 1000,
        };
        rows.push(row);
        progress("iteration", row);
      },
    });
  } finally {
    agent.destroy();
  }
  return {
    rows,
    config: {
      env: "CartPole-v1",
      preset: "quick",
      iterations: ITERATIONS,
      fullPrecomputeEvery: 0,
      evalEvery: 0,
      hidden: config.hidden,
      ensemble: config.ensemble,
      memory: config.memory,
      replayCapacity: config.replayCapacity,
      stepsPerIteration: config.stepsPerIteration,
      eta: config.eta,
      tauStart: config.tauStart,
      tauEnd: config.tauEnd,
      tauAnnealSteps: config.tauAnnealSteps,
    },
    seconds: (performance.now() - started) / 1000,
  };
}

/** The push after which τ stays at its final value. */
function annealPushes(): number {
  return Math.max(1, Math.round(WORST.annealFraction * PUSHES));
}

/** τ of push k (1-based) of the worst case. */
function worstTau(k: number): number {
  const anneal = annealPushes();
  const progress = Math.min(1, (k - 1) / Math.max(1, anneal - 1));
  return (WORST.tauStart + (WORST.tauEnd - WORST.tauStart) * progress) / Math.LN2;
}

/** Measurement 2: rows that see every push, never overwritten. */
async function worstCase(gpu: Gpu): Promise<{ rows: DriftRow[]; config: Record<string, unknown>; seconds: number }> {
  const started = performance.now();
  const { spec, ensemble, memory, eta } = WORST;
  const stack = createStack(gpu, { mlp: spec, memory, ensemble, eta, tau: worstTau(1), variant: "corrected" });
  const replay = createReplayBuffer(gpu, { capacity: WORST.rows, inputs: spec.inputs, actions: spec.outputs });
  const rows: DriftRow[] = [];
  try {
    const states = randomStates(WORST.rows, spec.inputs, 7);
    replay.add({
      obs: states,
      nextObs: states,
      actions: new Array(WORST.rows).fill(0),
      rewards: new Array(WORST.rows).fill(0),
      terminated: new Array(WORST.rows).fill(false),
    });
    // The empty stack's (full) precompute makes the sums current; from then on every push is followed.
    await replay.precomputePolicy(stack);
    for (let k = 1; k <= PUSHES; k++) {
      const tau = worstTau(k);
      // Fresh random snapshots, heads included (randomMlpWeights draws every layer).
      const snapshots = randomSnapshots(spec, ensemble, 1000 + k);
      await replay.followPush(stack, tau, () => stack.push(snapshots, { tau }));
      await replay.precomputePolicy(stack);
      if (k % CHECK_EVERY !== 0 && k !== PUSHES) continue;
      const measured = performance.now();
      const inc = await readFloat32(gpu, replay.buffers.logits, 0, WORST.rows * spec.outputs);
      const full = await stackLogits(stack, states);
      const row: DriftRow = {
        step: k,
        tau,
        beta: pmdRates(eta, tau).beta,
        ...(await compare(stack, states, inc, full, WORST.rows, WORST.rows)),
        seconds: (performance.now() - measured) / 1000,
      };
      rows.push(row);
      progress("pushes", row);
    }
  } finally {
    replay.destroy();
    stack.destroy();
  }
  return {
    rows,
    config: { ...WORST, pushes: PUSHES, checkEvery: CHECK_EVERY, snapshots: "test/helpers/random.ts randomSnapshots (scale 2)" },
    seconds: (performance.now() - started) / 1000,
  };
}

/** The largest of `pick` over the rows in quarter `q` (0–3) of `rows`, by position. */
function quarterMax(rows: DriftRow[], q: number, pick: (r: DriftRow) => number): number {
  const n = rows.length;
  const part = rows.filter((_, i) => Math.min(3, Math.floor((4 * i) / n)) === q);
  return part.length ? Math.max(...part.map(pick)) : NaN;
}

/** The mean of `pick` over the rows in quarter `q` (0–3) of `rows`, by position. */
function quarterMean(rows: DriftRow[], q: number, pick: (r: DriftRow) => number): number {
  const n = rows.length;
  const part = rows.filter((_, i) => Math.min(3, Math.floor((4 * i) / n)) === q);
  return part.length ? part.reduce((sum, r) => sum + pick(r), 0) / part.length : NaN;
}

const maxOf = (rows: DriftRow[], pick: (r: DriftRow) => number) => Math.max(...rows.map(pick));
const overBound = (r: DriftRow) => r.rmsOverBound;

/**
 * p of drift ∝ K^p, least squares of ln(rms drift ÷ bound) on ln(K) over the comparisons made after
 * `from` pushes: 0 when the drift levels off, 1/2 for a random walk of rounding errors, 1 for a
 * steady accumulation. NaN with fewer than three comparisons.
 */
function growthExponent(rows: DriftRow[], from: number): number {
  const points = rows.filter((r) => r.step >= from && r.rmsOverBound > 0).map((r) => [Math.log(r.step), Math.log(r.rmsOverBound)]);
  if (points.length < 3) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / points.length;
  const my = points.reduce((s, [, y]) => s + y, 0) / points.length;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

interface DriftSummary {
  maxDrift: number;
  maxRelative: number;
  maxUlps: number;
  maxRmsRelative: number;
  /** On the samples, the largest |ξ_inc − ξ_ref| ÷ bound, and the same for ξ_full. */
  incVsBound: number;
  fullVsBound: number;
  /** max |ξ_inc − ξ_ref| over max |ξ_full − ξ_ref| on the samples. */
  incOverFullError: number;
  greedyDifferFraction: number;
  greedyGap: number;
  maxDeltaPi: number;
  maxRmsOverBound: number;
  /** Last quarter's largest max-drift ÷ max|ξ| over the first quarter's. */
  maxGrowth: number;
  /** Last quarter's mean rms drift ÷ bound over the first quarter's. */
  growth: number;
  /** β = η/(η + τ) at the first and the last comparison: the steady drift scales as 1/(1 − β). */
  betaRange: [number, number];
}

interface Summary {
  training: DriftSummary;
  worstCase: DriftSummary & {
    /** Pushes after which the growth is judged (the second half), and the last push of the annealing. */
    steadyFrom: number;
    annealEnd: number;
    /** (steadyFrom − annealEnd) · (1 − β): time constants of the recurrence since τ stopped falling. */
    timeConstants: number;
    /** rms drift ÷ bound: last quarter's mean over the third quarter's (both at constant τ). */
    growthSteady: number;
    /** p of rms drift ÷ bound ∝ K^p over the steady pushes. */
    exponent: number;
    levelsOff: boolean;
  };
}

function driftSummary(rows: DriftRow[]): DriftSummary {
  const relative = (r: DriftRow) => r.relative;
  const rms = (r: DriftRow) => r.rmsRelative;
  return {
    maxRmsOverBound: maxOf(rows, overBound),
    maxDrift: maxOf(rows, (r) => r.drift),
    maxRelative: maxOf(rows, relative),
    maxUlps: maxOf(rows, (r) => r.ulps),
    maxRmsRelative: maxOf(rows, rms),
    incVsBound: maxOf(rows, (r) => r.incVsBound),
    fullVsBound: maxOf(rows, (r) => r.fullVsBound),
    incOverFullError: maxOf(rows, (r) => r.incVsRef) / maxOf(rows, (r) => r.fullVsRef),
    greedyDifferFraction: maxOf(rows, (r) => r.greedyDiffer / r.rows),
    greedyGap: maxOf(rows, (r) => r.greedyGap),
    maxDeltaPi: maxOf(rows, (r) => r.maxDeltaPi),
    maxGrowth: quarterMax(rows, 3, relative) / quarterMax(rows, 0, relative),
    growth: quarterMean(rows, 3, overBound) / quarterMean(rows, 0, overBound),
    betaRange: [rows[0].beta, rows[rows.length - 1].beta],
  };
}

function summarize(training: DriftRow[], worst: DriftRow[]): Summary {
  const steadyFrom = Math.ceil(PUSHES / 2);
  const exponent = growthExponent(worst, steadyFrom);
  const growthSteady = quarterMean(worst, 3, overBound) / quarterMean(worst, 2, overBound);
  return {
    training: driftSummary(training),
    worstCase: {
      ...driftSummary(worst),
      steadyFrom,
      annealEnd: annealPushes(),
      timeConstants: (steadyFrom - annealPushes()) * (1 - worst[worst.length - 1].beta),
      growthSteady,
      exponent,
      levelsOff: Number.isNaN(exponent) ? growthSteady <= GROWTH_TOLERANCE : exponent <= MAX_LEVEL_EXPONENT,
    },
  };
}

/** One paragraph whose every claim is read off the numbers. */
function conclusion(s: Summary, iterations: number, pushes: number): string {
  const t = s.training;
  const w = s.worstCase;
  const parts: string[] = [];
  parts.push(
    `Over ${iterations} training iterations the incremental logits stayed within ${e(t.maxDrift)} of a full float32 evaluation: ` +
      `at most ${e(t.maxRelative)} of max|ξ| (${t.maxUlps.toFixed(1)} ulps of it), typically (rms) ${e(t.maxRmsRelative)} of rms|ξ| or less; ` +
      `its rms ÷ the float32 bound of a full evaluation averaged ${t.growth.toFixed(2)}× in the last quarter of the run what it did in the first ` +
      `(largest drift ÷ max|ξ|: ${t.maxGrowth.toFixed(2)}×), while β rose from ${t.betaRange[0].toFixed(3)} to ${t.betaRange[1].toFixed(3)} ` +
      `and with it 1/(1 − β), the scale of the steady drift, ${((1 - t.betaRange[0]) / (1 - t.betaRange[1])).toFixed(2)}×.`,
  );
  const exponent = Number.isNaN(w.exponent) ? "" : ` goes as K^${w.exponent.toFixed(2)} and`;
  parts.push(
    `With no row turnover the drift over ${pushes} pushes was at most ${e(w.maxRelative)} of max|ξ| (${w.maxUlps.toFixed(1)} ulps; rms ${e(w.maxRmsRelative)} of rms|ξ|) and ` +
      (w.levelsOff ? "levels off" : "is still growing") +
      ` once τ is constant: from push ${w.steadyFrom} on (${w.timeConstants.toFixed(1)} time constants 1/(1 − β) after τ stopped falling at push ${w.annealEnd}), the rms drift ÷ bound${exponent} averages ${w.growthSteady.toFixed(2)}× in the last quarter what it did in the third` +
      ` (${w.growth.toFixed(2)}× the first quarter's, which includes β rising from ${w.betaRange[0].toFixed(3)} to ${w.betaRange[1].toFixed(3)} with the annealing;` +
      ` largest drift ÷ max|ξ|: ${w.maxGrowth.toFixed(2)}×).`,
  );
  const worstBound = Math.max(t.incVsBound, w.incVsBound);
  const fullBound = Math.max(t.fullVsBound, w.fullVsBound);
  const errorRatio = Math.max(t.incOverFullError, w.incOverFullError);
  const withinBound = worstBound <= 1;
  const percentOf = (x: number) => `${(100 * x).toPrecision(2)}%`;
  parts.push(
    withinBound
      ? `Against the float64 reference the incremental logits use at most ${percentOf(worstBound)} of the error bound of a single full float32 evaluation (a fresh full evaluation: ${percentOf(fullBound)}), and are at most ${errorRatio.toFixed(1)}× as far from it as the full evaluation.`
      : `Against the float64 reference the incremental logits exceed the error bound of a single full float32 evaluation by up to ${worstBound.toFixed(2)}× (a fresh full evaluation: ${percentOf(fullBound)} of it), ${errorRatio.toFixed(1)}× as far from it as the full evaluation.`,
  );
  const greedy = Math.max(t.greedyDifferFraction, w.greedyDifferFraction);
  const gap = Math.max(t.greedyGap, w.greedyGap);
  const deltaPi = Math.max(t.maxDeltaPi, w.maxDeltaPi);
  // A flip needs the two logits closer than twice the row's drift: the gap says how close.
  const ties = `near-ties, their logits at most ${e(gap)} apart in the full evaluation`;
  parts.push(
    greedy === 0
      ? `No row's greedy action differs, and π differs by at most ${e(deltaPi)}.`
      : `Greedy actions differ on at most ${(100 * greedy).toPrecision(2)}% of rows, ${ties}, and π by at most ${e(deltaPi)}.`,
  );
  if (w.levelsOff && withinBound) {
    parts.push("A periodic full recompute buys nothing: fullPrecomputeEvery 0 (never) is the right default.");
  } else if (w.levelsOff) {
    parts.push(
      `The drift is bounded but above a full evaluation's own error; a periodic full recompute (fullPrecomputeEvery R) would only reset it to that error, at O(M) per row: worth it only if a ${e(deltaPi)} change of π matters.`,
    );
  } else {
    parts.push(
      "The drift grows with the number of pushes a row sees: a periodic full recompute (fullPrecomputeEvery R, R below a row's lifetime) is needed to bound it.",
    );
  }
  return parts.join(" ");
}

async function main(): Promise<void> {
  const started = performance.now();
  const gpu = await createGpu();
  console.log(
    `staq logits drift (${args.quick ? "quick" : "default"}: ${ITERATIONS} iterations, ${PUSHES} pushes) on ${gpu.info.adapter}; node ${process.version}`,
  );
  const training = await trainingRun(gpu);
  console.log(`training run: ${training.seconds.toFixed(0)} s`);
  const worst = await worstCase(gpu);
  console.log(`worst case: ${worst.seconds.toFixed(0)} s`);

  const summary = summarize(training.rows, worst.rows);
  const text = conclusion(summary, ITERATIONS, PUSHES);
  const trainingTable = driftTable(training.rows, "iteration");
  const worstTable = driftTable(worst.rows, "pushes");
  console.log(`\nTraining run (quick preset, CartPole-v1, fullPrecomputeEvery 0):\n\n${trainingTable}\n`);
  console.log(`Worst case, no row turnover (${WORST.rows} rows, 2×64, E = 2, M = 30, η = 20):\n\n${worstTable}\n`);
  console.log(`${text}\n`);
  const seconds = (performance.now() - started) / 1000;
  console.log(`total: ${seconds.toFixed(0)} s`);

  const slug = adapterSlug(gpu.info.adapter);
  const report = {
    benchmark: "logits-drift",
    mode: args.quick ? "quick" : "default",
    date: new Date().toISOString(),
    adapter: gpu.info,
    machine: machineInfo(),
    seconds,
    referenceRows: { worst: WORST_ROWS, spreadTraining: SPREAD_ROWS, spreadWorstCase: WORST.rows },
    training,
    worstCase: worst,
    summary,
    conclusion: text,
  };
  writeReport(
    args.out,
    `logits-drift-${slug}`,
    report,
    [
      `# Incremental logits drift on ${gpu.info.adapter} (${report.mode})`,
      "",
      `${report.date}; ${report.machine.cpu}, ${report.machine.cores} cores; ${seconds.toFixed(0)} s.`,
      "ξ_inc: the replay buffer's incremental logits (correction · S); ξ_full: `stackLogits` of the same states (float32); " +
        "ulps: of max\\|ξ_full\\|. On " +
        `the ${WORST_ROWS} rows where ξ_inc and ξ_full differ most and ${SPREAD_ROWS} rows spread over the buffer (all rows in the worst case) both are compared with ` +
        "the float64 reference, as a fraction of its float32 error bound for one full evaluation (`stackLogitsReference`); " +
        "“rms drift ÷ bound”: the rms over the spread rows of \\|ξ_inc − ξ_full\\| ÷ that bound, which scales with Σ\\|c·Q\\| and so does not move with the snapshots stored (growth is judged by it).",
      "",
      `## Training run: quick preset, CartPole-v1, fullPrecomputeEvery 0 (${ITERATIONS} iterations, ${training.seconds.toFixed(0)} s)`,
      "",
      "After each iteration's push; ξ_inc = correction · S in float64. A row lives 20 iterations (20k rows, 1000 steps per iteration).",
      "",
      trainingTable,
      "",
      `## Worst case: ${WORST.rows} rows never overwritten, ${PUSHES} pushes (${worst.seconds.toFixed(0)} s)`,
      "",
      `2×64, E = ${WORST.ensemble}, M = ${WORST.memory}, η = ${WORST.eta}, fresh random snapshots; τ from ${WORST.tauStart}/ln2 to ${WORST.tauEnd}/ln2 over the first ${100 * WORST.annealFraction}% of the pushes, then constant. ξ_inc: the replay's logits buffer after \`precomputePolicy\`.`,
      "",
      worstTable,
      "",
      "## Conclusion",
      "",
      text,
      "",
    ].join("\n"),
  );
  gpu.destroy();
}

await main();
