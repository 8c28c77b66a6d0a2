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
  assert.throws(() => initialQNetwork(SPEC, -1), /initialQNetwork: seed must be an integer in \[0, 2\^53 - 1\]; got -1$/);
});

test("initialQNetworks refuses an ensemble that is not a whole number of networks, or too many", () => {
  const mlp = { inputs: 3, hidden: [4], outputs: 2 };
  // -1 made no networks, 1.5 one, the string "2" two, and 1e7 filled the heap.
  for (const [ensemble, shown] of [
    [-1, "-1"],
    [0, "0"],
    [1.5, "1.5"],
    ["2", 'the string "2"'],
    [1e7, "10000000"],
    [Number.NaN, "NaN"],
  ] as const)
    assert.throws(
      () => initialQNetworks(mlp, ensemble as number, 0),
      (error: Error) =>
        error.name === "StaqInputError" &&
        error.message.includes(`ensemble must be an integer from 1 to 1024 (the networks to make); got ${shown}`),
    );
  // Within the count, a network too large to train as an ensemble is refused before it is made.
  const wide = { inputs: 4096, hidden: [4096], outputs: 2 };
  assert.throws(() => initialQNetworks(wide, 64, 0), /64 networks of \d+ parameters take \d+ bytes, more than the 2147483648/);
  assert.equal(initialQNetworks(mlp, 3, 0).length, 3);
});

test("initialQNetworks checks the seed as given, and the last member's seed + ensemble − 1", () => {
  const mlp = { inputs: 3, hidden: [4], outputs: 2 };
  // "1" + 0 concatenated to "10"; the message quoted that, not the caller's value.
  assert.throws(
    () => initialQNetworks(mlp, 2, "1" as unknown as number),
    /initialQNetworks: seed must be an integer in \[0, 2\^53 - 1\]; got the string "1"/,
  );
  assert.throws(() => initialQNetworks(mlp, 1, 1.5), /seed must be an integer in .*; got 1\.5/);
  // MAX_SAFE_INTEGER is a valid seed: alone it works, and with 2 members the error names both.
  const max = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(initialQNetworks(mlp, 1, max), [initialQNetwork(mlp, max)]);
  assert.throws(
    () => initialQNetworks(mlp, 2, max),
    new RegExp(
      `seed \\+ ensemble - 1 must be at most 2\\^53 - 1; seed ${max} and ensemble 2 give ${max} \\+ 1, so use a seed of at most ${max - 1}`,
    ),
  );
  assert.equal(initialQNetworks(mlp, 2, max - 1).length, 2);
});
