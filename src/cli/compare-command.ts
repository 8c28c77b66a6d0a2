/**
 * `staq compare DIR... [--group-by FIELDS] [--metric KEY] [--seed S] [--out DIR] [--json FILE]`:
 * stability metrics (src/analysis/stability.ts) of every run, and per group of runs (by default
 * one algorithm on one environment: the seeds of one setting) their mean with a percentile-bootstrap
 * interval (src/analysis/bootstrap.ts), as one table; optionally a JSON file of it all and one chart
 * of learning curves per environment. docs/stability.md defines the metrics.
 */
import { lstat, mkdir, readdir, readlink, realpath, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { lastEvaluationStep, wholeIterationSteps } from "../agent/config.ts";
import { parseJsonText } from "../io/json.ts";
import {
  describeFsError,
  fileError,
  linkTarget,
  makeDirectories,
  nearestExisting,
  statIfThere,
  writeCheckPath,
  writeFileAtomically,
} from "../node/files.ts";
import { DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, bootstrapMeanInterval, type MeanInterval } from "../analysis/bootstrap.ts";
import {
  DEFAULT_BELOW_BEST_FRACTION,
  DEFAULT_WINDOW,
  STABILITY_COLUMNS,
  STABILITY_METRICS,
  stabilityMetrics,
  type StabilityMetrics,
} from "../analysis/stability.ts";
import { learningCurveSeries, parseJsonLines, runPoints, type Band } from "../plot/learning-curves.ts";
import { ensurePlotting, renderLineChartSvg } from "../plot/line-chart.ts";
import { integerFlag, UsageError, isParseArgsError, readInputFile, type Command, type CommandIO } from "./command.ts";
import { checkOutputPath, realPathSoFar } from "./output-path.ts";
import { RUN_FILES, pathExists } from "./run-directory.ts";

const HELP = `Usage: staq compare DIR... [--group-by FIELDS] [--metric KEY] [--seed S] [--out DIR]
                    [--json FILE] [--band minmax|std]

Compares training runs by how well and how steadily they learned. Each DIR is a run directory
written by staq train (config.json and eval.jsonl), or a directory searched for them (a sweep's
output). Runs with the same values of the --group-by fields form a group (by default one algorithm
on one environment: its seeds); the table has one row per group and, for five metrics of the
evaluation curve, the mean over the group's runs and a 95% percentile-bootstrap interval of that
mean, written "mean [lower, upper]":

  final       the last evaluation's return
  area        the area under the curve divided by the steps it spans (the time-average return)
  drop        the mean fall between consecutive evaluations (rises count 0)
  deviation   the RMS distance from the centred moving average of 5 evaluations (jitter)
  below best  the fraction of evaluations more than 10% of the run's range below its best so far

docs/stability.md defines them exactly.

Options:
  --group-by FIELDS  config.json fields whose values form a group, separated by commas (default
                     algo,env; a run whose config has no "algo" is a staq run)
  --metric KEY       the curve: a key of eval.jsonl (default eval/mean_return) or of metrics.jsonl
                     (e.g. charts/episodic_return), against environment steps
  --seed S           seed of the bootstrap's resampling, an integer >= 0 (default 0); the same
                     seed gives the same intervals
  --out DIR          also write DIR/compare.json (every run's metrics, every group's summary) and
                     one chart of learning curves per environment, DIR/<env>.svg ("/" in the
                     name becomes "-"; two environments that would share a name: the later
                     gets "-2", and a note says so); DIR is created if missing
  --json FILE        also write the JSON of compare.json to FILE (not a file --out writes)
  --band B           the spread around each group's mean curve in the charts: minmax (default) or
                     std (±1 standard deviation)
  -h, --help         show this help
`;

const OPTIONS = {
  "group-by": { type: "string" },
  metric: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  json: { type: "string" },
  band: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A run without an "algo" field predates the field, when staq was the only algorithm. */
const DEFAULT_ALGO = "staq";
const DEFAULT_GROUP_BY = ["algo", "env"];
const DEFAULT_METRIC = "eval/mean_return";
const X_KEY = "global_step";

interface Settings {
  dirs: string[];
  groupBy: string[];
  metric: string;
  seed: number;
  out?: string;
  json?: string;
  band: Band;
}

interface Run {
  dir: string;
  config: Record<string, unknown>;
  points: { x: number[]; y: number[] };
  /**
   * The last step the run's log of the metric (eval.jsonl or metrics.jsonl) has a record for, the
   * metric's value or not: where the run stopped. The curve can end earlier in a finished run, at
   * iterations that logged the metric as null (no episode ended in them: not measured).
   */
  logEnd: number;
  metrics: StabilityMetrics;
}

interface Group {
  /** The --group-by fields' values (undefined where a run's config lacks the field). */
  values: unknown[];
  runs: Run[];
  summary: Record<keyof StabilityMetrics, MeanInterval>;
}

function parseSettings(args: string[]): Settings | "help" {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message, compareCommand);
    throw error;
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length === 0) throw new UsageError("give at least one run directory, or a directory holding runs", compareCommand);
  // "" would be read as no path at all ("Could not read the directory : ..."), not as the working directory.
  const empty = positionals.indexOf("");
  if (empty >= 0)
    throw new UsageError(
      `run directory argument ${empty + 1} is empty (""); give run directories written by staq train, or directories holding them`,
      compareCommand,
    );
  const groupBy = values["group-by"] === undefined ? DEFAULT_GROUP_BY : values["group-by"].split(",").map((f) => f.trim());
  if (groupBy.some((f) => f === ""))
    throw new UsageError(
      `--group-by takes config.json fields separated by commas; got ${JSON.stringify(values["group-by"])}`,
      compareCommand,
    );
  const repeated = groupBy.find((f, i) => groupBy.indexOf(f) !== i);
  if (repeated !== undefined) throw new UsageError(`--group-by names ${repeated} twice; give each field once`, compareCommand);
  const seed = values.seed === undefined ? 0 : integerFlag(values.seed, "seed", compareCommand, { min: 0, why: " (at most 2^53 - 1)" });
  if (values.band !== undefined && values.band !== "minmax" && values.band !== "std")
    throw new UsageError(`--band must be minmax or std; got ${JSON.stringify(values.band)}`, compareCommand);
  if (values.metric === "") throw new UsageError("--metric needs a key of eval.jsonl or metrics.jsonl", compareCommand);
  for (const option of ["out", "json"] as const)
    if (values[option] === "") throw new UsageError(`--${option} needs a ${option === "out" ? "directory" : "file name"}`, compareCommand);
  return {
    dirs: positionals,
    groupBy,
    metric: values.metric ?? DEFAULT_METRIC,
    seed,
    out: values.out,
    json: values.json,
    band: (values.band as Band | undefined) ?? "minmax",
  };
}

// ---- finding and reading runs ----

/** The log a metric is read from: eval.jsonl for eval/ keys, else metrics.jsonl. */
const logFile = (metric: string) => (metric.startsWith("eval/") ? RUN_FILES.eval : RUN_FILES.metrics);

const isRun = async (dir: string) => (await pathExists(join(dir, RUN_FILES.config))) && (await pathExists(join(dir, RUN_FILES.eval)));

/**
 * The run directories in `root`: itself when it is one, else every directory below it holding
 * config.json and eval.jsonl, in order of their paths. The search does not enter a run directory
 * (its checkpoint/ holds no runs) and does not follow symbolic links below `root` (a link to a
 * parent would never end). Directories with a config.json but no eval.jsonl (runs that never
 * evaluated) are returned apart, to be mentioned, not compared.
 */
async function findRuns(root: string): Promise<{ runs: string[]; unevaluated: string[] }> {
  const info = await stat(root).catch((error: unknown) => {
    throw fileError(`Could not read the directory ${root}`, error);
  });
  if (!info.isDirectory())
    throw new StaqInputError(`${root} is a file, not a directory; give run directories written by staq train, or directories holding them`);
  if (await pathExists(join(root, RUN_FILES.config))) {
    if (await isRun(root)) return { runs: [root], unevaluated: [] };
    throw new StaqInputError(
      `${root} has a ${RUN_FILES.config} but no ${RUN_FILES.eval}: the run made no evaluations (evalEvery 0?), so it has no curve to compare`,
    );
  }
  const runs: string[] = [];
  const unevaluated: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
      throw fileError(`Could not list the directory ${dir}`, error);
    });
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const child = join(dir, entry.name);
      if (await isRun(child)) runs.push(child);
      else if (await pathExists(join(child, RUN_FILES.config))) unevaluated.push(child);
      else await walk(child);
    }
  };
  await walk(root);
  if (runs.length === 0)
    throw new StaqInputError(
      `no run directory under ${root}: none of its directories holds both ${RUN_FILES.config} and ${RUN_FILES.eval}` +
        (unevaluated.length > 0 ? ` (${unevaluated.join(", ")} ${unevaluated.length > 1 ? "have" : "has"} no ${RUN_FILES.eval})` : "") +
        "; give directories written by staq train",
    );
  return { runs, unevaluated };
}

async function readConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, RUN_FILES.config);
  const parsed = parseJsonText(await readInputFile(path, "run config"), path);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StaqFormatError(`${path} is not a JSON object; a run's config.json is the object staq train writes`);
  return parsed as Record<string, unknown>;
}

/** A run's config and log of `metric`; the metrics come once every run is known to have the metric. */
async function readRun(
  dir: string,
  metric: string,
): Promise<{ dir: string; config: Record<string, unknown>; log: Record<string, unknown>[] }> {
  const config = await readConfig(dir);
  const path = join(dir, logFile(metric));
  return { dir, config, log: parseJsonLines(await readInputFile(path, "log"), path) };
}

/** The runs of `dirs` with their metrics; a run without the metric is an error naming its file. */
async function readRuns(roots: readonly string[], metric: string, io: CommandIO): Promise<Run[]> {
  const found = [];
  for (const root of roots) found.push(await findRuns(root));
  const unevaluated = found.flatMap((f) => f.unevaluated);
  if (unevaluated.length > 0)
    io.stderr.write(
      `staq compare: left out ${unevaluated.length} run(s) without ${RUN_FILES.eval} (no evaluations): ${unevaluated.join(", ")}\n`,
    );
  // One run reached twice (a DIR given twice, or a run and the directory above it) counts once.
  const seen = new Set<string>();
  const dirs: string[] = [];
  for (const dir of found.flatMap((f) => f.runs)) {
    const real = await realpath(dir);
    if (!seen.has(real)) dirs.push(dir);
    seen.add(real);
  }
  const logs = await Promise.all(dirs.map((dir) => readRun(dir, metric)));
  const file = logFile(metric);
  if (!logs.some((run) => run.log.some((r) => typeof r[metric] === "number"))) {
    const keys = [...new Set(logs.flatMap((run) => run.log.flatMap((r) => Object.keys(r))))].filter(
      (k) => k !== X_KEY && k !== "iteration",
    );
    throw new StaqInputError(`no run logged ${JSON.stringify(metric)} in ${file}; the keys there are: ${keys.join(", ") || "none"}`);
  }
  return logs.map(({ dir, config, log }) => {
    const path = join(dir, file);
    // null is "not measured" in metrics.jsonl (no episode ended yet); in eval.jsonl it is a NaN.
    const points = runPoints(log, X_KEY, metric, { source: path, nullIsUnmeasured: file === RUN_FILES.metrics });
    if (points.x.length === 0)
      throw new StaqInputError(`${path} has no record with numbers under ${X_KEY} and ${metric}; nothing to compare`);
    const steps = log.map((record) => record[X_KEY]).filter((step): step is number => typeof step === "number");
    const logEnd = Math.max(points.x[points.x.length - 1], steps[steps.length - 1] ?? -Infinity);
    try {
      return { dir, config, points, logEnd, metrics: stabilityMetrics(points) };
    } catch (error) {
      if (error instanceof StaqInputError) throw new StaqInputError(`${path}: ${error.message}`, { cause: error });
      throw error;
    }
  });
}

// ---- groups ----

function fieldValue(config: Record<string, unknown>, field: string): unknown {
  if (Object.hasOwn(config, field)) return config[field];
  return field === "algo" ? DEFAULT_ALGO : undefined;
}

/** A field's value as text: strings as they are, anything else as JSON, "-" where a run lacks it. */
function showValue(value: unknown): string {
  if (value === undefined) return "-";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function groupRuns(runs: readonly Run[], groupBy: readonly string[], seed: number): Group[] {
  for (const field of groupBy) {
    if (runs.some((run) => fieldValue(run.config, field) !== undefined)) continue;
    const fields = [...new Set(["algo", ...runs.flatMap((run) => Object.keys(run.config))])];
    throw new StaqInputError(
      `--group-by ${field}: no run's ${RUN_FILES.config} has the field ${JSON.stringify(field)}; the fields are: ${fields.join(", ")}`,
    );
  }
  const groups = new Map<string, { values: unknown[]; runs: Run[] }>();
  for (const run of runs) {
    const values = groupBy.map((field) => fieldValue(run.config, field));
    const key = JSON.stringify(values); // a missing field (undefined) becomes null: one group with a null field
    if (!groups.has(key)) groups.set(key, { values, runs: [] });
    groups.get(key)!.runs.push(run);
  }
  // Each group's intervals use a stream of `seed`, the same for every metric: the metrics of one
  // group are resampled over the same runs, and a group's intervals do not depend on the others.
  return [...groups.values()].map(({ values, runs: members }) => ({
    values,
    runs: members,
    summary: Object.fromEntries(
      STABILITY_METRICS.map((name) => [
        name,
        bootstrapMeanInterval(
          members.map((run) => run.metrics[name]),
          { seed },
        ),
      ]),
    ) as Group["summary"],
  }));
}

// ---- warnings ----

/** Config fields that differ between seeds of one setting without making it another setting. */
const PER_RUN_FIELDS = new Set(["seed", "adapter"]);

/** The config fields whose values differ among `runs` (seed and the machine's adapter aside). */
function differingFields(runs: readonly Run[]): string[] {
  const fields = [...new Set(runs.flatMap((run) => Object.keys(run.config)))].filter((f) => !PER_RUN_FIELDS.has(f));
  return fields.filter((f) => new Set(runs.map((run) => JSON.stringify(run.config[f]))).size > 1);
}

/**
 * The step a finished run's log of the metric ends at: for eval.jsonl its last scheduled evaluation
 * (lastEvaluationStep), which can come whole iterations before the end (totalSteps 192 in
 * iterations of 32, evaluated every 100: 128); for metrics.jsonl, one record per iteration, the
 * run's end, totalSteps rounded up to whole iterations (192). A config that does not say how the
 * run was cut into iterations, or how often it evaluated, gives totalSteps; undefined without one.
 */
function expectedEnd(config: Record<string, unknown>, file: string): number | undefined {
  const { totalSteps, stepsPerIteration, evalEvery } = config;
  if (typeof totalSteps !== "number") return undefined;
  if (typeof stepsPerIteration !== "number" || !(stepsPerIteration > 0)) return totalSteps;
  if (file === RUN_FILES.metrics) return wholeIterationSteps(totalSteps, stepsPerIteration);
  if (typeof evalEvery === "number" && evalEvery > 0) return lastEvaluationStep({ totalSteps, stepsPerIteration, evalEvery });
  return totalSteps;
}

/**
 * What makes a group's mean and interval mix unlike runs, in words: runs that end at different
 * steps or short of their config's totalSteps (unfinished), a seed given twice, or settings other
 * than the seed that differ (another environment, a swept field the grouping ignores).
 */
function groupWarnings(group: Group, groupBy: readonly string[], metric: string): string[] {
  const name = groupBy.map((field, i) => `${field}=${showValue(group.values[i])}`).join(", ");
  const runs = group.runs;
  const warnings: string[] = [];
  // Where each run's log ends, not its curve: a finished run's curve can stop earlier, at
  // iterations that logged the metric as null (not measured).
  if (new Set(runs.map((run) => run.logEnd)).size > 1)
    warnings.push(`its runs end at different steps (${runs.map((run) => `${run.dir}: ${run.logEnd}`).join(", ")})`);
  const file = logFile(metric);
  const unfinished = runs.flatMap((run) => {
    const expected = expectedEnd(run.config, file);
    return expected !== undefined && run.logEnd < expected ? [`${run.dir} at ${run.logEnd} of ${expected}`] : [];
  });
  const end = file === RUN_FILES.metrics ? "their last iteration" : "their last scheduled evaluation";
  if (unfinished.length > 0) warnings.push(`runs end before ${end} (unfinished?): ${unfinished.join(", ")}`);
  const seeds = runs.map((run) => JSON.stringify(run.config.seed));
  const repeated = [...new Set(seeds.filter((seed, i) => seeds.indexOf(seed) !== i))];
  if (repeated.length > 0) warnings.push(`seed ${repeated.join(", ")} appears in more than one run`);
  const fields = differingFields(runs);
  if (fields.length > 0) warnings.push(`its runs differ in ${fields.join(", ")} (add them to --group-by to tell them apart)`);
  return warnings.map((warning) => `staq compare: warning: group ${name}: ${warning}`);
}

// ---- the table ----

/**
 * Decimals for a column of numbers: about four significant digits on its largest magnitude (500.0,
 * -84.81, 0.125), from 1 to 3; the JSON keeps every digit.
 */
function decimalsFor(numbers: readonly number[]): number {
  const largest = Math.max(...numbers.map(Math.abs));
  if (largest === 0) return 1;
  return Math.min(3, Math.max(1, 3 - Math.floor(Math.log10(largest))));
}

/** Left-aligned text columns and right-aligned number columns, valid Markdown as well as aligned text. */
function markdownTable(header: readonly string[], rows: readonly string[][], numeric: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function table(groups: readonly Group[], groupBy: readonly string[]): string {
  const metricCells = STABILITY_METRICS.map((name) => {
    const decimals = decimalsFor(groups.flatMap((g) => [g.summary[name].mean, g.summary[name].lower, g.summary[name].upper]));
    const f = (v: number) => v.toFixed(decimals);
    return groups.map(({ summary: { [name]: s } }) => `${f(s.mean)} [${f(s.lower)}, ${f(s.upper)}]`);
  });
  const rows = groups.map((group, g) => [
    ...group.values.map(showValue),
    `${group.runs.length} (${group.runs.map((run) => showValue(run.config.seed)).join(", ")})`,
    ...metricCells.map((cells) => cells[g]),
  ]);
  const header = [...groupBy, "runs (seeds)", ...STABILITY_METRICS.map((name) => STABILITY_COLUMNS[name])];
  return markdownTable(header, rows, [...groupBy.map(() => false), false, ...STABILITY_METRICS.map(() => true)]);
}

// ---- the files ----

function report(settings: Settings, runs: readonly Run[], groups: readonly Group[]) {
  const fields = (values: unknown[]) => Object.fromEntries(settings.groupBy.map((field, i) => [field, values[i] ?? null]));
  return {
    metric: settings.metric,
    x: X_KEY,
    groupBy: settings.groupBy,
    parameters: { window: DEFAULT_WINDOW, belowBestFraction: DEFAULT_BELOW_BEST_FRACTION },
    bootstrap: {
      resamples: DEFAULT_RESAMPLES,
      confidence: DEFAULT_CONFIDENCE,
      seed: settings.seed,
      rule: "percentile: the sorted resampled means m_0..m_{B-1} at floor((alpha/2)(B-1)) and ceil((1-alpha/2)(B-1)), alpha = 1 - confidence",
    },
    groups: groups.map((group) => ({
      group: fields(group.values),
      runs: group.runs.map((run) => run.dir),
      seeds: group.runs.map((run) => run.config.seed ?? null),
      metrics: group.summary,
    })),
    runs: runs.map((run) => ({
      dir: run.dir,
      group: fields(settings.groupBy.map((field) => fieldValue(run.config, field))),
      seed: run.config.seed ?? null,
      evaluations: run.points.x.length,
      lastStep: run.points.x[run.points.x.length - 1],
      metrics: run.metrics,
    })),
  };
}

/** A file name for an environment's chart, without ".svg": "MinAtar/Breakout-v1" → "MinAtar-Breakout-v1". */
function chartStem(env: string): string {
  return env.replace(/[^A-Za-z0-9._-]/g, "-");
}

/**
 * One chart file name per environment, none shared: two environments that clean to one name
 * ("MinAtar/Breakout-v1" and "MinAtar-Breakout-v1"), or names that differ only in case (one file on
 * macOS's and Windows' file systems), would write one file over the other; the later gets a suffix
 * ("-2", "-3", ...), and a note says which environment's chart is where.
 */
export function chartNames(envs: readonly string[]): { names: string[]; notes: string[] } {
  const taken = new Map<string, string>(); // lower-cased name → the environment it was given to
  const notes: string[] = [];
  const names = envs.map((env) => {
    const stem = chartStem(env);
    let name = `${stem}.svg`;
    for (let suffix = 2; taken.has(name.toLowerCase()); suffix++) name = `${stem}-${suffix}.svg`;
    const first = taken.get(`${stem}.svg`.toLowerCase());
    if (first !== undefined)
      notes.push(
        `the charts of ${JSON.stringify(first)} and ${JSON.stringify(env)} would share one file name: ${JSON.stringify(env)}'s is ${name}`,
      );
    taken.set(name.toLowerCase(), env);
    return name;
  });
  return { names, notes };
}

/** The legend label of a group within one environment's chart: the values of its fields but env. */
function legendLabel(groupBy: readonly string[], values: readonly unknown[], env: string): string {
  const parts = groupBy.flatMap((field, i) =>
    field === "env" ? [] : [field === "algo" ? showValue(values[i]) : `${field}=${showValue(values[i])}`],
  );
  return parts.length > 0 ? parts.join(" ") : env;
}

/** One SVG per environment: each group's runs on it as a mean curve with a band; notes of renamed charts. */
async function charts(settings: Settings, groups: readonly Group[]): Promise<{ files: { name: string; svg: string }[]; notes: string[] }> {
  const envOf = (run: Run) => showValue(run.config.env);
  const envs = [...new Set(groups.flatMap((g) => g.runs.map(envOf)))];
  const drawn: { env: string; svg: string }[] = [];
  for (const env of envs) {
    const series = learningCurveSeries(
      groups
        .map((g) => ({
          name: legendLabel(settings.groupBy, g.values, env),
          runs: g.runs.filter((run) => envOf(run) === env).map((r) => r.points),
        }))
        .filter((g) => g.runs.length > 0),
      settings.band,
    ).filter((s) => s.x.length > 0); // runs of a group that share no step have no mean curve
    if (series.length === 0) continue;
    const svg = await renderLineChartSvg(series, {
      title: env,
      xTitle: "environment steps",
      yTitle: settings.metric === DEFAULT_METRIC ? "mean greedy evaluation return" : settings.metric,
    });
    drawn.push({ env, svg });
  }
  const { names, notes } = chartNames(drawn.map((d) => d.env));
  return { files: drawn.map((d, i) => ({ name: names[i], svg: d.svg })), notes };
}

// ---- checking the outputs before the work ----

const COMPARE_JSON = "compare.json";

/**
 * Refuses, before any run is read, an --out that could not be written at the end (after every run
 * was read and every interval and chart computed): a file, or a directory that cannot be made.
 * An --out that exists is probed as checkOutputPath probes a file's directory, with its
 * compare.json. One that does not is probed where makeDirectories would start, the nearest
 * directory above it that exists, by making a directory there and removing it again: what mkdir
 * answers there (ENOENT in /proc, EROFS, EACCES) is what it would answer at the end, and permission
 * bits alone say nothing to root. Returns whether --out exists.
 */
async function checkOutDirectory(out: string): Promise<boolean> {
  const unusable = (error: unknown) => new StaqInputError(`cannot use --out ${out}: ${describeFsError(error)}`);
  // ENOENT: not there yet; ENOTDIR: a file on the way, which the walk below names.
  const statOrRefuse = (path: string) =>
    statIfThere(path).catch((error: unknown) => {
      throw unusable(error);
    });
  const info = await statOrRefuse(out);
  if (info !== undefined) {
    if (!info.isDirectory()) throw new StaqInputError(`--out ${out} is a file, not a directory; give a directory`);
    const json = join(out, COMPARE_JSON);
    if ((await statOrRefuse(json))?.isDirectory())
      throw new StaqInputError(
        `--out ${out} holds a directory ${COMPARE_JSON}, where compare writes the comparison; move it, or give another --out`,
      );
    await checkOutputPath({
      output: { option: "--out", path: json },
      what: "the comparison",
      example: COMPARE_JSON,
      inputs: [],
      command: compareCommand,
    });
    return true;
  }
  const link = await lstat(out).catch(() => undefined);
  if (link?.isSymbolicLink())
    throw new StaqInputError(
      `--out ${out} is a symbolic link to ${await readlink(out)}, which does not exist; create that directory, or give another --out`,
    );
  const cannot = (why: string) =>
    new StaqInputError(`cannot create --out ${out}: ${why}; give a directory that can be created there, or create it first`);
  const { found } = await nearestExisting(dirname(resolve(out))).catch((error: unknown) => {
    throw unusable(error);
  });
  if (found === undefined) throw cannot(`no directory above it exists`);
  if (!found.info.isDirectory()) throw cannot(`${found.path} is a file, not a directory`);
  const above = found.path;
  const probe = writeCheckPath(above);
  try {
    await mkdir(probe);
  } catch (error) {
    throw cannot(`making a directory in ${above} failed: ${describeFsError(error)}`);
  }
  // Left behind only if the removal fails, an empty directory with a name that says what it was.
  await rmdir(probe).catch(() => undefined);
  return false;
}

/** The file a write to `path` replaces, by its real path: writeFileAtomically follows a link at `path` to its target. */
async function writtenFile(path: string): Promise<string> {
  return realPathSoFar(await linkTarget(path).catch(() => resolve(path)));
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Refuses a --json that names a file --out writes: its compare.json, or the chart of one of `envs`
 * (none before the runs are read). --json is written first, so the file would end up holding the
 * other content and the JSON be lost without a word. Paths are compared by where they lead (links
 * resolved, as checkOutputPath compares an output with the inputs), and names under --out without
 * regard to case (one file on macOS's and Windows' file systems). Every chart name is its
 * environment's stem with ".svg", or with "-2.svg", "-3.svg", ... after a clash (chartNames), and
 * which environment gets a suffix depends on the charts drawn: any name of that form is refused.
 */
async function refuseJsonUnderOut(json: string, out: string, envs: readonly string[]): Promise<void> {
  const target = await writtenFile(json);
  const outReal = await realPathSoFar(out);
  const inOut = dirname(target) === outReal;
  const name = basename(target).toLowerCase();
  const clash = (what: string, file: string) => {
    const byCase = basename(target) === file ? "" : " on a file system that ignores case (macOS, Windows)";
    return new StaqInputError(
      `--json ${json} is the file --out ${out} writes ${what} to (${join(out, file)})${byCase}: one write would replace the other; give --json another file (or leave it out: ${join(out, COMPARE_JSON)} holds the same JSON)`,
    );
  };
  if ((inOut && name === COMPARE_JSON) || target === (await writtenFile(join(out, COMPARE_JSON))))
    throw clash("the comparison", COMPARE_JSON);
  const { names } = chartNames(envs);
  for (const [i, env] of envs.entries()) {
    const stem = chartStem(env).toLowerCase();
    const chart = new RegExp(`^${escapeRegExp(stem)}(-\\d+)?\\.svg$`);
    if ((inOut && name === names[i].toLowerCase()) || target === (await writtenFile(join(out, names[i]))))
      throw clash(`the chart of ${env}`, names[i]);
    if (inOut && chart.test(name))
      throw new StaqInputError(
        `--json ${json} is a name --out ${out} can give the chart of ${env} (${names[i]}, or with "-2", "-3", ... when chart names clash); give --json another file (or leave it out: ${join(out, COMPARE_JSON)} holds the same JSON)`,
      );
  }
}

/**
 * Refuses, once the runs are known, a --json the command could not write at the end or that would
 * lose a file: one of the runs' files (checkOutputPath), or one --out writes (refuseJsonUnderOut).
 */
async function checkJsonOutput(settings: Settings, runs: readonly Run[], outExists: boolean | undefined): Promise<void> {
  const { json, out } = settings;
  if (json === undefined) return;
  // The chart names come with the environments, known now.
  if (out !== undefined) await refuseJsonUnderOut(json, out, [...new Set(runs.map((run) => showValue(run.config.env)))]);
  // A --json directly in an --out not made yet cannot be checked as a file there (checkOutputPath
  // would say "create it first", though --out makes it): checkOutDirectory has probed that the
  // directory can be made, it is made before any file is written, and a file not there yet is
  // none of the runs' files.
  if (out !== undefined && outExists === false && dirname(await writtenFile(json)) === (await realPathSoFar(out))) return;
  await checkOutputPath({
    output: { option: "--json", path: json },
    what: "the comparison",
    example: COMPARE_JSON,
    inputs: runs.flatMap((run) =>
      [RUN_FILES.config, RUN_FILES.eval, RUN_FILES.metrics].map((name) => ({ option: "which compare reads", path: join(run.dir, name) })),
    ),
    command: compareCommand,
  });
}

async function compare(args: string[], io: CommandIO): Promise<void> {
  const settings = parseSettings(args);
  if (settings === "help") {
    io.stdout.write(HELP);
    return;
  }
  // The outputs are checked before the work they would end: --out and what --json may clash with
  // there before any run is read, --json against the runs' files and charts once they are read.
  let outExists: boolean | undefined;
  if (settings.out !== undefined) {
    outExists = await checkOutDirectory(settings.out);
    if (settings.json !== undefined) await refuseJsonUnderOut(settings.json, settings.out, []);
    // Charts need the optional vega packages: say they are missing before reading anything.
    await ensurePlotting();
  }
  const runs = await readRuns(settings.dirs, settings.metric, io);
  await checkJsonOutput(settings, runs, outExists);
  const groups = groupRuns(runs, settings.groupBy, settings.seed);
  for (const warning of groups.flatMap((group) => groupWarnings(group, settings.groupBy, settings.metric))) io.stderr.write(`${warning}\n`);
  const encoder = new TextEncoder();
  // The (path, bytes) to write, none of them a run's file or another of them (checked above).
  const files: { path: string; bytes: Uint8Array; what: string }[] = [];
  const json = encoder.encode(`${JSON.stringify(report(settings, runs, groups), null, 2)}\n`);
  if (settings.json !== undefined) files.push({ path: settings.json, bytes: json, what: "the comparison" });
  if (settings.out !== undefined) {
    const out = settings.out;
    files.push({ path: join(out, COMPARE_JSON), bytes: json, what: "the comparison" });
    const drawn = await charts(settings, groups);
    for (const note of drawn.notes) io.stderr.write(`staq compare: ${note}\n`);
    for (const { name, svg } of drawn.files) files.push({ path: join(out, name), bytes: encoder.encode(svg), what: "the chart" });
    await makeDirectories(out).catch((error: unknown) => {
      throw fileError(`Could not create the directory --out ${out}`, error);
    });
  }
  // Everything is computed and drawn before the first file is written, and the files are written
  // before stdout: a failure leaves no table that reads as if all went well.
  for (const { path, bytes, what } of files) await writeFileAtomically(path, bytes, what);

  io.stdout.write(
    [
      table(groups, settings.groupBy),
      "",
      `${runs.length} runs; ${settings.metric} against ${X_KEY}. Each cell: the mean over the group's runs ` +
        `[its ${DEFAULT_CONFIDENCE * 100}% percentile-bootstrap interval: ${DEFAULT_RESAMPLES} resamples of the runs, seed ${settings.seed}].`,
      `deviation: moving-average window ${DEFAULT_WINDOW}; below best: ${DEFAULT_BELOW_BEST_FRACTION * 100}% of the run's range (docs/stability.md).`,
      ...files.map(({ path }) => `wrote ${path}`),
      "",
    ].join("\n"),
  );
}

export const compareCommand: Command = {
  name: "compare",
  summary: "compare runs by stability metrics (mean and bootstrap interval over seeds)",
  help: HELP,
  run: compare,
};
