import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { RandomState, type RandomStateSnapshot } from "../../src/envs/random-state.ts";
import { checkRandomStateReference } from "../../src/envs/random-state-check.ts";
import { readReference } from "../helpers/reference.ts";

// ---------------------------------------------------------------------------------------------
// numpy reference: draws recorded from numpy.random.RandomState(seed), one stream per seed.

test("replays every numpy RandomState reference stream draw for draw", (t) => {
  const report = checkRandomStateReference(readReference("numpy-randomstate.json"));
  if (report.mismatch) {
    const { seed, draw, field, expected, got } = report.mismatch;
    assert.fail(`seed ${seed}, draw ${draw} (${field}): expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
  }
  assert.ok(report.streams > 0 && report.draws > 0, "the reference file has no draws");
  t.diagnostic(`${report.streams} streams, ${report.draws} draws`);
});

test("the RandomState checker reports the first wrong draw and rejects malformed files", () => {
  const reference = readReference("numpy-randomstate.json") as { streams: { seed: number; draws: unknown[][] }[] };
  const broken = structuredClone(reference);
  const draw = broken.streams[1].draws[3];
  assert.equal(draw[0], "randint_range");
  draw[3] = draw[3] === 0 ? 1 : 0;
  const report = checkRandomStateReference(broken);
  assert.deepEqual([report.mismatch?.stream, report.mismatch?.draw, report.streams], [1, 3, 1]);
  assert.throws(() => checkRandomStateReference({}), /needs a "streams" array/);
  assert.throws(
    () => checkRandomStateReference({ streams: [{ seed: 1, draws: [["normal", 0.5]] }] }),
    /streams\[0\]\.draws\[0\] is not a known draw/,
  );
});

// ---------------------------------------------------------------------------------------------
// MT19937 known answers.

test("MT19937 known answer: init_genrand(5489)", () => {
  const random = new RandomState(5489);
  assert.equal(random.nextUint32(), 3499211612);
  // C++ [rand.predef]: the 10000th output of a default-seeded (5489) mt19937 is 4123659995.
  for (let i = 2; i < 10000; i++) random.nextUint32();
  assert.equal(random.nextUint32(), 4123659995);
});

test("MT19937 known answer: init_by_array([0x123, 0x234, 0x345, 0x456]) (mt19937ar.out)", () => {
  const random = new RandomState([0x123, 0x234, 0x345, 0x456]);
  const first = Array.from({ length: 5 }, () => random.nextUint32());
  assert.deepEqual(first, [1067595299, 955945823, 477289528, 4107218783, 4228976476]);
  // The same seed as a Uint32Array seeds identically.
  const typed = new RandomState(Uint32Array.of(0x123, 0x234, 0x345, 0x456));
  assert.deepEqual(
    Array.from({ length: 5 }, () => typed.nextUint32()),
    first,
  );
});

test("a fresh seed's state is numpy's: key[0] = seed, pos = 624", () => {
  const state = new RandomState(12345).getState();
  assert.equal(state.key.length, 624);
  assert.equal(state.key[0], 12345);
  assert.equal(state.pos, 624);
  assert.equal(new RandomState(2 ** 32 - 1).getState().key[0], 2 ** 32 - 1);
});

test("seed() re-seeds in place", () => {
  const random = new RandomState(3);
  const first = [random.rand(), random.randint(10), random.nextUint32()];
  random.rand();
  random.seed(3);
  assert.deepEqual([random.rand(), random.randint(10), random.nextUint32()], first);
});

// ---------------------------------------------------------------------------------------------
// Bounded integers: numpy's special cases.

test("randint with a single-value range returns low without drawing", () => {
  const random = new RandomState(7);
  const before = random.getState();
  assert.equal(random.randint(1), 0);
  assert.equal(random.randint(-4, -3), -4);
  assert.deepEqual(Array.from(random.randintN(9, 10, 3)), [9, 9, 9]);
  assert.deepEqual(random.getState(), before);
});

test("randint over a full 2**32 range takes one raw output", () => {
  const a = new RandomState(11);
  const b = new RandomState(11);
  assert.equal(a.randint(0, 2 ** 32), b.nextUint32());
  assert.equal(a.randint(-5, 2 ** 32 - 5), b.nextUint32() - 5);
});

test("randint(n) equals randint(0, n), and randintN equals successive randint calls", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: -1000, max: 1000 }),
      fc.integer({ min: 1, max: 2 ** 31 - 1000 }),
      fc.integer({ min: 0, max: 20 }),
      (seed, low, width, size) => {
        const a = new RandomState(seed);
        const b = new RandomState(seed);
        assert.equal(a.randint(width), b.randint(0, width));
        const many = a.randintN(low, low + width, size);
        const one = Array.from({ length: size }, () => b.randint(low, low + width));
        assert.deepEqual(Array.from(many), one);
        assert.deepEqual(a.getState(), b.getState());
      },
    ),
  );
});

test("randint(lo, hi) always lies in [lo, hi)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 32 })),
      (seed, lo, width) => {
        const random = new RandomState(seed);
        const hi = lo + width;
        for (let i = 0; i < 20; i++) {
          const value = random.randint(lo, hi);
          assert.ok(Number.isInteger(value) && value >= lo && value < hi, `${value} not in [${lo}, ${hi})`);
        }
      },
    ),
  );
});

test("rand and uniform stay in range", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
      const random = new RandomState(seed);
      for (let i = 0; i < 20; i++) {
        const x = random.rand();
        assert.ok(x >= 0 && x < 1);
      }
      const twin = new RandomState(seed);
      for (let i = 0; i < 20; i++) twin.rand();
      const u = random.uniform(-3, 5);
      assert.equal(u, -3 + 8 * twin.rand());
      assert.ok(u >= -3 && u < 5);
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// State round trips.

function drawMix(random: RandomState, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      random.rand(),
      random.randint(7),
      random.randint(-3, 1000),
      random.uniform(2, 3),
      random.nextUint32(),
      ...random.randintN(0, 5, 3),
    );
  }
  return out;
}

test("getState/setState round-trips mid-stream, through JSON, into another instance", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 400 }), (seed, skip) => {
      const random = new RandomState(seed);
      drawMix(random, skip);
      const snapshot = random.getState();
      const expected = drawMix(random, 150); // crosses at least one 624-word regeneration
      random.setState(snapshot);
      assert.deepEqual(drawMix(random, 150), expected);
      const other = new RandomState(0);
      other.setState(JSON.parse(JSON.stringify(snapshot)) as RandomStateSnapshot);
      assert.deepEqual(drawMix(other, 150), expected);
    }),
    { numRuns: 25 },
  );
});

test("getState at the block boundary, and the snapshot is a copy", () => {
  const random = new RandomState(99);
  for (let i = 0; i < 624; i++) random.nextUint32();
  const snapshot = random.getState();
  assert.equal(snapshot.pos, 624);
  const original = snapshot.key[0];
  snapshot.key[0] = original === 0 ? 1 : 0; // mutating the snapshot must not touch the generator
  assert.notDeepEqual(random.getState(), snapshot);
  snapshot.key[0] = original;
  const expected = [random.nextUint32(), random.rand()];
  random.setState(snapshot);
  assert.deepEqual([random.nextUint32(), random.rand()], expected);
});

// ---------------------------------------------------------------------------------------------
// Argument errors.

function throwsInput(run: () => unknown, pattern: RegExp) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof StaqInputError, `expected StaqInputError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test("seeds outside numpy's [0, 2**32 - 1] are rejected", () => {
  for (const seed of [-1, 1.5, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER]) {
    throwsInput(() => new RandomState(seed), /seed must be an integer in \[0, 2\*\*32 - 1\]/);
  }
  throwsInput(() => new RandomState([]), /non-empty/);
  throwsInput(() => new RandomState([1, -2]), /seed\[1\]/);
  throwsInput(() => new RandomState("7" as unknown as number), /seed/);
  const random = new RandomState(1);
  throwsInput(() => random.seed(-3), /seed/);
});

test("randint rejects empty ranges with numpy's wording, and non-integers", () => {
  const random = new RandomState(1);
  throwsInput(() => random.randint(0), /high <= 0/);
  throwsInput(() => random.randint(-2), /high <= 0/);
  throwsInput(() => random.randint(5, 5), /low >= high/);
  throwsInput(() => random.randint(5, 3), /low >= high/);
  throwsInput(() => random.randint(1.5), /safe integers/);
  throwsInput(() => random.randint(0, Number.NaN), /safe integers/);
  throwsInput(() => random.randint(0, 2 ** 32 + 1), /at most 2\*\*32/);
  throwsInput(() => random.randintN(3, 3, 2), /low >= high/);
  throwsInput(() => random.randintN(0, 2, -1), /size/);
  throwsInput(() => random.randintN(0, 2, 1.5), /size/);
  throwsInput(() => random.randintN(0, 2 ** 31 + 1, 1), /Int32Array/);
  throwsInput(() => random.randintN(-(2 ** 31) - 1, 0, 1), /Int32Array/);
  assert.equal(random.randintN(0, 2, 0).length, 0);
  assert.equal(random.randintN(-(2 ** 31), 2 ** 31, 1).length, 1);
});

test("uniform rejects non-finite ranges but allows high < low, like numpy", () => {
  const random = new RandomState(1);
  throwsInput(() => random.uniform(0, Number.POSITIVE_INFINITY), /finite/);
  throwsInput(() => random.uniform(Number.NaN, 1), /finite/);
  throwsInput(() => random.uniform(-Number.MAX_VALUE, Number.MAX_VALUE), /finite/);
  const x = random.uniform(1, 0);
  assert.ok(x <= 1 && x > 0);
});

test("setState validates its input and leaves the generator untouched on error", () => {
  const random = new RandomState(5);
  const good = random.getState();
  throwsInput(() => random.setState(null as unknown as RandomStateSnapshot), /setState/);
  throwsInput(() => random.setState({ key: good.key.slice(1), pos: 0 }), /key must be an array of 624/);
  throwsInput(() => random.setState({ key: good.key.map((w, i) => (i === 3 ? -1 : w)), pos: 0 }), /key\[3\]/);
  throwsInput(() => random.setState({ key: good.key.map((w, i) => (i === 3 ? 2 ** 32 : w)), pos: 0 }), /key\[3\]/);
  throwsInput(() => random.setState({ key: good.key, pos: 625 }), /pos/);
  throwsInput(() => random.setState({ key: good.key, pos: 1.5 }), /pos/);
  assert.deepEqual(random.getState(), good);
});
