import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import type { Env, StepResult } from "../../src/envs/env.ts";
import { withTimeLimit } from "../../src/envs/time-limit.ts";
import { createVectorEnv } from "../../src/envs/vector-env.ts";
import { finiteByConstruction } from "../../src/envs/finite-envs.ts";
import { makeEnv } from "../../src/envs/registry.ts";

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
  // A user's object without the Env interface is named member by member, not met by a TypeError later.
  assert.throws(
    () => createVectorEnv(() => ({ observationSize: 4, actionCount: 2 }) as never, 1),
    /^StaqInputError: make\(\) built copy 0 without the Env interface: name must be a string \(got undefined\); observationShape must be a non-empty array of integers >= 1 \(got undefined\); reset must be a function; step must be a function$/,
  );
  const shaped = (shape: number[]) => () => Object.assign(new Corridor(), { observationShape: shape });
  let made = 0;
  assert.throws(
    () => createVectorEnv(() => (made++ === 0 ? shaped([2, 2])() : shaped([4])()), 2),
    /every copy must have the same observation shape and action count; got Corridor with \[4\]/,
  );
  const vector = createVectorEnv(() => new Corridor(), 2);
  assert.throws(() => vector.step(Int32Array.of(0, 0)), /call reset\(\) before the first step\(\)/);
  vector.reset();
  assert.throws(() => vector.step(Int32Array.of(0)), /one action per copy: 2; got 1/);
  assert.throws(() => vector.step(Int32Array.of(0, 7)), /the action of copy 1 \(Corridor\) must be an integer in \[0, 2\); got 7/);
  assert.throws(
    () => vector.reset({ seed: -1 }),
    /vector env of Corridor: reset's seed \+ i for copy i must be an integer in \[0, 2\^53 - 1\] for each of the 2 copies/,
  );
});

test("a bad action in any copy is refused before any copy steps, naming the copy", () => {
  const vector = createVectorEnv(() => makeEnv("CartPole-v1"), 3);
  vector.reset({ seed: 0 });
  const before = JSON.stringify(vector.saveState());
  for (const [actions, expected] of [
    [[0, 0, 7], /the action of copy 2 \(CartPole-v1\) must be an integer in \[0, 2\); got 7/],
    [[0, "0", 0], /the action of copy 1 \(CartPole-v1\) must be an integer in \[0, 2\); got the string "0"/],
    [[0.5, 0, 0], /the action of copy 0 \(CartPole-v1\) must be an integer in \[0, 2\); got 0\.5/],
    [null, /step\(\) needs an array of 3 actions, one per copy; got null/],
    [5, /step\(\) needs an array of 3 actions, one per copy; got 5/],
  ] as const) {
    assert.throws(
      () => vector.step(actions as unknown as number[]),
      (error: Error) => error instanceof StaqInputError && expected.test(error.message),
    );
    assert.equal(JSON.stringify(vector.saveState()), before, `${JSON.stringify(actions)} stepped no copy`);
  }
  assert.throws(
    () => createVectorEnv("CartPole-v1" as unknown as () => Env, 2),
    /createVectorEnv needs a function that builds one copy.*got the string "CartPole-v1"/,
  );
});

/** A Corridor whose seeds go only to 10, as MinAtar's go only to 2^32 − 1. */
class ShortSeeds extends Corridor {
  readonly maxSeed = 10;
  resets = 0;
  override reset(options: { seed?: number } = {}) {
    if (options.seed !== undefined && options.seed > this.maxSeed) throw new StaqInputError(`seed ${options.seed} too large`);
    this.resets++;
    return super.reset(options);
  }
}

test("reset checks seed + i of every copy against the copies' own seed limit before resetting any", () => {
  const copies: ShortSeeds[] = [];
  const vector = createVectorEnv(() => {
    const env = new ShortSeeds();
    copies.push(env);
    return env;
  }, 3);
  vector.reset({ seed: 8 }); // 8, 9, 10: all within the limit
  assert.throws(
    () => vector.reset({ seed: 9 }),
    (error: Error) =>
      error instanceof StaqInputError &&
      /reset's seed \+ i for copy i must be an integer in \[0, 10\] for each of the 3 copies, so the seed must be an integer in \[0, 8\]; got 9/.test(
        error.message,
      ),
  );
  assert.deepEqual(
    copies.map((env) => env.resets),
    [1, 1, 1],
    "no copy was reset by the refused seed",
  );
  assert.throws(() => vector.reset({ seed: "3" as unknown as number }), /got the string "3"/);
  // A time limit keeps the inner env's limit.
  assert.equal(withTimeLimit(new ShortSeeds(), 5).maxSeed, 10);
  // Near 2^53 the sum seed + count − 1 would round down onto the limit.
  const wide = createVectorEnv(() => new Corridor(), 3);
  assert.throws(() => wide.reset({ seed: Number.MAX_SAFE_INTEGER - 1 }), /so the seed must be an integer in \[0, 9007199254740989\]/);
});

/** A Corridor that returns a NaN or infinite value at a chosen step. */
class Broken extends Corridor {
  t = 0;
  constructor(
    readonly what: "obs" | "reward" | "final" | "reset",
    readonly value: number,
  ) {
    super(100);
  }
  override reset(options: { seed?: number } = {}) {
    this.t = 0;
    const result = super.reset(options);
    if (this.what === "reset") result.obs[1] = this.value;
    return result;
  }
  override step(action: number): StepResult {
    const result = super.step(action);
    if (++this.t < 2) return result;
    if (this.what === "obs") result.obs[1] = this.value;
    if (this.what === "reward") result.reward = this.value;
    if (this.what === "final") return { ...result, obs: Float32Array.of(this.value, 0), truncated: true };
    return result;
  }
}

test("NaN and infinite observations and rewards of a user's env are refused, naming the env, copy, step and value", () => {
  const cases = [
    ["obs", NaN, /Corridor \(copy 1 of the vector env\) returned a NaN observation at step 2 of its episode \(value 1 is NaN\)/],
    ["obs", -Infinity, /returned an infinite observation at step 2 of its episode \(value 1 is -Infinity\)/],
    ["reward", NaN, /Corridor \(copy 1 of the vector env\) returned a NaN reward at step 2 of its episode/],
    ["final", Infinity, /returned an infinite observation at step 2 of its episode \(value 0 is Infinity\)/],
    ["reset", NaN, /Corridor \(copy 1 of the vector env\) returned a NaN observation on reset/],
  ] as const;
  for (const [what, value, expected] of cases) {
    let i = 0;
    const vector = createVectorEnv(() => (i++ === 1 ? new Broken(what, value) : new Corridor(100)), 2);
    assert.throws(
      () => {
        vector.reset({ seed: 0 });
        vector.step([1, 1]);
        vector.step([1, 1]);
      },
      (error: Error) => error instanceof StaqInputError && expected.test(error.message),
      `${what} ${value}`,
    );
  }
});

test("staq's own environments are known finite, so their vector envs skip the per-value check", () => {
  for (const name of ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"]) {
    assert.ok(finiteByConstruction(makeEnv(name)), `${name} (time-limited)`);
    assert.ok(finiteByConstruction(makeEnv(name, { maxEpisodeSteps: null })), name);
  }
  assert.ok(!finiteByConstruction(new Corridor()));
  assert.ok(!finiteByConstruction(withTimeLimit(new Corridor(), 5)), "a limit is trusted only as far as what it wraps");
});
