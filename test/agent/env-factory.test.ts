// The agent's environments honour the config's timeLimit (0: the environment's own limit), for
// registered names and for a caller's constructor alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { envFactory } from "../../src/agent/env-factory.ts";
import { CartPoleEnv } from "../../src/envs/classic/cartpole.ts";
import type { Env } from "../../src/envs/env.ts";

/** Steps until an episode ends, with action 0 throughout (CartPole falls within ~10 steps then). */
function episodeLength(env: Env): { steps: number; truncated: boolean } {
  env.reset({ seed: 3 });
  for (let steps = 1; ; steps++) {
    const result = env.step(steps % 2);
    if (result.terminated || result.truncated) return { steps, truncated: result.truncated };
  }
}

test("timeLimit cuts episodes as a truncation; 0 keeps the environment's own limit", () => {
  // Alternating actions keep CartPole up for far longer than 5 steps.
  const limited = episodeLength(envFactory("CartPole-v1", 5).makeCopy!());
  assert.deepEqual(limited, { steps: 5, truncated: true });
  const own = episodeLength(envFactory("CartPole-v1", 0).makeCopy!());
  assert.ok(own.steps > 5, `CartPole-v1 ran ${own.steps} steps`);
  const custom = envFactory(() => new CartPoleEnv(), 5);
  assert.equal(custom.envName, "CartPole-v1");
  assert.deepEqual(episodeLength(custom.makeCopy!()), { steps: 5, truncated: true });
});

test("an env that is neither a name nor a constructor is refused with what to pass", () => {
  assert.throws(() => envFactory(42 as never, 0), /env must be a registered name/);
});
