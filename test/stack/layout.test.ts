import { test } from "node:test";
import { StaqInputError } from "../../src/errors.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { packSnapshot, planChunks, snapshotLayout, unpackSnapshot } from "../../src/stack/layout.ts";
import { parameterCount } from "../../src/stack/mlp.ts";
import { randomSnapshots } from "../helpers/random.ts";

const specArb = fc.record({
  inputs: fc.integer({ min: 1, max: 40 }),
  hidden: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
  outputs: fc.integer({ min: 1, max: 18 }),
});

test("packing then unpacking a snapshot gives it back bit for bit; pads are zero", () => {
  fc.assert(
    fc.property(specArb, fc.integer(), (spec, seed) => {
      const layout = snapshotLayout(spec);
      const [weights] = randomSnapshots(spec, 1, seed);
      const packed = packSnapshot(layout, weights);
      assert.deepEqual(unpackSnapshot(layout, packed), weights);
      // Every parameter appears once; everything else is padding and must be zero.
      let nonzeroSlots = 0;
      for (const value of packed) if (value !== 0) nonzeroSlots++;
      assert.ok(nonzeroSlots <= parameterCount(spec));
      assert.equal(layout.vec4s * 4, packed.length);
      for (const layer of layout.layers) assert.equal(layer.paddedOutputs % 4, 0);
    }),
  );
});

test("chunks hold whole snapshots, each within the binding size, covering all of them", () => {
  fc.assert(
    fc.property(specArb, fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 64 }), (spec, total, perChunkWanted) => {
      const layout = snapshotLayout(spec);
      const binding = layout.vec4s * 16 * perChunkWanted + 15; // room for perChunkWanted snapshots, not one more
      const plan = planChunks(layout, total, binding);
      assert.equal(
        plan.chunkSizes.reduce((a, b) => a + b, 0),
        total,
      );
      for (const size of plan.chunkSizes) {
        assert.ok(size >= 1 && size * layout.vec4s * 16 <= binding);
      }
      assert.equal(plan.chunkSizes.length, Math.ceil(total / perChunkWanted));
    }),
  );
  assert.throws(
    () => planChunks(snapshotLayout({ inputs: 1000, hidden: [256], outputs: 4 }), 1, 1024),
    (error: Error) => error instanceof StaqInputError && /more than one storage binding can hold/.test(error.message),
  );
});
