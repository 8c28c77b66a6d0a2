// The linear ε schedule against hand-computed values (CleanRL's linear_schedule is the model:
// start + (end − start)·min(1, step/decaySteps)), and its input checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { linearEpsilon } from "../../src/policy/epsilon-schedule.ts";

// A few float64 roundings of numbers at most 1.
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 2 ** -50, `${what}: ${actual} vs ${expected}`);

test("start 1, end 0.05, 100 decay steps: 1, 0.9905, 0.525, 0.05 at steps 0, 1, 50, 100 and 0.05 after", () => {
  const schedule = { start: 1, end: 0.05, decaySteps: 100 };
  assert.equal(linearEpsilon(schedule, 0), 1);
  close(linearEpsilon(schedule, 1), 0.9905, "step 1"); // 1 − 0.95/100
  close(linearEpsilon(schedule, 50), 0.525, "step 50"); // 1 − 0.95/2
  close(linearEpsilon(schedule, 99), 0.0595, "step 99"); // 1 − 0.95·0.99
  assert.equal(linearEpsilon(schedule, 100), 0.05);
  assert.equal(linearEpsilon(schedule, 101), 0.05);
  assert.equal(linearEpsilon(schedule, 10 ** 9), 0.05);
});

test("CleanRL's DQN defaults (1 → 0.05 over 0.5 · 500000 steps): 0.62 at step 100000", () => {
  // exploration_fraction 0.5 of total_timesteps 500000: 250000 decay steps; 1 − 0.95·0.4 = 0.62.
  close(linearEpsilon({ start: 1, end: 0.05, decaySteps: 250_000 }, 100_000), 0.62, "step 100000");
  // M-DQN / Atari-style 1 → 0.01 over 250000: a quarter of the way, 1 − 0.99/4 = 0.7525.
  close(linearEpsilon({ start: 1, end: 0.01, decaySteps: 250_000 }, 62_500), 0.7525, "step 62500");
});

test("decaySteps 0 gives end from step 0; a rising or flat schedule follows the same line", () => {
  assert.equal(linearEpsilon({ start: 1, end: 0.1, decaySteps: 0 }, 0), 0.1);
  assert.equal(linearEpsilon({ start: 1, end: 0.1, decaySteps: 0 }, 7), 0.1);
  close(linearEpsilon({ start: 0, end: 0.5, decaySteps: 10 }, 3), 0.15, "rising"); // 0.5·3/10
  assert.equal(linearEpsilon({ start: 0, end: 0.5, decaySteps: 10 }, 20), 0.5);
  assert.equal(linearEpsilon({ start: 0.3, end: 0.3, decaySteps: 10 }, 4), 0.3);
});

test("the schedule is monotone between start and end, and always a valid ε", () => {
  const unit = fc.double({ min: 0, max: 1, noNaN: true });
  fc.assert(
    fc.property(unit, unit, fc.integer({ min: 0, max: 10 ** 7 }), fc.nat(), fc.nat(), (start, end, decaySteps, s, t) => {
      const schedule = { start, end, decaySteps };
      const [a, b] = [Math.min(s, t), Math.max(s, t)];
      const ea = linearEpsilon(schedule, a);
      const eb = linearEpsilon(schedule, b);
      for (const e of [ea, eb]) assert.ok(e >= Math.min(start, end) && e <= Math.max(start, end), `${e} outside [${start}, ${end}]`);
      // Moving on never moves back towards start.
      if (start >= end) assert.ok(eb <= ea);
      else assert.ok(eb >= ea);
      if (a >= decaySteps) assert.equal(ea, end);
      if (a === 0 && decaySteps > 0) assert.equal(ea, start);
    }),
    { numRuns: 500 },
  );
});

test("bad schedules and steps throw StaqInputError saying what was wrong", () => {
  const bad = (schedule: { start: number; end: number; decaySteps: number }, step: number, message: RegExp) =>
    assert.throws(
      () => linearEpsilon(schedule, step),
      (error: unknown) => error instanceof StaqInputError && message.test(error.message),
    );
  const ok = { start: 1, end: 0.05, decaySteps: 100 };
  bad({ ...ok, start: 1.5 }, 0, /epsilon.*\[0, 1\]; got 1.5/);
  bad({ ...ok, end: -0.1 }, 0, /epsilon.*\[0, 1\]; got -0.1/);
  bad({ ...ok, end: NaN }, 0, /epsilon.*\[0, 1\]; got NaN/);
  bad({ ...ok, decaySteps: -1 }, 0, /decaySteps must be an integer ≥ 0; got -1/);
  bad({ ...ok, decaySteps: 2.5 }, 0, /decaySteps must be an integer ≥ 0; got 2.5/);
  bad({ ...ok, decaySteps: Infinity }, 0, /decaySteps must be an integer ≥ 0; got Infinity/);
  bad(ok, -1, /step must be an integer ≥ 0; got -1/);
  bad(ok, 0.5, /step must be an integer ≥ 0; got 0.5/);
});
