/**
 * A sweep file (docs/sweeps.md): a base run, a grid of overrides and an output directory. Each
 * point of the grid is an ordinary `staq train` run directory, named after its overrides the way
 * Hydra names its multirun directories: `OUT/algo=dqn,env=CartPole-v1,seed=0`.
 *
 *   {
 *     "out": "runs/memory",                              relative to the sweep file's directory
 *     "base": { "env": "CartPole-v1", "preset": "quick", "totalSteps": 30000 },
 *     "grid": { "memory": [1, 5, 10], "seed": [0, 1, 2] },  or a list of such grids (their union)
 *     "checkpointEvery": 20                              optional: iterations between checkpoints
 *   }
 *
 * The keys of base and of a grid are "env", "preset" and any config field (`staq train --help`
 * lists them, in their API spelling: totalSteps, batchSize). A grid's points are the product of its
 * lists, the last key varying fastest. Every point is resolved and checked when the file is read, so
 * a typo fails the sweep before any run starts; points that resolve to the same run are kept once.
 */
import { isAbsolute, join, resolve, dirname } from "node:path";
import { CONFIG_FIELDS, flagName, resolveConfig, type Algo, type StaqConfig } from "../agent/config.ts";
import { defaultPreset, presetConfig, presetName } from "../agent/presets.ts";
import { loadMinatar } from "../cli/minatar-module.ts";
import { isGymName, parseGymName } from "../envs/gym/gym-name.ts";
import { registeredEnvs } from "../envs/registry.ts";
import { validateMlpSpec } from "../stack/mlp.ts";
import { StaqFormatError, StaqInputError } from "../errors.ts";

/** One run of the sweep. */
export interface SweepPoint {
  /** The run directory's name inside the sweep's output directory: `memory=5,seed=0`. */
  name: string;
  /** The run directory. */
  dir: string;
  env: string;
  /** The preset's resolved name (`dqn-quick` for preset "quick" with algo "dqn"). */
  preset: string;
  /** The config fields the sweep sets (from base and grid), as `staq train` flags would. */
  overrides: Partial<StaqConfig>;
  /** The run's whole config: the preset with the overrides. */
  config: StaqConfig;
}

export interface Sweep {
  /** The sweep file, absolute. */
  file: string;
  /** The output directory, absolute. */
  out: string;
  /** Iterations between checkpoints of every run (undefined: staq train's default, about every 60 s). */
  checkpointEvery?: number;
  points: SweepPoint[];
}

const TOP_KEYS = ["description", "out", "base", "grid", "checkpointEvery"] as const;
const RUN_KEYS = new Set<string>(["env", "preset", ...CONFIG_FIELDS.map((f) => f.key)]);

type Settings = Record<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as it appears in a directory name: numbers as JavaScript writes them, lists joined by "x". */
function nameValue(value: unknown): string {
  const text = Array.isArray(value) ? value.join("x") : String(value);
  // A directory name: MinAtar/Breakout-v1 becomes MinAtar-Breakout-v1; nothing outside this set survives.
  return text.replace(/[^A-Za-z0-9._+-]+/g, "-");
}

/** `memory=5,seed=0`: the point's grid keys in the grid's order ("run" for a sweep of one point). */
export function pointName(entries: readonly (readonly [string, unknown])[]): string {
  return entries.length === 0 ? "run" : entries.map(([key, value]) => `${key}=${nameValue(value)}`).join(",");
}

function checkRunKeys(settings: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(settings)) {
    if (!RUN_KEYS.has(key)) {
      throw new StaqFormatError(
        `${where}: unknown key ${JSON.stringify(key)}; the keys are "env", "preset" and the config fields: ${CONFIG_FIELDS.map((f) => f.key).join(", ")}`,
      );
    }
  }
}

/** The grids of the file: one object, or a non-empty list of them. */
function readGrids(grid: unknown, where: string): Record<string, unknown[]>[] {
  if (grid === undefined) return [{}];
  const grids = Array.isArray(grid) ? grid : [grid];
  if (grids.length === 0)
    throw new StaqFormatError(`${where}: "grid" is an empty list; give at least one grid, or leave it out for one run`);
  return grids.map((g, i) => {
    const at = Array.isArray(grid) ? `${where}: grid[${i}]` : `${where}: grid`;
    if (!isPlainObject(g))
      throw new StaqFormatError(`${at} must be an object of lists, e.g. {"seed": [0, 1, 2]}; got ${JSON.stringify(g)}`);
    checkRunKeys(g, at);
    for (const [key, values] of Object.entries(g)) {
      if (!Array.isArray(values) || values.length === 0)
        throw new StaqFormatError(`${at}.${key} must be a non-empty list of values; got ${JSON.stringify(values)}`);
    }
    return g as Record<string, unknown[]>;
  });
}

/**
 * The most points a sweep file may have. Every point is built and resolved when the file is read (a
 * config each, all held at once), and each is a whole `staq train` run: a grid far past this is a
 * mistake (a key too many), and building it would run out of memory before any check could say so.
 */
export const MAX_SWEEP_POINTS = 100_000;

/** How many points the grids make (before runs two grids share are merged), counted without building them. */
function gridSize(grids: readonly Record<string, unknown[]>[]): number {
  return grids.reduce((sum, grid) => sum + Object.values(grid).reduce((size, values) => size * values.length, 1), 0);
}

/** Refuses grids whose product is past MAX_SWEEP_POINTS, before building it. */
function checkGridSize(grids: readonly Record<string, unknown[]>[], where: string): void {
  const size = gridSize(grids);
  if (size <= MAX_SWEEP_POINTS) return;
  const shape = grids
    .map((grid) =>
      Object.entries(grid)
        .map(([key, values]) => `${values.length} ${key}`)
        .join(" × "),
    )
    .join(" + ");
  throw new StaqFormatError(
    `${where}: the grid makes ${size} points (${shape}), more than the ${MAX_SWEEP_POINTS} a sweep may have; give fewer keys or fewer values, or split it into several sweep files`,
  );
}

/**
 * The longest name a file system takes for one directory entry (NAME_MAX: 255 bytes on Linux's and
 * macOS's file systems); a point's directory is named after its grid values, so a long grid can pass it.
 */
const MAX_NAME_BYTES = 255;

/** Refuses a point whose directory name no file system would take, when the file is read rather than when it runs. */
function checkNameLength(name: string, where: string): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes <= MAX_NAME_BYTES) return;
  throw new StaqFormatError(
    `${where}: point ${name}: its directory name is ${bytes} bytes long, more than the ${MAX_NAME_BYTES} a file system takes; give the grid fewer keys (move the ones with one value to "base") or shorter values`,
  );
}

/** Every combination of the grid's lists, the last key varying fastest. */
function product(grid: Record<string, unknown[]>): [string, unknown][][] {
  let combos: [string, unknown][][] = [[]];
  for (const [key, values] of Object.entries(grid))
    combos = combos.flatMap((combo) => values.map((v) => [...combo, [key, v] as [string, unknown]]));
  return combos;
}

const isMinatarName = (env: string) => env.startsWith("MinAtar/");

/**
 * Refuses an environment name `staq train` would refuse. gym: names are read as train reads them
 * (the id itself is Gymnasium's to know, in the worker); MinAtar games register only when their
 * module loads, so they are checked by checkMinatarEnvs.
 */
function checkEnvName(env: string, where: string): void {
  if (isGymName(env)) {
    try {
      parseGymName(env);
    } catch (error) {
      if (error instanceof StaqInputError) throw new StaqFormatError(`${where}: ${error.message}`, { cause: error });
      throw error;
    }
    return;
  }
  if (isMinatarName(env) || registeredEnvs().some((r) => r.name === env)) return;
  throw new StaqFormatError(
    `${where}: no environment named ${JSON.stringify(env)}; known: ${registeredEnvs()
      .filter((r) => !isMinatarName(r.name))
      .map((r) => r.name)
      .join(", ")}, MinAtar/<game>-v1, gym:<Gymnasium id>`,
  );
}

/**
 * Refuses a point whose MinAtar game does not exist, loading the MinAtar module (as train does)
 * only when the sweep has a MinAtar point; the error names the file, the point and the games.
 */
export async function checkMinatarEnvs(sweep: Sweep, load: (why: string) => Promise<unknown> = loadMinatar): Promise<void> {
  const minatar = sweep.points.filter((p) => isMinatarName(p.env));
  if (minatar.length === 0) return;
  await load(`the sweep's MinAtar points (${minatar[0].env})`);
  const known = new Set(registeredEnvs().map((r) => r.name));
  const unknown = minatar.find((p) => !known.has(p.env));
  if (unknown)
    throw new StaqFormatError(
      `${sweep.file}: point ${unknown.name}: no environment named ${JSON.stringify(unknown.env)}; the MinAtar games are: ${[...known]
        .filter(isMinatarName)
        .join(", ")}`,
    );
}

/** A point's settings resolved to a run: the environment, the preset's name and the whole config. */
function resolvePoint(settings: Settings, where: string): Omit<SweepPoint, "name" | "dir"> {
  const { env, preset, ...fields } = settings;
  if (typeof env !== "string" || env.length === 0)
    throw new StaqFormatError(
      `${where}: "env" must be an environment's name (in "base" or the grid; \`staq envs\` lists them); got ${JSON.stringify(env)}`,
    );
  checkEnvName(env, where);
  if (preset !== undefined && typeof preset !== "string")
    throw new StaqFormatError(`${where}: "preset" must be a preset's name; got ${JSON.stringify(preset)}`);
  const algo = typeof fields.algo === "string" ? (fields.algo as Algo) : undefined;
  try {
    const name = presetName(preset ?? defaultPreset(env, algo), algo);
    const config = resolveConfig(presetConfig(name), fields);
    // The widths' limits (at most MAX_HIDDEN_LAYERS layers) as the agent will check them, now rather
    // than when the point's run starts; inputs and outputs come from the environment then.
    validateMlpSpec({ inputs: 1, hidden: config.hidden, outputs: 1 });
    return { env, preset: name, overrides: fields as Partial<StaqConfig>, config };
  } catch (error) {
    if (error instanceof StaqInputError) throw new StaqFormatError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** What makes two points the same run. */
function runIdentity(point: Omit<SweepPoint, "name" | "dir">): string {
  return JSON.stringify([point.env, point.preset, CONFIG_FIELDS.map((f) => point.config[f.key])]);
}

/**
 * Reads a sweep from its parsed JSON. `file` is the sweep file's path (relative "out" is resolved
 * from its directory); `outOverride`, when given, replaces "out" (resolved from the working directory).
 */
export function parseSweep(json: unknown, file: string, outOverride?: string): Sweep {
  const where = file;
  if (!isPlainObject(json))
    throw new StaqFormatError(
      `${where}: a sweep file is a JSON object with "out", "base" and "grid"; got ${JSON.stringify(json)?.slice(0, 80)}`,
    );
  for (const key of Object.keys(json)) {
    if (!(TOP_KEYS as readonly string[]).includes(key))
      throw new StaqFormatError(
        `${where}: unknown key ${JSON.stringify(key)}; a sweep file has ${TOP_KEYS.map((k) => JSON.stringify(k)).join(", ")}`,
      );
  }
  if (json.description !== undefined && typeof json.description !== "string")
    throw new StaqFormatError(`${where}: "description" must be a string`);
  // --out replaces the file's "out": a bad --out is named as the flag, with its own value.
  if (outOverride !== undefined && outOverride.length === 0) throw new StaqInputError(`--out must be the sweep's output directory; got ""`);
  const outText = outOverride ?? json.out;
  if (typeof outText !== "string" || outText.length === 0)
    throw new StaqFormatError(
      `${where}: "out" must be the sweep's output directory (relative to the sweep file); got ${JSON.stringify(json.out)}`,
    );
  const out = outOverride !== undefined ? resolve(outText) : isAbsolute(outText) ? outText : resolve(dirname(resolve(file)), outText);
  const checkpointEvery = json.checkpointEvery;
  if (checkpointEvery !== undefined && !(Number.isSafeInteger(checkpointEvery) && (checkpointEvery as number) >= 1))
    throw new StaqFormatError(
      `${where}: "checkpointEvery" must be an integer >= 1 (iterations between checkpoints); got ${JSON.stringify(checkpointEvery)}`,
    );
  const base = json.base ?? {};
  if (!isPlainObject(base)) throw new StaqFormatError(`${where}: "base" must be an object of run settings; got ${JSON.stringify(base)}`);
  checkRunKeys(base, `${where}: base`);

  const points: SweepPoint[] = [];
  const byIdentity = new Map<string, SweepPoint>();
  const byName = new Map<string, SweepPoint>();
  const grids = readGrids(json.grid, where);
  checkGridSize(grids, where);
  for (const grid of grids) {
    for (const entries of product(grid)) {
      const name = pointName(entries);
      checkNameLength(name, where);
      const resolved = resolvePoint({ ...base, ...Object.fromEntries(entries) }, `${where}: point ${name}`);
      const identity = runIdentity(resolved);
      if (byIdentity.has(identity)) continue; // the same run reached from two grids: trained once
      const clash = byName.get(name);
      if (clash)
        throw new StaqFormatError(
          `${where}: two different runs would share the directory ${name}; give the grids that make them the keys that tell them apart`,
        );
      const point: SweepPoint = { name, dir: join(out, name), ...resolved };
      points.push(point);
      byIdentity.set(identity, point);
      byName.set(name, point);
    }
  }
  return { file: resolve(file), out, ...(checkpointEvery !== undefined ? { checkpointEvery: checkpointEvery as number } : {}), points };
}

/** The `staq train` arguments of a new run of the point (a resumed one passes --resume and --out only). */
export function trainArguments(sweep: Sweep, point: SweepPoint): string[] {
  const args = ["--env", point.env, "--preset", point.preset, "--out", point.dir];
  for (const field of CONFIG_FIELDS) {
    const value = point.overrides[field.key];
    if (value === undefined) continue;
    args.push(`--${field.key === "totalSteps" ? "steps" : flagName(field.key)}`, Array.isArray(value) ? value.join(",") : String(value));
  }
  if (sweep.checkpointEvery !== undefined) args.push("--checkpoint-every", String(sweep.checkpointEvery));
  return args;
}
