/**
 * Tabular Q-functions as stack snapshots: Q(s, ·) is one linear layer applied to the one-hot
 * vector of s (weight [A, S] with weight[a][s] = Q(s, a), zero bias). A tabular PMD run pushed
 * into a GPU stack this way gives the same logits as the float64 run, to float32 accuracy — the
 * bridge between the theory checks and the kernels, and a way to hand a tabular policy to anything
 * that reads the stack file format (docs/formats.md, “The stack file”).
 */
import { StaqInputError } from "../errors.ts";
import type { MlpSpec, MlpWeights } from "../stack/mlp.ts";

/** A linear model from S one-hot inputs to A outputs. */
export function tabularStackSpec(states: number, actions: number): MlpSpec {
  return { inputs: states, hidden: [], outputs: actions };
}

/** The snapshot whose output on one-hot(s) is Q(s, ·), rounded to float32. `q` is row-major [S, A]. */
export function tabularSnapshot(q: ArrayLike<number>, states: number, actions: number): MlpWeights {
  if (q.length !== states * actions)
    throw new StaqInputError(`the Q-function has ${q.length} entries; ${states} states × ${actions} actions need ${states * actions}`);
  const weight = new Float32Array(actions * states);
  for (let s = 0; s < states; s++) for (let a = 0; a < actions; a++) weight[a * states + s] = q[s * actions + a];
  return { layers: [{ weight, bias: new Float32Array(actions) }] };
}

/** The S one-hot states, row-major [S, S]: the inputs on which a tabular stack gives its logits. */
export function oneHotStates(states: number): Float32Array {
  const inputs = new Float32Array(states * states);
  for (let s = 0; s < states; s++) inputs[s * states + s] = 1;
  return inputs;
}
