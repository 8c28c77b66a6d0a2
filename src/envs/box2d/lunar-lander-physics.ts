/**
 * One LunarLander episode's physics: the planck world that Gymnasium's `LunarLander.reset` builds
 * (terrain, lander, legs, the initial push, the reset's own step) and its `step` (engines, one
 * world step, observation, shaping reward, termination). The environment (lunar-lander.ts) holds
 * one of these per episode and adds the episode rules around it: phases, seeding, save/restore.
 *
 * Everything here follows `gymnasium/envs/box2d/lunar_lander.py` (Gymnasium 1.x) statement by
 * statement, with the same float64 operations in the same order wherever Python computes in
 * float64 (positions of impulses, the observation's scaling, shaping, rewards). The physics itself
 * is planck (a Box2D 2.3 port) in float64, where Gymnasium runs pybox2d's Box2D 2.3 in float32: the
 * same algorithms, so trajectories agree closely at first and drift apart after contacts (see the
 * environment's comment).
 */
import { Box, Edge, Polygon, RevoluteJoint, World, type Body, type Contact } from "planck";
import type { Pcg64Generator } from "../../random/pcg64.ts";

// Gymnasium's constants (lunar_lander.py, top of the file).
export const FPS = 50;
/** Pixels per metre: every length below in pixels is divided by it. */
export const SCALE = 30.0;
export const MAIN_ENGINE_POWER = 13.0;
export const SIDE_ENGINE_POWER = 0.6;
/** The largest |component| of the random force that pushes the lander at reset. */
export const INITIAL_RANDOM = 1000.0;
/** The lander's hull, in pixels (a convex hexagon). */
export const LANDER_POLY: readonly (readonly [number, number])[] = [
  [-14, +17],
  [-17, 0],
  [-17, -10],
  [+17, -10],
  [+17, 0],
  [+14, +17],
];
export const LEG_AWAY = 20;
export const LEG_DOWN = 18;
export const LEG_W = 2;
export const LEG_H = 8;
export const LEG_SPRING_TORQUE = 40;
export const SIDE_ENGINE_HEIGHT = 14;
export const SIDE_ENGINE_AWAY = 12;
export const MAIN_ENGINE_Y_LOCATION = 4;
export const VIEWPORT_W = 600;
export const VIEWPORT_H = 400;
/** The constructor's default gravity (m/s²). */
export const GRAVITY = -10.0;
/** Terrain points across the screen; CHUNKS − 1 edges. */
export const CHUNKS = 11;

/** The world's size in metres: 20 × 13.333. */
export const W = VIEWPORT_W / SCALE;
export const H = VIEWPORT_H / SCALE;
/** The helipad's height as Gymnasium stores it (H/4); the smoothed pad surface is at 0.99·H/4 (see terrain). */
export const HELIPAD_Y = H / 4;
/** The x of each terrain point: 0, 2, ..., 20. The pad spans chunk 4 to chunk 6 (x 8 to 12). */
export const CHUNK_X: readonly number[] = Array.from({ length: CHUNKS }, (_, i) => (W / (CHUNKS - 1)) * i);

/** Fuel cost per step of each action: [no-op, left engine, main engine, right engine]. */
export const FUEL_COST: readonly number[] = [0, 0.03, 0.3, 0.03];

/**
 * Gymnasium's shaping potential of an (unrounded) observation: closer to the pad, slower, more
 * upright and with legs down is better. The step reward is its difference minus the fuel cost.
 */
export function lunarLanderShaping(s: ArrayLike<number>): number {
  return (
    -100 * Math.sqrt(s[0] * s[0] + s[1] * s[1]) - 100 * Math.sqrt(s[2] * s[2] + s[3] * s[3]) - 100 * Math.abs(s[4]) + 10 * s[6] + 10 * s[7]
  );
}

/** What one step gives besides the state (which `state` holds). */
export interface LanderStep {
  reward: number;
  terminated: boolean;
}

export class LanderEpisode {
  readonly world: World;
  readonly lander: Body;
  /** legs[0] is the left leg (i = −1), legs[1] the right (i = +1), as upstream. */
  readonly legs: readonly [Body, Body];
  /** The terrain's height at each CHUNK_X (Gymnasium's smooth_y). */
  readonly terrain: Float64Array;
  /** The unrounded observation of the last step (the observation is this cast to float32). */
  readonly state = new Float64Array(8);
  /** Whether each leg touches the ground (Gymnasium's leg.ground_contact). */
  private readonly groundContact = [false, false];
  /** Set when anything touches the lander's hull. */
  private gameOver = false;
  /** The shaping of the last step (Gymnasium's prev_shaping); null until the reset's step sets it. */
  private prevShaping: number | null = null;

  /**
   * Gymnasium's reset after its re-seeding: a new world, drawing from `random` exactly as upstream
   * does — 12 terrain heights, then the push's x and y, then the dispersion pair of the reset's own
   * step (whose reward is thrown away; it sets `state` and the shaping baseline).
   */
  constructor(private readonly random: Pcg64Generator) {
    // A new world every reset (the v3 fix; v2 reused it, so reset(seed) was not reproducible).
    this.world = new World({ gravity: { x: 0, y: GRAVITY } });
    this.world.on("begin-contact", (contact) => this.beginContact(contact));
    this.world.on("end-contact", (contact) => this.endContact(contact));

    this.terrain = this.terrainHeights();
    const moon = this.world.createBody({ type: "static" });
    // The bottom edge keeps Box2D's default fixture (friction 0.2); the surface edges have friction 0.1.
    moon.createFixture({ shape: new Edge({ x: 0, y: 0 }, { x: W, y: 0 }), density: 0, friction: 0.2 });
    for (let i = 0; i < CHUNKS - 1; i++) {
      const p1 = { x: CHUNK_X[i], y: this.terrain[i] };
      const p2 = { x: CHUNK_X[i + 1], y: this.terrain[i + 1] };
      moon.createFixture({ shape: new Edge(p1, p2), density: 0, friction: 0.1 });
    }

    const initialY = VIEWPORT_H / SCALE;
    this.lander = this.world.createBody({ type: "dynamic", position: { x: VIEWPORT_W / SCALE / 2, y: initialY }, angle: 0.0 });
    this.lander.createFixture({
      shape: new Polygon(LANDER_POLY.map(([x, y]) => ({ x: x / SCALE, y: y / SCALE }))),
      density: 5.0,
      friction: 0.1,
      filterCategoryBits: 0x0010,
      filterMaskBits: 0x001, // collide only with the ground
      restitution: 0.0,
    });
    // A force, not an impulse: it acts during the reset's step and is then cleared. x is drawn first.
    const fx = this.random.uniform(-INITIAL_RANDOM, INITIAL_RANDOM);
    const fy = this.random.uniform(-INITIAL_RANDOM, INITIAL_RANDOM);
    this.lander.applyForceToCenter({ x: fx, y: fy }, true);

    this.legs = [this.createLeg(-1, initialY), this.createLeg(+1, initialY)];
    this.advance(0);
  }

  /**
   * Gymnasium's step(action) for a discrete action: 0 nothing, 1 left orientation engine, 2 main
   * engine, 3 right orientation engine. Updates `state`; the reward is the shaping difference less
   * the fuel, replaced by −100 on a crash or flying off screen and by +100 once the lander sleeps.
   */
  advance(action: number): LanderStep {
    const lander = this.lander;
    const angle = lander.getAngle();
    const tip = [Math.sin(angle), Math.cos(angle)];
    const side = [-tip[1], tip[0]];
    // Drawn on every step whatever the action (upstream draws before choosing an engine).
    const dispersion = [this.random.uniform(-1.0, +1.0) / SCALE, this.random.uniform(-1.0, +1.0) / SCALE];
    const position = lander.getPosition();

    let mPower = 0.0;
    if (action === 2) {
      mPower = 1.0;
      // 4 pixels below the origin, ±2 for randomness.
      const ox = tip[0] * (MAIN_ENGINE_Y_LOCATION / SCALE + 2 * dispersion[0]) + side[0] * dispersion[1];
      const oy = -tip[1] * (MAIN_ENGINE_Y_LOCATION / SCALE + 2 * dispersion[0]) - side[1] * dispersion[1];
      const impulsePos = { x: position.x + ox, y: position.y + oy };
      lander.applyLinearImpulse({ x: -ox * MAIN_ENGINE_POWER * mPower, y: -oy * MAIN_ENGINE_POWER * mPower }, impulsePos, true);
    }

    let sPower = 0.0;
    if (action === 1 || action === 3) {
      const direction = action - 2;
      sPower = 1.0;
      const ox = tip[0] * dispersion[0] + side[0] * (3 * dispersion[1] + (direction * SIDE_ENGINE_AWAY) / SCALE);
      const oy = -tip[1] * dispersion[0] - side[1] * (3 * dispersion[1] + (direction * SIDE_ENGINE_AWAY) / SCALE);
      // 17 across but SIDE_ENGINE_HEIGHT (14) up: upstream's documented asymmetry, kept as it is.
      const impulsePos = { x: position.x + ox - (tip[0] * 17) / SCALE, y: position.y + oy + (tip[1] * SIDE_ENGINE_HEIGHT) / SCALE };
      lander.applyLinearImpulse({ x: -ox * SIDE_ENGINE_POWER * sPower, y: -oy * SIDE_ENGINE_POWER * sPower }, impulsePos, true);
    }

    this.world.step(1.0 / FPS, 6 * 30, 2 * 30);

    const pos = lander.getPosition();
    const vel = lander.getLinearVelocity();
    const s = this.state;
    s[0] = (pos.x - VIEWPORT_W / SCALE / 2) / (VIEWPORT_W / SCALE / 2);
    s[1] = (pos.y - (HELIPAD_Y + LEG_DOWN / SCALE)) / (VIEWPORT_H / SCALE / 2);
    s[2] = (vel.x * (VIEWPORT_W / SCALE / 2)) / FPS;
    s[3] = (vel.y * (VIEWPORT_H / SCALE / 2)) / FPS;
    s[4] = lander.getAngle();
    s[5] = (20.0 * lander.getAngularVelocity()) / FPS;
    s[6] = this.groundContact[0] ? 1.0 : 0.0;
    s[7] = this.groundContact[1] ? 1.0 : 0.0;

    let reward = 0;
    const shaping = lunarLanderShaping(s);
    if (this.prevShaping !== null) reward = shaping - this.prevShaping;
    this.prevShaping = shaping;
    reward -= mPower * 0.3;
    reward -= sPower * 0.03;

    // Terminal rewards replace the step's; a sleeping lander wins over a crash on the same step.
    let terminated = false;
    if (this.gameOver || Math.abs(s[0]) >= 1.0) {
      terminated = true;
      reward = -100;
    }
    if (!lander.isAwake()) {
      terminated = true;
      reward = +100;
    }
    return { reward, terminated };
  }

  /** Whether leg 0 (left) or 1 (right) touches the ground now. */
  legContact(leg: 0 | 1): boolean {
    return this.groundContact[leg];
  }

  /**
   * The terrain: 12 heights in [0, H/2) (the 12th is used only as height[-1], Python's wrap-around,
   * for the first point), the five around the pad flattened to H/4, then each point the sum of it
   * and its neighbours times 0.33 — not 1/3, so the pad's surface is at 0.99·H/4 = 3.3.
   */
  private terrainHeights(): Float64Array {
    const height = new Float64Array(CHUNKS + 1);
    for (let i = 0; i < height.length; i++) height[i] = this.random.uniform(0, H / 2);
    const mid = Math.floor(CHUNKS / 2);
    for (let i = mid - 2; i <= mid + 2; i++) height[i] = HELIPAD_Y;
    const at = (i: number) => height[(i + height.length) % height.length];
    return Float64Array.from({ length: CHUNKS }, (_, i) => 0.33 * (at(i - 1) + at(i + 0) + at(i + 1)));
  }

  /** A leg (i = −1 left, +1 right) and its spring-loaded revolute joint to the lander. */
  private createLeg(i: number, initialY: number): Body {
    const leg = this.world.createBody({
      type: "dynamic",
      position: { x: VIEWPORT_W / SCALE / 2 - (i * LEG_AWAY) / SCALE, y: initialY },
      angle: i * 0.05,
    });
    leg.createFixture({
      shape: new Box(LEG_W / SCALE, LEG_H / SCALE),
      density: 1.0,
      friction: 0.2, // Box2D's default: upstream sets none
      restitution: 0.0,
      filterCategoryBits: 0x0020,
      filterMaskBits: 0x001,
    });
    this.world.createJoint(
      new RevoluteJoint({
        bodyA: this.lander,
        bodyB: leg,
        localAnchorA: { x: 0, y: 0 },
        localAnchorB: { x: (i * LEG_AWAY) / SCALE, y: LEG_DOWN / SCALE },
        // pybox2d sets bodyB.angle − bodyA.angle when none is given; planck does too, but Box2D 2.4
        // ports default to 0, so it is spelled out.
        referenceAngle: i * 0.05,
        enableMotor: true,
        enableLimit: true,
        maxMotorTorque: LEG_SPRING_TORQUE,
        motorSpeed: +0.3 * i,
        // Written as upstream writes them (0.9 − 0.5, not 0.4).
        lowerAngle: i === -1 ? +0.9 - 0.5 : -0.9,
        upperAngle: i === -1 ? +0.9 : -0.9 + 0.5,
      }),
    );
    return leg;
  }

  /** Gymnasium's ContactDetector.BeginContact: the hull touching anything ends the game; a leg touching sets its contact. */
  private beginContact(contact: Contact): void {
    const a = contact.getFixtureA().getBody();
    const b = contact.getFixtureB().getBody();
    if (a === this.lander || b === this.lander) this.gameOver = true;
    for (let i = 0; i < 2; i++) {
      if (a === this.legs[i] || b === this.legs[i]) this.groundContact[i] = true;
    }
  }

  /** EndContact: the leg's contact is cleared, even if it still touches another terrain edge (as upstream). */
  private endContact(contact: Contact): void {
    const a = contact.getFixtureA().getBody();
    const b = contact.getFixtureB().getBody();
    for (let i = 0; i < 2; i++) {
      if (a === this.legs[i] || b === this.legs[i]) this.groundContact[i] = false;
    }
  }
}
