// Trainer loss on the taken actions, and its gradient with respect to the head's outputs:
//   d = q[e, b, a_b] − y_b,  loss_rows[e, b] = ℓ(d),  dq[e, b, a_b] = ℓ'(d)-scaled, 0 elsewhere,
// with PyTorch's formulas (mse_loss / huber_loss backward, mean reduction over the batch):
//   MSE    ℓ = d²                          grad = (2/B)·d
//   Huber  ℓ = d²/2 (|d| ≤ δ), δ(|d| − δ/2)  grad = (1/B)·clamp(d, −δ, δ)
// `grad_scale` is 2/B or 1/B rounded to f32 on the host, as PyTorch rounds its scalar.
// One thread per (row, member); every output element of the row is written (pads get 0). Members
// are dispatch z; rows run along x, folded into y past the device's limit (Kernel.grid).

const OUT4: u32 = 1u;            // @inject padded actions / 4
const HUBER: bool = false;        // @inject
const HUBER_DELTA: f32 = 1.0f;    // @inject

const WORKGROUP_SIZE: u32 = 64u;

// @include td_loss

struct Params {
  batch: u32,
  grad_scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // [E, batch, OUT4]
@group(0) @binding(2) var<storage, read> actions: array<u32>;          // [batch]
@group(0) @binding(3) var<storage, read> targets: array<f32>;          // [batch]
@group(0) @binding(4) var<storage, read_write> dq: array<vec4<f32>>;   // [E, batch, OUT4]
@group(0) @binding(5) var<storage, read_write> loss_rows: array<f32>;  // [E, batch]

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let b = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let e = id.z;
  if (b >= params.batch) {
    return;
  }
  let row = (e * params.batch + b) * OUT4;
  let a = actions[b];
  let loss = td_loss(q[row + a / 4u][a % 4u] - targets[b], params.grad_scale, HUBER, HUBER_DELTA);
  let value = loss.x;
  let slope = loss.y;
  for (var o4 = 0u; o4 < OUT4; o4++) {
    var g = vec4<f32>(0.0);
    if (o4 == a / 4u) {
      g[a % 4u] = slope;
    }
    dq[row + o4] = g;
  }
  loss_rows[e * params.batch + b] = value;
}
