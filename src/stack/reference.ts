/**
 * float64 reference of stack evaluation, with a bound on how far a float32 evaluation may be from
 * it. Tests compare the GPU against this; benchmarks time it as the CPU baseline.
 *
 * The bound is the classical one for floating-point sums (Higham, "Accuracy and Stability of
 * Numerical Algorithms", §3.1): a sum of n products computed in any order, with or without fused
 * multiply-add, satisfies |fl(Σ x_i y_i) − Σ x_i y_i| ≤ γ_n Σ |x_i y_i|, γ_n = n·u / (1 − n·u),
 * u = 2^-24 for float32. WGSL makes f32 + and × correctly rounded but lets implementations flush
 * subnormals to zero, which adds at most 2^-126 per operation; both terms appear below.
 *
 * Through a layer y = relu(W x + b) with input error e_x (|x̂ − x| ≤ e_x elementwise):
 *     |ŷ − y| ≤ (1 + γ_{n+1}) |W| e_x + γ_{n+1} (|W| (|x| + e_x) + |b|) + (2n + 2) · 2^-126
 * (relu is 1-Lipschitz). For the logits, every product c·w·a passes through at most
 * D = 2n + 2N + 4 roundings whatever the kernel's split of the work: n + 1 in its head dot
 * product part, 2 for the coefficient (rounded to f32) and its product, N when accumulated over
 * the N = E·size snapshots, at most n when the head's split parts are added and at most N when
 * runs are added. So, with c* = correction · c / E:
 *     |logit̂ − logit| ≤ (1 + γ_D) Σ_j |c*_j| |W_j| e_j + γ_D Σ_j |c*_j| (|W_j| (|a_j| + e_j) + |b_j|) + tiny.
 */
import { convGeometry, statePatches } from "./conv.ts";
import type { MlpSpec, MlpWeights } from "./mlp.ts";
import { layerShapes } from "./mlp.ts";

export const F32_UNIT_ROUNDOFF = 2 ** -24;
export const F32_MIN_NORMAL = 2 ** -126;

/** γ_n = n·u / (1 − n·u). */
export function gammaBound(n: number, u = F32_UNIT_ROUNDOFF): number {
  if (n * u >= 1) return Infinity;
  return (n * u) / (1 - n * u);
}

export interface HeadEvaluation {
  /** Head outputs, [outputs]. */
  value: Float64Array;
  /** Σ_k |w_k| (|a_k| + e_k) + |b|, per output: the size of what the head's sum adds up. */
  magnitude: Float64Array;
  /** Σ_k |w_k| e_k, per output: the error carried in from the hidden layers. */
  carried: Float64Array;
  /** Inputs of the head. */
  headInputs: number;
}

/** One state through one MLP in float64, with the error bound of its hidden activations. */
export function mlpReference(spec: MlpSpec, weights: MlpWeights, state: ArrayLike<number>): HeadEvaluation {
  const shapes = layerShapes(spec);
  let x = Float64Array.from(state);
  let e = new Float64Array(x.length); // states are exact float32 inputs
  for (let l = 0; l < shapes.length; l++) {
    const { inputs: n, outputs } = shapes[l];
    const { weight, bias } = weights.layers[l];
    // A conv layer is its weight applied to the patch of every output position (conv.ts); its
    // outputs are in PyTorch's order, filter · positions + position. Patches are exact copies.
    const conv = l === 0 && spec.conv ? convGeometry(spec.conv) : undefined;
    const positions = conv?.positions ?? 1;
    const xs = conv ? statePatches(conv, x) : x;
    const es = conv ? new Float64Array(xs.length) : e;
    const features = outputs * positions;
    const value = new Float64Array(features);
    const magnitude = new Float64Array(features);
    const carried = new Float64Array(features);
    for (let q = 0; q < features; q++) {
      const o = Math.floor(q / positions);
      const from = (q % positions) * (conv ? n : 0);
      let v = bias[o];
      let m = Math.abs(bias[o]);
      let c = 0;
      for (let i = 0; i < n; i++) {
        const w = weight[o * n + i];
        v += w * xs[from + i];
        m += Math.abs(w) * (Math.abs(xs[from + i]) + es[from + i]);
        c += Math.abs(w) * es[from + i];
      }
      value[q] = v;
      magnitude[q] = m;
      carried[q] = c;
    }
    if (l === shapes.length - 1) return { value, magnitude, carried, headInputs: n };
    const g = gammaBound(n + 1);
    const nextE = new Float64Array(features);
    for (let q = 0; q < features; q++) {
      nextE[q] = (1 + g) * carried[q] + g * magnitude[q] + (2 * n + 2) * F32_MIN_NORMAL;
      value[q] = Math.max(0, value[q]);
    }
    x = value;
    e = nextE;
  }
  throw new Error("unreachable: an MLP has at least one layer");
}

export interface StackContents {
  spec: MlpSpec;
  /** [member][i], oldest first. */
  snapshots: readonly (readonly MlpWeights[])[];
  /** [member][i], oldest first. */
  coefficients: readonly ArrayLike<number>[];
  correction: number;
}

export interface StackReference {
  /** [batch, actions] in float64. */
  logits: Float64Array;
  /** Per logit, the largest |float32 result − logit| the kernel may produce. */
  bound: Float64Array;
}

/** float64 logits of a stack for `batch` states, and their float32 error bounds. */
export function stackLogitsReference(contents: StackContents, states: ArrayLike<number>, batch: number): StackReference {
  const { spec, snapshots, coefficients, correction } = contents;
  const { inputs, outputs } = spec;
  const members = snapshots.length;
  const stored = members * (snapshots[0]?.length ?? 0);
  const logits = new Float64Array(batch * outputs);
  const bound = new Float64Array(batch * outputs);
  for (let b = 0; b < batch; b++) {
    const state = Array.from({ length: inputs }, (_, i) => states[b * inputs + i]);
    const sum = new Float64Array(outputs);
    const carried = new Float64Array(outputs);
    const magnitude = new Float64Array(outputs);
    let headInputs = 0;
    let coefficientMass = 0;
    for (let e = 0; e < members; e++) {
      snapshots[e].forEach((weights, i) => {
        const c = (correction * coefficients[e][i]) / members;
        const head = mlpReference(spec, weights, state);
        headInputs = head.headInputs;
        coefficientMass += Math.abs(c);
        for (let a = 0; a < outputs; a++) {
          sum[a] += c * head.value[a];
          carried[a] += Math.abs(c) * head.carried[a];
          magnitude[a] += Math.abs(c) * head.magnitude[a];
        }
      });
    }
    const depth = 2 * headInputs + 2 * stored + 4;
    const g = gammaBound(depth);
    for (let a = 0; a < outputs; a++) {
      logits[b * outputs + a] = sum[a];
      bound[b * outputs + a] = (1 + g) * carried[a] + g * magnitude[a] + depth * F32_MIN_NORMAL * (1 + coefficientMass);
    }
  }
  return { logits, bound };
}
