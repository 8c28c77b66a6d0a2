/**
 * Tabular Q-functions as stack snapshots: Q(s, ·) is one linear layer applied to the one-hot
 * vector of s (weight [A, S] with weight[a][s] = Q(s, a), zero bias). A tabular PMD run pushed
 * into a GPU stack this way gives the same logits as the float64 run, to float32 accuracy — the
 * bridge between the theory checks and the kernels, and a way to hand a tabular policy to anything
 * that reads the stack file format (docs/formats.md, “The stack file”).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { F32_MAX } from "../io/float32-range.ts";
import type { MlpSpec, MlpWeights } from "../stack/mlp.ts";
import { checkShape } from "./policy-math.ts";

/** A linear model from S one-hot inputs to A outputs. */
export function tabularStackSpec(states: number, actions: number): MlpSpec {
  checkShape(states, actions);
  return { inputs: states, hidden: [], outputs: actions };
}

/** The snapshot whose output on one-hot(s) is Q(s, ·), rounded to float32. `q` is row-major [S, A]. */
export function tabularSnapshot(q: ArrayLike<number>, states: number, actions: number): MlpWeights {
  checkShape(states, actions);
  if (!(Array.isArray(q) || ArrayBuffer.isView(q)))
    throw new StaqInputError(`the Q-function must be an array of numbers, row-major [S, A]; got ${describeValue(q)}`);
  if (q.length !== states * actions)
    throw new StaqInputError(`the Q-function has ${q.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  for (let i = 0; i < q.length; i++) {
    const value = q[i];
    // Rounded to float32 a larger value is ±Infinity, and the stack's logits would be ∞ or NaN.
    if (!(typeof value === "number" && Math.abs(value) <= F32_MAX)) {
      throw new StaqInputError(
        `Q(${Math.floor(i / actions)}, ${i % actions}) is ${describeValue(value)}; a snapshot stores Q as float32, so it must be a number of magnitude at most 3.4e38`,
      );
    }
  }
  const weight = new Float32Array(actions * states);
  for (let s = 0; s < states; s++) for (let a = 0; a < actions; a++) weight[a * states + s] = q[s * actions + a];
  return { layers: [{ weight, bias: new Float32Array(actions) }] };
}

/** The S one-hot states, row-major [S, S]: the inputs on which a tabular stack gives its logits. */
export function oneHotStates(states: number): Float32Array {
  checkShape(states, 1);
  // S² float32 entries: past 2^32 no typed array holds them (S > 65536).
  if (states > 65536)
    throw new StaqInputError(
      `oneHotStates: ${states} states need ${states}² one-hot entries, more than one array can hold; use at most 65536 states`,
    );
  let inputs: Float32Array;
  try {
    inputs = new Float32Array(states * states);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new StaqInputError(
      `oneHotStates: ${states} states need ${states}² float32 entries, more memory than could be allocated; use fewer states`,
      {
        cause: error,
      },
    );
  }
  for (let s = 0; s < states; s++) inputs[s * states + s] = 1;
  return inputs;
}
