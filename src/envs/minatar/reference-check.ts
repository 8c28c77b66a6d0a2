// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Replays a MinAtar reference file recorded from upstream (DESIGN §4.2) through a port: for every
 * episode, RandomState(seed) shared with the game (as upstream's Environment.seed does), reset,
 * compare the set cells with `initial_state`, then apply each recorded action and compare the set
 * cells, the reward and the terminal flag. Returns the first mismatch, if any.
 */
import { StaqFormatError } from "../../errors.ts";
import { RandomState } from "../random-state.ts";
import type { MinatarGame, MinatarGameFactory } from "./game.ts";

type Cell = [number, number, number];

interface MinatarReference {
  env: string;
  state_shape: [number, number, number];
  minimal_action_set: number[];
  sticky_action_prob: number;
  difficulty_ramping: boolean;
  episodes: { seed: number; initial_state: Cell[]; actions: number[]; state_nonzero: Cell[][]; reward: number[]; terminal: boolean[] }[];
}

export interface MinatarMismatch {
  /** The episode's seed. */
  seed: number;
  /** The step (−1: right after reset). */
  step: number;
  field: "state" | "reward" | "terminal" | "channels" | "minimal_action_set";
  expected: unknown;
  got: unknown;
}

export interface MinatarReferenceReport {
  env: string;
  episodes: number;
  steps: number;
  mismatch?: MinatarMismatch;
}

/** The set cells of the game's state as [row, col, channel], sorted. */
export function setCells(game: MinatarGame, buffer = new Float32Array(100 * game.channels.length)): Cell[] {
  game.state(buffer);
  const c = game.channels.length;
  const cells: Cell[] = [];
  for (let i = 0; i < buffer.length; i++) if (buffer[i] !== 0) cells.push([Math.floor(i / (10 * c)), Math.floor(i / c) % 10, i % c]);
  return cells;
}

const sortedKey = (cells: readonly Cell[]) => JSON.stringify([...cells].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]));

function parseReference(json: unknown): MinatarReference {
  const r = json as Partial<MinatarReference> | null;
  if (!r || typeof r.env !== "string" || !Array.isArray(r.episodes) || !Array.isArray(r.state_shape) || typeof r.sticky_action_prob !== "number") {
    throw new StaqFormatError("not a MinAtar reference file: expected {env, state_shape, minimal_action_set, sticky_action_prob, difficulty_ramping, episodes: [...]} (DESIGN §4.2)");
  }
  r.episodes.forEach((e, i) => {
    if (!Array.isArray(e.actions) || !Array.isArray(e.state_nonzero) || !Array.isArray(e.reward) || !Array.isArray(e.terminal) || e.state_nonzero.length !== e.actions.length) {
      throw new StaqFormatError(`MinAtar reference episode ${i}: actions, state_nonzero, reward and terminal must be arrays of the same length`);
    }
  });
  return r as MinatarReference;
}

export function checkMinatarReference(json: unknown, factory: MinatarGameFactory): MinatarReferenceReport {
  const reference = parseReference(json);
  const options = { stickyActionProb: reference.sticky_action_prob, difficultyRamping: reference.difficulty_ramping };
  const report: MinatarReferenceReport = { env: reference.env, episodes: 0, steps: 0 };
  const probe = factory(new RandomState(0), options);
  if (probe.channels.length !== reference.state_shape[2]) {
    return { ...report, mismatch: { seed: 0, step: -1, field: "channels", expected: reference.state_shape[2], got: probe.channels.length } };
  }
  if (JSON.stringify([...probe.minimalActions]) !== JSON.stringify(reference.minimal_action_set)) {
    return { ...report, mismatch: { seed: 0, step: -1, field: "minimal_action_set", expected: reference.minimal_action_set, got: [...probe.minimalActions] } };
  }
  for (const episode of reference.episodes) {
    const game = factory(new RandomState(episode.seed), options);
    const buffer = new Float32Array(100 * game.channels.length);
    game.reset();
    const initial = sortedKey(setCells(game, buffer));
    if (initial !== sortedKey(episode.initial_state)) return { ...report, mismatch: { seed: episode.seed, step: -1, field: "state", expected: sortedKey(episode.initial_state), got: initial } };
    for (let t = 0; t < episode.actions.length; t++) {
      const { reward, terminal } = game.act(episode.actions[t]);
      const cells = sortedKey(setCells(game, buffer));
      const expected = sortedKey(episode.state_nonzero[t]);
      if (cells !== expected) return { ...report, mismatch: { seed: episode.seed, step: t, field: "state", expected, got: cells } };
      if (reward !== episode.reward[t]) return { ...report, mismatch: { seed: episode.seed, step: t, field: "reward", expected: episode.reward[t], got: reward } };
      if (terminal !== episode.terminal[t]) return { ...report, mismatch: { seed: episode.seed, step: t, field: "terminal", expected: episode.terminal[t], got: terminal } };
      report.steps++;
    }
    report.episodes++;
  }
  return report;
}
