// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Breakout: a port of MinAtar's breakout (Young & Tian 2019, https://github.com/kenjyoung/MinAtar,
 * GPL-3.0), written from the game's rules.
 *
 * Rules. A paddle on the bottom row (row 9) moves one column left or right per step. A ball moves one
 * cell diagonally per step. Three rows of bricks (rows 1–3) sit near the top; breaking one gives +1 and
 * reflects the ball vertically. The ball reflects off the side walls and the ceiling. On reaching the
 * bottom row, it bounces off the paddle (vertically when it was already above the paddle, back the way
 * it came when it arrives diagonally onto the paddle); otherwise the episode ends. When every brick is
 * gone, the three rows are rebuilt — but only when the ball next reaches the bottom row.
 *
 * Observation channels: paddle, ball, trail (the ball's previous cell, which shows its direction),
 * brick. No difficulty ramp in this game.
 *
 * Upstream behaviour reproduced exactly (including quirks):
 * - Random draws: reset draws one `randint(2)` (which wall the ball starts at); every `act` first draws
 *   one `rand()` for the sticky-action rule, even after the episode has ended.
 * - The sticky action's memory belongs to the wrapper in upstream, so it is not cleared by reset().
 * - The paddle moves before the ball, and the bottom-row test uses the paddle's new column.
 * - Side-wall reflection is applied first (clamping the column), and the brick test then uses the
 *   clamped column; a ceiling reflection skips the brick and bottom-row tests for that step.
 * - On breaking a brick the ball keeps its new column but returns to its previous row.
 * - "Strike" latch: when the ball moves into a brick on the step right after breaking one, it does not
 *   break it; it enters the brick's cell (overlapping it) and keeps going. The latch clears on the first
 *   step whose target is not a brick.
 * - When the ball misses the paddle it still moves onto the bottom row (the terminal state shows it there),
 *   and the brick refill check happens before the paddle test, so it can refill on the terminal step.
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
const CHANNELS = ["paddle", "ball", "trail", "brick"] as const;
const PADDLE = 0;
const BALL = 1;
const TRAIL = 2;
const BRICK = 3;
/** Rows 1, 2, 3 hold bricks at the start and after each refill. */
const FIRST_BRICK_ROW = 1;
const BRICK_ROWS = 3;
const ACTION_LEFT = 1;
const ACTION_RIGHT = 3;

class Breakout implements MinatarGame {
  readonly channels: readonly string[] = CHANNELS;
  /** n, l, r. */
  readonly minimalActions: readonly number[] = [0, 1, 3];

  private readonly random: NumpyRandom;
  private readonly sticky: StickyActions;

  private paddle = 4;
  private ballRow = 3;
  private ballCol = 0;
  /** Ball velocity, each ±1 (row grows downward). */
  private ballDRow = 1;
  private ballDCol = 1;
  private trailRow = 3;
  private trailCol = 0;
  /** Set when the previous step broke a brick (upstream's `strike`). */
  private struck = false;
  private terminal = false;
  /** Row-major 10 × 10, 1 where a brick is. */
  private readonly bricks = new Uint8Array(SIZE * SIZE);
  private brickCount = 0;

  constructor(random: NumpyRandom, options: MinatarGameOptions) {
    this.random = random;
    this.sticky = new StickyActions(random, options.stickyActionProb);
    // Upstream's constructor resets from its own unseeded generator before seeding; here the game
    // starts from the left-wall layout without drawing, so the shared generator is untouched until
    // reset() is called.
    this.startEpisode(0);
  }

  reset(): void {
    this.startEpisode(this.random.randint(2));
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
    out[(BOTTOM * SIZE + this.paddle) * c + PADDLE] = 1;
    out[(this.ballRow * SIZE + this.ballCol) * c + BALL] = 1;
    out[(this.trailRow * SIZE + this.trailCol) * c + TRAIL] = 1;
    // Bricks only ever stand in the brick rows (placed there, then only removed).
    for (let cell = FIRST_BRICK_ROW * SIZE; cell < (FIRST_BRICK_ROW + BRICK_ROWS) * SIZE; cell++)
      if (this.bricks[cell]) out[cell * c + BRICK] = 1;
  }

  saveState(): JsonObject {
    return {
      game: "breakout",
      sticky: this.sticky.last,
      paddle: this.paddle,
      ballRow: this.ballRow,
      ballCol: this.ballCol,
      ballDRow: this.ballDRow,
      ballDCol: this.ballDCol,
      trailRow: this.trailRow,
      trailCol: this.trailCol,
      struck: this.struck,
      terminal: this.terminal,
      bricks: Array.from(this.bricks),
      brickCount: this.brickCount,
    };
  }

  loadState(state: StateReader): void {
    const { sticky } = readGameHeader(state, "breakout");
    const cell = (key: string) => state.get(key).integer(0, BOTTOM);
    const direction = (key: string) => state.get(key).oneOf([-1, 1]);
    const paddle = cell("paddle");
    const ballRow = cell("ballRow");
    const ballCol = cell("ballCol");
    const ballDRow = direction("ballDRow");
    const ballDCol = direction("ballDCol");
    const trailRow = cell("trailRow");
    const trailCol = cell("trailCol");
    const struck = state.get("struck").boolean();
    const terminal = state.get("terminal").boolean();
    const bricks = state.get("bricks").integers(SIZE * SIZE, 0, 1);
    // brickCount says when to refill, so it must agree with the bricks themselves.
    const standing = bricks.reduce((sum, brick) => sum + brick, 0);
    const brickCount = state.get("brickCount").integer(0, SIZE * SIZE);
    if (brickCount !== standing) state.get("brickCount").fail(`${standing}, the number of bricks in ${state.path}.bricks`);
    this.sticky.last = sticky;
    this.paddle = paddle;
    this.ballRow = ballRow;
    this.ballCol = ballCol;
    this.ballDRow = ballDRow;
    this.ballDCol = ballDCol;
    this.trailRow = trailRow;
    this.trailCol = trailCol;
    this.struck = struck;
    this.terminal = terminal;
    this.bricks.set(bricks);
    this.brickCount = brickCount;
  }

  /** `fromRight` 0: ball at the left wall heading down-right; 1: at the right wall heading down-left. */
  private startEpisode(fromRight: number): void {
    this.ballRow = 3;
    this.ballCol = fromRight ? BOTTOM : 0;
    this.ballDRow = 1;
    this.ballDCol = fromRight ? -1 : 1;
    this.paddle = 4;
    this.bricks.fill(0);
    this.fillBricks();
    this.struck = false;
    this.trailRow = this.ballRow;
    this.trailCol = this.ballCol;
    this.terminal = false;
  }

  private fillBricks(): void {
    this.bricks.fill(1, FIRST_BRICK_ROW * SIZE, (FIRST_BRICK_ROW + BRICK_ROWS) * SIZE);
    this.brickCount = BRICK_ROWS * SIZE;
  }

  /** One step of the game; returns the reward. */
  private step(action: number): number {
    let reward = 0;
    if (action === ACTION_LEFT) this.paddle = Math.max(0, this.paddle - 1);
    else if (action === ACTION_RIGHT) this.paddle = Math.min(BOTTOM, this.paddle + 1);

    const fromRow = this.ballRow;
    const fromCol = this.ballCol;
    this.trailRow = fromRow;
    this.trailCol = fromCol;
    let row = fromRow + this.ballDRow;
    let col = fromCol + this.ballDCol;

    // Side walls: clamp and reverse horizontally.
    if (col < 0 || col > BOTTOM) {
      col = col < 0 ? 0 : BOTTOM;
      this.ballDCol = -this.ballDCol;
    }

    let hitBrick = false;
    if (row < 0) {
      // Ceiling: clamp and reverse vertically; nothing else is tested this step.
      row = 0;
      this.ballDRow = -this.ballDRow;
    } else if (this.bricks[row * SIZE + col]) {
      hitBrick = true;
      if (!this.struck) {
        reward += 1;
        this.struck = true;
        this.bricks[row * SIZE + col] = 0;
        this.brickCount--;
        row = fromRow;
        this.ballDRow = -this.ballDRow;
      }
      // Otherwise (a brick right after a break) the ball passes into the brick's cell.
    } else if (row === BOTTOM) {
      if (this.brickCount === 0) this.fillBricks();
      if (fromCol === this.paddle) {
        // The ball was directly above the paddle: bounce up, keeping the horizontal direction.
        this.ballDRow = -this.ballDRow;
        row = fromRow;
      } else if (col === this.paddle) {
        // Landed diagonally on the paddle: sent back the way it came.
        this.ballDRow = -this.ballDRow;
        this.ballDCol = -this.ballDCol;
        row = fromRow;
      } else {
        this.terminal = true;
      }
    }
    if (!hitBrick) this.struck = false;

    this.ballRow = row;
    this.ballCol = col;
    return reward;
  }
}

/** MinAtar breakout (4 channels; minimal actions n, l, r). */
export const breakout: MinatarGameFactory = (random, options) => new Breakout(random, options);
