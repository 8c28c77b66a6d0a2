import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createGemm, GEMM_TILES } from "../../bench/gemm.ts";
import { poisonBuffer } from "../../src/gpu/buffers.ts";
import { readFloat32 } from "../../src/gpu/readback.ts";
import { F32_MIN_NORMAL, gammaBound } from "../../src/stack/reference.ts";
import { seededSigned } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = await testGpu();

test("the benchmark's GEMM matches a float64 product within γ_K Σ|a||b| (random shapes, every tile)", async () => {
  // Each c_ij is a K-term dot product: |ĉ − c| ≤ γ_K Σ_k |a_ik b_kj| (Higham §3.1), plus 2^-126 per
  // operation if the device flushes subnormals.
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 24 }).map((n) => 4 * n),
      fc.integer({ min: 1, max: 24 }).map((k) => 4 * k),
      fc.constantFrom(...GEMM_TILES),
      fc.integer(),
      async (m, n, k, tile, seed) => {
        const sample = seededSigned(seed);
        const a = Float32Array.from({ length: m * k }, sample);
        const b = Float32Array.from({ length: k * n }, sample);
        const gemm = await createGemm(gpu, { m, n, k }, tile, a, b);
        poisonBuffer(gpu, gemm.buffers.c);
        const encoder = gpu.device.createCommandEncoder();
        gemm.encode(encoder);
        const c = await readFloat32(gpu, gemm.buffers.c, 0, m * n, [encoder.finish()]);
        gemm.destroy();
        const g = gammaBound(k);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let exact = 0;
            let magnitude = 0;
            for (let t = 0; t < k; t++) {
              exact += a[i * k + t] * b[t * n + j];
              magnitude += Math.abs(a[i * k + t] * b[t * n + j]);
            }
            const got = c[i * n + j];
            assert.ok(Math.abs(got - exact) <= g * magnitude + 2 * k * F32_MIN_NORMAL, `c[${i}][${j}] = ${got}, expected ${exact}`);
          }
        }
      },
    ),
    { numRuns: 12 },
  );
});
