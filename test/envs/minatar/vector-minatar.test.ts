// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from "node:test";
import assert from "node:assert/strict";
import { writesObservations } from "../../../src/envs/env.ts";
import { createVectorEnv } from "../../../src/envs/vector-env.ts";
import { withTimeLimit } from "../../../src/envs/time-limit.ts";
import { MINATAR_GAMES, makeMinatarEnv, type MinatarGameName } from "../../../src/envs/minatar/index.ts";
import { RandomState } from "../../../src/envs/random-state.ts";

const GAMES = Object.keys(MINATAR_GAMES) as MinatarGameName[];

test("a vector env of MinAtar copies (observations written in place) equals stepping the copies by hand", () => {
  for (const game of GAMES) {
    const n = 3;
    const vector = createVectorEnv(() => makeMinatarEnv(game), n);
    const byHand = Array.from({ length: n }, () => makeMinatarEnv(game));
    const size = vector.observationSize;
    const expectedObs = (frames: Float32Array[]) => Float32Array.from(frames.flatMap((f) => Array.from(f)));
    const first = vector.reset({ seed: 40 });
    assert.deepEqual(first, expectedObs(byHand.map((env, i) => env.reset({ seed: 40 + i }).obs)), `${game} reset`);
    const chooser = new RandomState(7);
    let episodes = 0;
    const returns = new Array<number>(n).fill(0);
    for (let t = 0; t < 300; t++) {
      const actions = Int32Array.from({ length: n }, () => chooser.randint(vector.actionCount));
      const step = vector.step(actions);
      const frames: Float32Array[] = [];
      byHand.forEach((env, i) => {
        const r = env.step(actions[i]);
        returns[i] += r.reward;
        assert.equal(step.rewards[i], r.reward, `${game} step ${t} copy ${i} reward`);
        assert.equal(step.terminated[i], r.terminated ? 1 : 0, `${game} step ${t} copy ${i} terminated`);
        if (r.terminated) {
          episodes++;
          assert.deepEqual(step.finalObs[i], r.obs, `${game} step ${t} copy ${i} final observation`);
          assert.equal(step.episodeReturns[i], returns[i]);
          returns[i] = 0;
          frames.push(env.reset().obs);
        } else {
          assert.equal(step.finalObs[i], null);
          frames.push(r.obs);
        }
      });
      assert.deepEqual(step.obs, expectedObs(frames), `${game} step ${t} observations`);
      assert.equal(step.obs.length, n * size);
    }
    assert.ok(episodes > 0 || game === "freeway", `${game}: some episodes ended within 300 steps`);
  }
});

test("observations stay as they were handed out: later steps and other copies never write into them", () => {
  const env = makeMinatarEnv("breakout");
  const kept = [env.reset({ seed: 1 }).obs];
  const copies = [Float32Array.from(kept[0])];
  for (let t = 0; t < 200; t++) {
    const r = env.step(t % 6);
    kept.push(r.obs);
    copies.push(Float32Array.from(r.obs));
    if (r.terminated) {
      const obs = env.reset().obs;
      kept.push(obs);
      copies.push(Float32Array.from(obs));
    }
  }
  kept.forEach((obs, i) => assert.deepEqual(obs, copies[i], `observation ${i}`));
});

test("a time limit keeps the in-place path and truncates there as it does through step()", () => {
  const limit = 7;
  const vector = createVectorEnv(() => withTimeLimit(makeMinatarEnv("freeway"), limit), 2);
  assert.ok(vector.envs.every(writesObservations), "the time-limited copies still write in place");
  const byHand = Array.from({ length: 2 }, () => withTimeLimit(makeMinatarEnv("freeway"), limit));
  vector.reset({ seed: 5 });
  byHand.forEach((env, i) => env.reset({ seed: 5 + i }));
  for (let t = 0; t < 3 * limit; t++) {
    const step = vector.step([t % 3, (t + 1) % 3]);
    byHand.forEach((env, i) => {
      const r = env.step((t + i) % 3);
      assert.equal(step.truncated[i], r.truncated ? 1 : 0, `step ${t} copy ${i}`);
      assert.equal(step.truncated[i], (t + 1) % limit === 0 ? 1 : 0, "freeway never terminates this early: truncated every 7 steps");
      if (r.truncated) {
        assert.deepEqual(step.finalObs[i], r.obs);
        assert.equal(step.episodeLengths[i], limit);
        env.reset();
      }
    });
  }
});

test("a MinAtar vector env checks seed + i of every copy against 2^32 - 1 before resetting any", () => {
  const vector = createVectorEnv(() => makeMinatarEnv("breakout"), 3);
  vector.reset({ seed: 0 });
  for (let t = 0; t < 3; t++) vector.step([1, 1, 1]);
  const before = JSON.stringify(vector.saveState());
  assert.throws(
    () => vector.reset({ seed: 2 ** 32 - 2 }),
    /vector env of MinAtar\/Breakout-v0: reset's seed \+ i for copy i must be an integer in \[0, 2\^32 - 1\] for each of the 3 copies, so the seed must be an integer in \[0, 4294967293\]; got 4294967294/,
  );
  assert.equal(JSON.stringify(vector.saveState()), before, "no copy was reset, no episode length cleared");
  vector.reset({ seed: 2 ** 32 - 3 }); // the last seed that fits
  // Under a time limit too (the registry's MinAtar ids have none, a user's may).
  const limited = createVectorEnv(() => withTimeLimit(makeMinatarEnv("breakout"), 10), 2);
  assert.throws(() => limited.reset({ seed: 2 ** 32 - 1 }), /so the seed must be an integer in \[0, 4294967294\]/);
});
