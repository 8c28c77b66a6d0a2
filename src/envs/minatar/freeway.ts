// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Freeway: a port of MinAtar's freeway (Young & Tian 2019, https://github.com/kenjyoung/MinAtar,
 * GPL-3.0), written from the game's rules.
 *
 * Rules. A chicken in column 4 starts on the bottom row (row 9) and moves up or down one row, at most
 * once every 3 frames. Reaching the top row (row 0) gives +1, re-randomizes the cars' speeds and sends
 * the chicken back to the bottom. Eight cars, one per lane (rows 1–8), drive horizontally and wrap
 * around the screen; a car with speed s moves one column every s+1 frames, to the right for positive
 * speeds and to the left for negative ones. A car on the chicken's cell sends the chicken back to the
 * bottom. The episode ends after 2500 frames (see the timer quirk below).
 *
 * Observation channels: chicken, car, and speed1…speed5: the cell behind each car (its trail) is set in
 * the channel of its speed, so position gives direction and channel gives speed. No difficulty ramp.
 *
 * Upstream behaviour reproduced exactly (including quirks):
 * - Random draws: each randomization draws 8 × `randint(1, 6)` (speeds; numpy's `randint(1, 6, 8)`
 *   draws the same values as eight scalar calls, since each value takes one 32-bit masked-rejection
 *   draw) followed by 8 × `rand()` (directions: sign of u − 0.5; upstream's `rand(8)` likewise equals eight
 *   scalar draws). Reset randomizes and puts every car in column 0; a crossing re-randomizes speeds and
 *   restarts each car's move countdown at |speed| but leaves positions alone. Every `act` first draws one
 *   `rand()` for the sticky-action rule, even after the episode has ended.
 * - The sticky action's memory belongs to the wrapper in upstream, so it is not cleared by reset().
 * - The move cooldown starts at 3 on reset, so the chicken cannot move during the first 3 frames.
 * - Order within a frame: chicken moves, crossing is scored, then each car in lane order is tested for
 *   a hit (before it moves), moved if its countdown is 0 (otherwise counted down), and tested again.
 * - The frame timer starts at 2500 and the episode ends once it drops below 0, i.e. on frame 2501.
 * - A direction draw of exactly 0.5 gives speed 0 (numpy's sign(0) = 0): such a car moves left every
 *   frame and its trail reuses the channel of the previous car in the state loop (upstream crashes if it
 *   is the first car). Reproduced for completeness; the chance is 2⁻⁵³ per draw.
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

const SIZE = 10;
const BOTTOM = SIZE - 1;
const CHANNELS = ["chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5"] as const;
const CHICKEN = 0;
const CAR = 1;
/** Channel of the trail for |speed| = 1 (speeds 1..5 use consecutive channels). */
const SPEED1 = 2;
const CHICKEN_COL = 4;
const CAR_COUNT = 8;
/** Frames between two chicken moves. */
const MOVE_COOLDOWN = 3;
const TIME_LIMIT = 2500;
const ACTION_UP = 2;
const ACTION_DOWN = 4;

class Freeway implements MinatarGame {
  readonly channels: readonly string[] = CHANNELS;
  /** n, u, d. */
  readonly minimalActions: readonly number[] = [0, 2, 4];

  private readonly random: NumpyRandom;
  private readonly sticky: StickyActions;

  /** Chicken's row. */
  private chicken = BOTTOM;
  private cooldown = MOVE_COOLDOWN;
  private framesLeft = TIME_LIMIT;
  private terminal = false;
  /** Car i drives in row i + 1. */
  private readonly carCol = new Int32Array(CAR_COUNT);
  /** Frames until the car next moves; it moves on a frame where this is 0. */
  private readonly carCountdown = new Int32Array(CAR_COUNT);
  /** Signed speed in −5..5 (0 only in the sign(0) quirk). */
  private readonly carSpeed = new Int32Array(CAR_COUNT);

  constructor(random: NumpyRandom, options: MinatarGameOptions) {
    this.random = random;
    this.sticky = new StickyActions(random, options.stickyActionProb);
    // Upstream's constructor resets from its own unseeded generator before seeding; here the cars start
    // at speed 1 to the right without drawing, so the shared generator is untouched until reset().
    this.carSpeed.fill(1);
    this.carCountdown.fill(1);
  }

  reset(): void {
    this.randomizeSpeeds();
    this.carCol.fill(0);
    this.chicken = BOTTOM;
    this.cooldown = MOVE_COOLDOWN;
    this.framesLeft = TIME_LIMIT;
    this.terminal = false;
  }

  act(action: number): { reward: number; terminal: boolean } {
    // Sticky actions: the draw happens on every call.
    action = this.sticky.apply(action);
    if (this.terminal) return { reward: 0, terminal: true };
    return { reward: this.step(action), terminal: this.terminal };
  }

  state(out: Float32Array, zeroed = false): void {
    const c = CHANNELS.length;
    if (!zeroed) out.fill(0, 0, SIZE * SIZE * c);
    out[(this.chicken * SIZE + CHICKEN_COL) * c + CHICKEN] = 1;
    let trail = -1;
    for (let i = 0; i < CAR_COUNT; i++) {
      const row = i + 1;
      const col = this.carCol[i];
      const speed = this.carSpeed[i];
      out[(row * SIZE + col) * c + CAR] = 1;
      // The trail is the cell the car came from, wrapping around.
      let back = speed > 0 ? col - 1 : col + 1;
      if (back < 0) back = BOTTOM;
      else if (back > BOTTOM) back = 0;
      if (speed !== 0) trail = SPEED1 + Math.abs(speed) - 1;
      else if (trail < 0) throw new Error("freeway: first car has speed 0 (upstream raises UnboundLocalError here)");
      out[(row * SIZE + back) * c + trail] = 1;
    }
  }

  saveState(): JsonObject {
    return {
      game: "freeway",
      sticky: this.sticky.last,
      chicken: this.chicken,
      cooldown: this.cooldown,
      framesLeft: this.framesLeft,
      terminal: this.terminal,
      carCol: Array.from(this.carCol),
      carCountdown: Array.from(this.carCountdown),
      carSpeed: Array.from(this.carSpeed),
    };
  }

  loadState(state: StateReader): void {
    const { sticky } = readGameHeader(state, "freeway");
    const chicken = state.get("chicken").integer(0, BOTTOM);
    const cooldown = state.get("cooldown").integer(0, MOVE_COOLDOWN);
    // The timer ends the episode once it is below 0, so it stops at −1.
    const framesLeft = state.get("framesLeft").integer(-1, TIME_LIMIT);
    const terminal = state.get("terminal").boolean();
    const carCol = state.get("carCol").integers(CAR_COUNT, 0, BOTTOM);
    const carCountdown = state.get("carCountdown").integers(CAR_COUNT, 0, 5);
    const carSpeed = state.get("carSpeed").integers(CAR_COUNT, -5, 5);
    this.sticky.last = sticky;
    this.chicken = chicken;
    this.cooldown = cooldown;
    this.framesLeft = framesLeft;
    this.terminal = terminal;
    this.carCol.set(carCol);
    this.carCountdown.set(carCountdown);
    this.carSpeed.set(carSpeed);
  }

  /** New speeds and directions for all cars; each countdown restarts at |speed|. */
  private randomizeSpeeds(): void {
    for (let i = 0; i < CAR_COUNT; i++) this.carSpeed[i] = this.random.randint(1, 6);
    for (let i = 0; i < CAR_COUNT; i++) this.carSpeed[i] *= Math.sign(this.random.rand() - 0.5);
    for (let i = 0; i < CAR_COUNT; i++) this.carCountdown[i] = Math.abs(this.carSpeed[i]);
  }

  private hitByCar(i: number): boolean {
    return this.carCol[i] === CHICKEN_COL && i + 1 === this.chicken;
  }

  /** One frame of the game; returns the reward. */
  private step(action: number): number {
    let reward = 0;
    if (this.cooldown === 0 && (action === ACTION_UP || action === ACTION_DOWN)) {
      this.cooldown = MOVE_COOLDOWN;
      this.chicken = action === ACTION_UP ? Math.max(0, this.chicken - 1) : Math.min(BOTTOM, this.chicken + 1);
    }

    if (this.chicken === 0) {
      reward += 1;
      this.randomizeSpeeds();
      this.chicken = BOTTOM;
    }

    for (let i = 0; i < CAR_COUNT; i++) {
      if (this.hitByCar(i)) this.chicken = BOTTOM;
      if (this.carCountdown[i] === 0) {
        this.carCountdown[i] = Math.abs(this.carSpeed[i]);
        let col = this.carCol[i] + (this.carSpeed[i] > 0 ? 1 : -1);
        if (col < 0) col = BOTTOM;
        else if (col > BOTTOM) col = 0;
        this.carCol[i] = col;
        if (this.hitByCar(i)) this.chicken = BOTTOM;
      } else {
        this.carCountdown[i]--;
      }
    }

    if (this.cooldown > 0) this.cooldown--;
    this.framesLeft--;
    if (this.framesLeft < 0) this.terminal = true;
    return reward;
  }
}

/** MinAtar freeway (7 channels; minimal actions n, u, d). */
export const freeway: MinatarGameFactory = (random, options) => new Freeway(random, options);
