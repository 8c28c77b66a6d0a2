// The soft Q fit's loss with the smoothness regulariser, its gradient dq with respect to the online
// networks' outputs, and the step's statistics (src/train/soft-q-fit.ts drives it;
// src/train/smoothness-reference.ts is its float64 twin). It replaces both train_loss.wgsl and
// train_statistics.wgsl for a trainer whose rows are [s; s + ε; s'], ROWS = 3·BATCH per member
// (smoothness_states.wgsl writes the last 2·BATCH). For member e and minibatch row b, with
// q_0 = Q_e(s_b, ·), q_1 = Q_e(s_b + ε_b, ·), q_2 = Q_e(s'_b, ·) (rows b, BATCH + b, 2·BATCH + b):
//
//   regression  d = q_0[a_b] − y_b, (ℓ, slope) = td_loss(d, GRAD_SCALE, …), as train_loss.wgsl;
//   smoothness  for x = 1 (weight λ_S) and x = 2 (λ_T), A(·, a) = Q(·, a) − mean_c Q(·, c):
//                 δ_a = q_x[a] − q_0[a],  D_a = δ_a − (Σ_c δ_c) / ACTIONS   (= A(x, a) − A(s, a)),
//                 P_x = Σ_a D_a²,
//                 g_x[a] = SCALE_x · (D_a − (Σ_c D_c) / ACTIONS),  SCALE_x = 2λ_x / BATCH,
//               the gradient of λ_x P_x / BATCH with respect to q_x (∂P_x/∂q_x[a] = 2(D_a − mean D),
//               whose mean is 0 but for rounding) and minus that with respect to q_0;
//   dq          row b: slope at a_b, minus (g_1 + g_2);  row BATCH + b: g_1;  row 2·BATCH + b: g_2;
//               pads 0: the gradient of the minibatch mean of ℓ + λ_S P_1 + λ_T P_2;
//   loss_rows   row b: ℓ;  row BATCH + b: P_1;  row 2·BATCH + b: P_2 (unweighted);
//   sums        as train_statistics.wgsl, Kahan-compensated (sum, compensation) pairs of the step's
//               means: sums[2e] += (mean ℓ, mean |q_0[a_b]|), sums[2e + 1] += (mean P_1, mean P_2).
//
// GRAD_SCALE and the SCALEs are rounded to f32 on the host. One workgroup per member: thread t
// takes rows t, t + 64, … in order, a fixed tree adds the 64 partials, and thread 0 adds the means.

const ACTIONS: u32 = 2u;              // @inject
const OUT4: u32 = 1u;                 // @inject padded actions / 4
const BATCH: u32 = 1u;                // @inject B, the minibatch's rows
const HUBER: bool = false;            // @inject
const HUBER_DELTA: f32 = 1.0f;        // @inject
const GRAD_SCALE: f32 = 2.0f;         // @inject 2/B (MSE) or 1/B (Huber)
const STATE_SCALE: f32 = 0.0f;        // @inject 2λ_S/B
const TRANSITION_SCALE: f32 = 0.0f;   // @inject 2λ_T/B

const ROWS: u32 = 3u * BATCH;

// @include td_loss

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;             // [≥ E, ROWS, OUT4], online members first
@group(0) @binding(1) var<storage, read> actions: array<u32>;             // [≥ BATCH]
@group(0) @binding(2) var<storage, read> targets: array<f32>;             // [≥ BATCH]
@group(0) @binding(3) var<storage, read_write> dq: array<vec4<f32>>;      // [E, ROWS, OUT4]
@group(0) @binding(4) var<storage, read_write> loss_rows: array<f32>;     // [E, ROWS]
@group(0) @binding(5) var<storage, read_write> sums: array<vec4<f32>>;    // [E, 2]

var<workgroup> partial: array<vec4<f32>, 64>;

fn q_at(row: u32, a: u32) -> f32 {
  return q[row * OUT4 + a / 4u][a % 4u];
}

fn kahan_add(sum: f32, compensation: f32, value: f32) -> vec2<f32> {
  let y = value - compensation;
  let t = sum + y;
  return vec2<f32>(t, (t - sum) - y);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = wg.x;
  var sum = vec4<f32>(0.0);
  for (var b = t; b < BATCH; b += 64u) {
    let r0 = e * ROWS + b;
    let r1 = r0 + BATCH;
    let r2 = r1 + BATCH;
    let taken = actions[b];
    let q_taken = q_at(r0, taken);
    let loss = td_loss(q_taken - targets[b], GRAD_SCALE, HUBER, HUBER_DELTA);

    var d1: array<f32, ACTIONS>;
    var d2: array<f32, ACTIONS>;
    var sum1 = 0.0;
    var sum2 = 0.0;
    for (var a = 0u; a < ACTIONS; a++) {
      let base = q_at(r0, a);
      d1[a] = q_at(r1, a) - base;
      d2[a] = q_at(r2, a) - base;
      sum1 += d1[a];
      sum2 += d2[a];
    }
    let mean1 = sum1 / f32(ACTIONS);
    let mean2 = sum2 / f32(ACTIONS);
    var p1 = 0.0;
    var p2 = 0.0;
    var centre1 = 0.0;
    var centre2 = 0.0;
    for (var a = 0u; a < ACTIONS; a++) {
      d1[a] = d1[a] - mean1;
      d2[a] = d2[a] - mean2;
      p1 += d1[a] * d1[a];
      p2 += d2[a] * d2[a];
      centre1 += d1[a];
      centre2 += d2[a];
    }
    centre1 = centre1 / f32(ACTIONS);
    centre2 = centre2 / f32(ACTIONS);

    for (var o4 = 0u; o4 < OUT4; o4++) {
      var g0 = vec4<f32>(0.0);
      var g1 = vec4<f32>(0.0);
      var g2 = vec4<f32>(0.0);
      for (var k = 0u; k < 4u; k++) {
        let a = 4u * o4 + k;
        if (a < ACTIONS) {
          let x1 = STATE_SCALE * (d1[a] - centre1);
          let x2 = TRANSITION_SCALE * (d2[a] - centre2);
          g1[k] = x1;
          g2[k] = x2;
          g0[k] = select(0.0, loss.y, a == taken) - (x1 + x2);
        }
      }
      dq[r0 * OUT4 + o4] = g0;
      dq[r1 * OUT4 + o4] = g1;
      dq[r2 * OUT4 + o4] = g2;
    }
    loss_rows[r0] = loss.x;
    loss_rows[r1] = p1;
    loss_rows[r2] = p2;
    sum += vec4<f32>(loss.x, abs(q_taken), p1, p2);
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
    let first = sums[2u * e];
    let second = sums[2u * e + 1u];
    sums[2u * e] = vec4<f32>(kahan_add(first.x, first.y, means.x), kahan_add(first.z, first.w, means.y));
    sums[2u * e + 1u] = vec4<f32>(kahan_add(second.x, second.y, means.z), kahan_add(second.z, second.w, means.w));
  }
}
