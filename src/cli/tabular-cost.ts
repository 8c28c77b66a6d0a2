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

/** Announce runs estimated to take longer than this, or more memory than the next. */
const WARN_SECONDS = 30;
const WARN_BYTES = 1e9;

export interface TabularRun {
  states: number;
  actions: number;
  iterations: number;
  variants: number;
  /** The MDP file's size in bytes (its text is in memory while it is parsed). */
  fileBytes: number;
}

export interface TabularCost {
  /** Dense S×S linear solves. */
  solves: number;
  seconds: number;
  /** Peak memory, roughly. */
  bytes: number;
}

/** The estimate of the module comment. */
export function estimateTabularCost({ states: S, actions: A, iterations, variants, fileBytes }: TabularRun): TabularCost {
  const solves = OPTIMUM_SOLVES + variants * (iterations + 1);
  const perSolve = (2 / 3) * S ** 3 + 2 * S * S * A;
  const flops = solves * perSolve + OPTIMUM_SWEEPS * 2 * S * S * A;
  return { solves, seconds: flops / FLOPS_PER_SECOND, bytes: BASELINE_BYTES + fileBytes + 16 * S * S * A + 16 * S * S };
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

/** The largest S whose run memory fits in `bytes` with A actions. */
function largestStates(bytes: number, actions: number): number {
  return Math.floor(Math.sqrt(Math.max(0, bytes - BASELINE_BYTES) / (16 * actions + 16)));
}

/**
 * Refuses a run whose memory estimate exceeds the machine's (a StaqInputError saying what fits),
 * and returns a warning line for one expected to be long or large (undefined for the rest).
 */
export function checkTabularCost(run: TabularRun, machineBytes = totalmem()): string | undefined {
  const cost = estimateTabularCost(run);
  const what = `S=${run.states} states, A=${run.actions} actions, ${run.variants} variant${run.variants === 1 ? "" : "s"} × ${run.iterations} iteration${run.iterations === 1 ? "" : "s"}`;
  if (cost.bytes > machineBytes) {
    throw new StaqInputError(
      `${what} needs about ${size(cost.bytes)} of memory (the transition matrix and the dense ${run.states}×${run.states} systems), more than this machine's ${size(machineBytes)}; ` +
        `with ${run.actions} actions, up to about S=${largestStates(machineBytes, run.actions)} states fit`,
    );
  }
  if (cost.seconds < WARN_SECONDS && cost.bytes < WARN_BYTES) return undefined;
  return (
    `${what}: about ${cost.solves} linear solves of a ${run.states}×${run.states} system (O(S³) each), ` +
    `roughly ${duration(cost.seconds)} and ${size(cost.bytes)} of memory; fewer --iterations or states run faster (Ctrl-C stops it)`
  );
}
