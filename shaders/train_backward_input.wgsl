// Trainer backward pass through one layer l ≥ 1 to its input:
//   dx[e, b, i] = relu'(x[e, b, i]) · Σ_o dy[e, b, o] · W_e[o, i]
// where x is layer l − 1's output (after its ReLU: relu' = 1 where x > 0). W is stored transposed
// ([ROWS][OUT4] vec4s), so row i of the stored weight holds W[·, i]. One thread writes four
// consecutive inputs (one vec4) of one row; sums run over the outputs in order. Members are
// dispatch z; threads run along x, folded into y past the device's limit (Kernel.grid).

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= params.batch * IN4) {
    return;
  }
  let b = k / IN4;
  let i4 = k % IN4;
  let w = e * SNAPSHOT_VEC4S + W_OFFSET;
  let dy_row = (e * params.batch + b) * OUT4;
  var acc = vec4<f32>(0.0);
  for (var o4 = 0u; o4 < OUT4; o4++) {
    let g = dy[dy_row + o4];
    acc.x += dot(g, weights[w + (i4 * 4u + 0u) * OUT4 + o4]);
    acc.y += dot(g, weights[w + (i4 * 4u + 1u) * OUT4 + o4]);
    acc.z += dot(g, weights[w + (i4 * 4u + 2u) * OUT4 + o4]);
    acc.w += dot(g, weights[w + (i4 * 4u + 3u) * OUT4 + o4]);
  }
  let index = (e * params.batch + b) * IN4 + i4;
  dx[index] = select(vec4<f32>(0.0), acc, x[index] > vec4<f32>(0.0));
}
