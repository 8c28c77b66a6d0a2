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
import type { MinatarGameFactory } from "./game.ts";
import { MinatarEnv } from "./minatar-env.ts";

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
    if (obs[i] !== 0) cells.push([Math.floor(i / (10 * channels)), Math.floor(i / channels) % 10, i % channels]);
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

function parseReference(json: unknown): MinatarReference {
  const r = (json !== null && typeof json === "object" ? json : {}) as Partial<MinatarReference>;
  const wrong = wrongField(r);
  if (wrong !== undefined) {
    throw new StaqFormatError(
      `not a MinAtar reference file: ${wrong} is missing or of the wrong type; expected {env, state_shape, minimal_action_set, sticky_action_prob, difficulty_ramping, episodes: [...]} (docs/formats.md, “Reference data”)`,
    );
  }
  (r as MinatarReference).episodes.forEach((e, i) => {
    if (
      e === null ||
      typeof e !== "object" ||
      !Array.isArray(e.actions) ||
      !Array.isArray(e.state_nonzero) ||
      !Array.isArray(e.reward) ||
      !Array.isArray(e.terminal) ||
      e.state_nonzero.length !== e.actions.length
    ) {
      throw new StaqFormatError(
        `MinAtar reference episode ${i}: actions, state_nonzero, reward and terminal must be arrays of the same length`,
      );
    }
  });
  return r as MinatarReference;
}

export function checkMinatarReference(json: unknown, factory: MinatarGameFactory): MinatarReferenceReport {
  const reference = parseReference(json);
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
