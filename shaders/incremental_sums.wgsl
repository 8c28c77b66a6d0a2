// One push's update of the replay buffer's raw sums (docs/algorithm.md, “Incremental logits”):
//
//   sums ← β · (sums − dropped) + fresh
//
// dropped = Σ_e f32(c[e, oldest] / E) · Q_{e,oldest}(s') and fresh = Σ_e f32(α / E) · Q_{e,new}(s')
// are two stack_forward evaluations of one ring slot each, made before and after the push overwrote
// it (dropped is zero while the ring is not full). src/stack/incremental-sums.ts is the float64
// twin and carries the float32 bound of this order of operations.

struct Params {
  elements: u32,   // rows × actions
  beta: f32,       // β_k of the push, rounded once on the host
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dropped: array<f32>;
@group(0) @binding(2) var<storage, read> fresh: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;

// A grid-stride loop (Kernel.strideGrid): any number of elements in one dispatch.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * groups.y * 256u;
  for (var i = id.x + id.y * groups.x * 256u; i < params.elements; i += stride) {
    sums[i] = params.beta * (sums[i] - dropped[i]) + fresh[i];
  }
}
