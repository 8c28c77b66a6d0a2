// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Replays a MinAtar reference file recorded from upstream (docs/formats.md, “Reference data”)
 * through the `Env` users train on: for every episode, a new full-action-set MinatarEnv reset with
 * the episode's seed (as upstream's `Environment(game).seed(seed)`, which shares one RandomState
 * between the sticky-action rule and the game), compare the observation's set cells with
 * `initial_state`, then step each recorded action and compare the set cells, the reward and the
 * terminal flag. Returns the first mismatch, if any.
 */
import { StaqFormatError } from "../../errors.ts";
import { isSeed, NUMPY_MAX_SEED } from "../../random/seed.ts";
import { array, describe, isObject, nothingToCheck } from "../reference-format.ts";
import { MINATAR_ACTIONS, type MinatarGameFactory } from "./game.ts";
import { MinatarEnv } from "./minatar-env.ts";

type Cell = [number, number, number];

/** The frame's side: MinAtar frames are 10 × 10 × channels. */
const SIDE = 10;

interface MinatarReference {
  env: string;
  state_shape: [number, number, number];
  minimal_action_set: number[];
  sticky_action_prob: number;
  difficulty_ramping: boolean;
  episodes: { seed: number; initial_state: Cell[]; actions: number[]; state_nonzero: Cell[][]; reward: number[]; terminal: boolean[] }[];
}

export interface MinatarMismatch {
  /** Index into `episodes`. */
  episode: number;
  /** The episode's seed. */
  seed: number;
  /** The step (−1: right after reset). */
  step: number;
  field: "state" | "reward" | "terminal" | "channels" | "minimal_action_set";
  /** For "state": the set cells [row, col, channel], sorted. */
  expected: unknown;
  got: unknown;
}

export interface MinatarReferenceReport {
  env: string;
  episodes: number;
  steps: number;
  mismatch?: MinatarMismatch;
}

/** The set cells of a MinAtar observation (10 × 10 × C, channels last) as [row, col, channel]. */
export function setCells(obs: Float32Array, channels: number): Cell[] {
  const cells: Cell[] = [];
  for (let i = 0; i < obs.length; i++)
    if (obs[i] !== 0) cells.push([Math.floor(i / (SIDE * channels)), Math.floor(i / channels) % SIDE, i % channels]);
  return cells;
}

const sorted = (cells: readonly Cell[]): Cell[] => [...cells].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
const same = (a: readonly Cell[], b: readonly Cell[]) => JSON.stringify(a) === JSON.stringify(b);

/** The first top-level field of a MinAtar reference file that is missing or of the wrong type, or undefined. */
function wrongField(r: Partial<MinatarReference>): string | undefined {
  if (typeof r.env !== "string") return "env (a string)";
  if (!Array.isArray(r.episodes)) return "episodes (an array)";
  if (!Array.isArray(r.state_shape)) return "state_shape (an array)";
  if (typeof r.sticky_action_prob !== "number") return "sticky_action_prob (a number)";
  // The format requires it, and a string like "no" would otherwise reach the game as truthy.
  if (typeof r.difficulty_ramping !== "boolean") return "difficulty_ramping (true or false)";
  return undefined;
}

const isIndex = (value: unknown, size: number) => Number.isInteger(value) && (value as number) >= 0 && (value as number) < size;

/** `value` as one entry per step: an array of as many entries as there are actions. */
const perStep = (value: unknown, where: string, steps: number): unknown[] => array(value, where, steps, ", one entry per action");

/** `value` as a frame's set cells, each [row, col, channel] inside the frame of `channels` channels. */
function frame(value: unknown, where: string, channels: number): Cell[] {
  if (!Array.isArray(value)) throw new StaqFormatError(`${where} must be an array of [row, col, channel] cells; got ${describe(value)}`);
  value.forEach((cell, k) => {
    if (!(Array.isArray(cell) && cell.length === 3 && isIndex(cell[0], SIDE) && isIndex(cell[1], SIDE) && isIndex(cell[2], channels))) {
      throw new StaqFormatError(
        `${where}[${k}] must be a cell [row, col, channel] with row and col in 0..${SIDE - 1} and channel in 0..${channels - 1} (state_shape [${SIDE},${SIDE},${channels}]); got ${describe(cell)}`,
      );
    }
  });
  return value as Cell[];
}

/**
 * Checks every field the replay reads, so that a malformed file is a StaqFormatError naming the
 * field before anything runs: without these checks a frame that is not a list of cells ended in
 * "cells is not iterable" (and, in `staq check-env`, stopped the other files), an episode without
 * a seed was reset unseeded and reported as a nondeterministic mismatch, and a reward list shorter
 * than the actions as "expected undefined". An empty file, or an episode without a step, is refused
 * too: it would pass having checked nothing. `actionCount` is the full action set's size.
 */
function parseReference(json: unknown, actionCount: number): MinatarReference {
  const r = (json !== null && typeof json === "object" ? json : {}) as Partial<MinatarReference>;
  const wrong = wrongField(r);
  if (wrong !== undefined) {
    throw new StaqFormatError(
      `not a MinAtar reference file: ${wrong} is missing or of the wrong type; expected {env, state_shape, minimal_action_set, sticky_action_prob, difficulty_ramping, episodes: [...]} (docs/formats.md, “Reference data”)`,
    );
  }
  const reference = r as MinatarReference;
  const shape: unknown[] = reference.state_shape;
  if (!(shape.length === 3 && shape[0] === SIDE && shape[1] === SIDE && Number.isInteger(shape[2]) && (shape[2] as number) >= 1)) {
    throw new StaqFormatError(`state_shape must be [${SIDE}, ${SIDE}, channels]; got ${describe(shape)}`);
  }
  const channels = reference.state_shape[2];
  const sticky = reference.sticky_action_prob;
  if (!(sticky >= 0 && sticky <= 1)) throw new StaqFormatError(`sticky_action_prob must be a number in [0, 1]; got ${describe(sticky)}`);
  const minimal: unknown = reference.minimal_action_set;
  if (!(Array.isArray(minimal) && minimal.every((a) => isIndex(a, actionCount)))) {
    throw new StaqFormatError(`minimal_action_set must be an array of actions in 0..${actionCount - 1}; got ${describe(minimal)}`);
  }
  if (reference.episodes.length === 0) throw nothingToCheck("episodes", "episode");
  reference.episodes.forEach((episode: unknown, e) => {
    const where = `episodes[${e}]`;
    if (!isObject(episode)) throw new StaqFormatError(`${where} must be an object; got ${describe(episode)}`);
    const seed = episode.seed;
    // numpy RandomState's limit, which MinatarEnv.reset checks too.
    if (!isSeed(seed, NUMPY_MAX_SEED)) {
      throw new StaqFormatError(
        `${where}.seed must be an integer in [0, 2^32 - 1] (the episode is replayed from it, as upstream's seed(seed)); got ${describe(seed)}`,
      );
    }
    frame(episode.initial_state, `${where}.initial_state`, channels);
    const actions = array(episode.actions, `${where}.actions`);
    if (actions.length === 0)
      throw new StaqFormatError(`${where} has no actions: record at least one step (docs/formats.md, “Reference data”)`);
    actions.forEach((action, t) => {
      if (!isIndex(action, actionCount)) {
        throw new StaqFormatError(
          `${where}.actions[${t}] must be an integer in 0..${actionCount - 1} (the full action set); got ${describe(action)}`,
        );
      }
    });
    const steps = actions.length;
    perStep(episode.state_nonzero, `${where}.state_nonzero`, steps).forEach((cells, t) =>
      frame(cells, `${where}.state_nonzero[${t}]`, channels),
    );
    perStep(episode.reward, `${where}.reward`, steps).forEach((reward, t) => {
      if (typeof reward !== "number") throw new StaqFormatError(`${where}.reward[${t}] must be a number; got ${describe(reward)}`);
    });
    perStep(episode.terminal, `${where}.terminal`, steps).forEach((flag, t) => {
      if (typeof flag !== "boolean") throw new StaqFormatError(`${where}.terminal[${t}] must be true or false; got ${describe(flag)}`);
    });
  });
  return reference;
}

export function checkMinatarReference(json: unknown, factory: MinatarGameFactory): MinatarReferenceReport {
  // The full action set's size, for the file's actions: the same for every game.
  const reference = parseReference(json, MINATAR_ACTIONS.length);
  const options = { stickyActionProb: reference.sticky_action_prob, difficultyRamping: reference.difficulty_ramping };
  const report: MinatarReferenceReport = { env: reference.env, episodes: 0, steps: 0 };
  const make = () => new MinatarEnv(factory, options);
  const probe = make();
  const channels = probe.observationShape[2];
  if (channels !== reference.state_shape[2]) {
    return { ...report, mismatch: { episode: 0, seed: 0, step: -1, field: "channels", expected: reference.state_shape[2], got: channels } };
  }
  if (JSON.stringify([...probe.game.minimalActions]) !== JSON.stringify(reference.minimal_action_set)) {
    return {
      ...report,
      mismatch: {
        episode: 0,
        seed: 0,
        step: -1,
        field: "minimal_action_set",
        expected: reference.minimal_action_set,
        got: [...probe.game.minimalActions],
      },
    };
  }
  for (const [index, episode] of reference.episodes.entries()) {
    const env = make();
    const initial = sorted(setCells(env.reset({ seed: episode.seed }).obs, channels));
    const expectedInitial = sorted(episode.initial_state);
    if (!same(initial, expectedInitial))
      return {
        ...report,
        mismatch: { episode: index, seed: episode.seed, step: -1, field: "state", expected: expectedInitial, got: initial },
      };
    for (let t = 0; t < episode.actions.length; t++) {
      const { obs, reward, terminated } = env.step(episode.actions[t]);
      const cells = sorted(setCells(obs, channels));
      const expected = sorted(episode.state_nonzero[t]);
      if (!same(cells, expected))
        return { ...report, mismatch: { episode: index, seed: episode.seed, step: t, field: "state", expected, got: cells } };
      if (reward !== episode.reward[t])
        return {
          ...report,
          mismatch: { episode: index, seed: episode.seed, step: t, field: "reward", expected: episode.reward[t], got: reward },
        };
      if (terminated !== episode.terminal[t])
        return {
          ...report,
          mismatch: { episode: index, seed: episode.seed, step: t, field: "terminal", expected: episode.terminal[t], got: terminated },
        };
      report.steps++;
      if (terminated && t + 1 < episode.actions.length) {
        return {
          ...report,
          mismatch: {
            episode: index,
            seed: episode.seed,
            step: t + 1,
            field: "terminal",
            expected: "more steps after the terminal one",
            got: "the episode ended (the Env refuses steps after termination)",
          },
        };
      }
    }
    report.episodes++;
  }
  return report;
}
