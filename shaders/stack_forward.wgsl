// Stack evaluation: for a tile of states, run every snapshot of a range (all ensemble members,
// flattened) through its MLP and accumulate  Σ_s c_s · MLP_s(state)  into logits — one dispatch
// for all snapshots. Layout and tiling: src/stack/layout.ts and src/stack/tiling.ts.
//
// Workgroup (wg.x, wg.y) takes states [wg.x·TILE_ROWS, +TILE_ROWS) and the wg.y-th of
// num_workgroups.y equal runs of the dispatch's snapshots. With one run the sums are the logits;
// with several, each run writes its own slice ("part") and stack_reduce.wgsl adds the parts in a
// fixed order, so results are bit-identical from run to run.
//
// Inside a workgroup, LANES snapshots are evaluated side by side (lane l takes snapshots
// begin + l, begin + l + LANES, …), so that a small batch still fills the workgroup. Each lane
// has its own threads and its own slice of workgroup memory; a lane of one thread needs no
// barriers at all (they are costly on CPU adapters). Per lane:
// - hidden layers: thread (row_group, col) computes ROWS_PER_THREAD rows × 4 outputs in registers
//   from the lane's activations in workgroup memory (layer 0: from the states in global memory),
//   then, after a barrier, writes relu(·) back in place. Activations never go to global memory.
//   A conv layer 0 (CONV) is its weight applied to every output position's patch of the state
//   (src/stack/conv.ts): its output row is [positions][LAYER_OUT4] vec4s, LAYER_COLS4[0] in all,
//   and output vec4 column c is position c / LAYER_OUT4[0], filters 4·(c % LAYER_OUT4[0]) + 0..3.
//   With a dense layer after it (CONV_FUSED), the two run together, CONV_CHUNK_COLS4 columns (whole
//   positions) at a time: the lane writes a chunk of the conv's output to workgroup memory (a
//   thread computing CONV_FILTER_GROUP filter vec4s of one position together, so that each patch
//   pixel it reads serves all of them), then every thread adds the chunk's inputs to its register
//   tile of the dense layer, and so on. The lane's row of workgroup memory then holds a chunk, not
//   the conv's whole output (8× the dense layer's width in the paper's MinAtar network), so the
//   tile of states is as large as for an MLP (src/stack/tiling.ts). The sums run over the inputs in the same order either way.
// - head: TILE_ROWS × HEAD_COLS × HEAD_SPLIT units, each the dot product of one row with 4 head
//   outputs over 1/HEAD_SPLIT of the head's inputs. A unit keeps Σ_s c_s · (its part) over its
//   lane's snapshots; lanes and parts are added once, at the end, in a fixed order.

const INPUTS: u32 = 4u;                                                  // @inject
const LAYERS: u32 = 2u;                                                  // @inject (hidden layers + head)
const LAYER_ROWS: array<u32, 2> = array<u32, 2>(4u, 16u);               // @inject rows of each stored (transposed) weight
const LAYER_OUT4: array<u32, 2> = array<u32, 2>(4u, 1u);                // @inject padded outputs / 4 (columns of the stored weight)
const LAYER_COLS4: array<u32, 2> = array<u32, 2>(4u, 1u);               // @inject output vec4s per state (LAYER_OUT4, or positions × it for a conv layer)
const LAYER_WEIGHTS: array<u32, 2> = array<u32, 2>(0u, 20u);            // @inject offsets in a snapshot, vec4s
const LAYER_BIAS: array<u32, 2> = array<u32, 2>(16u, 36u);              // @inject
const SNAPSHOT_VEC4S: u32 = 37u;                                         // @inject
const ACTIONS: u32 = 2u;                                                 // @inject
const TILE_ROWS: u32 = 4u;                                               // @inject
const ROWS_PER_THREAD: u32 = 4u;                                         // @inject
const COL_GROUPS: u32 = 4u;                                              // @inject
const COLS_PER_THREAD: u32 = 1u;                                         // @inject vec4 columns per thread
const LANES: u32 = 2u;                                                   // @inject
const LANE_THREADS: u32 = 4u;                                            // @inject threads per lane (≥ row groups × column groups)
const WORKGROUP_SIZE: u32 = 8u;                                          // @inject
const HEAD_SPLIT: u32 = 1u;                                              // @inject
const HEAD_UNITS_PER_THREAD: u32 = 1u;                                   // @inject
const ACT_VEC4S: u32 = 32u;                                              // @inject
const ACT_WIDTH4: u32 = 4u;                                              // @inject widest hidden layer / 4
const CONV: bool = false;                                                // @inject layer 0 is a conv layer, of geometry CONV_SHAPE
const CONV_FUSED: bool = false;                                          // @inject layers 0 (conv) and 1 (dense) run together, in chunks
const CONV_CHUNK_COLS4: u32 = 1u;                                        // @inject conv output vec4s per chunk (whole positions)
const CONV_FILTER_GROUP: u32 = 1u;                                       // @inject filter vec4s a thread computes together at one position of a chunk (a divisor of LAYER_OUT4[0], at most 4)
const CONV_SHAPE: array<u32, 8> = array<u32, 8>(1u, 1u, 1u, 1u, 1u, 1u, 0u, 1u); // @inject conv_patch's ConvGeometry fields, in order

const HEAD: u32 = LAYERS - 1u;
// The dense layer after a fused conv: 1 (clamped so that the arrays' indices stay in bounds for
// networks without one, where the fused code is compiled but never runs).
const CONV_DENSE: u32 = min(1u, HEAD);
const HEAD_COLS: u32 = LAYER_OUT4[HEAD];
const ROW_GROUPS: u32 = TILE_ROWS / ROWS_PER_THREAD;
// Row stride of the activations in workgroup memory, in vec4s (the widest hidden layer).
const ACT_STRIDE: u32 = ACT_WIDTH4;
const TILE: u32 = ROWS_PER_THREAD * COLS_PER_THREAD;
const LANE_ACT: u32 = TILE_ROWS * ACT_STRIDE;
const OUT_UNITS: u32 = TILE_ROWS * HEAD_COLS;
const LANE_UNITS: u32 = OUT_UNITS * HEAD_SPLIT;
const HEAD_UNITS: u32 = LANES * LANE_UNITS;
// Threads of a lane exchange activations through workgroup memory only when there are several.
const LANE_BARRIERS: bool = LANE_THREADS > 1u;

struct Params {
  batch: u32,             // states in this call; rows at or past it are not written
  snapshot_begin: u32,    // first snapshot of this dispatch, counted in the bound weights chunk
  snapshot_count: u32,    // snapshots in this dispatch, split into num_workgroups.y runs
  coefficient_base: u32,  // index in `coefficients` of this dispatch's first snapshot (snapshot_begin)
  part_base: u32,         // run g writes part part_base + g of `out`
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> states: array<f32>;               // [batch, INPUTS]
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;        // snapshots of one chunk
@group(0) @binding(3) var<storage, read> coefficients: array<f32>;         // per snapshot (the stack's: correction and 1/E included)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;            // [parts, batch, ACTIONS]

var<workgroup> act: array<vec4<f32>, ACT_VEC4S>;

// @include conv_patch
const CONV_GEOMETRY = ConvGeometry(CONV_SHAPE[0], CONV_SHAPE[1], CONV_SHAPE[2], CONV_SHAPE[3], CONV_SHAPE[4], CONV_SHAPE[5],
                                   CONV_SHAPE[6], CONV_SHAPE[7]);

// A conv layer's output vec4s (4 filters each) at one position for the thread's rows: `sums` plus
// the dot products of each row's patch (from the states) with `count` ≤ CONV_FILTER_GROUP weight
// columns, column g from w_row + g (rows LAYER_OUT4[0] vec4s apart, in PyTorch's patch order). Each
// patch pixel is read once for all the columns: on a CPU adapter the reads, not the multiply-adds,
// are the cost.
fn add_conv_patch(sums: array<array<vec4<f32>, CONV_FILTER_GROUP>, ROWS_PER_THREAD>, count: u32, w_row: u32, position: u32,
                  state_offset: array<u32, ROWS_PER_THREAD>) -> array<array<vec4<f32>, CONV_FILTER_GROUP>, ROWS_PER_THREAD> {
  var out = sums;
  let origin = conv_origin(CONV_GEOMETRY, position);
  var w = w_row;
  for (var ch = 0u; ch < CONV_GEOMETRY.channels; ch++) {
    for (var ki = 0u; ki < CONV_GEOMETRY.kh; ki++) {
      for (var kj = 0u; kj < CONV_GEOMETRY.kw; kj++) {
        let source = conv_pixel(CONV_GEOMETRY, origin, ki, kj, ch);
        if (source >= 0) {
          var x: array<f32, ROWS_PER_THREAD>;
          for (var r = 0u; r < ROWS_PER_THREAD; r++) { x[r] = states[state_offset[r] + u32(source)]; }
          for (var g = 0u; g < CONV_FILTER_GROUP; g++) {
            if (g < count) {
              let weight = weights[w + g];
              for (var r = 0u; r < ROWS_PER_THREAD; r++) {
                out[r][g] = fma(vec4<f32>(x[r]), weight, out[r][g]);
              }
            }
          }
        }
        w += LAYER_OUT4[0];
      }
    }
  }
  return out;
}

// A dense layer's inputs, `inputs4` vec4s of the thread's rows in workgroup memory (row r at
// rows_base + r · ACT_STRIDE), into its register tile: acc[r · COLS_PER_THREAD + j] gains the
// products with output vec4 column col + j · COL_GROUPS of the stored weight rows from w_base
// (4 per input vec4, out4 vec4s apart), for the cols_here columns that exist.
fn add_dense_inputs(acc: ptr<function, array<vec4<f32>, TILE>>, rows_base: u32, inputs4: u32, w_base: u32, out4: u32,
                    col: u32, cols_here: u32) {
  for (var k4 = 0u; k4 < inputs4; k4++) {
    var a: array<vec4<f32>, ROWS_PER_THREAD>;
    for (var r = 0u; r < ROWS_PER_THREAD; r++) { a[r] = act[rows_base + r * ACT_STRIDE + k4]; }
    for (var j = 0u; j < COLS_PER_THREAD; j++) {
      if (j < cols_here) {
        let w_row = w_base + 4u * k4 * out4 + col + j * COL_GROUPS;
        let w0 = weights[w_row];
        let w1 = weights[w_row + out4];
        let w2 = weights[w_row + 2u * out4];
        let w3 = weights[w_row + 3u * out4];
        for (var r = 0u; r < ROWS_PER_THREAD; r++) {
          let t = r * COLS_PER_THREAD + j;
          (*acc)[t] = fma(vec4<f32>(a[r].x), w0, (*acc)[t]);
          (*acc)[t] = fma(vec4<f32>(a[r].y), w1, (*acc)[t]);
          (*acc)[t] = fma(vec4<f32>(a[r].z), w2, (*acc)[t]);
          (*acc)[t] = fma(vec4<f32>(a[r].w), w3, (*acc)[t]);
        }
      }
    }
  }
}

// Layers 0 (conv) and 1 (dense) of one lane's snapshot, chunk by chunk (CONV_FUSED): leaves
// relu(layer 1) in the lane's workgroup memory, as the layer loop would. Every thread of the
// workgroup calls it, as every thread takes part in its barriers.
fn conv_then_dense(lane_s: u32, s_end: u32, lane: u32, lane_act: u32, row_group: u32, col: u32,
                   state_offset: array<u32, ROWS_PER_THREAD>) {
  let computes = lane < LANES && lane_s < s_end;
  let snapshot = lane_s * SNAPSHOT_VEC4S;
  let filters4 = LAYER_OUT4[0];
  let conv_cols = LAYER_COLS4[0];
  let out4 = LAYER_OUT4[CONV_DENSE];
  let rows_base = lane_act + row_group * ROWS_PER_THREAD * ACT_STRIDE;
  // This thread's dense columns that exist (the rest of its register tile stays idle).
  let cols_here = (max(out4, col) - col + COL_GROUPS - 1u) / COL_GROUPS;
  // acc[r · COLS_PER_THREAD + j]: row r, dense vec4 column col + j · COL_GROUPS.
  var acc: array<vec4<f32>, TILE>;
  if (computes) {
    for (var j = 0u; j < COLS_PER_THREAD; j++) {
      let bias = weights[snapshot + LAYER_BIAS[CONV_DENSE] + min(col + j * COL_GROUPS, out4 - 1u)];
      for (var r = 0u; r < ROWS_PER_THREAD; r++) { acc[r * COLS_PER_THREAD + j] = bias; }
    }
  }
  for (var chunk = 0u; chunk < conv_cols; chunk += CONV_CHUNK_COLS4) {
    let chunk_cols = min(CONV_CHUNK_COLS4, conv_cols - chunk);
    // The chunk's conv outputs for this thread's rows, relu'd, into the lane's workgroup memory:
    // CONV_FILTER_GROUP columns of one position at a time, which share the patch's reads.
    if (computes) {
      for (var item = col; item < chunk_cols / CONV_FILTER_GROUP; item += COL_GROUPS) {
        let cc = item * CONV_FILTER_GROUP;
        let c = chunk + cc;
        var conv_out: array<array<vec4<f32>, CONV_FILTER_GROUP>, ROWS_PER_THREAD>;
        for (var g = 0u; g < CONV_FILTER_GROUP; g++) {
          let bias = weights[snapshot + LAYER_BIAS[0] + c % filters4 + g];
          for (var r = 0u; r < ROWS_PER_THREAD; r++) { conv_out[r][g] = bias; }
        }
        conv_out = add_conv_patch(conv_out, CONV_FILTER_GROUP, snapshot + LAYER_WEIGHTS[0] + c % filters4, c / filters4, state_offset);
        for (var g = 0u; g < CONV_FILTER_GROUP; g++) {
          for (var r = 0u; r < ROWS_PER_THREAD; r++) {
            act[rows_base + r * ACT_STRIDE + cc + g] = max(conv_out[r][g], vec4<f32>(0.0));
          }
        }
      }
    }
    if (LANE_BARRIERS) { workgroupBarrier(); }  // the chunk is written
    // The chunk's inputs (stored rows 4·chunk + 0.. of layer 1's weight) into the dense tile.
    if (computes) {
      let w_chunk = snapshot + LAYER_WEIGHTS[CONV_DENSE] + 4u * chunk * out4;
      add_dense_inputs(&acc, rows_base, chunk_cols, w_chunk, out4, col, cols_here);
    }
    if (LANE_BARRIERS) { workgroupBarrier(); }  // the chunk is read
  }
  if (computes) {
    for (var j = 0u; j < min(COLS_PER_THREAD, cols_here); j++) {
      for (var r = 0u; r < ROWS_PER_THREAD; r++) {
        act[rows_base + r * ACT_STRIDE + col + j * COL_GROUPS] = max(acc[r * COLS_PER_THREAD + j], vec4<f32>(0.0));
      }
    }
  }
  if (LANE_BARRIERS) { workgroupBarrier(); }  // layer 1 is complete
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let first_row = wg.x * TILE_ROWS;
  let last_state = params.batch - 1u;
  let s_begin = params.snapshot_begin + (params.snapshot_count * wg.y) / groups.y;
  let s_end = params.snapshot_begin + (params.snapshot_count * (wg.y + 1u)) / groups.y;
  let rounds = (s_end - s_begin + LANES - 1u) / LANES;

  // Hidden-layer role of this thread. Rows past the batch are computed on a clamped state (and
  // never written), and threads without work still take part in every barrier.
  let lane = lid / LANE_THREADS;
  let lane_thread = lid % LANE_THREADS;
  let row_group = lane_thread / COL_GROUPS;
  let col = lid % COL_GROUPS;
  let lane_act = lane * LANE_ACT;
  var state_offset: array<u32, ROWS_PER_THREAD>;
  for (var r = 0u; r < ROWS_PER_THREAD; r++) {
    state_offset[r] = min(first_row + row_group * ROWS_PER_THREAD + r, last_state) * INPUTS;
  }

  var head_sum: array<vec4<f32>, HEAD_UNITS_PER_THREAD>;

  for (var round = 0u; round < rounds; round++) {
    let lane_s = s_begin + round * LANES + lane;
    if (CONV_FUSED) {
      conv_then_dense(lane_s, s_end, lane, lane_act, row_group, col, state_offset);
    }
    for (var layer = select(0u, 2u, CONV_FUSED); layer < HEAD; layer++) {
      let out4 = LAYER_COLS4[layer];
      let w_cols = LAYER_OUT4[layer];
      let computes = lane < LANES && lane_s < s_end && col < out4;
      // acc[r · COLS_PER_THREAD + j]: row r, vec4 column col + j · COL_GROUPS.
      var acc: array<vec4<f32>, TILE>;
      if (computes) {
        let snapshot = lane_s * SNAPSHOT_VEC4S;
        for (var j = 0u; j < COLS_PER_THREAD; j++) {
          // Columns past this layer's width (never computed, never written) read its last bias.
          let bias = weights[snapshot + LAYER_BIAS[layer] + min(col + j * COL_GROUPS, out4 - 1u) % w_cols];
          for (var r = 0u; r < ROWS_PER_THREAD; r++) { acc[r * COLS_PER_THREAD + j] = bias; }
        }
        let w_base = snapshot + LAYER_WEIGHTS[layer];
        // This thread's columns that exist in this layer: a layer narrower than the widest (the
        // dense layer after a wide conv, say) leaves the rest of the register tile idle rather
        // than computing clamped copies that are never written.
        let cols_here = (out4 - col + COL_GROUPS - 1u) / COL_GROUPS;
        if (CONV && layer == 0u) {
          // Each column has its own position, so its own patch of the state.
          for (var j = 0u; j < min(COLS_PER_THREAD, cols_here); j++) {
            let c = col + j * COL_GROUPS;
            var column: array<array<vec4<f32>, CONV_FILTER_GROUP>, ROWS_PER_THREAD>;
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { column[r][0] = acc[r * COLS_PER_THREAD + j]; }
            column = add_conv_patch(column, 1u, w_base + c % w_cols, c / w_cols, state_offset);
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { acc[r * COLS_PER_THREAD + j] = column[r][0]; }
          }
        } else if (layer == 0u) {
          for (var k = 0u; k < INPUTS; k++) {
            var x: array<f32, ROWS_PER_THREAD>;
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { x[r] = states[state_offset[r] + k]; }
            for (var j = 0u; j < COLS_PER_THREAD; j++) {
              if (j < cols_here) {
                let w = weights[w_base + k * out4 + col + j * COL_GROUPS];
                for (var r = 0u; r < ROWS_PER_THREAD; r++) {
                  acc[r * COLS_PER_THREAD + j] = fma(vec4<f32>(x[r]), w, acc[r * COLS_PER_THREAD + j]);
                }
              }
            }
          }
        } else {
          let a_base = lane_act + row_group * ROWS_PER_THREAD * ACT_STRIDE;
          add_dense_inputs(&acc, a_base, LAYER_ROWS[layer] / 4u, w_base, out4, col, cols_here);
        }
      }
      if (LANE_BARRIERS) { workgroupBarrier(); }  // everyone has read the previous layer
      if (computes) {
        for (var j = 0u; j < COLS_PER_THREAD; j++) {
          let c = col + j * COL_GROUPS;
          if (c < out4) {
            for (var r = 0u; r < ROWS_PER_THREAD; r++) {
              act[lane_act + (row_group * ROWS_PER_THREAD + r) * ACT_STRIDE + c] = max(acc[r * COLS_PER_THREAD + j], vec4<f32>(0.0));
            }
          }
        }
      }
      if (LANE_BARRIERS) { workgroupBarrier(); }  // this layer is complete
    }

    // Head: c_s · (W x + b) for this thread's units of its lane, accumulated over the lane's
    // snapshots. Units are dealt to the lane's own threads, which read only the lane's activations.
    let steps = select(INPUTS, LAYER_ROWS[HEAD] / 4u, HEAD > 0u);
    let steps_per_part = (steps + HEAD_SPLIT - 1u) / HEAD_SPLIT;
    for (var u = 0u; u < HEAD_UNITS_PER_THREAD; u++) {
      let lane_unit = lane_thread + u * LANE_THREADS;
      if (lane < LANES && lane_unit < LANE_UNITS && lane_s < s_end) {
        let row = lane_unit % TILE_ROWS;
        let a4 = (lane_unit / TILE_ROWS) % HEAD_COLS;
        let part = lane_unit / OUT_UNITS;
        let snapshot = lane_s * SNAPSHOT_VEC4S;
        let w_head = snapshot + LAYER_WEIGHTS[HEAD] + a4;
        var partial = vec4<f32>(0.0);
        if (part == 0u) { partial = weights[snapshot + LAYER_BIAS[HEAD] + a4]; }
        let k_end = min(steps, (part + 1u) * steps_per_part);
        if (HEAD == 0u) {
          let x_base = min(first_row + row, last_state) * INPUTS;
          for (var k = part * steps_per_part; k < k_end; k++) {
            partial = fma(vec4<f32>(states[x_base + k]), weights[w_head + k * HEAD_COLS], partial);
          }
        } else {
          let a_row = lane_act + row * ACT_STRIDE;
          for (var k4 = part * steps_per_part; k4 < k_end; k4++) {
            let a = act[a_row + k4];
            let w_row = w_head + 4u * k4 * HEAD_COLS;
            partial = fma(vec4<f32>(a.x), weights[w_row], partial);
            partial = fma(vec4<f32>(a.y), weights[w_row + HEAD_COLS], partial);
            partial = fma(vec4<f32>(a.z), weights[w_row + 2u * HEAD_COLS], partial);
            partial = fma(vec4<f32>(a.w), weights[w_row + 3u * HEAD_COLS], partial);
          }
        }
        head_sum[u] = fma(vec4<f32>(coefficients[params.coefficient_base + (lane_s - params.snapshot_begin)]), partial, head_sum[u]);
      }
    }
  }

  // Add the lanes and head parts of each (row, 4 outputs) in a fixed order and write the tile.
  workgroupBarrier();  // every lane's last head has read `act`
  for (var u = 0u; u < HEAD_UNITS_PER_THREAD; u++) {
    let lane_unit = lane_thread + u * LANE_THREADS;
    if (lane < LANES && lane_unit < LANE_UNITS) { act[lane * LANE_UNITS + lane_unit] = head_sum[u]; }
  }
  workgroupBarrier();
  let out_base = (params.part_base + wg.y) * params.batch;
  for (var v = lid; v < OUT_UNITS; v += WORKGROUP_SIZE) {
    let row = first_row + v % TILE_ROWS;
    let a4 = v / TILE_ROWS;
    var total = act[v];
    for (var p = 1u; p < LANES * HEAD_SPLIT; p++) { total += act[v + p * OUT_UNITS]; }
    if (row < params.batch) {
      for (var i = 0u; i < 4u; i++) {
        let a = a4 * 4u + i;
        if (a < ACTIONS) { out[(out_base + row) * ACTIONS + a] = total[i]; }
      }
    }
  }
}
