/**
 * Stack evaluation benchmark: latency and GFLOP/s of the one-dispatch kernel over a grid of
 * memory M, batch B, width W, inputs I and ensemble E, against (b) a naive baseline with one
 * dispatch per snapshot per layer, (c) the float64 TypeScript reference on the CPU and (d) a plain
 * GEMM kernel as the adapter's ceiling, all measured in the same run. Prints a table as it goes,
 * then writes bench/results/<adapter>.json and .md.
 *
 * Then the conv rows: the StaQ paper's MinAtar network (a 10×10×4 image — Breakout's 4 channels —
 * through Conv2d(4→16, 3×3) + ReLU, a hidden layer of 128 and 3 actions) at E = 2, M = 10 and 300,
 * B = 1 (acting) to 4096 (the precompute), against the same float64 reference and the authors'
 * PyTorch formulation (bench/pytorch_stack.py: the input repeated E·M times and one conv2d with
 * groups = E·M, then batched matmuls) on the CPU, measured in the same run. `--rows conv` runs only
 * those, `--rows dense` only the MLP grid.
 *
 *   npm run bench -- --quick     (this machine: lavapipe; skips what would take too long)
 *   npm run bench -- --full      (a real GPU)
 *   npx tsx bench/stack.ts --rows conv --out DIR   (the conv rows alone, their report in DIR)
 */
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism, tmpdir } from "node:os";
import { createGpu } from "../src/node/create-gpu.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import { DurationEstimate } from "../src/gpu/patient-wait.ts";
import { Readback } from "../src/gpu/readback.ts";
import { createStack, type Stack } from "../src/stack/stack.ts";
import { createActor } from "../src/policy/actor.ts";
import {
  PytorchUnavailableError,
  runPytorchBaseline,
  type PytorchBaselineResult,
  type PytorchConfig,
  type PytorchSummary,
} from "./pytorch-baseline.ts";
import { blasIsOptimised, OPENBLAS_PACKAGE } from "./pytorch-train-baseline.ts";
import { convGeometry, paperMinatarConv, type ConvSpec } from "../src/stack/conv.ts";
import { planStackDispatch } from "../src/stack/dispatch-plan.ts";
import { encodeStackLogits, stackLogits } from "../src/stack/stack-logits.ts";
import { randomMlpWeights, type MlpSpec, type MlpWeights } from "../src/stack/mlp.ts";
import { stackLogitsReference } from "../src/stack/reference.ts";
import { createNaiveStack } from "./naive-stack.ts";
import { createGemm, measureGemm, type GemmResult } from "./gemm.ts";
import { DeviceTimer, repeat, summarize, wallTime, type RepeatOptions, type Summary } from "./measure.ts";
import { parseProgramArgs, parseRowKinds, prepareOutputFolder, pytorchDevice, secondsOption } from "./arguments.ts";
import { adapterSlug, formatMs, markdownTable, fullMode, commonBenchOptions, forwardMacs, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: npx tsx bench/stack.ts [--quick | --full] [--out DIR] [--fast] [--no-fast-compare] [--max-eval-seconds S] [--max-conv-eval-seconds S] [--rows all|dense|conv] [--pytorch D] [--conv-pytorch D]
  --quick   grid trimmed to what a CPU adapter (lavapipe) runs in minutes (the default)
  --full    the whole grid, for a real GPU
  --fast    run with Dawn's robustness off (see GpuOptions.fast)
  --no-fast-compare  skip the comparison of the default and the fast mode (each in a child process)
  --max-eval-seconds S  skip the MLP rows whose estimated evaluation takes longer (default 0.6
            with --quick, 20 with --full)
  --max-conv-eval-seconds S  the same for the conv rows (default 5 × --max-eval-seconds: 3 with
            --quick, 100 with --full); with --max-eval-seconds 0 and no conv budget nothing is measured
  --rows all|dense|conv  the MLP grid ("dense": 18 actions, 2 hidden layers of width W, with the
            fast-mode comparison, acting latency and targets), the conv rows ("conv": the StaQ
            paper's MinAtar network, Conv2d(4→16, 3×3) + 128 + 3 actions, E = 2), or both (default)
  --pytorch cuda|cpu|off  the PyTorch baseline of the MLP grid (bench/pytorch_stack.py: stacked
            weights, batched matmul over snapshots) and torch.matmul's FP32 GEMM ceiling on the
            same device, for the measured configurations (default: cuda with --full, off with --quick)
  --conv-pytorch cpu|cuda|off  the PyTorch baseline of the conv rows (the input repeated E·M times,
            one grouped conv2d, batched matmuls; default cpu, with torch.set_num_threads(cores))
Writes DIR/<adapter>.json and DIR/<adapter>.md (DIR defaults to bench/results).`;

const { values: args } = parseProgramArgs(
  {
    options: {
      ...commonBenchOptions(join(here, "results")),
      fast: { type: "boolean", default: false },
      "no-fast-compare": { type: "boolean", default: false },
      "fast-child": { type: "string" },
      "max-eval-seconds": { type: "string" },
      "max-conv-eval-seconds": { type: "string" },
      pytorch: { type: "string" },
      "conv-pytorch": { type: "string", default: "cpu" },
      rows: { type: "string", default: "all" },
    },
  },
  USAGE,
);

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const full = fullMode(args);
/** Which rows run (--rows): the MLP grid, the conv rows, or both. */
const rowKinds = parseRowKinds(args.rows);

interface Config {
  memory: number;
  batch: number;
  /** Hidden width (of both hidden layers of an MLP row; of the one hidden layer of a conv row). */
  width: number;
  inputs: number;
  ensemble: number;
  /** A conv row's conv layer (+ ReLU), in front of `hidden`; absent on the MLP grid's rows. */
  conv?: ConvSpec;
  /** Hidden layer widths (default [width, width]). */
  hidden?: number[];
  /** Actions (default ACTIONS). */
  actions?: number;
}

const ACTIONS = 18;
const GRID = {
  memory: [1, 10, 100, 300],
  batch: full ? [1, 32, 256, 4096, 65536] : [1, 32, 256, 4096],
  width: [64, 256],
  inputs: [4, 400],
  ensemble: [1, 2],
};
/**
 * The conv rows: the StaQ paper's MinAtar network for Breakout (4 channels, 3 actions), E = 2; B = 1
 * is acting, B = 4096 the precompute's batches. M = 10 beside the paper's M = 300 shows the scaling,
 * and is where --quick can afford a large batch on lavapipe (see CONV_FALLBACK_MEMORY).
 */
const CONV_CHANNELS = 4;
const CONV_NETWORK = { inputs: 100 * CONV_CHANNELS, conv: paperMinatarConv(CONV_CHANNELS), hidden: [128], actions: 3 };
const CONV_GRID = { memory: [10, 300], batch: [1, 256, 4096], ensemble: 2 };
/**
 * When no conv row with B ≥ 256 fits the time budget (lavapipe: M = 300 at B = 4096 is about
 * 830 GFLOP, over a minute per evaluation), one is measured anyway at B = 256 and the largest of
 * these M whose estimate fits (else the smallest), so that even --quick has a large-batch conv row.
 */
const CONV_FALLBACK_MEMORY = [100, 30, 10, 3, 1];
const convConfig = (memory: number, batch: number): Config => ({
  memory,
  batch,
  width: CONV_NETWORK.hidden[0],
  inputs: CONV_NETWORK.inputs,
  ensemble: CONV_GRID.ensemble,
  conv: CONV_NETWORK.conv,
  hidden: CONV_NETWORK.hidden,
  actions: CONV_NETWORK.actions,
});
/**
 * A conv row's estimated fraction of the grid's rate: the conv layer reads its patches from the
 * image rather than a row of activations, and on lavapipe the conv rows ran at 2% (B = 1) to 6–15%
 * (B = 256) of the GEMM ceiling, where the grid's estimate assumes 5% and 55%.
 */
const CONV_EFFICIENCY = 0.25;
/** Largest estimated time of one evaluation that is still measured. */
const maxEvalSeconds =
  args["max-eval-seconds"] === undefined ? (full ? 20 : 0.6) : secondsOption(args["max-eval-seconds"], "--max-eval-seconds");
/**
 * The same for the conv rows, by default 5 × the grid's (3 s with --quick): there are six, not a
 * hundred, so each can have more, and on lavapipe M = 300 at B = 1 (acting with the paper's stack)
 * takes one to two seconds. 0 measures none (`--max-eval-seconds 0` skips every row).
 */
const maxConvEvalSeconds =
  args["max-conv-eval-seconds"] === undefined
    ? 5 * maxEvalSeconds
    : secondsOption(args["max-conv-eval-seconds"], "--max-conv-eval-seconds");
// Checked now, not when the PyTorch baselines run after the WebGPU measurements.
const pytorchDense = pytorchDevice(args.pytorch ?? (full ? "cuda" : "off"), "--pytorch");
const pytorchConvDevice = pytorchDevice(args["conv-pytorch"], "--conv-pytorch");
// The results folder is made and tried before the measuring, not after it (the child processes
// of the fast-mode comparison write no results).
if (!args["fast-child"]) await prepareOutputFolder(args.out);
const repeatOptions: RepeatOptions = full
  ? { warmup: 3, minRuns: 10, maxRuns: 200, minSeconds: 1 }
  : { warmup: 1, minRuns: 3, maxRuns: 20, minSeconds: 0.25 };

const actionsOf = (c: Config) => c.actions ?? ACTIONS;
const specOf = (c: Config): MlpSpec => ({
  inputs: c.inputs,
  ...(c.conv ? { conv: c.conv } : {}),
  hidden: c.hidden ?? [c.width, c.width],
  outputs: actionsOf(c),
});
/** Counts a conv layer's multiply-adds at every output position (report.ts's forwardMacs). */
const flopsOf = (c: Config) => 2 * c.batch * c.memory * c.ensemble * forwardMacs(specOf(c));
function label(c: Config): string {
  if (!c.conv) return `M=${c.memory} B=${c.batch} W=${c.width} I=${c.inputs} E=${c.ensemble}`;
  const g = convGeometry(c.conv);
  const hidden = (c.hidden ?? [c.width, c.width]).join("×");
  return `M=${c.memory} B=${c.batch} conv ${g.height}×${g.width}×${g.channels}→${g.filters} W=${hidden} E=${c.ensemble}`;
}

/** The configurations the issue's targets name. */
const TARGET_LATENCY: Config = { memory: 300, batch: 1, width: 64, inputs: 4, ensemble: 1 };

interface Row {
  config: Config;
  flops: number;
  plan?: { tileRows: number; lanes: number; runs: number; dispatches: number };
  kernel?: { e2e: Summary; device: Summary; gflops: number; ofCeiling: number };
  naive?: { e2e: Summary; device: Summary; gflops: number };
  /**
   * Conv rows: the same stack with `convFusion: false` (the conv layer's whole output computed
   * before the dense layer after it), measured right after the kernel; `fusedSpeedup` is its
   * device time over the kernel's.
   */
  unfused?: { e2e: Summary; device: Summary; gflops: number; tileRows: number; fusedSpeedup: number };
  /** Why a conv row has no `unfused` figure. */
  unfusedWhyNot?: string;
  /** Why there is no naive figure though the kernel was measured (conv rows: its dense-layer kernel has no conv). */
  naiveWhyNot?: string;
  cpu?: { e2e: Summary; gflops: number };
  /**
   * PyTorch's figure for this config, measured after the WebGPU ones in the same run, and
   * "staq ÷ PyTorch": PyTorch's ms over the kernel's, end to end against PyTorch on the CPU
   * (both wall time, states already in memory), device time against PyTorch on a GPU (CUDA events).
   */
  pytorch?: { device: string; ms: PytorchSummary; gflops: number; chunks: number; versus: "e2e" | "device"; staqOverPytorch: number };
  /** Why this row was measured although its estimate exceeded the time budget. */
  note?: string;
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

function filledStack(gpu: Gpu, c: Config, options: { convFusion?: boolean } = {}): Stack {
  const spec = specOf(c);
  const stack = createStack(gpu, { mlp: spec, memory: c.memory, ensemble: c.ensemble, eta: 20, tau: 0.5, ...options });
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
  const bytes = c.batch * actionsOf(c) * 4;
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
  const logits = createBuffer(gpu, c.batch * actionsOf(c) * 4, BufferUsage.STORAGE, "bench logits");
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

/** Measures a variant end to end and on the device, then destroys its sampler. */
async function measure(sampler: Sampler): Promise<{ e2e: Summary; device: Summary }> {
  try {
    return { e2e: await repeat(() => sampler.e2e(), repeatOptions), device: await repeat(() => sampler.device(), repeatOptions) };
  } finally {
    sampler.destroy();
  }
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
  if (rowKinds.includes("dense"))
    for (const width of GRID.width)
      for (const inputs of GRID.inputs)
        for (const ensemble of GRID.ensemble)
          for (const memory of GRID.memory) for (const batch of GRID.batch) configs.push({ memory, batch, width, inputs, ensemble });

  const rows: Row[] = [];
  // Small batches run far below the GEMM rate; estimate conservatively before committing time.
  const estimateOf = (c: Config) => {
    const efficiency = Math.min(1, 0.05 + c.batch / 512) * (c.conv ? CONV_EFFICIENCY : 1);
    const fromRate = flopsOf(c) / (rate * efficiency) + c.memory * c.ensemble * 1e-6;
    if (!c.conv) return fromRate;
    // A conv row's larger batches, from what a measured conv row of B ≥ 256 (no larger than this
    // one's) took, scaled by FLOPs: more states per evaluation never raise the rate much past that.
    const fromMeasured = rows
      .filter((r) => r.config.conv && r.kernel && r.config.batch >= 256 && r.config.batch <= c.batch)
      .map((r) => (r.kernel!.device.median / 1000) * (flopsOf(c) / r.flops));
    return Math.max(fromRate, ...fromMeasured);
  };

  /** Measures one config on `stack` (created when undefined, and returned for the next config of its group). */
  async function measureRow(c: Config, stack: Stack | undefined, note?: string): Promise<{ row: Row; stack: Stack | undefined }> {
    const flops = flopsOf(c);
    const row: Row = { config: c, flops, ...(note ? { note } : {}) };
    rows.push(row);
    const estimate = estimateOf(c);
    const budget = c.conv ? maxConvEvalSeconds : maxEvalSeconds;
    if (estimate > budget && !note) {
      row.skipped = `estimated ${estimate.toFixed(1)} s per evaluation > ${budget} s`;
      console.log(`${label(c)} | skipped: ${row.skipped}`);
      return { row, stack };
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
    const kernel = await measure(kernelSampler(gpu, timer, stack, c, states));
    row.kernel = {
      ...kernel,
      gflops: flops / (kernel.device.median * 1e6),
      ofCeiling: flops / (kernel.device.median * 1e6) / ceiling.gflops,
    };
    // The naive baseline pays ~20 µs per dispatch on top of the arithmetic, done less efficiently.
    const naiveEstimate = 3 * estimate + c.memory * c.ensemble * 3 * 30e-6;
    if (c.conv) {
      row.naiveWhyNot = "the naive baseline's per-layer kernel (bench/shaders/dense_layer.wgsl) has no conv layer";
      // The unfused plan, unless the kernel's own plan is already unfused (below 4 states: tiling.ts).
      if (plan.tiling.convChunkCols4 > 0) {
        const unfusedStack = filledStack(gpu, c, { convFusion: false });
        const unfused = await measure(kernelSampler(gpu, timer, unfusedStack, c, states));
        row.unfused = {
          ...unfused,
          gflops: flops / (unfused.device.median * 1e6),
          tileRows: planStackDispatch(unfusedStack, unfusedStack.size, c.batch, gpu.info.limits).tiling.tileRows,
          fusedSpeedup: unfused.device.median / kernel.device.median,
        };
        unfusedStack.destroy();
      } else row.unfusedWhyNot = "the kernel's own plan is unfused here (below 4 states, src/stack/tiling.ts)";
    } else if (naiveEstimate <= 2 * maxEvalSeconds) {
      const naive = await measure(await naiveSampler(gpu, timer, stack, c, states));
      row.naive = { ...naive, gflops: flops / (naive.device.median * 1e6) };
    }
    // The float64 reference (which also derives error bounds) runs at well under 1 GFLOP/s.
    if (flops / 2e8 <= 2 * budget) {
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
    console.log((c.conv ? formatConvRow(row) : formatRow(row)).join(" | "));
    return { row, stack };
  }

  /** Every config of a group shares one network shape and M (one filled stack), batch by batch. */
  const groupKey = (c: Config) => JSON.stringify({ ...c, batch: 0 });
  if (configs.length) {
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
  }
  for (const group of groupBy(configs, groupKey)) {
    let stack: Stack | undefined;
    for (const c of group) ({ stack } = await measureRow(c, stack));
    stack?.destroy();
  }

  // The conv rows: the paper's MinAtar network (see CONV_GRID), PyTorch's figures added after the WebGPU runs.
  if (rowKinds.includes("conv")) {
    console.log(
      `\nconv rows (${CONV_NETWORK.inputs} inputs as 10×10×${CONV_CHANNELS}, Conv2d → 16, 3×3, + ReLU, hidden ${CONV_NETWORK.hidden.join("×")}, ${CONV_NETWORK.actions} actions, E = ${CONV_GRID.ensemble}):`,
    );
    console.log(`${CONV_HEADER.join(" | ")}   (PyTorch's columns after the WebGPU rows)`);
    for (const memory of CONV_GRID.memory) {
      let stack: Stack | undefined;
      for (const batch of CONV_GRID.batch) ({ stack } = await measureRow(convConfig(memory, batch), stack));
      stack?.destroy();
    }
    // Not under a zero budget: that asks for no measurements at all.
    if (maxConvEvalSeconds > 0 && !rows.some((r) => r.config.conv && r.kernel && r.config.batch >= 256)) {
      const fits = CONV_FALLBACK_MEMORY.find((memory) => estimateOf(convConfig(memory, 256)) <= maxConvEvalSeconds);
      const memory = fits ?? CONV_FALLBACK_MEMORY.at(-1)!;
      const note =
        `measured because no conv row with B ≥ 256 fit the ${maxConvEvalSeconds} s budget: the largest of M = ${CONV_FALLBACK_MEMORY.join(", ")} that does` +
        (fits === undefined ? " (none did: the smallest)" : "");
      const { stack } = await measureRow(convConfig(memory, 256), undefined, note);
      stack?.destroy();
    }
  }

  // Fast mode (Dawn robustness off): the same kernel, measured in child processes, alternating.
  let fastMode: { config: Config; defaultMs: number; fastMs: number; speedup: number }[] | undefined;
  // About the MLP grid's target configurations: nothing to compare under --rows conv. With the grid
  // but none of them measured, the children still run (and measure nothing), as the bundle test expects.
  if (!args["no-fast-compare"] && !args.fast && rowKinds.includes("dense")) {
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

  const denseRows = rows.filter((r) => !r.config.conv);
  const convRows = rows.filter((r) => r.config.conv);
  const pytorch = rowKinds.includes("dense")
    ? await measurePytorch(denseRows, pytorchDense, "--pytorch")
    : { skipped: "no MLP rows (--rows conv)" };
  const pytorchConv = rowKinds.includes("conv")
    ? await measurePytorch(convRows, pytorchConvDevice, "--conv-pytorch")
    : { skipped: "no conv rows (--rows dense)" };
  // Acting latency is the MLP grid's (CartPole-sized networks).
  const acting = rowKinds.includes("dense") ? await measureActing(gpu) : [];
  if (acting.length) {
    console.log("\nacting latency (createActor: upload, stack, policy, read the actions back), end to end:");
    for (const a of acting)
      console.log(
        `  ${label(a.config)} ${a.greedy ? "greedy" : "sampled"}: ${formatMs(a.ms.median)} ms (p10 ${formatMs(a.ms.p10)}, p90 ${formatMs(a.ms.p90)})`,
      );
  }

  const targets = await measureTargets(gpu, timer, rows, ceiling);
  if (targets.length) {
    console.log("\ntargets:");
    for (const t of targets) console.log(`  ${t.met ? "met" : "NOT met"}: ${t.text}`);
  }

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
    /** Which rows ran (--rows). */
    rowKinds,
    rows,
    /** The conv rows' network (CONV_NETWORK), E and grid. */
    conv: { network: CONV_NETWORK, grid: CONV_GRID, fallbackMemory: CONV_FALLBACK_MEMORY },
    fastMode,
    acting,
    /** PyTorch on the MLP grid (--pytorch). */
    pytorch,
    /** PyTorch on the conv rows (--conv-pytorch); each conv row also has its own `pytorch`. */
    pytorchConv,
    targets,
  };
  writeReport(
    args.out,
    slug,
    report,
    markdownReport({
      adapter: report.adapter.adapter,
      ceiling,
      rows,
      fastMode,
      acting,
      targets,
      mode: report.mode,
      timing: timer.method,
      pytorchConv,
    }),
    report.seconds,
  );
  timer.destroy();
  gpu.destroy();
}

/**
 * The same workload the way the StaQ authors' PyTorch code computes it, on the CPU or a GPU (with
 * torch.matmul's FP32 GEMM rate), for the measured rows, and each row's "staq ÷ PyTorch". It runs
 * after the WebGPU measurements (never beside them: lavapipe computes on the same cores); a missing
 * torch or CUDA is reported and skipped, not fatal. On the CPU it gets the cores staq gets.
 */
async function measurePytorch(
  rows: Row[],
  device: "cuda" | "cpu" | "off",
  flag: string,
): Promise<PytorchBaselineResult | { skipped: string }> {
  if (device === "off") return { skipped: `off (${flag} cuda|cpu to run it)` };
  const measured = rows.filter((r) => r.kernel);
  if (measured.length === 0) return { skipped: "no measured rows" };
  const toPytorch = (c: Config): PytorchConfig => ({
    memory: c.memory,
    batch: c.batch,
    width: c.width,
    inputs: c.inputs,
    ensemble: c.ensemble,
    actions: actionsOf(c),
    ...(c.hidden ? { hidden: c.hidden } : {}),
    ...(c.conv ? { conv: c.conv } : {}),
  });
  try {
    const result = await runPytorchBaseline({
      configs: measured.map((r) => toPytorch(r.config)),
      device,
      seconds: full ? 1 : 0.25,
      gemm: full ? 8192 : 512,
      ...(device === "cpu" ? { threads: availableParallelism() } : {}),
    });
    console.log(`\n${describePytorch(result)}`);
    result.configs.forEach((p, k) => {
      const row = measured[k];
      const kernel = row.kernel!;
      const versus = result.device === "cpu" ? "e2e" : "device";
      const staqMs = versus === "e2e" ? kernel.e2e.median : kernel.device.median;
      row.pytorch = {
        device: result.device,
        ms: p.ms,
        gflops: p.gflops,
        chunks: p.chunks,
        versus,
        staqOverPytorch: p.ms.median / staqMs,
      };
      console.log(
        `  ${label(row.config)}: PyTorch ${formatMs(p.ms.median)} ms (${p.gflops.toFixed(2)} GFLOP/s) vs kernel ${versus === "e2e" ? "end to end" : "device"} ${formatMs(staqMs)} ms (staq ÷ PyTorch = ${row.pytorch.staqOverPytorch.toFixed(2)}×)`,
      );
    });
    return result;
  } catch (error) {
    const reason = error instanceof PytorchUnavailableError ? error.message : `the PyTorch baseline failed: ${(error as Error).message}`;
    console.log(`\nPyTorch baseline (${flag}) skipped: ${reason}`);
    return { skipped: reason };
  }
}

/** One line: torch, the device, its threads and (on the CPU) its BLAS and whether that is a fair baseline. */
function describePytorch(result: PytorchBaselineResult): string {
  const line = `PyTorch ${result.torch} on ${result.deviceName} (FP32, TF32 off; torch.matmul ${result.gemm?.gflops.toFixed(1)} GFLOP/s at ${result.gemm?.n}³)`;
  if (result.device !== "cpu" || !result.blas || !result.build) return line;
  // Debian's python3-torch multiplies on whatever libblas.so.3 is: the reference BLAS unless OpenBLAS is installed.
  const fair = blasIsOptimised(result.blas, result.build)
    ? ""
    : ` — not a fair baseline: on Debian run \`apt-get install ${OPENBLAS_PACKAGE}\` as root so that its products run on OpenBLAS`;
  return `${line}, ${result.threads} threads, BLAS ${result.blas.name ?? `not seen (BLAS_INFO=${result.build.blasInfo ?? "?"})`}, MKL-DNN ${result.build.mkldnn ?? "?"}${fair}`;
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

/** The conv rows' columns: no naive baseline (its kernel is dense only), PyTorch's figure instead. */
const CONV_HEADER = [
  "config",
  "kernel e2e ms (p10–p90)",
  "device ms",
  "GFLOP/s",
  "% ceiling",
  "unfused device ms",
  "fused ÷ unfused",
  "CPU ref ms",
  "× CPU",
  "PyTorch ms (p10–p90)",
  "staq ÷ PyTorch",
];

/** A conv row; PyTorch's columns are "—" until measurePytorch has run (the console prints them then). */
function formatConvRow(row: Row): string[] {
  const k = row.kernel;
  const p = row.pytorch;
  const cells = formatRow(row);
  return [
    cells[0] + (row.note ? " †" : ""),
    ...cells.slice(1, 5),
    row.unfused ? formatMs(row.unfused.device.median) : row.unfusedWhyNot ? "same plan" : "—",
    row.unfused ? `${row.unfused.fusedSpeedup.toFixed(2)}×` : "—",
    ...cells.slice(7, 9),
    p ? `${formatMs(p.ms.median)} (${formatMs(p.ms.p10)}–${formatMs(p.ms.p90)})` : "—",
    p && k ? `${p.staqOverPytorch.toFixed(2)}×${p.versus === "device" ? " (device)" : ""}` : "—",
  ];
}

const sameConfig = (a: Config, b: Config) => label(a) === label(b);

/** The largest measured batch of the MLP grid at width 256, the configuration the ceiling target is about. */
function largestWide(rows: Row[]): Row | undefined {
  return rows
    .filter((r) => r.kernel && !r.config.conv && r.config.width === 256)
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
 * The issue's two targets, each measured as an interleaved pair (see `paired`) right after the
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

interface MarkdownInputs {
  adapter: string;
  ceiling: GemmResult;
  rows: Row[];
  fastMode: { config: Config; defaultMs: number; fastMs: number; speedup: number }[] | undefined;
  acting: Acting[];
  targets: Target[];
  mode: string;
  timing: string;
  pytorchConv: PytorchBaselineResult | { skipped: string };
}

/** The time-budget flags this run was given, as typed, so the report's command reproduces its rows. */
const budgetFlags = (["max-eval-seconds", "max-conv-eval-seconds"] as const)
  .filter((flag) => args[flag] !== undefined)
  .map((flag) => ` --${flag} ${args[flag]}`)
  .join("");

function markdownReport({ adapter, ceiling, rows, fastMode, acting, targets, mode, timing, pytorchConv }: MarkdownInputs): string {
  const dense = rows.filter((r) => !r.config.conv);
  const measured = dense.filter((r) => r.kernel);
  const lines = [
    `# Stack evaluation on ${adapter}`,
    "",
    `\`npm run bench -- --${mode}${args.rows === "all" ? "" : ` --rows ${args.rows}`}${budgetFlags}\`; device time by ${timing}; medians (p10–p90 for end to end).`,
    `GEMM ceiling: ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k}).`,
    "",
  ];
  if (dense.length) {
    lines.push(
      `MLP grid: ${ACTIONS} actions, 2 hidden ReLU layers of width W. "× naive" and "× CPU" compare end-to-end times.`,
      "",
      markdownTable(
        ["config", "kernel e2e ms (p10–p90)", "device ms", "GFLOP/s", "% ceiling", "naive e2e ms", "× naive", "CPU ref ms", "× CPU"],
        measured.map(formatRow),
      ),
      "",
    );
    const skipped = dense.filter((r) => r.skipped);
    if (skipped.length) lines.push(`Skipped as too slow for this mode: ${skipped.map((r) => label(r.config)).join("; ")}.`, "");
  }
  const conv = rows.filter((r) => r.config.conv);
  if (conv.length) lines.push(...convSection(conv, pytorchConv), "");
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
  if (acting.length) {
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
  }
  if (targets.length) lines.push("Targets:", "", ...targets.map((t) => `- ${t.met ? "met" : "**not met**"}: ${t.text}`), "");
  return lines.join("\n");
}

/** The conv rows' table, with what the columns are, PyTorch's setup, and the rows this mode skipped or added. */
function convSection(conv: Row[], pytorch: PytorchBaselineResult | { skipped: string }): string[] {
  const { hidden, actions } = CONV_NETWORK;
  const g = convGeometry(CONV_NETWORK.conv);
  const macs = forwardMacs(specOf(convConfig(1, 1)));
  const lines = [
    `Conv rows: the StaQ paper's MinAtar network for Breakout — a ${g.height}×${g.width}×${g.channels} image, Conv2d(${g.channels}→${g.filters}, ${g.kernelHeight}×${g.kernelWidth}) + ReLU, ` +
      `flatten (${g.filters * g.positions}), ${hidden.join("×")} + ReLU, ${actions} actions — at E = ${CONV_GRID.ensemble}. ` +
      `GFLOP/s count the conv's multiply-adds at every output position: 2·B·E·M·(${g.positions}·${g.patch}·${g.filters} + ${g.filters * g.positions}·${hidden[0]} + ${hidden[0]}·${actions}) = 2·B·E·M·${macs}. ` +
      `"unfused": the same stack with \`convFusion: false\` (the conv's whole output computed before the dense layer), measured right after the kernel; "fused ÷ unfused" is its device time over the kernel's, so above 1 fusion is faster; "same plan" where the kernel's own plan is unfused (below 4 states). "× CPU" compares end-to-end times with the float64 reference. "PyTorch": the authors' formulation (bench/pytorch_stack.py: the states repeated E·M times along the channels, one conv2d with groups = E·M, then batched matmuls over the snapshots), ` +
      `measured after the WebGPU rows in the same run; "staq ÷ PyTorch" is PyTorch's time over the kernel's, end to end against PyTorch on the CPU (device time against a GPU's), so above 1 staq is faster. No naive baseline: its per-layer kernel has no conv layer.`,
    "",
    markdownTable(CONV_HEADER, conv.filter((r) => r.kernel).map(formatConvRow)),
    "",
  ];
  if ("skipped" in pytorch) lines.push(`PyTorch: not run (${pytorch.skipped}).`, "");
  else {
    const chunked = conv.filter((r) => r.pytorch && r.pytorch.chunks > 1);
    lines.push(
      `${describePytorch(pytorch)}.` +
        (chunked.length
          ? ` In batch chunks (its intermediates within ${(pytorch.maxChunkBytes / 2 ** 20).toFixed(0)} MiB): ${chunked.map((r) => `${label(r.config)} in ${r.pytorch!.chunks}`).join("; ")}.`
          : ""),
      "",
    );
  }
  const skipped = conv.filter((r) => r.skipped);
  if (skipped.length)
    lines.push(
      `Not measured in this mode (too slow here; --full or --max-conv-eval-seconds): ${skipped.map((r) => `${label(r.config)} (${r.skipped})`).join("; ")}.`,
      "",
    );
  for (const r of conv.filter((r) => r.note)) lines.push(`† ${label(r.config)}: ${r.note}.`, "");
  return lines;
}

if (args["fast-child"]) await childMain(args["fast-child"]);
else await main();
