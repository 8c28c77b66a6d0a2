// Trainer forward pass, one layer: out[e, b, :] = act(W_e x[e, b, :] + bias_e) for every ensemble
// member e and batch row b, keeping the outputs (backprop needs them). src/train/mlp-trainer.ts
// drives it once per layer; src/train/reference.ts is its float64 twin.
//
// Weights are in the stack's snapshot layout (src/stack/layout.ts): W transposed, [rows][OUT4]
// vec4s, then the bias, OUT4 vec4s; member e's snapshot starts at vec4 e·SNAPSHOT_VEC4S. One
// thread computes a tile of ROW_TILE rows × COL_TILE vec4s of outputs, each output summing its
// inputs in order from the bias (the tile only decides which thread computes an output, and lets
// each loaded weight serve ROW_TILE rows and each loaded input COL_TILE · 4 outputs: on a CPU
// adapter loads, not multiply-adds, bound this loop). shaders/train_fused.wgsl's forward is the same.
//
// The soft Q fit runs the target networks as a second dispatch of the same pipeline: x is then
// the next states (layer 0) or the target networks' rows of the previous layer, `weights` the
// target networks, and params.member_base = E, so that they read and write rows E … 2E − 1 of the
// activations. One pair of (x, weights) buffers per dispatch, rather than both pairs bound and a
// branch between them at every load: on a CPU adapter (lavapipe) that branch made the layer about
// 1.15× slower. Threads cover (row tile, column tile) along x, folded into y past the device's
// limit on workgroups per dimension (Kernel.grid).
//
// A conv layer 0 (CONV; src/stack/conv.ts) is its weight applied to every output position's patch
// of the state: its output row is [positions][OUT4] vec4s (COLS4 in all), output vec4 column c is
// position c / OUT4, filters 4·(c % OUT4) + 0..3, and each output sums its patch in the weight's
// order (channel, kernel row, kernel column) from the bias, skipping padding pixels.
//
// The fused trainer's target plan (src/train/target-plan.ts) runs the target networks alone on
// the next states of many steps at once: `weights` are then the target networks, member_base 0 and
// `batch` is steps × minibatch rows.

const X_STRIDE: u32 = 4u;          // @inject floats per input row
const X_PER_MEMBER: bool = false;  // @inject false: x is the states, shared by every member; true: member e's rows follow e − 1's
const OUT4: u32 = 16u;             // @inject padded outputs / 4: columns of the stored weight
const COLS4: u32 = 16u;            // @inject output vec4s per row: OUT4, or positions × OUT4 for a conv layer
const W_OFFSET: u32 = 0u;          // @inject vec4 offset of the weight in a snapshot
const B_OFFSET: u32 = 16u;         // @inject vec4 offset of the bias
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject
const RELU: bool = true;           // @inject false for the head
const CONV: bool = false;          // @inject a conv layer, of geometry CONV_SHAPE
const CONV_SHAPE: array<u32, 8> = array<u32, 8>(1u, 1u, 1u, 1u, 1u, 1u, 0u, 1u); // @inject conv_patch's ConvGeometry fields, in order

const WORKGROUP_SIZE: u32 = 64u;
const ROW_TILE: u32 = 8u;
const COL_TILE: u32 = 2u;
// A conv layer's tiles each take COL_TILE vec4s of filters at one position, so that the tile's
// columns share the patch they read (POSITION_TILES tiles per position).
const POSITION_TILES: u32 = (OUT4 + COL_TILE - 1u) / COL_TILE;
const COL_TILES: u32 = select((COLS4 + COL_TILE - 1u) / COL_TILE, (COLS4 / OUT4) * POSITION_TILES, CONV);

struct Params {
  batch: u32,
  member_base: u32,  // rows of x (past layer 0) and of out start at member member_base + e (dispatch z = e)
  // A dense layer's inputs as stored (layer 0: the state size). A uniform, not a constant, so that
  // compilers do not unroll the loop over them: on lavapipe the unrolled loop ran about 1.5× slower.
  rows: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;   // [member_base + E, batch, COLS4] at least

// @include conv_patch
const CONV_GEOMETRY = ConvGeometry(CONV_SHAPE[0], CONV_SHAPE[1], CONV_SHAPE[2], CONV_SHAPE[3], CONV_SHAPE[4], CONV_SHAPE[5],
                                   CONV_SHAPE[6], CONV_SHAPE[7]);

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let member = params.member_base + e;
  let snapshot = e * SNAPSHOT_VEC4S;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let row_tiles = (params.batch + ROW_TILE - 1u) / ROW_TILE;
  if (k >= row_tiles * COL_TILES) {
    return;
  }
  let b0 = (k / COL_TILES) * ROW_TILE;
  let tile = k % COL_TILES;
  // Per tile column: its output vec4 column (clamped into the row), whether it is stored, and its
  // column of the stored weight (a conv layer's filters at the tile's position).
  let position = tile / POSITION_TILES;
  let c0 = select(tile * COL_TILE, (tile % POSITION_TILES) * COL_TILE, CONV);
  var col: array<u32, COL_TILE>;
  var stored: array<bool, COL_TILE>;
  var w_col: array<u32, COL_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    if (CONV) {
      w_col[c] = min(c0 + c, OUT4 - 1u);
      col[c] = position * OUT4 + w_col[c];
      stored[c] = c0 + c < OUT4;
    } else {
      col[c] = min(c0 + c, COLS4 - 1u);
      w_col[c] = col[c];
      stored[c] = c0 + c < COLS4;
    }
  }
  // Where each row of the tile starts in x (rows past the batch read its last row, never stored).
  var x_row: array<u32, ROW_TILE>;
  for (var j = 0u; j < ROW_TILE; j++) {
    x_row[j] = (select(0u, member * params.batch, X_PER_MEMBER) + min(b0 + j, params.batch - 1u)) * X_STRIDE;
  }
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    let bias = weights[snapshot + B_OFFSET + w_col[c]];
    for (var j = 0u; j < ROW_TILE; j++) {
      acc[j][c] = bias;
    }
  }
  if (CONV) {
    // The tile's position's patch, in the weight's order; padding pixels add nothing.
    let origin = conv_origin(CONV_GEOMETRY, position);
    var w_row = W_OFFSET;
    for (var ch = 0u; ch < CONV_GEOMETRY.channels; ch++) {
      for (var ki = 0u; ki < CONV_GEOMETRY.kh; ki++) {
        for (var kj = 0u; kj < CONV_GEOMETRY.kw; kj++) {
          let source = conv_pixel(CONV_GEOMETRY, origin, ki, kj, ch);
          if (source >= 0) {
            var w: array<vec4<f32>, COL_TILE>;
            for (var c = 0u; c < COL_TILE; c++) {
              w[c] = weights[snapshot + w_row + w_col[c]];
            }
            for (var j = 0u; j < ROW_TILE; j++) {
              let xi = x[x_row[j] + u32(source)];
              for (var c = 0u; c < COL_TILE; c++) {
                acc[j][c] += xi * w[c];
              }
            }
          }
          w_row += OUT4;
        }
      }
    }
  } else {
    for (var i = 0u; i < params.rows; i++) {
      var w: array<vec4<f32>, COL_TILE>;
      for (var c = 0u; c < COL_TILE; c++) {
        w[c] = weights[snapshot + W_OFFSET + i * OUT4 + col[c]];
      }
      for (var j = 0u; j < ROW_TILE; j++) {
        let xi = x[x_row[j] + i];
        for (var c = 0u; c < COL_TILE; c++) {
          acc[j][c] += xi * w[c];
        }
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      if (b0 + j < params.batch && stored[c]) {
        var value = acc[j][c];
        if (RELU) {
          value = max(value, vec4<f32>(0.0));
        }
        out[(member * params.batch + b0 + j) * COLS4 + col[c]] = value;
      }
    }
  }
}
