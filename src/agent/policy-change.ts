import { klTerm } from "../pmd/kl-term.ts";

/**
 * How much one mirror-descent step changed the policy, measured in float64 on a probe batch of
 * states from the stack's logits before and after the push: the mean KL(π_{k+1} ‖ π_k) (PMD's step
 * is a KL-regularised one, so this is the quantity η trades against) and the mean entropy of π_{k+1}.
 * The KL is summed by klTerm, never negative.
 */
export interface PolicyChange {
  /** mean_s KL(π_after(·|s) ‖ π_before(·|s)), in nats. */
  kl: number;
  /** mean_s H(π_after(·|s)), in nats. */
  entropy: number;
}

/** log softmax of one row, shifted by its maximum so exp never overflows. */
function logSoftmax(logits: ArrayLike<number>, offset: number, actions: number, out: Float64Array): void {
  let max = -Infinity;
  for (let a = 0; a < actions; a++) max = Math.max(max, logits[offset + a]);
  let sum = 0;
  for (let a = 0; a < actions; a++) sum += Math.exp(logits[offset + a] - max);
  const logSum = max + Math.log(sum);
  for (let a = 0; a < actions; a++) out[a] = logits[offset + a] - logSum;
}

/** Policy change between two [batch × actions] logit arrays of the same states. */
export function policyChange(before: ArrayLike<number>, after: ArrayLike<number>, actions: number): PolicyChange {
  const batch = before.length / actions;
  if (!(Number.isInteger(batch) && batch >= 1 && after.length === before.length)) {
    throw new RangeError(`policyChange needs two logit arrays of batch × ${actions} values; got ${before.length} and ${after.length}`);
  }
  const p = new Float64Array(actions);
  const q = new Float64Array(actions);
  let kl = 0;
  let entropy = 0;
  for (let s = 0; s < batch; s++) {
    logSoftmax(after, s * actions, actions, p);
    logSoftmax(before, s * actions, actions, q);
    for (let a = 0; a < actions; a++) {
      const pa = Math.exp(p[a]);
      kl += klTerm(pa, Math.exp(q[a]), p[a] - q[a]);
      entropy -= pa * p[a];
    }
  }
  return { kl: kl / batch, entropy: entropy / batch };
}
