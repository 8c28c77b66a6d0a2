import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { snapshotContributions } from "../../src/stack/contributions.ts";
import { mlpReference, stackLogitsReference } from "../../src/stack/reference.ts";
import { StaqInputError } from "../../src/errors.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { randomSnapshots, seededUniform } from "../helpers/random.ts";

test("the snapshots' contributions add up to the stack's logits", () => {
  // Both sides are float64 sums of the same products in a different order, so they agree to a few
  // ulps of the sum of the magnitudes: 1e-12 relative to Σ|contribution| is far above that and far
  // below any real mistake (a missing member, a wrong coefficient, a slot out of order).
  fc.assert(
    fc.property(
      fc.record({
        inputs: fc.integer({ min: 1, max: 6 }),
        hidden: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 2 }),
        outputs: fc.integer({ min: 1, max: 5 }),
        members: fc.integer({ min: 1, max: 3 }),
        stored: fc.integer({ min: 0, max: 6 }),
        correction: fc.double({ min: 0.1, max: 10, noNaN: true }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      }),
      ({ inputs, hidden, outputs, members, stored, correction, seed }) => {
        const spec: MlpSpec = { inputs, hidden, outputs };
        const uniform = seededUniform(seed);
        const snapshots = Array.from({ length: members }, (_, e) => randomSnapshots(spec, stored, seed + 7919 * (e + 1)));
        const coefficients = Array.from({ length: members }, () => Float64Array.from({ length: stored }, () => uniform() * 2 - 1));
        const state = Float32Array.from({ length: inputs }, () => uniform() * 4 - 2);
        const contents = { spec, snapshots, coefficients, correction };
        const result = snapshotContributions(contents, state);
        const reference = stackLogitsReference(contents, state, 1);
        assert.equal(result.stored, stored);
        for (let a = 0; a < outputs; a++) {
          let sum = 0;
          let magnitude = 0;
          for (let i = 0; i < stored; i++) {
            sum += result.contributions[i * outputs + a];
            magnitude += Math.abs(result.contributions[i * outputs + a]);
          }
          assert.ok(Math.abs(sum - reference.logits[a]) <= 1e-12 * magnitude + 1e-300, `action ${a}: ${sum} vs ${reference.logits[a]}`);
          assert.equal(result.logits[a], sum);
        }
      },
    ),
    { numRuns: 100 },
  );
});

test("a snapshot's contribution is correction · mean over members of c · Q, by hand", () => {
  const spec: MlpSpec = { inputs: 1, hidden: [], outputs: 2 };
  // Q_{e,i}(s) = W s + b with one input: easy to compute by hand.
  const net = (w0: number, w1: number) => ({ layers: [{ weight: Float32Array.of(w0, w1), bias: Float32Array.of(0, 1) }] });
  const snapshots = [
    [net(1, 2), net(3, 0)],
    [net(-1, 0), net(1, 1)],
  ];
  const coefficients = [Float64Array.of(0.5, 1), Float64Array.of(2, 0.25)];
  const state = [2];
  const result = snapshotContributions({ spec, snapshots, coefficients, correction: 4 }, state);
  // Snapshot 0: 4 · (0.5·[2, 5] + 2·[−2, 1]) / 2 = 2 · [−3, 4.5] = [−6, 9].
  // Snapshot 1: 4 · (1·[6, 1] + 0.25·[2, 3]) / 2 = 2 · [6.5, 1.75] = [13, 3.5].
  assert.deepEqual(Array.from(result.contributions), [-6, 9, 13, 3.5]);
  assert.deepEqual(Array.from(result.logits), [7, 12.5]);
  assert.deepEqual(Array.from(mlpReference(spec, snapshots[0][0], state).value), [2, 5]);
});

test("a state of the wrong size is an error naming both sizes", () => {
  const spec: MlpSpec = { inputs: 3, hidden: [], outputs: 2 };
  assert.throws(
    () => snapshotContributions({ spec, snapshots: [[]], coefficients: [new Float64Array(0)], correction: 1 }, [1, 2]),
    (error: Error) => error instanceof StaqInputError && /2 values.*take 3/.test(error.message),
  );
});
