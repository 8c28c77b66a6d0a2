import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { StaqInputError } from "../../src/errors.ts";
import { makeEnv, registerEnv, registeredEnvs, type EnvRegistration } from "../../src/envs/registry.ts";
import type { TimeLimitedEnv } from "../../src/envs/time-limit.ts";

test("makeEnv builds the classic-control ports with Gymnasium's step limits", () => {
  const limits = { "CartPole-v1": 500, "Acrobot-v1": 500, "MountainCar-v0": 200 };
  for (const [name, limit] of Object.entries(limits)) {
    const env = makeEnv(name) as TimeLimitedEnv;
    assert.equal(env.name, name);
    assert.equal(env.maxEpisodeSteps, limit);
    assert.equal(env.reset({ seed: 1 }).obs.length, env.observationShape[0]);
  }
  // MountainCar with random actions never reaches the goal in 200 steps: the limit truncates it.
  const car = makeEnv("MountainCar-v0");
  car.reset({ seed: 3 });
  let last = car.step(1);
  for (let t = 1; t < 200; t++) last = car.step(t % 3);
  assert.deepEqual([last.terminated, last.truncated], [false, true]);
  assert.ok(!("maxEpisodeSteps" in makeEnv("CartPole-v1", { maxEpisodeSteps: null })), "null: no limit");
  assert.equal((makeEnv("CartPole-v1", { maxEpisodeSteps: 7 }) as TimeLimitedEnv).maxEpisodeSteps, 7);
  assert.throws(() => makeEnv("CartPole-v0"), /no environment named "CartPole-v0"; known: CartPole-v1, Acrobot-v1, MountainCar-v0/);
});

test("users register their own environments", () => {
  registerEnv({
    name: "Test/Constant-v0",
    description: "test",
    make: () => makeEnv("CartPole-v1", { maxEpisodeSteps: null }),
    maxEpisodeSteps: 3,
  });
  assert.ok(registeredEnvs().some((r) => r.name === "Test/Constant-v0"));
  assert.equal((makeEnv("Test/Constant-v0") as TimeLimitedEnv).maxEpisodeSteps, 3);
  assert.throws(
    () => registerEnv({ name: "Bad", description: "", make: () => makeEnv("CartPole-v1"), maxEpisodeSteps: 0 }),
    /maxEpisodeSteps must be an integer >= 1/,
  );
});

test("nothing outside src/envs/minatar imports the GPL MinAtar port", () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const gplFolder = join(root, "src", "envs", "minatar");
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (path !== gplFolder) walk(path);
      } else if (
        /\.(ts|js)$/.test(name) &&
        /from\s+["'][^"']*envs\/minatar|import\(["'][^"']*envs\/minatar|from\s+["']\.\/minatar\//.test(readFileSync(path, "utf8"))
      ) {
        offenders.push(relative(root, path));
      }
    }
  };
  walk(join(root, "src"));
  assert.deepEqual(offenders, [], "these library files import the MinAtar port");
});

test("the one use of MinAtar outside its folder is the command line's run-time import of the port's entry file", () => {
  // The `staq` command (src/cli/minatar-module.ts) imports envs/minatar/index (the file the public
  // subpath "staq/envs/minatar" names) by a URL made at run time, only when it meets a MinAtar
  // reference file or a MinAtar game; no library module depends on it. This lists every mention
  // of the subpath or the file, so a new one is a conscious decision.
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const mentions: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (path !== join(root, "src", "envs", "minatar")) walk(path);
      } else if (/\.(ts|js)$/.test(name) && /"staq\/envs\/minatar"|envs\/minatar\/index/.test(readFileSync(path, "utf8"))) {
        mentions.push(relative(root, path));
      }
    }
  };
  walk(join(root, "src"));
  assert.deepEqual(mentions, [join("src", "cli", "minatar-module.ts")]);
});

test("makeEnv and registerEnv refuse arguments of the wrong type, naming the argument", () => {
  assert.throws(
    () => makeEnv(undefined as unknown as string),
    (error: Error) =>
      error instanceof StaqInputError &&
      /makeEnv needs an environment name \(a string, e\.g\. "CartPole-v1"\); got undefined/.test(error.message),
  );
  assert.throws(() => makeEnv(123 as unknown as string), /makeEnv needs an environment name .*; got 123/);
  assert.throws(() => makeEnv("CartPole-v1", null as unknown as {}), /makeEnv\("CartPole-v1"\): options must be an object .*; got null/);
  assert.throws(
    () => makeEnv("CartPole-v1", { maxEpisodeSteps: "10" as unknown as number }),
    /CartPole-v1: maxEpisodeSteps must be an integer >= 1 \(or null for no limit\); got the string "10"/,
  );
  assert.throws(
    () => registerEnv(null as unknown as EnvRegistration),
    /registerEnv needs a registration \{ name, description, make \}; got null/,
  );
  assert.throws(
    () => registerEnv({ name: 5, description: "x", make: () => makeEnv("CartPole-v1") } as unknown as EnvRegistration),
    /registerEnv needs a non-empty string name; got 5/,
  );
  assert.throws(
    () => registerEnv({ name: "Test/NoMake-v0", description: "x", make: 5 } as unknown as EnvRegistration),
    (error: Error) =>
      error instanceof StaqInputError && /registerEnv\("Test\/NoMake-v0"\): make must be a function .*; got 5/.test(error.message),
  );
  assert.ok(!registeredEnvs().some((r) => r.name === "Test/NoMake-v0"), "a refused registration is not registered");
});

test("an unknown name lists the MinAtar ids too while they are not registered, saying how to get them", () => {
  assert.throws(
    () => makeEnv("Breakout-v1"),
    /known: CartPole-v1, .*; and, once the subpath staq\/envs\/minatar is imported, MinAtar\/\{Asterix,Breakout,Freeway,Seaquest,SpaceInvaders\}-\{v0,v1\}/,
  );
});

test("seed errors of the classic-control ports and LunarLander name the environment and show strings quoted", () => {
  for (const name of ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"]) {
    const env = makeEnv(name);
    assert.throws(() => env.reset({ seed: -1 }), new RegExp(`${name}: seed must be an integer in \\[0, 2\\^53 - 1\\]; got -1$`), name);
    assert.throws(() => env.reset({ seed: "0" as unknown as number }), new RegExp(`${name}: seed must be .*; got the string "0"$`), name);
    env.reset({ seed: 0 });
    assert.throws(() => env.step("0" as unknown as number), /action must be an integer in \[0, \d\) \(.*\); got the string "0"/, name);
  }
});
