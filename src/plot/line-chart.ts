/**
 * A small, generic SVG line-chart renderer for Node: several named series on shared
 * axes, optionally on a log y scale, each with an optional shaded band (min–max,
 * ± std, a confidence interval...), and optional horizontal reference lines (a
 * "solved" return threshold).
 *
 * Why Vega-Lite: the chart is a declarative spec (data + encodings), compiled by
 * `vega-lite` and rendered to SVG by `vega` headless (`renderer: "none"` +
 * `toSVG()`), with no native canvas dependency (without `canvas`, text widths are
 * estimated, which is fine for axis and legend layout). Both libraries are well kept,
 * and the same spec can be rendered in a browser later (vega-embed) without
 * rewriting the chart.
 *
 * Why lazy import: vega + vega-lite take ~150 ms to load and pull in ~80 packages
 * (about 20 MB), so they are loaded with `await import(...)` on the first call, not when
 * this module is imported; code that imports this file but never plots pays nothing.
 *
 * Why optional: for the same reason they are optional peer dependencies of the staq
 * package, not dependencies: a project that depends on staq gets them only if it
 * installs them (`npm install vega@6 vega-lite@6`). Without them every other part of staq
 * works, and drawing throws `PlottingUnavailableError` saying what to install.
 */

import { StaqError, StaqInputError } from "../errors.ts";
import type { TopLevelSpec } from "vega-lite";

export interface LineSeries {
  /** Legend label; non-empty and unique within one chart. */
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Optional shaded band (give both `lower` and `upper`, or neither), same length as `x`. */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
}

export interface LineChartOptions {
  title?: string;
  xTitle: string;
  yTitle: string;
  /** Log-scale y axis (default false). See `logFloor` for values ≤ 0. */
  logY?: boolean;
  /** Log-scale x axis (default false): every x must be > 0 (e.g. a sweep over M = 1, 5, 10, 30, 100). */
  logX?: boolean;
  /** A marker at every point (default false): for a few points, such as a metric against a setting. */
  points?: boolean;
  /**
   * Only with `logY`: a positive floor; y, lower and upper values below it are drawn at
   * the floor (e.g. an error that reached exactly 0, or a mean − std band that dips
   * below 0). Without it, any such value ≤ 0 throws `StaqInputError`.
   */
  logFloor?: number;
  /** Plot-area width in pixels (default 640); axes, title and legend add to it. */
  width?: number;
  /** Plot-area height in pixels (default 400). */
  height?: number;
  /**
   * Horizontal reference lines across the whole plot (e.g. a "solved" threshold), dashed
   * grey, each with its `label` (if any) at the right end, just above the line. They share
   * the y scale, so the axis stretches to show them; on a log scale they follow `logFloor`
   * like the data.
   */
  rules?: readonly ChartRule[];
}

export interface ChartRule {
  y: number;
  label?: string;
}

interface Row {
  series: string;
  x: number;
  y: number;
}

interface BandRow {
  series: string;
  x: number;
  lower: number;
  upper: number;
}

interface RuleRow {
  y: number;
  label: string;
}

type Modules = [typeof import("vega"), typeof import("vega-lite")];

/** The packages charts need: optional peer dependencies of staq (see package.json). */
const PLOT_PACKAGES = ["vega", "vega-lite"] as const;

/** The command that adds them, with the major versions staq is written against. */
export const INSTALL_PLOTTING = "npm install vega@6 vega-lite@6";

/**
 * Drawing a chart needs vega and vega-lite, and they are not installed (they are optional: see
 * the top of this file). Everything else in staq works without them.
 */
export class PlottingUnavailableError extends StaqError {}

let modules: Promise<Modules> | undefined;

/** True when `error` is Node's "cannot find package vega / vega-lite" (not a failure inside them). */
function isPlotPackageMissing(error: unknown): boolean {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") return false;
  // "Cannot find package 'vega' imported from ...": the package itself, not one of its own
  // dependencies (a broken install, which reinstalling fixes, is reported as a load failure).
  return PLOT_PACKAGES.some((name) => error.message.includes(`'${name}'`));
}

function loadModules(): Promise<Modules> {
  modules ??= Promise.all([import("vega"), import("vega-lite")]).catch((error: unknown) => {
    modules = undefined; // let a later call try again (after an install, say)
    if (isPlotPackageMissing(error)) {
      throw new PlottingUnavailableError(
        `drawing charts needs the packages vega and vega-lite, which staq leaves optional and which are not installed; ` +
          `install them next to staq with \`${INSTALL_PLOTTING}\``,
        { cause: error },
      );
    }
    throw new StaqError(`could not load vega / vega-lite (${(error as Error).message}); reinstall them with \`${INSTALL_PLOTTING}\``, {
      cause: error,
    });
  });
  return modules;
}

/**
 * Loads vega and vega-lite now, or throws `PlottingUnavailableError` when they are not installed:
 * for a command that will draw at the end of a long computation to fail before it, not after.
 */
export async function ensurePlotting(): Promise<void> {
  await loadModules();
}

/**
 * Renders `series` as lines (no points) on shared axes and returns a standalone SVG
 * document string (`<svg xmlns="http://www.w3.org/2000/svg" ...>...</svg>`),
 * deterministic for the same input.
 *
 * - Colours: one per series from the categorical scheme `tableau10`, in the order
 *   given (it repeats after 10 series); the legend lists the names in that order.
 * - Bands: a translucent area in the series colour, drawn under all lines.
 * - Validation (`StaqInputError`, naming the series and index): at least one series;
 *   names non-empty and unique; every series has ≥ 1 point; `x`, `y`, `lower`,
 *   `upper` have equal lengths; `lower` and `upper` come together; every value is
 *   finite (NaN / ±Infinity throw: no point is silently dropped); `lower ≤ upper`.
 * - Log scale (`logY: true`): values ≤ 0 cannot be drawn. By default any y, lower or
 *   upper ≤ 0 throws, telling you to use a linear scale or set `logFloor`; with
 *   `logFloor` such values (and any below the floor) are clamped to the floor and
 *   drawn there. Nothing is dropped either way.
 * - Rules (`options.rules`): each `y` finite (and, on a log scale, > 0 or floored as
 *   above); each `label` a string if given.
 */
export async function renderLineChartSvg(series: readonly LineSeries[], options: LineChartOptions): Promise<string> {
  const { rows, bandRows } = collectRows(series, options);
  const ruleRows = collectRules(options);
  const spec = buildSpec(
    series.map((s) => s.name),
    rows,
    bandRows,
    ruleRows,
    options,
  );
  const [vega, vegaLite] = await loadModules();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function checkOptions(options: LineChartOptions): void {
  if (options === null || typeof options !== "object") throw new StaqInputError("options must be an object with xTitle and yTitle");
  for (const key of ["xTitle", "yTitle"] as const) {
    if (typeof options[key] !== "string") throw new StaqInputError(`options.${key} must be a string, got ${typeof options[key]}`);
  }
  if (options.title !== undefined && typeof options.title !== "string")
    throw new StaqInputError(`options.title must be a string, got ${typeof options.title}`);
  for (const key of ["width", "height"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v > 0)) {
      throw new StaqInputError(`options.${key} must be a positive finite number of pixels, got ${String(v)}`);
    }
  }
  if (options.logFloor !== undefined) {
    if (!options.logY) throw new StaqInputError("options.logFloor only applies to a log y scale; set logY: true or drop logFloor");
    const f = options.logFloor;
    if (!(typeof f === "number" && Number.isFinite(f) && f > 0)) {
      throw new StaqInputError(`options.logFloor must be a positive finite number, got ${String(f)}`);
    }
  }
}

function collectRows(series: readonly LineSeries[], options: LineChartOptions): { rows: Row[]; bandRows: BandRow[] } {
  checkOptions(options);
  if (!Array.isArray(series) || series.length === 0) throw new StaqInputError("renderLineChartSvg needs at least one series");
  const logY = options.logY === true;
  const floor = options.logFloor;
  const names = new Set<string>();
  const rows: Row[] = [];
  const bandRows: BandRow[] = [];

  series.forEach((s, k) => {
    const name = s?.name;
    if (typeof name !== "string" || name.trim() === "")
      throw new StaqInputError(`series ${k} needs a non-empty name, got ${JSON.stringify(name)}`);
    if (names.has(name))
      throw new StaqInputError(`series name ${JSON.stringify(name)} is used twice; names must be unique (they label the legend)`);
    names.add(name);
    const label = `series ${JSON.stringify(name)}`;
    const n = lengthOf(s.x, `${label}: x`);
    if (n === 0) throw new StaqInputError(`${label} has no points`);
    const lengths: [string, ArrayLike<number> | undefined][] = [
      ["y", s.y],
      ["lower", s.lower],
      ["upper", s.upper],
    ];
    for (const [field, values] of lengths) {
      if (values === undefined && field !== "y") continue;
      const m = lengthOf(values, `${label}: ${field}`);
      if (m !== n) throw new StaqInputError(`${label}: ${field} has ${m} values but x has ${n}; they must have equal lengths`);
    }
    if ((s.lower === undefined) !== (s.upper === undefined)) {
      throw new StaqInputError(`${label}: a band needs both lower and upper (got only ${s.lower === undefined ? "upper" : "lower"})`);
    }

    /** A finite value, floored or rejected on a log scale. */
    const value = (values: ArrayLike<number>, field: string, i: number): number => {
      const v = values[i];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new StaqInputError(
          `${label}: ${field}[${i}] is ${String(v)}; every value must be a finite number (nothing is dropped silently)`,
        );
      }
      if (field === "x") {
        if (options.logX === true && v <= 0)
          throw new StaqInputError(`${label}: x[${i}] is ${v}, which a log x scale cannot draw; use a linear scale (logX: false)`);
        return v;
      }
      if (!logY) return v;
      if (floor !== undefined) return Math.max(v, floor);
      if (v <= 0) {
        throw new StaqInputError(
          `${label}: ${field}[${i}] is ${v}, which a log y scale cannot draw; use a linear scale (logY: false) or set options.logFloor to clamp values to a positive floor`,
        );
      }
      return v;
    };

    for (let i = 0; i < n; i++) {
      const x = value(s.x, "x", i);
      rows.push({ series: name, x, y: value(s.y, "y", i) });
      if (s.lower !== undefined && s.upper !== undefined) {
        const lower = value(s.lower, "lower", i);
        const upper = value(s.upper, "upper", i);
        if (lower > upper) throw new StaqInputError(`${label}: lower[${i}] = ${s.lower[i]} is above upper[${i}] = ${s.upper[i]}`);
        bandRows.push({ series: name, x, lower, upper });
      }
    }
  });
  return { rows, bandRows };
}

function collectRules(options: LineChartOptions): RuleRow[] {
  const rules = options.rules;
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) throw new StaqInputError("options.rules must be an array of {y, label?}");
  return rules.map((rule: ChartRule, i) => {
    const y = rule?.y;
    if (typeof y !== "number" || !Number.isFinite(y))
      throw new StaqInputError(`options.rules[${i}].y is ${String(y)}; it must be a finite number`);
    const label = rule.label ?? "";
    if (typeof label !== "string") throw new StaqInputError(`options.rules[${i}].label must be a string, got ${typeof label}`);
    if (!options.logY || y > 0) return { y, label };
    if (options.logFloor !== undefined) return { y: Math.max(y, options.logFloor), label };
    throw new StaqInputError(`options.rules[${i}].y is ${y}, which a log y scale cannot draw; use a linear scale or set options.logFloor`);
  });
}

function lengthOf(values: ArrayLike<number> | undefined, what: string): number {
  const n = (values as { length?: unknown } | null | undefined)?.length;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new StaqInputError(`${what} must be an array of numbers`);
  return n;
}

function buildSpec(names: string[], rows: Row[], bandRows: BandRow[], ruleRows: RuleRow[], options: LineChartOptions): TopLevelSpec {
  const xScale = options.logX ? ({ type: "log" } as const) : ({ zero: false } as const);
  const x = { field: "x", type: "quantitative", title: options.xTitle, scale: xScale } as const;
  const yScale = options.logY ? ({ type: "log" } as const) : ({ zero: false } as const);
  const color = {
    field: "series",
    type: "nominal",
    scale: { domain: names, scheme: "tableau10" },
    legend: { title: null, symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 2 },
  } as const;

  const line = {
    data: { values: rows },
    mark: { type: "line", point: options.points === true, interpolate: "linear" },
    encoding: { x, y: { field: "y", type: "quantitative", title: options.yTitle, scale: yScale }, color },
  } as const;
  const band = {
    data: { values: bandRows },
    mark: { type: "area", opacity: 0.2, interpolate: "linear" },
    encoding: {
      x,
      y: { field: "lower", type: "quantitative", title: options.yTitle, scale: yScale, stack: null },
      y2: { field: "upper" },
      color,
    },
  } as const;

  // A rule with only a y encoding spans the plot's width; its label sits at the right edge.
  const ruleY = { field: "y", type: "quantitative", title: options.yTitle, scale: yScale } as const;
  const rule = {
    data: { values: ruleRows },
    mark: { type: "rule", color: "#666666", strokeDash: [6, 4] as number[], strokeWidth: 1.5 },
    encoding: { y: ruleY },
  } as const;
  const ruleLabel = {
    data: { values: ruleRows },
    mark: { type: "text", color: "#444444", align: "right", baseline: "bottom", dx: -4, dy: -3 },
    encoding: { x: { value: "width" }, y: ruleY, text: { field: "label", type: "nominal" } },
  } as const;
  const rules = ruleRows.length > 0 ? [rule, ruleLabel] : [];

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(options.title !== undefined ? { title: options.title } : {}),
    width: options.width ?? 640,
    height: options.height ?? 400,
    background: "white",
    layer: [...(bandRows.length > 0 ? [band] : []), line, ...rules],
  };
}
