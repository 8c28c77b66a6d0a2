/**
 * The initial Q-network of StaQ: hidden layers as PyTorch's nn.Linear initialises them by default
 * (kaiming_uniform_ with a = √5, which is U(−1/√fan_in, 1/√fan_in) for the weight, and the same
 * bound for the bias), and a zero output layer, so Q_0 ≡ 0 and π_0 is uniform (docs/algorithm.md, “The practical algorithm”).
 * Seeded: the same seed gives the same network, from staq's Philox stream.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { createRandomStream } from "../random/random-stream.ts";
import { checkSeed } from "../random/seed.ts";
import { layerShapes, parameterCount, validateMlpSpec, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";

/**
 * The most members `initialQNetworks` makes. staq's config allows 64 and every member is a
 * network of its own on the GPU, so 1024 is far beyond any real ensemble; the cap stops a typo
 * (1e7) from filling the heap with millions of small arrays before anything else could fail.
 */
export const MAX_INITIAL_ENSEMBLE = 1024;
/**
 * The most bytes of weights `initialQNetworks` makes, all members together: the trainer uploads
 * them into one parameters buffer, and no device binds 2 GiB at once by default (WebGPU's
 * maxStorageBufferBindingSize defaults to 128 MiB), so a larger ensemble could never be trained.
 */
export const MAX_INITIAL_WEIGHT_BYTES = 2 ** 31;

export function initialQNetwork(spec: MlpSpec, seed: number): MlpWeights {
  validateMlpSpec(spec);
  checkSeed("initialQNetwork", seed);
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
  validateMlpSpec(spec);
  // Checked as a number first: "2" would make 2 networks, 1.5 one, and -1 none, without a word.
  if (!(typeof ensemble === "number" && Number.isInteger(ensemble) && ensemble >= 1 && ensemble <= MAX_INITIAL_ENSEMBLE))
    throw new StaqInputError(
      `initialQNetworks: ensemble must be an integer from 1 to ${MAX_INITIAL_ENSEMBLE} (the networks to make); got ${describeValue(ensemble)}`,
    );
  const bytes = ensemble * parameterCount(spec) * 4;
  if (bytes > MAX_INITIAL_WEIGHT_BYTES)
    throw new StaqInputError(
      `initialQNetworks: ${ensemble} networks of ${parameterCount(spec)} parameters take ${bytes} bytes, more than the ${MAX_INITIAL_WEIGHT_BYTES} a trainer could hold; use fewer members or a smaller network`,
    );
  // The seed itself first (a string "1" would otherwise concatenate: "1" + 0 = "10"), then the
  // last member's seed + E − 1, which must stay a safe integer as every member's seed must.
  checkSeed("initialQNetworks", seed);
  // Compared as seed > MAX − (E − 1): seed + E − 1 itself can round back down to 2^53 − 1.
  if (seed > Number.MAX_SAFE_INTEGER - (ensemble - 1))
    throw new StaqInputError(
      `initialQNetworks: member e is seeded with seed + e, so seed + ensemble - 1 must be at most 2^53 - 1; seed ${seed} and ensemble ${ensemble} give ${seed} + ${ensemble - 1}, so use a seed of at most ${Number.MAX_SAFE_INTEGER - (ensemble - 1)}`,
    );
  return Array.from({ length: ensemble }, (_, e) => initialQNetwork(spec, seed + e));
}
