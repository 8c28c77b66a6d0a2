import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { validateMdp, type Mdp } from "../../src/tabular/mdp.ts";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { riverSwimMdp } from "../../src/tabular/river-swim.ts";
import { gridworldMdp } from "../../src/tabular/gridworld.ts";

const row = (mdp: Mdp, s: number, a: number) => mdp.P.subarray((s * mdp.actions + a) * mdp.states, (s * mdp.actions + a + 1) * mdp.states);
const reward = (mdp: Mdp, s: number, a: number) => mdp.R[s * mdp.actions + a];
const close = (actual: number, expected: number, tolerance = 1e-15) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);
const seedArb = fc.maxSafeNat();
const gammaArb = fc.double({ min: 0, max: 0.999, noNaN: true });

/** Asserts that `run` throws a StaqInputError whose message names `option`. */
function throwsNaming(run: () => unknown, option: string) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof StaqInputError, `expected StaqInputError, got ${String(error)}`);
    assert.match(error.message, new RegExp(`\\b${option}\\b`));
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Garnet

const garnetArb = fc
  .record({ states: fc.integer({ min: 1, max: 8 }), actions: fc.integer({ min: 1, max: 4 }), gamma: gammaArb, seed: seedArb })
  .chain((o) => fc.integer({ min: 1, max: o.states }).map((branching) => ({ ...o, branching })));

test("garnet: valid MDP, exactly `branching` next states per row, rows sum to exactly 1, rewards in [0, 1)", () => {
  fc.assert(
    fc.property(garnetArb, (options) => {
      const mdp = garnetMdp(options);
      validateMdp(mdp);
      assert.equal(mdp.states, options.states);
      assert.equal(mdp.actions, options.actions);
      assert.equal(mdp.gamma, options.gamma);
      for (let s = 0; s < mdp.states; s++) {
        for (let a = 0; a < mdp.actions; a++) {
          const p = row(mdp, s, a);
          assert.equal(p.filter((x) => x > 0).length, options.branching);
          let sum = 0;
          for (const x of p) sum += x;
          assert.equal(sum, 1);
          const r = reward(mdp, s, a);
          assert.ok(r >= 0 && r < 1, `R[${s}][${a}] = ${r}`);
        }
      }
    }),
  );
});

test("garnet: the same seed gives identical arrays, a different seed different ones", () => {
  fc.assert(
    fc.property(garnetArb, seedArb, (options, other) => {
      fc.pre(other !== options.seed);
      const a = garnetMdp(options);
      const b = garnetMdp(options);
      assert.deepEqual(a.P, b.P);
      assert.deepEqual(a.R, b.R);
      // Rewards are continuous draws, so two seeds agreeing everywhere would be a broken stream.
      const c = garnetMdp({ ...options, seed: other });
      assert.notDeepEqual(a.R, c.R);
    }),
    { numRuns: 50 },
  );
});

test("garnet: default gamma is 0.9; branching 1 is deterministic", () => {
  const mdp = garnetMdp({ states: 5, actions: 3, branching: 1, seed: 7 });
  assert.equal(mdp.gamma, 0.9);
  for (let i = 0; i < mdp.P.length; i++) assert.ok(mdp.P[i] === 0 || mdp.P[i] === 1);
});

test("garnet: invalid options throw StaqInputError naming the option", () => {
  const ok = { states: 4, actions: 2, branching: 2, seed: 1 };
  for (const states of [0, -1, 2.5, NaN]) throwsNaming(() => garnetMdp({ ...ok, states, branching: 1 }), "states");
  for (const actions of [0, 1.5, Infinity]) throwsNaming(() => garnetMdp({ ...ok, actions }), "actions");
  for (const branching of [0, 5, 1.5]) throwsNaming(() => garnetMdp({ ...ok, branching }), "branching");
  for (const gamma of [1, -0.1, NaN]) throwsNaming(() => garnetMdp({ ...ok, gamma }), "gamma");
  for (const seed of [-1, 0.5, 2 ** 53]) throwsNaming(() => garnetMdp({ ...ok, seed }), "seed");
  // A string is named as one: `${}` printed "got states = 4" for the string "4", a contradiction.
  const wrongType = (options: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => garnetMdp({ ...ok, ...options } as unknown as Parameters<typeof garnetMdp>[0]), pattern);
  wrongType({ states: "4" }, /got states = the string "4"$/);
  wrongType({ gamma: "0.5" }, /got gamma = the string "0\.5"$/);
  wrongType({ seed: "1" }, /: seed must be an integer in \[0, 2\^53 - 1\]; got the string "1"$/);
  assert.throws(() => riverSwimMdp({ gamma: "0.5" as unknown as number }), /got gamma = the string "0\.5"$/);
  assert.throws(() => gridworldMdp({ size: "4" as unknown as number, seed: 1 }), /got size = the string "4"$/);
});

// ---------------------------------------------------------------------------------------------
// RiverSwim

test("riverSwim: valid for any length and gamma", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 30 }), gammaArb, (states, gamma) => {
      const mdp = riverSwimMdp({ states, gamma });
      validateMdp(mdp);
      assert.equal(mdp.states, states);
      assert.equal(mdp.actions, 2);
      assert.equal(mdp.gamma, gamma);
      // Swimming left is deterministic everywhere.
      for (let s = 0; s < states; s++) assert.equal(row(mdp, s, 0)[Math.max(0, s - 1)], 1);
    }),
  );
});

test("riverSwim: hand-checked entries of the default 6-state river", () => {
  const mdp = riverSwimMdp();
  assert.equal(mdp.states, 6);
  assert.equal(mdp.gamma, 0.95);
  assert.deepEqual([...row(mdp, 0, 0)], [1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...row(mdp, 3, 0)], [0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...row(mdp, 0, 1)], [0.4, 0.6, 0, 0, 0, 0]);
  assert.deepEqual([...row(mdp, 2, 1)], [0, 0.05, 0.6, 0.35, 0, 0]);
  assert.deepEqual([...row(mdp, 5, 1)], [0, 0, 0, 0, 0.4, 0.6]);
  assert.deepEqual([...mdp.R], [5 / 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
});

test("riverSwim: two states are just the two banks", () => {
  const mdp = riverSwimMdp({ states: 2 });
  assert.deepEqual([...mdp.P], [1, 0, 0.4, 0.6, 1, 0, 0.4, 0.6]);
  assert.deepEqual([...mdp.R], [5 / 1000, 0, 0, 1]);
});

test("riverSwim: invalid options throw StaqInputError naming the option", () => {
  for (const states of [1, 0, 2.5, NaN]) throwsNaming(() => riverSwimMdp({ states }), "states");
  for (const gamma of [1, -1, NaN]) throwsNaming(() => riverSwimMdp({ gamma }), "gamma");
});

// ---------------------------------------------------------------------------------------------
// Gridworld

const gridArb = fc.record({
  size: fc.integer({ min: 2, max: 6 }),
  holeProbability: fc.double({ min: 0, max: 0.5, noNaN: true }),
  slip: fc.double({ min: 0, max: 1, noNaN: true }),
  gamma: gammaArb,
  seed: seedArb,
});

/** Independent of the module's BFS: flood fill over the printed layout. */
function layoutHasPath(layout: string[]): boolean {
  const n = layout.length;
  const seen = new Set<string>(["0,0"]);
  const stack: [number, number][] = [[0, 0]];
  while (stack.length > 0) {
    const [r, c] = stack.pop()!;
    if (layout[r][c] === "G") return true;
    for (const [dr, dc] of [
      [0, 1],
      [1, 0],
      [0, -1],
      [-1, 0],
    ]) {
      const nr = r + dr;
      const nc = c + dc;
      if (nr < 0 || nc < 0 || nr >= n || nc >= n || layout[nr][nc] === "H" || seen.has(`${nr},${nc}`)) continue;
      seen.add(`${nr},${nc}`);
      stack.push([nr, nc]);
    }
  }
  return false;
}

test("gridworld: valid MDP; layout well formed; start never a hole; a path exists; holes and goal absorbing", () => {
  fc.assert(
    fc.property(gridArb, (options) => {
      const { mdp, layout } = gridworldMdp(options);
      validateMdp(mdp);
      const { size } = options;
      const S = size * size;
      assert.equal(mdp.states, S);
      assert.equal(mdp.actions, 4);
      assert.equal(mdp.gamma, options.gamma);
      assert.equal(layout.length, size);
      for (const line of layout) assert.match(line, new RegExp(`^[SFHG]{${size}}$`));
      assert.equal(layout[0][0], "S");
      assert.equal(layout[size - 1][size - 1], "G");
      assert.equal(layout.join("").replace(/[^SG]/g, ""), "SG");
      assert.ok(layoutHasPath(layout), layout.join("\n"));
      for (let s = 0; s < S; s++) {
        const cell = layout[Math.floor(s / size)][s % size];
        for (let a = 0; a < 4; a++) {
          const p = row(mdp, s, a);
          if (cell === "H" || cell === "G") {
            assert.equal(p[s], 1);
            assert.equal(reward(mdp, s, a), 0);
          } else {
            assert.equal(reward(mdp, s, a), p[S - 1]);
          }
        }
      }
    }),
  );
});

test("gridworld: the same seed gives the same map and arrays, different seeds different maps", () => {
  fc.assert(
    fc.property(gridArb, (options) => {
      const a = gridworldMdp(options);
      const b = gridworldMdp(options);
      assert.deepEqual(a.layout, b.layout);
      assert.deepEqual(a.mdp.P, b.mdp.P);
      assert.deepEqual(a.mdp.R, b.mdp.R);
    }),
    { numRuns: 30 },
  );
  // 62 inner cells at p = 0.3: two seeds give the same map with probability about 0.58^62 ≈ 2e-15.
  fc.assert(
    fc.property(seedArb, seedArb, (x, y) => {
      fc.pre(x !== y);
      const options = { size: 8, holeProbability: 0.3 };
      assert.notDeepEqual(gridworldMdp({ ...options, seed: x }).layout, gridworldMdp({ ...options, seed: y }).layout);
    }),
    { numRuns: 20 },
  );
});

test("gridworld: hand-built slippery rows on a lake without holes", () => {
  // Default slip 2/3 is Gymnasium's is_slippery: intended and both perpendicular moves 1/3 each.
  const { mdp, layout } = gridworldMdp({ holeProbability: 0, seed: 3 });
  assert.deepEqual(layout, ["SFFF", "FFFF", "FFFF", "FFFG"]);
  assert.equal(mdp.gamma, 0.95);
  // State 0, right (2): right to 1, down (perpendicular) to 4, up (perpendicular) off the grid, stays at 0.
  const right = row(mdp, 0, 2);
  close(right[0], 1 / 3);
  close(right[1], 1 / 3);
  close(right[4], 1 / 3);
  assert.equal(right.filter((x) => x > 0).length, 3);
  assert.equal(reward(mdp, 0, 2), 0);
  // State 14 (row 3, column 2), right: the goal 1/3; down off the grid stays at 14; up to 10.
  const nearGoal = row(mdp, 14, 2);
  close(nearGoal[15], 1 / 3);
  close(nearGoal[14], 1 / 3);
  close(nearGoal[10], 1 / 3);
  close(reward(mdp, 14, 2), 1 / 3);

  // slip = 0.5, state 0, left (0): left and up (perpendicular) both hit a wall, down goes to 4.
  const half = gridworldMdp({ holeProbability: 0, slip: 0.5, seed: 3 }).mdp;
  const left = row(half, 0, 0);
  assert.equal(left[0], 0.75);
  assert.equal(left[4], 0.25);
  // slip = 0 is deterministic (Gymnasium's is_slippery=False).
  const still = gridworldMdp({ holeProbability: 0, slip: 0, seed: 3 }).mdp;
  assert.deepEqual(
    [...row(still, 5, 1)].map((x, i) => (x > 0 ? i : -1)).filter((i) => i >= 0),
    [9],
  );
});

test("gridworld: a seeded map with holes, checked cell by cell", () => {
  const { mdp, layout } = gridworldMdp({ size: 5, holeProbability: 0.4, seed: 11 });
  assert.ok(layout.join("").includes("H"), layout.join("\n"));
  for (let s = 0; s < 25; s++) {
    if (layout[Math.floor(s / 5)][s % 5] !== "H") continue;
    for (let a = 0; a < 4; a++) assert.equal(row(mdp, s, a)[s], 1);
  }
});

test("gridworld: gives up with a clear error when holes block every map", () => {
  throwsNaming(() => gridworldMdp({ size: 8, holeProbability: 0.95, seed: 1 }), "holeProbability");
});

test("gridworld: invalid options throw StaqInputError naming the option", () => {
  const ok = { seed: 1 };
  for (const size of [1, 0, 3.5, NaN]) throwsNaming(() => gridworldMdp({ ...ok, size }), "size");
  for (const holeProbability of [1, -0.1, NaN]) throwsNaming(() => gridworldMdp({ ...ok, holeProbability }), "holeProbability");
  for (const slip of [1.1, -0.1, NaN]) throwsNaming(() => gridworldMdp({ ...ok, slip }), "slip");
  for (const gamma of [1, -0.1, NaN]) throwsNaming(() => gridworldMdp({ ...ok, gamma }), "gamma");
  for (const seed of [-1, 0.5]) throwsNaming(() => gridworldMdp({ seed }), "seed");
});
