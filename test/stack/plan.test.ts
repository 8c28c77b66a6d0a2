import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { planChunks, snapshotLayout } from "../../src/stack/layout.ts";
import { planStackDispatch, rowAlignment } from "../../src/stack/dispatch-plan.ts";
import { convFilterGroup, planStackTiling } from "../../src/stack/tiling.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import type { GpuLimits } from "../../src/gpu/gpu.ts";
import { LAVAPIPE_LIMITS } from "../helpers/limits.ts";

const lavapipe: GpuLimits = { ...LAVAPIPE_LIMITS };
// WebGPU's guaranteed minimums: a plan must work on any adapter.
const baseline: GpuLimits = {
  ...lavapipe,
  maxComputeWorkgroupStorageSize: 16 * 1024,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxStorageBuffersPerShaderStage: 8,
};

// The ranges the kernel promises: inputs 1–512, widths 16–256, actions 2–18, M 1–512, E 1–4, B 1–65536.
const shapes = fc.record({
  inputs: fc.integer({ min: 1, max: 512 }),
  hidden: fc.array(fc.integer({ min: 16, max: 256 }), { maxLength: 3 }),
  outputs: fc.integer({ min: 2, max: 18 }),
  memory: fc.integer({ min: 1, max: 512 }),
  ensemble: fc.integer({ min: 1, max: 4 }),
  batch: fc.oneof(fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: 65536 })),
  limits: fc.constantFrom(lavapipe, baseline),
  target: fc.constantFrom(1, 16, 256),
  binding: fc.constantFrom(undefined, 1 << 20),
});

test("every plan stays inside the device limits and evaluates each stored snapshot exactly once per state", () => {
  fc.assert(
    fc.property(shapes, fc.double({ min: 0, max: 1, noNaN: true }), (s, fill) => {
      const layout = snapshotLayout({ inputs: s.inputs, hidden: s.hidden, outputs: s.outputs });
      const binding = Math.min(s.limits.maxStorageBufferBindingSize, s.binding ?? Infinity);
      if (layout.vec4s * 16 > binding) return; // a snapshot larger than the binding is refused elsewhere
      const chunkPlan = planChunks(layout, s.memory * s.ensemble, binding);
      const chunks = chunkPlan.chunkSizes.map((capacity, k) => ({
        first: k * chunkPlan.snapshotsPerChunk,
        capacity,
        buffer: {} as GPUBuffer,
      }));
      const stored = Math.max(1, Math.round(fill * s.memory));
      const limits = { ...s.limits, maxStorageBufferBindingSize: binding };
      const filled = chunks.filter((chunk) => chunk.first < stored * s.ensemble).length;
      const oneAlignedGroup = Math.min(s.batch, rowAlignment(s.inputs, s.outputs));
      if (filled * oneAlignedGroup * s.outputs * 4 > binding) {
        // So many weight buffers that not even one aligned group of rows has room for a part per buffer.
        assert.throws(
          () => planStackDispatch({ layout, ensemble: s.ensemble, chunks, targetWorkgroups: s.target }, stored, s.batch, limits),
          /use a larger maxBindingBytes/,
        );
        return;
      }
      const plan = planStackDispatch({ layout, ensemble: s.ensemble, chunks, targetWorkgroups: s.target }, stored, s.batch, limits);
      const t = plan.tiling;

      assert.ok(t.workgroupSize >= 1 && t.workgroupSize <= Math.min(256, limits.maxComputeInvocationsPerWorkgroup));
      assert.ok(t.actVec4s * 16 <= limits.maxComputeWorkgroupStorageSize);
      assert.equal(t.tileRows % t.rowsPerThread, 0);
      assert.ok(t.headUnitsPerThread * t.workgroupSize >= t.lanes * t.tileRows * t.headCols * t.headSplit);

      let rowsCovered = 0;
      for (const chunk of plan.rowChunks) {
        assert.equal(chunk.firstRow, rowsCovered);
        rowsCovered += chunk.rows;
        assert.ok(chunk.tiles * t.tileRows >= chunk.rows && chunk.tiles <= limits.maxComputeWorkgroupsPerDimension);
        assert.ok(chunk.rows * s.inputs * 4 <= binding && chunk.parts * chunk.rows * s.outputs * 4 <= binding);
        if (chunk.firstRow > 0) {
          assert.equal((chunk.firstRow * s.inputs * 4) % 256, 0);
          assert.equal((chunk.firstRow * s.outputs * 4) % 256, 0);
        }
        // Snapshots [0, stored · E) each evaluated once, parts numbered 0..parts-1 without gaps.
        let covered = 0;
        let parts = 0;
        for (const d of chunk.forward) {
          assert.equal(chunks[d.chunk].first + d.snapshotBegin, covered);
          assert.ok(d.snapshotBegin + d.snapshotCount <= chunks[d.chunk].capacity);
          assert.equal(d.coefficientBase, chunks[d.chunk].first);
          assert.equal(d.partBase, parts);
          assert.ok(d.runs >= 1 && d.runs <= d.snapshotCount && d.runs <= limits.maxComputeWorkgroupsPerDimension);
          covered += d.snapshotCount;
          parts += d.runs;
        }
        assert.equal(covered, stored * s.ensemble);
        assert.equal(parts, chunk.parts);
      }
      assert.equal(rowsCovered, s.batch);
    }),
    { numRuns: 500 },
  );
});

test("a range of snapshots (one ring slot, possibly across weight buffers) is evaluated once each, its coefficients indexed from the range's offset", () => {
  // The incremental sums evaluate the E snapshots of one slot with a buffer of E coefficients:
  // snapshot j of the range must read coefficients[j − coefficientOffset], which the kernel computes
  // as coefficientBase + (local index − snapshotBegin).
  fc.assert(
    fc.property(shapes, fc.integer({ min: 0, max: 511 }), fc.constantFrom(16 * 1024, 1 << 20), (s, slotSeed, binding) => {
      const layout = snapshotLayout({ inputs: s.inputs, hidden: s.hidden, outputs: s.outputs });
      if (layout.vec4s * 16 > binding) return;
      const chunkPlan = planChunks(layout, s.memory * s.ensemble, binding);
      const chunks = chunkPlan.chunkSizes.map((capacity, k) => ({
        first: k * chunkPlan.snapshotsPerChunk,
        capacity,
        buffer: {} as GPUBuffer,
      }));
      const slot = slotSeed % s.memory;
      const range = { begin: slot * s.ensemble, end: (slot + 1) * s.ensemble, coefficientOffset: slot * s.ensemble };
      // Small weight buffers (the stack's maxBindingBytes) spread a slot's members over several of them.
      const plan = planStackDispatch({ layout, ensemble: s.ensemble, chunks, targetWorkgroups: s.target }, range, s.batch, s.limits);
      for (const chunk of plan.rowChunks) {
        const seen: number[] = [];
        for (const d of chunk.forward) {
          assert.ok(d.snapshotBegin + d.snapshotCount <= chunks[d.chunk].capacity);
          for (let local = d.snapshotBegin; local < d.snapshotBegin + d.snapshotCount; local++) {
            const flat = chunks[d.chunk].first + local;
            seen.push(flat);
            assert.equal(d.coefficientBase + (local - d.snapshotBegin), flat - range.coefficientOffset);
          }
        }
        assert.deepEqual(
          seen,
          Array.from({ length: s.ensemble }, (_, e) => range.begin + e),
        );
      }
    }),
    { numRuns: 300 },
  );
});

test("found by the GPU property: narrow layers, many actions, a mid-size batch fit workgroup memory", () => {
  // 16 lanes of 28 states × 5 head vec4s once needed 2240 vec4s of a 2048-vec4 workgroup memory.
  const layout = snapshotLayout({ inputs: 1, hidden: [16], outputs: 17 });
  const chunks = [{ first: 0, capacity: 1, buffer: {} as GPUBuffer }];
  for (const limits of [lavapipe, baseline]) {
    for (let batch = 1; batch <= 70; batch++) {
      const plan = planStackDispatch({ layout, ensemble: 1, chunks, targetWorkgroups: 1 }, 1, batch, limits);
      assert.ok(plan.tiling.actVec4s * 16 <= limits.maxComputeWorkgroupStorageSize);
    }
  }
});

test("a small batch fills the workgroup with snapshots side by side; a large one with states", () => {
  const layout = snapshotLayout({ inputs: 4, hidden: [64, 64], outputs: 2 });
  const chunks = [{ first: 0, capacity: 300, buffer: {} as GPUBuffer }];
  const small = planStackDispatch({ layout, ensemble: 1, chunks, targetWorkgroups: 256 }, 300, 1, lavapipe);
  const large = planStackDispatch({ layout, ensemble: 1, chunks, targetWorkgroups: 256 }, 300, 65536, lavapipe);
  assert.equal(small.tiling.tileRows, 1);
  assert.ok(small.tiling.lanes > 1);
  assert.ok(small.rowChunks[0].parts > 1, "one state: the snapshots are spread over runs");
  assert.equal(large.tiling.tileRows, 64);
  assert.equal(large.rowChunks[0].parts, 1, "many states: one dispatch writes the logits directly");
});

test("a hidden layer wider than a workgroup can hold is refused with the limit", () => {
  const layout = snapshotLayout({ inputs: 4, hidden: [8192], outputs: 2 });
  assert.throws(
    () =>
      planStackDispatch(
        { layout, ensemble: 1, chunks: [{ first: 0, capacity: 1, buffer: {} as GPUBuffer }], targetWorkgroups: 1 },
        1,
        1,
        baseline,
      ),
    /wider than this device can keep in one workgroup/,
  );
});

test("a conv layer and the dense layer after it run in chunks of whole positions, as wide as the dense row (hand-computed)", () => {
  // The paper's MinAtar network: 8×8 = 64 positions of 16 filters (4 vec4s), then 128 units (32 vec4s).
  const paper: MlpSpec = { inputs: 400, conv: { inputShape: [10, 10, 4], filters: 16 }, hidden: [128], outputs: 3 };
  const fused = planStackTiling(snapshotLayout(paper), 4096, lavapipe);
  const whole = planStackTiling(snapshotLayout(paper), 4096, lavapipe, { convFusion: false });
  assert.equal(fused.convChunkCols4, 32, "8 positions × 4 vec4s");
  assert.equal(fused.actWidth4, 32);
  // 2048 vec4s of workgroup memory: 64 rows of 32 vec4s (the largest tile), against 8 rows of the
  // conv's whole 256-vec4 output.
  assert.equal(fused.tileRows, 64);
  assert.equal(whole.convChunkCols4, 0);
  assert.equal(whole.actWidth4, 256);
  assert.equal(whole.tileRows, 8);
  // WebGPU's minimum 16 KiB: 32 rows against 4.
  assert.equal(planStackTiling(snapshotLayout(paper), 4096, baseline).tileRows, 32);
  assert.equal(planStackTiling(snapshotLayout(paper), 4096, baseline, { convFusion: false }).tileRows, 4);
  // quick-minatar's: 8 filters (2 vec4s) then 64 units (16 vec4s): chunks of 8 positions.
  const quick: MlpSpec = { inputs: 400, conv: { inputShape: [10, 10, 4], filters: 8 }, hidden: [64], outputs: 3 };
  assert.equal(planStackTiling(snapshotLayout(quick), 4096, lavapipe).convChunkCols4, 16);
  // One position wider than the dense row: chunks of one position (64 filters = 16 vec4s > 8).
  const wide: MlpSpec = { inputs: 48, conv: { inputShape: [4, 4, 3], filters: 64 }, hidden: [32], outputs: 2 };
  assert.equal(planStackTiling(snapshotLayout(wide), 64, lavapipe).convChunkCols4, 16);
  // Below 4 states, chunks only where a lane is one thread (no barriers): at one state
  // quick-minatar's 16-vec4 row is one thread's 16 accumulators; at two, 2 × 8 take two threads,
  // and the paper's 32 vec4s take two or more: those are evaluated whole. From 4 states on, chunks.
  const quickOne = planStackTiling(snapshotLayout(quick), 1, lavapipe);
  assert.equal(quickOne.convChunkCols4, 16);
  assert.equal(quickOne.laneThreads, 1);
  assert.equal(planStackTiling(snapshotLayout(quick), 2, lavapipe).convChunkCols4, 0);
  assert.equal(planStackTiling(snapshotLayout(paper), 1, lavapipe).convChunkCols4, 0);
  assert.equal(planStackTiling(snapshotLayout(paper), 3, lavapipe).convChunkCols4, 0);
  assert.equal(planStackTiling(snapshotLayout(paper), 4, lavapipe).convChunkCols4, 32);
  // No dense layer after the conv: nothing to fuse with.
  const convOnly: MlpSpec = { inputs: 48, conv: { inputShape: [4, 4, 3], filters: 8 }, hidden: [], outputs: 2 };
  assert.equal(planStackTiling(snapshotLayout(convOnly), 64, lavapipe).convChunkCols4, 0);
});

test("a chunked conv thread computes the largest group of filter vec4s up to 4 that divides the filters (hand-computed)", () => {
  const group = (filters: number) =>
    convFilterGroup(snapshotLayout({ inputs: 100, conv: { inputShape: [5, 5, 4], filters, kernel: [3, 3] }, hidden: [32], outputs: 3 }));
  assert.equal(group(16), 4); // the paper's MinAtar network: 4 vec4s
  assert.equal(group(8), 2); // quick-minatar's
  assert.equal(group(12), 3);
  assert.equal(group(5), 2); // padded to 8
  assert.equal(group(3), 1); // padded to 4
  assert.equal(group(20), 1); // 5 vec4s: no divisor from 2 to 4
  assert.equal(group(24), 3); // 6 vec4s
  assert.equal(group(32), 4); // 8 vec4s
  assert.equal(convFilterGroup(snapshotLayout({ inputs: 4, hidden: [64, 64], outputs: 2 })), 1); // no conv
});

// A chunk is whole positions, at most all of them, so its row is never wider than the conv's whole
// output; the tile's limits by threads and by memory only shrink as the row widens, so the fused
// plan's tile is never smaller than the unfused one's, and stays within workgroup memory.
test("property: the fused conv plan fits the device and its tile of states is never smaller than the unfused one's", () => {
  fc.assert(
    fc.property(
      fc.record({
        height: fc.integer({ min: 1, max: 12 }),
        width: fc.integer({ min: 1, max: 12 }),
        channels: fc.integer({ min: 1, max: 8 }),
        filters: fc.integer({ min: 1, max: 32 }),
        kernel: fc.integer({ min: 1, max: 3 }),
        hidden: fc.array(fc.integer({ min: 4, max: 256 }), { minLength: 1, maxLength: 2 }),
        batch: fc.integer({ min: 1, max: 4096 }),
        limits: fc.constantFrom(lavapipe, baseline),
      }),
      (c) => {
        const kernel = Math.min(c.kernel, c.height, c.width);
        const spec: MlpSpec = {
          inputs: c.height * c.width * c.channels,
          conv: { inputShape: [c.height, c.width, c.channels], filters: c.filters, kernel: [kernel, kernel] },
          hidden: c.hidden,
          outputs: 3,
        };
        const layout = snapshotLayout(spec);
        let whole;
        try {
          whole = planStackTiling(layout, c.batch, c.limits, { convFusion: false });
        } catch {
          return; // a conv output too wide for the unfused plan
        }
        const fused = planStackTiling(layout, c.batch, c.limits);
        const filters4 = Math.ceil(c.filters / 4);
        if (fused.convChunkCols4 === 0) {
          // Only below 4 states, where a fused lane would be several threads meeting at barriers.
          assert.ok(fused.tileRows < 4);
          assert.deepEqual(fused, whole);
          return;
        }
        assert.ok(fused.convChunkCols4 % filters4 === 0, "whole positions");
        assert.ok(fused.convChunkCols4 <= layout.layers[0].width / 4);
        assert.ok(fused.tileRows >= whole.tileRows, `fused ${fused.tileRows} rows < unfused ${whole.tileRows}`);
        assert.ok(fused.actVec4s * 16 <= c.limits.maxComputeWorkgroupStorageSize);
        assert.ok(fused.actWidth4 >= fused.convChunkCols4);
      },
    ),
    { numRuns: 300 },
  );
});
