import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import type { Env, StepResult } from "../../src/envs/env.ts";
import { withTimeLimit } from "../../src/envs/time-limit.ts";
import { createVectorEnv } from "../../src/envs/vector-env.ts";

/**
 * A walk on 0..length: action 1 steps right, 0 steps left (not below 0); reaching `length`
 * terminates with reward 1, every other step pays 0. The start is drawn from the seed so tests can
 * see seeding: start = seed mod length.
 */
class Corridor implements Env {
  readonly name = "Corridor";
  readonly observationShape = [2];
  readonly actionCount = 2;
  position = 0;
  seed = 0;
  constructor(readonly length = 3) {}
  reset(options: { seed?: number } = {}) {
    if (options.seed !== undefined) this.seed = options.seed;
    this.position = this.seed % this.length;
    return { obs: this.observe(), info: {} };
  }
  step(action: number): StepResult {
    if (action !== 0 && action !== 1) throw new StaqInputError(`action must be 0 or 1; got ${action}`);
    this.position = Math.max(0, this.position + (action === 1 ? 1 : -1));
    const terminated = this.position === this.length;
    return { obs: this.observe(), reward: terminated ? 1 : 0, terminated, truncated: false, info: {} };
  }
  observe() {
    return Float32Array.of(this.position, this.seed);
  }
}

test("the time limit truncates at maxEpisodeSteps, also on a terminating step, and restarts on reset", () => {
  const env = withTimeLimit(new Corridor(3), 3);
  env.reset({ seed: 0 });
  assert.deepEqual([env.step(0).truncated, env.step(1).truncated], [false, false]);
  assert.equal(env.elapsedSteps, 2);
  const third = env.step(1);
  assert.deepEqual([third.terminated, third.truncated], [false, true]);
  env.reset({ seed: 0 });
  assert.equal(env.elapsedSteps, 0);
  env.step(1);
  env.step(1);
  const last = env.step(1); // reaches the end on the limit's step: both flags, as Gymnasium
  assert.deepEqual([last.terminated, last.truncated], [true, true]);
  assert.throws(() => withTimeLimit(new Corridor(), 0), /maxEpisodeSteps must be an integer >= 1/);
});

test("the vector env seeds copy i with seed + i, auto-resets and keeps the final observation", () => {
  const vector = createVectorEnv(() => withTimeLimit(new Corridor(3), 4), 3);
  const obs = vector.reset({ seed: 10 });
  // Seeds 10, 11, 12 → starts 1, 2, 0.
  assert.deepEqual(Array.from(obs), [1, 10, 2, 11, 0, 12]);
  const step = vector.step(Int32Array.of(1, 1, 1));
  // Copy 1 reached 3: terminated, final obs kept, and it is back at its start.
  assert.deepEqual(Array.from(step.terminated), [0, 1, 0]);
  assert.deepEqual(Array.from(step.finalObs[1]!), [3, 11]);
  assert.equal(step.finalObs[0], null);
  assert.deepEqual(Array.from(step.obs), [2, 10, 2, 11, 1, 12]);
  assert.deepEqual([step.episodeReturns[1], step.episodeLengths[1]], [1, 1]);
  assert.ok(Number.isNaN(step.episodeReturns[0]));
  // Copy 2 walks left for the rest of its 4 steps: truncated, not terminated, return 0.
  vector.step(Int32Array.of(0, 0, 0));
  vector.step(Int32Array.of(0, 0, 0));
  const fourth = vector.step(Int32Array.of(0, 0, 0));
  assert.deepEqual([fourth.terminated[2], fourth.truncated[2], fourth.episodeReturns[2], fourth.episodeLengths[2]], [0, 1, 0, 4]);
});

test("the vector env refuses mismatched inputs with clear errors", () => {
  assert.throws(() => createVectorEnv(() => new Corridor(), 0), /integer number of copies >= 1/);
  const shared = new Corridor();
  assert.throws(() => createVectorEnv(() => shared, 2), /returned the same environment object twice/);
  const vector = createVectorEnv(() => new Corridor(), 2);
  assert.throws(() => vector.step(Int32Array.of(0, 0)), /call reset\(\) before the first step\(\)/);
  vector.reset();
  assert.throws(() => vector.step(Int32Array.of(0)), /one action per copy: 2; got 1/);
  assert.throws(() => vector.step(Int32Array.of(0, 7)), /action must be 0 or 1; got 7/);
  assert.throws(() => vector.reset({ seed: -1 }), /seed must be a non-negative integer/);
});
