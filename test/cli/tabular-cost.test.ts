// The cost estimate `staq tabular` announces before a run (src/cli/tabular-cost.ts): it grows as
// S³ per solve, names the solves, time and memory, stays silent for small runs, and refuses a run
// that needs more memory than the machine has, saying how many states fit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import { checkTabularCost, estimateTabularCost } from "../../src/cli/tabular-cost.ts";

const GB = 1e9;

test("small runs are silent; the issue's S = 3000 run (160 s, 1 GB for 3 iterations) is announced", () => {
  assert.equal(checkTabularCost({ states: 5, actions: 3, iterations: 200, variants: 3, fileBytes: 2000 }, 16 * GB), undefined);
  const warning = checkTabularCost({ states: 3000, actions: 4, iterations: 3, variants: 1, fileBytes: 400e6 }, 16 * GB);
  assert.match(
    warning ?? "",
    /^S=3000 states, A=4 actions, 1 variant × 3 iterations: about 10 linear solves of a 3000×3000 system \(O\(S³\) each\), roughly \d+ min and \d\.\d GB of memory/,
  );
});

test("the estimate: time grows as S³, memory as S²A", () => {
  const small = estimateTabularCost({ states: 1000, actions: 2, iterations: 10, variants: 1, fileBytes: 0 });
  const large = estimateTabularCost({ states: 2000, actions: 2, iterations: 10, variants: 1, fileBytes: 0 });
  assert.equal(small.solves, large.solves);
  assert.ok(large.seconds / small.seconds > 7.5 && large.seconds / small.seconds <= 8, `${large.seconds / small.seconds}`);
  assert.ok(large.bytes - 100e6 > 3.9 * (small.bytes - 100e6), "memory about 4 times");
});

test("a run beyond the machine's memory is refused, saying how much it needs and how many states fit", () => {
  assert.throws(
    () => checkTabularCost({ states: 20_000, actions: 10, iterations: 1, variants: 1, fileBytes: 100e6 }, 16 * GB),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /^S=20000 states, A=10 actions, 1 variant × 1 iteration needs about \d+\.\d GB of memory .* more than this machine's 16\.0 GB; with 10 actions, up to about S=\d+ states fit$/,
      );
      const fits = Number(/S=(\d+) states fit/.exec(error.message)![1]);
      assert.doesNotThrow(() => checkTabularCost({ states: fits, actions: 10, iterations: 1, variants: 1, fileBytes: 0 }, 16 * GB));
      assert.throws(
        () => checkTabularCost({ states: fits + 100, actions: 10, iterations: 1, variants: 1, fileBytes: 0 }, 16 * GB),
        StaqInputError,
      );
      return true;
    },
  );
});

// Beyond the solves (the break-tester's `--iterations 80000` on 2 states, and a huge --memory): the
// fixed cost of every iteration, and vanilla/corrected's sums over min(K, M) stored Q-functions.

test("a huge --memory is announced: the sums over the stored Q-functions, and --memory named as what to lower", () => {
  // K = 30000 with M = 1e6 took 94 s on 2 states (each iteration sums all k+1 Q-functions so far);
  // the estimate used to ignore M and say nothing.
  const run = { states: 2, actions: 2, iterations: 30_000, variants: 1, finiteVariants: 1, memory: 1e6, fileBytes: 100 };
  const cost = estimateTabularCost(run);
  // Σ_{k<K} min(k+1, M) = K(K+1)/2 when M ≥ K.
  assert.equal(cost.storedSums, (30_000 * 30_001) / 2);
  assert.ok(cost.seconds >= 60 && cost.seconds <= 600, `${cost.seconds} s`);
  assert.match(
    checkTabularCost(run, 16 * GB) ?? "",
    /^S=2 states, A=2 actions, 1 variant × 30000 iterations: about 30007 linear solves of a 2×2 system \(O\(S³\) each\) and sums of up to 30000 stored Q-functions \(--memory 1000000\) every iteration, roughly 2 min and \d+ MB of memory; fewer --iterations, a smaller --memory or fewer states run faster/,
  );
  // With M = 10 the sums are a small part, and not named; past M, min(k+1, M) = M.
  const small = { ...run, iterations: 1000, memory: 10 };
  assert.equal(estimateTabularCost(small).storedSums, 55 + 990 * 10);
  assert.equal(checkTabularCost(small, 16 * GB), undefined);
});

test("millions of iterations on a tiny MDP are announced (about 10 µs each), and memory they cannot get is refused naming --iterations", () => {
  // Measured: 1e6 exact iterations on 2 states took 6 s and 340 MB; 3 variants 23 s and 860 MB.
  const tiny = { states: 2, actions: 2, variants: 3, finiteVariants: 2, memory: 10, fileBytes: 100 };
  assert.equal(checkTabularCost({ ...tiny, iterations: 1e5 }, 16 * GB), undefined);
  assert.match(
    checkTabularCost({ ...tiny, iterations: 1e6 }, 16 * GB) ?? "",
    /3 variants × 1000000 iterations: .*roughly \d+ s and 1\.0 GB of memory/,
  );
  assert.throws(
    () => checkTabularCost({ ...tiny, iterations: 1e8 }, 16 * GB),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /needs about 90\.1 GB of memory \(most of it the results of 100000000 iterations\), more than this machine's 16\.0 GB; up to about --iterations (\d+) fit$/,
      );
      const fits = Number(/--iterations (\d+) fit/.exec(error.message)![1]);
      assert.doesNotThrow(() => checkTabularCost({ ...tiny, iterations: fits }, 16 * GB));
      assert.throws(() => checkTabularCost({ ...tiny, iterations: fits + 100_000 }, 16 * GB), StaqInputError);
      return true;
    },
  );
});

test("stored Q-functions beyond the machine's memory are refused naming --memory and what fits", () => {
  // S·A = 250000 entries: each stored Q-function is 2 MB, and 10000 of them 20 GB.
  const run = { states: 500, actions: 500, iterations: 10_000, variants: 1, finiteVariants: 1, memory: 10_000, fileBytes: 0 };
  assert.throws(
    () => checkTabularCost(run, 16 * GB),
    (error: Error) => {
      assert.ok(error instanceof StaqInputError);
      assert.match(
        error.message,
        /\(most of it the 10000 Q-functions that --memory 10000 keeps\), more than this machine's 16\.0 GB; up to about --memory (\d+) fits$/,
      );
      const fits = Number(/--memory (\d+) fits/.exec(error.message)![1]);
      assert.doesNotThrow(() => checkTabularCost({ ...run, memory: fits }, 16 * GB));
      assert.throws(() => checkTabularCost({ ...run, memory: fits + 10 }, 16 * GB), StaqInputError);
      return true;
    },
  );
});
