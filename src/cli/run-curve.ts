/**
 * Learning curves from run directories (src/cli/run-directory.ts): read the logs, group the runs by
 * environment and preset, render mean and spread over seeds as SVG (`staq plot`, and the curve.svg
 * `staq train` writes at the end of a run).
 */
import { join } from "node:path";
import { StaqInputError } from "../errors.ts";
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
}

async function readRun(dir: string, metric: string): Promise<Run> {
  const configPath = join(dir, RUN_FILES.config);
  if (!(await pathExists(configPath)))
    throw new StaqInputError(`${dir} is not a run directory (no ${RUN_FILES.config}); give directories written by staq train`);
  const parsed = parseJsonText(await readInputFile(configPath, "run config"), configPath);
  const config = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { env?: unknown; preset?: unknown };
  const file = metric.startsWith("eval/") ? RUN_FILES.eval : RUN_FILES.metrics;
  const path = join(dir, file);
  const log = (await pathExists(path)) ? parseJsonLines(await readInputFile(path, "log"), path) : [];
  // The group's name is what the legend shows: only names staq writes, never an arbitrary value.
  const name = (value: unknown) => (typeof value === "string" ? value : "");
  return { dir, group: `${name(config.env) || "?"} ${name(config.preset)}`.trim(), log };
}

/** The SVG of the runs in `dirs`, and what it shows (for a summary line). */
export async function renderRunCurves(
  dirs: readonly string[],
  options: CurveOptions = {},
): Promise<{ svg: string; curves: { name: string; points: number; last: number | null }[] }> {
  const metric = options.metric ?? "eval/mean_return";
  const xKey = options.x === "time" ? "time_s" : "global_step";
  const runs = await Promise.all(dirs.map((dir) => readRun(dir, metric)));
  const withMetric = runs.filter((run) => run.log.some((r) => typeof r[metric] === "number"));
  if (withMetric.length === 0 && runs.some((run) => run.log.length > 0)) {
    const keys = [...new Set(runs.flatMap((run) => run.log.flatMap((r) => Object.keys(r))))].filter(
      (k) => k !== "global_step" && k !== "iteration",
    );
    throw new StaqInputError(`no run logged ${JSON.stringify(metric)}; the keys are: ${keys.join(", ")}`);
  }
  const groups = [...new Set(runs.map((run) => run.group))].map((name) => ({
    name,
    runs: runs
      .filter((run) => run.group === name)
      .map((run) => {
        const points = runPoints(run.log, xKey, metric);
        return options.x === "time" ? { x: points.x.map((s) => s / 60), y: points.y } : points;
      }),
  }));
  const series = learningCurveSeries(groups, options.band);
  const svg = await renderLineChartSvg(series, {
    title: options.title,
    xTitle: options.x === "time" ? "wall-clock minutes of training" : "environment steps",
    yTitle: metric === "eval/mean_return" ? "mean greedy evaluation return" : metric,
    rules: options.threshold === undefined ? undefined : [{ y: options.threshold, label: `target ${options.threshold}` }],
  });
  return { svg, curves: series.map((s) => ({ name: s.name, points: s.x.length, last: s.y.length > 0 ? s.y[s.y.length - 1] : null })) };
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
  const log = await readRun(dir, "eval/mean_return");
  if (runPoints(log.log, "global_step", "eval/mean_return").x.length === 0)
    return { written: false, reason: "no evaluations, so no curve" };
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
