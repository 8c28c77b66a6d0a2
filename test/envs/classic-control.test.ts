import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { AcrobotEnv } from "../../src/envs/classic/acrobot.ts";
import { CartPoleEnv } from "../../src/envs/classic/cartpole.ts";
import { MountainCarEnv } from "../../src/envs/classic/mountain-car.ts";
import type { ClassicEnv } from "../../src/envs/classic/classic-env.ts";
import { checkClassicReference } from "../../src/envs/classic/reference-check.ts";
import { readReference } from "../helpers/reference.ts";

interface Case {
  name: string;
  make: () => ClassicEnv;
  /** Reset bounds per state component ([lo, hi); lo === hi means a constant). */
  resetBounds: [number, number][];
}

const cases: Case[] = [
  { name: "CartPole-v1", make: () => new CartPoleEnv(), resetBounds: Array.from({ length: 4 }, () => [-0.05, 0.05]) },
  { name: "Acrobot-v1", make: () => new AcrobotEnv(), resetBounds: Array.from({ length: 4 }, () => [-0.1, 0.1]) },
  {
    name: "MountainCar-v0",
    make: () => new MountainCarEnv(),
    resetBounds: [
      [-0.6, -0.4],
      [0, 0],
    ],
  },
];

// ---- parity with upstream Gymnasium, step by step ----

for (const { name, make } of cases) {
  test(`${name}: every step of every reference episode matches Gymnasium`, () => {
    const json = readReference(`${name}.json`) as { episodes: { actions: number[] }[] };
    const report = checkClassicReference(json, make);
    const steps = json.episodes.reduce((n, e) => n + e.actions.length, 0);
    console.log(
      `${name}: ${report.episodes} episodes, ${report.steps} steps; max state error relative ` +
        `${report.maxStateError.relative.toExponential(2)}, absolute ${report.maxStateError.absolute.toExponential(2)}`,
    );
    assert.equal(report.mismatch, undefined, `first mismatch: ${JSON.stringify(report.mismatch)}`);
    assert.equal(report.episodes, json.episodes.length);
    assert.equal(report.steps, steps);
    assert.ok(report.steps > 0);
    assert.ok(report.maxStateError.relative <= 1e-12);
  });
}

/** Wraps an environment, perturbing what it reports, to see the checker catch each kind of error. */
function sabotaged(inner: ClassicEnv, change: { state?: number; obs?: boolean; reward?: number; truncate?: boolean }): ClassicEnv {
  return {
    name: inner.name,
    observationShape: inner.observationShape,
    actionCount: inner.actionCount,
    reset: (options) => inner.reset(options),
    setState: (state) => inner.setState(state),
    getState: () => {
      const s = inner.getState();
      if (change.state !== undefined) s[0] *= 1 + change.state;
      return s;
    },
    step: (action) => {
      const r = inner.step(action);
      if (change.obs) r.obs[1] = Math.fround(r.obs[1] + 1e-3);
      if (change.reward !== undefined) r.reward += change.reward;
      if (change.truncate) r.truncated = true;
      return r;
    },
  };
}

test("the reference checker reports the first mismatching field, and tolerates only rounding in the state", () => {
  const json = readReference("CartPole-v1.json");
  const small = checkClassicReference(json, () => sabotaged(new CartPoleEnv(), { state: 1e-14 }));
  assert.equal(small.mismatch, undefined, "a relative change of 1e-14 is within tolerance");

  const state = checkClassicReference(json, () => sabotaged(new CartPoleEnv(), { state: 1e-10 }));
  assert.deepEqual([state.mismatch?.episode, state.mismatch?.step, state.mismatch?.field, state.mismatch?.index], [0, 0, "state", 0]);
  assert.equal(state.steps, 1);

  const obs = checkClassicReference(json, () => sabotaged(new CartPoleEnv(), { obs: true }));
  assert.deepEqual([obs.mismatch?.step, obs.mismatch?.field, obs.mismatch?.index], [0, "obs", 1]);

  const reward = checkClassicReference(json, () => sabotaged(new CartPoleEnv(), { reward: 1 }));
  assert.deepEqual([reward.mismatch?.field, reward.mismatch?.expected, reward.mismatch?.got], ["reward", 1, 2]);

  const truncated = checkClassicReference(json, () => sabotaged(new CartPoleEnv(), { truncate: true }));
  assert.deepEqual([truncated.mismatch?.field, truncated.mismatch?.expected], ["truncated", false]);

  // The time limit decides the expected truncation: a wrong limit shows up as a truncated mismatch.
  const limit = checkClassicReference(json, () => new CartPoleEnv(), { maxEpisodeSteps: 400 });
  assert.deepEqual([limit.mismatch?.episode, limit.mismatch?.step, limit.mismatch?.field], [1, 399, "truncated"]);

  // Malformed or mismatched input.
  const acrobotFile = readReference("Acrobot-v1.json");
  assert.throws(
    () => checkClassicReference(acrobotFile, () => new CartPoleEnv()),
    (e: unknown) => e instanceof StaqInputError && /Acrobot-v1.*CartPole-v1/.test(e.message),
  );
  assert.throws(() => checkClassicReference({ episodes: "no" }, () => new CartPoleEnv()), StaqFormatError);
  assert.throws(() => checkClassicReference(null, () => new CartPoleEnv()), StaqFormatError);
  assert.throws(
    () =>
      checkClassicReference(
        { episodes: [{ initial_state: [0, 0, 0], actions: [], state: [], obs: [], reward: [], terminated: [], truncated: [] }] },
        () => new CartPoleEnv(),
      ),
    (e: unknown) => e instanceof StaqFormatError && /initial_state/.test(e.message),
  );
});

// ---- reset distributions and seeding ----

for (const { name, make, resetBounds } of cases) {
  test(`${name}: reset draws the state from Gymnasium's distribution, within bounds, float32 observation`, () => {
    const env = make();
    const n = 4000;
    const sums = new Array(resetBounds.length).fill(0);
    const mins = new Array(resetBounds.length).fill(Infinity);
    const maxs = new Array(resetBounds.length).fill(-Infinity);
    for (let k = 0; k < n; k++) {
      const { obs } = k === 0 ? env.reset({ seed: 12345 }) : env.reset();
      assert.ok(obs instanceof Float32Array);
      assert.equal(
        obs.length,
        env.observationShape.reduce((a, b) => a * b, 1),
      );
      const state = env.getState();
      state.forEach((v, i) => {
        const [lo, hi] = resetBounds[i];
        if (lo === hi) assert.equal(v, lo);
        else assert.ok(v >= lo && v < hi + 1e-9, `component ${i} = ${v} outside [${lo}, ${hi})`);
        if (name === "Acrobot-v1") assert.equal(v, Math.fround(v), "Acrobot's reset state is rounded to float32, as upstream");
        sums[i] += v;
        mins[i] = Math.min(mins[i], v);
        maxs[i] = Math.max(maxs[i], v);
      });
    }
    resetBounds.forEach(([lo, hi], i) => {
      if (lo === hi) return;
      const width = hi - lo;
      const sd = width / Math.sqrt(12 * n);
      assert.ok(Math.abs(sums[i] / n - (lo + hi) / 2) < 5 * sd, `component ${i}: mean ${sums[i] / n} is not the middle of [${lo}, ${hi})`);
      assert.ok(mins[i] < lo + 0.01 * width && maxs[i] > hi - 0.01 * width, `component ${i}: draws do not cover [${lo}, ${hi})`);
    });
  });

  test(`${name}: the same seed gives the same starts, different seeds differ, reset() continues the stream`, () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), (seed, other) => {
        const a = make();
        const b = make();
        const first = a.reset({ seed }).obs;
        assert.deepEqual(b.reset({ seed }).obs, first);
        const next = a.reset().obs;
        assert.deepEqual(b.reset().obs, next);
        assert.notDeepEqual(next, first, "reset() without a seed continues the stream");
        assert.deepEqual(a.reset({ seed }).obs, first, "reset({ seed }) re-seeds");
        if (other !== seed) assert.notDeepEqual(make().reset({ seed: other }).obs, first);
      }),
      { numRuns: 50 },
    );
    // Unseeded fresh environments draw their own seed (from Math.random) once.
    assert.notDeepEqual(make().reset().obs, make().reset().obs);
    for (const seed of [-1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => make().reset({ seed }), StaqInputError);
    }
  });
}

// ---- validation, termination, API contract ----

for (const { name, make } of cases) {
  test(`${name}: invalid actions and states throw StaqInputError; step before reset throws`, () => {
    const env = make();
    assert.throws(
      () => env.step(0),
      (e: unknown) => e instanceof StaqInputError && /reset\(\)/.test(e.message),
    );
    env.reset({ seed: 1 });
    for (const action of [-1, env.actionCount, 0.5, Number.NaN, Infinity, "1" as unknown as number]) {
      assert.throws(
        () => env.step(action),
        (e: unknown) => e instanceof StaqInputError && /action must be an integer/.test(e.message),
        `action ${String(action)}`,
      );
    }
    const length = env.getState().length;
    const good = new Array(length).fill(0.01);
    for (const bad of [
      good.slice(1),
      [...good, 0],
      good.map((v, i) => (i === length - 1 ? Number.NaN : v)),
      good.map((v, i) => (i === 0 ? Infinity : v)),
      good.map((v, i) => (i === 0 ? ("0" as unknown as number) : v)),
      null as unknown as number[],
      5 as unknown as number[],
    ]) {
      assert.throws(() => env.setState(bad), StaqInputError, `state ${String(bad)}`);
    }
    // A failed setState leaves the state as it was.
    const before = env.getState();
    assert.throws(() => env.setState([...good.slice(1), Number.NaN]));
    assert.deepEqual(env.getState(), before);
  });

  test(`${name}: states round-trip; observations and getState are fresh arrays the caller can keep`, () => {
    const env = make();
    env.reset({ seed: 7 });
    const state = env.getState();
    const copy = Float64Array.from(state);
    state[0] = 123;
    assert.deepEqual(env.getState(), copy, "getState returns a copy");
    const r1 = env.step(1);
    const kept = Float32Array.from(r1.obs);
    const r2 = env.step(1);
    assert.notEqual(r1.obs, r2.obs);
    assert.deepEqual(r1.obs, kept, "an earlier observation is not overwritten by later steps");
    r2.obs.fill(99);
    assert.notDeepEqual(env.step(1).obs, r2.obs);
    env.setState(copy);
    assert.deepEqual(env.getState(), copy);
  });
}

test("stepping after termination throws and tells the caller to reset; reset starts over", () => {
  const terminal: [ClassicEnv, number[], number, number][] = [
    // CartPole: the cart leaves the track (x 2.39 + 0.02·1 > 2.4); reward +1 on the terminating step.
    [new CartPoleEnv(), [2.39, 1, 0, 0], 1, 1],
    // Acrobot: both links point up, the tip is 2 above the pivot; reward 0 on the terminating step.
    [new AcrobotEnv(), [Math.PI - 0.01, 0, 0, 0], 1, 0],
    // MountainCar: past the flag moving right; reward −1 on the terminating step too.
    [new MountainCarEnv(), [0.49, 0.05], 2, -1],
  ];
  for (const [env, state, action, reward] of terminal) {
    env.setState(state);
    const r = env.step(action);
    assert.deepEqual([r.terminated, r.truncated, r.reward], [true, false, reward], env.name);
    assert.throws(
      () => env.step(action),
      (e: unknown) => e instanceof StaqInputError && /terminated/.test(e.message) && /call reset\(\)/.test(e.message),
      env.name,
    );
    env.reset({ seed: 3 });
    assert.equal(env.step(action).terminated, false, `${env.name} steps again after reset`);
    // setState also starts a fresh episode.
    env.setState(state);
    env.step(action);
    env.setState(state);
    assert.equal(env.step(action).terminated, true);
  }
});

test("CartPole keeps giving +1 per step and terminates at the angle threshold", () => {
  const env = new CartPoleEnv();
  env.setState([0, 0, 0.2094, 0.1]);
  const r = env.step(1);
  assert.equal(r.terminated, true, "θ = 0.2094 + 0.02·0.1 > 12°");
  env.setState([0, 0, 0.2, 0]);
  assert.deepEqual([env.step(1).terminated, env.step(1).reward], [false, 1]);
});

test("MountainCar stops dead at the left wall (upstream's velocity reset) and clips its speed", () => {
  const env = new MountainCarEnv();
  env.setState([-1.19, -0.05]);
  const r = env.step(0);
  assert.deepEqual(Array.from(env.getState()), [-1.2, 0]);
  assert.deepEqual(Array.from(r.obs), [Math.fround(-1.2), 0]);
  assert.deepEqual([r.reward, r.terminated], [-1, false]);
  // Moving right from the wall is not reset.
  env.setState([-1.2, 0]);
  env.step(2);
  assert.ok(env.getState()[1] > 0);
  // The speed limit.
  env.setState([-0.5, 0.0699]);
  env.step(2);
  assert.equal(env.getState()[1], 0.07);
});

test("Acrobot wraps its angles into [−π, π] and clips its velocities at 4π and 9π", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
      fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
      fc.double({ min: -4 * Math.PI, max: 4 * Math.PI, noNaN: true }),
      fc.double({ min: -9 * Math.PI, max: 9 * Math.PI, noNaN: true }),
      fc.integer({ min: 0, max: 2 }),
      (t1, t2, v1, v2, action) => {
        const env = new AcrobotEnv();
        env.setState([t1, t2, v1, v2]);
        const { obs, reward, terminated } = env.step(action);
        const [n1, n2, w1, w2] = env.getState();
        assert.ok(Math.abs(n1) <= Math.PI && Math.abs(n2) <= Math.PI, `angles ${n1}, ${n2}`);
        assert.ok(Math.abs(w1) <= 4 * Math.PI && Math.abs(w2) <= 9 * Math.PI, `velocities ${w1}, ${w2}`);
        assert.deepEqual(Array.from(obs), [Math.cos(n1), Math.sin(n1), Math.cos(n2), Math.sin(n2), w1, w2].map(Math.fround));
        assert.equal(terminated, -Math.cos(n1) - Math.cos(n2 + n1) > 1);
        assert.equal(reward, terminated ? 0 : -1);
      },
    ),
    { numRuns: 300 },
  );
  // Saturation and wrapping: both links spinning at their limits leave the speeds clipped at exactly
  // 4π and 9π, and θ₁ (about 0 + 0.2·4π ≈ 2.5 plus the swing) wraps around to negative.
  const env = new AcrobotEnv();
  env.setState([0, 0, 4 * Math.PI, 9 * Math.PI]);
  env.step(0);
  const [n1, n2, w1, w2] = env.getState();
  assert.deepEqual([w1, w2], [4 * Math.PI, 9 * Math.PI]);
  assert.ok(n1 < 0 && n1 >= -Math.PI && n2 < 0 && n2 >= -Math.PI, `angles ${n1}, ${n2}`);
});
