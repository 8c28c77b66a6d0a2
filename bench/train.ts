/**
 * Trainer benchmark: gradient steps per second of the GPU trainer on both of its paths, and the
 * cost of the per-iteration precompute (the stack on every next state of a 50k replay buffer).
 *
 * For (2×64, batch 64) and (2×256, batch 256), E = 1 and 2 (CartPole's 4 inputs and 2 actions):
 *   trainer    `train(K)` on a fixed uploaded batch: forward, loss, backprop, Adam
 *   soft Q fit `fitSoftQ`: the same steps plus minibatch sampling from a 50k replay buffer,
 *              the target networks' forward pass and the soft-Bellman targets (StaQ's inner loop)
 *   each on both paths (createMlpTrainer's and createSoftQFit's `path`): "fused" (whole gradient
 *              steps per dispatch, src/train/fused-step.ts) and "multi-dispatch" (one dispatch per
 *              piece), measured in the same run with their timed runs interleaved, so that the
 *              machine's drift falls on both alike; "fused ÷ multi-dispatch" is their ratio
 *   CPU ref    the float64 TypeScript reference (src/train/reference.ts), one step at a time
 *   PyTorch    the same step in PyTorch on the CPU (bench/pytorch_train.py: nn.Linear MLPs, target
 *              copies, MSE, Adam, a fixed batch), torch.set_num_threads(os.availableParallelism());
 *              "no torch" when no Python with torch is found (bench/pytorch-baseline.ts's findTorchPython)
 * with GFLOP/s from the multiply-adds of the dense layers, as a fraction of the GEMM ceiling
 * measured in the same run by bench/gemm.ts. Then the conv rows: the StaQ paper's MinAtar network
 * (Breakout's 10×10×4 image, Conv2d(4→16, 3×3) + ReLU, 128, 3 actions) at batch 256, E = 1 and 2,
 * on the multi-dispatch path only (the fused kernel covers MLPs: its columns say "n/a"), with
 * GFLOP/s that count the conv's multiply-adds at every output position, beside the float64
 * reference (a few steps: it is slow at this size) and PyTorch (nn.Conv2d + nn.Linear). Then the
 * precompute for M = 10, 100, 300 (2×64; --full adds 2×256). Prints tables as it goes, then writes
 * DIR/train-<adapter>.json and .md, and ends with the targets (met or not; the exit status does not
 * depend on them). `--rows conv` runs the conv rows alone (no precompute, no targets), `--rows dense`
 * the rest.
 *
 * Readbacks learn how long a run of K steps takes (src/gpu/patient-wait.ts) and need 6–8 runs of
 * the same K to sleep through it rather than poll, so every variant has 8 untimed runs of the
 * timed K before it is timed.
 *
 *   npx tsx bench/train.ts            (--quick, the default: the trainer part about 2 minutes on
 *                                      lavapipe's 2 cores; the precompute takes longer)
 *   npx tsx bench/train.ts --full     (longer runs, and the 2×256 precompute: for a real GPU)
 *   npx tsx bench/train.ts --rows conv --out DIR   (the conv rows alone, their report in DIR)
 */
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGpu } from "../src/node/create-gpu.ts";
import { DispatchProfiler, type DispatchTime } from "./dispatch-profiler.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import { convGeometry, paperMinatarConv } from "../src/stack/conv.ts";
import type { MlpSpec } from "../src/stack/mlp.ts";
import { snapshotLayout } from "../src/stack/layout.ts";
import { createStack } from "../src/stack/stack.ts";
import { fusedSupport, type TrainerPath } from "../src/train/fused-step.ts";
import { initialQNetworks } from "../src/train/initialisation.ts";
import { createMlpTrainer, type MlpTrainer } from "../src/train/mlp-trainer.ts";
import { createSoftQFit, fitSoftQ, type SoftQFit } from "../src/train/soft-q-fit.ts";
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
import { parseProgramArgs, parseRowKinds, prepareOutputFolder } from "./arguments.ts";
import {
  adapterSlug,
  formatMs,
  forwardMacs,
  fullMode,
  layerMacs,
  machineInfo,
  markdownTable,
  commonBenchOptions,
  writeReport,
} from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: npx tsx bench/train.ts [--quick | --full] [--out DIR] [--fast] [--rows all|dense|conv]
  --quick   short runs; precompute for 2×64 only (the default; the trainer part about 2 minutes on
            lavapipe, the precompute several more)
  --full    longer runs, and the 2×256 precompute too (for a real GPU)
  --fast    Dawn's robustness off (see GpuOptions.fast)
  --rows all|dense|conv  "dense": the MLP rows, the precompute and the targets; "conv": the StaQ
            paper's MinAtar conv network (batch 256, E = 1 and 2, multi-dispatch path) alone;
            default both
Gradient steps/s of the GPU trainer (2×64 batch 64, 2×256 batch 256; E = 1, 2) on its fused and
multi-dispatch paths, with and without replay sampling and soft-Bellman targets, against the
float64 CPU reference and PyTorch on the CPU (bench/pytorch_train.py, with a Python that has torch:
$STAQ_PYTHON, python3 or /usr/bin/python3; "no torch" otherwise), and the precompute of 50k next
states through a stack of M = 10, 100, 300. Writes DIR/train-<adapter>.json and .md, then says
whether the targets are met.`;

const { values: args } = parseProgramArgs(
  {
    options: {
      ...commonBenchOptions(join(here, "results")),
      fast: { type: "boolean", default: false },
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
const startedAt = performance.now();
/** Which rows run (--rows): the MLP rows (with the precompute and the targets), the conv rows, or both. */
const rowKinds = parseRowKinds(args.rows);
// Made and tried now: a folder that cannot take the results would otherwise fail after the run.
await prepareOutputFolder(args.out);

/** CartPole's shapes, for the MLP rows and the precompute. */
const INPUTS = 4;
const ACTIONS = 2;
const REPLAY = 50_000;
/**
 * The conv rows' network: the StaQ paper's MinAtar one for Breakout (a 10×10×4 image, Conv2d(4→16,
 * 3×3) + ReLU, flatten to 1024, 128 + ReLU, 3 actions).
 */
const CONV_CHANNELS = 4;
const CONV_SPEC: MlpSpec = { inputs: 100 * CONV_CHANNELS, conv: paperMinatarConv(CONV_CHANNELS), hidden: [128], outputs: 3 };
/**
 * The conv rows' replay buffer: smaller than the MLP rows' 50k, since filling it evaluates the
 * initial network on every row (a few seconds per thousand rows on lavapipe) and the sampled
 * minibatch's cost does not depend on the capacity.
 */
const CONV_REPLAY = 4096;
/** Steps of the float64 reference per conv row (about 0.15 s per member per step on this machine). */
const CONV_CPU_STEPS = 2;
/** The issue's target on lavapipe: 2×64, batch 64, E = 1, end to end. */
const TARGET_STEPS_PER_SECOND = 500;
/** The fused path's targets on lavapipe, at 2×64, batch 64, E = 2: its soft Q fit's steps/s over… */
const FUSED_TARGETS = {
  config: { width: 64, batch: 64, ensemble: 2 },
  /** …the multi-dispatch soft Q fit's, */
  overMultiDispatch: 4,
  /** …and PyTorch's on the CPU, in the same run. */
  overPytorch: 1.5,
};
/**
 * The timed runs of the four GPU variants of a configuration (trainer and soft Q fit, fused and
 * multi-dispatch), interleaved: 8 untimed runs each (the readbacks' duration estimates), then
 * rounds of one run each until every variant has minRuns and minSeconds. This machine's timings
 * wander by ±30 % between runs (shared cores), so even --quick takes a median of several.
 */
const gpuRepeatOptions: RepeatOptions = full
  ? { warmup: 8, minRuns: 10, maxRuns: 50, minSeconds: 4 }
  : { warmup: 8, minRuns: 7, maxRuns: 15, minSeconds: 1 };
/**
 * K of the timed runs: about this long a run of the fused soft Q fit, as calibrated (polling, so
 * a timed run, which sleeps through most of it, takes a little less), at most MAX_STEPS.
 */
const RUN_SECONDS = full ? 1 : 0.25;
const MAX_STEPS = full ? 16384 : 4096;

interface TrainConfig {
  /** Hidden width: of both hidden layers of an MLP row; of the one hidden layer of the conv rows (128). */
  width: number;
  batch: number;
  ensemble: number;
  /** The conv rows: CONV_SPEC rather than CartPole's 2×width MLP. */
  conv?: true;
}
const DENSE_CONFIGS: TrainConfig[] = [
  { width: 64, batch: 64, ensemble: 1 },
  { width: 64, batch: 64, ensemble: 2 },
  { width: 256, batch: 256, ensemble: 1 },
  { width: 256, batch: 256, ensemble: 2 },
];
const CONV_CONFIGS: TrainConfig[] = [1, 2].map((ensemble) => ({ width: CONV_SPEC.hidden[0], batch: 256, ensemble, conv: true }));
const CONFIGS: TrainConfig[] = [...(rowKinds.includes("dense") ? DENSE_CONFIGS : []), ...(rowKinds.includes("conv") ? CONV_CONFIGS : [])];
const PATHS: readonly TrainerPath[] = ["fused", "multi-dispatch"];
const denseSpec = (width: number): MlpSpec => ({ inputs: INPUTS, hidden: [width, width], outputs: ACTIONS });
const specOf = (c: TrainConfig): MlpSpec => (c.conv ? CONV_SPEC : denseSpec(c.width));
const label = (c: TrainConfig) => (c.conv ? `conv+${c.width} b${c.batch} E${c.ensemble}` : `2×${c.width} b${c.batch} E${c.ensemble}`);
const sameConfig = (a: TrainConfig | { width: number; batch: number; ensemble: number; conv?: unknown }, b: TrainConfig) =>
  a.width === b.width && a.batch === b.batch && a.ensemble === b.ensemble && Boolean(a.conv) === Boolean(b.conv);

/**
 * FLOPs of one gradient step per member: forward 2·B·Σ, weight gradients 2·B·Σ, input gradients
 * 2·B·(Σ − macs_0) (layer 0's input gradient is not needed), with Σ the multiply-adds of one
 * state's forward pass (report.ts's forwardMacs: a conv layer's at every output position, so its
 * weight gradient counts the same). The soft Q fit adds the target networks' forward pass, 2·B·Σ.
 * Adam, the loss and the sampling are O(parameters + B).
 */
function stepFlops(spec: MlpSpec, batch: number, ensemble: number, withTargets: boolean): number {
  const [first] = layerMacs(spec);
  const sum = forwardMacs(spec);
  return ensemble * 2 * batch * (3 * sum - first + (withTargets ? sum : 0));
}

function randomReplay(gpu: Gpu, capacity: number, inputs: number, actions: number): ReplayBuffer {
  const replay = createReplayBuffer(gpu, { capacity, inputs, actions });
  // Deterministic pseudo-random transitions (the timings do not depend on the values).
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  replay.add({
    obs: Float32Array.from({ length: capacity * inputs }, () => 4 * next() - 2),
    nextObs: Float32Array.from({ length: capacity * inputs }, () => 4 * next() - 2),
    actions: Array.from({ length: capacity }, () => Math.min(actions - 1, Math.floor(next() * actions))),
    rewards: new Array(capacity).fill(1),
    terminated: Array.from({ length: capacity }, () => next() < 0.02),
  });
  return replay;
}

/** One variant's timing: ms per gradient step over the timed runs, and what it makes. */
interface Rate {
  /** The path it ran on (createMlpTrainer's and createSoftQFit's `path`). */
  path: TrainerPath;
  msPerStep: Summary;
  stepsPerSecond: number;
  gflops: number;
  ofCeiling: number;
}

/** The trainer (`train(K)`, no target networks) and the soft Q fit on one path. */
interface PathRates {
  trainer: Rate;
  softQFit: Rate;
}

interface TrainRow extends TrainConfig {
  /** FLOPs of one trainer step (the soft Q fit's: fitFlopsPerStep). */
  flopsPerStep: number;
  fitFlopsPerStep: number;
  /** K, the gradient steps of every timed run of this configuration (both paths, trainer and soft Q fit). */
  steps: number;
  /** Both paths; fused is null where the fused kernel cannot run (fusedWhyNot says why). */
  paths: { fused: PathRates | null; multiDispatch: PathRates };
  fusedWhyNot?: string;
  /**
   * The headline path's trainer and soft Q fit: the fused path (multi-dispatch where it cannot
   * run); `path` says which. Before both paths were measured these were the trainer's default path.
   */
  trainer: Rate;
  softQFit: Rate;
  /** Fused steps/s over multi-dispatch steps/s; null without the fused path. */
  fusedOverMultiDispatch: { trainer: number; softQFit: number } | null;
  cpu: { msPerStep: Summary; stepsPerSecond: number; gflops: number };
  /** Headline (fused) soft Q fit steps/s over CPU reference steps/s. */
  speedup: number;
  /** PyTorch on the CPU (bench/pytorch_train.py); null when it did not run (see the report's pytorch). */
  pytorch: { msPerStep: PytorchTrainConfigResult["msPerStep"]; stepsPerSecond: number; steps: number } | null;
  /** Headline (fused) soft Q fit steps/s over PyTorch steps/s (both with target networks); null without PyTorch. */
  pytorchSpeedup: number | null;
  /** Headline (fused) trainer (`train(K)`, no target networks) steps/s over PyTorch steps/s; null without PyTorch. */
  trainerOverPytorch: number | null;
  /**
   * Where the multi-dispatch soft Q fit's device time goes: `steps` steps with every dispatch
   * timed in a pass of its own (bench/dispatch-profiler.ts), by dispatch, largest first; null
   * without timestamp queries.
   */
  profile: { steps: number; dispatches: DispatchTime[] } | null;
  /** The multi-dispatch path's steps/s over PyTorch steps/s; null without PyTorch. */
  multiDispatchOverPytorch: { trainer: number; softQFit: number } | null;
}

/** A row before the PyTorch baseline has run. */
type GpuRow = Omit<TrainRow, "pytorch" | "pytorchSpeedup" | "trainerOverPytorch" | "multiDispatchOverPytorch">;

/** What the PyTorch column shows when there is no number: "no torch", or "failed". */
type PytorchOutcome = { ok: true; result: PytorchTrainResult } | { ok: false; cell: string; message: string };

/** PyTorch on the CPU for every config, in one run of bench/pytorch_train.py. */
async function measurePytorch(configs: TrainConfig[], threads: number): Promise<PytorchOutcome> {
  try {
    const result = await pytorchTrainBaselineOrMissing({
      configs: configs.map((c) => {
        const spec = specOf(c);
        return {
          width: c.width,
          batch: c.batch,
          ensemble: c.ensemble,
          inputs: spec.inputs,
          actions: spec.outputs,
          ...(spec.conv ? { hidden: [...spec.hidden], conv: spec.conv } : {}),
          // About half a second (--quick) or two (--full) per timed run on lavapipe's 2-core machine
          // (the conv network: 10–20 ms a step at E = 2).
          steps: c.conv ? (full ? 100 : 20) : c.width > 64 ? (full ? 40 : 10) : full ? 1000 : 200,
          warmup: c.conv || c.width > 64 ? 3 : 20,
        };
      }),
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
  const found = outcome.ok ? outcome.result.configs.find((r) => sameConfig(r.config, row)) : undefined;
  if (!found) return { ...row, pytorch: null, pytorchSpeedup: null, trainerOverPytorch: null, multiDispatchOverPytorch: null };
  const { multiDispatch } = row.paths;
  return {
    ...row,
    pytorch: { msPerStep: found.msPerStep, stepsPerSecond: found.stepsPerSecond, steps: found.steps },
    pytorchSpeedup: row.softQFit.stepsPerSecond / found.stepsPerSecond,
    trainerOverPytorch: row.trainer.stepsPerSecond / found.stepsPerSecond,
    multiDispatchOverPytorch: {
      trainer: multiDispatch.trainer.stepsPerSecond / found.stepsPerSecond,
      softQFit: multiDispatch.softQFit.stepsPerSecond / found.stepsPerSecond,
    },
  };
}

/**
 * measure.ts's `repeat` for several variants at once, alternating run by run so that the
 * machine's drift falls on all of them alike. Each `run` returns its milliseconds.
 */
async function repeatInterleaved(runs: readonly (() => Promise<number>)[], options: RepeatOptions): Promise<number[][]> {
  for (let i = 0; i < options.warmup; i++) for (const run of runs) await run();
  const samples = runs.map((): number[] => []);
  const totals = runs.map(() => 0);
  const more = () =>
    samples[0].length < options.maxRuns && (samples[0].length < options.minRuns || totals.some((t) => t < options.minSeconds * 1000));
  while (more()) {
    for (const [i, run] of runs.entries()) {
      const ms = await run();
      samples[i].push(ms);
      totals[i] += ms;
    }
  }
  return samples;
}

/** Rounds a step count: to a multiple of 64 from 64 up (a whole fused dispatch of a small network), else to a power of two. */
function roundSteps(steps: number): number {
  const rounded = steps >= 64 ? Math.round(steps / 64) * 64 : 2 ** Math.max(0, Math.round(Math.log2(Math.max(1, steps))));
  return Math.min(MAX_STEPS, rounded);
}

/**
 * K for the timed runs: about RUN_SECONDS of `run(K)`. After an untimed run (it compiles), K
 * doubles from 1 until a run takes half of that; the fastest of three runs of that K sets K (the
 * fastest: other work on the machine only ever slows a run down).
 */
async function calibrateSteps(run: (steps: number) => Promise<unknown>): Promise<number> {
  const time = async (steps: number) => {
    const started = performance.now();
    await run(steps);
    return performance.now() - started;
  };
  await run(1);
  let steps = 1;
  while (steps < MAX_STEPS && (await time(steps)) < 500 * RUN_SECONDS) steps *= 2;
  const ms = Math.min(await time(steps), await time(steps), await time(steps));
  return roundSteps((steps * 1000 * RUN_SECONDS) / ms);
}

/** A trainer for the full-batch steps and a soft Q fit (with its own trainer), both on `path`. */
interface PathSetup {
  path: TrainerPath;
  plain: MlpTrainer;
  fitTrainer: MlpTrainer;
  softQFit: SoftQFit;
}

async function setUpPath(
  gpu: Gpu,
  replay: ReplayBuffer,
  config: TrainConfig,
  path: TrainerPath,
  initial: ReturnType<typeof initialQNetworks>,
  batchData: { states: Float32Array; actions: number[]; targets: number[] },
): Promise<PathSetup> {
  const spec = specOf(config);
  const { batch, ensemble } = config;
  const fitTrainer = await createMlpTrainer(gpu, { mlp: spec, ensemble, batch, adam: { lr: 1e-4 }, targetNetworks: true, path });
  fitTrainer.setWeights(initial);
  const softQFit = await createSoftQFit(gpu, { trainer: fitTrainer, replay, seed: 1, gamma: 0.99, rewardScale: 10, path });
  // The trainer alone: no target networks, a fixed uploaded batch.
  const plain = await createMlpTrainer(gpu, { mlp: spec, ensemble, batch, adam: { lr: 1e-4 }, path });
  plain.setWeights(initial);
  plain.setBatch(batchData);
  for (const [what, ran] of [
    ["trainer", plain.path],
    ["soft Q fit trainer", fitTrainer.path],
    ["soft Q fit", softQFit.path],
  ] as const) {
    if (ran !== path) throw new Error(`${label(config)}: the ${what} runs ${ran}, not the ${path} path asked for`);
  }
  return { path, plain, fitTrainer, softQFit };
}

/** Steps of the profiled soft Q fit run: a command buffer's worth, well within the profiler's 2048 dispatches. */
const PROFILE_STEPS = 64;

async function measureTraining(
  gpu: Gpu,
  replay: ReplayBuffer,
  config: TrainConfig,
  ceiling: GemmResult,
  profiler: DispatchProfiler | undefined,
): Promise<GpuRow> {
  const spec = specOf(config);
  const { batch, ensemble } = config;
  const stack = createStack(gpu, { mlp: spec, memory: 10, ensemble });
  const initial = initialQNetworks(spec, ensemble, 1);
  stack.push(initial);
  await replay.precomputePolicy(stack);
  const stored = await replay.read();
  const rows = Math.min(batch, replay.size);
  const batchData = {
    states: stored.obs.slice(0, rows * spec.inputs),
    actions: Array.from(stored.actions.subarray(0, rows)),
    targets: Array.from(stored.rewards.subarray(0, rows)),
  };

  const support = fusedSupport(gpu.info, snapshotLayout(spec), ensemble, batch);
  const setups: PathSetup[] = [];
  for (const path of PATHS) {
    if (path === "fused" && !support.ok) continue;
    setups.push(await setUpPath(gpu, replay, config, path, initial, batchData));
  }

  // K from the headline soft Q fit (the fused one where it runs), the same for every variant.
  const fit = (softQFit: SoftQFit) => (steps: number) => fitSoftQ(softQFit, { steps, tau: 1 });
  const steps = await calibrateSteps(fit(setups[0].softQFit));
  const timed = (run: (steps: number) => Promise<unknown>) => async () => {
    const started = performance.now();
    await run(steps);
    return performance.now() - started;
  };
  const trainRuns = setups.map(({ plain }) =>
    timed(async (k) => {
      plain.train(k);
      await plain.readStatistics();
    }),
  );
  const fitRuns = setups.map(({ softQFit }) => timed(fit(softQFit)));
  const samples = await repeatInterleaved([...trainRuns, ...fitRuns], gpuRepeatOptions);
  const perStep = (s: number[]) => summarize(s.map((ms) => ms / steps));
  const profileSteps = Math.min(steps, PROFILE_STEPS);
  const multiDispatchFit = setups[setups.length - 1].softQFit;
  const profile = profiler ? { steps: profileSteps, dispatches: await profiler.profile(() => fit(multiDispatchFit)(profileSteps)) } : null;

  // The float64 reference: a full step (loss, gradient, Adam) per member.
  const cpuSamples: number[] = [];
  const params = initial.map((w) => flattenParameters(toFloat64(w)));
  const adam = params.map((p) => createAdamState(p.length));
  const cpuBatch = {
    states: stored.obs.subarray(0, batch * spec.inputs),
    actions: stored.actions.subarray(0, batch),
    targets: stored.rewards.subarray(0, batch),
  };
  // A few steps of the larger networks: a conv step at batch 256 is about 0.15 s per member here.
  const cpuSteps = config.conv ? CONV_CPU_STEPS : config.width > 64 ? 3 : 20;
  for (let run = 0; run < cpuSteps; run++) {
    const started = performance.now();
    params.forEach((p, e) => {
      const { grads } = lossAndGradient(spec, unflattenParameters(spec, p), cpuBatch);
      adamStep(p, flattenParameters(grads), adam[e], { lr: 1e-4, ...ADAM_DEFAULTS });
    });
    cpuSamples.push(performance.now() - started);
  }
  const cpu = summarize(cpuSamples);

  for (const { plain, fitTrainer, softQFit } of setups) {
    softQFit.destroy();
    fitTrainer.destroy();
    plain.destroy();
  }
  stack.destroy();
  const flops = stepFlops(spec, batch, ensemble, false);
  const fitFlops = stepFlops(spec, batch, ensemble, true);
  const gflopsOf = (msPerStep: number, f: number) => f / (msPerStep * 1e6);
  const rateOf = (path: TrainerPath, msPerStep: Summary, f: number): Rate => {
    const gflops = gflopsOf(msPerStep.median, f);
    return { path, msPerStep, stepsPerSecond: 1000 / msPerStep.median, gflops, ofCeiling: gflops / ceiling.gflops };
  };
  const rates = setups.map(({ path }, i): PathRates => ({
    trainer: rateOf(path, perStep(samples[i]), flops),
    softQFit: rateOf(path, perStep(samples[setups.length + i]), fitFlops),
  }));
  const fused = setups[0].path === "fused" ? rates[0] : null;
  const multiDispatch = rates[rates.length - 1];
  const headline = rates[0];
  return {
    ...config,
    flopsPerStep: flops,
    fitFlopsPerStep: fitFlops,
    steps,
    paths: { fused, multiDispatch },
    ...(support.ok ? {} : { fusedWhyNot: support.reason }),
    trainer: headline.trainer,
    softQFit: headline.softQFit,
    fusedOverMultiDispatch: fused
      ? {
          trainer: fused.trainer.stepsPerSecond / multiDispatch.trainer.stepsPerSecond,
          softQFit: fused.softQFit.stepsPerSecond / multiDispatch.softQFit.stepsPerSecond,
        }
      : null,
    cpu: { msPerStep: cpu, stepsPerSecond: 1000 / cpu.median, gflops: gflopsOf(cpu.median, flops) },
    speedup: cpu.median / headline.softQFit.msPerStep.median,
    profile,
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
  const spec = denseSpec(width);
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
  const gflops = (2 * forwardMacs(spec) * memory * replay.size) / (ms.median * 1e6);
  return { width, memory, states: replay.size, ms, gflops, ofCeiling: gflops / ceiling.gflops };
}

const perSecond = (x: number) => x.toFixed(x < 100 ? 1 : 0);

function trainTable(rows: TrainRow[], pytorch: PytorchOutcome): string {
  const missing = pytorch.ok ? "–" : pytorch.cell;
  return markdownTable(
    [
      "config",
      "fused trainer steps/s",
      "multi-dispatch trainer steps/s",
      "fused soft Q fit steps/s",
      "multi-dispatch soft Q fit steps/s",
      "fused ÷ multi-dispatch",
      "ms/step (p10–p90)",
      "GFLOP/s",
      "% ceiling",
      "CPU ref steps/s",
      "× CPU",
      "PyTorch CPU steps/s",
      "GPU ÷ PyTorch",
    ],
    rows.map((r) => {
      const { fused, multiDispatch } = r.paths;
      // Where the fused kernel cannot run, the headline columns are the multi-dispatch path's (marked so).
      const mark = fused ? "" : " (multi-dispatch)";
      // The fused kernel covers MLPs only: not applicable to a conv network, rather than a failure.
      const noFused = r.conv ? "n/a" : "cannot run";
      return [
        label(r),
        fused ? perSecond(fused.trainer.stepsPerSecond) : noFused,
        perSecond(multiDispatch.trainer.stepsPerSecond),
        fused ? perSecond(fused.softQFit.stepsPerSecond) : noFused,
        perSecond(multiDispatch.softQFit.stepsPerSecond),
        r.fusedOverMultiDispatch ? r.fusedOverMultiDispatch.softQFit.toFixed(2) : "–",
        `${formatMs(r.softQFit.msPerStep.median)} (${formatMs(r.softQFit.msPerStep.p10)}–${formatMs(r.softQFit.msPerStep.p90)})${mark}`,
        r.softQFit.gflops.toFixed(2),
        `${(100 * r.softQFit.ofCeiling).toFixed(0)}%`,
        perSecond(r.cpu.stepsPerSecond),
        r.speedup.toFixed(1),
        r.pytorch ? perSecond(r.pytorch.stepsPerSecond) : missing,
        r.pytorchSpeedup !== null ? `${r.pytorchSpeedup.toFixed(2)}${mark}` : missing,
      ];
    }),
  );
}
/** A dispatch's name without the library's and the object's prefix: "weight grad 1", "sample". */
const dispatchName = (label: string) => label.replace(/^staq (soft Q fit|trainer) /, "");

/** The largest dispatches' device time per step and share: "weight grad 1 26.2 ms (38%), …". */
function profileSummary(profile: NonNullable<TrainRow["profile"]>, top = 4): string {
  const total = profile.dispatches.reduce((sum, d) => sum + d.ms, 0);
  const shares = profile.dispatches
    .slice(0, top)
    .map((d) => `${dispatchName(d.label)} ${formatMs(d.ms / profile.steps)} ms (${((100 * d.ms) / total).toFixed(0)}%)`);
  return `${shares.join(", ")}; all ${profile.dispatches.length} dispatches ${formatMs(total / profile.steps)} ms`;
}

function profileTable(rows: TrainRow[]): string {
  return markdownTable(
    ["config", "multi-dispatch soft Q fit: the largest dispatches, device ms per step (share)", "profiled steps"],
    rows.flatMap((r) => (r.profile ? [[label(r), profileSummary(r.profile), String(r.profile.steps)]] : [])),
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

/** A ratio target: the measured ratio (null when it could not be measured, with why), and whether it is met. */
interface RatioTarget {
  what: string;
  required: number;
  measured: number | null;
  met: boolean | null;
  why?: string;
}

function ratioTarget(what: string, required: number, measured: number | null, why: string): RatioTarget {
  return measured === null ? { what, required, measured, met: null, why } : { what, required, measured, met: measured >= required };
}

const describeRatio = (t: RatioTarget) =>
  t.measured === null
    ? `${t.what} not measured (${t.why}; target ≥ ${t.required})`
    : `${t.what} ${t.measured.toFixed(2)} (target ≥ ${t.required}) — ${t.met ? "met" : "NOT met"}`;

async function main(): Promise<void> {
  const device = await createGpu({ fast: args.fast });
  // Everything runs through the profiler's stand-in, which only splits passes inside profile().
  const profiler = device.info.features.timestampQuery ? new DispatchProfiler(device) : undefined;
  const gpu = profiler?.gpu ?? device;
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
  // One replay buffer per network shape: CartPole's for the MLP rows and the precompute, MinAtar's for the conv rows.
  const replay = rowKinds.includes("dense") ? randomReplay(gpu, REPLAY, INPUTS, ACTIONS) : undefined;
  const convReplay = rowKinds.includes("conv") ? randomReplay(gpu, CONV_REPLAY, CONV_SPEC.inputs, CONV_SPEC.outputs) : undefined;

  const gpuRows: GpuRow[] = [];
  for (const config of CONFIGS) {
    const configStarted = performance.now();
    const row = await measureTraining(gpu, config.conv ? convReplay! : replay!, config, ceiling, profiler);
    const configSeconds = (performance.now() - configStarted) / 1000;
    gpuRows.push(row);
    const { fused, multiDispatch } = row.paths;
    const both = (pick: (p: PathRates) => Rate, ratio: number | undefined) =>
      `fused ${fused ? perSecond(pick(fused).stepsPerSecond).padStart(6) : config.conv ? "n/a" : "cannot run"}  multi-dispatch ${perSecond(pick(multiDispatch).stepsPerSecond).padStart(6)} steps/s` +
      (ratio === undefined ? "" : ` (×${ratio.toFixed(2)})`);
    console.log(
      `${label(config).padEnd(16)} K=${String(row.steps).padEnd(5)} soft Q fit ${both((p) => p.softQFit, row.fusedOverMultiDispatch?.softQFit)}   ` +
        `trainer ${both((p) => p.trainer, row.fusedOverMultiDispatch?.trainer)}   ` +
        `${row.softQFit.path} soft Q fit ${row.softQFit.gflops.toFixed(2)} GFLOP/s (${(100 * row.softQFit.ofCeiling).toFixed(0)}% of ceiling)   CPU ref ${row.cpu.stepsPerSecond.toFixed(1)} steps/s   ×${row.speedup.toFixed(1)}   (${configSeconds.toFixed(0)} s)`,
    );
    if (row.fusedWhyNot)
      console.log(`${label(config).padEnd(16)} the fused path ${config.conv ? "does not apply" : "cannot run"}: ${row.fusedWhyNot}`);
    if (row.profile) console.log(`${label(config).padEnd(16)} multi-dispatch soft Q fit step: ${profileSummary(row.profile)}`);
  }
  const gpuSeconds = (performance.now() - startedAt) / 1000;
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
        `${label(row).padEnd(16)} PyTorch CPU ${row.pytorch.stepsPerSecond.toFixed(1).padStart(7)} steps/s   ${row.softQFit.path} soft Q fit ÷ PyTorch ${row.pytorchSpeedup!.toFixed(2)}` +
          // The multi-dispatch ratio separately only where the headline is the fused path's.
          (row.paths.fused ? `   multi-dispatch soft Q fit ÷ PyTorch ${row.multiDispatchOverPytorch!.softQFit.toFixed(2)}` : ""),
      );
    }
  }
  const trainerSeconds = (performance.now() - startedAt) / 1000;
  console.log(`trainer part: ${trainerSeconds.toFixed(0)} s (GPU and CPU reference ${gpuSeconds.toFixed(0)} s)`);
  const precomputeRows: PrecomputeRow[] = [];
  for (const width of replay ? (full ? [64, 256] : [64]) : []) {
    for (const memory of [10, 100, 300]) {
      const row = await measurePrecompute(gpu, replay!, width, memory, ceiling);
      precomputeRows.push(row);
      console.log(
        `precompute 2×${width} M=${String(memory).padEnd(4)} ${REPLAY} states: ${formatMs(row.ms.median)} ms (${row.gflops.toFixed(2)} GFLOP/s, ${(100 * row.ofCeiling).toFixed(0)}% of ceiling)`,
      );
    }
  }
  replay?.destroy();
  convReplay?.destroy();
  timer.destroy();
  profiler?.destroy();

  // The targets are about the MLP rows: absent under --rows conv.
  const targets = rowKinds.includes("dense") ? describeTargets(trainRows, pytorch) : undefined;
  const targetLines = targets?.lines ?? [];
  const profiles = trainRows.some((r) => r.profile) ? `\n\n${profileTable(trainRows)}` : "";
  console.log(`\n${trainTable(trainRows, pytorch)}${profiles}${precomputeRows.length ? `\n\n${precomputeTable(precomputeRows)}` : ""}`);

  const slug = adapterSlug(gpu.info.adapter);
  const seconds = (performance.now() - startedAt) / 1000;
  const convRows = trainRows.filter((r) => r.conv);
  const report = {
    benchmark: "train",
    mode: full ? "full" : "quick",
    date: new Date().toISOString(),
    adapter: gpu.info,
    machine: machineInfo(),
    ceiling,
    /** Which rows ran (--rows). */
    rowKinds,
    replayStates: REPLAY,
    /** The conv rows' network and replay buffer. */
    conv: { spec: CONV_SPEC, replayStates: CONV_REPLAY },
    /** Untimed runs per variant, then timed runs (interleaved across the variants of a configuration). */
    gpuRepeat: gpuRepeatOptions,
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
    target: targets?.target,
    fusedTargets: targets?.fusedTargets,
    seconds: { trainer: trainerSeconds, total: seconds },
  };
  const g = convGeometry(CONV_SPEC.conv!);
  writeReport(
    args.out,
    `train-${slug}`,
    report,
    [
      `# Trainer benchmark on ${gpu.info.adapter} (${report.mode})`,
      "",
      `${report.date}; ${report.machine.cpu}, ${report.machine.cores} cores; GEMM ceiling ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.m}×${ceiling.n}×${ceiling.k}).`,
      '"trainer": `train(K)` on an uploaded batch. "soft Q fit": `fitSoftQ` — sampling from a replay buffer, target networks and soft-Bellman targets included. The MLP rows ("2×W"): CartPole shapes (4 inputs, 2 actions), a 50k-row replay buffer.',
      "",
      `Each on both paths, in the same run: "fused" (createMlpTrainer and createSoftQFit with \`path: "fused"\`: whole gradient steps per dispatch) and "multi-dispatch" (one dispatch per piece). Every timed run is K gradient steps and one readback (K: ${trainRows.map((r) => `${r.steps} at ${label(r)}`).join(", ")}; about ${RUN_SECONDS} s of the fused soft Q fit, of the multi-dispatch one where the fused path does not run); each variant has ${gpuRepeatOptions.warmup} untimed runs of that K first (the readbacks' duration estimates), then their timed runs alternate; medians of ${gpuRepeatOptions.minRuns} or more. "fused ÷ multi-dispatch": the soft Q fit's steps/s ratio (the trainer's is in the JSON). The ms/step, GFLOP/s, % of the ceiling and ratio to the float64 CPU reference ("× CPU") are the fused soft Q fit's.`,
      "",
      "\"PyTorch CPU\": the same step in PyTorch on the CPU (bench/pytorch_train.py: per member an nn.Linear MLP and a target copy, MSE against r + γ(1 − done)·mean of the targets' Q(s', a'), Adam lr 1e-4, a fixed random batch). \"GPU ÷ PyTorch\": the fused soft Q fit's steps/s over PyTorch steps/s (both evaluate target networks; the JSON also has the fused trainer's ratio and the multi-dispatch ones).",
      "",
      ...(convRows.length
        ? [
            `"conv+${CONV_SPEC.hidden[0]}" rows: the StaQ paper's MinAtar network for Breakout — a ${g.height}×${g.width}×${g.channels} image, Conv2d(${g.channels}→${g.filters}, ${g.kernelHeight}×${g.kernelWidth}) + ReLU, flatten (${g.filters * g.positions}), ${CONV_SPEC.hidden.join("×")} + ReLU, ${CONV_SPEC.outputs} actions — with a ${CONV_REPLAY}-row replay buffer. The fused kernel covers MLPs only, so their fused columns are "n/a" and their ms/step, GFLOP/s, "× CPU" and "GPU ÷ PyTorch" are the multi-dispatch path's. GFLOP/s count the conv's multiply-adds at every one of its ${g.positions} output positions (${layerMacs(CONV_SPEC)[0]} of the ${forwardMacs(CONV_SPEC)} per state's forward pass). The CPU reference runs ${CONV_CPU_STEPS} steps. PyTorch: per member nn.Conv2d + nn.Linear layers, the state read as view(B, ${g.height}, ${g.width}, ${g.channels}).permute(0, 3, 1, 2), flatten(1), and the same step.`,
            "",
          ]
        : []),
      "JSON: each row of `training` has `paths.fused` and `paths.multiDispatch` (trainer and soft Q fit); its `trainer`, `softQFit`, `speedup`, `pytorchSpeedup` and `trainerOverPytorch` are the fused path's (their `path` says so; before both paths were measured they were the trainer's default path's), `fusedOverMultiDispatch` and `multiDispatchOverPytorch` the ratios, `steps` the K of its timed runs.",
      "",
      trainTable(trainRows, pytorch),
      "",
      pytorchLine,
      "",
      ...(trainRows.some((r) => r.profile)
        ? [
            `Where the device time of a multi-dispatch soft Q fit step goes: one run of ${PROFILE_STEPS} steps (K where smaller) with every dispatch in a compute pass of its own between two timestamp queries (bench/dispatch-profiler.ts), summed by dispatch and divided by the steps; "all" is the sum over every dispatch, a little above the step's unsplit time. The JSON's \`profile\` lists every dispatch.`,
            "",
            profileTable(trainRows),
            "",
          ]
        : []),
      ...(precomputeRows.length
        ? [
            "Precompute: the stack's logits of every next state in the replay buffer, then π_k and its entropy (one submit).",
            "",
            precomputeTable(precomputeRows),
            "",
          ]
        : []),
      ...(targets
        ? [
            `Target: ${targets.target.what}: ${targets.target.measured.toFixed(0)} — ${targets.target.met ? "met" : "not met"}.`,
            "",
            `Targets at ${targets.fusedTargets.config}: ${describeRatio(targets.fusedTargets.overMultiDispatch)}; ${describeRatio(targets.fusedTargets.overPytorch)}.`,
            "",
          ]
        : []),
    ].join("\n"),
    seconds,
  );
  gpu.destroy();
  // Last, so that they end the output: the targets, met or not (the exit status does not depend on them).
  if (targetLines.length) console.log(`\n${targetLines.join("\n")}`);
}

/** The issue's targets, from the MLP rows: the 2×64 E = 1 soft Q fit's steps/s, and the fused path's ratios at FUSED_TARGETS.config. */
function describeTargets(trainRows: TrainRow[], pytorch: PytorchOutcome) {
  const headline = trainRows.find((r) => !r.conv && r.width === 64 && r.ensemble === 1)!;
  const target = {
    what: `${headline.softQFit.path} soft Q fit steps/s, 2×64, batch 64, E = 1 (≥ ${TARGET_STEPS_PER_SECOND} on lavapipe)`,
    measured: headline.softQFit.stepsPerSecond,
    met: headline.softQFit.stepsPerSecond >= TARGET_STEPS_PER_SECOND,
  };
  const fusedRow = trainRows.find((r) => sameConfig(r, FUSED_TARGETS.config))!;
  const fusedTargets = {
    config: label(fusedRow),
    overMultiDispatch: ratioTarget(
      "fused ÷ multi-dispatch soft Q fit steps/s",
      FUSED_TARGETS.overMultiDispatch,
      fusedRow.fusedOverMultiDispatch?.softQFit ?? null,
      `the fused path cannot run: ${fusedRow.fusedWhyNot}`,
    ),
    overPytorch: ratioTarget(
      "fused soft Q fit ÷ PyTorch CPU steps/s",
      FUSED_TARGETS.overPytorch,
      fusedRow.paths.fused && fusedRow.pytorchSpeedup !== null ? fusedRow.pytorchSpeedup : null,
      fusedRow.paths.fused
        ? `PyTorch CPU: ${pytorch.ok ? "no result" : pytorch.cell}`
        : `the fused path cannot run: ${fusedRow.fusedWhyNot}`,
    ),
  };
  const lines = [
    `target: ${target.what}: ${target.measured.toFixed(0)} — ${target.met ? "met" : "NOT met"}`,
    `targets at ${fusedTargets.config}: ${describeRatio(fusedTargets.overMultiDispatch)}; ${describeRatio(fusedTargets.overPytorch)}`,
  ];
  return { target, fusedTargets, lines };
}

await main();
