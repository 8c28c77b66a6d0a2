/**
 * Learning curves of training runs (pure: text in, chart series out). Runs of one group (the same
 * environment and preset, different seeds) become one curve: the mean over the runs with a band
 * for their spread (min–max, or ±1 standard deviation). Runs logged at different x (steps or
 * seconds) are aligned by linear interpolation within each run, on the union of their x, and a
 * point is drawn only where every run of the group has data: past the end of the shortest run the
 * mean would silently become the mean of fewer runs.
 */
import { StaqFormatError } from "../errors.ts";
import type { LineSeries } from "./line-chart.ts";

export type Band = "minmax" | "std";

/** One run's log as records (one per JSON line). */
export type RunLog = Record<string, unknown>[];

/**
 * The records of a JSON-lines file. A last line without its newline that does not parse is a
 * record cut off mid-write (a killed run) and is left out; any other bad line is an error naming
 * the file and the line.
 */
export function parseJsonLines(text: string, source: string): RunLog {
  const lines = text.split("\n");
  const records: RunLog = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
      records.push(value as Record<string, unknown>);
    } catch (error) {
      const cutOff = i === lines.length - 1 && !text.endsWith("\n");
      if (!cutOff) throw new StaqFormatError(`${source} line ${i + 1} is not a JSON object: ${(error as Error).message}`);
    }
  });
  return records;
}

/** The (x, y) points of a run: records with finite numbers under both keys, in order of x. */
export function runPoints(log: RunLog, xKey: string, yKey: string): { x: number[]; y: number[] } {
  const points = log
    .map((r) => [r[xKey], r[yKey]])
    .filter(
      (p): p is [number, number] => typeof p[0] === "number" && Number.isFinite(p[0]) && typeof p[1] === "number" && Number.isFinite(p[1]),
    )
    .sort((a, b) => a[0] - b[0]);
  return { x: points.map((p) => p[0]), y: points.map((p) => p[1]) };
}

/** y of a run at x by linear interpolation (x within the run's range). */
function interpolate(run: { x: number[]; y: number[] }, x: number): number {
  const hi = run.x.findIndex((v) => v >= x);
  if (run.x[hi] === x) return run.y[hi];
  const lo = hi - 1;
  const t = (x - run.x[lo]) / (run.x[hi] - run.x[lo]);
  return run.y[lo] + t * (run.y[hi] - run.y[lo]);
}

/** Mean and band over runs, on the x where all of them have data. */
export function meanCurve(
  runs: readonly { x: number[]; y: number[] }[],
  band: Band = "minmax",
): { x: number[]; mean: number[]; lower: number[]; upper: number[] } {
  const present = runs.filter((r) => r.x.length > 0);
  if (present.length === 0) return { x: [], mean: [], lower: [], upper: [] };
  const from = Math.max(...present.map((r) => r.x[0]));
  const to = Math.min(...present.map((r) => r.x[r.x.length - 1]));
  const xs = [...new Set(present.flatMap((r) => r.x))].filter((x) => x >= from && x <= to).sort((a, b) => a - b);
  const curve = { x: xs, mean: [] as number[], lower: [] as number[], upper: [] as number[] };
  for (const x of xs) {
    const ys = present.map((r) => interpolate(r, x));
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sd = Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / ys.length);
    curve.mean.push(mean);
    curve.lower.push(band === "std" ? mean - sd : Math.min(...ys));
    curve.upper.push(band === "std" ? mean + sd : Math.max(...ys));
  }
  return curve;
}

/** One series per group: its name, and the mean with its band (no band for a single run). */
export function learningCurveSeries(
  groups: readonly { name: string; runs: readonly { x: number[]; y: number[] }[] }[],
  band: Band = "minmax",
): LineSeries[] {
  return groups.map(({ name, runs }) => {
    const curve = meanCurve(runs, band);
    return runs.length > 1
      ? { name: `${name} (${runs.length} runs)`, x: curve.x, y: curve.mean, lower: curve.lower, upper: curve.upper }
      : { name, x: curve.x, y: curve.mean };
  });
}
