/**
 * The dispatches of one stack evaluation, planned from the shapes, the number of stored snapshots
 * and the device's limits (stack_forward.wgsl per weights chunk and row range, stack_reduce.wgsl
 * where a range's snapshots were spread over several runs). Pure, so it is tested without a GPU;
 * prepared-evaluation.ts binds what it plans.
 */
import { StaqGpuError } from "../errors.ts";
import type { GpuLimits } from "../gpu/gpu.ts";
import type { Stack } from "./stack.ts";
import { planStackTiling, type StackTiling } from "./tiling.ts";

/**
 * The snapshots one evaluation sums: flat indices [begin, end) (slot · E + member), snapshot j
 * weighted by coefficients[j − coefficientOffset]. A full evaluation of the stack is
 * { begin: 0, end: stored · E, coefficientOffset: 0 } with the stack's coefficients; the replay
 * buffer's incremental update evaluates one slot with a coefficients buffer of its own.
 */
export interface SnapshotRange {
  begin: number;
  end: number;
  coefficientOffset: number;
}

/** Every stored snapshot, with the stack's coefficients. */
export function storedRange(ensemble: number, stored: number): SnapshotRange {
  return { begin: 0, end: stored * ensemble, coefficientOffset: 0 };
}

export interface ForwardDispatch {
  chunk: number;
  snapshotBegin: number;
  snapshotCount: number;
  /** Index in the coefficients buffer of the dispatch's first snapshot. */
  coefficientBase: number;
  partBase: number;
  /** Runs the chunk's snapshots are spread over (dispatch y). */
  runs: number;
}

export interface RowChunk {
  firstRow: number;
  rows: number;
  /** Workgroups along the batch (dispatch x). */
  tiles: number;
  forward: ForwardDispatch[];
  /** Total parts written; 1 means the forward pass writes the logits directly. */
  parts: number;
}

export interface StackDispatchPlan {
  tiling: StackTiling;
  rowChunks: RowChunk[];
  /** Largest parts × rows of any row chunk: the size of the scratch buffer in elements / actions. */
  partialRows: number;
}

/**
 * Plans the dispatches of one evaluation of `snapshots` (a range, or the number of stored slots:
 * all of them). Pure: depends only on shapes, the snapshots and the limits, so it can be tested
 * without a GPU.
 */
export function planStackDispatch(
  stack: Pick<Stack, "layout" | "ensemble" | "chunks" | "targetWorkgroups"> & Partial<Pick<Stack, "convFusion">>,
  snapshots: number | SnapshotRange,
  batch: number,
  limits: GpuLimits,
): StackDispatchPlan {
  const range = typeof snapshots === "number" ? storedRange(stack.ensemble, snapshots) : snapshots;
  const { inputs, outputs } = stack.layout.spec;
  const tiling = planStackTiling(stack.layout, batch, limits, { convFusion: stack.convFusion });
  const maxBinding = limits.maxStorageBufferBindingSize;
  // Rows per chunk: the states and the logits must each fit a binding, the tiles one dispatch
  // dimension, and every weights chunk's part of the partial sums the partials binding. Chunks
  // after the first start at a row whose states and logits offsets are multiples of 256 bytes.
  const byBinding = Math.floor(maxBinding / (4 * Math.max(inputs, outputs)));
  const byDispatch = limits.maxComputeWorkgroupsPerDimension * tiling.tileRows;
  // Per weights chunk, the part of the range it holds: [from, from + count) of its snapshots.
  const overlaps = stack.chunks.map((chunk) => {
    const from = Math.max(range.begin, chunk.first);
    const to = Math.min(range.end, chunk.first + chunk.capacity);
    return { from: from - chunk.first, count: Math.max(0, to - from) };
  });
  const filledChunks = Math.max(1, overlaps.filter((overlap) => overlap.count > 0).length);
  const byParts = Math.floor(maxBinding / (4 * outputs * filledChunks));
  let rowsPerChunk = Math.min(batch, byBinding, byDispatch, byParts);
  if (rowsPerChunk < batch) rowsPerChunk -= rowsPerChunk % rowAlignment(inputs, outputs);
  if (rowsPerChunk < 1) {
    throw new StaqGpuError(
      `cannot split a batch of ${batch} states so that each part fits a storage binding of ${maxBinding} bytes ` +
        `(${inputs} inputs, ${outputs} actions, ${filledChunks} weight buffers in use); use a larger maxBindingBytes`,
    );
  }

  const rowChunks: RowChunk[] = [];
  let partialRows = 0;
  for (let firstRow = 0; firstRow < batch; firstRow += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, batch - firstRow);
    const tiles = Math.ceil(rows / tiling.tileRows);
    const forward: ForwardDispatch[] = [];
    let parts = 0;
    let chunksLeft = overlaps.filter((overlap) => overlap.count > 0).length;
    // Every part is rows × actions floats, and all parts share one binding; byParts above
    // guarantees room for at least one part per chunk.
    const partBudget = Math.floor(maxBinding / (4 * rows * outputs));
    overlaps.forEach(({ from, count }, k) => {
      if (count === 0) return;
      chunksLeft--;
      // Spread the snapshots over runs until the dispatch has about targetWorkgroups workgroups,
      // keeping at least one snapshot per lane in every run.
      const perRun = Math.ceil(count / tiling.lanes);
      const wanted = Math.round(stack.targetWorkgroups / tiles);
      const runs = Math.max(1, Math.min(perRun, wanted, limits.maxComputeWorkgroupsPerDimension, partBudget - parts - chunksLeft));
      const coefficientBase = stack.chunks[k].first + from - range.coefficientOffset;
      forward.push({ chunk: k, snapshotBegin: from, snapshotCount: count, coefficientBase, partBase: parts, runs });
      parts += runs;
    });
    if (parts > 1) partialRows = Math.max(partialRows, parts * rows);
    rowChunks.push({ firstRow, rows, tiles, forward, parts });
  }
  return { tiling, rowChunks, partialRows };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Smallest number of rows whose states and logits both span a multiple of 256 bytes. */
export function rowAlignment(inputs: number, outputs: number): number {
  const rowsFor = (floats: number) => 256 / gcd(floats * 4, 256);
  const a = rowsFor(inputs);
  const b = rowsFor(outputs);
  return (a * b) / gcd(a, b);
}
