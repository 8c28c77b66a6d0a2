// The minibatches of `steps` consecutive gradient steps from the replay ring: for each, BATCH
// distinct rows drawn uniformly without replacement from the `size` filled rows, then gathered
// into dense batch buffers, step after step (the multi-dispatch trainer draws one step per
// dispatch; the fused trainer's target plan many). One thread per (step s, batch position b),
// g = s·BATCH + b (src/train/replay-sample.ts drives it; src/train/minibatch-sampling.ts is its
// exact CPU twin, so change them together):
//
//   idx           = π_s(b), π_s a keyed pseudo-random permutation of [0, size) for step step + s
//   indices[g]    = idx
//   states[g, :]  = obs[idx, :]     next_states[g, :] = next_obs[idx, :]     actions[g] = replay_actions[idx]
//
// π is a balanced Feistel network on [0, 4^h) (halves of h = domain_bits bits, the smallest h ≥ 1
// with 4^h ≥ size, computed on the host), restricted to [0, size) by cycle walking: apply it until
// the value is below size. Distinct positions get distinct rows by construction, with nothing shared
// between threads, and a row depends only on (seed, step, b), never on the dispatch layout.
// Round r's function is the first word of Philox4x32-10 at counter = (R, step_lo, step_hi,
// STREAM_MINIBATCH + r), key = (seed_lo, seed_hi), masked to h bits.

const INPUTS: u32 = 4u;   // @inject floats per observation
const BATCH: u32 = 64u;   // @inject rows per minibatch

const WORKGROUP_SIZE: u32 = 64u;

// Philox counter word 3 separates the streams drawn from one (seed, step) key: 0 is the policy's
// sampled actions (policy.wgsl), 1 the trainer's next-state actions (train_targets.wgsl),
// 0x100 + r round r of this permutation (0x100 … 0x109). STREAM_MINIBATCH in
// src/train/minibatch-sampling.ts is the same.
const STREAM_MINIBATCH: u32 = 0x100u;
// 10 rounds: fewer leave a measurable bias in the pairs drawn from tiny rings (FEISTEL_ROUNDS in
// src/train/minibatch-sampling.ts has the measurements).
const FEISTEL_ROUNDS: u32 = 10u;

// @include philox

struct SampleParams {
  size: u32,          // filled replay rows, BATCH ≤ size ≤ capacity
  seed_lo: u32,
  seed_hi: u32,
  step_lo: u32,
  step_hi: u32,
  domain_bits: u32,   // h
  steps: u32,         // consecutive steps drawn by this dispatch
  pad0: u32,
}

@group(0) @binding(0) var<uniform> params: SampleParams;
@group(0) @binding(1) var<storage, read> obs: array<f32>;                   // [capacity × INPUTS]
@group(0) @binding(2) var<storage, read> next_obs: array<f32>;              // [capacity × INPUTS]
@group(0) @binding(3) var<storage, read> replay_actions: array<u32>;        // [capacity]
@group(0) @binding(4) var<storage, read_write> indices: array<u32>;         // [steps × BATCH]
@group(0) @binding(5) var<storage, read_write> states: array<f32>;          // [steps × BATCH × INPUTS]
@group(0) @binding(6) var<storage, read_write> next_states: array<f32>;     // [steps × BATCH × INPUTS]
@group(0) @binding(7) var<storage, read_write> actions: array<u32>;         // [steps × BATCH]

// One pass of the Feistel network over [0, 4^h): round r maps (L, R) to (R, L ^ F_r(R)).
// h ≤ 16, so every shift is by less than 32 and (L << h) | R fits a u32.
fn feistel(value: u32, step_lo: u32, step_hi: u32) -> u32 {
  let bits = params.domain_bits;
  let mask = (1u << bits) - 1u;
  var left = value >> bits;
  var right = value & mask;
  for (var r = 0u; r < FEISTEL_ROUNDS; r++) {
    let f = philox4x32_10(vec4<u32>(right, step_lo, step_hi, STREAM_MINIBATCH + r),
                          vec2<u32>(params.seed_lo, params.seed_hi)).x & mask;
    let next = left ^ f;
    left = right;
    right = next;
  }
  return (left << bits) | right;
}

// (step, position) pairs run along x, folded into y past the device's limit on workgroups per
// dimension (Kernel.grid).
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let b = g % BATCH;
  // b < size is what makes the walk end (b's cycle returns to b); a caller that broke
  // BATCH ≤ size gets unwritten outputs here instead of a thread that never finishes.
  if (g >= params.steps * BATCH || b >= params.size) { return; }
  // Step step + g / BATCH, carried into the high word.
  let step_lo = params.step_lo + g / BATCH;
  let step_hi = params.step_hi + select(0u, 1u, step_lo < params.step_lo);
  var idx = b;
  loop {
    idx = feistel(idx, step_lo, step_hi);
    if (idx < params.size) { break; }
  }
  indices[g] = idx;
  let replay_row = idx * INPUTS;
  let batch_row = g * INPUTS;
  for (var i = 0u; i < INPUTS; i++) {
    states[batch_row + i] = obs[replay_row + i];
    next_states[batch_row + i] = next_obs[replay_row + i];
  }
  actions[g] = replay_actions[idx];
}
