/**
 * StaQ's "freeze": the trained active networks become the newest snapshot of the stack. The
 * trainer keeps its parameters in the stack's snapshot layout, so this is a GPU buffer copy per
 * ensemble member into the ring's next slot, plus the PMD coefficient step (src/pmd/), with no
 * round trip through the host.
 */
import { StaqInputError } from "../errors.ts";
import type { Stack } from "../stack/stack.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";

export interface PushSnapshotOptions {
  /** τ of this iteration's PMD step (default: the stack's current τ). */
  tau?: number;
}

export function pushSnapshot(stack: Stack, trainer: MlpTrainer, options: PushSnapshotOptions = {}): void {
  if (stack.gpu !== trainer.gpu) throw new StaqInputError("pushSnapshot: the stack and the trainer live on different Gpu objects");
  const same = (a: { inputs: number; hidden: readonly number[]; outputs: number }, b: typeof a) =>
    a.inputs === b.inputs && a.outputs === b.outputs && a.hidden.length === b.hidden.length && a.hidden.every((h, i) => h === b.hidden[i]);
  if (!same(stack.spec, trainer.spec)) {
    const show = (s: typeof stack.spec) => [s.inputs, ...s.hidden, s.outputs].join("→");
    throw new StaqInputError(`pushSnapshot: the stack holds ${show(stack.spec)} networks; the trainer trains ${show(trainer.spec)}`);
  }
  if (stack.ensemble !== trainer.ensemble) {
    throw new StaqInputError(`pushSnapshot: the stack has ${stack.ensemble} ensemble members; the trainer trains ${trainer.ensemble}`);
  }
  stack.pushFromBuffer(trainer.params, { tau: options.tau });
}
