// The extra rows of the soft Q fit's smoothness regulariser (src/train/soft-q-fit.ts drives it;
// src/train/smoothness-reference.ts is its float64 twin). After the sampler has gathered the
// minibatch's states s into rows 0 … BATCH − 1 of `states` and its next states s' into rows
// 0 … BATCH − 1 of `next_states`, this kernel writes
//
//   states[BATCH + b, :]     = s_b + ε_b,  ε_b = SIGMA · z_b,  z_b ~ N(0, I)
//   states[2·BATCH + b, :]   = s'_b
//
// so that the trainer's forward over 3·BATCH rows runs the online networks on [s; s + ε; s'].
// Inputs 4j … 4j + 3 of row b take the four words of Philox4x32-10 at counter
// (b, step_lo, step_hi, STREAM_STATE_NOISE + j), key (seed_lo, seed_hi), as two Box–Muller pairs:
// with u, v the uniforms of two words (top 24 bits · 2^-24, uniform_from_philox),
//
//   r = sqrt(max(−2 log(1 − u), 0)),  θ = PI_BELOW · (2v − 1),  (z, z') = (r cos θ, r sin θ).
//
// 1 − u lies in [2^-24, 1] and is exact, so the log is finite (the max keeps a log(1) rounded
// above 0 out of the sqrt); 2v − 1 is exact and PI_BELOW is the largest float32 below π, so θ
// stays inside [−π, π], where WGSL bounds the error of cos and sin. z is a pure function of
// (seed, step, b, input): never of the batch size or the dispatch.
// One thread per (row b, chunk j), g = b · CHUNKS + j, along x, folded into y (Kernel.grid).

const INPUTS: u32 = 4u;     // @inject floats per state
const BATCH: u32 = 1u;      // @inject B, the minibatch's rows
const SIGMA: f32 = 0.01f;   // @inject σ, the noise's standard deviation

const CHUNKS: u32 = (INPUTS + 3u) / 4u;
const WORKGROUP_SIZE: u32 = 64u;
// Philox counter word 3 of each stream (src/random/philox.ts lists them all): 0x80000000 + j.
const STREAM_STATE_NOISE: u32 = 0x80000000u;
// The largest float32 below π (3.14159250259…).
const PI_BELOW: f32 = 3.1415925f;

// @include philox

struct Params {
  seed_lo: u32,
  seed_hi: u32,
  step_lo: u32,
  step_hi: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> states: array<f32>;    // [3·BATCH × INPUTS]
@group(0) @binding(2) var<storage, read> next_states: array<f32>;     // [≥ BATCH × INPUTS]

// Two independent N(0, 1) values from two Philox words (Box–Muller).
fn box_muller(radius_word: u32, angle_word: u32) -> vec2<f32> {
  let u = uniform_from_philox(radius_word);
  let v = uniform_from_philox(angle_word);
  let r = sqrt(max(-2.0 * log(1.0 - u), 0.0));
  let theta = PI_BELOW * (2.0 * v - 1.0);
  return r * vec2<f32>(cos(theta), sin(theta));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (g >= BATCH * CHUNKS) {
    return;
  }
  let b = g / CHUNKS;
  let j = g % CHUNKS;
  let bits = philox4x32_10(vec4<u32>(b, params.step_lo, params.step_hi, STREAM_STATE_NOISE + j),
                           vec2<u32>(params.seed_lo, params.seed_hi));
  let z = vec4<f32>(box_muller(bits.x, bits.y), box_muller(bits.z, bits.w));
  for (var k = 0u; k < 4u; k++) {
    let i = 4u * j + k;
    if (i < INPUTS) {
      states[(BATCH + b) * INPUTS + i] = states[b * INPUTS + i] + SIGMA * z[k];
      states[(2u * BATCH + b) * INPUTS + i] = next_states[b * INPUTS + i];
    }
  }
}
