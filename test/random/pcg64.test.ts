import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { Pcg64Generator, seedSequencePool, seedSequenceWords, type Pcg64State } from "../../src/random/pcg64.ts";

// Recorded from numpy by scripts/pcg64-reference.py: every list from a fresh np.random.default_rng(seed).
interface NumpyState {
  state: string;
  inc: string;
  has_uint32: boolean;
  uinteger: number;
}
interface Stream {
  seed: number;
  seed_sequence_pool: number[];
  seed_sequence_words: number[];
  initial_state: NumpyState;
  random_raw: string[];
  random: number[];
  uniform: [number, number, number][];
  uniform_terrain: number[];
  integers: [number, number, number][];
  mixed: (["integers", number, number, number] | ["random", number])[];
  state_after_mixed: NumpyState;
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/pcg64/draws.json", import.meta.url), "utf8")) as { streams: Stream[] };

const asState = (s: NumpyState): Pcg64State => ({ state: s.state, inc: s.inc, hasUint32: s.has_uint32, uinteger: s.uinteger });

test("the fixture covers the seeds the port must handle, 2^32 and past it included", () => {
  assert.deepEqual(
    fixture.streams.map((s) => s.seed),
    [0, 1, 42, 12345, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7],
  );
});

for (const stream of fixture.streams) {
  const { seed } = stream;
  test(`default_rng(${seed}): SeedSequence pool and words, initial state, draw for draw as numpy`, () => {
    assert.deepEqual(Array.from(seedSequencePool(seed)), stream.seed_sequence_pool, "SeedSequence.pool");
    assert.deepEqual(Array.from(seedSequenceWords(seed, 8)), stream.seed_sequence_words, "generate_state(8)");
    assert.deepEqual(new Pcg64Generator(seed).getState(), asState(stream.initial_state), "bit_generator.state after seeding");

    const raw = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.random_raw.map(() => raw.nextUint64().toString()),
      stream.random_raw,
      "random_raw",
    );
    const random = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.random.map(() => random.random()),
      stream.random,
      "random()",
    );
    const uniform = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.uniform.map(([low, high]) => [low, high, uniform.uniform(low, high)]),
      stream.uniform,
      "uniform(low, high)",
    );
    const terrain = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.uniform_terrain.map(() => terrain.uniform(0, 400 / 30 / 2)),
      stream.uniform_terrain,
      "uniform(0, H/2, size=12), LunarLander's terrain",
    );
    const integers = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.integers.map(([low, high]) => [low, high, integers.integers(low, high)]),
      stream.integers,
      "integers(low, high)",
    );
    const mixed = new Pcg64Generator(seed);
    assert.deepEqual(
      stream.mixed.map((draw) =>
        draw[0] === "random" ? ["random", mixed.random()] : ["integers", draw[1], draw[2], mixed.integers(draw[1], draw[2])],
      ),
      stream.mixed,
      "32-bit draws around a double",
    );
    assert.deepEqual(mixed.getState(), asState(stream.state_after_mixed), "state with a buffered 32-bit half");
  });
}

test("a bigint seed is the same integer as a number seed", () => {
  const a = new Pcg64Generator(2 ** 40 + 7);
  const b = new Pcg64Generator(2n ** 40n + 7n);
  assert.deepEqual(a.getState(), b.getState());
  // Beyond 2^53 only a bigint can say the seed; it seeds a different stream than its neighbours.
  assert.notDeepEqual(new Pcg64Generator(2n ** 64n).getState(), new Pcg64Generator(2n ** 64n + 1n).getState());
});

test("getState / setState round-trip mid-stream through JSON, buffered 32-bit half included", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.array(fc.constantFrom("random", "int32", "int64"), { maxLength: 12 }),
      (seed, draws) => {
        const a = new Pcg64Generator(seed);
        for (const draw of draws) {
          if (draw === "random") a.random();
          else if (draw === "int32") a.integers(-9999, 9999);
          else a.integers(0, 2 ** 40);
        }
        const saved = JSON.parse(JSON.stringify(a.getState())) as Pcg64State;
        const b = Pcg64Generator.fromState(saved);
        const next = (g: Pcg64Generator) => [g.integers(0, 7), g.random(), g.integers(-5, 5), g.nextUint64().toString(), g.uniform(-1, 1)];
        assert.deepEqual(next(b), next(a));
        assert.deepEqual(b.getState(), a.getState());
      },
    ),
    { numRuns: 200 },
  );
});

test("bad seeds are refused with what numpy's SeedSequence takes", () => {
  for (const seed of [-1, 0.5, NaN, Infinity, 2 ** 53, -1n]) {
    assert.throws(
      () => new Pcg64Generator(seed),
      (e: unknown) => e instanceof StaqInputError && /non-negative integer/.test(e.message),
      String(seed),
    );
  }
  assert.throws(() => new Pcg64Generator("1" as unknown as number), StaqInputError);
  assert.throws(() => seedSequenceWords(1, -1), /nWords must be a non-negative integer/);
});

test("setState validates everything before changing the generator", () => {
  const g = new Pcg64Generator(3);
  g.integers(0, 10);
  const good = g.getState();
  const cases: [unknown, RegExp][] = [
    [null, /expects \{ state, inc, hasUint32, uinteger \}/],
    [[1, 2], /expects/],
    [{ ...good, state: undefined }, /state must be the 128-bit value as 32 lowercase hex digits.*missing/],
    [{ ...good, state: good.state.toUpperCase() }, /state must be .*hex/],
    [{ ...good, state: `0x${good.state.slice(2)}` }, /state must be/],
    [{ ...good, inc: good.inc.slice(1) }, /inc must be/],
    [{ ...good, inc: `${good.inc.slice(0, 31)}2` }, /inc must be odd/],
    [{ ...good, hasUint32: 1 }, /hasUint32 must be true or false/],
    [{ ...good, uinteger: 2 ** 32 }, /uinteger must be an integer in \[0, 2\^32 - 1\]/],
    [{ ...good, uinteger: -1 }, /uinteger/],
    [{ ...good, uinteger: NaN }, /uinteger/],
  ];
  for (const [state, message] of cases) {
    assert.throws(
      () => g.setState(state as Pcg64State),
      (e: unknown) => e instanceof StaqInputError && message.test(e.message),
      JSON.stringify(state),
    );
    assert.deepEqual(g.getState(), good, "a refused state leaves the generator as it was");
  }
});

test("uniform and integers refuse what numpy refuses", () => {
  const g = new Pcg64Generator(0);
  const before = g.getState();
  assert.throws(() => g.uniform(1, 0), /high must be >= low/);
  assert.throws(() => g.uniform(0, Infinity), /must be finite/);
  assert.throws(() => g.uniform(NaN, 1), /must be finite/);
  assert.throws(() => g.integers(0, 0), /high <= 0/);
  assert.throws(() => g.integers(3, 1), /low >= high/);
  assert.throws(() => g.integers(0.5, 2), /must be integers/);
  assert.throws(() => g.integers(0, 2 ** 53), /must be integers/);
  assert.deepEqual(g.getState(), before, "refused calls draw nothing");
  // As numpy: a one-value range draws nothing; uniform(0, 0) still draws once.
  assert.equal(g.integers(7, 8), 7);
  assert.deepEqual(g.getState(), before);
  assert.equal(g.uniform(0, 0), 0);
  assert.notDeepEqual(g.getState(), before);
});

test("integers stay in range and random() in [0, 1)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 }),
      fc.integer({ min: -(2 ** 50), max: 2 ** 50 }),
      fc.integer({ min: 1, max: 2 ** 50 }),
      (seed, low, width) => {
        const g = new Pcg64Generator(seed);
        const v = g.integers(low, low + width);
        assert.ok(Number.isSafeInteger(v) && v >= low && v < low + width);
        const r = g.random();
        assert.ok(r >= 0 && r < 1);
      },
    ),
    { numRuns: 300 },
  );
});
