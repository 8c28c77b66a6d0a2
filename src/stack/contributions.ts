/**
 * What each stored snapshot adds to the logits of one state: the stack's logits are
 *     ξ(s) = correction · mean_e Σ_i c[e,i] · Q_{e,i}(s)
 * (docs/algorithm.md, “The ensemble”), so snapshot i contributes correction · Σ_e c[e,i] · Q_{e,i}(s) / E, and the
 * contributions of all snapshots add up to ξ(s). float64, on the CPU: for explaining a policy
 * (the demo's stack view), not for speed.
 */
import { StaqInputError } from "../errors.ts";
import { mlpReference, type StackContents } from "./reference.ts";

export interface SnapshotContributions {
  /** [stored, actions], oldest snapshot first, summed over the ensemble members. */
  contributions: Float64Array;
  /** [actions]: the sum over snapshots, the stack's logits in float64. */
  logits: Float64Array;
  stored: number;
  actions: number;
}

export function snapshotContributions(contents: StackContents, state: ArrayLike<number>): SnapshotContributions {
  const { spec, snapshots, coefficients, correction } = contents;
  if (state.length !== spec.inputs)
    throw new StaqInputError(`the state has ${state.length} values; the stack's networks take ${spec.inputs}`);
  const members = snapshots.length;
  const stored = snapshots[0]?.length ?? 0;
  const actions = spec.outputs;
  const contributions = new Float64Array(stored * actions);
  const logits = new Float64Array(actions);
  for (let e = 0; e < members; e++) {
    for (let i = 0; i < stored; i++) {
      const q = mlpReference(spec, snapshots[e][i], state).value;
      const weight = (correction * coefficients[e][i]) / members;
      for (let a = 0; a < actions; a++) contributions[i * actions + a] += weight * q[a];
    }
  }
  for (let i = 0; i < stored; i++) for (let a = 0; a < actions; a++) logits[a] += contributions[i * actions + a];
  return { contributions, logits, stored, actions };
}
