/**
 * The adapter's ceiling for the stack kernel's kind of work: a plain register-tiled GEMM
 * (bench/shaders/gemm.wgsl) at a few shapes and tile sizes; the best GFLOP/s is the ceiling.
 */
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { BENCH_SHADER_SOURCES } from "./shader-sources.generated.ts";
import { repeat, type DeviceTimer, type RepeatOptions, type Summary } from "./measure.ts";
import { refuseDirectRun } from "./arguments.ts";

// bench/stack.ts and bench/train.ts measure the ceiling with it; run alone it would do nothing.
refuseDirectRun(import.meta.url, "gemm.ts", "npx tsx bench/stack.ts (the GEMM ceiling is in its report)");

export interface GemmTile {
  rowsPerThread: number;
  colsPerThread: number;
  threadsX: number;
  threadsY: number;
}

export const GEMM_TILES: GemmTile[] = [
  { rowsPerThread: 4, colsPerThread: 1, threadsX: 16, threadsY: 16 },
  { rowsPerThread: 4, colsPerThread: 2, threadsX: 16, threadsY: 8 },
  { rowsPerThread: 4, colsPerThread: 4, threadsX: 16, threadsY: 4 },
];

export interface GemmShape {
  m: number;
  n: number;
  k: number;
}

export interface GemmResult extends GemmShape, GemmTile {
  device: Summary;
  gflops: number;
}

/** A GEMM program on fixed buffers: `encode` records C = A·B. */
export interface Gemm {
  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  buffers: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer };
  destroy(): void;
}

export async function createGemm(gpu: Gpu, shape: GemmShape, tile: GemmTile, a?: Float32Array, b?: Float32Array): Promise<Gemm> {
  const { m, n, k } = shape;
  if (n % 4 !== 0 || k % 4 !== 0) throw new Error(`gemm: n and k must be multiples of 4 (got n=${n}, k=${k})`);
  const gemm = await gpu.kernel(
    { name: "gemm", source: BENCH_SHADER_SOURCES.gemm, file: "bench/shaders/gemm.wgsl" },
    { ROWS_PER_THREAD: tile.rowsPerThread, COLS_PER_THREAD: tile.colsPerThread, THREADS_X: tile.threadsX, THREADS_Y: tile.threadsY },
  );
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buffers = {
    a: createBuffer(gpu, m * k * 4, storage, "gemm a"),
    b: createBuffer(gpu, k * n * 4, storage, "gemm b"),
    c: createBuffer(gpu, m * n * 4, storage, "gemm c"),
  };
  const fill = (length: number) => Float32Array.from({ length }, (_, i) => ((i * 7919) % 2003) / 2003 - 0.5);
  gpu.writeBuffer(buffers.a, 0, a ?? fill(m * k));
  gpu.writeBuffer(buffers.b, 0, b ?? fill(k * n));
  const params = createBuffer(gpu, 16, BufferUsage.UNIFORM | BufferUsage.COPY_DST, "gemm params");
  gpu.writeBuffer(params, 0, gemm.packUniform({ m, n, k }));
  const bindGroup = gemm.bind({ params, ...buffers }, "gemm");
  // Each thread covers COLS_PER_THREAD vec4 columns and ROWS_PER_THREAD rows.
  const workgroups = {
    x: Math.ceil(n / 4 / (tile.threadsX * tile.colsPerThread)),
    y: Math.ceil(m / (tile.threadsY * tile.rowsPerThread)),
    z: 1,
  };
  return {
    buffers,
    encode(encoder, timestampWrites) {
      const pass = encoder.beginComputePass({ label: "gemm", timestampWrites });
      gemm.dispatch(pass, bindGroup, workgroups);
      pass.end();
    },
    destroy() {
      for (const buffer of [...Object.values(buffers), params]) buffer.destroy();
    },
  };
}

/** Times every tile at every shape; returns all results, best first. */
export async function measureGemm(gpu: Gpu, timer: DeviceTimer, shapes: GemmShape[], options: RepeatOptions): Promise<GemmResult[]> {
  const results: GemmResult[] = [];
  for (const shape of shapes) {
    for (const tile of GEMM_TILES) {
      const gemm = await createGemm(gpu, shape, tile);
      const device = await repeat(() => timer.time((encoder, writes) => gemm.encode(encoder, writes)), options);
      gemm.destroy();
      results.push({ ...shape, ...tile, device, gflops: (2 * shape.m * shape.n * shape.k) / (device.median * 1e6) });
    }
  }
  return results.sort((x, y) => y.gflops - x.gflops);
}
