// Trainer gradients of one dense layer's parameters, in the snapshot layout (stored row r, output o):
//   dW[r, o] = Σ_b x[e, b, r] · dy[e, b, o]        db[o] = Σ_b dy[e, b, o]
// summed over the batch in order (deterministic). One thread per (stored row or bias, vec4 of
// outputs, member); every vec4 of the layer is written, padded outputs included (dy is 0 there).
// Members are dispatch z; threads run along x, folded into y past the device's limit (Kernel.grid).
// A conv layer's gradients are train_conv_weight_grad.wgsl's.

const ROWS: u32 = 4u;              // @inject
const X_STRIDE: u32 = 4u;          // @inject floats per input row
const X_MEMBER_STRIDE: u32 = 0u;   // @inject floats per member in x (0: the states, shared)
const OUT4: u32 = 16u;             // @inject columns of the stored weight / 4
const W_OFFSET: u32 = 0u;          // @inject
const B_OFFSET: u32 = 16u;         // @inject
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject

const WORKGROUP_SIZE: u32 = 64u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;         // [E, batch, OUT4]
@group(0) @binding(3) var<storage, read_write> grads: array<vec4<f32>>; // snapshot layout, per member

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= (ROWS + 1u) * OUT4) {
    return;
  }
  let r = k / OUT4;   // r == ROWS: the bias
  let o4 = k % OUT4;
  var acc = vec4<f32>(0.0);
  for (var b = 0u; b < params.batch; b++) {
    let g = dy[(e * params.batch + b) * OUT4 + o4];
    if (r == ROWS) {
      acc += g;
    } else {
      acc += x[e * X_MEMBER_STRIDE + b * X_STRIDE + r] * g;
    }
  }
  let base = e * SNAPSHOT_VEC4S;
  if (r == ROWS) {
    grads[base + B_OFFSET + o4] = acc;
  } else {
    grads[base + W_OFFSET + r * OUT4 + o4] = acc;
  }
}
