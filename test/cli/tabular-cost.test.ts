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
