/**
 * LunarLander-v3 beside Gymnasium's: observations recorded from the real environment (Gymnasium 1.x
 * on pybox2d 2.3.10, numpy 2; test/fixtures/lunar-lander/, written by
 * scripts/lunar-lander-reference.py) replayed through the port.
 *
 * What must agree exactly: the random draws (same PCG64 stream, same order) and everything computed
 * from them in float64 alone — the terrain — and the heuristic's action on a given observation.
 * What agrees to a stated tolerance: observations and rewards, because pybox2d integrates in float32
 * and planck in float64. Before any contact the two stay close (measured: observations within
 * 2.4e-7 after reset and 1.3e-5 after 60 steps; the bodies' positions and velocities after reset
 * within 1.4e-5, the most on the legs' spin, which 180 float32 joint iterations settle; rewards —
 * differences of shaping values near 100 — within 1.2e-4); the tolerances below leave a margin of
 * about 8×.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LunarLanderEnv } from "../../src/envs/box2d/lunar-lander.ts";
import { lunarLanderHeuristic } from "../../src/envs/box2d/lunar-lander-heuristic.ts";
import { CHUNK_X, H, LanderEpisode } from "../../src/envs/box2d/lunar-lander-physics.ts";
import { Pcg64Generator } from "../../src/random/pcg64.ts";

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/lunar-lander/${name}`, import.meta.url), "utf8"));

interface BodyRecord {
  position: [number, number];
  angle: number;
  linearVelocity: [number, number];
  angularVelocity: number;
}
interface ResetRecord {
  seed: number;
  obs: number[];
  terrain: { smooth_y: number[]; chunk_x: number[] };
  draws: {
    terrain_uniform_0_H2: number[];
    initial_force: number[];
    reset_step_dispersion_uniform_m1_1: number[];
    pcg64_first_u64: string[];
  };
  lander: BodyRecord;
  legs: BodyRecord[];
  prev_shaping: number;
}
interface StepRecord {
  t: number;
  action: number;
  obs: number[];
  reward: number;
  terminated: boolean;
}
interface TrajectoryRecord {
  seed: number;
  reset_obs: number[];
  steps: StepRecord[];
}

const resets = fixture("reset.json") as {
  lander_mass: { mass: number; localCenter: [number, number]; I_about_body_origin: number };
  leg_mass: number;
  seeds: ResetRecord[];
};
const trajectories = fixture("trajectories.json") as { heuristic: TrajectoryRecord[]; open_loop: TrajectoryRecord[] };

const RESET_OBS_TOLERANCE = 2e-6;
const BODY_TOLERANCE = 1e-4;
const STEP_OBS_TOLERANCE = 1e-4;
const STEP_REWARD_TOLERANCE = 1e-3;

function assertClose(got: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, where: string): void {
  assert.equal(got.length, expected.length, `${where}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(got[i] - expected[i]) <= tolerance,
      `${where}[${i}]: ${got[i]} vs Gymnasium's ${expected[i]} (tolerance ${tolerance})`,
    );
  }
}

test("mass properties match pybox2d's (to float32)", () => {
  const episode = new LanderEpisode(new Pcg64Generator(0));
  const reference = resets.lander_mass;
  assertClose([episode.lander.getMass()], [reference.mass], 1e-6, "lander mass");
  const centre = episode.lander.getLocalCenter();
  assertClose([centre.x, centre.y], reference.localCenter, 1e-6, "lander local centre");
  assertClose([episode.lander.getInertia()], [reference.I_about_body_origin], 1e-6, "lander inertia about its origin");
  assertClose([episode.legs[0].getMass()], [resets.leg_mass], 1e-6, "leg mass");
});

test("reset: the same numpy draws, the same terrain bit for bit, the same observation to float32 precision", () => {
  assert.equal(resets.seeds.length, 20);
  const env = new LunarLanderEnv();
  for (const record of resets.seeds) {
    const { seed, draws } = record;
    const where = `seed ${seed}`;
    // The stream Gymnasium drew from, replayed by the PCG64 port in the environment's order.
    const random = new Pcg64Generator(seed);
    assert.deepEqual(
      draws.pcg64_first_u64.map(() => random.nextUint64().toString()),
      draws.pcg64_first_u64,
      `${where}: raw PCG64`,
    );
    const replay = new Pcg64Generator(seed);
    assert.deepEqual(
      draws.terrain_uniform_0_H2.map(() => replay.uniform(0, H / 2)),
      draws.terrain_uniform_0_H2,
      `${where}: terrain draws`,
    );
    assert.deepEqual([replay.uniform(-1000, 1000), replay.uniform(-1000, 1000)], draws.initial_force, `${where}: initial force`);
    assert.deepEqual(
      [replay.uniform(-1, 1), replay.uniform(-1, 1)],
      draws.reset_step_dispersion_uniform_m1_1,
      `${where}: reset dispersion`,
    );

    const obs = env.reset({ seed }).obs;
    assert.deepEqual(Array.from(env.terrain()!), record.terrain.smooth_y, `${where}: smooth_y`);
    assert.deepEqual(CHUNK_X, record.terrain.chunk_x);
    assertClose(obs, record.obs, RESET_OBS_TOLERANCE, `${where}: reset observation`);
  }
});

test("reset: lander and leg bodies where pybox2d has them", () => {
  for (const record of resets.seeds) {
    const episode = new LanderEpisode(new Pcg64Generator(record.seed));
    const bodies = [episode.lander, ...episode.legs];
    [record.lander, ...record.legs].forEach((expected, i) => {
      const body = bodies[i];
      const p = body.getPosition();
      const v = body.getLinearVelocity();
      assertClose(
        [p.x, p.y, body.getAngle(), v.x, v.y, body.getAngularVelocity()],
        [...expected.position, expected.angle, ...expected.linearVelocity, expected.angularVelocity],
        BODY_TOLERANCE,
        `seed ${record.seed}, body ${i} (lander, legs[0], legs[1])`,
      );
    });
  }
});

test("first steps (before any contact) follow Gymnasium's within the float32 tolerance", () => {
  const env = new LunarLanderEnv();
  for (const kind of ["open_loop", "heuristic"] as const) {
    for (const record of trajectories[kind]) {
      const where = `${kind} seed ${record.seed}`;
      assertClose(env.reset({ seed: record.seed }).obs, record.reset_obs, RESET_OBS_TOLERANCE, `${where}: reset`);
      for (const step of record.steps) {
        const result = env.step(step.action);
        assertClose(result.obs, step.obs, STEP_OBS_TOLERANCE, `${where}, step ${step.t}: observation`);
        assertClose([result.reward], [step.reward], STEP_REWARD_TOLERANCE, `${where}, step ${step.t}: reward`);
        assert.equal(result.terminated, step.terminated, `${where}, step ${step.t}: terminated`);
      }
    }
  }
});

test("the heuristic chooses Gymnasium's action on Gymnasium's own observations", () => {
  let checked = 0;
  for (const record of trajectories.heuristic) {
    let obs = record.reset_obs;
    for (const step of record.steps) {
      assert.equal(lunarLanderHeuristic(obs), step.action, `seed ${record.seed}, step ${step.t}, observation ${obs}`);
      obs = step.obs;
      checked++;
    }
  }
  assert.ok(checked >= 500);
});
