/**
 * Precompute benchmark: what one StaQ iteration pays to bring π_k(·|s') of every next state in the
 * replay buffer up to the stack after a push, the old way and the new way (docs/algorithm.md,
 * “Incremental logits”; src/train/replay-sums.ts).
 *
 * A 50k-row replay buffer (full, so adds overwrite the oldest rows) gets 5000 new rows per
 * iteration; stacks of M = 10, 30, 100, 300 snapshots (the ring full before any timing, so every
 * push drops the oldest) of E = 2 members, 2×64 and 2×256 networks with CartPole's shapes:
 *   full         add the rows, push, `precomputePolicy(stack, { full: true })`: the whole stack on
 *                every row, O(M). Timed: the precompute.
 *   incremental  `followPush(stack, τ, push)` (2E snapshot evaluations per row), then add the rows
 *                with `nextLogits`: the acting logits of their next states (a real stack evaluation,
 *                untimed: acting computes them anyway), except the rollout's last step (one row per
 *                env) and episode ends (EPISODE_END_SHARE of the rows), which `precomputePolicy(stack)`
 *                evaluates through the whole stack. Timed: followPush + precompute, also reported apart.
 * Pushes copy snapshots on the GPU (`pushFromBuffer`, as the agent's pushSnapshot does). Each
 * measurement waits for the GPU (`gpu.idle()`). A phase warms up once (pipelines compile on their
 * first use), then takes the median of up to MAX_RUNS runs within a time budget; runs that take
 * many seconds (the 2×256 full recompute at large M: minutes on lavapipe) get a single run and no
 * separate warm-up once a smaller M of the same network compiled the pipelines — the output says so.
 * Outside --quick, incremental phases always take MIN_RUNS runs (at M = 300 on 2×256 each spends
 * about a minute and a half on lavapipe in the untimed acting evaluation).
 * After each incremental phase, sampled rows' logits are checked against a direct stack evaluation.
 *
 * Prints a table and the targets (incremental at M = 300 within 1.5× of M = 10; at M = 300
 * incremental ≥ 20× faster than full), then writes DIR/precompute-<adapter>.json and .md.
 *
 *   npx tsx bench/precompute.ts            (everything; over half an hour on lavapipe)
 *   npx tsx bench/precompute.ts --quick    (skips the 2×256 full recompute at M ≥ 100)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGpu } from "../src/node/create-gpu.ts";
import { BufferUsage } from "../src/gpu/constants.ts";
import { createBuffer } from "../src/gpu/buffers.ts";
import type { Gpu } from "../src/gpu/gpu.ts";
import type { MlpSpec } from "../src/stack/mlp.ts";
import { packSnapshot, snapshotLayout } from "../src/stack/layout.ts";
import { createStack } from "../src/stack/stack.ts";
import { encodeStackLogits, stackLogits } from "../src/stack/stack-logits.ts";
import { initialQNetworks } from "../src/train/initialisation.ts";
import { createReplayBuffer, type ReplayBuffer } from "../src/train/replay-buffer.ts";
import { summarize, type Summary } from "./measure.ts";
import { parseProgramArgs, positiveIntegerList, positiveIntegerOption, prepareOutputFolder } from "./arguments.ts";
import { adapterSlug, commonBenchOptions, formatMs, fullMode, machineInfo, markdownTable, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

const INPUTS = 4;
const ACTIONS = 2;
const ENSEMBLE = 2;
const TAU = 1;
const DEFAULT_ROWS = 50_000;
const DEFAULT_MEMORIES = [10, 30, 100, 300];
const DEFAULT_WIDTHS = [64, 256];
/** Vector envs of the rollout: its last step's next states were never acted on (rows = −1). */
const ENVS = 8;
/** Share of the new rows that end an episode: their next state is the final observation, never acted on (rows = −1). */
const EPISODE_END_SHARE = 0.01;
/** In --quick, the 2×256 full recompute is skipped from this M on (it takes minutes on lavapipe). */
const QUICK_SKIP = { width: 256, fromMemory: 100 };
/** Seconds a phase may spend repeating runs (see repeatPhase). */
const PHASE_BUDGET_DEFAULT_S = 60;
const PHASE_BUDGET_QUICK_S = 20;
/** A run predicted to take longer than this gets no separate warm-up once the network's pipelines are compiled. */
const LONG_RUN_MS = 10_000;
const MIN_RUNS = 3;
const MAX_RUNS = 9;
/** After MIN_RUNS, more runs (up to MAX_RUNS) only while a phase has run less than this. */
const MIN_PHASE_MS = 2_000;
/** While a run lasts, a line every this many milliseconds (a 2×256 full recompute at M = 300 is silent for minutes otherwise). */
const HEARTBEAT_MS = 60_000;
/** Rows whose logits are compared with a direct stack evaluation after each incremental phase. */
const CHECK_ROWS = 64;
/** Largest |replay logit − direct evaluation| accepted, relative to max(1, largest |logit|). */
const CHECK_TOLERANCE = 1e-3;
/** The targets of the issue. */
const TARGET_SCALING = 1.5;
const TARGET_SPEEDUP = 20;

const USAGE = `Usage: npx tsx bench/precompute.ts [--quick | --full] [--out DIR] [--fast] [--memories LIST] [--widths LIST] [--rows N] [--new-rows N]
The per-iteration precompute of π_k(·|s') on every next state of a ${DEFAULT_ROWS / 1000}k-row replay buffer with
${DEFAULT_ROWS / 10000}k new rows per iteration, stacks of M = ${DEFAULT_MEMORIES.join(", ")} snapshots × E = ${ENSEMBLE}, 2×64 and 2×256 networks
(CartPole: ${INPUTS} inputs, ${ACTIONS} actions):
  full         precomputePolicy(stack, { full: true }) after each push: the whole stack on every row, O(M)
  incremental  followPush (2E snapshot evaluations per row) + precomputePolicy(stack), which copies the
               acting logits of the new rows' next states and evaluates the stack only on the rest
               (the last step of ${ENVS} envs and ${100 * EPISODE_END_SHARE}% episode ends), O(1) in M
Prints full ms, incremental ms (followPush + precompute), their ratio and the targets: incremental at
M = 300 within ${TARGET_SCALING}× of M = 10, and at M = 300 incremental ≥ ${TARGET_SPEEDUP}× faster than full.
Writes DIR/precompute-<adapter>.json and .md.
  (default)  every cell; over half an hour on lavapipe (the 2×256 full recompute at M = 300 alone
             takes minutes; such runs are timed once; incremental cells always get ${MIN_RUNS} runs)
  --full     the same as the default
  --quick    skips the 2×256 full recompute at M ≥ ${QUICK_SKIP.fromMemory} (its incremental cells start from
             restored sums instead of a full recompute) and spends less time repeating runs
             (${PHASE_BUDGET_QUICK_S} s a phase instead of ${PHASE_BUDGET_DEFAULT_S} s; long incremental cells may get 1 run)
  --out DIR  where the results go (default bench/results)
  --fast     Dawn's robustness off (see GpuOptions.fast)
Narrowing the run (smoke tests; the targets need M = 10 and 300):
  --memories LIST  Ms, comma-separated (default ${DEFAULT_MEMORIES.join(",")})
  --widths LIST    hidden widths of the 2-layer networks (default ${DEFAULT_WIDTHS.join(",")})
  --rows N         replay buffer rows (default ${DEFAULT_ROWS})
  --new-rows N     rows added per iteration (default rows / 10)`;

const { values: args } = parseProgramArgs(
  {
    options: {
      ...commonBenchOptions(join(here, "results")),
      fast: { type: "boolean", default: false },
      memories: { type: "string", default: DEFAULT_MEMORIES.join(",") },
      widths: { type: "string", default: DEFAULT_WIDTHS.join(",") },
      rows: { type: "string", default: String(DEFAULT_ROWS) },
      "new-rows": { type: "string" },
    },
  },
  USAGE,
);

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const full = fullMode(args);
const quick = args.quick === true;

const MEMORIES = positiveIntegerList(args.memories, "--memories");
const WIDTHS = positiveIntegerList(args.widths, "--widths");
const ROWS = positiveIntegerOption(args.rows, "--rows");
const NEW_ROWS =
  args["new-rows"] === undefined ? Math.max(1, Math.round(ROWS / 10)) : positiveIntegerOption(args["new-rows"], "--new-rows");
if (NEW_ROWS > ROWS || NEW_ROWS <= ENVS) {
  // Without --new-rows the fault is --rows, whose tenth is the default: say so rather than blame
  // a flag that was never given.
  console.error(
    args["new-rows"] === undefined
      ? `--rows ${ROWS} leaves ${NEW_ROWS} new rows per iteration (rows / 10), which must be more than ${ENVS} (the envs' last steps): give --rows ${10 * (ENVS + 1)} or more, or --new-rows N with ${ENVS} < N <= ${ROWS}`
      : `--new-rows must be in (${ENVS}, --rows = ${ROWS}]; got ${NEW_ROWS}`,
  );
  process.exit(2);
}
// Made and tried now: a folder that cannot take the results would otherwise fail after the run.
await prepareOutputFolder(args.out);
const narrowed =
  MEMORIES.join() !== DEFAULT_MEMORIES.join() || WIDTHS.join() !== DEFAULT_WIDTHS.join() || ROWS !== DEFAULT_ROWS || NEW_ROWS !== ROWS / 10;
/**
 * Outside --quick, incremental phases take MIN_RUNS runs whatever they cost: the targets are about
 * them, and their runs are long only through the untimed acting evaluation (O(M)).
 */
const INCREMENTAL_AT_LEAST_MIN_RUNS = !quick;
/** A phase stops repeating when another run would take it past this. */
const PHASE_BUDGET_MS = 1000 * (quick ? PHASE_BUDGET_QUICK_S : PHASE_BUDGET_DEFAULT_S);

/** The new rows' transitions (j) whose next state has no acting logits: episode ends spread out, then the last step's rows. */
function unactedRows(count: number): number[] {
  const episodeEnds = Math.round(EPISODE_END_SHARE * count);
  const spread = count - ENVS;
  const rows = Array.from({ length: episodeEnds }, (_, k) => Math.floor(((k + 0.5) * spread) / episodeEnds));
  for (let i = 0; i < ENVS; i++) rows.push(count - ENVS + i);
  return [...new Set(rows)];
}
const UNACTED = unactedRows(NEW_ROWS);

const specOf = (width: number): MlpSpec => ({ inputs: INPUTS, hidden: [width, width], outputs: ACTIONS });
const network = (width: number) => `2×${width}`;

const started = performance.now();
function log(line: string): void {
  const seconds = Math.round((performance.now() - started) / 1000);
  const stamp = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  console.log(`[${stamp.padStart(6)}] ${line}`);
}

/** Runs `work`, printing a line every HEARTBEAT_MS while it has not finished. */
async function alive<T>(what: string, work: () => Promise<T>): Promise<T> {
  const begun = performance.now();
  const timer = setInterval(() => log(`  … ${what}: still running (${Math.round((performance.now() - begun) / 1000)} s)`), HEARTBEAT_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Deterministic pseudo-random numbers in [0, 1) (the timings do not depend on the values). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}
const random = lcg(12345);

interface Batch {
  obs: Float32Array;
  nextObs: Float32Array;
  actions: number[];
  rewards: number[];
  terminated: boolean[];
}
function randomBatch(count: number): Batch {
  return {
    obs: Float32Array.from({ length: count * INPUTS }, () => 4 * random() - 2),
    nextObs: Float32Array.from({ length: count * INPUTS }, () => 4 * random() - 2),
    actions: Array.from({ length: count }, () => (random() < 0.5 ? 0 : 1)),
    rewards: new Array<number>(count).fill(1),
    terminated: Array.from({ length: count }, () => random() < 0.02),
  };
}

/** The replay buffer and a CPU copy of its next states (for the check). */
class Replay {
  readonly buffer: ReplayBuffer;
  readonly nextObs = new Float32Array(ROWS * INPUTS);

  constructor(gpu: Gpu) {
    this.buffer = createReplayBuffer(gpu, { capacity: ROWS, inputs: INPUTS, actions: ACTIONS, label: "bench replay" });
    this.add(randomBatch(ROWS));
  }

  /** Adds `batch`; returns the ring rows it went to. */
  add(batch: Batch, nextLogits?: Parameters<ReplayBuffer["add"]>[1]): number[] {
    const first = this.buffer.next;
    const count = batch.actions.length;
    this.buffer.add(batch, nextLogits);
    const rows = Array.from({ length: count }, (_, j) => (first + j) % ROWS);
    rows.forEach((row, j) => this.nextObs.set(batch.nextObs.subarray(j * INPUTS, (j + 1) * INPUTS), row * INPUTS));
    return rows;
  }
}

/** E packed random snapshots per set, SOURCE_SETS sets, for `pushFromBuffer`; pushes cycle through them. */
const SOURCE_SETS = 4;
function snapshotSource(gpu: Gpu, spec: MlpSpec): { buffer: GPUBuffer; setBytes: number } {
  const layout = snapshotLayout(spec);
  const floats = layout.vec4s * 4;
  const packed = new Float32Array(SOURCE_SETS * ENSEMBLE * floats);
  const next = lcg(spec.hidden[0]);
  for (let set = 0; set < SOURCE_SETS; set++) {
    initialQNetworks(spec, ENSEMBLE, 1 + set * ENSEMBLE).forEach((w, e) => {
      // Random heads: the initialisation's small heads would make every policy near-uniform.
      w.layers.at(-1)!.weight.forEach((_, k, a) => (a[k] = next() - 0.5));
      packed.set(packSnapshot(layout, w), (set * ENSEMBLE + e) * floats);
    });
  }
  const buffer = createBuffer(gpu, packed.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "bench snapshots");
  gpu.writeBuffer(buffer, 0, packed);
  return { buffer, setBytes: ENSEMBLE * floats * 4 };
}

interface Timing {
  /** Each run's timed milliseconds (its parts, when it has several). */
  parts: Record<string, number>;
  /** The run's wall time, untimed work included (what the budget counts). */
  wallMs: number;
}

interface Phase {
  runs: Timing[];
  warmup: boolean;
}

/**
 * Runs `run` once to warm up (unless `skipWarmup`), then repeats it: at least once (MIN_RUNS times
 * with `atLeastMinRuns`), at most MAX_RUNS times, and otherwise not when another run of the last
 * one's length would take the phase past PHASE_BUDGET_MS.
 */
async function repeatPhase(what: string, run: () => Promise<Timing>, skipWarmup: boolean, atLeastMinRuns: boolean): Promise<Phase> {
  if (!skipWarmup) await alive(`${what} warm-up`, run);
  const runs: Timing[] = [];
  let total = 0;
  for (;;) {
    const timing = await alive(`${what} run ${runs.length + 1}`, run);
    runs.push(timing);
    total += timing.wallMs;
    if (timing.wallMs >= 5_000) log(`  ${what} run ${runs.length}: ${describeParts(timing.parts)}`);
    if (runs.length >= MAX_RUNS) break;
    if (total + timing.wallMs > PHASE_BUDGET_MS && !(atLeastMinRuns && runs.length < MIN_RUNS)) break;
    if (runs.length >= MIN_RUNS && total >= MIN_PHASE_MS) break;
  }
  return { runs, warmup: !skipWarmup };
}

const describeParts = (parts: Record<string, number>) =>
  Object.entries(parts)
    .map(([name, ms]) => `${name} ${formatMs(ms)} ms`)
    .join(", ");

async function timed(work: () => Promise<void>, gpu: Gpu): Promise<number> {
  const begun = performance.now();
  await work();
  await gpu.idle();
  return performance.now() - begun;
}

interface Check {
  rows: number;
  maxAbsDiff: number;
  largestLogit: number;
  ok: boolean;
  /** Rows the check drew from: all stored rows, or (sums seeded by a restore) those added since. */
  from: "all rows" | "rows added in the phase";
}

interface Cell {
  network: string;
  width: number;
  memory: number;
  full: { ms: Summary; warmup: boolean } | { skipped: string };
  incremental: {
    /** followPush + precompute of each iteration. */
    ms: Summary;
    followPushMs: Summary;
    precomputeMs: Summary;
    warmup: boolean;
    /** True when the sums started from a restore (values not the stack's) instead of a full recompute. */
    seeded: boolean;
  };
  /** Full over incremental (medians). */
  ratio: number | null;
  check: Check;
}

/** Per network: what the previous M's phases took per run (wall time), to predict this M's. */
interface History {
  fullWallMs?: { memory: number; ms: number };
  incrementalWallMs?: { memory: number; ms: number };
}

const predict = (past: { memory: number; ms: number } | undefined, memory: number) =>
  past === undefined ? undefined : (past.ms * memory) / past.memory;
const medianWall = (phase: Phase) => summarize(phase.runs.map((r) => r.wallMs)).median;

async function measureCell(
  gpu: Gpu,
  replay: Replay,
  width: number,
  memory: number,
  source: { buffer: GPUBuffer; setBytes: number },
  history: History,
  acting: { states: GPUBuffer; logits: GPUBuffer },
): Promise<Cell> {
  const spec = specOf(width);
  const stack = createStack(gpu, { mlp: spec, memory, ensemble: ENSEMBLE, tau: TAU, label: `bench stack 2×${width} M${memory}` });
  let pushes = 0;
  const push = () => stack.pushFromBuffer(source.buffer, { tau: TAU, sourceOffset: (pushes++ % SOURCE_SETS) * source.setBytes });
  for (let i = 0; i < memory; i++) push();
  await gpu.idle();
  if (stack.size !== memory || stack.nextPush().leaving === undefined) throw new Error("the stack's ring should be full before timing");
  const name = `${network(width)} M=${memory}`;

  // Full: add, push, then the full recompute (timed).
  let fullResult: Cell["full"];
  const skipFull = quick && width >= QUICK_SKIP.width && memory >= QUICK_SKIP.fromMemory;
  if (skipFull) {
    fullResult = { skipped: "--quick" };
    log(`${name} full recompute: skipped (--quick)`);
  } else {
    const predicted = predict(history.fullWallMs, memory);
    const skipWarmup = predicted !== undefined && predicted > LONG_RUN_MS;
    log(
      `${name} full recompute${predicted === undefined ? "" : ` (about ${formatSeconds(predicted)} a run)`}: ${skipWarmup ? "no separate warm-up (pipelines compiled at a smaller M)" : "warm-up"} + up to ${MAX_RUNS} runs within ${PHASE_BUDGET_MS / 1000} s`,
    );
    const phase = await repeatPhase(
      `${name} full`,
      async () => {
        const begun = performance.now();
        replay.add(randomBatch(NEW_ROWS));
        push();
        await gpu.idle();
        const precompute = await timed(() => replay.buffer.precomputePolicy(stack, { full: true }), gpu);
        return { parts: { precompute }, wallMs: performance.now() - begun };
      },
      skipWarmup,
      false,
    );
    history.fullWallMs = { memory, ms: medianWall(phase) };
    const ms = summarize(phase.runs.map((r) => r.parts.precompute));
    fullResult = { ms, warmup: phase.warmup };
    log(`${name} full recompute: ${formatMs(ms.median)} ms (${runsText(ms.runs, phase.warmup)})`);
  }

  // Incremental: the sums must be those of this stack. After the full phase they are; without
  // it, a restore makes them so at no cost (their values are not the stack's, which the timings do
  // not depend on; the check then only looks at rows added since).
  const seeded = skipFull;
  let phaseFirstRow = replay.buffer.next;
  if (seeded) {
    const contents = await replay.buffer.read();
    replay.buffer.restore({ ...contents, sums: new Float32Array(ROWS * ACTIONS) }, { stack });
    phaseFirstRow = replay.buffer.next;
  }
  let addedInPhase = 0;
  let lastAdded: number[] = [];
  const predicted = predict(history.incrementalWallMs, memory);
  const skipWarmup = predicted !== undefined && predicted > LONG_RUN_MS;
  log(
    `${name} incremental${predicted === undefined ? "" : ` (about ${formatSeconds(predicted)} a run, acting logits included)`}: ${skipWarmup ? "no separate warm-up (pipelines compiled at a smaller M)" : "warm-up"} + ${INCREMENTAL_AT_LEAST_MIN_RUNS ? `${MIN_RUNS} to ${MAX_RUNS} runs, more only` : `up to ${MAX_RUNS} runs`} within ${PHASE_BUDGET_MS / 1000} s`,
  );
  const nextRows = new Int32Array(NEW_ROWS).map((_, j) => j);
  for (const j of UNACTED) nextRows[j] = -1;
  const phase = await repeatPhase(
    `${name} incremental`,
    async () => {
      const begun = performance.now();
      await gpu.idle();
      const followPush = await timed(() => replay.buffer.followPush(stack, TAU, push), gpu);
      // What acting computed: the stack's logits of the new rows' next states at this version (untimed).
      const batch = randomBatch(NEW_ROWS);
      gpu.writeBuffer(acting.states, 0, batch.nextObs);
      const encoder = gpu.encoder("bench acting logits");
      await encodeStackLogits(stack, encoder, { states: acting.states, logits: acting.logits, batch: NEW_ROWS });
      gpu.submit([encoder.finish()]);
      lastAdded = replay.add(batch, { nextLogits: { buffer: acting.logits, rows: nextRows, stack, version: stack.version } });
      addedInPhase += NEW_ROWS;
      await gpu.idle();
      const precompute = await timed(() => replay.buffer.precomputePolicy(stack), gpu);
      return { parts: { followPush, precompute }, wallMs: performance.now() - begun };
    },
    skipWarmup,
    INCREMENTAL_AT_LEAST_MIN_RUNS,
  );
  history.incrementalWallMs = { memory, ms: medianWall(phase) };
  const incremental = {
    ms: summarize(phase.runs.map((r) => r.parts.followPush + r.parts.precompute)),
    followPushMs: summarize(phase.runs.map((r) => r.parts.followPush)),
    precomputeMs: summarize(phase.runs.map((r) => r.parts.precompute)),
    warmup: phase.warmup,
    seeded,
  };
  log(
    `${name} incremental: ${formatMs(incremental.ms.median)} ms = followPush ${formatMs(incremental.followPushMs.median)} + precompute ${formatMs(incremental.precomputeMs.median)} (${runsText(incremental.ms.runs, phase.warmup)})`,
  );

  // Sampled rows against a direct evaluation: half spread over the rows, half from the last add
  // (copied acting logits and evaluated rows).
  const spreadOver = seeded ? Array.from({ length: Math.min(addedInPhase, ROWS) }, (_, k) => (phaseFirstRow + k) % ROWS) : undefined;
  const half = CHECK_ROWS / 2;
  const spread = Array.from({ length: half }, (_, k) => {
    const index = Math.floor(((k + 0.5) * (spreadOver?.length ?? ROWS)) / half);
    return spreadOver ? spreadOver[index] : index;
  });
  const unacted = [...UNACTED.slice(0, half / 2 - 4), ...UNACTED.slice(-4)].map((j) => lastAdded[j]);
  const acted = Array.from({ length: half - unacted.length }, (_, k) => lastAdded[Math.floor(((k + 0.5) * (NEW_ROWS - ENVS)) / half)]);
  const checkRows = [...new Set([...spread, ...unacted, ...acted])];
  const states = new Float32Array(checkRows.length * INPUTS);
  checkRows.forEach((row, k) => states.set(replay.nextObs.subarray(row * INPUTS, (row + 1) * INPUTS), k * INPUTS));
  const reference = await stackLogits(stack, states);
  const sums = await replay.buffer.readSums(checkRows);
  let maxAbsDiff = 0;
  let largestLogit = 0;
  reference.forEach((value, k) => {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(stack.correction * sums[k] - value));
    largestLogit = Math.max(largestLogit, Math.abs(value));
  });
  const check: Check = {
    rows: checkRows.length,
    maxAbsDiff,
    largestLogit,
    ok: maxAbsDiff <= CHECK_TOLERANCE * Math.max(1, largestLogit),
    from: seeded ? "rows added in the phase" : "all rows",
  };
  if (!check.ok)
    log(`${name}: CHECK FAILED: logits differ from a direct evaluation by up to ${maxAbsDiff} (largest |logit| ${largestLogit})`);
  stack.destroy();
  const ratio = "ms" in fullResult ? fullResult.ms.median / incremental.ms.median : null;
  return { network: network(width), width, memory, full: fullResult, incremental, ratio, check };
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

const runsText = (runs: number, warmup: boolean) => `${runs} run${runs === 1 ? "" : "s"}${warmup ? "" : ", no separate warm-up"}`;

function fullCell(cell: Cell): string {
  if ("skipped" in cell.full) return `skipped (${cell.full.skipped})`;
  return `${formatMs(cell.full.ms.median)} (${runsText(cell.full.ms.runs, cell.full.warmup)})`;
}

function cellTable(cells: Cell[]): string {
  return markdownTable(
    ["network", "M", "full ms", "incremental ms", "followPush ms", "precompute ms", "full / incremental", "check"],
    cells.map((c) => [
      c.network,
      String(c.memory),
      fullCell(c),
      `${formatMs(c.incremental.ms.median)} (${runsText(c.incremental.ms.runs, c.incremental.warmup)}${c.incremental.seeded ? ", sums restored" : ""})`,
      formatMs(c.incremental.followPushMs.median),
      formatMs(c.incremental.precomputeMs.median),
      c.ratio === null ? "—" : `${c.ratio.toFixed(1)}×`,
      `${c.check.ok ? "ok" : "FAILED"} (${c.check.maxAbsDiff.toExponential(1)})`,
    ]),
  );
}

interface Scaling {
  network: string;
  /** Incremental ms at the largest M over the smallest. */
  ratio: number;
  memories: [number, number];
}

interface Target {
  what: string;
  /** Per network: the measured value, or null when not measured. */
  measured: { network: string; value: number | null; met: boolean | null; note?: string }[];
  /** True when every network met it, false when one did not, null when some were not measured. */
  met: boolean | null;
}

function targets(cells: Cell[]): { scaling: Scaling[]; targets: Target[] } {
  const scaling: Scaling[] = [];
  const independence: Target = {
    what: `incremental independent of M: incremental ms at M = 300 ≤ ${TARGET_SCALING} × at M = 10`,
    measured: [],
    met: null,
  };
  const speedup: Target = { what: `at M = 300, incremental ≥ ${TARGET_SPEEDUP}× faster than full`, measured: [], met: null };
  for (const width of WIDTHS) {
    const mine = cells.filter((c) => c.width === width);
    const at = (memory: number) => mine.find((c) => c.memory === memory);
    if (mine.length >= 2) {
      const [low, high] = [mine[0], mine.at(-1)!];
      scaling.push({
        network: network(width),
        ratio: high.incremental.ms.median / low.incremental.ms.median,
        memories: [low.memory, high.memory],
      });
    }
    const [m10, m300] = [at(10), at(300)];
    if (m10 && m300) {
      const value = m300.incremental.ms.median / m10.incremental.ms.median;
      independence.measured.push({ network: network(width), value, met: value <= TARGET_SCALING });
    } else {
      independence.measured.push({ network: network(width), value: null, met: null, note: "M = 10 and 300 not both measured" });
    }
    if (m300 && m300.ratio !== null)
      speedup.measured.push({ network: network(width), value: m300.ratio, met: m300.ratio >= TARGET_SPEEDUP });
    else
      speedup.measured.push({
        network: network(width),
        value: null,
        met: null,
        note: m300 ? "full recompute skipped (--quick)" : "M = 300 not measured",
      });
  }
  for (const target of [independence, speedup]) {
    target.met = target.measured.some((m) => m.met === false) ? false : target.measured.every((m) => m.met === true) ? true : null;
  }
  return { scaling, targets: [independence, speedup] };
}

function targetLines(list: Target[], markdown: boolean): string[] {
  return list.map((t) => {
    const parts = t.measured.map((m) =>
      m.value === null
        ? `${m.network} not measured (${m.note})`
        : `${m.network} ${m.value.toFixed(2)}${t.what.includes("faster") ? "×" : ""} (${m.met ? "met" : "NOT met"})`,
    );
    const verdict = t.met === null ? "not fully measured" : t.met ? "met" : "NOT met";
    return `${markdown ? "- " : ""}target: ${t.what} — ${parts.join("; ")} — ${verdict}`;
  });
}

async function main(): Promise<void> {
  const gpu = await createGpu({ fast: args.fast });
  const mode = quick ? "quick" : "full";
  const evaluated = UNACTED.length;
  const settingsLine =
    `${ROWS} replay rows, ${NEW_ROWS} new per iteration; E = ${ENSEMBLE}; M = ${MEMORIES.join(", ")}; networks ${WIDTHS.map(network).join(", ")} (${INPUTS} inputs, ${ACTIONS} actions); ` +
    `rows without acting logits: ${evaluated} of ${NEW_ROWS} (${((100 * evaluated) / NEW_ROWS).toFixed(2)}%) = the last step of ${ENVS} envs + episode ends (EPISODE_END_SHARE ${100 * EPISODE_END_SHARE}%)`;
  console.log(
    `staq precompute benchmark (${mode}${narrowed ? ", narrowed" : ""}${full ? ", --full" : ""}) on ${gpu.info.adapter}; Dawn robustness ${gpu.info.fast ? "off" : "on"}; node ${process.version}`,
  );
  console.log(settingsLine);
  console.log(
    `Timing: warm-up, then the median of ${MIN_RUNS}–${MAX_RUNS} runs within ${PHASE_BUDGET_MS / 1000} s a phase; runs predicted over ${LONG_RUN_MS / 1000} s skip the separate warm-up once a smaller M compiled the pipelines, and long runs are timed fewer times (1 is possible${INCREMENTAL_AT_LEAST_MIN_RUNS ? `; incremental phases always ${MIN_RUNS}` : ""}): the table gives the counts.`,
  );
  const replay = new Replay(gpu);
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const acting = {
    states: createBuffer(gpu, NEW_ROWS * INPUTS * 4, usage, "bench acting states"),
    logits: createBuffer(gpu, NEW_ROWS * ACTIONS * 4, usage, "bench acting logits"),
  };
  const cells: Cell[] = [];
  for (const width of WIDTHS) {
    const source = snapshotSource(gpu, specOf(width));
    const history: History = {};
    for (const memory of MEMORIES) cells.push(await measureCell(gpu, replay, width, memory, source, history, acting));
    source.buffer.destroy();
  }
  acting.states.destroy();
  acting.logits.destroy();
  replay.buffer.destroy();

  const { scaling, targets: targetList } = targets(cells);
  const scalingLines = scaling.map(
    (s) => `${s.network}: incremental at M = ${s.memories[1]} / at M = ${s.memories[0]}: ${s.ratio.toFixed(2)}`,
  );
  const quickNote = quick
    ? `--quick: the ${network(QUICK_SKIP.width)} full recompute is skipped at M ≥ ${QUICK_SKIP.fromMemory}; there the incremental phase starts from sums set by a restore (same cost, values not the stack's), and the check only samples rows added since.`
    : undefined;
  console.log(`\n${cellTable(cells)}\n`);
  for (const line of scalingLines) console.log(line);
  if (quickNote) console.log(quickNote);
  for (const line of targetLines(targetList, false)) console.log(line);
  const checksOk = cells.every((c) => c.check.ok);
  console.log(`check: sampled logits against a direct stack evaluation: ${checksOk ? "ok in every cell" : "FAILED (see the table)"}`);

  const slug = adapterSlug(gpu.info.adapter);
  const report = {
    benchmark: "precompute",
    mode,
    narrowed,
    date: new Date().toISOString(),
    adapter: gpu.info,
    machine: machineInfo(),
    settings: {
      replayRows: ROWS,
      newRowsPerIteration: NEW_ROWS,
      ensemble: ENSEMBLE,
      inputs: INPUTS,
      actions: ACTIONS,
      tau: TAU,
      memories: MEMORIES,
      widths: WIDTHS,
      envs: ENVS,
      episodeEndShare: EPISODE_END_SHARE,
      rowsWithoutActingLogits: evaluated,
      timing: { minRuns: MIN_RUNS, maxRuns: MAX_RUNS, phaseBudgetMs: PHASE_BUDGET_MS, longRunMs: LONG_RUN_MS, minPhaseMs: MIN_PHASE_MS },
      check: { rows: CHECK_ROWS, tolerance: CHECK_TOLERANCE },
    },
    cells,
    scaling,
    targets: targetList,
    checksOk,
  };
  writeReport(
    args.out,
    `precompute-${slug}`,
    report,
    [
      `# Precompute benchmark on ${gpu.info.adapter} (${mode}${narrowed ? ", narrowed" : ""})`,
      "",
      `${report.date}; ${report.machine.cpu}, ${report.machine.cores} cores. ${settingsLine}.`,
      "",
      '"full": `precomputePolicy(stack, { full: true })` after a push: the whole stack on every row. "incremental": `followPush` around the push (2E snapshot evaluations per row) + `precomputePolicy(stack)` (acting logits copied, the stack evaluated on the other new rows only); its two parts are given apart (each its own median, so they need not add up to the total). Milliseconds per iteration, medians; the run counts say how many runs each median has. "check": the largest |logit − direct stack evaluation| over sampled rows after the incremental phase.',
      "",
      cellTable(cells),
      "",
      ...scalingLines.map((line) => `- ${line}`),
      ...(quickNote ? ["", quickNote] : []),
      "",
      ...targetLines(targetList, true),
      "",
    ].join("\n"),
  );
  gpu.destroy();
}

await main();
