// One Adam step on every parameter of every ensemble member, as torch.optim.Adam (single-tensor
// path) computes it in float32, in the same order:
//   g  = grad · clip + weight_decay · θ         clip = min(1, max_norm / (‖grad‖ + 1e-6)) if CLIP
//   m  = m · β1 + g · (1 − β1)
//   v  = v · β2 + ((1 − β2) · g) · g
//   θ  = θ + (−step_size) · (m / (sqrt(v) / bias2_root + ε))
// step_size = lr / (1 − β1^t) and bias2_root = sqrt(1 − β2^t) come from the host per step
// (PyTorch computes them in float64 and rounds them to float32 the same way).

const SNAPSHOT_VEC4S: u32 = 100u;  // @inject
const CLIP: bool = false;          // @inject

const WORKGROUP_SIZE: u32 = 64u;

// @include adam_update

struct Step {
  step_size: f32,
  bias2_root: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  max_norm: f32,
  count: u32,        // vec4s to update: E · SNAPSHOT_VEC4S
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> norms: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // x folds into y past the device's limit on workgroups per dimension (Kernel.grid).
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= step.count) {
    return;
  }
  var g = grads[k];
  if (CLIP) {
    g = g * adam_clip(step.max_norm, norms[k / SNAPSHOT_VEC4S]);
  }
  let constants = AdamConstants(step.step_size, step.bias2_root, step.beta1, step.beta2, step.one_minus_beta1,
                                step.one_minus_beta2, step.eps, step.weight_decay);
  let updated = adam_update(g, AdamState(params[k], m[k], v[k]), constants);
  m[k] = updated.m;
  v[k] = updated.v;
  params[k] = updated.theta;
}
