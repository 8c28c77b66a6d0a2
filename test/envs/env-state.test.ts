// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Saving and restoring environment state (SnapshotEnv, VectorEnv.saveState/loadState): a state saved
 * mid-run, passed through JSON and loaded into a fresh environment must make it behave bit for bit
 * as the original goes on to behave — observations, rewards, flags and random draws. (GPL-3.0 for
 * the MinAtar environments it imports.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { StaqInputError } from "../../src/errors.ts";
import { savesState, type Env, type EnvState, type SnapshotEnv, type StepResult } from "../../src/envs/env.ts";
import { makeEnv, registeredEnvs } from "../../src/envs/registry.ts";
import { withTimeLimit } from "../../src/envs/time-limit.ts";
import { createVectorEnv, type VectorStep } from "../../src/envs/vector-env.ts";
import { CartPoleEnv } from "../../src/envs/classic/cartpole.ts";
import { createRandomStream, restoreRandomStream, type RandomStream } from "../../src/random/random-stream.ts";
import { MinatarEnv, asterix as asterixGame } from "../../src/envs/minatar/index.ts";

const ALL_NAMES = registeredEnvs().map((r) => r.name);
const CLASSIC_NAMES = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"];
const BOX2D_NAMES = ["LunarLander-v3"];
const MINATAR_NAMES = ALL_NAMES.filter((name) => name.startsWith("MinAtar/"));

/** Through JSON text and back, as a checkpoint file does. */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Bit-for-bit equality of two observations (Object.is per value tells −0 from 0 and NaN from NaN). */
function assertSameObs(got: Float32Array, expected: Float32Array, where: string): void {
  assert.equal(got.length, expected.length, `${where}: observation length`);
  assert.ok(
    Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)),
    `${where}: observations differ: ${got} vs ${expected}`,
  );
}

function assertSameStep(got: StepResult, expected: StepResult, where: string): void {
  assertSameObs(got.obs, expected.obs, where);
  assert.ok(Object.is(got.reward, expected.reward), `${where}: reward ${got.reward} vs ${expected.reward}`);
  assert.equal(got.terminated, expected.terminated, `${where}: terminated`);
  assert.equal(got.truncated, expected.truncated, `${where}: truncated`);
}

/**
 * What a training loop does next, drawn from `chooser`: after a terminal step, reset; after a
 * truncation, mostly reset but sometimes step on past the limit (a time-limited classic env allows
 * it); otherwise a random action, or now and then an unseeded reset mid-episode.
 */
type Move = { reset: true } | { reset: false; action: number };
function nextMove(chooser: RandomStream, env: Env, last: StepResult | null): Move {
  if (last?.terminated) return { reset: true };
  if (last?.truncated && chooser.uniform() < 0.7) return { reset: true };
  if (chooser.uniform() < 0.01) return { reset: true };
  return { reset: false, action: chooser.integer(env.actionCount) };
}

/** Plays `steps` moves on `env` (already reset); returns the last step's result. */
function play(env: Env, chooser: RandomStream, steps: number, last: StepResult | null): StepResult | null {
  for (let t = 0; t < steps; t++) {
    const move = nextMove(chooser, env, last);
    last = move.reset ? { ...env.reset(), reward: 0, terminated: false, truncated: false } : env.step(move.action);
  }
  return last;
}

/** Plays the same `steps` moves on both envs, checking every result is identical. */
function playInLockstep(original: Env, restored: Env, chooser: RandomStream, steps: number, last: StepResult | null, label: string): void {
  for (let t = 0; t < steps; t++) {
    const move = nextMove(chooser, original, last);
    const where = `${label}, step ${t} after the load (${move.reset ? "reset" : `action ${move.action}`})`;
    if (move.reset) {
      const a = original.reset();
      const b = restored.reset();
      assertSameObs(b.obs, a.obs, where);
      last = { ...a, reward: 0, terminated: false, truncated: false };
    } else {
      const a = original.step(move.action);
      assertSameStep(restored.step(move.action), a, where);
      last = a;
    }
  }
}

/**
 * Saves `original`'s state, checks it is plain JSON data, loads it into `fresh` and checks the fresh
 * env's own saved state is the same (so nothing was lost on the way).
 */
function transplant(original: Env, fresh: Env): void {
  assert.ok(savesState(original) && savesState(fresh), `${original.name} implements SnapshotEnv`);
  const state = original.saveState();
  assert.deepEqual(viaJson(state), state, `${original.name}: the state is plain JSON data`);
  fresh.loadState(viaJson(state));
  assert.deepEqual(fresh.saveState(), state, `${original.name}: the loaded env saves the same state`);
}

test("every registered environment is covered: the classic ones, LunarLander and MinAtar's five games, -v0 and -v1", () => {
  // Every test below runs each registered name; this list only says which kind each is (a new
  // built-in environment goes into CLASSIC_NAMES or BOX2D_NAMES). The registry's order is free.
  assert.deepEqual(
    ALL_NAMES.filter((name) => !name.startsWith("MinAtar/")).sort(),
    [...CLASSIC_NAMES, ...BOX2D_NAMES].sort(),
    "a registered environment is missing from CLASSIC_NAMES or BOX2D_NAMES at the top of this file (or one listed there is not registered)",
  );
  assert.equal(MINATAR_NAMES.length, 10);
  for (const name of ALL_NAMES) assert.ok(savesState(makeEnv(name)), `${name} (from makeEnv) implements SnapshotEnv`);
});

for (const name of ALL_NAMES) {
  test(`${name}: a state saved mid-run and loaded into a fresh env continues identically`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 800 }),
        fc.integer({ min: 1, max: 400 }),
        fc.boolean(),
        (seed, before, after, smallLimit) => {
          // Half the runs under a short limit, so they cross time limits often (also on MinAtar,
          // which has none by default); the others under the registered one.
          const options = smallLimit ? { maxEpisodeSteps: 25 } : {};
          const original = makeEnv(name, options);
          const chooser = createRandomStream(seed);
          let last: StepResult | null = { ...original.reset({ seed }), reward: 0, terminated: false, truncated: false };
          last = play(original, chooser, before, last);
          const fresh = makeEnv(name, options);
          transplant(original, fresh);
          playInLockstep(original, fresh, chooser, after, last, `${name} seed ${seed}, saved after ${before} moves`);
        },
      ),
      { numRuns: 30 },
    );
  });
}

test("a state saved before the first reset restores the generator: unseeded resets agree (MinAtar), seeded ones too (classic)", () => {
  for (const name of ALL_NAMES) {
    const original = makeEnv(name);
    const fresh = makeEnv(name);
    transplant(original, fresh);
    // A classic env (and LunarLander) has no generator until its first reset, and an unseeded one
    // seeds it from Math.random: only a seeded first reset is reproducible there. MinAtar's generator
    // exists from construction (seeded from Math.random), and the state carries it.
    const seed = [...CLASSIC_NAMES, ...BOX2D_NAMES].includes(name) ? { seed: 5 } : {};
    assertSameObs(fresh.reset(seed).obs, original.reset(seed).obs, `${name} first reset`);
    playInLockstep(original, fresh, createRandomStream(1), 200, null, `${name} from an idle state`);
  }
});

test("a state saved on the terminal step, or with the episode over, restores that phase", () => {
  for (const name of ALL_NAMES) {
    const original = makeEnv(name, { maxEpisodeSteps: null });
    const chooser = createRandomStream(3);
    // Random actions end every game within 20000 steps (Freeway after 2500 frames), but for
    // MountainCar, which needs the car pushed along its velocity to reach the flag.
    const act = (obs: Float32Array) => (name === "MountainCar-v0" ? (obs[1] >= 0 ? 2 : 0) : chooser.integer(original.actionCount));
    let last: StepResult | null = null;
    let obs = original.reset({ seed: 3 }).obs;
    for (let t = 0; t < 20000 && !last?.terminated; t++) {
      last = original.step(act(obs));
      obs = last.obs;
    }
    assert.ok(last?.terminated, `${name} terminated`);
    const fresh = makeEnv(name, { maxEpisodeSteps: null });
    transplant(original, fresh);
    assert.throws(() => fresh.step(0), /after the episode terminated/, `${name}: the restored env knows the episode is over`);
    assertSameObs(fresh.reset().obs, original.reset().obs, `${name} reset after the terminal state`);
    playInLockstep(original, fresh, chooser, 100, null, `${name} after a terminal state`);
  }
});

test("MinAtar Freeway's frame timer is restored: a state saved just before frame 2501 ends on the same step", () => {
  for (const name of ["MinAtar/Freeway-v0", "MinAtar/Freeway-v1"]) {
    const original = makeEnv(name);
    original.reset({ seed: 11 });
    const chooser = createRandomStream(11);
    for (let t = 0; t < 2495; t++) original.step(chooser.integer(original.actionCount));
    const fresh = makeEnv(name);
    transplant(original, fresh);
    for (let t = 0; t < 6; t++) {
      const action = chooser.integer(original.actionCount);
      const a = original.step(action);
      assertSameStep(fresh.step(action), a, `${name} frame ${2496 + t}`);
      assert.equal(a.terminated, t === 5, `${name}: the episode ends on frame 2501`);
    }
  }
});

test("every MinAtar game saves every field it has (a field added later must be saved too)", () => {
  // What a game is built with (not state), and the sticky-action rule, saved as "sticky".
  const notState = new Set(["channels", "minimalActions", "random", "options", "ramping", "sticky"]);
  for (const name of MINATAR_NAMES) {
    const env = makeEnv(name);
    assert.ok(env instanceof MinatarEnv);
    const fields = Object.keys(env.game)
      .filter((key) => !notState.has(key))
      .sort();
    const saved = Object.keys(env.game.saveState())
      .filter((key) => key !== "game" && key !== "sticky")
      .sort();
    assert.deepEqual(saved, fields, `${name}: the saved fields are the game's fields`);
  }
});

// ---- vector envs ----

function assertSameVectorStep(got: VectorStep, expected: VectorStep, where: string): void {
  assertSameObs(got.obs, expected.obs, `${where} obs`);
  assert.deepEqual(Array.from(got.rewards), Array.from(expected.rewards), `${where} rewards`);
  assert.deepEqual(Array.from(got.terminated), Array.from(expected.terminated), `${where} terminated`);
  assert.deepEqual(Array.from(got.truncated), Array.from(expected.truncated), `${where} truncated`);
  // deepEqual uses Object.is, so NaN (a copy still running) must meet NaN.
  assert.deepEqual(Array.from(got.episodeReturns), Array.from(expected.episodeReturns), `${where} episodeReturns`);
  assert.deepEqual(Array.from(got.episodeLengths), Array.from(expected.episodeLengths), `${where} episodeLengths`);
  got.finalObs.forEach((obs, i) => {
    const other = expected.finalObs[i];
    if (obs === null || other === null) assert.equal(obs, other, `${where} finalObs[${i}]`);
    else assertSameObs(obs, other, `${where} finalObs[${i}]`);
  });
}

for (const name of ALL_NAMES) {
  test(`vector env of 3 × ${name}: a state saved mid-run continues identically in a fresh vector env`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 150 }),
        (seed, before, after) => {
          // A short limit (also on MinAtar) so copies finish episodes, auto-reset and carry running returns.
          const make = () => createVectorEnv(() => makeEnv(name, { maxEpisodeSteps: 30 }), 3);
          const original = make();
          assert.equal(original.snapshots, true);
          original.reset({ seed });
          const chooser = createRandomStream(seed);
          const actions = () => Int32Array.from({ length: 3 }, () => chooser.integer(original.actionCount));
          for (let t = 0; t < before; t++) original.step(actions());
          const state = original.saveState();
          assert.deepEqual(viaJson(state), state, "the vector state is plain JSON data");
          const fresh = make();
          fresh.loadState(viaJson(state));
          assert.deepEqual(fresh.saveState(), state);
          for (let t = 0; t < after; t++) {
            const a = actions();
            assertSameVectorStep(fresh.step(a), original.step(a), `${name} seed ${seed}, step ${t} after the load`);
          }
        },
      ),
      { numRuns: 10 },
    );
  });
}

test("a vector env saved before reset() still refuses to step after loading, and starts like the original", () => {
  const original = createVectorEnv(() => makeEnv("MinAtar/Breakout-v1"), 3);
  const fresh = createVectorEnv(() => makeEnv("MinAtar/Breakout-v1"), 3);
  fresh.loadState(viaJson(original.saveState()));
  assert.throws(() => fresh.step(Int32Array.of(0, 0, 0)), /call reset\(\) before the first step\(\)/);
  assertSameObs(fresh.reset(), original.reset(), "unseeded vector reset");
});

/** An environment without saveState/loadState. */
class Plain implements Env {
  readonly name = "Plain";
  readonly observationShape = [1];
  readonly actionCount = 2;
  reset() {
    return { obs: Float32Array.of(0), info: {} };
  }
  step() {
    return { obs: Float32Array.of(0), reward: 0, terminated: false, truncated: false, info: {} };
  }
}

test("a vector env with a copy lacking SnapshotEnv says so: snapshots is false and saveState names the copy", () => {
  let made = 0;
  const vector = createVectorEnv(() => (made++ === 1 ? new Plain() : withTimeLimit(new Plain(), 5)), 3);
  assert.equal(vector.snapshots, false);
  assert.throws(
    () => vector.saveState(),
    (e: unknown) => e instanceof StaqInputError && /copy 0 \(Plain\) has no saveState\/loadState/.test(e.message),
  );
  assert.throws(() => vector.loadState({}), /cannot load the vector env's state: copy 0 \(Plain\)/);
  assert.equal(savesState(withTimeLimit(new Plain(), 5)), false, "the time limit adds saveState only over an env that has it");
  assert.equal(savesState(withTimeLimit(new CartPoleEnv(), 5)), true);
});

test("vector env loadState refuses another count, another env or a bad copy, and a refused load changes nothing", () => {
  const vector = createVectorEnv(() => makeEnv("CartPole-v1"), 3);
  vector.reset({ seed: 1 });
  for (let t = 0; t < 7; t++) vector.step(Int32Array.of(0, 1, 0));
  const state = viaJson(vector.saveState());
  const other = createVectorEnv(() => makeEnv("CartPole-v1"), 2);
  assert.throws(() => other.loadState(state), /vector env: loadState: state.count must be 2, this vector env's number of copies; got 3/);
  const acrobots = createVectorEnv(() => makeEnv("Acrobot-v1"), 3);
  assert.throws(() => acrobots.loadState(state), /state.env must be "Acrobot-v1"/);
  assert.throws(() => vector.loadState({ ...state, episodeLengths: [1, 2] }), /state.episodeLengths must be an array of 3 integers/);
  assert.throws(() => vector.loadState(null), /vector env: loadState: state must be an object; got null/);

  // Copy 2's state is broken: copies 0 and 1 (loaded first) are put back as they were.
  const target = createVectorEnv(() => makeEnv("CartPole-v1"), 3);
  target.reset({ seed: 99 });
  const before = target.saveState();
  const broken = viaJson(state) as unknown as { envs: { inner: { physics: unknown[] } }[] };
  broken.envs[2].inner.physics = [0, 0, 0];
  assert.throws(
    () => target.loadState(broken as unknown as EnvState),
    /vector env: loadState: copy 2 of 3 \(state.envs\[2\]\): CartPole-v1: loadState: state.physics must be an array of 4 numbers; got an array of 3 \(in state.inner/,
  );
  assert.deepEqual(target.saveState(), before, "the refused load changed nothing");
});

// ---- error messages ----

/** assert.throws for a StaqInputError whose message matches `pattern`. */
function throwsInput(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StaqInputError, `expected a StaqInputError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** A saved state of `name` (no time limit) after a few steps, as JSON data to tamper with. */
function savedAfterSteps(name: string, steps = 5): { env: Env & SnapshotEnv; state: Record<string, unknown> } {
  const env = makeEnv(name, { maxEpisodeSteps: null });
  env.reset({ seed: 2 });
  for (let t = 0; t < steps; t++) env.step(0);
  assert.ok(savesState(env));
  return { env, state: viaJson(env.saveState()) as Record<string, unknown> };
}

test("loadState refuses another environment's state, naming both", () => {
  const { state } = savedAfterSteps("CartPole-v1");
  const acrobot = makeEnv("Acrobot-v1", { maxEpisodeSteps: null }) as Env & SnapshotEnv;
  throwsInput(
    () => acrobot.loadState(state as EnvState),
    /^Acrobot-v1: loadState: the state was saved by "CartPole-v1", not by Acrobot-v1 \(state.env\)/,
  );
  const breakout = savedAfterSteps("MinAtar/Breakout-v0").state;
  const minimal = makeEnv("MinAtar/Breakout-v1") as Env & SnapshotEnv;
  throwsInput(
    () => minimal.loadState(breakout as EnvState),
    /MinAtar\/Breakout-v1: loadState: the state was saved by "MinAtar\/Breakout-v0"/,
  );
  // A time-limited env's state is not a bare env's, and the limit must match.
  const limited = makeEnv("CartPole-v1") as Env & SnapshotEnv;
  throwsInput(
    () => limited.loadState(state as EnvState),
    /state.kind must be "time-limit" \(a state saved by a time-limit CartPole-v1\); got "classic"/,
  );
  const short = makeEnv("CartPole-v1", { maxEpisodeSteps: 50 }) as Env & SnapshotEnv;
  throwsInput(() => short.loadState(limited.saveState()), /state.maxEpisodeSteps must be 50, this environment's step limit.*; got 500/);
});

test("loadState refuses a wrong length, NaN, a wrong type, typed arrays and garbage, saying where", () => {
  const { env, state } = savedAfterSteps("CartPole-v1");
  const before = env.saveState();
  const physics = state.physics as number[];
  const tampered = (patch: Record<string, unknown>) => ({ ...state, ...patch }) as EnvState;
  throwsInput(
    () => env.loadState(tampered({ physics: physics.slice(0, 3) })),
    /^CartPole-v1: loadState: state.physics must be an array of 4 numbers; got an array of 3$/,
  );
  throwsInput(
    () => env.loadState(tampered({ physics: [physics[0], NaN, physics[2], physics[3]] })),
    /state.physics\[1\] must be a finite number \(or "-0"\); got NaN/,
  );
  // NaN through JSON arrives as null.
  throwsInput(
    () => env.loadState(viaJson(tampered({ physics: [physics[0], Infinity, physics[2], physics[3]] }))),
    /state.physics\[1\] must be a finite number \(or "-0"\); got null/,
  );
  throwsInput(
    () => env.loadState(tampered({ physics: Float64Array.from(physics) })),
    /state.physics must be an array of 4 numbers; got a Float64Array \(convert typed arrays to plain arrays\)/,
  );
  throwsInput(
    () => env.loadState(tampered({ phase: "paused" })),
    /state.phase must be one of "idle", "running", "terminated"; got "paused"/,
  );
  throwsInput(
    () => env.loadState(tampered({ random: { seed: 1, block: -1, words: [] } })),
    /state.random: a random stream's block counter must be a non-negative integer/,
  );
  throwsInput(
    () => env.loadState(tampered({ random: { seed: 1, block: 2, words: [1, 2, 3, 4, 5] } })),
    /state.random: a random stream's buffered words must be an array of at most 4/,
  );
  throwsInput(() => env.loadState(tampered({ env: 7 })), /state.env must be the saving environment's name, "CartPole-v1"; got 7/);
  const { env: _ignored, ...nameless } = state;
  throwsInput(() => env.loadState(nameless as EnvState), /state.env must be .*; got nothing \(the field is missing\)/);
  for (const garbage of [null, 42, "CartPole-v1", [1, 2, 3], true]) {
    throwsInput(() => env.loadState(garbage as EnvState), /^CartPole-v1: loadState: state must be an object; got /);
  }
  assert.deepEqual(env.saveState(), before, "refused loads changed nothing");
});

test("MinAtar loadState checks the generator, the game's tag and every game field", () => {
  const { env, state } = savedAfterSteps("MinAtar/Breakout-v0");
  const before = env.saveState();
  const game = state.game as Record<string, unknown>;
  const random = state.random as { key: number[]; pos: number };
  const withGame = (patch: Record<string, unknown>) => ({ ...state, game: { ...game, ...patch } }) as EnvState;
  throwsInput(
    () => env.loadState({ ...state, random: { key: random.key.slice(1), pos: random.pos } } as EnvState),
    /state.random: setState key must be an array of 624 unsigned 32-bit integers, got length 623/,
  );
  throwsInput(
    () => env.loadState({ ...state, random: { key: random.key, pos: 625 } } as EnvState),
    /state.random: setState pos must be an integer in \[0, 624\], got 625/,
  );
  throwsInput(() => env.loadState(withGame({ game: "seaquest" })), /state.game.game must be "breakout"; got "seaquest"/);
  throwsInput(() => env.loadState(withGame({ ballRow: "3" })), /state.game.ballRow must be an integer in \[0, 9\]; got "3"/);
  throwsInput(() => env.loadState(withGame({ ballDCol: 0 })), /state.game.ballDCol must be one of -1, 1; got 0/);
  throwsInput(
    () => env.loadState(withGame({ bricks: (game.bricks as number[]).slice(0, 99) })),
    /state.game.bricks must be an array of 100 integers in \[0, 1\]; got an array of 99/,
  );
  throwsInput(
    () => env.loadState(withGame({ brickCount: 3 })),
    /state.game.brickCount must be \d+, the number of bricks in state.game.bricks; got 3/,
  );
  throwsInput(() => env.loadState(withGame({ sticky: 6 })), /state.game.sticky must be an integer in \[0, 5\]; got 6/);
  assert.deepEqual(env.saveState(), before, "refused loads changed nothing");

  const seaquest = savedAfterSteps("MinAtar/Seaquest-v0");
  const seaGame = seaquest.state.game as Record<string, unknown>;
  throwsInput(
    () => seaquest.env.loadState({ ...seaquest.state, game: { ...seaGame, fish: [{ x: 3, y: 2, right: true }] } } as EnvState),
    /state.game.fish\[0\].moveWait must be an integer in \[0, 5\]; got nothing/,
  );
  const asterix = savedAfterSteps("MinAtar/Asterix-v0");
  const lanes = new Array(8).fill(null);
  lanes[4] = { col: 12, rightward: true, gold: false };
  throwsInput(
    () => asterix.env.loadState({ ...asterix.state, game: { ...(asterix.state.game as object), lanes } } as EnvState),
    /state.game.lanes\[4\].col must be an integer in \[0, 9\]; got 12/,
  );
});

test("a MinAtar state records its game settings: a load into a game with another sticky-action probability or ramping is refused", () => {
  const make = (options: { stickyActionProb?: number; difficultyRamping?: boolean }) =>
    new MinatarEnv(asterixGame, { name: "MinAtar/Asterix-v0", ...options });
  const saved = make({});
  saved.reset({ seed: 4 });
  for (let t = 0; t < 5; t++) saved.step(1);
  const state = viaJson(saved.saveState()) as Record<string, unknown>;
  assert.deepEqual(state.settings, { stickyActionProb: 0.1, difficultyRamping: true }, "upstream's defaults");
  const settingsMessage = (sticky: number, ramping: boolean) =>
    new RegExp(
      `^MinAtar/Asterix-v0: loadState: the state was saved by a game with stickyActionProb 0.1 and difficultyRamping true; this one has ${sticky} and ${ramping}: load it into an environment made with the same settings`,
    );
  const nonSticky = make({ stickyActionProb: 0 });
  nonSticky.reset({ seed: 9 });
  const untouched = nonSticky.saveState();
  throwsInput(() => nonSticky.loadState(state as EnvState), settingsMessage(0, true));
  throwsInput(() => make({ difficultyRamping: false }).loadState(state as EnvState), settingsMessage(0.1, false));
  assert.deepEqual(nonSticky.saveState(), untouched, "a refused load changes nothing");
  throwsInput(
    () => nonSticky.loadState({ ...state, settings: { stickyActionProb: "0.1", difficultyRamping: true } } as EnvState),
    /state.settings.stickyActionProb must be a finite number \(or "-0"\); got "0.1"/,
  );
  // The same settings load and continue as the original; a state saved before settings were
  // recorded (none in it) is taken as it is.
  for (const loadable of [state, Object.fromEntries(Object.entries(state).filter(([key]) => key !== "settings"))]) {
    const copy = make({});
    copy.loadState(loadable as EnvState);
    assert.deepEqual(
      copy.step(2),
      (() => {
        const again = make({});
        again.loadState(state as EnvState);
        return again.step(2);
      })(),
    );
  }
});

test('-0 in a float64 state survives JSON as "-0"', () => {
  const env = new CartPoleEnv();
  env.setState([0, -0, 0.01, -0]);
  const state = viaJson(env.saveState()) as { physics: unknown[] };
  assert.deepEqual(state.physics, [0, "-0", 0.01, "-0"]);
  const fresh = new CartPoleEnv();
  fresh.loadState(state as EnvState);
  assert.ok(Object.is(fresh.getState()[1], -0) && Object.is(fresh.getState()[3], -0));
});

// ---- the Philox stream ----

test("a restored random stream draws exactly what the original draws next, from any position", () => {
  fc.assert(
    fc.property(
      fc.nat(Number.MAX_SAFE_INTEGER),
      fc.array(fc.constantFrom("uniform", "normal", "integer"), { maxLength: 30 }),
      (seed, calls) => {
        const original = createRandomStream(seed);
        for (const call of calls) {
          const state = viaJson(original.saveState());
          const restored = restoreRandomStream(state);
          const draw = (s: RandomStream) => (call === "uniform" ? s.uniform() : call === "normal" ? s.normal() : s.integer(7));
          assert.ok(Object.is(draw(restored), draw(original)));
          assert.deepEqual(restored.saveState(), original.saveState());
        }
      },
    ),
    { numRuns: 100 },
  );
  throwsInput(() => restoreRandomStream({ seed: 1, block: 0, words: [5] }), /buffered words but block counter 0/);
  throwsInput(
    () => restoreRandomStream({ seed: -1, block: 0, words: [] }),
    /^a random stream's state: seed must be an integer in \[0, 2\^53 - 1\]; got -1$/,
  );
  throwsInput(
    () => restoreRandomStream({ seed: 1, block: 1, words: [2 ** 32] }),
    /buffered word 0 must be an unsigned 32-bit integer; got 4294967296/,
  );
});
