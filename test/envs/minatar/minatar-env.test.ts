// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEnv, registeredEnvs } from "../../../src/envs/registry.ts";
import {
  MINATAR_GAMES,
  MINATAR_UPSTREAM_SETTINGS,
  makeMinatarEnv,
  makeMinatarEnvById,
  minatarIdStem,
  savedMinatarSettings,
  type MinatarGameName,
} from "../../../src/envs/minatar/index.ts";
import { withTimeLimit } from "../../../src/envs/time-limit.ts";
import { createVectorEnv } from "../../../src/envs/vector-env.ts";
import { sourceEnvStates } from "../../../src/agent/env-factory.ts";
import { RandomState } from "../../../src/envs/random-state.ts";
import { checkMinatarReference } from "../../../src/envs/minatar/reference-check.ts";
import { readReference } from "../../helpers/reference.ts";

const GAMES = Object.keys(MINATAR_GAMES) as MinatarGameName[];

test("importing the subpath registers MinAtar/<Game>-v0 (full actions) and -v1 (minimal), without a time limit", () => {
  assert.deepEqual(GAMES.map(minatarIdStem), ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]);
  const channels = { asterix: 4, breakout: 4, freeway: 7, seaquest: 10, space_invaders: 6 };
  const minimal = { asterix: 5, breakout: 3, freeway: 3, seaquest: 6, space_invaders: 4 };
  for (const game of GAMES) {
    for (const [version, actions] of [
      ["v0", 6],
      ["v1", minimal[game]],
    ] as const) {
      const name = `MinAtar/${minatarIdStem(game)}-${version}`;
      assert.ok(
        registeredEnvs().some((r) => r.name === name && r.maxEpisodeSteps === undefined),
        name,
      );
      const env = makeEnv(name);
      assert.equal(env.name, name);
      assert.ok(!("maxEpisodeSteps" in env), `${name} has no time limit`);
      assert.deepEqual(env.observationShape, [10, 10, channels[game]]);
      assert.equal(env.actionCount, actions);
      const { obs } = env.reset({ seed: 3 });
      assert.equal(obs.length, 100 * channels[game]);
      assert.ok(
        obs.every((v) => v === 0 || v === 1),
        "observations are 0/1",
      );
    }
  }
});

test("makeMinatarEnvById makes a registered id's game with other settings, which its saved state records", () => {
  for (const id of ["MinAtar/Breakout-v1", "MinAtar/SpaceInvaders-v0"]) {
    const registered = makeEnv(id);
    const made = makeMinatarEnvById(id, { stickyActionProb: 0, difficultyRamping: false });
    assert.equal(made.name, id);
    assert.equal(made.actionCount, registered.actionCount);
    made.reset({ seed: 1 });
    const { settings } = made.saveState() as { settings: unknown };
    assert.deepEqual(settings, { stickyActionProb: 0, difficultyRamping: false });
    // With no settings it is the registered game: the same saved state, draw for draw.
    const plain = makeMinatarEnvById(id);
    plain.reset({ seed: 2 });
    registered.reset({ seed: 2 });
    assert.deepEqual(plain.saveState(), (registered as unknown as typeof plain).saveState());
  }
  assert.throws(
    () => makeMinatarEnvById("MinAtar/breakout-v1"),
    /no MinAtar environment named "MinAtar\/breakout-v1"; known: MinAtar\/Asterix-v0, .*MinAtar\/SpaceInvaders-v1$/,
  );
  // The id fixes the action set and the name; a misspelt setting was upstream's default, silently.
  for (const key of ["stickyActionProbability", "actionSet"])
    assert.throws(
      () => makeMinatarEnvById("MinAtar/Breakout-v1", { [key]: 0 } as never),
      new RegExp(`makeMinatarEnvById: unknown option "${key}"`),
    );
});

test("savedMinatarSettings reads the game settings of a run's copies, below the agent's time limit (sourceEnvStates)", () => {
  const settings = { stickyActionProb: 0.25, difficultyRamping: false };
  // What an agent with config timeLimit 50 saves: a vector env of time-limited games (through a
  // JSON round trip, as state.json holds it).
  const vector = createVectorEnv(() => withTimeLimit(makeMinatarEnv("freeway", settings), 50), 2);
  vector.reset({ seed: 1 });
  const saved = JSON.parse(JSON.stringify(vector.saveState()));
  assert.deepEqual(savedMinatarSettings(sourceEnvStates(saved, 50)!), settings);
  assert.deepEqual(savedMinatarSettings([makeMinatarEnv("breakout").saveState()]), MINATAR_UPSTREAM_SETTINGS);
  // Read as if the agent added no limit, the copies are the time limits, a wrapper eval cannot make
  // again: no settings (the game inside was found and the limit dropped, without a word).
  assert.equal(savedMinatarSettings(sourceEnvStates(saved, 0)!), undefined);
  // Saved before settings were recorded, or another environment's: none.
  const old = makeMinatarEnv("breakout").saveState() as Record<string, unknown>;
  delete old.settings;
  assert.equal(savedMinatarSettings([old, old]), undefined);
  assert.equal(savedMinatarSettings([{ kind: "cartpole" }]), undefined);
  assert.equal(savedMinatarSettings([]), undefined);
  // Copies made differently, or a malformed record: no one game is the run's, and that is said.
  const other = makeMinatarEnv("breakout", { stickyActionProb: 0.3 }).saveState();
  assert.throws(
    () => savedMinatarSettings([makeMinatarEnv("breakout").saveState(), other]),
    /^StaqInputError: the run's environment copies were made with different game settings \(copy 0: .*"stickyActionProb":0\.1.*, copy 1: .*"stickyActionProb":0\.3/,
  );
  assert.throws(() => savedMinatarSettings([other, old]), /the saved state of environment copy 1 records the game settings undefined/);
  const five = { ...(other as object), settings: { stickyActionProb: 5, difficultyRamping: true } };
  assert.throws(
    () => savedMinatarSettings([five]),
    /copy 0 records the game settings \{"stickyActionProb":5,"difficultyRamping":true\}; they must be/,
  );
});

test("minimal-set action i is full-set action minimalActions[i]: same seed, same frames", () => {
  for (const game of GAMES) {
    const full = makeMinatarEnv(game);
    const minimal = makeMinatarEnv(game, { actionSet: "minimal" });
    assert.deepEqual(minimal.actions, minimal.game.minimalActions);
    assert.deepEqual(full.reset({ seed: 11 }).obs, minimal.reset({ seed: 11 }).obs);
    const chooser = new RandomState(4);
    for (let t = 0; t < 200; t++) {
      const a = chooser.randint(minimal.actionCount);
      const m = minimal.step(a);
      const f = full.step(minimal.actions[a]);
      assert.deepEqual([f.obs, f.reward, f.terminated], [m.obs, m.reward, m.terminated], `${game} step ${t}`);
      if (m.terminated) {
        full.reset();
        minimal.reset();
      }
    }
  }
});

test("the same seed gives the same episode; unseeded resets continue the generator", () => {
  const run = (env: ReturnType<typeof makeMinatarEnv>, reseed: boolean) => {
    const frames: number[][] = [Array.from(env.reset(reseed ? { seed: 21 } : {}).obs)];
    for (let t = 0; t < 30; t++) {
      const step = env.step(t % env.actionCount);
      frames.push(Array.from(step.obs), [step.reward]);
      if (step.terminated) break;
    }
    return frames;
  };
  const a = makeMinatarEnv("space_invaders");
  const b = makeMinatarEnv("space_invaders");
  const first = run(a, true);
  assert.deepEqual(run(b, true), first, "two environments, same seed");
  assert.deepEqual(run(a, true), first, "re-seeding the same environment");
  // Asterix's reset draws nothing but its spawns do: an unseeded second episode differs from the first.
  const c = makeMinatarEnv("asterix");
  const seeded = run(c, true);
  assert.notDeepEqual(run(c, false), seeded);
});

test("bad use fails with messages that say what to do", () => {
  const env = makeMinatarEnv("breakout", { actionSet: "minimal" });
  assert.throws(() => env.step(0), /step\(\) called before reset\(\); call reset\(\) first/);
  env.reset({ seed: 1 });
  assert.throws(() => env.step(3), /action must be an integer in \[0, 3\); got 3/);
  assert.throws(() => env.step(0.5), /action must be an integer/);
  assert.throws(() => env.reset({ seed: -1 }), /seed must be an integer in \[0, 2\^32 - 1\]/);
  assert.throws(() => env.reset({ seed: 2 ** 32 }), /seed must be an integer/);
  let last;
  do last = env.step(0);
  while (!last.terminated);
  assert.throws(() => env.step(0), /after the episode terminated; call reset\(\)/);
  assert.throws(() => makeMinatarEnv("pong" as MinatarGameName), /no MinAtar game named "pong"; known: asterix, breakout/);
  assert.throws(() => makeMinatarEnv("breakout", { stickyActionProb: 2 }), /stickyActionProb must be a number in \[0, 1\]; got 2/);
});

test("names inherited from Object.prototype are no MinAtar games, and option types are checked", () => {
  for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.throws(
      () => makeMinatarEnv(name as MinatarGameName),
      new RegExp(`no MinAtar game named ${JSON.stringify(name)}; known: asterix, breakout`),
      name,
    );
  }
  // "0.5" >= 0 is true in JavaScript: a string used to pass the range check.
  assert.throws(
    () => makeMinatarEnv("breakout", { stickyActionProb: "0.5" as unknown as number }),
    /stickyActionProb must be a number in \[0, 1\]; got the string "0\.5"/,
  );
  assert.throws(
    () => makeMinatarEnv("breakout", { difficultyRamping: "no" as unknown as boolean }),
    /difficultyRamping must be true or false; got the string "no"/,
  );
  const env = makeMinatarEnv("breakout");
  assert.equal(env.maxSeed, 2 ** 32 - 1);
  assert.throws(
    () => env.reset({ seed: "1" as unknown as number }),
    /MinAtar\/Breakout-v0: seed must be an integer in \[0, 2\^32 - 1\] \(numpy RandomState\); got the string "1"/,
  );
  env.reset({ seed: 0 });
  assert.throws(() => env.step("0" as unknown as number), /action must be an integer in \[0, 6\); got the string "0"/);
});

test("a MinAtar reference file with a field of the wrong type is refused, naming the field", () => {
  const breakout = readReference("minatar-breakout.json") as Record<string, unknown>;
  for (const [field, value, expected] of [
    ["difficulty_ramping", "yes", /difficulty_ramping \(true or false\) is missing or of the wrong type/],
    ["difficulty_ramping", undefined, /difficulty_ramping \(true or false\) is missing or of the wrong type/],
    ["sticky_action_prob", "0.1", /sticky_action_prob \(a number\) is missing or of the wrong type/],
    ["episodes", "x", /episodes \(an array\) is missing or of the wrong type/],
  ] as const) {
    assert.throws(() => checkMinatarReference({ ...breakout, [field]: value }, MINATAR_GAMES.breakout), expected, `${field}: ${value}`);
  }
  assert.throws(() => checkMinatarReference(null, MINATAR_GAMES.breakout), /env \(a string\) is missing/);
  assert.equal(checkMinatarReference(breakout, MINATAR_GAMES.breakout).mismatch, undefined);
});
