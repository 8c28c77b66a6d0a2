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

/** The line of its file each record was read from (for errors that name it). */
const LINE_OF = new WeakMap<object, number>();

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
      LINE_OF.set(value, i + 1);
    } catch (error) {
      const cutOff = i === lines.length - 1 && !text.endsWith("\n");
      if (!cutOff) throw new StaqFormatError(`${source} line ${i + 1} is not a JSON object: ${(error as Error).message}`);
    }
  });
  return records;
}

export interface PointsSource {
  /** The file the log was read from, for errors. */
  source: string;
  /**
   * Whether null under the metric means "not measured" (metrics.jsonl: charts/episodic_return before
   * any episode ended, losses before learningStarts), so the record is skipped. In eval.jsonl every
   * evaluation has a return, and a null there is a NaN or Infinity JSON could not write: an error.
   */
  nullIsUnmeasured: boolean;
}

function where(record: object, source: string): string {
  const line = LINE_OF.get(record);
  return line === undefined ? source : `${source} line ${line}`;
}

const isFinite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The key every record of staq's logs has, in strictly increasing order. */
const STEP_KEY = "global_step";

/** A record's finite number under `key`, or an error naming the file and line. */
function finiteAt(record: Record<string, unknown>, key: string, source: string): number {
  const value = record[key];
  if (isFinite(value)) return value;
  throw new StaqFormatError(
    `${where(record, source)}: ${key} is ${JSON.stringify(value) ?? "missing"}, not a finite number (JSON writes NaN and Infinity as null: the run diverged, or the file was edited); fix or remove the run`,
  );
}

/**
 * The (x, y) points of a run: its records that have `yKey`, in the order logged. A record without
 * the key is not a measurement of it and is skipped (as is null where `nullIsUnmeasured`); any other
 * value that is not a finite number, and steps that do not increase strictly, are errors naming the
 * file and line: dropping or reordering them would draw (and score) a run that diverged, or whose
 * log was mixed up, as if it were fine.
 */
export function runPoints(log: RunLog, xKey: string, yKey: string, from: PointsSource): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  let lastStep = -Infinity;
  for (const record of log) {
    if (!Object.hasOwn(record, yKey) || (record[yKey] === null && from.nullIsUnmeasured)) continue;
    const value = finiteAt(record, yKey, from.source);
    const step = finiteAt(record, STEP_KEY, from.source);
    if (step <= lastStep)
      throw new StaqFormatError(
        `${where(record, from.source)}: ${STEP_KEY} ${step} does not come after the previous record's ${lastStep}; a run's records increase strictly (two runs' logs mixed into one?); fix or remove the run`,
      );
    lastStep = step;
    const at = xKey === STEP_KEY ? step : finiteAt(record, xKey, from.source);
    if (x.length > 0 && at < x[x.length - 1])
      throw new StaqFormatError(`${where(record, from.source)}: ${xKey} ${at} is before the previous record's ${x[x.length - 1]}`);
    x.push(at);
    y.push(value);
  }
  return { x, y };
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
