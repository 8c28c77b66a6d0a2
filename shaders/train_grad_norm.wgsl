// The L2 norm of each ensemble member's gradient (for clip_grad_norm_ and the step statistics):
// one workgroup per member; thread t sums the squares of vec4s t, t + 64, … in order, then the 64
// partial sums are added by a fixed tree, so the result is the same on every run.

const SNAPSHOT_VEC4S: u32 = 100u;  // @inject

@group(0) @binding(0) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> norms: array<f32>;      // [E]

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let base = wg.x * SNAPSHOT_VEC4S;
  var sum = 0.0;
  for (var k = t; k < SNAPSHOT_VEC4S; k += 64u) {
    let g = grads[base + k];
    sum += dot(g, g);
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var width = 32u; width > 0u; width /= 2u) {
    if (t < width) {
      partial[t] += partial[t + width];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    norms[wg.x] = sqrt(partial[0]);
  }
}
