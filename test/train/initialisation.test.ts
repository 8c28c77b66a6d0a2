// The initial Q-network: a zero output layer (Q_0 ≡ 0, so π_0 is uniform), hidden layers drawn
// from PyTorch's default nn.Linear distribution U(−1/√fan_in, 1/√fan_in), reproducible per seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { initialQNetwork, initialQNetworks } from "../../src/train/initialisation.ts";
import { chiSquarePValue, chiSquareStatistic } from "../helpers/chi-square.ts";

const SPEC = { inputs: 16, hidden: [64, 32], outputs: 4 };

test("the output layer is zero and hidden values stay within ±1/√fan_in", () => {
  const net = initialQNetwork(SPEC, 1);
  const head = net.layers.at(-1)!;
  assert.ok(head.weight.every((w) => w === 0) && head.bias.every((b) => b === 0));
  net.layers.slice(0, -1).forEach((layer, l) => {
    const bound = 1 / Math.sqrt(l === 0 ? SPEC.inputs : SPEC.hidden[l - 1]);
    for (const w of [...layer.weight, ...layer.bias]) assert.ok(Math.abs(w) <= bound, `layer ${l}: ${w} outside ±${bound}`);
  });
});

test("hidden weights are uniform on (−bound, bound): chi-square over 20 bins", () => {
  const net = initialQNetwork({ inputs: 100, hidden: [200], outputs: 2 }, 7);
  const bound = 1 / Math.sqrt(100);
  const counts = new Array(20).fill(0);
  for (const w of net.layers[0].weight) counts[Math.min(19, Math.floor(((w + bound) / (2 * bound)) * 20))]++;
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts, new Array(20).fill(1 / 20));
  const pValue = chiSquarePValue(statistic, degreesOfFreedom);
  // A correct generator fails this 1 time in a million.
  assert.ok(pValue > 1e-6, `p = ${pValue}`);
});

test("the same seed gives the same network; members differ", () => {
  assert.deepEqual(initialQNetwork(SPEC, 3), initialQNetwork(SPEC, 3));
  const [a, b] = initialQNetworks(SPEC, 2, 3);
  assert.notDeepEqual(a.layers[0].weight, b.layers[0].weight);
  assert.throws(() => initialQNetwork(SPEC, -1), /seed must be a non-negative integer/);
});
