import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { createMdp, mdpFromArrays, mdpFromJson, mdpToArrays } from "../../src/tabular/mdp.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { createRandomStream } from "../../src/random/random-stream.ts";

const twoStates = () => ({
  P: [
    [
      [0.5, 0.5],
      [1, 0],
    ],
    [
      [0, 1],
      [0.25, 0.75],
    ],
  ],
  R: [
    [1, 0],
    [0, 2],
  ],
  gamma: 0.9,
});

test("an MDP from nested arrays is stored flat, and converts back unchanged", () => {
  const mdp = mdpFromArrays(twoStates());
  assert.equal(mdp.states, 2);
  assert.equal(mdp.actions, 2);
  // P[(s·A + a)·S + s'] and R[s·A + a].
  assert.equal(mdp.P[(1 * 2 + 1) * 2 + 1], 0.75);
  assert.equal(mdp.R[1 * 2 + 1], 2);
  assert.deepEqual(mdpToArrays(mdp), twoStates());
  assert.deepEqual(mdpToArrays(mdpFromJson(JSON.stringify(twoStates()))), twoStates());
});

test("validation names the offending state and action", () => {
  const cases: [string, (m: ReturnType<typeof twoStates>) => void, RegExp][] = [
    ["row sum", (m) => (m.P[1][0] = [0, 0.9]), /P\[1\]\[0\] \(state 1, action 0\) sums to 0\.9, not 1/],
    ["negative", (m) => (m.P[0][1] = [1.5, -0.5]), /P\[0\]\[1\]\[1\] \(state 0, action 1\) is -0\.5; probabilities must be >= 0/],
    ["NaN probability", (m) => (m.P[1][1] = [NaN, 1]), /P\[1\]\[1\]\[0\] \(state 1, action 1\) is NaN/],
    ["NaN reward", (m) => (m.R[0][1] = NaN), /R\[0\]\[1\] \(state 0, action 1\) is NaN; rewards must be finite/],
    ["gamma 1", (m) => (m.gamma = 1), /gamma must satisfy 0 <= gamma < 1/],
    ["gamma negative", (m) => (m.gamma = -0.1), /gamma must satisfy 0 <= gamma < 1/],
    ["short row", (m) => (m.P[1][1] = [1]), /P\[1\]\[1\] \(state 1, action 1\) is an array of 1; it must list 2 probabilities/],
    ["missing action", (m) => (m.P[1] = [[0, 1]]), /P\[1\] is an array of 1; every state needs 2 actions/],
    ["R rows", (m) => m.R.pop(), /R has 1 rows but P has 2 states/],
    ["R width", (m) => (m.R[1] = [0]), /R\[1\] is an array of 1; every state needs 2 rewards/],
    ["string", (m) => ((m.P[0][0] as unknown[])[1] = "0.5"), /P\[0\]\[0\]\[1\] \(state 0, action 0\) is "0\.5"; expected a number/],
  ];
  // A wrong type is named, not printed like the number it spells.
  assert.throws(
    () => createMdp({ states: "2" as unknown as number, actions: 2, P: new Float64Array(8), R: new Float64Array(4), gamma: 0.5 }),
    /an MDP needs at least one state; got states = the string "2"$/,
  );

  for (const [name, spoil, message] of cases) {
    const input = twoStates();
    spoil(input);
    assert.throws(
      () => mdpFromArrays(input),
      (e: Error) => e instanceof StaqInputError && message.test(e.message),
      name,
    );
  }
  // Within 1e-9 of 1 is a distribution; the tolerance is not rounded away.
  const close = twoStates();
  close.P[0][0] = [0.5, 0.5 + 5e-10];
  assert.doesNotThrow(() => mdpFromArrays(close));
  assert.throws(
    () => createMdp({ states: 2, actions: 2, P: new Float64Array(7), R: new Float64Array(4), gamma: 0.5 }),
    /P has 7 entries; 2 states × 2 actions × 2 next states need 8/,
  );
});

test("a malformed MDP file is a StaqFormatError that names the file", () => {
  const cases: [string, RegExp][] = [
    ['{"P": [[[1]]], "R": [[0]], "gamma": 0.5', /mdp\.json is not valid JSON/],
    ["[1, 2]", /mdp\.json is not a JSON object/],
    ['{"P": [[[1]]], "gamma": 0.5}', /mdp\.json has no "R"/],
    ['{"P": [[[0.5]]], "R": [[0]], "gamma": 0.5}', /mdp\.json: P\[0\]\[0\] \(state 0, action 0\) sums to 0\.5/],
    ['{"P": [[[1]]], "R": [[0]], "gamma": "0.5"}', /mdp\.json: gamma must be a number/],
    ['{"P": [], "R": [], "gamma": 0.5}', /mdp\.json: P must be a non-empty array/],
    // A field the MDP does not have is refused, not ignored: "tau" is a setting of the run.
    ['{"P": [[[1]]], "R": [[0]], "gamma": 0.5, "tau": 5}', /^mdp\.json: unexpected field "tau"; expected \{"P": .*with no other fields/],
    ['{"P": [[[1]]], "R": [[0]], "Gamma": 0.5, "gamma": 0.5}', /^mdp\.json: unexpected field "Gamma"/],
    // A key written twice: JSON.parse would keep the last without a word.
    ['{"P": [[[1]]], "R": [[0]], "gamma": 0.5, "gamma": 0.9}', /^mdp\.json has the field "gamma" twice/],
    // Bare NaN / Infinity (Python's json writes them): named at their entry, not "Unexpected token 'N'".
    ['{"P": [[[1]]], "R": [[NaN]], "gamma": 0.5}', /^mdp\.json: R\[0\]\[0\] \(state 0, action 0\) is NaN; rewards must be finite numbers/],
    [
      '{"P": [[[Infinity]]], "R": [[0]], "gamma": 0.5}',
      /^mdp\.json: P\[0\]\[0\]\[0\] \(state 0, action 0\) is Infinity; probabilities must be finite/,
    ],
    ['{"P": [[[1]]], "R": [[0]], "gamma": -Infinity}', /^mdp\.json: gamma must satisfy 0 <= gamma < 1 \(a discounted MDP\); got -Infinity/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => mdpFromJson(text, "mdp.json"),
      (e: Error) => e instanceof StaqFormatError && message.test(e.message),
      text,
    );
  }
});

test("JSON round trip is exact for random Garnet MDPs", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.nat(1000), (S, A, seed) => {
      const mdp = garnetMdp({ states: S, actions: A, branching: Math.min(S, 3), seed });
      const back = mdpFromJson(JSON.stringify(mdpToArrays(mdp)));
      assert.deepEqual(back, mdp);
    }),
    { numRuns: 30 },
  );
});

test("the random stream is determined by its seed and has the right moments", () => {
  const a = createRandomStream(7);
  const b = createRandomStream(7);
  const c = createRandomStream(8);
  const first = Array.from({ length: 16 }, () => a.uniform());
  assert.deepEqual(
    first,
    Array.from({ length: 16 }, () => b.uniform()),
  );
  assert.notDeepEqual(
    first,
    Array.from({ length: 16 }, () => c.uniform()),
  );
  // n = 200000 draws: the sample mean of U(0,1) has standard deviation sqrt(1/12/n) ≈ 6.5e-4 and
  // that of N(0,1) 1/sqrt(n) ≈ 2.2e-3; the sample variance of N(0,1) has sd sqrt(2/n) ≈ 3.2e-3.
  // Six standard deviations: a false failure has probability about 2e-9.
  const n = 200_000;
  const stream = createRandomStream(1);
  let uniformSum = 0;
  let normalSum = 0;
  let normalSquares = 0;
  for (let i = 0; i < n; i++) {
    const u = stream.uniform();
    assert.ok(u >= 0 && u < 1);
    uniformSum += u;
    const z = stream.normal();
    normalSum += z;
    normalSquares += z * z;
  }
  assert.ok(Math.abs(uniformSum / n - 0.5) < 6 * Math.sqrt(1 / 12 / n));
  assert.ok(Math.abs(normalSum / n) < 6 / Math.sqrt(n));
  assert.ok(Math.abs(normalSquares / n - 1) < 6 * Math.sqrt(2 / n));
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 5000; i++) counts[stream.integer(5)]++;
  for (const count of counts) assert.ok(Math.abs(count - 1000) < 6 * Math.sqrt(5000 * 0.2 * 0.8), `integer(5) counts ${counts}`);
  assert.throws(() => createRandomStream(-1), /random stream: seed must be an integer in \[0, 2\^53 - 1\]; got -1$/);
  assert.throws(() => stream.integer(0), /integer\(n\) needs an integer n >= 1/);
});
