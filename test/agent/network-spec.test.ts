// The Q-network a config builds on an environment: the MLP, or the paper's conv network on an
// image observation; a conv asked of a flat observation fails with what to change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { agentNetworkSpec } from "../../src/agent/network-spec.ts";
import { presetConfig } from "../../src/agent/presets.ts";
import { StaqInputError } from "../../src/errors.ts";
import { layerShapes } from "../../src/stack/mlp.ts";

test("paper-minatar on Breakout-v1 builds the paper's network: conv 4→16 3×3, 1024 → 128 → 3", () => {
  const config = presetConfig("paper-minatar");
  const spec = agentNetworkSpec(config, { observationShape: [10, 10, 4], observationSize: 400, actionCount: 3 });
  assert.deepEqual(spec, {
    inputs: 400,
    conv: { inputShape: [10, 10, 4], filters: 16, kernel: [3, 3], stride: 1, padding: 0 },
    hidden: [128],
    outputs: 3,
  });
  assert.deepEqual(
    layerShapes(spec).map(({ inputs, outputs }) => [inputs, outputs]),
    [
      [36, 16],
      [1024, 128],
      [128, 3],
    ],
  );
  assert.equal(config.timeLimit, 5000);
  assert.equal(config.rewardScale, 200);
});

test("without conv filters the network is the MLP on the flattened observation", () => {
  const spec = agentNetworkSpec({ convFilters: 0, hidden: [64, 64] }, { observationShape: [4], observationSize: 4, actionCount: 2 });
  assert.deepEqual(spec, { inputs: 4, hidden: [64, 64], outputs: 2 });
});

test("conv filters on a flat or too small observation fail with what to change", () => {
  assert.throws(
    () =>
      agentNetworkSpec(
        { convFilters: 8, hidden: [64] },
        { name: "CartPole-v1", observationShape: [4], observationSize: 4, actionCount: 2 },
      ),
    (error: unknown) => error instanceof StaqInputError && /CartPole-v1 observes \[4\]: use convFilters 0/.test(error.message),
  );
  assert.throws(
    () => agentNetworkSpec({ convFilters: 8, hidden: [] }, { observationShape: [2, 5, 1], observationSize: 10, actionCount: 2 }),
    /at least 3×3/,
  );
});
