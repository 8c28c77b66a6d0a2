// Copies rows of WIDTH floats from `src` into `dst`, times `scale`: row i of the call goes from
// src row first_src + i to dst row first_dst + i or, with `indexed` 1, from src row rows[2i] to dst
// row rows[2i + 1]. The replay buffer's sums use it (src/train/replay-sums.ts) to turn logits into
// raw sums (scale 1/correction) and back (scale correction), to gather the next states that need a
// stack evaluation and to scatter what it gives into their rows (scale 1: exact).

const WIDTH: u32 = 4u; // @inject floats per row

struct Params {
  count: u32,      // rows to copy
  indexed: u32,    // 1: take the rows from `rows`; 0: consecutive rows from first_src and first_dst
  first_src: u32,
  first_dst: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;          // [count, 2]: (src row, dst row)
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// A grid-stride loop (Kernel.strideGrid): any number of elements in one dispatch.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * groups.y * 256u;
  for (var i = id.x + id.y * groups.x * 256u; i < params.count * WIDTH; i += stride) {
    let row = i / WIDTH;
    var src_row = params.first_src + row;
    var dst_row = params.first_dst + row;
    if (params.indexed == 1u) {
      src_row = rows[2u * row];
      dst_row = rows[2u * row + 1u];
    }
    dst[dst_row * WIDTH + i % WIDTH] = src[src_row * WIDTH + i % WIDTH] * params.scale;
  }
}
