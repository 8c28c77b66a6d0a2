// The regression loss of the taken action and its slope, as PyTorch's mse_loss / huber_loss
// compute them (a library: `// @include td_loss`; train_loss.wgsl and train_fused.wgsl use it,
// src/train/reference.ts is the float64 twin). The callers pass their HUBER and HUBER_DELTA
// constants; `grad_scale` is 2/B (MSE) or 1/B (Huber), rounded on the host as PyTorch rounds its
// scalar:
//   MSE    ℓ = d²                                     slope = grad_scale · d
//   Huber  ℓ = d²/2 (|d| ≤ δ), δ(|d| − δ/2) beyond     slope = grad_scale · clamp(d, −δ, δ)
// Returns (ℓ, slope).
fn td_loss(d: f32, grad_scale: f32, huber: bool, delta: f32) -> vec2<f32> {
  if (huber) {
    var value: f32;
    if (abs(d) <= delta) {
      value = 0.5 * d * d;
    } else {
      value = delta * (abs(d) - 0.5 * delta);
    }
    return vec2<f32>(value, grad_scale * clamp(d, -delta, delta));
  }
  return vec2<f32>(d * d, grad_scale * d);
}
