// MDPO's policy loss on one minibatch and its gradient at the policy head (src/train/mdpo-policy-fit.ts
// drives it; src/train/mdpo-reference.ts is the float64 twin and derives the error bounds):
//
//   L_b = Σ_a π(a|s_b) f_a,   f_a = c · (log π(a|s_b) − log π_old(a|s_b)) + λ · log π_old(a|s_b) − Q̄(s_b, a)
//   dq[b, a] = grad_scale · π_a · (f_a − L_b)   (a < ACTIONS; 0 in the head's padding)
//   loss_rows[b] = L_b
//
// with π = softmax(z) of the policy's online network, π_old = softmax(z_old) of its target network
// (π as it was when the fit began), Q̄ = (Σ_e Q_e) / E the mean of the critic's online networks,
// members added in order, c = η + τ and λ = τ (`kl_weight`, `prior_weight`), and grad_scale = 1/B,
// all three rounded to f32 on the host. dq is the gradient of the minibatch mean (1/B) Σ_b L_b with
// respect to the logits z: the term c · Σ_a π_a ∂log π_a/∂z_j = c · π_j (1 − Σ_a π_a) vanishes.
//
// Each log-softmax is computed stably, in the order of shaders/policy.wgsl (whose error bounds,
// src/policy/reference.ts, this kernel's bounds build on):
//   m = max_a z_a,  d_a = z_a − m,  e_a = exp(d_a),  s = e_0 + e_1 + … (in order),
//   p_a = e_a / s,  log π_a = d_a − log(s)
// and L_b adds p_a · f_a from 0 in action order.
//
// `policy_q` is the policy trainer's head outputs for 2 networks, [2, batch, OUT4]: the online
// network's rows first, then the target network's (on the same states). `critic_q` is the
// critic's online networks on those states, [CRITIC_ENSEMBLE, batch, CRITIC_OUT4].
// One thread per row b, along x, folded into y past the device's limit (Kernel.grid).

const ACTIONS: u32 = 2u;          // @inject
const OUT4: u32 = 1u;             // @inject padded actions / 4 of the policy head
const CRITIC_OUT4: u32 = 1u;      // @inject padded actions / 4 of the critic head
const CRITIC_ENSEMBLE: u32 = 1u;  // @inject

const WORKGROUP_SIZE: u32 = 64u;

struct Params {
  batch: u32,
  grad_scale: f32,     // 1/B
  kl_weight: f32,      // c = η + τ
  prior_weight: f32,   // λ = τ
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> policy_q: array<vec4<f32>>;      // [2, batch, OUT4]
@group(0) @binding(2) var<storage, read> critic_q: array<vec4<f32>>;      // [CRITIC_ENSEMBLE, batch, CRITIC_OUT4]
@group(0) @binding(3) var<storage, read_write> dq: array<vec4<f32>>;      // [batch, OUT4]
@group(0) @binding(4) var<storage, read_write> loss_rows: array<f32>;     // [batch]

// Logit a of row b of network `member` (0 online, 1 target).
fn logit(member: u32, b: u32, a: u32) -> f32 {
  return policy_q[(member * params.batch + b) * OUT4 + a / 4u][a % 4u];
}

// (Σ_e Q_e(s_b, a)) / E, members added in order.
fn mean_q(b: u32, a: u32) -> f32 {
  var sum = 0.0;
  for (var e = 0u; e < CRITIC_ENSEMBLE; e++) {
    sum += critic_q[(e * params.batch + b) * CRITIC_OUT4 + a / 4u][a % 4u];
  }
  return sum / f32(CRITIC_ENSEMBLE);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let b = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (b >= params.batch) {
    return;
  }
  var m = logit(0u, b, 0u);
  var m_old = logit(1u, b, 0u);
  for (var a = 1u; a < ACTIONS; a++) {
    m = max(m, logit(0u, b, a));
    m_old = max(m_old, logit(1u, b, a));
  }
  var e: array<f32, ACTIONS>;
  var s = 0.0;
  var s_old = 0.0;
  for (var a = 0u; a < ACTIONS; a++) {
    e[a] = exp(logit(0u, b, a) - m);
    s += e[a];
    s_old += exp(logit(1u, b, a) - m_old);
  }
  let log_s = log(s);
  let log_s_old = log(s_old);

  var p: array<f32, ACTIONS>;
  var f: array<f32, ACTIONS>;
  var loss = 0.0;
  for (var a = 0u; a < ACTIONS; a++) {
    let log_p = (logit(0u, b, a) - m) - log_s;
    let log_p_old = (logit(1u, b, a) - m_old) - log_s_old;
    p[a] = e[a] / s;
    f[a] = (params.kl_weight * (log_p - log_p_old) + params.prior_weight * log_p_old) - mean_q(b, a);
    loss += p[a] * f[a];
  }

  for (var o4 = 0u; o4 < OUT4; o4++) {
    var g = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
      let a = o4 * 4u + k;
      if (a < ACTIONS) {
        g[k] = params.grad_scale * (p[a] * (f[a] - loss));
      }
    }
    dq[b * OUT4 + o4] = g;
  }
  loss_rows[b] = loss;
}
