// Seeded randomness for tests: fast-check chooses the seed, so failures shrink and replay.
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { randomMlpWeights } from "../../src/stack/mlp.ts";

/** mulberry32: a tiny, well-mixed 32-bit generator; uniform in [0, 1). */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [-1, 1). */
export function seededSigned(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => 2 * uniform() - 1;
}

export function randomSnapshots(spec: MlpSpec, count: number, seed: number): MlpWeights[] {
  const sample = seededSigned(seed);
  return Array.from({ length: count }, () => randomMlpWeights(spec, sample, 2));
}

export function randomStates(count: number, inputs: number, seed: number, scale = 2): Float32Array {
  const sample = seededSigned(seed);
  return Float32Array.from({ length: count * inputs }, () => sample() * scale);
}
