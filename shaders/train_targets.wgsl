// Regression targets of one minibatch (src/train/soft-q-fit.ts drives it; src/train/targets-reference.ts
// holds the float64 twins), by one of three rules, TARGET_KIND:
//
//   0 soft (StaQ):   y_b = c_r · r + γ · (1 − terminated) · (q̄ + τ · H)
//   1 max (DQN):     y_b = c_r · r + γ · (1 − terminated) · max_a Q̄(s', a)
//   2 munchausen (M-DQN, Vieillard, Pietquin & Geist 2020, as Dopamine's munchausen_dqn):
//                    y_b = c_r · r + α · clip(τ · log π̄(a|s), l₀, 0)
//                          + γ · (1 − terminated) · Σ_a' π̄(a'|s') (Q̄(s', a') − τ · log π̄(a'|s'))
//
// for the replay row i = indices[b] (state s, taken action a, next state s'), with Q̄(x, ·) =
// (Σ_e Q̄_e(x, ·)) / E the target networks' mean output, members added in order.
//
// soft: H = H(π_k(·|s'_i)), π_k's probabilities precomputed once per iteration from the stack's
// logits (src/train/replay-buffer.ts), and
//   sampled:     q̄ = Q̄(s', a'), a' ~ π_k(·|s'): the first a with u < Σ_{j ≤ a} p_j
//                (float32 running sum, as the policy kernel draws), else the last a with p_a > 0;
//                u from Philox4x32-10 at counter (b, step_lo, step_hi, STREAM_NEXT_ACTION).
//   expectation: q̄ = Σ_a p_a · Q̄(s', a).
// max and munchausen read neither π_k nor H (the replay buffer's policy need not be current).
//
// munchausen: π̄(·|x) = softmax(Q̄(x, ·) / τ), τ the uniform's tau (> 0), computed stably from
// m = max_b Q̄(x, b) and L = log Σ_b exp((Q̄(x, b) − m) / τ):
//   τ · log π̄(a|x) = (Q̄(x, a) − m) − τ · L.
// The clip is on τ · log π̄(a|s), not on log π̄: the paper's [τ ln π]_{l₀}^0 and Dopamine's
// tf.clip_by_value(tau * log_pi, clip_value_min, 0). The soft value of s' is computed in its
// closed form: Σ_a' π̄(a'|s') (Q̄(s', a') − τ log π̄(a'|s')) = Σ_a' π̄(a'|s') (m + τL) = m + τL
// exactly (the probabilities sum to 1), i.e. τ · logsumexp(Q̄(s', ·) / τ), with no products to
// round. Q̄(s, ·) comes from `head_q_states`, the target networks run on the minibatch states.
//
// Truncation is not termination: a truncated transition bootstraps like any other.
//
// One dispatch computes the targets of `steps` consecutive gradient steps (the multi-dispatch
// trainer: 1; the fused trainer's target plan, src/train/target-plan.ts: many, since the target
// networks do not change between refreshes). Row g = s·BATCH + b is position b of step
// step + s; its Q̄ values on s' are row g of each target member's outputs in head_q, whose
// members are `rows_per_member` rows apart and start at member TARGET_MEMBER_BASE (E when the
// online networks come first, as in the multi-dispatch trainer; 0 in the plan); its Q̄ values on
// s are row g of member e of head_q_states (members from 0, `rows_per_member` rows apart; bound
// to head_q, unread, unless TARGET_KIND is munchausen).
// One thread per row, along x, folded into y past the device's limit (Kernel.grid).

const ACTIONS: u32 = 2u;          // @inject
const OUT4: u32 = 1u;             // @inject padded actions / 4 of the target head
const ENSEMBLE: u32 = 1u;         // @inject
const BATCH: u32 = 1u;            // @inject
const EXPECTATION: bool = false;  // @inject
const TARGET_MEMBER_BASE: u32 = 1u;  // @inject the first target member in head_q
const TARGET_KIND: u32 = 0u;      // @inject 0 soft, 1 max, 2 munchausen

const KIND_SOFT: u32 = 0u;
const KIND_MAX: u32 = 1u;
const KIND_MUNCHAUSEN: u32 = 2u;

const WORKGROUP_SIZE: u32 = 64u;

// Philox counter word 3 of each stream (src/random/philox.ts lists them all).
const STREAM_NEXT_ACTION: u32 = 1u;

// @include philox

struct Step {
  seed_lo: u32,
  seed_hi: u32,
  step_lo: u32,
  step_hi: u32,
  reward_scale: f32,
  gamma: f32,
  tau: f32,               // soft: the entropy bonus; munchausen: the temperature; max: unread
  steps: u32,             // gradient steps whose targets this dispatch computes
  rows_per_member: u32,   // rows of one member in head_q and head_q_states
  alpha: f32,             // munchausen: α, the weight of the Munchausen term
  clip_min: f32,          // munchausen: l₀ ≤ 0, the lower clip of τ · log π̄(a|s)
  pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> indices: array<u32>;         // [steps × BATCH] replay rows
@group(0) @binding(2) var<storage, read> rewards: array<f32>;         // [capacity]
@group(0) @binding(3) var<storage, read> terminated: array<f32>;      // [capacity], 0 or 1
@group(0) @binding(4) var<storage, read> probs: array<f32>;           // [capacity, ACTIONS]
@group(0) @binding(5) var<storage, read> entropy: array<f32>;         // [capacity]
@group(0) @binding(6) var<storage, read> head_q: array<vec4<f32>>;    // [members, rows_per_member, OUT4]
@group(0) @binding(7) var<storage, read_write> targets: array<f32>;   // [steps × BATCH]
@group(0) @binding(8) var<storage, read> actions: array<u32>;         // [capacity] taken actions
@group(0) @binding(9) var<storage, read> head_q_states: array<vec4<f32>>;  // [E, rows_per_member, OUT4]

// (Σ_e Q̄_e(s', a)) / E for row g, members added in order.
fn mean_target_q(g: u32, a: u32) -> f32 {
  var sum = 0.0;
  for (var e = 0u; e < ENSEMBLE; e++) {
    sum += head_q[((TARGET_MEMBER_BASE + e) * step.rows_per_member + g) * OUT4 + a / 4u][a % 4u];
  }
  return sum / f32(ENSEMBLE);
}

// (Σ_e Q̄_e(s, a)) / E for row g, members added in order.
fn mean_state_q(g: u32, a: u32) -> f32 {
  var sum = 0.0;
  for (var e = 0u; e < ENSEMBLE; e++) {
    sum += head_q_states[(e * step.rows_per_member + g) * OUT4 + a / 4u][a % 4u];
  }
  return sum / f32(ENSEMBLE);
}

fn mean_q(on_states: bool, g: u32, a: u32) -> f32 {
  if (on_states) {
    return mean_state_q(g, a);
  }
  return mean_target_q(g, a);
}

// (m, τ · L) of row g's Q̄ on s (on_states) or s': m = max_b Q̄(x, b) and
// L = log Σ_b exp((Q̄(x, b) − m) / τ), the sum in action order.
fn scaled_log_partition(on_states: bool, g: u32) -> vec2<f32> {
  var m = mean_q(on_states, g, 0u);
  for (var a = 1u; a < ACTIONS; a++) {
    m = max(m, mean_q(on_states, g, a));
  }
  var z = 0.0;
  for (var a = 0u; a < ACTIONS; a++) {
    z += exp((mean_q(on_states, g, a) - m) / step.tau);
  }
  return vec2<f32>(m, step.tau * log(z));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (g >= step.steps * BATCH) {
    return;
  }
  let i = indices[g];
  if (TARGET_KIND == KIND_MAX) {
    var best = mean_target_q(g, 0u);
    for (var a = 1u; a < ACTIONS; a++) {
      best = max(best, mean_target_q(g, a));
    }
    targets[g] = step.reward_scale * rewards[i] + step.gamma * (1.0 - terminated[i]) * best;
    return;
  }
  if (TARGET_KIND == KIND_MUNCHAUSEN) {
    // α · clip(τ · log π̄(a|s), l₀, 0), a the taken action (see the header: the clip is on τ log π̄).
    let on_s = scaled_log_partition(true, g);
    let scaled_log_pi = (mean_state_q(g, actions[i]) - on_s.x) - on_s.y;
    let munchausen = step.alpha * clamp(scaled_log_pi, step.clip_min, 0.0);
    // The soft value of s' under π̄: m + τL (the header's closed form).
    let on_next = scaled_log_partition(false, g);
    let soft_value = on_next.x + on_next.y;
    targets[g] = step.reward_scale * rewards[i] + munchausen + step.gamma * (1.0 - terminated[i]) * soft_value;
    return;
  }
  let b = g % BATCH;
  // Step step + g / BATCH, carried into the high word.
  let step_lo = step.step_lo + g / BATCH;
  let step_hi = step.step_hi + select(0u, 1u, step_lo < step.step_lo);
  let first = i * ACTIONS;
  var q_bar = 0.0;
  if (EXPECTATION) {
    for (var a = 0u; a < ACTIONS; a++) {
      q_bar += probs[first + a] * mean_target_q(g, a);
    }
  } else {
    let bits = philox4x32_10(vec4<u32>(b, step_lo, step_hi, STREAM_NEXT_ACTION), vec2<u32>(step.seed_lo, step.seed_hi));
    let u = uniform_from_philox(bits.x);
    var cdf = 0.0;
    var chosen = ACTIONS;
    var last_positive = 0u;
    for (var a = 0u; a < ACTIONS; a++) {
      let p = probs[first + a];
      cdf += p;
      if (chosen == ACTIONS && u < cdf) { chosen = a; }
      if (p > 0.0) { last_positive = a; }
    }
    // Rounding can leave the float32 total just below u.
    if (chosen == ACTIONS) { chosen = last_positive; }
    q_bar = mean_target_q(g, chosen);
  }
  let soft_value = q_bar + step.tau * entropy[i];
  targets[g] = step.reward_scale * rewards[i] + step.gamma * (1.0 - terminated[i]) * soft_value;
}
