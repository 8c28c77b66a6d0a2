// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Seaquest: a port of MinAtar's seaquest (Young & Tian 2019, https://github.com/kenjyoung/MinAtar,
 * GPL-3.0), written from the game's rules. It reproduces upstream step for step, including the order
 * of its random draws and the quirks listed below, so the same seed and actions give the same frames,
 * rewards and terminals as upstream MinAtar (commit 4241f24) with numpy's RandomState.
 *
 * Rules. The player steers a two-cell submarine (front and back, so its heading is visible) on rows
 * 0..8, starting at the surface (row 0, column 5, facing left), and may fire a bullet from its front
 * (at most one every 5 steps). Enemy fish and enemy submarines enter from the left or right edge of a
 * random row 1..8 and cross the screen, one cell every `moveInterval + 1` steps; enemy submarines also
 * drop a bullet every 11 steps, which then flies one cell per step. Shooting an enemy pays +1 and
 * removes it together with the bullet. Divers enter the same way every 30 steps and drift one cell every
 * 6 steps; touching one picks it up (at most 6 aboard). Oxygen (200) falls by one for every step spent
 * under water. Back at the surface with a diver aboard, oxygen is refilled and one diver leaves; with all
 * six aboard, all of them leave and the remaining oxygen pays `oxygen · 10 // 200`. Each surfacing ramps
 * the difficulty up (enemies spawn more often, and every second time move faster). The episode ends when
 * an enemy, fish or enemy bullet touches the submarine, when the oxygen runs out, or when the submarine
 * surfaces with nobody aboard.
 *
 * Upstream quirks reproduced on purpose:
 *  - Surfacing with six divers sets the count to 0 and then (like every surfacing) takes one diver away,
 *    leaving -1 divers aboard. From then on the count may be negative: the gauge draws nothing for a
 *    negative count, a later surfacing with count ≤ -1 still counts as "has divers", and pickups are
 *    allowed while the count is below 6.
 *  - The oxygen check (≤ 0 ends the game) runs before this step's decrement, and a step that ends the
 *    game still applies the rest of the update (surfacing, oxygen decrement) before returning.
 *  - An enemy submarine that leaves the screen is dropped but still runs its shot timer that same step,
 *    so it may fire a bullet from just outside the screen (that bullet is dropped when it moves).
 *  - Entities are kept in Python lists and updated newest-first while the lists are edited; removal is
 *    Python's `list.remove`, which drops the first element *equal in value* (not necessarily the one in
 *    hand), and Python's reversed-list iterator walks indices downward and stops as soon as its index is
 *    past the end of the (shrunk) list. The containers below reproduce both, so that even rare cases with
 *    two identical entities behave exactly as upstream.
 *  - A spawned enemy is discarded (after all its draws) when its row already holds an enemy heading the
 *    other way.
 *  - Trail cells (the previous position of fish, enemy subs and divers) share one channel; they are
 *    inferred from the heading, not stored.
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

const GRID = 10;
const CHANNELS = [
  "sub_front",
  "sub_back",
  "friendly_bullet",
  "trail",
  "enemy_bullet",
  "enemy_fish",
  "enemy_sub",
  "oxygen_guage",
  "diver_guage",
  "diver",
] as const;
const C = CHANNELS.length;
const CH_SUB_FRONT = 0;
const CH_SUB_BACK = 1;
const CH_FRIENDLY_BULLET = 2;
const CH_TRAIL = 3;
const CH_ENEMY_BULLET = 4;
const CH_ENEMY_FISH = 5;
const CH_ENEMY_SUB = 6;
const CH_OXYGEN = 7;
const CH_DIVERS = 8;
const CH_DIVER = 9;

// Action indices in the full set [n, l, u, r, d, f].
const LEFT = 1;
const UP = 2;
const RIGHT = 3;
const DOWN = 4;
const FIRE = 5;

const MAX_OXYGEN = 200;
const MAX_DIVERS = 6;
/** Steps between enemy spawns at the start; surfacing lowers it towards 1. */
const INITIAL_SPAWN_INTERVAL = 20;
const DIVER_SPAWN_INTERVAL = 30;
/** An enemy moves when its countdown is 0, then waits this many steps; surfacing lowers it towards 2. */
const INITIAL_MOVE_INTERVAL = 5;
const SHOT_COOLDOWN = 5;
const ENEMY_SHOT_INTERVAL = 10;
const DIVER_MOVE_INTERVAL = 5;

/** A bullet (friendly or enemy): position and heading (true = moving right). */
interface Bullet {
  x: number;
  y: number;
  right: boolean;
}
/** A fish or a diver: a bullet-like mover with a countdown to its next move. */
interface Drifter extends Bullet {
  moveWait: number;
}
/** An enemy submarine: a drifter that also counts down to its next shot. */
interface EnemySub extends Drifter {
  shotWait: number;
}

// Value equality as Python's list == sees these entities (every field, in order).
const sameBullet = (a: Bullet, b: Bullet) => a.x === b.x && a.y === b.y && a.right === b.right;
const sameDrifter = (a: Drifter, b: Drifter) => sameBullet(a, b) && a.moveWait === b.moveWait;
const sameSub = (a: EnemySub, b: EnemySub) => sameDrifter(a, b) && a.shotWait === b.shotWait;

/** Python's `list.remove(item)`: drops the first element equal in value to `item`. */
function pyRemove<T>(list: T[], item: T, equal: (a: T, b: T) => boolean): void {
  for (let i = 0; i < list.length; i++) {
    if (list[i] === item || equal(list[i], item)) {
      list.splice(i, 1);
      return;
    }
  }
  throw new Error("seaquest: list.remove(x): x not in list"); // upstream would raise ValueError
}

/*
 * Python's `for item in reversed(list)` while the body may shrink the list: indices walk down from
 * the initial last one, and the loop ends for good once the index is past the current end. The update
 * methods below spell it out as `for (let i = list.length - 1; i >= 0 && i < list.length; i--)`
 * rather than through a helper taking a callback, and the helpers below are module functions rather
 * than closures made in each call: closures made on every step cost measurably at millions of steps
 * per second, the more so under tsx, whose keepNames setting names each one with a defineProperty
 * call (bench/envs.ts found Seaquest twice as fast without them).
 */

/** Sets cell (row, col) of channel `ch` in a 10 × 10 × C frame; a column of -1 wraps to 9, as numpy's indexing does. */
function setCell(out: Float32Array, row: number, col: number, ch: number): void {
  if (col < 0) col += GRID;
  out[(row * GRID + col) * C + ch] = 1;
}

/** A fish, enemy sub or diver in channel `ch`, with its trail (the cell behind it) when that is on screen. */
function drawDrifter(out: Float32Array, d: Drifter, ch: number): void {
  setCell(out, d.y, d.x, ch);
  const back = d.x - step(d.right);
  if (!offScreen(back)) setCell(out, d.y, back, CH_TRAIL);
}

/** The first entity of `list` on cell (x, y), as Python's next(e for e in list if ...); undefined if none. */
function findAt<T extends Bullet>(list: T[], x: number, y: number): T | undefined {
  for (let i = 0; i < list.length; i++) if (list[i].x === x && list[i].y === y) return list[i];
  return undefined;
}

const step = (right: boolean) => (right ? 1 : -1);
const offScreen = (x: number) => x < 0 || x > GRID - 1;

/*
 * Saved entities are plain copies of the objects above, in list order (the order decides which of
 * two equal entities list.remove drops, and when a reversed walk stops). Between steps every entity
 * is on screen, but for an enemy bullet fired from just outside it (x −1 or 10; see the quirks).
 */
const readBullet = (r: StateReader, rows: [number, number], xs: [number, number] = [0, GRID - 1]): Bullet => ({
  x: r.get("x").integer(xs[0], xs[1]),
  y: r.get("y").integer(rows[0], rows[1]),
  right: r.get("right").boolean(),
});
const readDrifter = (r: StateReader, maxWait: number): Drifter => ({
  ...readBullet(r, [1, GRID - 2]),
  moveWait: r.get("moveWait").integer(0, maxWait),
});
const readEnemySub = (r: StateReader): EnemySub => ({
  ...readDrifter(r, INITIAL_MOVE_INTERVAL),
  shotWait: r.get("shotWait").integer(0, ENEMY_SHOT_INTERVAL),
});

class Seaquest implements MinatarGame {
  readonly channels = CHANNELS;
  readonly minimalActions = [0, 1, 2, 3, 4, 5] as const;

  // The wrapper's sticky-action memory: upstream keeps it across resets (Environment.reset does not clear it).
  private readonly sticky: StickyActions;

  private oxygen = MAX_OXYGEN;
  private divers = 0;
  private subX = 5;
  private subY = 0;
  private facingRight = false;
  private friendlyBullets: Bullet[] = [];
  private enemyBullets: Bullet[] = [];
  private fish: Drifter[] = [];
  private enemySubs: EnemySub[] = [];
  private swimmers: Drifter[] = [];
  private spawnInterval = INITIAL_SPAWN_INTERVAL;
  private spawnWait = INITIAL_SPAWN_INTERVAL;
  private diverSpawnWait = DIVER_SPAWN_INTERVAL;
  private moveInterval = INITIAL_MOVE_INTERVAL;
  private rampLevel = 0;
  private shotWait = 0;
  /** True while the submarine has already been credited for being at the surface. */
  private atSurface = true;
  private over = false;

  constructor(
    private readonly random: NumpyRandom,
    private readonly options: MinatarGameOptions,
  ) {
    this.sticky = new StickyActions(random, options.stickyActionProb);
    this.reset();
  }

  reset(): void {
    this.oxygen = MAX_OXYGEN;
    this.divers = 0;
    this.subX = 5;
    this.subY = 0;
    this.facingRight = false;
    this.friendlyBullets = [];
    this.enemyBullets = [];
    this.fish = [];
    this.enemySubs = [];
    this.swimmers = [];
    this.spawnInterval = INITIAL_SPAWN_INTERVAL;
    this.spawnWait = this.spawnInterval;
    this.diverSpawnWait = DIVER_SPAWN_INTERVAL;
    this.moveInterval = INITIAL_MOVE_INTERVAL;
    this.rampLevel = 0;
    this.shotWait = 0;
    this.atSurface = true;
    this.over = false;
  }

  act(action: number): { reward: number; terminal: boolean } {
    // Sticky actions (the wrapper): one draw every call, even once the episode is over.
    action = this.sticky.apply(action);
    if (this.over) return { reward: 0, terminal: true };

    let reward = 0;
    if (this.spawnWait === 0) {
      this.spawnEnemy();
      this.spawnWait = this.spawnInterval;
    }
    if (this.diverSpawnWait === 0) {
      this.spawnDiver();
      this.diverSpawnWait = DIVER_SPAWN_INTERVAL;
    }

    this.movePlayer(action);
    reward += this.updateFriendlyBullets();
    this.updateDivers();
    reward += this.updateEnemySubs();
    this.updateEnemyBullets();
    reward += this.updateFish();

    if (this.spawnWait > 0) this.spawnWait--;
    if (this.diverSpawnWait > 0) this.diverSpawnWait--;
    if (this.shotWait > 0) this.shotWait--;
    if (this.oxygen <= 0) this.over = true;
    if (this.subY > 0) {
      this.oxygen--;
      this.atSurface = false;
    } else if (!this.atSurface) {
      if (this.divers === 0) this.over = true;
      else reward += this.surface();
    }
    return { reward, terminal: this.over };
  }

  state(out: Float32Array, zeroed = false): void {
    if (!zeroed) out.fill(0);
    // setCell wraps a column of -1 to the last one, as numpy indexing would (not reachable for the player's sub).
    setCell(out, this.subY, this.subX, CH_SUB_FRONT);
    setCell(out, this.subY, this.facingRight ? this.subX - 1 : this.subX + 1, CH_SUB_BACK);
    const oxygenCells = Math.floor((Math.max(0, this.oxygen) * 10) / MAX_OXYGEN);
    for (let col = 0; col < oxygenCells; col++) setCell(out, GRID - 1, col, CH_OXYGEN);
    // Divers aboard fill columns 9 - count .. 8 of the bottom row (nothing when the count is negative).
    for (let col = Math.max(0, GRID - 1 - this.divers); col < GRID - 1; col++) setCell(out, GRID - 1, col, CH_DIVERS);
    for (const b of this.friendlyBullets) setCell(out, b.y, b.x, CH_FRIENDLY_BULLET);
    for (const b of this.enemyBullets) setCell(out, b.y, b.x, CH_ENEMY_BULLET);
    for (const f of this.fish) drawDrifter(out, f, CH_ENEMY_FISH);
    for (const s of this.enemySubs) drawDrifter(out, s, CH_ENEMY_SUB);
    for (const d of this.swimmers) drawDrifter(out, d, CH_DIVER);
  }

  saveState(): JsonObject {
    return {
      game: "seaquest",
      sticky: this.sticky.last,
      oxygen: this.oxygen,
      divers: this.divers,
      subX: this.subX,
      subY: this.subY,
      facingRight: this.facingRight,
      friendlyBullets: this.friendlyBullets.map((b) => ({ ...b })),
      enemyBullets: this.enemyBullets.map((b) => ({ ...b })),
      fish: this.fish.map((f) => ({ ...f })),
      enemySubs: this.enemySubs.map((e) => ({ ...e })),
      swimmers: this.swimmers.map((d) => ({ ...d })),
      spawnInterval: this.spawnInterval,
      spawnWait: this.spawnWait,
      diverSpawnWait: this.diverSpawnWait,
      moveInterval: this.moveInterval,
      rampLevel: this.rampLevel,
      shotWait: this.shotWait,
      atSurface: this.atSurface,
      over: this.over,
    };
  }

  loadState(state: StateReader): void {
    const { sticky } = readGameHeader(state, "seaquest");
    // Oxygen is checked before the step's decrement, so the step that ends the game can take it to −1.
    const oxygen = state.get("oxygen").integer(-1, MAX_OXYGEN);
    // The diver count can go below 0 (the six-divers quirk) and then keep falling.
    const divers = state.get("divers").integer(Number.MIN_SAFE_INTEGER, MAX_DIVERS);
    const subX = state.get("subX").integer(0, GRID - 1);
    const subY = state.get("subY").integer(0, GRID - 2);
    const facingRight = state.get("facingRight").boolean();
    const friendlyBullets = state
      .get("friendlyBullets")
      .items()
      .map((b) => readBullet(b, [0, GRID - 2]));
    const enemyBullets = state
      .get("enemyBullets")
      .items()
      .map((b) => readBullet(b, [1, GRID - 2], [-1, GRID]));
    const fish = state
      .get("fish")
      .items()
      .map((f) => readDrifter(f, INITIAL_MOVE_INTERVAL));
    const enemySubs = state.get("enemySubs").items().map(readEnemySub);
    const swimmers = state
      .get("swimmers")
      .items()
      .map((d) => readDrifter(d, DIVER_MOVE_INTERVAL));
    const spawnInterval = state.get("spawnInterval").integer(1, INITIAL_SPAWN_INTERVAL);
    const spawnWait = state.get("spawnWait").integer(0, INITIAL_SPAWN_INTERVAL);
    const diverSpawnWait = state.get("diverSpawnWait").integer(0, DIVER_SPAWN_INTERVAL);
    const moveInterval = state.get("moveInterval").integer(2, INITIAL_MOVE_INTERVAL);
    const rampLevel = state.get("rampLevel").integer(0, Number.MAX_SAFE_INTEGER);
    const shotWait = state.get("shotWait").integer(0, SHOT_COOLDOWN);
    const atSurface = state.get("atSurface").boolean();
    const over = state.get("over").boolean();
    this.sticky.last = sticky;
    this.oxygen = oxygen;
    this.divers = divers;
    this.subX = subX;
    this.subY = subY;
    this.facingRight = facingRight;
    this.friendlyBullets = friendlyBullets;
    this.enemyBullets = enemyBullets;
    this.fish = fish;
    this.enemySubs = enemySubs;
    this.swimmers = swimmers;
    this.spawnInterval = spawnInterval;
    this.spawnWait = spawnWait;
    this.diverSpawnWait = diverSpawnWait;
    this.moveInterval = moveInterval;
    this.rampLevel = rampLevel;
    this.shotWait = shotWait;
    this.atSurface = atSurface;
    this.over = over;
  }

  private atPlayer(e: Bullet): boolean {
    return e.x === this.subX && e.y === this.subY;
  }

  /** Enemy spawn: three draws (heading, kind, row), then discarded if its row holds an opposite-heading enemy. */
  private spawnEnemy(): void {
    const right = this.random.rand() < 1 / 2;
    const isSub = this.random.rand() < 1 / 3;
    const y = this.random.randint(1, 9);
    const blocked = (e: Bullet) => e.y === y && e.right !== right;
    if (this.enemySubs.some(blocked) || this.fish.some(blocked)) return;
    const x = right ? 0 : GRID - 1;
    if (isSub) this.enemySubs.push({ x, y, right, moveWait: this.moveInterval, shotWait: ENEMY_SHOT_INTERVAL });
    else this.fish.push({ x, y, right, moveWait: this.moveInterval });
  }

  /** Diver spawn: two draws (heading, row). */
  private spawnDiver(): void {
    const right = this.random.rand() < 1 / 2;
    const y = this.random.randint(1, 9);
    this.swimmers.push({ x: right ? 0 : GRID - 1, y, right, moveWait: DIVER_MOVE_INTERVAL });
  }

  /** Firing (when the cooldown is over) takes precedence; other actions move and turn the submarine. */
  private movePlayer(action: number): void {
    if (action === FIRE && this.shotWait === 0) {
      this.friendlyBullets.push({ x: this.subX, y: this.subY, right: this.facingRight });
      this.shotWait = SHOT_COOLDOWN;
    } else if (action === LEFT) {
      this.subX = Math.max(0, this.subX - 1);
      this.facingRight = false;
    } else if (action === RIGHT) {
      this.subX = Math.min(GRID - 1, this.subX + 1);
      this.facingRight = true;
    } else if (action === UP) {
      this.subY = Math.max(0, this.subY - 1);
    } else if (action === DOWN) {
      this.subY = Math.min(GRID - 2, this.subY + 1);
    }
  }

  /** Bullets fly one cell; one landing on a fish (checked first) or an enemy sub destroys both. */
  private updateFriendlyBullets(): number {
    let reward = 0;
    const bullets = this.friendlyBullets;
    for (let i = bullets.length - 1; i >= 0 && i < bullets.length; i--) {
      const b = bullets[i];
      b.x += step(b.right);
      if (offScreen(b.x)) {
        pyRemove(bullets, b, sameBullet);
        continue;
      }
      const fish = findAt(this.fish, b.x, b.y);
      if (fish) {
        pyRemove(this.fish, fish, sameDrifter);
        pyRemove(bullets, b, sameBullet);
        reward++;
        continue;
      }
      const sub = findAt(this.enemySubs, b.x, b.y);
      if (sub) {
        pyRemove(this.enemySubs, sub, sameSub);
        pyRemove(bullets, b, sameBullet);
        reward++;
      }
    }
    return reward;
  }

  /** A diver on the submarine's cell is picked up (room permitting) before or right after it drifts. */
  private updateDivers(): void {
    const list = this.swimmers;
    for (let i = list.length - 1; i >= 0 && i < list.length; i--) {
      const d = list[i];
      if (this.canPickUp(d)) {
        pyRemove(list, d, sameDrifter);
        this.divers++;
        continue;
      }
      if (d.moveWait > 0) {
        d.moveWait--;
        continue;
      }
      d.moveWait = DIVER_MOVE_INTERVAL;
      d.x += step(d.right);
      if (offScreen(d.x)) {
        pyRemove(list, d, sameDrifter);
      } else if (this.canPickUp(d)) {
        pyRemove(list, d, sameDrifter);
        this.divers++;
      }
    }
  }

  /** A diver on the submarine's cell can be taken aboard while fewer than six are. */
  private canPickUp(d: Drifter): boolean {
    return this.atPlayer(d) && this.divers < MAX_DIVERS;
  }

  /**
   * Moves a fish or enemy sub: touching the player (before or after the move) ends the game; after a
   * move, leaving the screen drops it, and landing on a friendly bullet destroys both (+1).
   * Returns the reward earned.
   */
  private driftEnemy<T extends Drifter>(e: T, list: T[], equal: (a: T, b: T) => boolean): number {
    if (this.atPlayer(e)) this.over = true;
    if (e.moveWait > 0) {
      e.moveWait--;
      return 0;
    }
    e.moveWait = this.moveInterval;
    e.x += step(e.right);
    if (offScreen(e.x)) {
      pyRemove(list, e, equal);
    } else if (this.atPlayer(e)) {
      this.over = true;
    } else {
      const bullet = findAt(this.friendlyBullets, e.x, e.y);
      if (bullet) {
        pyRemove(list, e, equal);
        pyRemove(this.friendlyBullets, bullet, sameBullet);
        return 1;
      }
    }
    return 0;
  }

  /** Enemy subs move like fish, then (even if just dropped) count down to dropping a bullet. */
  private updateEnemySubs(): number {
    let reward = 0;
    const subs = this.enemySubs;
    for (let i = subs.length - 1; i >= 0 && i < subs.length; i--) {
      const s = subs[i];
      reward += this.driftEnemy(s, subs, sameSub);
      if (s.shotWait > 0) {
        s.shotWait--;
      } else {
        s.shotWait = ENEMY_SHOT_INTERVAL;
        this.enemyBullets.push({ x: s.x, y: s.y, right: s.right });
      }
    }
    return reward;
  }

  /** Enemy bullets fly one cell per step; touching the player before or after the move ends the game. */
  private updateEnemyBullets(): void {
    const list = this.enemyBullets;
    for (let i = list.length - 1; i >= 0 && i < list.length; i--) {
      const b = list[i];
      if (this.atPlayer(b)) this.over = true;
      b.x += step(b.right);
      if (offScreen(b.x)) pyRemove(list, b, sameBullet);
      else if (this.atPlayer(b)) this.over = true;
    }
  }

  private updateFish(): number {
    let reward = 0;
    const fish = this.fish;
    for (let i = fish.length - 1; i >= 0 && i < fish.length; i--) reward += this.driftEnemy(fish[i], fish, sameDrifter);
    return reward;
  }

  /**
   * Arriving at the surface with divers aboard: refill oxygen, let one diver go (or, with a full
   * load, empty the sub and pay for the remaining oxygen — then still subtract one, upstream's quirk),
   * and ramp the difficulty up.
   */
  private surface(): number {
    this.atSurface = true;
    let reward = 0;
    if (this.divers === MAX_DIVERS) {
      this.divers = 0;
      reward = Math.floor((this.oxygen * 10) / MAX_OXYGEN);
    }
    this.oxygen = MAX_OXYGEN;
    this.divers--;
    if (this.options.difficultyRamping && (this.spawnInterval > 1 || this.moveInterval > 2)) {
      // Moves speed up on every second ramp (odd levels), spawns on every ramp, down to their floors.
      if (this.moveInterval > 2 && this.rampLevel % 2 === 1) this.moveInterval--;
      if (this.spawnInterval > 1) this.spawnInterval--;
      this.rampLevel++;
    }
    return reward;
  }
}

/** MinAtar seaquest (10 channels, all six actions). */
export const seaquest: MinatarGameFactory = (random, options) => new Seaquest(random, options);
