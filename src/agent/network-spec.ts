/**
 * The Q-network a config asks for on an environment: a dense MLP on the flattened observation,
 * or, with `convFilters`, the StaQ paper's MinAtar shape (a 3×3 convolution over the observation
 * read as an image, then the dense layers).
 */
import { StaqInputError } from "../errors.ts";
import type { MlpSpec } from "../stack/mlp.ts";
import type { StaqConfig } from "./config.ts";

export function agentNetworkSpec(
  config: Pick<StaqConfig, "convFilters" | "hidden">,
  env: { name?: string; observationShape: readonly number[]; observationSize: number; actionCount: number },
): MlpSpec {
  const base = { inputs: env.observationSize, hidden: [...config.hidden], outputs: env.actionCount };
  if (config.convFilters === 0) return base;
  const shape = env.observationShape;
  if (shape.length !== 3)
    throw new StaqInputError(
      `convFilters needs an image observation [height, width, channels]; ${env.name ?? "the environment"} observes [${shape.join(", ")}]: use convFilters 0`,
    );
  const [height, width, channels] = shape;
  if (height < 3 || width < 3)
    throw new StaqInputError(`convFilters: a 3×3 convolution needs an image of at least 3×3; the observation is ${height}×${width}`);
  return { ...base, conv: { inputShape: [height, width, channels], filters: config.convFilters, kernel: [3, 3], stride: 1, padding: 0 } };
}
