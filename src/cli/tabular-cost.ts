/**
 * What a `staq tabular` run will cost, estimated from the MDP's size before it starts, so a large
 * MDP is announced (or refused) instead of silently taking minutes and gigabytes: S = 3000 took
 * 160 s and 1 GB for 3 iterations.
 *
 * Where the cost is (src/tabular/*): every exact policy evaluation builds the dense S×S system
 * I − γP_π (O(S²A)) and solves it by LU factorisation, (2/3)S³ flops on a row-major copy. A run
 * makes one per iteration and variant, one more per variant for the final Q, and a few for Q*_τ
 * (soft policy iteration from the uniform policy, then value-iteration sweeps of O(S²A) each).
 * Memory: P as float64 (8·S²A bytes), while the file's text and its parsed arrays (about 8 bytes
 * per number) are still alive; then the system and its LU copy (16·S² bytes).
 *
 * Beyond the solves, every iteration of every variant has a fixed cost (the softmax, KL, entropy
 * and distances over the S·A entries, a few small arrays) and keeps four numbers for the report; so
 * a small MDP with millions of iterations is announced too. Vanilla and corrected keep the last
 * min(K, M) Q-functions (8·S·A bytes each, plus the array object) and sum them every iteration:
 * Σ_k min(k+1, M) · S·A multiply-adds in all, which for M ≥ K grows as K², like the solves' K·S³.
 * The command keeps one run's stored Q-functions at a time.
 */
import { totalmem } from "node:os";
import { StaqInputError } from "../errors.ts";

/** Soft policy iteration's linear solves for Q*_τ: typically 4–6 (at most 51), taken as 6. */
const OPTIMUM_SOLVES = 6;
/** Value-iteration sweeps after it, each about 2·S²A flops; a few dozen are typical. */
const OPTIMUM_SWEEPS = 100;
/** Float64 flops per second of the plain JavaScript solver, on the slow side of what was measured (0.5–1 G). */
const FLOPS_PER_SECOND = 5e8;
/** Node, its modules and the rest, beyond the arrays counted. */
const BASELINE_BYTES = 100e6;
/** Seconds per iteration and variant besides the flops: 6–9 µs measured at S = 2, A = 2. */
const ITERATION_SECONDS = 1e-5;
/** Flops per state-action entry per iteration and variant besides the solve (an exp or log is tens). */
const ENTRY_FLOPS = 100;
/**
 * Seconds per stored Q-function per iteration besides its 2·S·A flops: pushing its coefficient
 * (pmdStep copies and checks all M) and reaching its array, one of many scattered over the heap.
 * Measured at S·A = 4: 20 ns while they take up to 1.5 MB (5000 stored), then memory latency:
 * 70 ns at 3 MB, 200 ns at 9 MB. Taken as 20 ns up to 2 MB and 250 ns beyond.
 */
const STORED_SECONDS_CACHED = 2e-8;
const STORED_SECONDS = 2.5e-7;
const CACHED_BYTES = 2e6;
/** Bytes kept per iteration and variant: the report's four series, the output, garbage: 250 measured. */
const ITERATION_BYTES = 300;
/** Bytes of a stored Q-function besides its 8·S·A entries (a Float64Array object): 250 measured. */
const STORED_BYTES = 300;

/** Announce runs estimated to take longer than this, or more memory than the next. */
const WARN_SECONDS = 30;
const WARN_BYTES = 1e9;

export interface TabularRun {
  states: number;
  actions: number;
  iterations: number;
  variants: number;
  /** How many of the variants are vanilla or corrected (default 0), and their memory M. */
  finiteVariants?: number;
  memory?: number;
  /** The MDP file's size in bytes (its text is in memory while it is parsed). */
  fileBytes: number;
}

export interface TabularCost {
  /** Dense S×S linear solves. */
  solves: number;
  /** Σ_k min(k+1, M) over the finite-memory variants: the stored Q-functions summed, over all iterations. */
  storedSums: number;
  seconds: number;
  /** Peak memory, roughly. */
  bytes: number;
  /** Of `seconds`, the sums over stored Q-functions. */
  storedSeconds: number;
  /** Of `bytes`, the stored Q-functions of one finite-memory run. */
  storedBytes: number;
}

/** Σ_{k<K} min(k+1, M): how many stored Q-functions one finite-memory run sums, over all K iterations. */
function storedSumsOf(K: number, M: number): number {
  const full = Math.min(K, M);
  return (full * (full + 1)) / 2 + (K - full) * M;
}

/** The estimate of the module comment. */
export function estimateTabularCost(run: TabularRun): TabularCost {
  const { states: S, actions: A, iterations: K, variants, fileBytes } = run;
  const finite = run.finiteVariants ?? 0;
  const M = finite > 0 ? (run.memory ?? 1) : 0;
  const solves = OPTIMUM_SOLVES + variants * (K + 1);
  const perSolve = (2 / 3) * S ** 3 + 2 * S * S * A;
  const storedSums = finite * storedSumsOf(K, M);
  const storedBytes = finite > 0 ? Math.min(K, M) * (8 * S * A + STORED_BYTES) : 0;
  const perStored = storedBytes <= CACHED_BYTES ? STORED_SECONDS_CACHED : STORED_SECONDS;
  const flops = solves * perSolve + OPTIMUM_SWEEPS * 2 * S * S * A + variants * K * ENTRY_FLOPS * S * A + storedSums * 2 * S * A;
  const storedSeconds = storedSums * ((2 * S * A) / FLOPS_PER_SECOND + perStored);
  const seconds = flops / FLOPS_PER_SECOND + variants * K * ITERATION_SECONDS + storedSums * perStored;
  const bytes = BASELINE_BYTES + fileBytes + 16 * S * S * A + 16 * S * S + variants * K * ITERATION_BYTES + storedBytes;
  return { solves, storedSums, seconds, bytes, storedSeconds, storedBytes };
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function size(bytes: number): string {
  return bytes < 1e9 ? `${Math.round(bytes / 1e6)} MB` : `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * What takes most of the memory, and how far to shrink it for the run to fit: the transition
 * matrix and systems (16·S²(A+1) bytes), the results of K iterations, or the M stored Q-functions.
 */
function memoryFix(run: TabularRun, cost: TabularCost, machineBytes: number): { part: string; fix: string } {
  const { states: S, actions: A, iterations: K } = run;
  const parts = [
    { bytes: 16 * S * S * (A + 1), per: 16 * (A + 1) },
    { bytes: run.variants * K * ITERATION_BYTES, per: run.variants * ITERATION_BYTES },
    { bytes: cost.storedBytes, per: 8 * S * A + STORED_BYTES },
  ];
  const largest = parts.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  // The room left for that part once the rest is in memory, in its own units.
  const room = Math.max(0, machineBytes - (cost.bytes - largest.bytes)) / largest.per;
  if (largest === parts[0]) {
    return {
      part: `the transition matrix and the dense ${S}×${S} systems`,
      fix: `with ${A} actions, up to about S=${Math.floor(Math.sqrt(room))} states fit`,
    };
  }
  if (largest === parts[1])
    return { part: `most of it the results of ${K} iterations`, fix: `up to about --iterations ${Math.floor(room)} fit` };
  return {
    part: `most of it the ${Math.min(K, run.memory ?? 1)} Q-functions that --memory ${run.memory} keeps`,
    fix: `up to about --memory ${Math.floor(room)} fits`,
  };
}

/**
 * Refuses a run whose memory estimate exceeds the machine's (a StaqInputError saying what fits),
 * and returns a warning line for one expected to be long or large (undefined for the rest).
 */
export function checkTabularCost(run: TabularRun, machineBytes = totalmem()): string | undefined {
  const cost = estimateTabularCost(run);
  const what = `S=${run.states} states, A=${run.actions} actions, ${run.variants} variant${run.variants === 1 ? "" : "s"} × ${run.iterations} iteration${run.iterations === 1 ? "" : "s"}`;
  const kept = cost.storedBytes > 0 ? Math.min(run.iterations, run.memory ?? 1) : 0;
  if (cost.bytes > machineBytes) {
    const { part, fix } = memoryFix(run, cost, machineBytes);
    throw new StaqInputError(
      `${what} needs about ${size(cost.bytes)} of memory (${part}), more than this machine's ${size(machineBytes)}; ${fix}`,
    );
  }
  if (cost.seconds < WARN_SECONDS && cost.bytes < WARN_BYTES) return undefined;
  // Named where they take most of the time (a large --memory), not for every M.
  const sums =
    cost.storedSeconds >= 0.5 * cost.seconds
      ? ` and sums of up to ${kept} stored Q-functions (--memory ${run.memory}) every iteration`
      : "";
  return (
    `${what}: about ${cost.solves} linear solves of a ${run.states}×${run.states} system (O(S³) each)${sums}, ` +
    `roughly ${duration(cost.seconds)} and ${size(cost.bytes)} of memory; fewer --iterations${sums ? ", a smaller --memory" : ""} or fewer states run faster (Ctrl-C stops it)`
  );
}
