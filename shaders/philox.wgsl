// Philox4x32-10, the counter-based generator of every random draw made on the GPU (a library:
// shaders name it with `// @include philox`; src/gpu/shader-template.ts appends this file).
// src/random/philox.ts is its exact CPU twin: the same u32 operations in the same order, tested
// against Random123's known-answer vectors, so tests can recompute any GPU draw bit for bit.

// Round multipliers and key increments (Random123's PHILOX_M4x32_0/1, PHILOX_W32_0/1).
const PHILOX_M0: u32 = 0xd2511f53u;
const PHILOX_M1: u32 = 0xcd9e8d57u;
const PHILOX_W0: u32 = 0x9e3779b9u;
const PHILOX_W1: u32 = 0xbb67ae85u;

// High word of the 64-bit product a·b from 16-bit halves (WGSL has no u64); mirrors mulhi32.
// Each partial product fits 32 bits; `middle` collects the carries.
fn mulhi(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lolo = a_lo * b_lo;
  let lohi = a_lo * b_hi;
  let hilo = a_hi * b_lo;
  let hihi = a_hi * b_hi;
  let middle = (lolo >> 16u) + (lohi & 0xffffu) + (hilo & 0xffffu);
  return hihi + (lohi >> 16u) + (hilo >> 16u) + (middle >> 16u);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k += vec2<u32>(PHILOX_W0, PHILOX_W1); }
    let hi0 = mulhi(PHILOX_M0, c.x);
    let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi(PHILOX_M1, c.z);
    let lo1 = PHILOX_M1 * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

// A uniform number in [0, 1) from one output word: its top 24 bits times 2^-24, exact in f32
// (uniformFromPhilox in src/random/philox.ts).
fn uniform_from_philox(word: u32) -> f32 {
  return f32(word >> 8u) * (1.0 / 16777216.0);
}
