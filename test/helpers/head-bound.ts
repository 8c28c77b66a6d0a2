// The float64 forward of one network on one state and, per output, the bound on the float32
// kernels' error (the forward of the trainer and of the target networks): the hidden layers' error
// carried in (mlpReference's `carried`), grown by the head's own n + 1 roundings (γ_{n+1} of the
// head's magnitude) and a flush of each of its 2n + 2 operations.
import type { MlpSpec, MlpWeights } from "../../src/stack/mlp.ts";
import { F32_MIN_NORMAL, gammaBound, mlpReference } from "../../src/stack/reference.ts";

export function headWithBound(spec: MlpSpec, weights: MlpWeights, state: ArrayLike<number>): { value: Float64Array; bound: Float64Array } {
  const head = mlpReference(spec, weights, state);
  const n = head.headInputs;
  const g = gammaBound(n + 1);
  return {
    value: head.value,
    bound: head.value.map((_, o) => (1 + g) * head.carried[o] + g * head.magnitude[o] + (2 * n + 2) * F32_MIN_NORMAL),
  };
}
