/**
 * Divergence: training that produced a NaN or an infinity. Once one is in the networks every later
 * iteration is garbage, and a checkpoint holding it cannot be restored, so the agent checks the
 * numbers it reads back anyway (each iteration's losses and policy change, the state a checkpoint
 * saves) and stops with an error that says what went non-finite, when, and what to change.
 */
import { StaqError } from "../errors.ts";
import type { StaqConfig } from "./config.ts";
import type { IterationMetrics } from "./metrics.ts";

export interface DivergenceDetails {
  /** The iteration (1-based, as in the metrics) whose numbers were not finite. */
  iteration: number;
  globalStep: number;
  /** What was not finite, and its value: ["losses/td_loss", NaN], ["the online networks' weights", Infinity]. */
  quantities: [string, number][];
  /** The settings the hints refer to. */
  settings: Pick<StaqConfig, "adamEps" | "rewardScale" | "lr" | "maxGradNorm">;
}

/** How a setting is called where the error is read: the config key ("adamEps") or a flag ("--adam-eps"). */
export type SettingName = (key: "adamEps" | "rewardScale" | "lr" | "maxGradNorm") => string;

/** The likely causes, the most likely first. */
function hints(settings: DivergenceDetails["settings"], name: SettingName): string {
  const smaller = `a smaller ${name("rewardScale")} (now ${settings.rewardScale}) or ${name("lr")} (now ${settings.lr})`;
  const clip = settings.maxGradNorm === 0 ? `, or ${name("maxGradNorm")} > 0 to clip the gradient` : "";
  if (settings.adamEps === 0) {
    // Adam's update m / (sqrt(v) + eps) is 0 / 0 for a weight whose gradient has always been 0.
    return `set ${name("adamEps")} > 0 (e.g. 1e-8): with 0, Adam divides 0 by 0 for a weight whose gradient is exactly 0; otherwise try ${smaller}${clip}`;
  }
  return `try ${smaller}${clip}`;
}

export function describeDivergence(details: DivergenceDetails, name: SettingName = (key) => key): string {
  const what = details.quantities.map(([quantity, value]) => `${quantity} is ${value}`).join(", ");
  return `training diverged at iteration ${details.iteration} (step ${details.globalStep}): ${what}; ${hints(details.settings, name)}`;
}

/** Training went non-finite; `details` says where, the message what to change. */
export class StaqDivergenceError extends StaqError {
  constructor(
    readonly details: DivergenceDetails,
    options: { name?: SettingName; note?: string; cause?: unknown } = {},
  ) {
    super(`${describeDivergence(details, options.name)}${options.note ? `; ${options.note}` : ""}`, { cause: options.cause });
  }
}

/** The numbers of an iteration that measure the networks (timings and counts cannot diverge). */
const CHECKED_METRICS = [
  "losses/td_loss",
  "losses/q_values",
  "losses/grad_norm",
  "policy/entropy",
  "policy/kl",
  "stack/correction",
] as const;

/** The non-finite ones among `metrics`' losses and policy change (null: not measured). */
export function nonFiniteMetrics(metrics: Partial<IterationMetrics>): [string, number][] {
  const found: [string, number][] = [];
  for (const key of CHECKED_METRICS) {
    const value = metrics[key];
    if (typeof value === "number" && !Number.isFinite(value)) found.push([key, value]);
  }
  return found;
}

/** The first non-finite value of each array, named ("the online networks' weights"). */
export function nonFiniteArrays(arrays: readonly [string, Float32Array | Float64Array | undefined][]): [string, number][] {
  const found: [string, number][] = [];
  for (const [name, data] of arrays) {
    const value = data?.find((x) => !Number.isFinite(x));
    if (value !== undefined) found.push([name, value]);
  }
  return found;
}
