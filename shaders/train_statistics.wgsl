// Running sums of each step's mean loss and mean |Q(s, a)| of the taken actions, per ensemble
// member, for the summary a soft Q fit reports (src/train/soft-q-fit.ts). One
// workgroup per member: thread t adds rows t, t + 64, … in order, a fixed tree adds the 64
// partials, and thread 0 adds the step's means to the sums with Kahan compensation, so thousands
// of steps lose no more than a few roundings.
//   sums[e] = (loss sum, loss compensation, |Q| sum, |Q| compensation)

const BATCH: u32 = 1u;  // @inject
const OUT4: u32 = 1u;   // @inject padded actions / 4

@group(0) @binding(0) var<storage, read> loss_rows: array<f32>;  // [E, BATCH]
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;    // [E, BATCH, OUT4]
@group(0) @binding(2) var<storage, read> actions: array<u32>;    // [BATCH]
@group(0) @binding(3) var<storage, read_write> sums: array<vec4<f32>>;  // [E]

var<workgroup> partial: array<vec2<f32>, 64>;

fn kahan_add(sum: f32, compensation: f32, value: f32) -> vec2<f32> {
  let y = value - compensation;
  let t = sum + y;
  return vec2<f32>(t, (t - sum) - y);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = wg.x;
  var sum = vec2<f32>(0.0);
  for (var b = t; b < BATCH; b += 64u) {
    let a = actions[b];
    sum += vec2<f32>(loss_rows[e * BATCH + b], abs(q[(e * BATCH + b) * OUT4 + a / 4u][a % 4u]));
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
    let means = partial[0] / f32(BATCH);
    let old = sums[e];
    let loss = kahan_add(old.x, old.y, means.x);
    let abs_q = kahan_add(old.z, old.w, means.y);
    sums[e] = vec4<f32>(loss, abs_q);
  }
}
