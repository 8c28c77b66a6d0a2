// The minibatch sampler's CPU twin (src/train/minibatch-sampling.ts): every batch is distinct and
// in range by construction (property tests), and the draws look like uniform sampling without
// replacement (goodness-of-fit tests on fixed seeds). The GPU kernel is held to this twin bit for
// bit in replay-sample.test.ts, so these statistics hold for the kernel too.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { feistelDomainBits, MAX_SAMPLE_SIZE, minibatchIndices, permuteIndex } from "../../src/train/minibatch-sampling.ts";
import { chiSquarePValue, chiSquareStatistic } from "../helpers/chi-square.ts";

const U64_MAX = (1n << 64n) - 1n;
const u64 = fc.oneof(
  fc.constantFrom<number | bigint>(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, U64_MAX, 1n << 63n),
  fc.maxSafeNat(),
  fc.bigInt({ min: 0n, max: U64_MAX }),
);

/** Sizes around the domain edges: powers of 4 (no cycle walking) and one past them (the most walking). */
const edgeSize = fc.constantFrom(1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025);

function assertDistinctInRange(indices: Uint32Array, size: number): void {
  const seen = new Set<number>();
  for (const idx of indices) {
    assert.ok(idx < size, `index ${idx} is outside [0, ${size})`);
    assert.ok(!seen.has(idx), `index ${idx} was drawn twice in one batch`);
    seen.add(idx);
  }
}

test("feistelDomainBits is the smallest h ≥ 1 with 4^h ≥ size", () => {
  const cases: [number, number][] = [
    [1, 1],
    [2, 1],
    [4, 1],
    [5, 2],
    [16, 2],
    [17, 3],
    [700, 5],
    [1024, 5],
    [1025, 6],
    [2 ** 30, 15],
    [2 ** 30 + 1, 16],
    [2 ** 31, 16],
  ];
  for (const [size, bits] of cases) assert.equal(feistelDomainBits(size), bits, `size ${size}`);
});

test("every batch is distinct and in [0, size); a batch of size rows is a permutation", () => {
  const sizeAndBatch = fc.oneof(
    fc.oneof(edgeSize, fc.integer({ min: 1, max: 3000 })).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 1, max: size }))),
    // Large rings, up to the 2^31 limit (h = 16): small batches, so the test stays fast.
    fc
      .constantFrom(2 ** 20 + 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1, MAX_SAMPLE_SIZE)
      .chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 1, max: 64 }))),
  );
  fc.assert(
    fc.property(sizeAndBatch, u64, u64, ([size, batch], seed, step) => {
      const indices = minibatchIndices(size, batch, seed, step);
      assert.equal(indices.length, batch);
      assertDistinctInRange(indices, size);
      // Position b's row does not depend on the batch: it is permuteIndex(b, …).
      const b = batch - 1;
      assert.equal(permuteIndex(b, size, seed, step), indices[b]);
      // The same integer as a number or a bigint is the same key.
      assert.deepEqual(minibatchIndices(size, batch, BigInt(seed), BigInt(step)), indices);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.oneof(edgeSize, fc.integer({ min: 1, max: 1500 })), u64, u64, (size, seed, step) => {
      const indices = minibatchIndices(size, size, seed, step);
      assertDistinctInRange(indices, size); // size distinct values in [0, size): every row once
    }),
    { numRuns: 100 },
  );
});

// ---- statistics ----
//
// Each test below uses a fixed seed and rejects at a false-alarm probability of 1e-6: if the
// sampler were exactly uniform, a given statistic would exceed its threshold with probability 1e-6
// (up to the chi-square / normal approximation, good here: every expected count is at least 20 and
// the degrees of freedom are large), so the 8 statistics of this file raise a false alarm with
// probability below 1e-5. The seeds are fixed, so outcomes are reproducible; the rate says how
// unlucky a seed would have to be. Real defects (a biased round function, a wrong mask, a walk that
// keeps an out-of-range value, steps or seeds that collide) move these statistics by far more.
const FALSE_ALARM = 1e-6;
/** |z| above this is two-sided p < 5.7e-7 for a normal statistic. */
const Z_LIMIT = 5;
const SEED = 0x5eed_cafe_f00dn;

function assertChiSquare(counts: ArrayLike<number>, probabilities: ArrayLike<number>, what: string, varianceFactor = 1): void {
  const { statistic, degreesOfFreedom } = chiSquareStatistic(counts, probabilities);
  const corrected = statistic / varianceFactor;
  const p = chiSquarePValue(corrected, degreesOfFreedom);
  assert.ok(
    p >= FALSE_ALARM,
    `${what}: X² = ${corrected.toFixed(1)} on ${degreesOfFreedom} degrees of freedom, p = ${p.toExponential(2)} < ${FALSE_ALARM}`,
  );
}

test("every row is drawn equally often over many steps (chi-square with the without-replacement correction)", () => {
  // 700 is not a power of 4, so the walk is exercised (h = 5, domain 1024).
  const size = 700;
  const batch = 64;
  const steps = 3000; // 3000·64/700 ≈ 274 expected draws per row
  const counts = new Float64Array(size);
  for (let step = 0; step < steps; step++) {
    for (const idx of minibatchIndices(size, batch, SEED, step)) {
      assert.ok(idx < size, `step ${step} drew row ${idx}, outside [0, ${size})`);
      counts[idx]++;
    }
  }
  // The counts are sums over steps of the indicator vectors of uniform batch-subsets, whose
  // covariance is exactly (size − batch)/(size − 1) times that of `batch` multinomial draws (the
  // finite-population correction). Pearson's X² divided by that factor is therefore asymptotically
  // χ² with size − 1 degrees of freedom; undivided it would be too small and the test too lenient.
  const correction = (size - batch) / (size - 1);
  assertChiSquare(counts, new Float64Array(size).fill(1 / size), "row counts", correction);
});

test("the first and the last batch position each draw a uniform row (chi-square)", () => {
  const size = 700;
  const batch = 64;
  const steps = 14_000; // 20 expected per row
  for (const position of [0, batch - 1]) {
    const counts = new Float64Array(size);
    for (let step = 0; step < steps; step++) counts[permuteIndex(position, size, SEED, step)]++;
    assertChiSquare(counts, new Float64Array(size).fill(1 / size), `position ${position}`);
  }
});

test("the first two positions draw a uniform ordered pair of distinct rows (chi-square)", () => {
  // size 12: h = 2, domain 16, so the walk is exercised on the smallest halves with more than one
  // bit. All 12·11 = 132 ordered pairs of distinct rows should be equally likely; 66 000 steps give
  // 500 expected per pair, enough to see the 6% RMS deviation that 6 Feistel rounds leave on such
  // small halves (X² ≈ 370 on 131 df; this is why FEISTEL_ROUNDS is 10).
  const size = 12;
  const steps = 66000;
  const counts = new Float64Array(size * size);
  for (let step = 0; step < steps; step++) {
    const [first, second] = minibatchIndices(size, 2, SEED, step);
    counts[first * size + second]++;
  }
  const cells: number[] = [];
  for (let i = 0; i < size; i++) {
    assert.equal(counts[i * size + i], 0, `the pair (${i}, ${i}) was drawn: positions 0 and 1 must differ`);
    for (let j = 0; j < size; j++) if (i !== j) cells.push(counts[i * size + j]);
  }
  assertChiSquare(cells, new Float64Array(cells.length).fill(1 / cells.length), "ordered pairs");
});

test("different steps and seeds draw independent-looking batches (overlap as sampling without replacement predicts)", () => {
  // Two independent uniform batch-subsets of [0, size) share K rows, K hypergeometric with mean
  // batch²/size and variance batch²(size − batch)²/(size²(size − 1)). For each way the key can
  // change, compare `pairs` disjoint pairs of batches and require the mean overlap within
  // Z_LIMIT standard errors of that mean. Identical batches (a key word that is ignored) would give
  // K = batch, hundreds of standard errors away.
  const size = 700;
  const batch = 64;
  const pairs = 400;
  const mean = (batch * batch) / size;
  const variance = (batch * batch * (size - batch) ** 2) / (size * size * (size - 1));
  const standardError = Math.sqrt(variance / pairs);
  const changes: [string, (k: bigint) => [bigint, bigint, bigint, bigint]][] = [
    ["step → step + 1", (k) => [SEED, 2n * k, SEED, 2n * k + 1n]],
    ["seed → seed + 1", (k) => [SEED, k, SEED + 1n, k]],
    ["step → step + 2^32 (the high word)", (k) => [SEED, k, SEED, k + (1n << 32n)]],
    ["seed → seed + 2^32 (the high word)", (k) => [SEED, k, SEED + (1n << 32n), k]],
  ];
  for (const [what, keys] of changes) {
    let total = 0;
    for (let k = 0n; k < BigInt(pairs); k++) {
      const [seedA, stepA, seedB, stepB] = keys(k);
      const a = new Set(minibatchIndices(size, batch, seedA, stepA));
      const b = minibatchIndices(size, batch, seedB, stepB);
      let overlap = 0;
      for (const idx of b) if (a.has(idx)) overlap++;
      total += overlap;
    }
    const z = (total / pairs - mean) / standardError;
    assert.ok(
      Math.abs(z) <= Z_LIMIT,
      `${what}: mean overlap ${(total / pairs).toFixed(3)}, expected ${mean.toFixed(3)} ± ${standardError.toFixed(3)} (z = ${z.toFixed(1)})`,
    );
  }
});

// ---- validation ----

test("bad sizes, batches, positions, seeds and steps are rejected with clear messages", () => {
  const rejects = (f: () => unknown, message: RegExp) =>
    assert.throws(f, (error: unknown) => error instanceof StaqInputError && message.test(error.message));
  for (const size of [0, -1, 1.5, Number.NaN, MAX_SAMPLE_SIZE + 1, Infinity]) {
    rejects(() => minibatchIndices(size, 1, 0, 0), /size \(the filled replay rows\) must be an integer in \[1, 2\^31\]/);
    rejects(() => feistelDomainBits(size), /size/);
  }
  for (const batch of [0, -1, 2.5, 11, Number.NaN])
    rejects(() => minibatchIndices(10, batch, 0, 0), /batch must be an integer in \[1, size = 10\]/);
  for (const position of [-1, 10, 0.5]) rejects(() => permuteIndex(position, 10, 0, 0), /position must be an integer in \[0, size = 10\)/);
  for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, -1n, 1n << 64n]) {
    rejects(() => minibatchIndices(10, 2, bad, 0), /seed must be an integer in \[0, 2\^64\)/);
    rejects(() => minibatchIndices(10, 2, 0, bad), /step must be an integer in \[0, 2\^64\)/);
  }
});
