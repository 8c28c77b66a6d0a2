/**
 * How `stack_forward.wgsl` divides work, chosen from the shapes and the device's limits.
 *
 * A workgroup evaluates a tile of `tileRows` states through a run of snapshots, `lanes` snapshots
 * side by side, each lane with `laneThreads` threads. Hidden layers: each thread computes a
 * register tile of `rowsPerThread` rows × `colsPerThread` vec4s of outputs, reading the previous
 * layer's activations from the lane's workgroup memory and the weights as vec4s; activations
 * never go to global memory. The head (few outputs) is split along its inputs (`headSplit` parts
 * per output) so that more of the lane's threads share it; each thread keeps its part of
 * Σ_snapshots c·head across all its snapshots and the parts are added once at the end.
 */
import { StaqGpuError } from "../errors.ts";
import type { GpuLimits } from "../gpu/gpu.ts";
import { convShaderConstants } from "./conv.ts";
import type { SnapshotLayout } from "./layout.ts";

export interface StackTiling {
  tileRows: number;
  rowsPerThread: number;
  /** vec4 columns each thread computes in hidden layers. */
  colsPerThread: number;
  /** Threads per row group in hidden layers = widest padded hidden layer / 4 / colsPerThread (1 for a linear model). */
  colGroups: number;
  /** Widest hidden layer / 4: the row stride of activations in workgroup memory (0 for a linear model). */
  actWidth4: number;
  /** Snapshots evaluated side by side in one workgroup (more when the tile of states is small). */
  lanes: number;
  /** Threads per lane: workgroupSize = lanes × laneThreads. */
  laneThreads: number;
  workgroupSize: number;
  /** Head outputs / 4, rounded up. */
  headCols: number;
  headSplit: number;
  headUnitsPerThread: number;
  /** Length of the workgroup array of vec4s. */
  actVec4s: number;
  /**
   * With a conv layer followed by a dense one: vec4 columns of the conv's output per chunk (whole
   * positions), each chunk computed into workgroup memory and consumed by the dense layer before
   * the next; 0 when the conv's whole output is computed first (no dense layer after it, or
   * fusion turned off).
   */
  convChunkCols4: number;
}

export interface TilingOptions {
  /** Evaluate a conv layer and the dense layer after it chunk by chunk (default true). */
  convFusion?: boolean;
}

/** Largest workgroup staq uses: more is allowed on some devices but helps none of the kernels. */
export const MAX_WORKGROUP = 256;
/** Largest tile of states per workgroup. */
export const MAX_TILE_ROWS = 64;
/** Most snapshots side by side in one workgroup. */
export const MAX_LANES = 16;
/**
 * A hidden-layer thread's register tile: rowsPerThread states × colsPerThread vec4s of outputs,
 * REGISTER_VEC4S vec4 accumulators in all. With ROWS = 4 rows that is 4 × 16 outputs. Measured on
 * lavapipe for 2×256 at B = 1024: 4 × 16 ran 1.15× faster than 4 × 8 and 2× faster than 2 × 8 or
 * 8 × 8 (which spills); 4 × 16 is also a common SGEMM tile on GPUs. With fewer rows (a batch of
 * 1–3 states) the same registers hold more columns, so fewer threads share a snapshot: at one
 * state and width 64 a whole snapshot is one thread, which then needs no barriers.
 */
const ROWS = 4;
export const REGISTER_VEC4S = 16;

/**
 * The conv chunk: as many whole positions as fit the widest dense hidden layer's row of workgroup
 * memory (at least one). A conv layer's output is positions × filters wide (1024 floats for the
 * paper's MinAtar network, 8× its dense layer), and a tile of states holds a row of it per state:
 * computed whole, it caps the tile at a few states (8 in lavapipe's 32 KiB), so every weight the
 * dense layer after it reads serves only those few. In chunks, the row is no wider than the dense
 * layers', and the tile as large as for the MLP alone.
 */
function convChunkCols4(layout: SnapshotLayout): number {
  const [conv, ...dense] = layout.layers.slice(0, -1);
  if (!conv?.conv || dense.length === 0) return 0;
  const filters4 = conv.paddedOutputs / 4;
  const denseWidest4 = Math.max(...dense.map((layer) => layer.width / 4));
  return Math.max(1, Math.min(conv.conv.positions, Math.floor(denseWidest4 / filters4))) * filters4;
}

/**
 * Filter vec4s one thread computes together at a position of a chunked conv: the largest divisor of
 * the conv's filters / 4 up to 4 (1 without a conv). They share every read of the patch: 4 states'
 * pixels and a vec4 of weights per column make 16 multiply-adds, so a group of 4 columns does the
 * work of 4 with 4 + 16 reads rather than 32.
 */
export function convFilterGroup(layout: SnapshotLayout): number {
  const conv = layout.layers[0];
  if (!conv.conv) return 1;
  const filters4 = conv.paddedOutputs / 4;
  return [4, 3, 2, 1].find((group) => filters4 % group === 0)!;
}

export function planStackTiling(layout: SnapshotLayout, batch: number, limits: GpuLimits, options: TilingOptions = {}): StackTiling {
  const chunkCols4 = options.convFusion === false ? 0 : convChunkCols4(layout);
  if (chunkCols4 === 0) return planWith(layout, batch, limits, 0);
  const fused = planWith(layout, batch, limits, chunkCols4);
  // Chunks pay for themselves in weights read once for all of a tile's states. Below ROWS states
  // there is little of that to gain, and a lane of several threads meets at two barriers per
  // chunk. On lavapipe, M = 300, E = 2, runs interleaved, fused against whole (a throwaway script
  // timing stackLogits with this rule bypassed; bench/stack.ts cannot force chunks): the paper's
  // network (lanes of 2–4 threads) 107 against 86 ms at B = 1, level at B = 2, 228 against 267 at
  // B = 8; quick-minatar's 24 against 30 at B = 1 (a lane of one thread, no barriers), 36 against
  // 33 at B = 2 (two threads).
  return fused.tileRows < ROWS && fused.laneThreads > 1 ? planWith(layout, batch, limits, 0) : fused;
}

/** The tiling with the conv's output in chunks of `chunkCols4` vec4 columns (0: whole). */
function planWith(layout: SnapshotLayout, batch: number, limits: GpuLimits, chunkCols4: number): StackTiling {
  const maxThreads = Math.min(MAX_WORKGROUP, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const memoryVec4s = Math.floor(limits.maxComputeWorkgroupStorageSize / 16);
  const head = layout.layers[layout.layers.length - 1];
  const hidden = layout.layers.slice(0, -1);
  // The row of activations a tile keeps per state: with a conv chunk, the chunk in place of the
  // conv's whole output.
  const rowWidths4 = hidden.map((layer, l) => (l === 0 && chunkCols4 > 0 ? chunkCols4 : layer.width / 4));
  const widest4 = Math.max(0, ...rowWidths4);
  const headCols = head.paddedOutputs / 4;
  // Inputs of the head in the units one head step reads: vec4s of activations, or single states.
  const headSteps = hidden.length > 0 ? head.rows / 4 : head.inputs;

  let tileRows: number;
  let rowsPerThread: number;
  let laneThreads: number;
  let laneMemory: number;
  let colsPerThread = 1;
  let colGroups = 1;
  if (widest4 > 0) {
    // One row of activations must fit workgroup memory, and one row's register tiles a workgroup.
    const widestPossible4 = Math.min(memoryVec4s, maxThreads * (REGISTER_VEC4S / ROWS));
    if (widest4 > widestPossible4) {
      throw new StaqGpuError(
        `a hidden layer of ${widest4 * 4} units is wider than this device can keep in one workgroup ` +
          `(${widestPossible4 * 4} at most); use narrower hidden layers`,
      );
    }
    // The largest tile uses full register tiles of ROWS rows.
    const fullTileGroups = Math.ceil(widest4 / Math.min(widest4, REGISTER_VEC4S / ROWS));
    const byThreads = Math.floor(maxThreads / fullTileGroups) * ROWS;
    const byMemory = Math.floor(memoryVec4s / widest4);
    const largest = Math.min(MAX_TILE_ROWS, byThreads, byMemory);
    const maxTile = largest >= ROWS ? largest - (largest % ROWS) : largest;
    tileRows = batch >= maxTile ? maxTile : batch < ROWS ? Math.min(batch, maxTile) : Math.min(maxTile, Math.ceil(batch / ROWS) * ROWS);
    rowsPerThread = Math.min(ROWS, tileRows);
    colsPerThread = Math.min(widest4, Math.floor(REGISTER_VEC4S / rowsPerThread));
    colGroups = Math.ceil(widest4 / colsPerThread);
    laneThreads = (tileRows / rowsPerThread) * colGroups;
    laneMemory = tileRows * widest4;
  } else {
    tileRows = Math.min(batch, MAX_TILE_ROWS, Math.floor(maxThreads / headCols) || 1);
    rowsPerThread = 1;
    laneThreads = tileRows * headCols;
    laneMemory = 0;
  }
  // Fill the workgroup with snapshots side by side when the tile of states alone does not. Each
  // lane needs workgroup memory for its activations and, at the end, for its head sums.
  const laneUnits = tileRows * headCols;
  const perLaneMemory = Math.max(laneMemory, laneUnits);
  const lanes = Math.max(1, Math.min(MAX_LANES, Math.floor(maxThreads / laneThreads), Math.floor(memoryVec4s / perLaneMemory)));
  const workgroupSize = lanes * laneThreads;

  // A lane's head is shared by the lane's own threads (split along the head's inputs when the
  // threads outnumber its outputs); every unit's sum meets the others in workgroup memory at the end.
  let headSplit = Math.max(1, Math.min(headSteps, Math.floor(laneThreads / laneUnits)));
  headSplit = Math.max(1, Math.min(headSplit, Math.floor(memoryVec4s / (lanes * laneUnits))));
  const headUnits = lanes * laneUnits * headSplit;
  const headUnitsPerThread = Math.ceil((laneUnits * headSplit) / laneThreads);
  const actVec4s = Math.max(1, lanes * laneMemory, headUnits);
  if (actVec4s > memoryVec4s) {
    throw new StaqGpuError(`the stack kernel needs ${actVec4s * 16} bytes of workgroup memory; this device has ${memoryVec4s * 16}`);
  }
  return {
    tileRows,
    rowsPerThread,
    colsPerThread,
    colGroups,
    actWidth4: widest4,
    lanes,
    laneThreads,
    workgroupSize,
    headCols,
    headSplit,
    headUnitsPerThread,
    actVec4s,
    convChunkCols4: chunkCols4,
  };
}

/** The constants `stack_forward.wgsl` is compiled with. */
export function stackForwardConstants(layout: SnapshotLayout, tiling: StackTiling) {
  return {
    INPUTS: layout.spec.inputs,
    LAYERS: layout.layers.length,
    LAYER_ROWS: layout.layers.map((layer) => layer.rows),
    LAYER_OUT4: layout.layers.map((layer) => layer.paddedOutputs / 4),
    LAYER_COLS4: layout.layers.map((layer) => layer.width / 4),
    LAYER_WEIGHTS: layout.layers.map((layer) => layer.weightOffset),
    LAYER_BIAS: layout.layers.map((layer) => layer.biasOffset),
    SNAPSHOT_VEC4S: layout.vec4s,
    ACTIONS: layout.spec.outputs,
    TILE_ROWS: tiling.tileRows,
    ROWS_PER_THREAD: tiling.rowsPerThread,
    COL_GROUPS: tiling.colGroups,
    COLS_PER_THREAD: tiling.colsPerThread,
    ACT_WIDTH4: Math.max(1, tiling.actWidth4),
    LANES: tiling.lanes,
    LANE_THREADS: tiling.laneThreads,
    WORKGROUP_SIZE: tiling.workgroupSize,
    HEAD_SPLIT: tiling.headSplit,
    HEAD_UNITS_PER_THREAD: tiling.headUnitsPerThread,
    ACT_VEC4S: tiling.actVec4s,
    CONV_FUSED: tiling.convChunkCols4 > 0,
    CONV_CHUNK_COLS4: Math.max(1, tiling.convChunkCols4),
    CONV_FILTER_GROUP: convFilterGroup(layout),
    ...convShaderConstants(layout.layers[0].conv),
  };
}
