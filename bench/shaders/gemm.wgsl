// C = A · B for row-major A [M, K] and B [K, N] (N and K multiples of 4): the plain
// register-tiled GEMM that benchmarks use to measure what this adapter can do (its "ceiling").
// Each thread computes ROWS_PER_THREAD rows × COLS_PER_THREAD vec4s of columns in registers,
// reading A as vec4s along K and B as vec4s along N — the same inner loop as the hidden layers of
// stack_forward.wgsl, without its workgroup memory and barriers.

const ROWS_PER_THREAD: u32 = 4u;  // @inject
const COLS_PER_THREAD: u32 = 1u;  // @inject vec4 columns per thread, THREADS_X apart
const THREADS_X: u32 = 16u;       // @inject threads along N
const THREADS_Y: u32 = 16u;       // @inject threads along M

const TILE: u32 = ROWS_PER_THREAD * COLS_PER_THREAD;

struct Params { m: u32, n: u32, k: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let n4 = params.n / 4u;
  let k4s = params.k / 4u;
  let col0 = wg.x * THREADS_X * COLS_PER_THREAD + local.x;
  let row0 = (wg.y * THREADS_Y + local.y) * ROWS_PER_THREAD;
  var a_row: array<u32, ROWS_PER_THREAD>;
  var acc: array<vec4<f32>, TILE>;
  for (var r = 0u; r < ROWS_PER_THREAD; r++) { a_row[r] = min(row0 + r, params.m - 1u) * k4s; }
  for (var k4 = 0u; k4 < k4s; k4++) {
    var x: array<vec4<f32>, ROWS_PER_THREAD>;
    for (var r = 0u; r < ROWS_PER_THREAD; r++) { x[r] = a[a_row[r] + k4]; }
    for (var j = 0u; j < COLS_PER_THREAD; j++) {
      // Columns past N repeat the last one; they are never written.
      let b_row = 4u * k4 * n4 + min(col0 + j * THREADS_X, n4 - 1u);
      let b0 = b[b_row];
      let b1 = b[b_row + n4];
      let b2 = b[b_row + 2u * n4];
      let b3 = b[b_row + 3u * n4];
      for (var r = 0u; r < ROWS_PER_THREAD; r++) {
        let t = r * COLS_PER_THREAD + j;
        acc[t] = fma(vec4<f32>(x[r].x), b0, acc[t]);
        acc[t] = fma(vec4<f32>(x[r].y), b1, acc[t]);
        acc[t] = fma(vec4<f32>(x[r].z), b2, acc[t]);
        acc[t] = fma(vec4<f32>(x[r].w), b3, acc[t]);
      }
    }
  }
  for (var r = 0u; r < ROWS_PER_THREAD; r++) {
    for (var j = 0u; j < COLS_PER_THREAD; j++) {
      let col = col0 + j * THREADS_X;
      if (row0 + r < params.m && col < n4) { c[(row0 + r) * n4 + col] = acc[r * COLS_PER_THREAD + j]; }
    }
  }
}
