// Soft-Bellman regression targets of one minibatch (src/train/soft-q-fit.ts drives it;
// softBellmanTargets in src/train/targets-reference.ts is its float64 twin):
//
//   y_b = c_r · r + γ · (1 − terminated) · (q̄ + τ · H)
//
// for the replay row i = indices[b], with H = H(π_k(·|s'_i)) and π_k's probabilities precomputed
// once per iteration from the stack's logits (src/train/replay-buffer.ts), and Q̄_e the target
// networks' outputs on s'_i (the forward pass ran just before, rows in batch order; target network
// e is member ENSEMBLE + e of the trainer's head outputs, after the online networks):
//   sampled:     q̄ = (Σ_e Q̄_e(s', a')) / E, a' ~ π_k(·|s'): the first a with u < Σ_{j ≤ a} p_j
//                (float32 running sum, as the policy kernel draws), else the last a with p_a > 0;
//                u from Philox4x32-10 at counter (b, step_lo, step_hi, STREAM_NEXT_ACTION).
//   expectation: q̄ = Σ_a p_a · (Σ_e Q̄_e(s', a)) / E.
// Truncation is not termination: a truncated transition bootstraps like any other.
//
// One dispatch computes the targets of `steps` consecutive gradient steps (the multi-dispatch
// trainer: 1; the fused trainer's target plan, src/train/target-plan.ts: many, since the target
// networks do not change between refreshes). Row g = s·BATCH + b is position b of step
// step + s; its Q̄ values are row g of each target member's outputs in head_q, whose members are
// `rows_per_member` rows apart and start at member TARGET_MEMBER_BASE (E when the online
// networks come first, as in the multi-dispatch trainer; 0 in the plan).
// One thread per row, along x, folded into y past the device's limit (Kernel.grid).

const ACTIONS: u32 = 2u;          // @inject
const OUT4: u32 = 1u;             // @inject padded actions / 4 of the target head
const ENSEMBLE: u32 = 1u;         // @inject
const BATCH: u32 = 1u;            // @inject
const EXPECTATION: bool = false;  // @inject
const TARGET_MEMBER_BASE: u32 = 1u;  // @inject the first target member in head_q

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
  tau: f32,
  steps: u32,             // gradient steps whose targets this dispatch computes
  rows_per_member: u32,   // rows of one member in head_q
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> indices: array<u32>;         // [steps × BATCH] replay rows
@group(0) @binding(2) var<storage, read> rewards: array<f32>;         // [capacity]
@group(0) @binding(3) var<storage, read> terminated: array<f32>;      // [capacity], 0 or 1
@group(0) @binding(4) var<storage, read> probs: array<f32>;           // [capacity, ACTIONS]
@group(0) @binding(5) var<storage, read> entropy: array<f32>;         // [capacity]
@group(0) @binding(6) var<storage, read> head_q: array<vec4<f32>>;    // [members, rows_per_member, OUT4]
@group(0) @binding(7) var<storage, read_write> targets: array<f32>;   // [steps × BATCH]

// (Σ_e Q̄_e(s', a)) / E for row g, members added in order.
fn mean_target_q(g: u32, a: u32) -> f32 {
  var sum = 0.0;
  for (var e = 0u; e < ENSEMBLE; e++) {
    sum += head_q[((TARGET_MEMBER_BASE + e) * step.rows_per_member + g) * OUT4 + a / 4u][a % 4u];
  }
  return sum / f32(ENSEMBLE);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (g >= step.steps * BATCH) {
    return;
  }
  let b = g % BATCH;
  // Step step + g / BATCH, carried into the high word.
  let step_lo = step.step_lo + g / BATCH;
  let step_hi = step.step_hi + select(0u, 1u, step_lo < step.step_lo);
  let i = indices[g];
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
