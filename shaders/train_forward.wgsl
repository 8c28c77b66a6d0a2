// Trainer forward pass, one layer: out[e, b, :] = act(W_e x[e, b, :] + bias_e) for every ensemble
// member e and batch row b, keeping the outputs (backprop needs them). src/train/mlp-trainer.ts
// drives it once per layer; src/train/reference.ts is its float64 twin.
//
// Weights are in the stack's snapshot layout (src/stack/layout.ts): W transposed, [ROWS][OUT4]
// vec4s, then the bias, OUT4 vec4s; member e's snapshot starts at vec4 e·SNAPSHOT_VEC4S. One
// thread computes four outputs (one vec4) of one row, summing over the inputs in order.
//
// The soft Q fit runs the target networks in the same dispatches (dispatch z = 2E): members
// e ≥ MEMBERS are target network e − MEMBERS, with weights from `weights_target` and, in layer 0,
// the next states from `x_target`; later layers read their own rows of x as every member does.
// Without target networks both extra bindings alias the online ones (read-only, so allowed) and
// dispatch z = MEMBERS never takes that branch. Threads cover (row, vec4 of outputs) along x,
// folded into y past the device's limit on workgroups per dimension (Kernel.grid).

const ROWS: u32 = 4u;              // @inject inputs of this layer as stored (layer 0: the state size)
const X_STRIDE: u32 = 4u;          // @inject floats per input row
const X_MEMBER_STRIDE: u32 = 0u;   // @inject floats per member in x (0: the states, shared)
const OUT4: u32 = 16u;             // @inject padded outputs / 4
const W_OFFSET: u32 = 0u;          // @inject vec4 offset of the weight in a snapshot
const B_OFFSET: u32 = 16u;         // @inject vec4 offset of the bias
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject
const RELU: bool = true;           // @inject false for the head
const MEMBERS: u32 = 1u;           // @inject E, the online networks

const WORKGROUP_SIZE: u32 = 64u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;   // [E or 2E, batch, OUT4]
@group(0) @binding(4) var<storage, read> x_target: array<f32>;
@group(0) @binding(5) var<storage, read> weights_target: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.z;
  let k = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (k >= params.batch * OUT4) {
    return;
  }
  let b = k / OUT4;
  let o4 = k % OUT4;
  let x_row = e * X_MEMBER_STRIDE + b * X_STRIDE;
  var acc: vec4<f32>;
  if (e < MEMBERS) {
    let snapshot = e * SNAPSHOT_VEC4S;
    acc = weights[snapshot + B_OFFSET + o4];
    for (var i = 0u; i < ROWS; i++) {
      acc += x[x_row + i] * weights[snapshot + W_OFFSET + i * OUT4 + o4];
    }
  } else {
    let snapshot = (e - MEMBERS) * SNAPSHOT_VEC4S;
    acc = weights_target[snapshot + B_OFFSET + o4];
    for (var i = 0u; i < ROWS; i++) {
      acc += x_target[x_row + i] * weights_target[snapshot + W_OFFSET + i * OUT4 + o4];
    }
  }
  if (RELU) {
    acc = max(acc, vec4<f32>(0.0));
  }
  out[(e * params.batch + b) * OUT4 + o4] = acc;
}
