// The Gymnasium bridge (src/envs/gym/) against Python envs that misbehave: each written to a
// temporary module by this test (pure Python, no Gymnasium), each fault refused with an error that
// names the env and says what is wrong — at once, never a hang, never silently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StaqError, StaqInputError } from "../../src/errors.ts";
import { createGymVectorEnv, type GymVectorEnvOptions } from "../../src/envs/gym/gym-vector-env.ts";

const python = process.env.STAQ_PYTHON || "python3";
const needsPython =
  spawnSync(python, ["-c", "import numpy"]).status === 0
    ? {}
    : { skip: `${python} with numpy is not available (install python3 and numpy to run the bridge's tests)` };

/** A fake env whose `mode` picks its fault, at step `when`: the faults found by trying to break the bridge. */
const FAULTY_ENVS = `
import os, subprocess, sys, time

class Discrete:
    def __init__(self, n):
        self.n, self.shape = n, ()
    def __repr__(self):
        return f"Discrete({self.n})"

class Box:
    def __init__(self, low, high):
        self.low, self.high, self.shape, self.dtype = low, high, (len(low),), "float32"
    def __repr__(self):
        return f"Box({self.low}, {self.high})"

class Faulty:
    def __init__(self, mode="ok", obs_n=2, when=2):
        self.mode, self.when, self.obs_n, self.t = mode, when, obs_n, 0
        self.observation_space = Box([-1.0] * obs_n, [1.0] * obs_n)
        self.action_space = Discrete(3)
    def obs(self):
        return [float(self.t)] * self.obs_n
    def reset(self, seed=None, options=None):
        self.t = 0
        if self.mode == "old_reset_api": return self.obs()
        if self.mode == "reset_none": return None, {}
        if self.mode == "nan_on_reset": return [float("nan")] * self.obs_n, {}
        return self.obs(), {}
    def step(self, action):
        self.t += 1
        m = self.mode
        if self.t >= self.when:
            if m == "spawn_and_die":
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
                os._exit(5)
            if m == "hang": time.sleep(1000)
            if m == "nan_obs": return [float("nan")] * self.obs_n, 0.0, False, False, {}
            if m == "inf_obs": return [float("inf")] * self.obs_n, 0.0, False, False, {}
            if m == "nan_reward": return self.obs(), float("nan"), False, False, {}
            if m == "four_tuple": return self.obs(), 0.0, False, {}
            if m == "reward_str": return self.obs(), "1.0", False, False, {}
            if m == "term_str": return self.obs(), 0.0, "no", False, {}
        return self.obs(), 1.0, False, self.t >= 5, {}

def make(mode="ok", **kw):
    return Faulty(mode, **kw)

SHARED = Faulty()
def make_shared():
    return SHARED

class Wrapper:
    def __init__(self, inner):
        self.unwrapped, self.observation_space, self.action_space = inner, inner.observation_space, inner.action_space
def make_shared_unwrapped():
    return Wrapper(SHARED)

def make_empty_obs():
    return Faulty(obs_n=0)

def make_box(low, high):
    env = Faulty()
    env.action_space = Box([float(low)], [float(high)])
    return env

not_callable = 5
`;

const dir = mkdtempSync(join(tmpdir(), "staq-gym-faults-"));
writeFileSync(join(dir, "faulty_envs.py"), FAULTY_ENVS);
test.after(() => rmSync(dir, { recursive: true, force: true }));

function faulty(id: string, count: number, options: GymVectorEnvOptions = {}) {
  return createGymVectorEnv(`faulty_envs:${id}`, count, { pythonPath: [dir], echoStderr: false, ...options });
}

/** Builds the bridge, resets it and steps it `steps` times with action 0, then closes it; returns what threw. */
function runFaulty(id: string, count: number, steps: number, options: GymVectorEnvOptions = {}): Error {
  let env: ReturnType<typeof faulty> | undefined;
  try {
    env = faulty(id, count, options);
    env.reset({ seed: 0 });
    for (let t = 0; t < steps; t++) env.step(new Int32Array(count));
  } catch (error) {
    return error as Error;
  } finally {
    env?.close();
  }
  assert.fail(`${id} ran ${steps} steps without an error`);
}

test("timeoutSeconds and startTimeoutSeconds must be finite numbers > 0, checked before the worker starts", needsPython, () => {
  for (const option of ["timeoutSeconds", "startTimeoutSeconds"] as const) {
    for (const value of [NaN, "abc", 0, -1, Infinity, null]) {
      const started = performance.now();
      assert.throws(
        () => faulty("make,mode=hang", 1, { [option]: value as number }),
        (error: Error) =>
          error instanceof StaqInputError &&
          error.message.includes(
            `${option} must be a finite number of seconds > 0; got ${value === "abc" ? 'the string "abc"' : String(value)}`,
          ),
        `${option}: ${String(value)}`,
      );
      assert.ok(performance.now() - started < 1000, "refused before any worker started");
    }
  }
});

test("a worker that dies while a process it started lives on is reported at once, with its exit code", needsPython, () => {
  const started = performance.now();
  const error = runFaulty("make,mode=spawn_and_die", 2, 3, { timeoutSeconds: 20 });
  assert.ok(error instanceof StaqError, String(error));
  assert.match(error.message, /^gym:faulty_envs:make: the Python worker exited with code 5 while stepping/);
  // The grandchild sleeps 30 s and holds the pipes: waiting for them to close would take that long.
  assert.ok(performance.now() - started < 10_000, `took ${performance.now() - started} ms`);
});

test("reset's seed + i must stay within 2^53 - 1 for every copy, checked before any copy resets", needsPython, () => {
  const env = faulty("make", 3);
  try {
    env.reset({ seed: Number.MAX_SAFE_INTEGER - 2 }); // copies get MAX - 2, MAX - 1, MAX: all distinct
    assert.throws(
      () => env.reset({ seed: Number.MAX_SAFE_INTEGER - 1 }),
      (error: Error) =>
        error instanceof StaqInputError &&
        /seed \+ i for copy i must be an integer in \[0, 2\^53 - 1\] for each of the 3 copies, so the seed must be an integer in \[0, 9007199254740989\]; got 9007199254740990/.test(
          error.message,
        ),
    );
    assert.throws(() => env.reset({ seed: "1" as unknown as number }), /got the string "1"/);
    env.reset({ seed: 0 }); // the refusals left the worker working
  } finally {
    env.close();
  }
});

test("a factory that returns one shared env object (or one unwrapped env) is refused", needsPython, () => {
  for (const factory of ["make_shared", "make_shared_unwrapped"]) {
    assert.throws(
      () => faulty(factory, 2),
      (error: Error) =>
        error instanceof StaqInputError && /the factory returned the same environment object twice \(copies 0 and 1\)/.test(error.message),
      factory,
    );
  }
  faulty("make_shared", 1).close(); // one copy aliases nothing
});

test("a mistyped or non-callable factory says so and lists the module's callables, not 'install gymnasium'", needsPython, () => {
  assert.throws(
    () => faulty("typo_factory", 1),
    (error: Error) =>
      error instanceof StaqInputError &&
      /module 'faulty_envs' has no attribute 'typo_factory'.*its callable attributes: .*make, make_box, make_empty_obs/.test(
        error.message,
      ) &&
      !/gymnasium/i.test(error.message),
  );
  assert.throws(
    () => faulty("not_callable", 1),
    (error: Error) =>
      error instanceof StaqInputError &&
      /faulty_envs\.not_callable is of type int, not a callable.*its callable attributes/.test(error.message),
  );
});

test("a module in the working directory is found ahead of a standard-library module of the same name", needsPython, () => {
  const cwd = join(dir, "cwd");
  mkdirSync(cwd, { recursive: true });
  // `test` is also the standard library's test package, which used to shadow ./test.py.
  writeFileSync(join(cwd, "test.py"), "from faulty_envs import Faulty\ndef make():\n    return Faulty()\n");
  const saved = process.cwd();
  process.chdir(cwd);
  try {
    const env = createGymVectorEnv("test:make", 1, { pythonPath: [dir], echoStderr: false });
    assert.equal(env.actionCount, 3);
    env.close();
  } finally {
    process.chdir(saved);
  }
});

test("NaN and infinite observations and rewards are refused, naming the env, the copy and the step", needsPython, () => {
  const cases: [string, RegExp][] = [
    ["make,mode=nan_obs", /copy 0 returned a NaN observation at step 2 of its episode \(value 0 is NaN\)/],
    ["make,mode=inf_obs", /copy 0 returned an infinite observation at step 2 of its episode \(value 0 is Infinity\)/],
    ["make,mode=nan_reward", /copy 0 returned a NaN reward at step 2 of its episode/],
    ["make,mode=nan_on_reset", /copy 0 returned a NaN observation on reset/],
  ];
  for (const [id, expected] of cases) {
    const error = runFaulty(id, 2, 3);
    assert.ok(error instanceof StaqInputError, `${id}: ${String(error)}`);
    assert.match(error.message, /^gym:faulty_envs:make copy 0 returned/);
    assert.match(error.message, expected, id);
  }
});

test("old Gym API results, non-number rewards and non-bool flags are refused by name", needsPython, () => {
  const cases: [string, RegExp][] = [
    [
      "make,mode=old_reset_api",
      /copy 0's reset\(\) returned \[0\.0, 0\.0\], not Gymnasium's \(observation, info\); this looks like the old Gym API/,
    ],
    ["make,mode=reset_none", /copy 0's reset\(\) returned the observation None/],
    ["make,mode=four_tuple", /copy 0's step\(\) returned 4 values, not Gymnasium's .*old Gym API/],
    ["make,mode=reward_str", /copy 0's step\(\) returned the reward '1\.0'; it must be a single real number/],
    ["make,mode=term_str", /copy 0's step\(\) returned terminated = 'no'; it must be a bool/],
  ];
  for (const [id, expected] of cases) {
    const error = runFaulty(id, 1, 3);
    assert.ok(error instanceof StaqInputError, `${id}: ${String(error)}`);
    assert.match(error.message, expected, id);
  }
});

test("spaces staq cannot step are refused: no observation values, bad Box bounds, discretise-box on a Discrete space", needsPython, () => {
  assert.throws(() => faulty("make_empty_obs", 1), /of shape \(0,\), which holds no values/);
  assert.throws(() => faulty("make_box,low=nan,high=1,discretise-box", 1), /has NaN bounds/);
  assert.throws(() => faulty("make_box,low=1,high=-1,discretise-box", 1), /has a low bound above its high bound/);
  assert.throws(
    () => faulty("make,discretise-box", 1),
    (error: Error) =>
      error instanceof StaqInputError &&
      /discretise-box applies to Box action spaces, but this env's action space is Discrete\(3\)/.test(error.message),
  );
});

test("step() checks every action before sending any, naming the copy, and refuses a non-array", needsPython, () => {
  const env = faulty("make", 3);
  try {
    env.reset({ seed: 0 });
    assert.throws(() => env.step([0, 0, 7]), /the action of copy 2 must be an integer in \[0, 3\); got 7/);
    assert.throws(
      () => env.step([0, "0" as unknown as number, 0]),
      /the action of copy 1 must be an integer in \[0, 3\); got the string "0"/,
    );
    assert.throws(() => env.step(null as unknown as number[]), /step\(\) needs an array of 3 actions, one per copy; got null/);
    assert.deepEqual(Array.from(env.step([0, 0, 0]).obs), [1, 1, 1, 1, 1, 1]); // the refused steps stepped nothing
  } finally {
    env.close();
  }
});
