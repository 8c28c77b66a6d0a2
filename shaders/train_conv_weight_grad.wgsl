// Trainer gradients of a conv layer 0's parameters (geometry CONV_SHAPE; src/stack/conv.ts), in the
// snapshot layout. The layer is one dense weight [C·kh·kw → filters] applied at every output
// position p, so stored row r (patch element r: channel, kernel row, kernel column) has
//   dW[r, o] = Σ_b Σ_p x[b, patch(p, r)] · dy[e, b, p, o]      db[o] = Σ_b Σ_p dy[e, b, p, o]
// where padding pixels add nothing (train_weight_grad.wgsl is the dense layers' kernel).
//
// Why a workgroup per gradient vec4: there are few of them, (C·kh·kw + 1) · filters / 4 per member
// (148 for the StaQ paper's MinAtar network), and each sums batch × positions terms (16 384 at
// batch 256). One thread per vec4 would leave a GPU nearly idle while each thread ran its whole
// sum alone. Here 64 threads make each vec4, then a fixed tree adds their 64 partial sums, so the
// result is the same on every run. The threads split the terms by position, so that each finds
// its pixel of the patch once per position rather than once per term (a few integer divisions): with at least 64 positions thread t takes positions t, t + 64, … and every batch
// row of each; with fewer, the threads form GROUPS = ⌊64 / POSITIONS⌋ groups of one thread per
// position, and group g takes batch rows g, g + GROUPS, … . Each thread adds its terms in order.
//
// Workgroups run along x (one per gradient vec4, folded into y past the device's limit by
// Kernel.grid), members along z.

const ROWS: u32 = 4u;              // @inject patch elements C·kh·kw (stored weight rows)
const X_STRIDE: u32 = 4u;          // @inject floats per state
const OUT4: u32 = 4u;              // @inject stored weight columns (filters, padded) / 4
const POSITIONS: u32 = 1u;         // @inject output positions H'·W'
const W_OFFSET: u32 = 0u;          // @inject
const B_OFFSET: u32 = 16u;         // @inject
const SNAPSHOT_VEC4S: u32 = 100u;  // @inject
const CONV_SHAPE: array<u32, 8> = array<u32, 8>(1u, 1u, 1u, 1u, 1u, 1u, 0u, 1u); // @inject conv_patch's ConvGeometry fields, in order

const LANES: u32 = 64u;
const GROUPS: u32 = max(1u, LANES / POSITIONS);

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // the states [batch, X_STRIDE]
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;         // [E, batch, POSITIONS, OUT4]
@group(0) @binding(3) var<storage, read_write> grads: array<vec4<f32>>; // snapshot layout, per member

// @include conv_patch
const CONV_GEOMETRY = ConvGeometry(CONV_SHAPE[0], CONV_SHAPE[1], CONV_SHAPE[2], CONV_SHAPE[3], CONV_SHAPE[4], CONV_SHAPE[5],
                                   CONV_SHAPE[6], CONV_SHAPE[7]);

var<workgroup> partial: array<vec4<f32>, LANES>;

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let e = wg.z;
  // The gradient vec4 of this workgroup: stored row r (r == ROWS: the bias), outputs o4. It is the
  // same for every thread of the workgroup, so this return leaves the barriers below uniform.
  let k = wg.x + wg.y * groups.x;
  if (k >= (ROWS + 1u) * OUT4) {
    return;
  }
  let r = k / OUT4;
  let o4 = k % OUT4;
  // Row r's pixel of the patch: channel, kernel row, kernel column.
  let ch = r / (CONV_GEOMETRY.kh * CONV_GEOMETRY.kw);
  let ki = (r / CONV_GEOMETRY.kw) % CONV_GEOMETRY.kh;
  let kj = r % CONV_GEOMETRY.kw;

  let batch_group = t / POSITIONS;   // < GROUPS: this thread's group (0 with 64 positions or more)
  let member_dy = e * params.batch * POSITIONS;
  var acc = vec4<f32>(0.0);
  for (var p = t % POSITIONS; p < POSITIONS && batch_group < GROUPS; p += LANES) {
    if (r == ROWS) {
      for (var b = batch_group; b < params.batch; b += GROUPS) {
        acc += dy[(member_dy + b * POSITIONS + p) * OUT4 + o4];
      }
      continue;
    }
    let source = conv_pixel(CONV_GEOMETRY, conv_origin(CONV_GEOMETRY, p), ki, kj, ch);
    if (source >= 0) {
      for (var b = batch_group; b < params.batch; b += GROUPS) {
        acc += x[b * X_STRIDE + u32(source)] * dy[(member_dy + b * POSITIONS + p) * OUT4 + o4];
      }
    }
  }

  partial[t] = acc;
  workgroupBarrier();
  for (var width = LANES / 2u; width > 0u; width /= 2u) {
    if (t < width) {
      partial[t] += partial[t + width];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let base = e * SNAPSHOT_VEC4S;
    if (r == ROWS) {
      grads[base + B_OFFSET + o4] = partial[0];
    } else {
      grads[base + W_OFFSET + r * OUT4 + o4] = partial[0];
    }
  }
}
