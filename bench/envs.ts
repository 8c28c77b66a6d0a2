/**
 * Environment throughput: env steps per second of every built-in environment — CartPole-v1,
 * Acrobot-v1, MountainCar-v0, LunarLander-v3 and the five MinAtar games (MinAtar/<Game>-v0, full action set) — as a
 * single env and through `createVectorEnv` with N = 1, 16 and 256 copies, next to the upstream Python
 * environment's single-env rate on the same machine. The target: every port at least 5× upstream.
 *
 * How each figure is taken (the same for the port and, in bench/upstream-env-throughput.py, upstream):
 * - the env as the registry makes it (`makeEnv(name)`: classic control with its time limit, MinAtar
 *   without one), seeded once, random actions from a seeded generator drawn before timing (a ring of
 *   65536, so the generator is not measured), and a reset inside the timed loop whenever an episode
 *   ends — a vector env resets its copies itself. Episodes under random actions are short (Breakout's
 *   last about 11 steps), so the reset's cost is part of every figure, as it is upstream's;
 * - steps/s counts env steps: a vector step of N copies is N steps;
 * - each cell runs whole chunks of ~1024 env steps until a round's time is up; the rounds of the four
 *   cells are interleaved (so a change of load on this shared machine hits all four alike);
 * - every env is measured in processes of its own (`--worker`), so that the timing loop and the vector
 *   env see one env class, as a training loop does, rather than V8 inline caches grown megamorphic
 *   over eight classes; and in several such processes, one after another, because a process's speed
 *   is bimodal: in some, glibc hands the memory that each garbage collection frees (the observations'
 *   slabs, see src/envs/array-slabs.ts) back to the system and page-faults it in again, and MinAtar
 *   steps run up to about 2× slower for the whole life of the process. The median over all rounds of all
 *   processes is reported (p10 / p90, every sample and each process's median are in the JSON);
 * - upstream: with `--upstream-src DIR` (or $STAQ_UPSTREAM_SRC) and python3, the upstream envs are
 *   measured now, each right before its port, by bench/upstream-env-throughput.py (see there for what
 *   one upstream step is). Otherwise, or for an env that script cannot import, the figure comes from
 *   the reference file bench/upstream-throughput.json (the column "upstream source" says which).
 * - the Gymnasium bridge (src/envs/gym/): steps/s of one Python env through the bridge at N = 1 and 16
 *   against the same batch stepped in Python alone, both measured now (bench/gym-bridge-throughput.ts:
 *   Gymnasium's CartPole-v1, or the bridge's tiny test env where Gymnasium is not importable); their
 *   ratio is the bridge's cost. `--only gym-bridge` runs just that part.
 * Prints a table as it goes, then writes DIR/envs-<cpu>.json and .md.
 *
 *   npx tsx bench/envs.ts --upstream-src DIR         (--quick: about 75 s on a 2-core machine)
 *   npx tsx bench/envs.ts --full --upstream-src DIR  (more processes and rounds: about 7 minutes)
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { observationSize, type Env } from "../src/envs/env.ts";
import { makeEnv } from "../src/envs/registry.ts";
import { createVectorEnv, type VectorEnv } from "../src/envs/vector-env.ts";
import "../src/envs/minatar/index.ts";
import { createRandomStream } from "../src/random/random-stream.ts";
import { summarize, type Summary } from "./measure.ts";
import { measureGymBridge, type BridgeReport } from "./gym-bridge-throughput.ts";
import { parseProgramArgs, prepareOutputFolder, upstreamSource } from "./arguments.ts";
import { cpuSlug, machineInfo, markdownTable, fullMode, commonBenchOptions, writeReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..");

/** The environments, each with the key of its upstream figure in upstream-throughput.json. */
const ENVS = [
  { name: "CartPole-v1", upstream: { section: "gymnasium", key: "CartPole-v1" } },
  { name: "Acrobot-v1", upstream: { section: "gymnasium", key: "Acrobot-v1" } },
  { name: "MountainCar-v0", upstream: { section: "gymnasium", key: "MountainCar-v0" } },
  { name: "LunarLander-v3", upstream: { section: "gymnasium", key: "LunarLander-v3" } },
  { name: "MinAtar/Breakout-v0", upstream: { section: "minatar", key: "breakout" } },
  { name: "MinAtar/Asterix-v0", upstream: { section: "minatar", key: "asterix" } },
  { name: "MinAtar/Freeway-v0", upstream: { section: "minatar", key: "freeway" } },
  { name: "MinAtar/Seaquest-v0", upstream: { section: "minatar", key: "seaquest" } },
  { name: "MinAtar/SpaceInvaders-v0", upstream: { section: "minatar", key: "space_invaders" } },
] as const;
type EnvName = (typeof ENVS)[number]["name"];
const NAMES: readonly string[] = ENVS.map((e) => e.name);
/** The --only name of the Gymnasium bridge's rows. */
const BRIDGE = "gym-bridge";

const USAGE = `Usage: npx tsx bench/envs.ts [--quick | --full] [--out DIR] [--upstream-src DIR] [--only NAMES]
  --quick             3 worker processes × 1 round of 0.4 s per cell (the default; under 1.5 minutes on 2 cores)
  --full              5 worker processes × 2 rounds of 0.75 s per cell (about 7 minutes)
  --out DIR           where envs-<cpu>.json and .md go (default bench/results)
  --upstream-src DIR  a folder holding upstream's extracted minatar/ and gymnasium/ packages: the upstream
                      envs are then measured now with python3 (bench/upstream-env-throughput.py).
                      Default $STAQ_UPSTREAM_SRC; without it, bench/upstream-throughput.json's figures are used.
  --only NAMES        comma-separated env names (default all: ${NAMES.join(", ")}, ${BRIDGE})
  --worker NAME       (internal) measure one env in this process and print its JSON
Env steps per second, single env and createVectorEnv with N = 1, 16, 256, random actions, auto-reset;
the ratio single/upstream is checked against the target of 5×. ${BRIDGE}: a Python env through the
Gymnasium bridge at N = 1 and 16 against the same batch in Python alone (the bridge's overhead).`;

const { values: args } = parseProgramArgs(
  {
    options: {
      ...commonBenchOptions(join(here, "results")),
      "upstream-src": { type: "string", default: process.env.STAQ_UPSTREAM_SRC },
      only: { type: "string" },
      worker: { type: "string" },
    },
  },
  USAGE,
);

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const full = fullMode(args);

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const SETTINGS = {
  vectorSizes: [1, 16, 256],
  /**
   * Worker processes per env, rounds per cell in each, seconds per round; the first `warmupSeconds`
   * of each cell in each process are not timed (the JIT). Upstream runs processes × rounds rounds.
   */
  timing: full
    ? { processes: 5, rounds: 2, roundSeconds: 0.75, warmupSeconds: 0.4 }
    : { processes: 3, rounds: 1, roundSeconds: 0.4, warmupSeconds: 0.15 },
  /** Env steps between two reads of the clock. */
  chunkSteps: 1024,
  /** Precomputed actions per cell (a power of two); the ring repeats, the envs' states do not. */
  actionRing: 65536,
  seed: 1,
  target: 5,
  /** The Gymnasium bridge's batch sizes. */
  bridgeSizes: [1, 16],
};

const CELLS = ["single", ...SETTINGS.vectorSizes.map((n) => `N=${n}`)] as const;

// ---------------------------------------------------------------------------------------------
// Worker: one env, in its own process
// ---------------------------------------------------------------------------------------------

/** One cell in one worker process. */
interface CellRun {
  /** Steps per second of each round. */
  samples: number[];
  /** Env steps and finished episodes over the timed rounds. */
  steps: number;
  episodes: number;
}

interface WorkerResult {
  name: string;
  observationSize: number;
  actionCount: number;
  cells: Record<string, CellRun>;
}

/** One cell over all processes. */
interface CellResult extends Summary {
  /** Steps per second of every round, process after process. */
  samples: number[];
  /** Each process's median. */
  processMedians: number[];
  /** Env steps per finished episode over the timed rounds (the auto-resets' frequency). */
  meanEpisodeLength: number;
}

/** A cell: runs whole chunks until the deadline (performance.now() ms); returns env steps and finished episodes. */
type Runner = (deadline: number) => { steps: number; episodes: number };

/** `count` actions in [0, actionCount) from a seeded stream, drawn here, before any timing. */
function randomActions(actionCount: number, count: number, seed: number): Int32Array {
  const random = createRandomStream(seed);
  const actions = new Int32Array(count);
  for (let i = 0; i < count; i++) actions[i] = random.integer(actionCount);
  return actions;
}

function singleRunner(env: Env, actions: Int32Array): Runner {
  const mask = actions.length - 1;
  const chunk = SETTINGS.chunkSteps;
  let cursor = 0;
  env.reset({ seed: SETTINGS.seed });
  return (deadline) => {
    let steps = 0;
    let episodes = 0;
    do {
      for (let k = 0; k < chunk; k++) {
        const result = env.step(actions[cursor++ & mask]);
        if (result.terminated || result.truncated) {
          env.reset();
          episodes++;
        }
      }
      steps += chunk;
    } while (performance.now() < deadline);
    return { steps, episodes };
  };
}

function vectorRunner(vector: VectorEnv, actions: Int32Array): Runner {
  const n = vector.count;
  // The ring as n-action batches, viewed once here so that the loop passes ready arrays.
  const batchCount = actions.length / n >= 1 ? 2 ** Math.floor(Math.log2(actions.length / n)) : 1;
  const batches = Array.from({ length: batchCount }, (_, b) => actions.subarray(b * n, (b + 1) * n));
  const mask = batchCount - 1;
  const chunk = Math.max(1, Math.round(SETTINGS.chunkSteps / n));
  let cursor = 0;
  vector.reset({ seed: SETTINGS.seed });
  return (deadline) => {
    let vectorSteps = 0;
    let episodes = 0;
    do {
      for (let k = 0; k < chunk; k++) {
        const result = vector.step(batches[cursor++ & mask]);
        for (let i = 0; i < n; i++) if (result.finalObs[i] !== null) episodes++;
      }
      vectorSteps += chunk;
    } while (performance.now() < deadline);
    return { steps: vectorSteps * n, episodes };
  };
}

function measureEnv(name: string): WorkerResult {
  const probe = makeEnv(name);
  const actions = randomActions(probe.actionCount, SETTINGS.actionRing, SETTINGS.seed);
  const runners: Runner[] = [
    singleRunner(probe, actions),
    ...SETTINGS.vectorSizes.map((n) =>
      vectorRunner(
        createVectorEnv(() => makeEnv(name), n),
        actions,
      ),
    ),
  ];
  const { rounds, roundSeconds, warmupSeconds } = SETTINGS.timing;
  for (const run of runners) run(performance.now() + warmupSeconds * 1000);
  const samples = runners.map((): number[] => []);
  const totals = runners.map(() => ({ steps: 0, episodes: 0 }));
  for (let r = 0; r < rounds; r++) {
    runners.forEach((run, c) => {
      const started = performance.now();
      const { steps, episodes } = run(started + roundSeconds * 1000);
      samples[c].push(steps / ((performance.now() - started) / 1000));
      totals[c].steps += steps;
      totals[c].episodes += episodes;
    });
  }
  const cells: Record<string, CellRun> = {};
  CELLS.forEach((cell, c) => {
    cells[cell] = { samples: samples[c], ...totals[c] };
  });
  return { name, observationSize: observationSize(probe), actionCount: probe.actionCount, cells };
}

if (args.worker !== undefined) {
  if (!NAMES.includes(args.worker)) {
    console.error(`--worker needs one of ${NAMES.join(", ")}; got ${JSON.stringify(args.worker)}`);
    process.exit(2);
  }
  console.log(JSON.stringify(measureEnv(args.worker)));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Upstream figures
// ---------------------------------------------------------------------------------------------

interface UpstreamReport {
  what: string;
  machine: string;
  date: string;
  gymnasium: Record<string, number | string>;
  minatar: Record<string, number | string>;
  samples?: Record<string, number[]>;
  unavailable?: Record<string, string>;
}

interface UpstreamFigure {
  stepsPerSecond: number | null;
  source: "measured now" | "upstream-throughput.json" | "none";
  /** Each round's steps/s when measured now. */
  samples?: number[];
  /** Why it was not measured now, when it was not. */
  note?: string;
}

/**
 * upstream-throughput.json beside this file: bench/ in the repository, and bench/ in a bundle too
 * (scripts/bundle.ts copies it next to envs.mjs).
 */
function referenceFile(): string | undefined {
  const file = join(here, "upstream-throughput.json");
  return existsSync(file) ? file : undefined;
}

function readReference(): { file?: string; report?: UpstreamReport } {
  const file = referenceFile();
  if (!file) return {};
  return { file, report: JSON.parse(readFileSync(file, "utf8")) as UpstreamReport };
}

/** Whether upstream can be measured now, and if not, why. */
function upstreamPlan(): { src?: string; why: string } {
  const src = args["upstream-src"];
  // An empty $STAQ_UPSTREAM_SRC is the usual way of unsetting it; an empty --upstream-src= is a mistake.
  const flagGiven = process.argv.slice(2).some((arg) => arg === "--upstream-src" || arg.startsWith("--upstream-src="));
  if (!flagGiven && !src) return { why: "no --upstream-src given" };
  const folder = upstreamSource(src ?? "", flagGiven ? "--upstream-src" : "$STAQ_UPSTREAM_SRC");
  const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
  if (python.status !== 0) return { why: "python3 is not available" };
  return { src: resolve(folder), why: "" };
}

/** Two of the script's reports (one env each) as one, in the shape of upstream-throughput.json. */
function mergeUpstream(sofar: UpstreamReport | undefined, next: UpstreamReport): UpstreamReport {
  if (!sofar) return next;
  return {
    ...sofar,
    gymnasium: { ...sofar.gymnasium, ...next.gymnasium },
    minatar: { ...sofar.minatar, ...next.minatar },
    samples: { ...sofar.samples, ...next.samples },
    unavailable: { ...sofar.unavailable, ...next.unavailable },
  };
}

/** Runs bench/upstream-env-throughput.py for one env; its figure, or the reason it has none. */
function measureUpstream(
  src: string,
  entry: (typeof ENVS)[number],
): { figure?: number; samples?: number[]; report?: UpstreamReport; error?: string } {
  const { processes, rounds, roundSeconds } = SETTINGS.timing;
  const script = join(here, "upstream-env-throughput.py");
  const child = spawnSync(
    "python3",
    [
      script,
      "--src",
      src,
      "--seconds",
      String(roundSeconds),
      "--rounds",
      String(processes * rounds),
      "--seed",
      String(SETTINGS.seed),
      "--only",
      entry.name,
    ],
    { encoding: "utf8" },
  );
  if (child.status !== 0)
    return { error: `upstream-env-throughput.py failed: ${(child.stderr || child.stdout).trim().split("\n").slice(-1)[0]}` };
  const report = JSON.parse(child.stdout) as UpstreamReport;
  const figure = report[entry.upstream.section][entry.upstream.key];
  if (typeof figure !== "number") return { report, error: report.unavailable?.[entry.name] ?? "no figure in its output" };
  return { figure, samples: report.samples?.[entry.name], report };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

interface Row {
  env: EnvName;
  observationSize: number;
  actionCount: number;
  cells: Record<string, CellResult>;
  upstream: UpstreamFigure;
  /** Port single-env median over upstream's single-env rate. */
  ratio: number | null;
  meetsTarget: boolean | null;
}

const HEADER = [
  "env",
  "single steps/s",
  ...SETTINGS.vectorSizes.map((n) => `N=${n}`),
  "upstream single",
  "upstream source",
  "ratio single/upstream",
  `meets ${SETTINGS.target}×`,
];

/** Steps per second with three significant digits: 3.88M, 421k, 35.1k. */
function formatRate(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return "—";
  if (rate >= 1e6) return `${(rate / 1e6).toPrecision(3)}M`;
  if (rate >= 1e3) return `${(rate / 1e3).toPrecision(3)}k`;
  return rate.toPrecision(3);
}

function formatRow(row: Row): string[] {
  return [
    row.env,
    ...CELLS.map((cell) => formatRate(row.cells[cell].median)),
    formatRate(row.upstream.stepsPerSecond),
    row.upstream.source,
    row.ratio === null ? "—" : `${row.ratio.toFixed(1)}×`,
    row.meetsTarget === null ? "—" : row.meetsTarget ? "yes" : "NO",
  ];
}

function findings(rows: Row[]): string[] {
  const lines: string[] = [];
  const compared = rows.filter((r) => r.ratio !== null);
  const missing = compared.filter((r) => !r.meetsTarget);
  if (compared.length > 0) {
    const lowest = compared.reduce((a, b) => (b.ratio! < a.ratio! ? b : a));
    lines.push(
      missing.length === 0
        ? `Every port compared (${compared.length} of ${rows.length}) runs at least ${SETTINGS.target}× its upstream single-env rate; the lowest ratio is ${lowest.ratio!.toFixed(1)}× (${lowest.env}).`
        : `Below ${SETTINGS.target}× upstream: ${missing.map((r) => `${r.env} (${r.ratio!.toFixed(1)}×)`).join(", ")}.`,
    );
  }
  const sources = new Set(rows.map((r) => r.upstream.source));
  lines.push(`Upstream figures: ${[...sources].map((s) => `${s} for ${rows.filter((r) => r.upstream.source === s).length}`).join(", ")}.`);
  const largest = `N=${SETTINGS.vectorSizes[SETTINGS.vectorSizes.length - 1]}`;
  const vectorShare = rows.map((r) => `${r.env} ${(r.cells[largest].median / r.cells.single.median).toFixed(2)}`);
  lines.push(`Vector env at ${largest}, as a fraction of the single env's rate: ${vectorShare.join(", ")}.`);
  return lines;
}

/** "3 processes × 1 round of 0.4 s". */
function timingText(): string {
  const { processes, rounds, roundSeconds } = SETTINGS.timing;
  return `${processes} processes × ${rounds} round${rounds === 1 ? "" : "s"} of ${roundSeconds} s`;
}

function markdownReport(
  machine: ReturnType<typeof machineInfo>,
  rows: Row[],
  seconds: number,
  upstreamNote: string,
  upstreamNow?: UpstreamReport,
): string {
  // Folders by their names only (as in the JSON): the report is committed, and a full path names one machine.
  const command = ["npx tsx bench/envs.ts", ...process.argv.slice(2).map((arg) => (isAbsolute(arg) ? basename(arg) : arg))].join(" ");
  return [
    `# Environment throughput on ${machine.cpu}`,
    "",
    `\`${command}\` (${seconds.toFixed(0)} s); ${machine.cores} cores, ${machine.platform}, node ${machine.node}, ` +
      `load average ${machine.loadAverage.join(" / ")} at the start. Env steps per second, medians of ${timingText()} per cell; ` +
      `random actions (seeded, precomputed), auto-reset included. Target: every port at least ${SETTINGS.target}× the upstream single-env rate.`,
    "",
    ...findings(rows).map((line) => `- ${line}`),
    "",
    markdownTable(HEADER, rows.map(formatRow)),
    "",
    "How to read it:",
    "",
    "- **single**: one env from `makeEnv(name)` (classic control with its time limit; MinAtar full action set, sticky actions, no limit), stepped with `step()`, `reset()` when an episode ends.",
    "- **N=1, 16, 256**: `createVectorEnv(() => makeEnv(name), N)`; steps/s counts env steps (N per vector step). The vector env returns new batched arrays every step and resets copies itself.",
    "- **upstream single**: the upstream Python env, single, same protocol (bench/upstream-env-throughput.py: Gymnasium env + TimeLimit; MinAtar `Environment.act` then `.state()` per step, as its Gymnasium wrapper's step). " +
      "**measured now**: in this run, right before the port; **upstream-throughput.json**: the project's reference figures (measured earlier, possibly on another machine of this kind, so the ratio is less certain).",
    ...(upstreamNote ? [`- Upstream not measured now: ${upstreamNote}.`] : []),
    ...(upstreamNow
      ? [
          `- Upstream measured now with ${upstreamNow.machine}; Gymnasium ${upstreamNow.gymnasium.version ?? ""} commit ${upstreamNow.gymnasium.commit}, MinAtar commit ${upstreamNow.minatar.commit}.`,
        ]
      : []),
    "- Every env runs in processes of its own, so the timing loop sees one env class (as a training loop does), and in several, one after another: " +
      "in some processes glibc returns the memory each garbage collection frees to the system and faults it back in, and MinAtar steps run up to about 2× slower throughout. " +
      "The figures are medians over all processes' rounds; the JSON has each process's median (`processMedians`).",
    "",
  ].join("\n");
}

const BRIDGE_HEADER = ["bridge env", "N", "bridge steps/s", "Python alone steps/s", "bridge / Python"];

function formatBridgeRow(env: string, row: BridgeReport["rows"][number]): string[] {
  return [env, String(row.count), formatRate(row.bridge.median), formatRate(row.python.median), `${row.ratio.toFixed(2)}×`];
}

/** The bridge's section of the Markdown report ("" when --only left it out). */
function bridgeMarkdown(bridge: BridgeReport | null): string {
  if (!bridge) return "";
  const head = `## Gymnasium bridge: ${bridge.env ?? "not measured"}`;
  if (bridge.rows.length === 0) return ["", head, "", `Not measured: ${bridge.note}.`, ""].join("\n");
  return [
    "",
    head,
    "",
    `Env steps per second of \`${bridge.env}\` through the bridge (src/envs/gym/: a ${bridge.python} worker, binary frames over a pipe) and of the same batch stepped in Python alone ` +
      "(`staq_gym_worker.py --bench`: the worker's own batch loop, without the pipe and Node), both measured in this run; " +
      `random actions, auto-reset. The ratio is the bridge's rate over Python's own.${bridge.note ? ` Note: ${bridge.note}.` : ""}`,
    "",
    markdownTable(
      BRIDGE_HEADER,
      bridge.rows.map((row) => formatBridgeRow(bridge.env!, row)),
    ),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** Every worker process's runs of each cell, as one result per cell. */
function combine(runs: WorkerResult[]): Record<string, CellResult> {
  const cells: Record<string, CellResult> = {};
  for (const cell of CELLS) {
    const parts = runs.map((run) => run.cells[cell]);
    const samples = parts.flatMap((part) => part.samples);
    const steps = parts.reduce((sum, part) => sum + part.steps, 0);
    const episodes = parts.reduce((sum, part) => sum + part.episodes, 0);
    cells[cell] = {
      ...summarize(samples),
      samples: samples.map(Math.round),
      processMedians: parts.map((part) => Math.round(summarize(part.samples).median)),
      meanEpisodeLength: +(steps / Math.max(1, episodes)).toFixed(1),
    };
  }
  return cells;
}

function runWorker(name: string): WorkerResult {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--worker", name, ...(full ? ["--full"] : [])],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (child.status !== 0) throw new Error(`the worker for ${name} failed (exit ${child.status})`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as WorkerResult;
}

async function main(): Promise<void> {
  // `--only=` (empty) is a mistake like any unknown name, not "all".
  const wanted = args.only !== undefined ? args.only.split(",") : [...NAMES, BRIDGE];
  const unknown = wanted.filter((name) => !NAMES.includes(name) && name !== BRIDGE);
  if (unknown.length > 0 || wanted.length === 0) {
    console.error(`--only takes a comma-separated list of ${NAMES.join(", ")}, ${BRIDGE}; got ${JSON.stringify(args.only)}`);
    process.exit(2);
  }
  const plan = upstreamPlan();
  // Made and tried now: a folder that cannot take the results would otherwise fail after the run.
  await prepareOutputFolder(args.out);
  const machine = machineInfo();
  const started = Date.now();
  const mode = full ? "full" : "quick";
  const reference = readReference();
  console.log(
    `staq env throughput benchmark (${mode}) on ${machine.cpu} (${machine.cores} cores), node ${machine.node}, load ${machine.loadAverage.join(" / ")}`,
  );
  console.log(
    plan.src
      ? `upstream: measured now from ${plan.src} (python3 bench/upstream-env-throughput.py)`
      : `upstream: ${plan.why}; using ${reference.file ?? "no reference file (upstream-throughput.json not found)"}`,
  );
  console.log(`env steps/s, median of ${timingText()} per cell; random actions, auto-reset\n`);
  console.log(HEADER.join(" | "));

  const rows: Row[] = [];
  let upstreamNow: UpstreamReport | undefined;
  for (const entry of ENVS.filter((e) => wanted.includes(e.name))) {
    let upstream: UpstreamFigure = { stepsPerSecond: null, source: "none" };
    if (plan.src) {
      const measured = measureUpstream(plan.src, entry);
      if (measured.report) upstreamNow = mergeUpstream(upstreamNow, measured.report);
      if (measured.figure !== undefined) upstream = { stepsPerSecond: measured.figure, source: "measured now", samples: measured.samples };
      else upstream.note = measured.error;
    }
    if (upstream.source === "none") {
      const figure = reference.report?.[entry.upstream.section]?.[entry.upstream.key];
      if (typeof figure === "number") upstream = { ...upstream, stepsPerSecond: figure, source: "upstream-throughput.json" };
    }
    const runs = Array.from({ length: SETTINGS.timing.processes }, () => runWorker(entry.name));
    const cells = combine(runs);
    const ratio = upstream.stepsPerSecond ? cells.single.median / upstream.stepsPerSecond : null;
    const row: Row = {
      env: entry.name,
      observationSize: runs[0].observationSize,
      actionCount: runs[0].actionCount,
      cells,
      upstream,
      ratio,
      meetsTarget: ratio === null ? null : ratio >= SETTINGS.target,
    };
    console.log(formatRow(row).join(" | "));
    if (upstream.note) console.log(`  (upstream not measured now: ${upstream.note})`);
    rows.push(row);
  }

  let bridge: BridgeReport | null = null;
  if (wanted.includes(BRIDGE)) {
    const { processes, rounds, roundSeconds, warmupSeconds } = SETTINGS.timing;
    bridge = measureGymBridge({
      counts: SETTINGS.bridgeSizes,
      rounds: processes * rounds,
      roundSeconds,
      warmupSeconds,
      seed: SETTINGS.seed,
      upstreamSrc: plan.src,
      repoRoot,
    });
    console.log(`\nGymnasium bridge: ${bridge.env ?? "not measured"}${bridge.note ? ` (${bridge.note})` : ""}`);
    if (bridge.rows.length > 0) {
      console.log(BRIDGE_HEADER.join(" | "));
      for (const row of bridge.rows) console.log(formatBridgeRow(bridge.env!, row).join(" | "));
    }
  }

  console.log("");
  for (const line of findings(rows)) console.log(line);

  const seconds = (Date.now() - started) / 1000;
  const report = {
    benchmark: "envs",
    mode,
    date: new Date().toISOString(),
    machine,
    settings: SETTINGS,
    upstream: {
      /** bench/upstream-env-throughput.py's reports, merged: the shape of upstream-throughput.json. */
      // The folder by its name only: results are committed, and a full path names one machine.
      measuredNow: plan.src ? { src: basename(plan.src), ...upstreamNow } : null,
      notMeasuredBecause: plan.src ? undefined : plan.why,
      reference: reference.report
        ? {
            file: reference.file && relative(repoRoot, reference.file),
            what: reference.report.what,
            machine: reference.report.machine,
            date: reference.report.date,
          }
        : null,
    },
    seconds,
    findings: findings(rows),
    rows,
    /** The Gymnasium bridge against Python alone (null when --only leaves it out). */
    gymBridge: bridge,
  };
  writeReport(
    args.out,
    `envs-${cpuSlug(machine.cpu)}`,
    report,
    markdownReport(machine, rows, seconds, plan.src ? "" : plan.why, upstreamNow) + bridgeMarkdown(bridge),
    seconds,
  );
}

await main();
