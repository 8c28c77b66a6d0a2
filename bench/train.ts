/**
 * Trainer benchmark: gradient steps per second of the GPU trainer, and the cost of the
 * per-iteration precompute (the stack on every next state of a 50k replay buffer).
 *
 * For (2×64, batch 64) and (2×256, batch 256), E = 1 and 2 (CartPole's 4 inputs and 2 actions):
 *   trainer    `train(K)` on a fixed uploaded batch: forward, loss, backprop, Adam
 *   soft Q fit `fitSoftQ`: the same steps plus minibatch sampling from a 50k replay buffer,
 *              the target networks' forward pass and the soft-Bellman targets (StaQ's inner loop)
 *   CPU ref    the float64 TypeScript reference (src/train/reference.ts), one step at a time
 *   PyTorch    the same step in PyTorch on the CPU (bench/pytorch_train.py: nn.Linear MLPs, target
 *              copies, MSE, Adam, a fixed batch), torch.set_num_threads(os.availableParallelism());
 *              "no torch" when no Python with torch is found (bench/pytorch-baseline.ts's findTorchPython)
 * with GFLOP/s from the multiply-adds of the dense layers, as a fraction of the GEMM ceiling
 * measured in the same run by bench/gemm.ts. Then the precompute for M = 10, 100, 300 (2×64;
 * --full adds 2×256). Prints tables as it goes, then writes DIR/train-<adapter>.json and .md.
 *
 *   npx tsx bench/train.ts            (--quick, the default: a few minutes on lavapipe)
 *   npx tsx bench/train.ts --full     (longer runs, and the 2×256 precompute: for a real GPU)
 */
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGpu } from "../src/node/create-gpu.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { layerShapes, type MlpSpec } from "../src/stack/mlp.ts";
import { createStack } from "../src/stack/stack.ts";
import { initialQNetworks } from "../src/train/initialisation.ts";
import { createMlpTrainer } from "../src/train/mlp-trainer.ts";
import { createSoftQFit, fitSoftQ } from "../src/train/soft-q-fit.ts";
import {
  ADAM_DEFAULTS,
  adamStep,
  createAdamState,
  flattenParameters,
  lossAndGradient,
  toFloat64,
  unflattenParameters,
} from "../src/train/reference.ts";
import { createReplayBuffer, type ReplayBuffer } from "../src/train/replay-buffer.ts";
import { measureGemm, type GemmResult } from "./gemm.ts";
import { DeviceTimer, repeat, summarize, type RepeatOptions, type Summary } from "./measure.ts";
import {
  describeTorchCpu,
  pytorchTrainBaselineOrMissing,
  type PytorchTrainConfigResult,
  type PytorchTrainResult,
} from "./pytorch-train-baseline.ts";
import { adapterSlug, formatMs, fullMode, machineInfo, markdownTable, commonBenchOptions, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    ...commonBenchOptions(join(here, "results")),
    fast: { type: "boolean", default: false },
  },
  strict: true,
});

if (args.help) {
  console.log(`Usage: npx tsx bench/train.ts [--quick | --full] [--out DIR] [--fast]
  --quick   short runs; precompute for 2×64 only (the default; a few minutes on lavapipe)
  --full    longer runs, and the 2×256 precompute too (for a real GPU)
  --fast    Dawn's robustness off (see GpuOptions.fast)
Gradient steps/s of the GPU trainer (2×64 batch 64, 2×256 batch 256; E = 1, 2), with and without
replay sampling and soft-Bellman targets, against the float64 CPU reference and PyTorch on the CPU
(bench/pytorch_train.py, with a Python that has torch: $STAQ_PYTHON, python3 or /usr/bin/python3;
"no torch" otherwise), and the precompute of 50k next states through a stack of M = 10, 100, 300.
Writes DIR/train-<adapter>.json and .md.`);
  process.exit(0);
}
const full = fullMode(args);

const INPUTS = 4;
const ACTIONS = 2;
const REPLAY = 50_000;
/** The target on lavapipe: 2×64, batch 64, E = 1, end to end. */
const TARGET_STEPS_PER_SECOND = 500;
// This machine's timings wander by ±30 % between runs (shared cores), so even --quick takes a median of several.
const repeatOptions: RepeatOptions = full
  ? { warmup: 2, minRuns: 5, maxRuns: 50, minSeconds: 3 }
  : { warmup: 1, minRuns: 5, maxRuns: 20, minSeconds: 2 };

interface TrainConfig {
  width: number;
  batch: number;
  ensemble: number;
}
const CONFIGS: TrainConfig[] = [
  { width: 64, batch: 64, ensemble: 1 },
  { width: 64, batch: 64, ensemble: 2 },
  { width: 256, batch: 256, ensemble: 1 },
  { width: 256, batch: 256, ensemble: 2 },
];
const specOf = (width: number): MlpSpec => ({ inputs: INPUTS, hidden: [width, width], outputs: ACTIONS });
const label = (c: TrainConfig) => `2×${c.width} b${c.batch} E${c.ensemble}`;

/** Multiply-adds of one dense forward pass of one state, Σ_l in_l · out_l. */
const macs = (spec: MlpSpec) => layerShapes(spec).reduce((sum, { inputs, outputs }) => sum + inputs * outputs, 0);

/**
 * FLOPs of one gradient step per member: forward 2·B·Σ, weight gradients 2·B·Σ, input gradients
 * 2·B·(Σ − in_0·out_0) (layer 0's input gradient is not needed). The soft Q fit adds the
 * target networks' forward pass, 2·B·Σ. Adam, the loss and the sampling are O(parameters + B).
 */
function stepFlops(spec: MlpSpec, batch: number, ensemble: number, withTargets: boolean): number {
  const [first] = layerShapes(spec);
  const sum = macs(spec);
  return ensemble * 2 * batch * (3 * sum - first.inputs * first.outputs + (withTargets ? sum : 0));
}

function randomReplay(gpu: Gpu): ReplayBuffer {
  const replay = createReplayBuffer(gpu, { capacity: REPLAY, inputs: INPUTS, actions: ACTIONS });
  // Deterministic pseudo-random transitions (the timings do not depend on the values).
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  replay.add({
    obs: Float32Array.from({ length: REPLAY * INPUTS }, () => 4 * next() - 2),
    nextObs: Float32Array.from({ length: REPLAY * INPUTS }, () => 4 * next() - 2),
    actions: Array.from({ length: REPLAY }, () => (next() < 0.5 ? 0 : 1)),
    rewards: new Array(REPLAY).fill(1),
    terminated: Array.from({ length: REPLAY }, () => next() < 0.02),
  });
  return replay;
}

interface TrainRow extends TrainConfig {
  flopsPerStep: number;
  trainer: { msPerStep: Summary; stepsPerSecond: number; gflops: number; ofCeiling: number };
  softQFit: { msPerStep: Summary; stepsPerSecond: number; gflops: number; ofCeiling: number };
  cpu: { msPerStep: Summary; stepsPerSecond: number; gflops: number };
  /** Soft Q fit steps/s over CPU reference steps/s. */
  speedup: number;
  /** PyTorch on the CPU (bench/pytorch_train.py); null when it did not run (see the report's pytorch). */
  pytorch: { msPerStep: PytorchTrainConfigResult["msPerStep"]; stepsPerSecond: number; steps: number } | null;
  /** Soft Q fit steps/s over PyTorch steps/s (both with target networks); null without PyTorch. */
  pytorchSpeedup: number | null;
  /** Trainer (`train(K)`, no target networks) steps/s over PyTorch steps/s; null without PyTorch. */
  trainerOverPytorch: number | null;
}

/** A row before the PyTorch baseline has run. */
type GpuRow = Omit<TrainRow, "pytorch" | "pytorchSpeedup" | "trainerOverPytorch">;

/** What the PyTorch column shows when there is no number: "no torch", or "failed". */
type PytorchOutcome = { ok: true; result: PytorchTrainResult } | { ok: false; cell: string; message: string };

/** PyTorch on the CPU for every config, in one run of bench/pytorch_train.py. */
async function measurePytorch(configs: TrainConfig[], threads: number): Promise<PytorchOutcome> {
  try {
    const result = await pytorchTrainBaselineOrMissing({
      configs: configs.map((c) => ({
        width: c.width,
        batch: c.batch,
        ensemble: c.ensemble,
        inputs: INPUTS,
        actions: ACTIONS,
        // About half a second (--quick) or two (--full) per timed run on lavapipe's 2-core machine.
        steps: c.width > 64 ? (full ? 40 : 10) : full ? 1000 : 200,
        warmup: c.width > 64 ? 3 : 20,
      })),
      threads,
      repeats: full ? 5 : 3,
      lr: 1e-4,
      gamma: 0.99,
    });
    if ("missing" in result) return { ok: false, cell: "no torch", message: result.missing };
    return { ok: true, result };
  } catch (error) {
    return { ok: false, cell: "failed", message: (error as Error).message };
  }
}

function withPytorch(row: GpuRow, outcome: PytorchOutcome): TrainRow {
  const found = outcome.ok
    ? outcome.result.configs.find((r) => r.config.width === row.width && r.config.batch === row.batch && r.config.ensemble === row.ensemble)
    : undefined;
  if (!found) return { ...row, pytorch: null, pytorchSpeedup: null, trainerOverPytorch: null };
  return {
    ...row,
    pytorch: { msPerStep: found.msPerStep, stepsPerSecond: found.stepsPerSecond, steps: found.steps },
    pytorchSpeedup: row.softQFit.stepsPerSecond / found.stepsPerSecond,
    trainerOverPytorch: row.trainer.stepsPerSecond / found.stepsPerSecond,
  };
}

async function measureTraining(gpu: Gpu, replay: ReplayBuffer, config: TrainConfig, ceiling: GemmResult): Promise<GpuRow> {
  const spec = specOf(config.width);
  const { batch, ensemble } = config;
  const stack = createStack(gpu, { mlp: spec, memory: 10, ensemble });
  const initial = initialQNetworks(spec, ensemble, 1);
  stack.push(initial);
  await replay.precomputePolicy(stack);
  const trainer = await createMlpTrainer(gpu, { mlp: spec, ensemble, batch, adam: { lr: 1e-4 }, targetNetworks: true });
  trainer.setWeights(initial);
  // The trainer alone: no target networks, a fixed uploaded batch.
  const plain = await createMlpTrainer(gpu, { mlp: spec, ensemble, batch, adam: { lr: 1e-4 } });
  plain.setWeights(initial);
  const softQFit = await createSoftQFit(gpu, { trainer, replay, seed: 1, gamma: 0.99, rewardScale: 10 });

  // Enough steps per timed run that the one readback at the end costs little (≥ 64, one submit's worth).
  const flops = stepFlops(spec, batch, ensemble, false);
  const fitFlops = stepFlops(spec, batch, ensemble, true);
  const roughRate = Math.max(0.5e9, 0.15 * ceiling.gflops * 1e9);
  const steps = Math.max(64, Math.min(4096, Math.round((full ? 2 : 0.5) / (fitFlops / roughRate)) & ~63));

  const stored = await replay.read();
  const rows = Math.min(batch, replay.size);
  plain.setBatch({
    states: stored.obs.slice(0, rows * INPUTS),
    actions: Array.from(stored.actions.subarray(0, rows)),
    targets: Array.from(stored.rewards.subarray(0, rows)),
  });
  // A run of the 2×256 configurations takes seconds on lavapipe: --quick times three of them.
  const options = !full && config.width > 64 ? { warmup: 1, minRuns: 3, maxRuns: 3, minSeconds: 0 } : repeatOptions;
  const trainerTime = await repeat(async () => {
    const started = performance.now();
    plain.train(steps);
    await plain.readStatistics();
    return (performance.now() - started) / steps;
  }, options);
  const fitTime = await repeat(async () => {
    const started = performance.now();
    await fitSoftQ(softQFit, { steps, tau: 1 });
    return (performance.now() - started) / steps;
  }, options);

  // The float64 reference: a full step (loss, gradient, Adam) per member.
  const cpuSamples: number[] = [];
  const params = initial.map((w) => flattenParameters(toFloat64(w)));
  const adam = params.map((p) => createAdamState(p.length));
  const batchData = {
    states: stored.obs.subarray(0, batch * INPUTS),
    actions: stored.actions.subarray(0, batch),
    targets: stored.rewards.subarray(0, batch),
  };
  const cpuSteps = config.width > 64 ? 3 : 20;
  for (let run = 0; run < cpuSteps; run++) {
    const started = performance.now();
    params.forEach((p, e) => {
      const { grads } = lossAndGradient(spec, unflattenParameters(spec, p), batchData);
      adamStep(p, flattenParameters(grads), adam[e], { lr: 1e-4, ...ADAM_DEFAULTS });
    });
    cpuSamples.push(performance.now() - started);
  }
  const cpu = summarize(cpuSamples);

  softQFit.destroy();
  trainer.destroy();
  plain.destroy();
  stack.destroy();
  const rate = (msPerStep: number, f: number) => f / (msPerStep * 1e6);
  const trainerGflops = rate(trainerTime.median, flops);
  const fitGflops = rate(fitTime.median, fitFlops);
  return {
    ...config,
    flopsPerStep: flops,
    trainer: {
      msPerStep: trainerTime,
      stepsPerSecond: 1000 / trainerTime.median,
      gflops: trainerGflops,
      ofCeiling: trainerGflops / ceiling.gflops,
    },
    softQFit: { msPerStep: fitTime, stepsPerSecond: 1000 / fitTime.median, gflops: fitGflops, ofCeiling: fitGflops / ceiling.gflops },
    cpu: { msPerStep: cpu, stepsPerSecond: 1000 / cpu.median, gflops: rate(cpu.median, flops) },
    speedup: cpu.median / fitTime.median,
  };
}

interface PrecomputeRow {
  width: number;
  memory: number;
  states: number;
  ms: Summary;
  gflops: number;
  ofCeiling: number;
}

/** The stack on every next state of the replay buffer, then π_k and its entropy (one submit, one wait). */
async function measurePrecompute(
  gpu: Gpu,
  replay: ReplayBuffer,
  width: number,
  memory: number,
  ceiling: GemmResult,
): Promise<PrecomputeRow> {
  const spec = specOf(width);
  const stack = createStack(gpu, { mlp: spec, memory });
  // Random snapshots: the cost does not depend on the values, and zero heads would look trivial.
  let state = memory;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  for (let i = 0; i < memory; i++) {
    const [w] = initialQNetworks(spec, 1, i);
    w.layers.at(-1)!.weight.forEach((_, k, a) => (a[k] = next()));
    stack.push(w);
  }
  const once = async () => {
    const started = performance.now();
    // The full recompute (every snapshot on every row): the kernel's throughput at a large batch.
    // bench/precompute.ts compares it with the incremental update the agent uses.
    await replay.precomputePolicy(stack, { full: true });
    await gpu.idle();
    return performance.now() - started;
  };
  const ms = await repeat(
    once,
    full ? { warmup: 1, minRuns: 3, maxRuns: 10, minSeconds: 2 } : { warmup: 1, minRuns: 2, maxRuns: 3, minSeconds: 0 },
  );
  stack.destroy();
  const gflops = (2 * macs(spec) * memory * replay.size) / (ms.median * 1e6);
  return { width, memory, states: replay.size, ms, gflops, ofCeiling: gflops / ceiling.gflops };
}

function trainTable(rows: TrainRow[], pytorch: PytorchOutcome): string {
  const missing = pytorch.ok ? "–" : pytorch.cell;
  return markdownTable(
    [
      "config",
      "trainer steps/s",
      "soft Q fit steps/s",
      "ms/step (p10–p90)",
      "GFLOP/s",
      "% ceiling",
      "CPU ref steps/s",
      "× CPU",
      "PyTorch CPU steps/s",
      "GPU ÷ PyTorch",
    ],
    rows.map((r) => [
      label(r),
      r.trainer.stepsPerSecond.toFixed(r.trainer.stepsPerSecond < 100 ? 1 : 0),
      r.softQFit.stepsPerSecond.toFixed(r.softQFit.stepsPerSecond < 100 ? 1 : 0),
      `${formatMs(r.softQFit.msPerStep.median)} (${formatMs(r.softQFit.msPerStep.p10)}–${formatMs(r.softQFit.msPerStep.p90)})`,
      r.softQFit.gflops.toFixed(2),
      `${(100 * r.softQFit.ofCeiling).toFixed(0)}%`,
      r.cpu.stepsPerSecond.toFixed(r.cpu.stepsPerSecond < 100 ? 1 : 0),
      r.speedup.toFixed(1),
      r.pytorch ? r.pytorch.stepsPerSecond.toFixed(r.pytorch.stepsPerSecond < 100 ? 1 : 0) : missing,
      r.pytorchSpeedup !== null ? r.pytorchSpeedup.toFixed(2) : missing,
    ]),
  );
}

function precomputeTable(rows: PrecomputeRow[]): string {
  return markdownTable(
    ["network", "M", "states", "ms (p10–p90)", "GFLOP/s", "% ceiling"],
    rows.map((r) => [
      `2×${r.width}`,
      String(r.memory),
      String(r.states),
      `${formatMs(r.ms.median)} (${formatMs(r.ms.p10)}–${formatMs(r.ms.p90)})`,
      r.gflops.toFixed(2),
      `${(100 * r.ofCeiling).toFixed(0)}%`,
    ]),
  );
}

async function main(): Promise<void> {
  const gpu = await createGpu({ fast: args.fast });
  const timer = new DeviceTimer(gpu);
  console.log(
    `staq trainer benchmark (${full ? "full" : "quick"}) on ${gpu.info.adapter}; Dawn robustness ${gpu.info.fast ? "off" : "on"}; node ${process.version}`,
  );
  const gemm = await measureGemm(
    gpu,
    timer,
    full ? [{ m: 4096, n: 4096, k: 4096 }] : [{ m: 512, n: 512, k: 512 }],
    full ? { warmup: 3, minRuns: 10, maxRuns: 100, minSeconds: 1 } : { warmup: 1, minRuns: 3, maxRuns: 20, minSeconds: 0.25 },
  );
  const ceiling = gemm[0];
  console.log(`GEMM ceiling: ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k})`);
  const replay = randomReplay(gpu);

  const gpuRows: GpuRow[] = [];
  for (const config of CONFIGS) {
    const row = await measureTraining(gpu, replay, config, ceiling);
    gpuRows.push(row);
    console.log(
      `${label(config).padEnd(16)} trainer ${row.trainer.stepsPerSecond.toFixed(0).padStart(6)} steps/s   soft Q fit ${row.softQFit.stepsPerSecond.toFixed(0).padStart(6)} steps/s ` +
        `(${row.softQFit.gflops.toFixed(2)} GFLOP/s, ${(100 * row.softQFit.ofCeiling).toFixed(0)}% of ceiling)   CPU ref ${row.cpu.stepsPerSecond.toFixed(1)} steps/s   ×${row.speedup.toFixed(1)}`,
    );
  }
  // After the GPU runs, not during them: lavapipe computes on the same cores.
  const threads = availableParallelism();
  const pytorch = await measurePytorch(CONFIGS, threads);
  const pytorchLine = pytorch.ok
    ? `${describeTorchCpu(pytorch.result)}.`
    : `PyTorch CPU column: ${pytorch.cell} (${pytorch.message.split("\n")[0]})`;
  console.log(pytorchLine);
  const trainRows: TrainRow[] = gpuRows.map((row) => withPytorch(row, pytorch));
  for (const row of trainRows) {
    if (row.pytorch) {
      console.log(
        `${label(row).padEnd(16)} PyTorch CPU ${row.pytorch.stepsPerSecond.toFixed(1).padStart(7)} steps/s   soft Q fit ÷ PyTorch ${row.pytorchSpeedup!.toFixed(2)}`,
      );
    }
  }
  const precomputeRows: PrecomputeRow[] = [];
  for (const width of full ? [64, 256] : [64]) {
    for (const memory of [10, 100, 300]) {
      const row = await measurePrecompute(gpu, replay, width, memory, ceiling);
      precomputeRows.push(row);
      console.log(
        `precompute 2×${width} M=${String(memory).padEnd(4)} ${REPLAY} states: ${formatMs(row.ms.median)} ms (${row.gflops.toFixed(2)} GFLOP/s, ${(100 * row.ofCeiling).toFixed(0)}% of ceiling)`,
      );
    }
  }
  replay.destroy();
  timer.destroy();

  const headline = trainRows.find((r) => r.width === 64 && r.ensemble === 1)!;
  const target = {
    what: `soft Q fit steps/s, 2×64, batch 64, E = 1 (≥ ${TARGET_STEPS_PER_SECOND} on lavapipe)`,
    measured: headline.softQFit.stepsPerSecond,
    met: headline.softQFit.stepsPerSecond >= TARGET_STEPS_PER_SECOND,
  };
  console.log(`\n${trainTable(trainRows, pytorch)}\n\n${precomputeTable(precomputeRows)}\n`);
  console.log(`target: ${target.what}: ${target.measured.toFixed(0)} — ${target.met ? "met" : "NOT met"}`);

  const slug = adapterSlug(gpu.info.adapter);
  const report = {
    benchmark: "train",
    mode: full ? "full" : "quick",
    date: new Date().toISOString(),
    adapter: gpu.info,
    machine: machineInfo(),
    ceiling,
    replayStates: REPLAY,
    training: trainRows,
    pytorch: pytorch.ok
      ? {
          ran: true,
          threads,
          torch: pytorch.result.torch,
          blas: pytorch.result.blas,
          build: pytorch.result.build,
          torchThreads: pytorch.result.threads,
          interopThreads: pytorch.result.interopThreads,
          parallelInfo: pytorch.result.parallelInfo,
          step: pytorch.result.step,
          configs: pytorch.result.configs,
        }
      : { ran: false, threads, why: pytorch.cell, message: pytorch.message },
    precompute: precomputeRows,
    target,
  };
  writeReport(
    args.out,
    `train-${slug}`,
    report,
    [
      `# Trainer benchmark on ${gpu.info.adapter} (${report.mode})`,
      "",
      `${report.date}; ${report.machine.cpu}, ${report.machine.cores} cores; GEMM ceiling ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k}).`,
      '"trainer": `train(K)` on an uploaded batch. "soft Q fit": `fitSoftQ` — sampling from a 50k replay buffer, target networks and soft-Bellman targets included; its ms/step, GFLOP/s and ratio to the CPU reference are given. CartPole shapes (4 inputs, 2 actions).',
      "",
      "\"PyTorch CPU\": the same step in PyTorch on the CPU (bench/pytorch_train.py: per member an nn.Linear MLP and a target copy, MSE against r + γ(1 − done)·mean of the targets' Q(s', a'), Adam lr 1e-4, a fixed random batch). \"GPU ÷ PyTorch\": soft Q fit steps/s over PyTorch steps/s (both evaluate target networks; the JSON also has the trainer's ratio).",
      "",
      trainTable(trainRows, pytorch),
      "",
      pytorchLine,
      "",
      "Precompute: the stack's logits of every next state in the replay buffer, then π_k and its entropy (one submit).",
      "",
      precomputeTable(precomputeRows),
      "",
      `Target: ${target.what}: ${target.measured.toFixed(0)} — ${target.met ? "met" : "not met"}.`,
      "",
    ].join("\n"),
  );
  gpu.destroy();
}

await main();
