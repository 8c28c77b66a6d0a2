// Trainer backward pass through one layer l ≥ 1 to its input:
//   dx[e, b, i] = relu'(x[e, b, i]) · Σ_o dy[e, b, o] · W_e[o, i]
// where x is layer l − 1's output (after its ReLU: relu' = 1 where x > 0). W is stored transposed
// ([ROWS][OUT4] vec4s), so row i of the stored weight holds W[·, i]. Each sum runs over the
// outputs in order, a vec4 of them at a time. One thread computes a tile of ROW_TILE batch rows ×
// COL_TILE vec4s of inputs, so that each loaded weight serves ROW_TILE rows and each loaded vec4
// of dy COL_TILE · 4 inputs (on a CPU adapter loads, not multiply-adds, bound this loop; the tile
// decides only which thread computes an element: shaders/train_fused.wgsl's input_grad_tile is the
// same). Members are dispatch z; threads run along x, folded into y past the device's limit
// (Kernel.grid).

const ROWS: u32 = 16u;             // @inject inputs of this layer (a multiple of 4: the previous padded width)
const OUT4: u32 = 1u;              // @inject padded outputs / 4
const W_OFFSET: u32 = 0u;          // @inject
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject

const WORKGROUP_SIZE: u32 = 64u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;         // [E, batch, OUT4]
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;          // [E, batch, ROWS / 4]
@group(0) @binding(3) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;   // [E, batch, ROWS / 4]

const IN4: u32 = ROWS / 4u;
const ROW_TILE: u32 = 8u;
const COL_TILE: u32 = 2u;
const COL_TILES: u32 = (IN4 + COL_TILE - 1u) / COL_TILE;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= ((params.batch + ROW_TILE - 1u) / ROW_TILE) * COL_TILES) {
    return;
  }
  let b0 = (k / COL_TILES) * ROW_TILE;
  let c0 = (k % COL_TILES) * COL_TILE;
  // Indices past an edge are clamped on load and never stored.
  let w = e * SNAPSHOT_VEC4S + W_OFFSET;
  var col: array<u32, COL_TILE>;
  for (var c = 0u; c < COL_TILE; c++) {
    col[c] = w + 4u * min(c0 + c, IN4 - 1u) * OUT4;
  }
  var row: array<u32, ROW_TILE>;
  for (var j = 0u; j < ROW_TILE; j++) {
    row[j] = (e * params.batch + min(b0 + j, params.batch - 1u)) * OUT4;
  }
  var acc: array<array<vec4<f32>, COL_TILE>, ROW_TILE>;
  for (var o4 = 0u; o4 < OUT4; o4++) {
    var wi: array<array<vec4<f32>, COL_TILE>, 4>;
    for (var c = 0u; c < COL_TILE; c++) {
      wi[0][c] = weights[col[c] + o4];
      wi[1][c] = weights[col[c] + OUT4 + o4];
      wi[2][c] = weights[col[c] + 2u * OUT4 + o4];
      wi[3][c] = weights[col[c] + 3u * OUT4 + o4];
    }
    for (var j = 0u; j < ROW_TILE; j++) {
      let g = dy[row[j] + o4];
      for (var c = 0u; c < COL_TILE; c++) {
        acc[j][c].x += dot(g, wi[0][c]);
        acc[j][c].y += dot(g, wi[1][c]);
        acc[j][c].z += dot(g, wi[2][c]);
        acc[j][c].w += dot(g, wi[3][c]);
      }
    }
  }
  for (var j = 0u; j < ROW_TILE; j++) {
    for (var c = 0u; c < COL_TILE; c++) {
      if (b0 + j < params.batch && c0 + c < IN4) {
        let index = (e * params.batch + b0 + j) * IN4 + c0 + c;
        dx[index] = select(vec4<f32>(0.0), acc[j][c], x[index] > vec4<f32>(0.0));
      }
    }
  }
}
