// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Space Invaders: a port of MinAtar's space_invaders (Young & Tian 2019,
 * https://github.com/kenjyoung/MinAtar, GPL-3.0), written from the game's rules.
 *
 * A cannon on the bottom row (row 9) moves left and right and fires bullets that climb one row per
 * step. A 4 × 6 block of aliens marches sideways; when an alien reaches the edge it is heading for,
 * the whole block steps down one row and turns around. Every 10 steps the alien nearest the cannon
 * (by column) drops a bullet that falls one row per step. Each alien shot gives +1. The aliens march
 * faster as they thin out (the march interval is capped by the number of aliens left); a cleared
 * wave is replaced by a fresh one whose base interval is one step shorter (down to 6) when
 * difficulty ramping is on. An alien or alien bullet reaching the cannon ends the episode.
 *
 * Upstream behaviour reproduced exactly (it decides what the reference episodes contain):
 * - Sticky actions are drawn by the wrapper *before* the game step, on the same generator, one
 *   `rand()` per `act` — also once the episode is over. The remembered previous action starts at
 *   0 ("n") and survives `reset()`. The game itself draws nothing, so this is the only draw.
 * - Firing while the cooldown runs does nothing (it does not fall through to a move).
 * - Grid shifts are numpy `roll`s, which wrap: after rolling, upstream clears the row that wrapped
 *   in for bullets, but not for aliens — an alien block stepping down from row 9 reappears in row 0
 *   (the episode is already over by then, yet the step goes on and the state shows it).
 * - Terminal conditions only set a flag; the rest of the step (alien march, alien shot, kills,
 *   reward, wave refill) still happens.
 * - Bullets and aliens are only compared after everything has moved, so a bullet and an alien that
 *   swap cells in one step pass through each other. A kill removes both the alien and the bullet.
 * - The alien that shoots is found by scanning columns in order of distance from the cannon, the
 *   left one first on ties (Python's stable sort), and is the lowest alien of that column; the
 *   bullet starts in the alien's own cell.
 * - The march countdown is reset to min(aliens left, base interval) at each march; a new wave
 *   keeps the current direction and countdown.
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

const CHANNELS = ["cannon", "alien", "alien_left", "alien_right", "friendly_bullet", "enemy_bullet"] as const;
const CH_CANNON = 0;
const CH_ALIEN = 1;
const CH_ALIEN_LEFT = 2;
const CH_ALIEN_RIGHT = 3;
const CH_FRIENDLY_BULLET = 4;
const CH_ENEMY_BULLET = 5;
const NUM_CHANNELS = CHANNELS.length;

/** Full-set indices: n, l, r, f. */
const MINIMAL_ACTIONS = [0, 1, 3, 5] as const;
const A_LEFT = 1;
const A_RIGHT = 3;
const A_FIRE = 5;

const SHOT_COOLDOWN = 5;
const INITIAL_MARCH_INTERVAL = 12;
const MIN_MARCH_INTERVAL = 6;
const ALIEN_SHOT_INTERVAL = 10;

/** 10 × 10 occupancy grid, row-major. */
type Grid = Uint8Array;
const cell = (row: number, col: number): number => row * 10 + col;

/** Shifts every row down by one (numpy roll +1 on rows): row 9 wraps to row 0. */
function rollDown(g: Grid): void {
  const last = g.slice(90, 100);
  g.copyWithin(10, 0, 90);
  g.set(last, 0);
}

/** Shifts every row up by one (numpy roll −1 on rows): row 0 wraps to row 9. */
function rollUp(g: Grid): void {
  const first = g.slice(0, 10);
  g.copyWithin(0, 10, 100);
  g.set(first, 90);
}

/** Shifts every column by `d` = ±1 (numpy roll on columns), wrapping around. */
function rollSideways(g: Grid, d: number): void {
  for (let r = 0; r < 10; r++) {
    const base = r * 10;
    if (d > 0) {
      const last = g[base + 9];
      g.copyWithin(base + 1, base, base + 9);
      g[base] = last;
    } else {
      const first = g[base];
      g.copyWithin(base, base + 1, base + 10);
      g[base + 9] = first;
    }
  }
}

function clearRow(g: Grid, row: number): void {
  g.fill(0, row * 10, row * 10 + 10);
}

function columnOccupied(g: Grid, col: number): boolean {
  for (let r = 0; r < 10; r++) if (g[cell(r, col)]) return true;
  return false;
}

function rowOccupied(g: Grid, row: number): boolean {
  for (let c = 0; c < 10; c++) if (g[cell(row, c)]) return true;
  return false;
}

function count(g: Grid): number {
  let n = 0;
  for (let i = 0; i < 100; i++) n += g[i];
  return n;
}

/** A fresh wave: rows 0–3, columns 2–7. */
function fillWave(g: Grid): void {
  for (let r = 0; r < 4; r++) g.fill(1, cell(r, 2), cell(r, 8));
}

class SpaceInvaders implements MinatarGame {
  readonly channels: readonly string[] = CHANNELS;
  readonly minimalActions: readonly number[] = MINIMAL_ACTIONS;

  private readonly ramping: boolean;
  private readonly sticky: StickyActions;

  private cannonCol = 5;
  private readonly aliens: Grid = new Uint8Array(100);
  private readonly playerBullets: Grid = new Uint8Array(100);
  private readonly alienBullets: Grid = new Uint8Array(100);
  /** −1 marching left, +1 marching right. */
  private direction = -1;
  private marchInterval = INITIAL_MARCH_INTERVAL;
  private marchCountdown = INITIAL_MARCH_INTERVAL;
  private alienShotCountdown = ALIEN_SHOT_INTERVAL;
  private shotCooldown = 0;
  private rampLevel = 0;
  private over = false;

  constructor(random: NumpyRandom, options: MinatarGameOptions) {
    this.sticky = new StickyActions(random, options.stickyActionProb);
    this.ramping = options.difficultyRamping;
    this.reset();
  }

  reset(): void {
    this.cannonCol = 5;
    this.aliens.fill(0);
    fillWave(this.aliens);
    this.playerBullets.fill(0);
    this.alienBullets.fill(0);
    this.direction = -1;
    this.marchInterval = INITIAL_MARCH_INTERVAL;
    this.marchCountdown = INITIAL_MARCH_INTERVAL;
    this.alienShotCountdown = ALIEN_SHOT_INTERVAL;
    this.shotCooldown = 0;
    this.rampLevel = 0;
    this.over = false;
  }

  act(action: number): { reward: number; terminal: boolean } {
    // Sticky action: drawn on every call, even after the episode ended.
    action = this.sticky.apply(action);
    if (this.over) return { reward: 0, terminal: true };

    const aliens = this.aliens;

    // Cannon: fire when cooled down, else (on l/r) move.
    if (action === A_FIRE) {
      if (this.shotCooldown === 0) {
        this.playerBullets[cell(9, this.cannonCol)] = 1;
        this.shotCooldown = SHOT_COOLDOWN;
      }
    } else if (action === A_LEFT) {
      this.cannonCol = Math.max(0, this.cannonCol - 1);
    } else if (action === A_RIGHT) {
      this.cannonCol = Math.min(9, this.cannonCol + 1);
    }

    // Cannon bullets climb; those that were on row 0 leave (the wrapped row is cleared).
    rollUp(this.playerBullets);
    clearRow(this.playerBullets, 9);

    // Alien bullets fall; those that were on row 9 leave.
    rollDown(this.alienBullets);
    clearRow(this.alienBullets, 0);
    if (this.alienBullets[cell(9, this.cannonCol)]) this.over = true;

    // Aliens: contact with the cannon, then the march.
    if (aliens[cell(9, this.cannonCol)]) this.over = true;
    if (this.marchCountdown === 0) {
      this.marchCountdown = Math.min(count(aliens), this.marchInterval);
      const atEdge = this.direction < 0 ? columnOccupied(aliens, 0) : columnOccupied(aliens, 9);
      if (atEdge) {
        this.direction = -this.direction;
        if (rowOccupied(aliens, 9)) this.over = true;
        rollDown(aliens); // wraps: upstream does not clear row 0 here
      } else {
        rollSideways(aliens, this.direction);
      }
      if (aliens[cell(9, this.cannonCol)]) this.over = true;
    }

    // The nearest alien shoots from its own cell.
    if (this.alienShotCountdown === 0) {
      this.alienShotCountdown = ALIEN_SHOT_INTERVAL;
      this.alienShoots();
    }

    // Kills: an alien and a cannon bullet in the same cell remove each other.
    let reward = 0;
    for (let i = 0; i < 100; i++) {
      if (aliens[i] && this.playerBullets[i]) {
        aliens[i] = 0;
        this.playerBullets[i] = 0;
        reward += 1;
      }
    }

    if (this.shotCooldown > 0) this.shotCooldown -= 1;
    this.marchCountdown -= 1;
    this.alienShotCountdown -= 1;

    if (count(aliens) === 0) {
      if (this.marchInterval > MIN_MARCH_INTERVAL && this.ramping) {
        this.marchInterval -= 1;
        this.rampLevel += 1;
      }
      fillWave(aliens);
    }

    return { reward, terminal: this.over };
  }

  saveState(): JsonObject {
    return {
      game: "space_invaders",
      sticky: this.sticky.last,
      cannonCol: this.cannonCol,
      aliens: Array.from(this.aliens),
      playerBullets: Array.from(this.playerBullets),
      alienBullets: Array.from(this.alienBullets),
      direction: this.direction,
      marchInterval: this.marchInterval,
      marchCountdown: this.marchCountdown,
      alienShotCountdown: this.alienShotCountdown,
      shotCooldown: this.shotCooldown,
      rampLevel: this.rampLevel,
      over: this.over,
    };
  }

  loadState(state: StateReader): void {
    const { sticky } = readGameHeader(state, "space_invaders");
    const cannonCol = state.get("cannonCol").integer(0, 9);
    const aliens = state.get("aliens").integers(100, 0, 1);
    const playerBullets = state.get("playerBullets").integers(100, 0, 1);
    const alienBullets = state.get("alienBullets").integers(100, 0, 1);
    const direction = state.get("direction").oneOf([-1, 1]);
    const marchInterval = state.get("marchInterval").integer(MIN_MARCH_INTERVAL, INITIAL_MARCH_INTERVAL);
    const marchCountdown = state.get("marchCountdown").integer(0, INITIAL_MARCH_INTERVAL);
    const alienShotCountdown = state.get("alienShotCountdown").integer(0, ALIEN_SHOT_INTERVAL);
    const shotCooldown = state.get("shotCooldown").integer(0, SHOT_COOLDOWN);
    const rampLevel = state.get("rampLevel").integer(0, Number.MAX_SAFE_INTEGER);
    const over = state.get("over").boolean();
    this.sticky.last = sticky;
    this.cannonCol = cannonCol;
    this.aliens.set(aliens);
    this.playerBullets.set(playerBullets);
    this.alienBullets.set(alienBullets);
    this.direction = direction;
    this.marchInterval = marchInterval;
    this.marchCountdown = marchCountdown;
    this.alienShotCountdown = alienShotCountdown;
    this.shotCooldown = shotCooldown;
    this.rampLevel = rampLevel;
    this.over = over;
  }

  /**
   * Columns are scanned by distance from the cannon (left first on ties); the lowest alien of the
   * first occupied column drops a bullet in its cell. There is always an alien here: the wave is
   * refilled at the end of the step that clears it.
   */
  private alienShoots(): void {
    const pos = this.cannonCol;
    for (let d = 0; d < 10; d++) {
      for (const col of d === 0 ? [pos] : [pos - d, pos + d]) {
        if (col < 0 || col > 9) continue;
        for (let r = 9; r >= 0; r--) {
          if (this.aliens[cell(r, col)]) {
            this.alienBullets[cell(r, col)] = 1;
            return;
          }
        }
      }
    }
  }

  state(out: Float32Array, zeroed = false): void {
    if (!zeroed) out.fill(0, 0, 100 * NUM_CHANNELS);
    out[cell(9, this.cannonCol) * NUM_CHANNELS + CH_CANNON] = 1;
    const dirChannel = this.direction < 0 ? CH_ALIEN_LEFT : CH_ALIEN_RIGHT;
    for (let i = 0; i < 100; i++) {
      const base = i * NUM_CHANNELS;
      if (this.aliens[i]) {
        out[base + CH_ALIEN] = 1;
        out[base + dirChannel] = 1;
      }
      if (this.playerBullets[i]) out[base + CH_FRIENDLY_BULLET] = 1;
      if (this.alienBullets[i]) out[base + CH_ENEMY_BULLET] = 1;
    }
  }
}

/** MinAtar space_invaders; channels cannon, alien, alien_left, alien_right, friendly_bullet, enemy_bullet. */
export const spaceInvaders: MinatarGameFactory = (random, options) => new SpaceInvaders(random, options);
