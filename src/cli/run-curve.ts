/**
 * Learning curves from run directories (src/cli/run-directory.ts): read the logs, group the runs by
 * environment and preset, render mean and spread over seeds as SVG (`staq plot`, and the curve.svg
 * `staq train` writes at the end of a run).
 */
import { realpath } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { parseJsonText } from "../io/json.ts";
import { writeFileAtomically } from "../node/files.ts";
import { readInputFile } from "./command.ts";
import { PlottingUnavailableError, renderLineChartSvg } from "../plot/line-chart.ts";
import { learningCurveSeries, parseJsonLines, runPoints, type Band, type RunLog } from "../plot/learning-curves.ts";
import { RUN_FILES, pathExists } from "./run-directory.ts";

export interface CurveOptions {
  /** A key of eval.jsonl (default eval/mean_return) or of metrics.jsonl. */
  metric?: string;
  x?: "steps" | "time";
  band?: Band;
  title?: string;
  threshold?: number;
}

interface Run {
  dir: string;
  group: string;
  log: RunLog;
  /** The log's file, for errors. */
  path: string;
}

/** How `runPoints` reads a log of `metric` in `path`: null is "not measured" in metrics.jsonl only. */
function pointsSource(metric: string, path: string) {
  return { source: path, nullIsUnmeasured: !metric.startsWith("eval/") };
}

async function readRun(dir: string, metric: string): Promise<Run> {
  const configPath = join(dir, RUN_FILES.config);
  if (!(await pathExists(configPath)))
    throw new StaqInputError(`${dir} is not a run directory (no ${RUN_FILES.config}); give directories written by staq train`);
  const parsed = parseJsonText(await readInputFile(configPath, "run config"), configPath);
  // Read as {} it would put the run in a group "?" of its own, as if it were fine.
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StaqFormatError(`${configPath} is not a JSON object; a run's config.json is the object staq train writes`);
  const config = parsed as { env?: unknown; preset?: unknown };
  const file = metric.startsWith("eval/") ? RUN_FILES.eval : RUN_FILES.metrics;
  const path = join(dir, file);
  const log = (await pathExists(path)) ? parseJsonLines(await readInputFile(path, "log"), path) : [];
  // The group's name is what the legend shows: only names staq writes, never an arbitrary value.
  const name = (value: unknown) => (typeof value === "string" ? value : "");
  return { dir, group: `${name(config.env) || "?"} ${name(config.preset)}`.trim(), log, path };
}

/** `dirs` less those that name a run already given (the same directory twice, or through a link). */
async function distinctRuns(dirs: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const distinct: string[] = [];
  for (const dir of dirs) {
    const real = await realpath(dir).catch(() => resolve(dir));
    if (!seen.has(real)) distinct.push(dir);
    seen.add(real);
  }
  return distinct;
}

/** Why a run has nothing to draw: its log is missing, or holds no value of the metric. */
async function emptyRunError(run: Run, metric: string): Promise<StaqInputError> {
  if (!(await pathExists(run.path)))
    return new StaqInputError(
      `${run.dir} has no ${basename(run.path)} (the run has not logged yet?); leave it out, or give another --metric`,
    );
  return new StaqInputError(`${run.path} has no record of ${JSON.stringify(metric)}; leave the run out, or give another --metric`);
}

/** A group whose runs have data but share no x: a mean over them would be over no point at all. */
function disjointError(members: readonly { run: Run; points: { x: number[] } }[], unit: string): StaqInputError {
  const spans = members.map(({ run, points }) => `${run.dir} covers ${points.x[0]} to ${points.x[points.x.length - 1]}`);
  return new StaqInputError(
    `the runs of ${members[0].run.group} share no ${unit}, so they have no mean to draw (${spans.join("; ")}); plot them separately`,
  );
}

/** The SVG of the runs in `dirs`, and what it shows (for a summary line). */
export async function renderRunCurves(
  dirs: readonly string[],
  options: CurveOptions = {},
): Promise<{ svg: string; runs: number; curves: { name: string; points: number; last: number | null }[] }> {
  const metric = options.metric ?? "eval/mean_return";
  const xKey = options.x === "time" ? "time_s" : "global_step";
  const runs = await Promise.all((await distinctRuns(dirs)).map((dir) => readRun(dir, metric)));
  const withMetric = runs.filter((run) => run.log.some((r) => typeof r[metric] === "number"));
  if (withMetric.length === 0 && runs.some((run) => run.log.length > 0)) {
    // Only keys with a number somewhere: a key logged as null throughout (DQN's policy/kl) is no curve.
    const keys = [...new Set(runs.flatMap((run) => run.log.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === "number"))))].filter(
      (k) => k !== "global_step" && k !== "iteration",
    );
    const alwaysNull = runs.some((run) => run.log.some((r) => Object.hasOwn(r, metric)));
    throw new StaqInputError(
      `no run logged ${JSON.stringify(metric)}${alwaysNull ? " as a number (these runs record it, always null: not measured by their algorithm)" : ""}; the keys with numbers are: ${keys.join(", ")}`,
    );
  }
  const curves = await Promise.all(
    runs.map(async (run) => {
      const points = runPoints(run.log, xKey, metric, pointsSource(metric, run.path));
      if (points.x.length === 0) throw await emptyRunError(run, metric);
      return { run, points: options.x === "time" ? { x: points.x.map((s) => s / 60), y: points.y } : points };
    }),
  );
  const groups = [...new Set(runs.map((run) => run.group))].map((name) => ({
    name,
    members: curves.filter((c) => c.run.group === name),
  }));
  const series = learningCurveSeries(
    groups.map(({ name, members }) => ({ name, runs: members.map((m) => m.points) })),
    options.band,
  );
  series.forEach((s, i) => {
    if (s.x.length === 0) throw disjointError(groups[i].members, options.x === "time" ? "minutes" : "steps");
  });
  const svg = await renderLineChartSvg(series, {
    title: options.title,
    xTitle: options.x === "time" ? "wall-clock minutes of training" : "environment steps",
    yTitle: metric === "eval/mean_return" ? "mean greedy evaluation return" : metric,
    rules: options.threshold === undefined ? undefined : [{ y: options.threshold, label: `target ${options.threshold}` }],
  });
  return {
    svg,
    runs: runs.length,
    curves: series.map((s) => ({ name: s.name, points: s.x.length, last: s.y.length > 0 ? s.y[s.y.length - 1] : null })),
  };
}

/** What writeRunCurve did: wrote the curve, or why not, as a note for the end-of-run line. */
export type RunCurveResult = { written: true; path: string } | { written: false; reason: string };

/**
 * Writes the run's own curve.svg. Nothing is written, and `reason` says why, when the run has no
 * evaluation to draw (evalEvery 0) or when vega and vega-lite (optional) are not installed: the
 * curve is a convenience at the end of a finished run, so a missing plotting package is a note
 * saying how to draw it later, not a failure of the run.
 */
export async function writeRunCurve(dir: string): Promise<RunCurveResult> {
  const run = await readRun(dir, "eval/mean_return");
  let evaluations: number;
  try {
    evaluations = runPoints(run.log, "global_step", "eval/mean_return", pointsSource("eval/mean_return", run.path)).x.length;
  } catch (error) {
    // A log the curve cannot be drawn from (a NaN evaluation) is the run's to report, not a reason to fail its end.
    if (error instanceof StaqFormatError) return { written: false, reason: `no curve: ${error.message}` };
    throw error;
  }
  if (evaluations === 0) return { written: false, reason: "no evaluations, so no curve" };
  const path = join(dir, RUN_FILES.curve);
  let svg: string;
  try {
    ({ svg } = await renderRunCurves([dir]));
  } catch (error) {
    if (!(error instanceof PlottingUnavailableError)) throw error;
    return { written: false, reason: `no curve: ${error.message}, then draw it with \`staq plot ${dir} --out ${path}\`` };
  }
  await writeFileAtomically(path, new TextEncoder().encode(svg), "the learning curve");
  return { written: true, path };
}
