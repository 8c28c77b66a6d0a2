// One Adam update of a vec4 of parameters, as torch.optim.Adam (single-tensor path) computes it in
// float32, in the same order (a library: `// @include adam_update`; train_adam.wgsl and
// train_fused.wgsl use it, src/train/reference.ts is the float64 twin):
//   g  = grad · clip + weight_decay · θ
//   m  = m · β1 + g · (1 − β1)
//   v  = v · β2 + ((1 − β2) · g) · g
//   θ  = θ + (−step_size) · (m / (sqrt(v) / bias2_root + ε))
// step_size = lr / (1 − β1^t) and bias2_root = sqrt(1 − β2^t) come from the host per step (PyTorch
// computes them in float64 and rounds them to float32 the same way). `clip` is
// min(1, max_norm / (‖grad‖ + 1e-6)) when clipping, else 1 (the caller skips the product then:
// see adam_clip).

struct AdamConstants {
  step_size: f32,
  bias2_root: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
}

struct AdamState {
  theta: vec4<f32>,
  m: vec4<f32>,
  v: vec4<f32>,
}

// clip_grad_norm_'s coefficient for a gradient of norm `norm`.
fn adam_clip(max_norm: f32, norm: f32) -> f32 {
  return min(max_norm / (norm + 1e-6), 1.0);
}

// `grad` already clipped; returns the new parameters and moments.
fn adam_update(grad: vec4<f32>, state: AdamState, c: AdamConstants) -> AdamState {
  let g = grad + c.weight_decay * state.theta;
  let m = state.m * c.beta1 + g * c.one_minus_beta1;
  let v = state.v * c.beta2 + (c.one_minus_beta2 * g) * g;
  return AdamState(state.theta + (-c.step_size) * (m / (sqrt(v) / c.bias2_root + c.eps)), m, v);
}
