// The uniform-random baseline: seeded and repeatable, every action used, and its mean on
// CartPole-v1 where the literature puts it (about 22; Gymnasium's random agent).
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEnv } from "../../src/envs/registry.ts";
import { randomPolicyReturns } from "../../src/envs/random-policy.ts";

test("random-policy returns are repeatable for a seed and differ across seeds", () => {
  const first = randomPolicyReturns(makeEnv("CartPole-v1"), 20, 5);
  assert.deepEqual(randomPolicyReturns(makeEnv("CartPole-v1"), 20, 5), first);
  assert.notDeepEqual(randomPolicyReturns(makeEnv("CartPole-v1"), 20, 6), first);
});

test("on CartPole-v1 a random policy lasts about 22 steps (reward 1 per step)", () => {
  // Each return is an episode length; the mean length of uniformly random CartPole episodes is
  // about 22 (sd ≈ 12); over 400 episodes the mean's standard error is about 0.6, so [19, 25] is 5 se.
  const returns = randomPolicyReturns(makeEnv("CartPole-v1"), 400, 1);
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  assert.ok(mean > 19 && mean < 25, `mean ${mean}`);
  assert.ok(returns.every((r) => Number.isInteger(r) && r >= 8 && r <= 500));
});

test("a bad episode count is refused", () => {
  assert.throws(() => randomPolicyReturns(makeEnv("CartPole-v1"), 0, 1), /episodes must be an integer >= 1/);
});
