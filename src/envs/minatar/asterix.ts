// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Asterix: a port of MinAtar's asterix (Young & Tian 2019, https://github.com/kenjyoung/MinAtar,
 * GPL-3.0), written from the game's rules.
 *
 * The player walks on rows 1–8 of a 10 × 10 grid. Each of those eight rows is a lane that holds at
 * most one entity: an enemy or a piece of gold, entering at the left or right edge and crossing
 * the lane one cell per move tick. Touching gold gives +1 and removes it; touching an enemy ends
 * the episode. A trail cell behind each entity shows which way it travels. With difficulty ramping
 * on, entities spawn more often and move faster as time passes.
 *
 * Upstream behaviour reproduced exactly (it decides what the reference episodes contain):
 * - Sticky actions are drawn by the wrapper *before* the game step, on the same generator, one
 *   `rand()` per `act` — also once the episode is over, when the game itself does nothing. The
 *   remembered previous action starts at 0 ("n") and survives `reset()` (upstream keeps it on the
 *   wrapper, which never clears it).
 * - A spawn draws `rand()` for the direction and `rand()` for gold *before* looking for a free
 *   lane; when all eight lanes are taken the two draws are spent and nothing spawns, yet the spawn
 *   timer still restarts. Otherwise the lane is `randint(#free lanes)` among the free ones in
 *   increasing order.
 * - Collisions are checked twice a step: after the player moves (entities in place) and, on move
 *   ticks, after each entity moves. Hitting an enemy sets the terminal flag but the step goes on
 *   (gold may still be collected in the same step, and the reward counts).
 * - Ramping counts `ramp_timer` down from 100 through −1, so the first speed-up comes on the
 *   102nd step and later ones every 101 steps; the move interval shrinks only on every other
 *   speed-up (when the ramp index before it is odd), the spawn interval on each, both down to 1;
 *   ramping stops once both are 1.
 * - `reset()` draws nothing.
 */
import type { JsonObject } from "../env.ts";
import type { StateReader } from "../state-reader.ts";
import {
  readGameHeader,
  StickyActions,
  type MinatarGame,
  type MinatarGameFactory,
  type MinatarGameOptions,
  type NumpyRandom,
} from "./game.ts";

const CHANNELS = ["player", "enemy", "trail", "gold"] as const;
const CH_PLAYER = 0;
const CH_ENEMY = 1;
const CH_TRAIL = 2;
const CH_GOLD = 3;
const NUM_CHANNELS = CHANNELS.length;

/** Full-set indices: n, l, u, r, d (fire does nothing here). */
const MINIMAL_ACTIONS = [0, 1, 2, 3, 4] as const;
const A_LEFT = 1;
const A_UP = 2;
const A_RIGHT = 3;
const A_DOWN = 4;

const LANES = 8; // lane k is grid row k + 1
const RAMP_INTERVAL = 100;
const INITIAL_SPAWN_INTERVAL = 10;
const INITIAL_MOVE_INTERVAL = 5;

/** Sets cell (row, col) of channel `ch` in a 10 × 10 × 4 frame. A module function rather than a closure made in every state() call (see seaquest.ts). */
function setCell(out: Float32Array, row: number, col: number, ch: number): void {
  out[(row * 10 + col) * NUM_CHANNELS + ch] = 1;
}

/** One entity in its lane. */
interface Entity {
  /** Column; may leave 0…9 for the instant before the entity is removed. */
  col: number;
  /** Travels rightward (spawned at column 0) or leftward (spawned at column 9). */
  rightward: boolean;
  gold: boolean;
}

class Asterix implements MinatarGame {
  readonly channels: readonly string[] = CHANNELS;
  readonly minimalActions: readonly number[] = MINIMAL_ACTIONS;

  private readonly random: NumpyRandom;
  private readonly ramping: boolean;
  private readonly sticky: StickyActions;

  private playerRow = 5;
  private playerCol = 5;
  /** lanes[k]: the entity in grid row k + 1, or null. */
  private lanes: (Entity | null)[] = new Array<Entity | null>(LANES).fill(null);
  private spawnInterval = INITIAL_SPAWN_INTERVAL;
  private spawnCountdown = INITIAL_SPAWN_INTERVAL;
  private moveInterval = INITIAL_MOVE_INTERVAL;
  private moveCountdown = INITIAL_MOVE_INTERVAL;
  private rampCountdown = RAMP_INTERVAL;
  private rampLevel = 0;
  private over = false;

  constructor(random: NumpyRandom, options: MinatarGameOptions) {
    this.random = random;
    this.sticky = new StickyActions(random, options.stickyActionProb);
    this.ramping = options.difficultyRamping;
    this.reset();
  }

  reset(): void {
    this.playerRow = 5;
    this.playerCol = 5;
    this.lanes.fill(null);
    this.spawnInterval = INITIAL_SPAWN_INTERVAL;
    this.spawnCountdown = INITIAL_SPAWN_INTERVAL;
    this.moveInterval = INITIAL_MOVE_INTERVAL;
    this.moveCountdown = INITIAL_MOVE_INTERVAL;
    this.rampCountdown = RAMP_INTERVAL;
    this.rampLevel = 0;
    this.over = false;
  }

  act(action: number): { reward: number; terminal: boolean } {
    // Sticky action: drawn on every call, even after the episode ended.
    action = this.sticky.apply(action);
    if (this.over) return { reward: 0, terminal: true };

    let reward = 0;

    if (this.spawnCountdown === 0) {
      this.spawn();
      this.spawnCountdown = this.spawnInterval;
    }

    // The player moves inside columns 0…9 and rows 1…8.
    if (action === A_LEFT) this.playerCol = Math.max(0, this.playerCol - 1);
    else if (action === A_RIGHT) this.playerCol = Math.min(9, this.playerCol + 1);
    else if (action === A_UP) this.playerRow = Math.max(1, this.playerRow - 1);
    else if (action === A_DOWN) this.playerRow = Math.min(8, this.playerRow + 1);

    // Contact with entities where they stand.
    for (let k = 0; k < LANES; k++) reward += this.touch(k);

    // Move tick: every entity advances one column; those leaving the grid vanish.
    if (this.moveCountdown === 0) {
      this.moveCountdown = this.moveInterval;
      for (let k = 0; k < LANES; k++) {
        const e = this.lanes[k];
        if (e === null) continue;
        e.col += e.rightward ? 1 : -1;
        if (e.col < 0 || e.col > 9) this.lanes[k] = null;
        else reward += this.touch(k);
      }
    }

    this.spawnCountdown -= 1;
    this.moveCountdown -= 1;

    if (this.ramping && (this.spawnInterval > 1 || this.moveInterval > 1)) {
      if (this.rampCountdown >= 0) {
        this.rampCountdown -= 1;
      } else {
        if (this.moveInterval > 1 && this.rampLevel % 2 === 1) this.moveInterval -= 1;
        if (this.spawnInterval > 1) this.spawnInterval -= 1;
        this.rampLevel += 1;
        this.rampCountdown = RAMP_INTERVAL;
      }
    }

    return { reward, terminal: this.over };
  }

  /** Resolves contact between the player and lane k's entity; returns the reward it gives. */
  private touch(k: number): number {
    const e = this.lanes[k];
    if (e === null || e.col !== this.playerCol || k + 1 !== this.playerRow) return 0;
    if (e.gold) {
      this.lanes[k] = null;
      return 1;
    }
    this.over = true;
    return 0;
  }

  /** A new entity at an edge of a random free lane; the two coin flips are drawn first, always. */
  private spawn(): void {
    const rightward = this.random.rand() < 1 / 2;
    const gold = this.random.rand() < 1 / 3;
    const free: number[] = [];
    for (let k = 0; k < LANES; k++) if (this.lanes[k] === null) free.push(k);
    if (free.length === 0) return;
    const k = free[this.random.randint(free.length)];
    this.lanes[k] = { col: rightward ? 0 : 9, rightward, gold };
  }

  saveState(): JsonObject {
    return {
      game: "asterix",
      sticky: this.sticky.last,
      playerRow: this.playerRow,
      playerCol: this.playerCol,
      lanes: this.lanes.map((e) => (e === null ? null : { col: e.col, rightward: e.rightward, gold: e.gold })),
      spawnInterval: this.spawnInterval,
      spawnCountdown: this.spawnCountdown,
      moveInterval: this.moveInterval,
      moveCountdown: this.moveCountdown,
      rampCountdown: this.rampCountdown,
      rampLevel: this.rampLevel,
      over: this.over,
    };
  }

  loadState(state: StateReader): void {
    const { sticky } = readGameHeader(state, "asterix");
    const playerRow = state.get("playerRow").integer(1, LANES);
    const playerCol = state.get("playerCol").integer(0, 9);
    const lanes = state
      .get("lanes")
      .items(LANES)
      .map((lane) =>
        lane.orNull((e): Entity => ({
          col: e.get("col").integer(0, 9),
          rightward: e.get("rightward").boolean(),
          gold: e.get("gold").boolean(),
        })),
      );
    // Intervals only shrink (down to 1); countdowns restart at their interval and count down to 0.
    const spawnInterval = state.get("spawnInterval").integer(1, INITIAL_SPAWN_INTERVAL);
    const spawnCountdown = state.get("spawnCountdown").integer(0, INITIAL_SPAWN_INTERVAL);
    const moveInterval = state.get("moveInterval").integer(1, INITIAL_MOVE_INTERVAL);
    const moveCountdown = state.get("moveCountdown").integer(0, INITIAL_MOVE_INTERVAL);
    // The ramp timer runs from RAMP_INTERVAL down through −1.
    const rampCountdown = state.get("rampCountdown").integer(-1, RAMP_INTERVAL);
    const rampLevel = state.get("rampLevel").integer(0, Number.MAX_SAFE_INTEGER);
    const over = state.get("over").boolean();
    this.sticky.last = sticky;
    this.playerRow = playerRow;
    this.playerCol = playerCol;
    this.lanes = lanes;
    this.spawnInterval = spawnInterval;
    this.spawnCountdown = spawnCountdown;
    this.moveInterval = moveInterval;
    this.moveCountdown = moveCountdown;
    this.rampCountdown = rampCountdown;
    this.rampLevel = rampLevel;
    this.over = over;
  }

  state(out: Float32Array, zeroed = false): void {
    if (!zeroed) out.fill(0, 0, 100 * NUM_CHANNELS);
    setCell(out, this.playerRow, this.playerCol, CH_PLAYER);
    for (let k = 0; k < LANES; k++) {
      const e = this.lanes[k];
      if (e === null) continue;
      setCell(out, k + 1, e.col, e.gold ? CH_GOLD : CH_ENEMY);
      const behind = e.rightward ? e.col - 1 : e.col + 1;
      if (behind >= 0 && behind <= 9) setCell(out, k + 1, behind, CH_TRAIL);
    }
  }
}

/** MinAtar asterix; channels player, enemy, trail, gold. */
export const asterix: MinatarGameFactory = (random, options) => new Asterix(random, options);
