// C = A · B for row-major A [M, K] and B [K, N] (N a multiple of 4, K a multiple of 4): the plain
// register-tiled GEMM that benchmarks use to measure what this adapter can do (its "ceiling").
// Each thread computes ROWS_PER_THREAD rows × 4 columns in registers, reading A as vec4s along K
// and B as vec4s along N — the same inner loop as the hidden layers of stack_forward.wgsl.

const ROWS_PER_THREAD: u32 = 4u;  // @inject
const THREADS_X: u32 = 16u;       // @inject threads along N (4 columns each)
const THREADS_Y: u32 = 16u;       // @inject threads along M (ROWS_PER_THREAD rows each)

struct Params { m: u32, n: u32, k: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let n4 = params.n / 4u;
  let k4s = params.k / 4u;
  let col = id.x;
  let row0 = id.y * ROWS_PER_THREAD;
  if (col >= n4) { return; }
  var a_row: array<u32, ROWS_PER_THREAD>;
  var acc: array<vec4<f32>, ROWS_PER_THREAD>;
  for (var r = 0u; r < ROWS_PER_THREAD; r++) { a_row[r] = min(row0 + r, params.m - 1u) * k4s; }
  for (var k4 = 0u; k4 < k4s; k4++) {
    let b_row = 4u * k4 * n4 + col;
    let b0 = b[b_row];
    let b1 = b[b_row + n4];
    let b2 = b[b_row + 2u * n4];
    let b3 = b[b_row + 3u * n4];
    for (var r = 0u; r < ROWS_PER_THREAD; r++) {
      let x = a[a_row[r] + k4];
      acc[r] = fma(vec4<f32>(x.x), b0, acc[r]);
      acc[r] = fma(vec4<f32>(x.y), b1, acc[r]);
      acc[r] = fma(vec4<f32>(x.z), b2, acc[r]);
      acc[r] = fma(vec4<f32>(x.w), b3, acc[r]);
    }
  }
  for (var r = 0u; r < ROWS_PER_THREAD; r++) {
    if (row0 + r < params.m) { c[(row0 + r) * n4 + col] = acc[r]; }
  }
}
