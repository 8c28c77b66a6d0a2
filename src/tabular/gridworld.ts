/**
 * A random slippery gridworld in the style of FrozenLake (Gymnasium's `FrozenLake-v1` with a map
 * from `generate_random_map`): a size × size lake, start at the top-left, goal at the bottom-right,
 * holes in the ice placed at random.
 *
 * - States: the cells, row-major: cell (row r, column c) is state r·size + c. State 0 is the start,
 *   state size² − 1 the goal.
 * - Actions, in Gymnasium's order: 0 left, 1 down, 2 right, 3 up.
 * - Moves: with probability 1 − slip the agent moves as intended; otherwise it slips to one of the
 *   two perpendicular directions, each with probability slip/2. Gymnasium's `is_slippery=True`
 *   is slip = 2/3 (intended and both perpendicular moves 1/3 each), `is_slippery=False` is slip = 0.
 *   A move off the grid leaves the agent where it is.
 * - Holes and the goal are absorbing: every action stays, with reward 0. (Gymnasium ends the episode
 *   there; a self-loop with no reward is the same thing for discounted values.)
 * - Reward 1 for arriving at the goal, so R[s][a] = Pr(next = goal | s, a) for the other states.
 *
 * Each cell other than start and goal is a hole with probability `holeProbability`; the whole map is
 * redrawn until the goal can be reached from the start by 4-neighbour moves over non-hole cells.
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { allocateDense, createMdp, type Mdp } from "./mdp.ts";
import { createRandomStream, type RandomStream } from "../random/random-stream.ts";
import { checkSeed } from "../random/seed.ts";

export interface GridworldOptions {
  /** Side of the square grid (integer ≥ 2). Default 4, FrozenLake's 4×4. */
  size?: number;
  /** Chance that each cell other than start and goal is a hole, 0 ≤ p < 1. Default 0.2. */
  holeProbability?: number;
  /** Chance of slipping to a perpendicular direction, 0 ≤ slip ≤ 1. Default 2/3 (Gymnasium's is_slippery). */
  slip?: number;
  /** Discount, 0 ≤ γ < 1. Default 0.95. */
  gamma?: number;
  /** Seed of the random stream that places the holes (non-negative safe integer). */
  seed: number;
}

/**
 * The MDP and its map. `layout` has one string per row, top to bottom, in Gymnasium's map notation:
 * "S" start, "F" frozen, "H" hole, "G" goal; so `layout.join("\n")` prints the lake, and
 * `layout[r][c]` is the cell of state r·size + c.
 */
export interface GridworldMdp {
  mdp: Mdp;
  layout: string[];
}

/** Action names by index, in Gymnasium FrozenLake's order. */
export const GRIDWORLD_ACTIONS = ["left", "down", "right", "up"] as const;

/** How many maps to draw before concluding that holeProbability is too high for this size. */
export const GRIDWORLD_MAX_DRAWS = 1000;

export function gridworldMdp(options: GridworldOptions): GridworldMdp {
  if (typeof options !== "object" || options === null)
    throw new StaqInputError(
      `gridworldMdp needs {seed} (and optionally size, holeProbability, slip, gamma); got ${describeValue(options)}`,
    );
  const { size = 4, holeProbability = 0.2, slip = 2 / 3, gamma = 0.95, seed } = options;
  // With one cell the start would be the goal; there would be nothing to learn.
  if (!(Number.isSafeInteger(size) && size >= 2)) {
    throw new StaqInputError(
      `gridworldMdp: size must be an integer >= 2 (the start and goal are different cells); got size = ${describeValue(size)}`,
    );
  }
  // p = 1 would make every inner cell a hole, and no map would ever have a path.
  if (!(typeof holeProbability === "number" && holeProbability >= 0 && holeProbability < 1)) {
    throw new StaqInputError(
      `gridworldMdp: holeProbability must satisfy 0 <= holeProbability < 1; got holeProbability = ${describeValue(holeProbability)}`,
    );
  }
  if (!(typeof slip === "number" && slip >= 0 && slip <= 1)) {
    throw new StaqInputError(
      `gridworldMdp: slip must be a probability, 0 <= slip <= 1 (2/3 is Gymnasium's is_slippery, 0 is deterministic); got slip = ${describeValue(slip)}`,
    );
  }
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1)) {
    throw new StaqInputError(`gridworldMdp: gamma must satisfy 0 <= gamma < 1; got gamma = ${describeValue(gamma)}`);
  }
  checkSeed("gridworldMdp", seed);
  // The dense P has size² · 4 · size² entries: checked before the maps are drawn, which take a while.
  const P = allocateDense(
    size ** 4 * 4,
    `gridworldMdp: the dense P of ${size}×${size} = ${size * size} cells × 4 actions × ${size * size} next cells`,
    "use a smaller size",
  );

  const holes = drawHoles(size, holeProbability, createRandomStream(seed));
  return { mdp: buildMdp(size, holes, slip, gamma, P), layout: renderLayout(size, holes) };
}

function drawHoles(size: number, holeProbability: number, random: RandomStream): Uint8Array {
  const cells = size * size;
  const goal = cells - 1;
  const holes = new Uint8Array(cells);
  for (let draw = 0; draw < GRIDWORLD_MAX_DRAWS; draw++) {
    // One uniform per inner cell per draw, row-major, so a seed names one map.
    for (let cell = 1; cell < goal; cell++) holes[cell] = random.uniform() < holeProbability ? 1 : 0;
    if (pathExists(size, holes)) return holes;
  }
  throw new StaqInputError(
    `gridworldMdp: no map with a path from start to goal in ${GRIDWORLD_MAX_DRAWS} draws (size = ${size}, holeProbability = ${holeProbability}); lower holeProbability or use a smaller size`,
  );
}

/**
 * Breadth-first search from the start over non-hole 4-neighbours. A path is enough for the goal to
 * be reachable with positive probability under any slip: even at slip = 1, each direction is the
 * perpendicular slip of some action.
 */
function pathExists(size: number, holes: Uint8Array): boolean {
  const cells = size * size;
  const seen = new Uint8Array(cells);
  const queue = new Int32Array(cells);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const cell = queue[head++];
    if (cell === cells - 1) return true;
    for (let action = 0; action < 4; action++) {
      const next = step(size, cell, action);
      if (!seen[next] && !holes[next]) {
        seen[next] = 1;
        queue[tail++] = next;
      }
    }
  }
  return false;
}

/** The cell reached from `cell` by moving in direction `action` (0 left, 1 down, 2 right, 3 up); off the grid stays. */
function step(size: number, cell: number, action: number): number {
  const row = Math.floor(cell / size);
  const col = cell % size;
  switch (action) {
    case 0:
      return col > 0 ? cell - 1 : cell;
    case 1:
      return row < size - 1 ? cell + size : cell;
    case 2:
      return col < size - 1 ? cell + 1 : cell;
    default:
      return row > 0 ? cell - size : cell;
  }
}

/** Fills `P` (zeros, [S, 4, S]) with the moves and returns the MDP. */
function buildMdp(size: number, holes: Uint8Array, slip: number, gamma: number, P: Float64Array): Mdp {
  const S = size * size;
  const A = 4;
  const goal = S - 1;
  const R = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const row = (s * A + a) * S;
      if (s === goal || holes[s]) {
        P[row + s] = 1;
        continue;
      }
      // Gymnasium's order: (a − 1) mod 4, a, (a + 1) mod 4; in its action order these are the two
      // perpendicular directions. Moves that land on the same cell (walls) add up.
      P[row + step(size, s, (a + 3) % 4)] += slip / 2;
      P[row + step(size, s, a)] += 1 - slip;
      P[row + step(size, s, (a + 1) % 4)] += slip / 2;
      R[s * A + a] = P[row + goal];
    }
  }
  return createMdp({ states: S, actions: A, P, R, gamma });
}

function renderLayout(size: number, holes: Uint8Array): string[] {
  const goal = size * size - 1;
  return Array.from({ length: size }, (_, r) =>
    Array.from({ length: size }, (_, c) => {
      const cell = r * size + c;
      if (cell === 0) return "S";
      if (cell === goal) return "G";
      return holes[cell] ? "H" : "F";
    }).join(""),
  );
}
