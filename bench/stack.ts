/**
 * Stack evaluation benchmark: latency and GFLOP/s of the one-dispatch kernel over a grid of
 * memory M, batch B, width W, inputs I and ensemble E, against (b) a naive baseline with one
 * dispatch per snapshot per layer, (c) the float64 TypeScript reference on the CPU and (d) a plain
 * GEMM kernel as the adapter's ceiling, all measured in the same run. Prints a table as it goes,
 * then writes bench/results/<adapter>.json and .md.
 *
 *   npm run bench -- --quick     (this machine: lavapipe; skips what would take too long)
 *   npm run bench -- --full      (a real GPU)
 */
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { createGpu } from "../src/node/create-gpu.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import { DurationEstimate } from "../src/gpu/patient-wait.ts";
import { Readback } from "../src/gpu/readback.ts";
import { createStack, type Stack } from "../src/stack/stack.ts";
import { createActor } from "../src/policy/actor.ts";
import { PytorchUnavailableError, runPytorchBaseline, type PytorchBaselineResult } from "./pytorch-baseline.ts";
import { planStackDispatch } from "../src/stack/dispatch-plan.ts";
import { encodeStackLogits, stackLogits } from "../src/stack/stack-logits.ts";
import { randomMlpWeights, layerShapes, type MlpSpec, type MlpWeights } from "../src/stack/mlp.ts";
import { stackLogitsReference } from "../src/stack/reference.ts";
import { createNaiveStack } from "./naive-stack.ts";
import { createGemm, measureGemm, type GemmResult } from "./gemm.ts";
import { DeviceTimer, repeat, summarize, wallTime, type RepeatOptions, type Summary } from "./measure.ts";
import { adapterSlug, formatMs, markdownTable, fullMode, commonBenchOptions, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    ...commonBenchOptions(join(here, "results")),
    fast: { type: "boolean", default: false },
    "no-fast-compare": { type: "boolean", default: false },
    "fast-child": { type: "string" },
    "max-eval-seconds": { type: "string" },
    pytorch: { type: "string" },
  },
  strict: true,
});

if (args.help) {
  console.log(`Usage: npm run bench -- [--quick | --full] [--out DIR] [--no-fast-compare] [--max-eval-seconds S]
  --quick   grid trimmed to what a CPU adapter (lavapipe) runs in minutes (the default)
  --full    the whole grid, for a real GPU
  --fast    run with Dawn's robustness off (see GpuOptions.fast)
  --pytorch cuda|cpu|off  the PyTorch baseline (bench/pytorch_stack.py: stacked weights, batched
            matmul over snapshots) and torch.matmul's FP32 GEMM ceiling on the same device, for the
            measured configurations (default: cuda with --full, off with --quick)
Writes DIR/<adapter>.json and DIR/<adapter>.md (DIR defaults to bench/results).`);
  process.exit(0);
}
const full = fullMode(args);

interface Config {
  memory: number;
  batch: number;
  width: number;
  inputs: number;
  ensemble: number;
}

const ACTIONS = 18;
const GRID = {
  memory: [1, 10, 100, 300],
  batch: full ? [1, 32, 256, 4096, 65536] : [1, 32, 256, 4096],
  width: [64, 256],
  inputs: [4, 400],
  ensemble: [1, 2],
};
/** Largest estimated time of one evaluation that is still measured. */
const maxEvalSeconds = Number(args["max-eval-seconds"] ?? (full ? 20 : 0.6));
const repeatOptions: RepeatOptions = full
  ? { warmup: 3, minRuns: 10, maxRuns: 200, minSeconds: 1 }
  : { warmup: 1, minRuns: 3, maxRuns: 20, minSeconds: 0.25 };

const specOf = (c: Config): MlpSpec => ({ inputs: c.inputs, hidden: [c.width, c.width], outputs: ACTIONS });
const macsPerState = (spec: MlpSpec) => layerShapes(spec).reduce((sum, { inputs, outputs }) => sum + inputs * outputs, 0);
const flopsOf = (c: Config) => 2 * c.batch * c.memory * c.ensemble * macsPerState(specOf(c));
const label = (c: Config) => `M=${c.memory} B=${c.batch} W=${c.width} I=${c.inputs} E=${c.ensemble}`;

/** The configurations the targets name. */
const TARGET_LATENCY: Config = { memory: 300, batch: 1, width: 64, inputs: 4, ensemble: 1 };

interface Row {
  config: Config;
  flops: number;
  plan?: { tileRows: number; lanes: number; runs: number; dispatches: number };
  kernel?: { e2e: Summary; device: Summary; gflops: number; ofCeiling: number };
  naive?: { e2e: Summary; device: Summary; gflops: number };
  cpu?: { e2e: Summary; gflops: number };
  skipped?: string;
}

/** A few random networks per shape, pushed in turn: the values do not matter for timing. */
const networkPool = new Map<string, MlpWeights[]>();
function networks(spec: MlpSpec): MlpWeights[] {
  const key = JSON.stringify(spec);
  let pool = networkPool.get(key);
  if (!pool) {
    let seed = 1;
    const sample = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    pool = Array.from({ length: 4 }, () => randomMlpWeights(spec, sample));
    networkPool.set(key, pool);
  }
  return pool;
}

function filledStack(gpu: Gpu, c: Config): Stack {
  const spec = specOf(c);
  const stack = createStack(gpu, { mlp: spec, memory: c.memory, ensemble: c.ensemble, eta: 20, tau: 0.5 });
  const pool = networks(spec);
  for (let p = 0; p < c.memory; p++) stack.push(Array.from({ length: c.ensemble }, (_, e) => pool[(p + e) % pool.length]));
  return stack;
}

function statesFor(c: Config): Float32Array {
  return Float32Array.from({ length: c.batch * c.inputs }, (_, i) => Math.sin(i * 0.37));
}

/** One-sample measurements of a variant: end to end (ms) and device time (ms). */
interface Sampler {
  e2e(): Promise<number>;
  device(): Promise<number>;
  destroy(): void;
}

/** Naive baseline: upload states, one dispatch per snapshot per layer, read the logits back. */
async function naiveSampler(gpu: Gpu, timer: DeviceTimer, stack: Stack, c: Config, states: Float32Array): Promise<Sampler> {
  const statesBuffer = createBuffer(gpu, states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, "naive states");
  const bytes = c.batch * ACTIONS * 4;
  const logits = createBuffer(gpu, bytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "naive logits");
  const readback = new Readback(gpu, "naive");
  const naive = await createNaiveStack(stack, statesBuffer, logits, c.batch);
  const duration = new DurationEstimate();
  return {
    // The same path as stackLogits: upload, record, read back through a Readback with the patient wait.
    e2e: () =>
      wallTime(async () => {
        gpu.writeBuffer(statesBuffer, 0, states);
        const encoder = gpu.encoder("naive");
        naive.encode(encoder);
        await readback.read(encoder, [{ source: logits, bytes }], duration);
      }),
    device: () => timer.time((encoder, writes) => naive.encode(encoder, writes)),
    destroy() {
      naive.destroy();
      readback.destroy();
      for (const buffer of [statesBuffer, logits]) buffer.destroy();
    },
  };
}

/** The one-dispatch kernel: `stackLogits` end to end; `encodeStackLogits` for device time. */
function kernelSampler(gpu: Gpu, timer: DeviceTimer, stack: Stack, c: Config, states: Float32Array): Sampler {
  const statesBuffer = createBuffer(gpu, states.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, "bench states");
  const logits = createBuffer(gpu, c.batch * ACTIONS * 4, BufferUsage.STORAGE, "bench logits");
  gpu.writeBuffer(statesBuffer, 0, states);
  const io = { states: statesBuffer, logits, batch: c.batch };
  return {
    e2e: () => wallTime(() => stackLogits(stack, states)),
    device: () => timer.time((encoder, timestampWrites) => encodeStackLogits(stack, encoder, io, { timestampWrites })),
    destroy() {
      statesBuffer.destroy();
      logits.destroy();
    },
  };
}

async function measure(sampler: Sampler): Promise<{ e2e: Summary; device: Summary }> {
  return { e2e: await repeat(() => sampler.e2e(), repeatOptions), device: await repeat(() => sampler.device(), repeatOptions) };
}

/**
 * Two variants measured alternately, sample for sample, so that a machine that gets busier or
 * quieter during the run affects both alike; returns both summaries and the ratio of medians.
 */
async function paired(a: () => Promise<number>, b: () => Promise<number>, rounds: number) {
  for (let i = 0; i < 2; i++) {
    await a();
    await b();
  }
  const samplesA: number[] = [];
  const samplesB: number[] = [];
  for (let i = 0; i < rounds; i++) {
    samplesA.push(await a());
    samplesB.push(await b());
  }
  const [first, second] = [summarize(samplesA), summarize(samplesB)];
  return { a: first, b: second, ratio: second.median / first.median };
}

/** Runs this script in a child process with other Dawn flags (one Dawn configuration per process). */
function fastModeChild(fast: boolean, configs: Config[]): Record<string, number> {
  const file = join(tmpdir(), `staq-bench-fast-${process.pid}-${fast}.json`);
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--fast-child", file, ...(fast ? ["--fast"] : []), ...(full ? ["--full"] : [])],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, STAQ_BENCH_CONFIGS: JSON.stringify(configs) } },
  );
  if (child.status !== 0) throw new Error(`the ${fast ? "fast" : "default"}-mode child failed (exit ${child.status})`);
  const result = JSON.parse(readFileSync(file, "utf8"));
  rmSync(file);
  return result;
}

async function childMain(file: string): Promise<void> {
  const gpu = await createGpu({ fast: args.fast });
  const timer = new DeviceTimer(gpu);
  const result: Record<string, number> = {};
  for (const c of JSON.parse(process.env.STAQ_BENCH_CONFIGS ?? "[]") as Config[]) {
    const stack = filledStack(gpu, c);
    const kernel = kernelSampler(gpu, timer, stack, c, statesFor(c));
    result[label(c)] = (await repeat(() => kernel.device(), repeatOptions)).median;
    kernel.destroy();
    stack.destroy();
  }
  writeFileSync(file, JSON.stringify(result));
  timer.destroy();
  gpu.destroy();
}

async function main(): Promise<void> {
  const gpu = await createGpu({ fast: args.fast });
  const timer = new DeviceTimer(gpu);
  const started = Date.now();
  console.log(`staq stack benchmark (${full ? "full" : "quick"}) on ${gpu.info.adapter} [${gpu.info.vendor}, ${gpu.info.architecture}]`);
  console.log(`device time: ${timer.method}; Dawn robustness ${gpu.info.fast ? "off (fast mode)" : "on"}; node ${process.version}`);

  // (d) the ceiling
  const gemmShapes = full
    ? [
        { m: 4096, n: 4096, k: 4096 },
        { m: 65536, n: 256, k: 256 },
      ]
    : [
        { m: 512, n: 512, k: 512 },
        { m: 4096, n: 256, k: 256 },
      ];
  const gemm = await measureGemm(gpu, timer, gemmShapes, repeatOptions);
  const ceiling = gemm[0];
  console.log(
    `GEMM ceiling: ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k}, tile ${ceiling.rowsPerThread}×${ceiling.colsPerThread * 4})`,
  );
  for (const g of gemm.slice(1))
    console.log(`  also ${g.gflops.toFixed(2)} GFLOP/s at ${g.m}×${g.n}×${g.k}, tile ${g.rowsPerThread}×${g.colsPerThread * 4}`);

  const rate = ceiling.gflops * 1e9;
  const configs: Config[] = [];
  for (const width of GRID.width)
    for (const inputs of GRID.inputs)
      for (const ensemble of GRID.ensemble)
        for (const memory of GRID.memory) for (const batch of GRID.batch) configs.push({ memory, batch, width, inputs, ensemble });

  const rows: Row[] = [];
  const header = [
    "config",
    "kernel e2e ms (p10–p90)",
    "device ms",
    "GFLOP/s",
    "% ceiling",
    "naive e2e ms",
    "× naive",
    "CPU ref ms",
    "× CPU",
  ];
  console.log(`\n${header.join(" | ")}`);
  for (const group of groupBy(configs, (c) => `${c.width} ${c.inputs} ${c.ensemble} ${c.memory}`)) {
    let stack: Stack | undefined;
    for (const c of group) {
      const flops = flopsOf(c);
      const row: Row = { config: c, flops };
      rows.push(row);
      // Small batches run far below the GEMM rate; estimate conservatively before committing time.
      const estimate = flops / (rate * Math.min(1, 0.05 + c.batch / 512)) + c.memory * c.ensemble * 1e-6;
      if (estimate > maxEvalSeconds) {
        row.skipped = `estimated ${estimate.toFixed(1)} s per evaluation > ${maxEvalSeconds} s`;
        console.log(`${label(c)} | skipped: ${row.skipped}`);
        continue;
      }
      stack ??= filledStack(gpu, c);
      const states = statesFor(c);
      const plan = planStackDispatch(stack, stack.size, c.batch, gpu.info.limits);
      row.plan = {
        tileRows: plan.tiling.tileRows,
        lanes: plan.tiling.lanes,
        runs: plan.rowChunks[0].parts,
        dispatches: plan.rowChunks.reduce((n, chunk) => n + chunk.forward.length + (chunk.parts > 1 ? 1 : 0), 0),
      };
      const kernelRun = kernelSampler(gpu, timer, stack, c, states);
      const kernel = await measure(kernelRun);
      kernelRun.destroy();
      row.kernel = {
        ...kernel,
        gflops: flops / (kernel.device.median * 1e6),
        ofCeiling: flops / (kernel.device.median * 1e6) / ceiling.gflops,
      };
      // The naive baseline pays ~20 µs per dispatch on top of the arithmetic, done less efficiently.
      const naiveEstimate = 3 * estimate + c.memory * c.ensemble * 3 * 30e-6;
      if (naiveEstimate <= 2 * maxEvalSeconds) {
        const naiveRun = await naiveSampler(gpu, timer, stack, c, states);
        const naive = await measure(naiveRun);
        naiveRun.destroy();
        row.naive = { ...naive, gflops: flops / (naive.device.median * 1e6) };
      }
      // The float64 reference (which also derives error bounds) runs at well under 1 GFLOP/s.
      if (flops / 2e8 <= 2 * maxEvalSeconds) {
        const contents = {
          spec: stack.spec,
          snapshots: await stack.readSnapshots(),
          coefficients: stack.coefficients,
          correction: stack.correction,
        };
        const cpu = await repeat(async () => wallTime(async () => stackLogitsReference(contents, states, c.batch)), {
          ...repeatOptions,
          warmup: 0,
          maxRuns: 5,
        });
        row.cpu = { e2e: cpu, gflops: flops / (cpu.median * 1e6) };
      }
      console.log(formatRow(row).join(" | "));
    }
    stack?.destroy();
  }

  // Fast mode (Dawn robustness off): the same kernel, measured in child processes, alternating.
  let fastMode: { config: Config; defaultMs: number; fastMs: number; speedup: number }[] | undefined;
  if (!args["no-fast-compare"] && !args.fast) {
    const subset = pickFastSubset(rows);
    const defaults: Record<string, number>[] = [];
    const fasts: Record<string, number>[] = [];
    for (let round = 0; round < 2; round++) {
      defaults.push(fastModeChild(false, subset));
      fasts.push(fastModeChild(true, subset));
    }
    fastMode = subset.map((config) => {
      const defaultMs = Math.min(...defaults.map((d) => d[label(config)]));
      const fastMs = Math.min(...fasts.map((d) => d[label(config)]));
      return { config, defaultMs, fastMs, speedup: defaultMs / fastMs };
    });
    console.log("\nfast mode (robustness off), device time, best of 2 child processes each:");
    for (const f of fastMode)
      console.log(`  ${label(f.config)}: ${formatMs(f.defaultMs)} → ${formatMs(f.fastMs)} ms (${f.speedup.toFixed(2)}×)`);
  }

  const pytorch = await measurePytorch(rows);
  const acting = await measureActing(gpu);
  console.log("\nacting latency (createActor: upload, stack, policy, read the actions back), end to end:");
  for (const a of acting)
    console.log(
      `  ${label(a.config)} ${a.greedy ? "greedy" : "sampled"}: ${formatMs(a.ms.median)} ms (p10 ${formatMs(a.ms.p10)}, p90 ${formatMs(a.ms.p90)})`,
    );

  const targets = await measureTargets(gpu, timer, rows, ceiling);
  console.log("\ntargets:");
  for (const t of targets) console.log(`  ${t.met ? "met" : "NOT met"}: ${t.text}`);

  const slug = adapterSlug(gpu.info.adapter);
  const report = {
    benchmark: "stack",
    mode: full ? "full" : "quick",
    date: new Date().toISOString(),
    adapter: gpu.info,
    node: process.version,
    deviceTiming: timer.method,
    seconds: (Date.now() - started) / 1000,
    ceiling: { best: ceiling, all: gemm },
    rows,
    fastMode,
    acting,
    pytorch,
    targets,
  };
  writeReport(
    args.out,
    slug,
    report,
    markdownReport(report.adapter.adapter, ceiling, rows, fastMode, acting, targets, report.mode, timer.method),
    report.seconds,
  );
  timer.destroy();
  gpu.destroy();
}

/**
 * The same workload the way the StaQ authors' PyTorch code computes it, on the same GPU, and
 * cuBLAS's FP32 GEMM rate. It runs after the WebGPU measurements (never beside them); a missing
 * torch or CUDA is reported and skipped, not fatal.
 */
async function measurePytorch(rows: Row[]): Promise<PytorchBaselineResult | { skipped: string }> {
  const device = args.pytorch ?? (full ? "cuda" : "off");
  if (device === "off") return { skipped: "off (--pytorch cuda|cpu to run it)" };
  if (device !== "cuda" && device !== "cpu") {
    console.error(`--pytorch takes cuda, cpu or off; got ${JSON.stringify(device)}`);
    process.exit(2);
  }
  const measured = rows.filter((r) => r.kernel);
  try {
    const result = await runPytorchBaseline({
      configs: measured.map((r) => ({ ...r.config, actions: ACTIONS })),
      device,
      seconds: full ? 1 : 0.25,
      gemm: full ? 8192 : 512,
    });
    console.log(
      `\nPyTorch ${result.torch} on ${result.deviceName} (FP32, TF32 off): torch.matmul ${result.gemm?.gflops.toFixed(1)} GFLOP/s`,
    );
    result.configs.forEach((c, k) => {
      const kernel = measured[k].kernel!;
      console.log(
        `  ${label(measured[k].config)}: PyTorch ${formatMs(c.ms.median)} ms vs kernel device ${formatMs(kernel.device.median)} ms (PyTorch ÷ kernel = ${(c.ms.median / kernel.device.median).toFixed(2)}×)`,
      );
    });
    return result;
  } catch (error) {
    const reason = error instanceof PytorchUnavailableError ? error.message : `the PyTorch baseline failed: ${(error as Error).message}`;
    console.log(`\nPyTorch baseline skipped: ${reason}`);
    return { skipped: reason };
  }
}

interface Acting {
  config: Config;
  greedy: boolean;
  ms: Summary;
}

/**
 * Acting latency: what an environment loop waits for per step, observations in and actions out,
 * at B = 1 and 16 (a vector env) for M = 300; --full adds the large network of the GPU target.
 */
async function measureActing(gpu: Gpu): Promise<Acting[]> {
  const configs: Config[] = [1, 16].map((batch) => ({ memory: 300, batch, width: 64, inputs: 4, ensemble: 2 }));
  if (full) configs.push(...[1, 16].map((batch) => ({ memory: 300, batch, width: 256, inputs: 400, ensemble: 1 })));
  const results: Acting[] = [];
  for (const config of configs) {
    const stack = createStack(gpu, { mlp: specOf(config), memory: config.memory, ensemble: config.ensemble });
    const sample = () => Math.random() * 2 - 1;
    for (let i = 0; i < config.memory; i++)
      stack.push(Array.from({ length: config.ensemble }, () => randomMlpWeights(specOf(config), sample)));
    const actor = createActor(stack, { maxBatch: config.batch, epsilon: 0.05, seed: 1 });
    const states = Float32Array.from({ length: config.batch * config.inputs }, sample);
    for (const greedy of [false, true]) {
      let step = 0;
      const ms = await repeat(async () => {
        const started = performance.now();
        await actor.act(states, { step: step++, greedy });
        return performance.now() - started;
      }, repeatOptions);
      results.push({ config, greedy, ms });
    }
    actor.destroy();
    stack.destroy();
  }
  return results;
}

function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(item);
  }
  return [...groups.values()];
}

function formatRow(row: Row): string[] {
  const k = row.kernel;
  const ratio = (base: Summary | undefined) => (base && k ? `${(base.median / k.e2e.median).toFixed(1)}×` : "—");
  return [
    label(row.config),
    k ? `${formatMs(k.e2e.median)} (${formatMs(k.e2e.p10)}–${formatMs(k.e2e.p90)})` : "—",
    k ? formatMs(k.device.median) : "—",
    k ? k.gflops.toFixed(2) : "—",
    k ? `${(100 * k.ofCeiling).toFixed(0)}%` : "—",
    row.naive ? formatMs(row.naive.e2e.median) : "—",
    ratio(row.naive?.e2e),
    row.cpu ? formatMs(row.cpu.e2e.median) : "—",
    ratio(row.cpu?.e2e),
  ];
}

const sameConfig = (a: Config, b: Config) => label(a) === label(b);

/** The largest measured batch at width 256, the configuration the ceiling target is about. */
function largestWide(rows: Row[]): Row | undefined {
  return rows
    .filter((r) => r.kernel && r.config.width === 256)
    .sort((a, b) => b.config.batch - a.config.batch || b.kernel!.ofCeiling - a.kernel!.ofCeiling)[0];
}

function pickFastSubset(rows: Row[]): Config[] {
  const picks = [rows.find((r) => r.kernel && sameConfig(r.config, TARGET_LATENCY)), largestWide(rows)];
  return picks.filter((r): r is Row => r !== undefined).map((r) => r.config);
}

interface Target {
  text: string;
  met: boolean;
  /** The paired measurement behind it. */
  measured: Record<string, unknown>;
}

/**
 * The two targets, each measured as an interleaved pair (see `paired`) right after the
 * grid: kernel vs naive end to end at M=300, B=1, W=64, I=4; kernel vs the GEMM ceiling on the
 * device at the largest measured batch of width 256.
 */
async function measureTargets(gpu: Gpu, timer: DeviceTimer, rows: Row[], ceiling: GemmResult): Promise<Target[]> {
  const rounds = full ? 50 : 15;
  const targets: Target[] = [];
  const latency = rows.find((r) => r.kernel && sameConfig(r.config, TARGET_LATENCY));
  if (latency) {
    const c = latency.config;
    const stack = filledStack(gpu, c);
    const states = statesFor(c);
    const kernel = kernelSampler(gpu, timer, stack, c, states);
    const naive = await naiveSampler(gpu, timer, stack, c, states);
    const pair = await paired(kernel.e2e, naive.e2e, rounds);
    kernel.destroy();
    naive.destroy();
    stack.destroy();
    targets.push({
      text: `${label(c)}: one-dispatch kernel ${formatMs(pair.a.median)} ms vs naive ${formatMs(pair.b.median)} ms end to end, interleaved ×${rounds} = ${pair.ratio.toFixed(1)}× (target ≥ 10×)`,
      met: pair.ratio >= 10,
      measured: { config: c, kernelE2e: pair.a, naiveE2e: pair.b, ratio: pair.ratio },
    });
  }
  const wide = largestWide(rows);
  if (wide) {
    const c = wide.config;
    const stack = filledStack(gpu, c);
    const kernel = kernelSampler(gpu, timer, stack, c, statesFor(c));
    const gemm = await createGemm(gpu, ceiling, ceiling);
    const pair = await paired(kernel.device, () => timer.time((encoder, writes) => gemm.encode(encoder, writes)), rounds);
    kernel.destroy();
    gemm.destroy();
    stack.destroy();
    const kernelRate = flopsOf(c) / (pair.a.median * 1e6);
    const gemmRate = (2 * ceiling.m * ceiling.n * ceiling.k) / (pair.b.median * 1e6);
    targets.push({
      text:
        `${label(c)} (largest measured B at W=256): ${kernelRate.toFixed(2)} GFLOP/s vs GEMM ${gemmRate.toFixed(2)} GFLOP/s ` +
        `(${ceiling.m}×${ceiling.n}×${ceiling.k}), interleaved ×${rounds} = ${((100 * kernelRate) / gemmRate).toFixed(0)}% of the ceiling (target ≥ 60%)`,
      met: kernelRate / gemmRate >= 0.6,
      measured: { config: c, kernelDevice: pair.a, gemmDevice: pair.b, kernelGflops: kernelRate, gemmGflops: gemmRate },
    });
  }
  return targets;
}

function markdownReport(
  adapter: string,
  ceiling: GemmResult,
  rows: Row[],
  fastMode: { config: Config; defaultMs: number; fastMs: number; speedup: number }[] | undefined,
  acting: Acting[],
  targets: Target[],
  mode: string,
  timing: string,
): string {
  const measured = rows.filter((r) => r.kernel);
  const lines = [
    `# Stack evaluation on ${adapter}`,
    "",
    `\`npm run bench -- --${mode}\`; device time by ${timing}; medians (p10–p90 for end to end); ${ACTIONS} actions, 2 hidden ReLU layers of width W.`,
    `GEMM ceiling: ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k}). "× naive" and "× CPU" compare end-to-end times.`,
    "",
    markdownTable(
      ["config", "kernel e2e ms (p10–p90)", "device ms", "GFLOP/s", "% ceiling", "naive e2e ms", "× naive", "CPU ref ms", "× CPU"],
      measured.map(formatRow),
    ),
    "",
  ];
  const skipped = rows.filter((r) => r.skipped);
  if (skipped.length) lines.push(`Skipped as too slow for this mode: ${skipped.map((r) => label(r.config)).join("; ")}.`, "");
  if (fastMode) {
    lines.push("Fast mode (Dawn robustness off), device time:", "");
    lines.push(
      markdownTable(
        ["config", "default ms", "fast ms", "speed-up"],
        fastMode.map((f) => [label(f.config), formatMs(f.defaultMs), formatMs(f.fastMs), `${f.speedup.toFixed(2)}×`]),
      ),
      "",
    );
  }
  lines.push(
    "Acting latency, end to end (`createActor`: upload the states, evaluate the stack, run the policy kernel, read the actions back; one submit):",
    "",
  );
  lines.push(
    markdownTable(
      ["config", "actions", "ms (p10–p90)"],
      acting.map((a) => [
        label(a.config),
        a.greedy ? "greedy" : "sampled",
        `${formatMs(a.ms.median)} (${formatMs(a.ms.p10)}–${formatMs(a.ms.p90)})`,
      ]),
    ),
    "",
  );
  lines.push("Targets:", "", ...targets.map((t) => `- ${t.met ? "met" : "**not met**"}: ${t.text}`), "");
  return lines.join("\n");
}

if (args["fast-child"]) await childMain(args["fast-child"]);
else await main();
