/**
 * StaQ's "freeze": the trained active networks become the newest snapshot of the stack. The
 * trainer keeps its parameters in the stack's snapshot layout, so this is a GPU buffer copy per
 * ensemble member into the ring's next slot, plus the PMD coefficient step (src/pmd/), with no
 * round trip through the host.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { convGeometry } from "../stack/conv.ts";
import type { MlpSpec } from "../stack/mlp.ts";
import type { Stack } from "../stack/stack.ts";
import type { MlpTrainer } from "./mlp-trainer.ts";

export interface PushSnapshotOptions {
  /** τ of this iteration's PMD step (default: the stack's current τ). */
  tau?: number;
}

/**
 * A network's shape in words, conv layer included: two specs with the same words have the same
 * snapshot layout (a conv and a dense network can share inputs, widths and outputs, not a layout).
 */
function networkShape(spec: MlpSpec): string {
  const dense = [spec.inputs, ...spec.hidden, spec.outputs].join("→");
  if (!spec.conv) return dense;
  const g = convGeometry(spec.conv);
  return `conv ${g.filters}×${g.kernelHeight}×${g.kernelWidth} (stride ${g.stride}, padding ${g.padding}) on ${g.height}×${g.width}×${g.channels}, then ${dense}`;
}

export function pushSnapshot(stack: Stack, trainer: MlpTrainer, options: PushSnapshotOptions = {}): void {
  checkOptionKeys(options, ["tau"], "pushSnapshot"); // a misspelt "tao" would push with the stack's τ
  if (stack.gpu !== trainer.gpu) throw new StaqInputError("pushSnapshot: the stack and the trainer live on different Gpu objects");
  // Checked here: the copy of a destroyed trainer's parameters would be submitted, an error that
  // fails every later call on the Gpu, after the stack had already taken its PMD step.
  if (trainer.destroyed) throw new StaqGpuError("pushSnapshot: the trainer was destroyed");
  if (networkShape(stack.spec) !== networkShape(trainer.spec)) {
    throw new StaqInputError(
      `pushSnapshot: the stack holds ${networkShape(stack.spec)} networks; the trainer trains ${networkShape(trainer.spec)}`,
    );
  }
  if (stack.ensemble !== trainer.ensemble) {
    throw new StaqInputError(`pushSnapshot: the stack has ${stack.ensemble} ensemble members; the trainer trains ${trainer.ensemble}`);
  }
  stack.pushFromBuffer(trainer.params, { tau: options.tau });
}
