/**
 * Tabular PMD benchmark: how many iterations of finite-memory Policy Mirror Descent the float64
 * TypeScript toolkit (src/tabular) runs per second on the CPU, and where an iteration's time goes.
 *
 * Headline: S = 1000 states, A = 10 actions, M = 300 stored Q-functions, the corrected variant, on
 * a Garnet MDP with a dense P (branching = S). The same is measured for S = 50 … 1000 (--quick, the
 * default) and 2000 (--full) to show how the cost scales. Per S, each phase of one iteration is timed
 * on its own with the library function that does it:
 *   build   forming I − γP_π and r_π + τH_π (inside softStateValues; derived, see measureSize)
 *   solve   the LU solve of that S×S system (solveLinearSystem), 2/3·S³ flops
 *   backup  Q = R + γPV (backupQ)
 *   logits  ξ = correction · Σ_i c_i Q^i over M = 300 stored Q-functions (weightedSum, pmdStep's c)
 *   softmax π = softmax(ξ) (softmaxPolicy)
 * then the whole tabularPmd per iteration, end to end, and the one-off softOptimum solve.
 * Prints a table as it goes, then writes DIR/tabular-<cpu>.json and .md.
 *
 *   npx tsx bench/tabular.ts            (--quick: about a minute on a 2-core machine)
 *   npx tsx bench/tabular.ts --full     (adds S = 2000 and repeats more: several minutes)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { garnetMdp } from "../src/tabular/garnet.ts";
import type { Mdp } from "../src/tabular/mdp.ts";
import { tabularPmd, weightedSum } from "../src/tabular/pmd.ts";
import { backupQ, softStateValues } from "../src/tabular/soft-evaluation.ts";
import { solveLinearSystem } from "../src/tabular/linear-solve.ts";
import { softOptimum, type SoftOptimum } from "../src/tabular/soft-optimal.ts";
import { softmaxPolicy, uniformPolicy } from "../src/tabular/policy-math.ts";
import { pmdStep, type PmdCoefficients } from "../src/pmd/coefficients.ts";
import { repeat, summarize, type RepeatOptions, type Summary } from "./measure.ts";
import { parseProgramArgs, prepareOutputFolder } from "./arguments.ts";
import { cpuSlug, formatMs, machineInfo, markdownTable, fullMode, commonBenchOptions, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: npx tsx bench/tabular.ts [--quick | --full] [--out DIR]
  --quick   S = 50, 100, 200, 500, 1000 with few repetitions (the default; about a minute on 2 cores)
  --full    adds S = 2000 and repeats more (several minutes)
Tabular PMD on the CPU (float64): A = 10, M = 300, corrected variant, dense Garnet P. Times each
phase of one iteration (linear solve, backup, logits sum, softmax), tabularPmd end to end and softOptimum.
Writes DIR/tabular-<cpu>.json and DIR/tabular-<cpu>.md (DIR defaults to bench/results).`;

const { values: args } = parseProgramArgs(
  {
    options: {
      ...commonBenchOptions(join(here, "results")),
    },
  },
  USAGE,
);

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const full = fullMode(args);
// Made and tried now: a folder that cannot take the results would otherwise fail after the run.
await prepareOutputFolder(args.out);

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const SETTINGS = {
  sizes: full ? [50, 100, 200, 500, 1000, 2000] : [50, 100, 200, 500, 1000],
  headlineStates: 1000,
  actions: 10,
  memory: 300,
  variant: "corrected" as const,
  // The CLI's example values; the timings do not depend on them as long as no probability
  // underflows to 0 (softStateValues skips zero-probability actions), which these keep far away.
  eta: 1,
  tau: 0.1,
  gamma: 0.9,
  seed: 1,
};
const { actions: A, memory: M, eta: ETA, tau: TAU } = SETTINGS;

/**
 * Repetitions (rounds of timeInterleaved). Every call is warmed up first (the JIT), then rounds run
 * until minRuns and minSeconds are both met; rounds over `costlyMs` are repeated only `costly` times,
 * and calls over `oneShotMs` run once only: at S = 1000 softOptimum alone takes seconds, far longer
 * than the timer's noise, and repeating it would cost more than the rest of the size together.
 */
const TIMING = full
  ? { cheap: { warmup: 0, minRuns: 10, maxRuns: 1000, minSeconds: 1.5 }, costlyMs: 2000, costly: 3, oneShotMs: 30_000 }
  : { cheap: { warmup: 0, minRuns: 7, maxRuns: 200, minSeconds: 0.4 }, costlyMs: 200, costly: 5, oneShotMs: 3000 };
/**
 * tabularPmd end to end: iteration k holds min(k+1, M) Q-functions, so a run reaches the full
 * memory only after M iterations. Where M + `samples` iterations fit in `budgetSeconds` they are run
 * and only full-memory iterations are timed; otherwise a few iterations are timed and corrected
 * for the stored Q-functions they lacked (see endToEnd).
 */
const END_TO_END = full ? { budgetSeconds: 60, samples: 20, fewIterations: 8 } : { budgetSeconds: 5, samples: 10, fewIterations: 5 };

const PHASES = ["build", "solve", "backup", "logits", "softmax"] as const;
type Phase = (typeof PHASES)[number];
const PHASE_NAMES: Record<Phase, string> = {
  build: "building I − γP_π",
  solve: "LU solve",
  backup: "backup Q = R + γPV",
  logits: `logits sum over M = ${M}`,
  softmax: "softmax",
};

/** A timing in milliseconds per call; `batch` calls were timed together per sample when one call is too short to time alone. */
interface Timing extends Summary {
  batch: number;
}

interface SizeResult {
  states: number;
  /** 2/3·S³, the LU factorisation's flops (the back substitution's S² is left out). */
  solveFlops: number;
  solveGflops: number;
  garnetMs: number;
  /** softStateValues: build + solve. */
  stateValues: Timing;
  /** softStateValues minus the solve, sample by sample (both timed in the same rounds). */
  build: Summary;
  solve: Timing;
  backup: Timing;
  logits: Timing;
  softmax: Timing;
  softOptimum: Timing & { iterations: number };
  /** Median time of each phase: build from paired differences, the rest measured directly. */
  phaseMs: Record<Phase, number>;
  /** Of the five phases' total. */
  solveShare: number;
  dominant: Phase;
  endToEnd: EndToEnd;
}

interface EndToEnd {
  /** Per-iteration milliseconds at a full memory of M (corrected where the run held fewer; see fullMemory). */
  perIteration: Summary;
  /** The same without the correction (equal to perIteration when fullMemory). */
  measured: Summary;
  /** Whether every timed iteration held all M Q-functions. */
  fullMemory: boolean;
  iterationsRun: number;
  /** Q-functions held by each timed iteration. */
  held: number[];
  iterationsPerSecond: number;
  /** Per-iteration time minus the five phases: tabularPmd's error, KL and entropy figures, pmdStep, copies. */
  restMs: number;
}

// ---------------------------------------------------------------------------------------------
// Timing helpers
// ---------------------------------------------------------------------------------------------

function elapsedMs(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

const total = (values: number[]) => values.reduce((sum, x) => sum + x, 0);

/**
 * Milliseconds per call of each of `runs`, measured in interleaved rounds (one sample of each per
 * round): this machine may be shared, and interleaving makes a change of load hit every call alike,
 * so that samples of two calls taken in the same round can be subtracted (see `build`). The first
 * calls warm up the JIT and size the work; calls under a millisecond are batched per sample so the
 * timer's resolution does not matter.
 */
async function timeInterleaved(runs: (() => unknown)[]): Promise<{ timings: Timing[]; samples: number[][] }> {
  const first = runs.map((run) => elapsedMs(run));
  if (total(first) > TIMING.oneShotMs)
    return { timings: first.map((ms) => ({ ...summarize([ms]), batch: 1 })), samples: first.map((ms) => [ms]) };
  // A first call over 100 ms is both warm-up and calibration; shorter ones are timed again warm.
  const second = runs.map((run, i) => (first[i] > 100 ? first[i] : elapsedMs(run)));
  const batches = second.map((ms) => (ms >= 1 ? 1 : Math.min(10_000, Math.ceil(1 / Math.max(ms, 1e-3)))));
  const roundMs = total(second.map((ms, i) => ms * batches[i]));
  const options: RepeatOptions =
    roundMs > TIMING.costlyMs ? { warmup: 0, minRuns: TIMING.costly, maxRuns: TIMING.costly, minSeconds: 0 } : TIMING.cheap;
  const samples = runs.map((): number[] => []);
  await repeat(async () => {
    let round = 0;
    runs.forEach((run, i) => {
      const ms = elapsedMs(() => {
        for (let b = 0; b < batches[i]; b++) run();
      });
      samples[i].push(ms / batches[i]);
      round += ms;
    });
    return round;
  }, options);
  return { timings: samples.map((s, i) => ({ ...summarize(s), batch: batches[i] })), samples };
}

// ---------------------------------------------------------------------------------------------
// One problem size
// ---------------------------------------------------------------------------------------------

/**
 * A stand-in for the solve's input: I − γP_a for the deterministic policy "action 0 everywhere",
 * i.e. the system softStateValues builds for that policy, read straight off P. The LU's work depends
 * only on S (dense P: no zero multipliers to skip) and on its row swaps (O(S) each), not on the
 * values, so timing solveLinearSystem on it times the solve inside softStateValues without copying
 * softStateValues' policy-weighted build; the build is then the difference of the two.
 */
function deterministicPolicySystem(mdp: Mdp): { matrix: Float64Array; rhs: Float64Array } {
  const { states: S, actions, P, R, gamma } = mdp;
  const matrix = new Float64Array(S * S);
  const rhs = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    const transitions = s * actions * S;
    for (let next = 0; next < S; next++) matrix[s * S + next] = (s === next ? 1 : 0) - gamma * P[transitions + next];
    rhs[s] = R[s * actions];
  }
  return { matrix, rhs };
}

/** The coefficients after M pushes of pmdStep at constant τ: the stack full, as in steady state. */
function fullCoefficients(): PmdCoefficients {
  let coefficients: PmdCoefficients = { coefficients: new Float64Array(0), correction: 1 };
  for (let i = 0; i < M; i++)
    coefficients = pmdStep(coefficients.coefficients, { eta: ETA, tau: TAU, memory: M, variant: SETTINGS.variant });
  return coefficients;
}

async function measureSize(S: number): Promise<SizeResult> {
  let mdp!: Mdp;
  const garnetMs = elapsedMs(() => (mdp = garnetMdp({ states: S, actions: A, branching: S, gamma: SETTINGS.gamma, seed: SETTINGS.seed })));

  // Realistic inputs for every phase: a Q from the uniform policy, M distinct stored Q-functions
  // (distinct arrays, so the logits sum streams M·S·A values from memory as the real one does),
  // their logits and the policy they give, which has no zero probability.
  const firstQ = backupQ(mdp, softStateValues(mdp, uniformPolicy(S, A), TAU));
  const stored = Array.from({ length: M }, (_, i) => firstQ.map((value) => value + 1e-3 * i));
  const coefficients = fullCoefficients();
  const logits = weightedSum(stored, coefficients);
  const policy = softmaxPolicy(logits, S, A);
  const values = softStateValues(mdp, policy, TAU);
  const system = deterministicPolicySystem(mdp);

  const phases = await timeInterleaved([
    () => softStateValues(mdp, policy, TAU),
    () => solveLinearSystem(system.matrix, system.rhs, S),
    () => backupQ(mdp, values),
    () => weightedSum(stored, coefficients),
    () => softmaxPolicy(logits, S, A),
  ]);
  const [stateValues, solve, backup, logitsTiming, softmax] = phases.timings;
  // The build is what softStateValues does besides the solve: per round, one minus the other.
  const [stateValueSamples, solveSamples] = phases.samples;
  const build = summarize(stateValueSamples.map((ms, i) => ms - solveSamples[i]));

  let optimum!: SoftOptimum;
  const [optimumTiming] = (await timeInterleaved([() => (optimum = softOptimum(mdp, { tau: TAU }))])).timings;

  const phaseMs: Record<Phase, number> = {
    build: build.median,
    solve: solve.median,
    backup: backup.median,
    logits: logitsTiming.median,
    softmax: softmax.median,
  };
  const phaseTotal = PHASES.reduce((sum, phase) => sum + Math.max(0, phaseMs[phase]), 0);
  const dominant = PHASES.reduce((best, phase) => (phaseMs[phase] > phaseMs[best] ? phase : best));
  const solveFlops = (2 / 3) * S ** 3;

  const endToEnd = measureEndToEnd(mdp, optimum, phaseMs, phaseTotal);
  return {
    states: S,
    solveFlops,
    solveGflops: solveFlops / (solve.median * 1e6),
    garnetMs,
    stateValues,
    build,
    solve,
    backup,
    logits: logitsTiming,
    softmax,
    softOptimum: { ...optimumTiming, iterations: optimum.iterations },
    phaseMs,
    solveShare: solve.median / phaseTotal,
    dominant,
    endToEnd,
  };
}

/**
 * tabularPmd per iteration, from the time between consecutive onIteration calls (so neither the
 * set-up nor the extra evaluation tabularPmd does after its last iteration is counted). The optimum
 * is passed in: solving it is a one-off, timed separately.
 *
 * Where the run is too short to fill the memory, each timed iteration k held h = k+1 < M stored
 * Q-functions; the logits sum costs time linear in how many it adds, so (1 − h/M) of the measured
 * full-memory logits time is added back to make every sample an M = 300 iteration.
 */
function measureEndToEnd(mdp: Mdp, optimum: SoftOptimum, phaseMs: Record<Phase, number>, phaseTotal: number): EndToEnd {
  const estimate = phaseTotal / 1000;
  const fullMemory = (M + END_TO_END.samples) * estimate <= END_TO_END.budgetSeconds;
  // Iteration 0 is never timed: it runs tabularPmd's metric functions for the first time (JIT).
  const iterations = fullMemory
    ? M + END_TO_END.samples
    : 1 + Math.max(2, Math.min(END_TO_END.fewIterations, Math.floor(END_TO_END.budgetSeconds / estimate)));
  const firstTimed = fullMemory ? M - 1 : 1;

  const stamps: number[] = [];
  tabularPmd(mdp, {
    variant: SETTINGS.variant,
    eta: ETA,
    tau: TAU,
    iterations,
    memory: M,
    optimum: () => optimum,
    onIteration: () => stamps.push(performance.now()),
  });
  const measured: number[] = [];
  const corrected: number[] = [];
  const held: number[] = [];
  for (let k = Math.max(1, firstTimed); k < iterations; k++) {
    const ms = stamps[k] - stamps[k - 1];
    const h = Math.min(k + 1, M);
    measured.push(ms);
    corrected.push(ms + (1 - h / M) * phaseMs.logits);
    held.push(h);
  }
  const perIteration = summarize(corrected);
  return {
    perIteration,
    measured: summarize(measured),
    fullMemory,
    iterationsRun: iterations,
    held,
    iterationsPerSecond: 1000 / perIteration.median,
    restMs: perIteration.median - phaseTotal,
  };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

const HEADER = [
  "S",
  "solve flop (2/3·S³)",
  "solve ms",
  "solve GFLOP/s",
  "build ms ≈",
  "backup ms",
  `logits Σ${M} ms`,
  "softmax ms",
  "rest ms ≈",
  "solve's share",
  "dominant",
  "PMD ms/iter (p10–p90)",
  "iter/s",
  "∝ S^x",
  "softOptimum ms",
];

/** x in time ∝ S^x between this size and the previous one, from the per-iteration medians. */
function growth(row: SizeResult, previous: SizeResult | undefined): string {
  if (!previous) return "—";
  const x = Math.log(row.endToEnd.perIteration.median / previous.endToEnd.perIteration.median) / Math.log(row.states / previous.states);
  return x.toFixed(2);
}

function formatRow(row: SizeResult, previous: SizeResult | undefined): string[] {
  const e = row.endToEnd;
  // Derived figures are differences of medians and can come out slightly negative: show the sign.
  const signed = (ms: number) => (ms < 0 ? `−${formatMs(-ms)}` : formatMs(ms));
  return [
    String(row.states),
    row.solveFlops.toExponential(2),
    formatMs(row.solve.median),
    row.solveGflops.toFixed(2),
    signed(row.phaseMs.build),
    formatMs(row.backup.median),
    formatMs(row.logits.median),
    formatMs(row.softmax.median),
    signed(e.restMs),
    `${(100 * row.solveShare).toFixed(0)}%`,
    row.dominant,
    `${formatMs(e.perIteration.median)} (${formatMs(e.perIteration.p10)}–${formatMs(e.perIteration.p90)})${e.fullMemory ? "" : "*"}`,
    e.iterationsPerSecond >= 100 ? e.iterationsPerSecond.toFixed(0) : e.iterationsPerSecond.toPrecision(3),
    growth(row, previous),
    formatMs(row.softOptimum.median),
  ];
}

/** Sizes as "50, 100" or "500–2000" when they are a run of the grid. */
function sizeList(sizes: number[]): string {
  if (sizes.length >= 3) return `${sizes[0]}–${sizes[sizes.length - 1]}`;
  return sizes.join(", ");
}

/** What the measurements say, in sentences: the headline, which phase dominates where, the scaling. */
function findings(rows: SizeResult[]): string[] {
  const lines: string[] = [];
  const headline = rows.find((r) => r.states === SETTINGS.headlineStates);
  if (headline) {
    const e = headline.endToEnd;
    lines.push(
      `Headline: S = ${headline.states}, A = ${A}, M = ${M} (${SETTINGS.variant}): ${e.iterationsPerSecond.toPrecision(3)} PMD iterations/s ` +
        `(${formatMs(e.perIteration.median)} ms per iteration` +
        (e.fullMemory
          ? `, timed with all ${M} Q-functions stored).`
          : `; ${e.held.length} early iterations timed and corrected by +${formatMs(e.perIteration.median - e.measured.median)} ms for the stored Q-functions they lacked).`),
    );
  }

  // Runs of consecutive sizes with the same largest phase.
  const runs: { phase: Phase; sizes: number[] }[] = [];
  for (const row of rows) {
    const last = runs[runs.length - 1];
    if (last && last.phase === row.dominant) last.sizes.push(row.states);
    else runs.push({ phase: row.dominant, sizes: [row.states] });
  }
  lines.push(`Largest phase: ${runs.map((r) => `${PHASE_NAMES[r.phase]} at S = ${sizeList(r.sizes)}`).join("; ")}.`);

  // "From S on": the smallest S after which the solve stays the largest phase (or over half) at every larger S measured.
  const fromOn = (holds: (r: SizeResult) => boolean) => {
    let from: number | undefined;
    for (let i = rows.length - 1; i >= 0 && holds(rows[i]); i--) from = rows[i].states;
    return from;
  };
  const largestFrom = fromOn((r) => r.dominant === "solve");
  const halfFrom = fromOn((r) => r.solveShare > 0.5);
  const shares = rows.map((r) => `${(100 * r.solveShare).toFixed(0)}% at ${r.states}`).join(", ");
  lines.push(
    largestFrom === undefined
      ? `The LU solve is not the largest phase at the largest S measured (its share: ${shares}).`
      : `The LU solve is the largest phase from S = ${largestFrom} on` +
          (halfFrom === undefined ? "" : ` and over half of the phases' time from S = ${halfFrom} on`) +
          ` (its share: ${shares}).`,
  );

  if (rows.length >= 2) {
    const [a, b] = rows.slice(-2);
    lines.push(
      `Scaling: from S = ${a.states} to ${b.states} an iteration's time grows as S^${growth(b, a)} ` +
        `(the solve is ∝ S³, the build and backup ∝ S²A, the logits sum and softmax ∝ S·A); ` +
        `the solve runs at ${rows.map((r) => r.solveGflops.toFixed(2)).join(", ")} GFLOP/s over S = ${rows.map((r) => r.states).join(", ")}.`,
    );
  }
  return lines;
}

function markdownReport(machine: ReturnType<typeof machineInfo>, rows: SizeResult[], mode: string, seconds: number): string {
  const partial = rows.filter((r) => !r.endToEnd.fullMemory);
  const flopCrossover = Math.sqrt(3 * M * A);
  return [
    `# Tabular PMD on ${machine.cpu}`,
    "",
    `\`npx tsx bench/tabular.ts --${mode}\` (${seconds.toFixed(0)} s); ${machine.cores} cores, ${machine.platform}, node ${machine.node}, load average ${machine.loadAverage.join(" / ")} at the start. ` +
      `Pure TypeScript, float64, one thread. Garnet MDP with dense P (branching = S), A = ${A}, γ = ${SETTINGS.gamma}; ` +
      `${SETTINGS.variant} PMD with M = ${M}, η = ${ETA}, τ = ${TAU}. Medians; all spreads are in the JSON.`,
    "",
    ...findings(rows).map((line) => `- ${line}`),
    "",
    markdownTable(
      HEADER,
      rows.map((row, i) => formatRow(row, rows[i - 1])),
    ),
    "",
    "How to read it:",
    "",
    '- **solve**: `solveLinearSystem` (LU with partial pivoting) on an S×S system of the kind `softStateValues` builds (I − γP_a for the policy "action 0 everywhere"); ' +
      "its cost depends on S alone, so this is the solve inside every policy evaluation. GFLOP/s counts 2/3·S³ flops.",
    "- **build ≈**: `softStateValues` (build + solve) minus the solve, the median of their differences round by round (the two are timed interleaved): forming I − γP_π and r_π + τH_π, S²A multiply-adds. Small next to the solve, so noisy (it can come out negative).",
    "- **backup**: `backupQ`, Q = R + γPV, S²A multiply-adds. **logits Σ**: `weightedSum` over M stored Q-functions with the coefficients of M `pmdStep` pushes, M·S·A multiply-adds. " +
      "**softmax**: `softmaxPolicy` of those logits.",
    "- **solve's share**: the solve's part of the five phases' total; **dominant**: the largest phase.",
    `- **PMD ms/iter**: \`tabularPmd\` end to end (optimum precomputed), timed between consecutive iterations, so it also pays for the error, KL and entropy figures tabularPmd records (**rest ≈** = that minus the five phases, again a difference of medians). ` +
      (partial.length
        ? `* At S = ${partial.map((r) => r.states).join(", ")} the ${M} iterations needed to fill the memory take too long for this mode, so a few early iterations (holding k+1 < M Q-functions) were timed and ` +
          `(1 − (k+1)/M) × the measured logits-sum time was added to each; the uncorrected figures are in the JSON.`
        : `Every timed iteration held all M = ${M} Q-functions.`),
    "- **softOptimum**: the one-off Q*_τ solve (soft policy iteration, then value iteration to certify it) that tabularPmd needs for its error figures; not part of an iteration.",
    "",
    `Why the crossover: per iteration the solve does 2/3·S³ flops and the logits sum 2·M·S·A, equal at S = √(3·M·A) ≈ ${flopCrossover.toFixed(0)}. ` +
      "Where the measured crossover lands also depends on the two phases' rates: the logits sum streams M·S·A stored values from memory, the LU reuses rows from cache. " +
      "Past the crossover the S³ term takes over and an iteration grows towards S³; every other phase is at most S²A.",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machine = machineInfo();
  const started = Date.now();
  const mode = full ? "full" : "quick";
  console.log(
    `staq tabular PMD benchmark (${mode}) on ${machine.cpu} (${machine.cores} cores), node ${machine.node}, load ${machine.loadAverage.join(" / ")}`,
  );
  console.log(
    `A = ${A}, M = ${M}, ${SETTINGS.variant}, η = ${ETA}, τ = ${TAU}, γ = ${SETTINGS.gamma}, dense Garnet P; float64, one thread; medians\n`,
  );
  console.log(HEADER.join(" | "));

  const rows: SizeResult[] = [];
  for (const S of SETTINGS.sizes) {
    const row = await measureSize(S);
    console.log(formatRow(row, rows[rows.length - 1]).join(" | "));
    rows.push(row);
  }
  const partial = rows.filter((r) => !r.endToEnd.fullMemory).map((r) => r.states);
  if (partial.length)
    console.log(`* S = ${partial.join(", ")}: few iterations timed, corrected to a full memory of ${M} (see the markdown).`);

  console.log("");
  for (const line of findings(rows)) console.log(line);

  const seconds = (Date.now() - started) / 1000;
  const report = {
    benchmark: "tabular",
    mode,
    date: new Date().toISOString(),
    machine,
    settings: { ...SETTINGS, timing: TIMING, endToEnd: END_TO_END },
    seconds,
    findings: findings(rows),
    rows,
  };
  writeReport(args.out, `tabular-${cpuSlug(machine.cpu)}`, report, markdownReport(machine, rows, mode, seconds), seconds);
}

await main();
