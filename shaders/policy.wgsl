// The policy quantities of a batch of logits, one thread per row (src/policy/policy.ts drives it;
// src/policy/reference.ts is its float64 twin and derives the error bounds of every output from
// the exact formulas below, so change them together):
//
//   greedy    = argmax_a l_a (ties → lowest index)        m = l[greedy]
//   d_a       = l_a − m            e_a = exp(d_a)           z = Σ_a e_a (a = 0, 1, … in order)
//   probs     = e_a / z            logProbs = d_a − log z   entropy = −Σ_a probs_a · logProbs_a
//   behaviour = keep · w_a + share          (keep = 1 − ε, share = ε / A, both rounded on the host)
//               w_a = probs_a                   (behaviour_kind 0, "softmax": the ε-softmax)
//               w_a = 1 if a = greedy, else 0   (behaviour_kind 1, "greedy": ε-greedy)
//   sampled   = the first a with u < Σ_{j ≤ a} behaviour_j (float32 running sum), else the last
//               action whose behaviour probability is not zero
//
// with u = f32(x0 >> 8) · 2^-24 and x0 the first word of Philox4x32-10 at
// counter = (row + row_offset, step_lo, step_hi, 0), key = (seed_lo, seed_hi): a pure function of
// (seed, step, global row), so samples do not depend on how the batch is chunked. probs, logProbs
// and entropy are the softmax's in both kinds; only behaviour (and so the sample) follows the kind.
//
// Every loop runs in a fixed order and nothing is shared between threads, so the same inputs give
// bit-identical outputs on the same adapter, and a row's outputs never depend on other rows.

const ACTIONS: u32 = 4u; // @inject

// @include philox

struct Params {
  rows: u32,            // rows in this dispatch
  row_offset: u32,      // global index of this dispatch's first row (the Philox counter's word 0)
  step_lo: u32,
  step_hi: u32,
  seed_lo: u32,
  seed_hi: u32,
  keep: f32,            // 1 − ε
  share: f32,           // ε / ACTIONS
  // Element offsets of row 0 inside each binding (bindings start on 256-byte boundaries, callers'
  // buffers need not).
  logits_base: u32,
  probs_base: u32,
  log_probs_base: u32,
  entropy_base: u32,
  behaviour_base: u32,
  greedy_base: u32,
  sampled_base: u32,
  behaviour_kind: u32,  // 0: ε-softmax behaviour; 1: ε-greedy behaviour
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> log_probs_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> entropy_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> behaviour_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> greedy_out: array<u32>;
@group(0) @binding(7) var<storage, read_write> sampled_out: array<u32>;

// Maps a float's bits to a u32 that orders like the float, with −0 ranked equal to +0. Comparing
// these keys instead of the floats keeps the argmax exact even where the device flushes subnormal
// logits to zero (WGSL allows that), so the greedy action matches the float64 reference exactly.
fn order_key(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  if (bits == 0x80000000u) { return 0x80000000u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let row = id.x;
  if (row >= params.rows) { return; }
  let first = params.logits_base + row * ACTIONS;

  var best = 0u;
  var best_key = order_key(logits[first]);
  for (var a = 1u; a < ACTIONS; a++) {
    let key = order_key(logits[first + a]);
    if (key > best_key) {
      best = a;
      best_key = key;
    }
  }
  let top = logits[first + best];

  var e: array<f32, ACTIONS>;
  var z = 0.0;
  for (var a = 0u; a < ACTIONS; a++) {
    e[a] = exp(logits[first + a] - top);
    z += e[a];
  }
  let log_z = log(z);

  let bits = philox4x32_10(vec4<u32>(row + params.row_offset, params.step_lo, params.step_hi, 0u),
                           vec2<u32>(params.seed_lo, params.seed_hi));
  let u = uniform_from_philox(bits.x);

  let greedy_kind = params.behaviour_kind != 0u;
  var entropy = 0.0;
  var cdf = 0.0;
  var chosen = ACTIONS;
  // The greedy action's behaviour probability is never zero: in the softmax kind its probability
  // is at least 1/z ≥ 1/ACTIONS > 0, in the greedy kind its weight is 1 (and keep + share > 0).
  var last_positive = best;
  let out = row * ACTIONS;
  for (var a = 0u; a < ACTIONS; a++) {
    let p = e[a] / z;
    let log_p = (logits[first + a] - top) - log_z;
    // The softmax kind weighs p itself, so its behaviour is today's keep · p + share exactly.
    let weight = select(p, select(0.0, 1.0, a == best), greedy_kind);
    let b = params.keep * weight + params.share;
    probs_out[params.probs_base + out + a] = p;
    log_probs_out[params.log_probs_base + out + a] = log_p;
    behaviour_out[params.behaviour_base + out + a] = b;
    entropy -= p * log_p;
    cdf += b;
    // A zero-probability action never satisfies this first (cdf did not grow), so it is never drawn.
    if (chosen == ACTIONS && u < cdf) { chosen = a; }
    if (b > 0.0) { last_positive = a; }
  }
  // Rounding can leave the float32 total just below u; the draw then belongs to the last action
  // that can be drawn at all.
  if (chosen == ACTIONS) { chosen = last_positive; }

  entropy_out[params.entropy_base + row] = entropy;
  greedy_out[params.greedy_base + row] = best;
  sampled_out[params.sampled_base + row] = chosen;
}
