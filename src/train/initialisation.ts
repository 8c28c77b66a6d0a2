/**
 * The initial Q-network of StaQ: hidden layers as PyTorch's nn.Linear initialises them by default
 * (kaiming_uniform_ with a = √5, which is U(−1/√fan_in, 1/√fan_in) for the weight, and the same
 * bound for the bias), and a zero output layer, so Q_0 ≡ 0 and π_0 is uniform (docs/algorithm.md, “The practical algorithm”).
 * Seeded: the same seed gives the same network, from staq's Philox stream.
 */
import { createRandomStream, validateSeed } from "../random/random-stream.ts";
import { layerShapes, validateMlpSpec, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";

export function initialQNetwork(spec: MlpSpec, seed: number): MlpWeights {
  validateMlpSpec(spec);
  validateSeed(seed);
  const random = createRandomStream(seed);
  const shapes = layerShapes(spec);
  return {
    layers: shapes.map(({ inputs, outputs }, l) => {
      const weight = new Float32Array(outputs * inputs);
      const bias = new Float32Array(outputs);
      if (l < shapes.length - 1) {
        const bound = 1 / Math.sqrt(inputs);
        for (let k = 0; k < weight.length; k++) weight[k] = (2 * random.uniform() - 1) * bound;
        for (let k = 0; k < bias.length; k++) bias[k] = (2 * random.uniform() - 1) * bound;
      }
      return { weight, bias };
    }),
  };
}

/** E independently initialised networks (member e uses seed + e). */
export function initialQNetworks(spec: MlpSpec, ensemble: number, seed: number): MlpWeights[] {
  return Array.from({ length: ensemble }, (_, e) => initialQNetwork(spec, seed + e));
}
