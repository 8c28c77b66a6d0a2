// Trainer gradients of one dense layer's parameters, in the snapshot layout (stored row r, output o):
//   dW[r, o] = Σ_b x[e, b, r] · dy[e, b, o]        db[o] = Σ_b dy[e, b, o]
// each summed over the batch in order from 0 (deterministic). One thread computes a tile of
// ROW_TILE stored rows × COL_TILE vec4s of outputs, so that each loaded vec4 of dy serves ROW_TILE
// rows and each loaded input COL_TILE · 4 outputs (on a CPU adapter loads, not multiply-adds, bound
// this loop; the tile decides only which thread computes an element, never the order of its sum:
// shaders/train_fused.wgsl's weight_grad_tile is the same); one more thread per bias vec4. Every
// vec4 of the layer is written, padded outputs included (dy is 0 there). Members are dispatch z;
// threads run along x, folded into y past the device's limit (Kernel.grid). A conv layer's
// gradients are train_conv_weight_grad.wgsl's.

const ROWS: u32 = 4u;              // @inject
const X_STRIDE: u32 = 4u;          // @inject floats per input row
const X_MEMBER_STRIDE: u32 = 0u;   // @inject floats per member in x (0: the states, shared)
const OUT4: u32 = 16u;             // @inject columns of the stored weight / 4
const W_OFFSET: u32 = 0u;          // @inject
const B_OFFSET: u32 = 16u;         // @inject
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject

const WORKGROUP_SIZE: u32 = 64u;
const ROW_TILE: u32 = 8u;
const COL_TILE: u32 = 2u;
const COL_TILES: u32 = (OUT4 + COL_TILE - 1u) / COL_TILE;
const WEIGHT_TILES: u32 = ((ROWS + ROW_TILE - 1u) / ROW_TILE) * COL_TILES;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;         // [E, batch, OUT4]
@group(0) @binding(3) var<storage, read_write> grads: array<vec4<f32>>; // snapshot layout, per member

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;   // weight tiles, then bias vec4s
  if (k >= WEIGHT_TILES + OUT4) {
    return;
  }
  let base = e * SNAPSHOT_VEC4S;
  let member_dy = e * params.batch * OUT4;
  if (k >= WEIGHT_TILES) {
    let o4 = k - WEIGHT_TILES;
    var acc = vec4<f32>(0.0);
    for (var b = 0u; b < params.batch; b++) {
      acc += dy[member_dy + b * OUT4 + o4];
    }
    grads[base + B_OFFSET + o4] = acc;
    return;
  }
  let r0 = (k / COL_TILES) * ROW_TILE;
  let c0 = (k % COL_TILES) * COL_TILE;
  // Indices past an edge are clamped on load and never stored.
  var row: array<u32, ROW_TILE>;
  for (var j = 0u; j < ROW_TILE; j++) {
    row[j] = e * X_MEMBER_STRIDE + min(r0 + j, ROWS - 1u);
  }
  var col: array<u32, COL_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    col[c] = member_dy + min(c0 + c, OUT4 - 1u);
  }
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var b = 0u; b < params.batch; b++) {
    var g: array<vec4<f32>, COL_TILE>;
    for (var c = 0u; c < COL_TILE; c++) {
      g[c] = dy[col[c] + b * OUT4];
    }
    for (var j = 0u; j < ROW_TILE; j++) {
      let xj = x[row[j] + b * X_STRIDE];
      for (var c = 0u; c < COL_TILE; c++) {
        acc[j][c] += xj * g[c];
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      if (r0 + j < ROWS && c0 + c < OUT4) {
        grads[base + W_OFFSET + (r0 + j) * OUT4 + c0 + c] = acc[j][c];
      }
    }
  }
}
