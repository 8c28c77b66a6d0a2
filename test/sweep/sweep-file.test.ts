import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { registerEnv } from "../../src/envs/registry.ts";
import { MAX_HIDDEN_LAYERS } from "../../src/stack/mlp.ts";
import { MAX_SWEEP_POINTS, checkMinatarEnvs, parseSweep, pointName, trainArguments } from "../../src/sweep/sweep-file.ts";

const FILE = "/sweeps/study/memory.json";

test("a grid's points are the product of its lists, the last key fastest, named key=value after the grid's keys", () => {
  const sweep = parseSweep(
    { out: "runs", base: { env: "CartPole-v1", preset: "quick", totalSteps: 2000 }, grid: { memory: [1, 5], seed: [0, 1, 2] } },
    FILE,
  );
  assert.equal(sweep.out, "/sweeps/study/runs", "a relative out is read from the sweep file's directory");
  assert.deepEqual(
    sweep.points.map((p) => p.name),
    ["memory=1,seed=0", "memory=1,seed=1", "memory=1,seed=2", "memory=5,seed=0", "memory=5,seed=1", "memory=5,seed=2"],
  );
  const point = sweep.points[4];
  assert.equal(point.dir, "/sweeps/study/runs/memory=5,seed=1");
  assert.equal(point.config.memory, 5);
  assert.equal(point.config.seed, 1);
  assert.equal(point.config.totalSteps, 2000);
  assert.equal(point.preset, "quick");
});

test("a list of grids is their union; a run two grids both reach is kept once, under its first name", () => {
  const sweep = parseSweep(
    {
      out: "/abs/out",
      base: { env: "Acrobot-v1", preset: "quick", variant: "corrected" },
      grid: [
        { memory: [5, 10], seed: [0] },
        { variant: ["vanilla", "corrected"], memory: [5], seed: [0] },
      ],
    },
    FILE,
  );
  assert.equal(sweep.out, "/abs/out");
  assert.deepEqual(
    sweep.points.map((p) => p.name),
    ["memory=5,seed=0", "memory=10,seed=0", "variant=vanilla,memory=5,seed=0"],
  );
});

test("algo picks its own preset (dqn + quick is dqn-quick), and the train arguments carry every override", () => {
  const sweep = parseSweep(
    {
      out: "o",
      base: { env: "MinAtar/Breakout-v1", preset: "quick", totalSteps: 512 },
      grid: { algo: ["dqn"], hidden: [[16, 8]], lr: [1e-4] },
    },
    FILE,
  );
  const [point] = sweep.points;
  assert.equal(point.preset, "dqn-quick");
  assert.equal(point.name, "algo=dqn,hidden=16x8,lr=0.0001");
  assert.deepEqual(trainArguments(sweep, point), [
    "--env",
    "MinAtar/Breakout-v1",
    "--preset",
    "dqn-quick",
    "--out",
    resolve("/sweeps/study/o/algo=dqn,hidden=16x8,lr=0.0001"),
    "--algo",
    "dqn",
    "--steps",
    "512",
    "--lr",
    "0.0001",
    "--hidden",
    "16,8",
  ]);
});

test("names keep only characters safe in a directory name: MinAtar/Breakout-v1 is MinAtar-Breakout-v1", () => {
  assert.equal(pointName([["env", "MinAtar/Breakout-v1"]]), "env=MinAtar-Breakout-v1");
  assert.equal(pointName([]), "run");
  assert.equal(
    pointName([
      ["tauStart", 0.5],
      ["nextAction", "sample"],
    ]),
    "tauStart=0.5,nextAction=sample",
  );
});

test("--out replaces the file's out, from the working directory; checkpointEvery reaches the train arguments", () => {
  const sweep = parseSweep({ out: "x", base: { env: "CartPole-v1" }, checkpointEvery: 3 }, FILE, "elsewhere");
  assert.equal(sweep.out, resolve("elsewhere"));
  assert.deepEqual(
    sweep.points.map((p) => p.name),
    ["run"],
  );
  assert.equal(sweep.points[0].preset, "paper-classic", "the env's default preset, as staq train picks it");
  assert.deepEqual(trainArguments(sweep, sweep.points[0]).slice(-2), ["--checkpoint-every", "3"]);
  assert.equal(sweep.points[0].dir, join(resolve("elsewhere"), "run"));
});

test("mistakes in a sweep file fail before any run, naming the file, the point and the key", () => {
  const bad: [unknown, RegExp][] = [
    [[], /a sweep file is a JSON object/],
    [{ base: { env: "CartPole-v1" } }, /"out" must be the sweep's output directory/],
    [{ out: "o", bse: {} }, /unknown key "bse"; a sweep file has "description", "out", "base", "grid", "checkpointEvery"/],
    [
      { out: "o", base: { env: "CartPole-v1", memroy: 3 } },
      /base: unknown key "memroy"; the keys are "env", "preset" and the config fields: algo, seed/,
    ],
    [{ out: "o", base: { env: "CartPole-v1" }, grid: { seed: 3 } }, /grid\.seed must be a non-empty list of values; got 3/],
    [{ out: "o", base: { env: "CartPole-v1" }, grid: { seed: [] } }, /grid\.seed must be a non-empty list/],
    [{ out: "o", base: { env: "CartPole-v1" }, grid: [] }, /"grid" is an empty list/],
    [{ out: "o", grid: { seed: [0] } }, /point seed=0: "env" must be an environment's name/],
    [
      { out: "o", base: { env: "CartPole-v1" }, grid: { memory: [5, 0] } },
      /point memory=0: config field memory must be an integer >= 1; got 0/,
    ],
    [{ out: "o", base: { env: "CartPole-v1", preset: "fast" } }, /point run: unknown preset "fast"/],
    [{ out: "o", base: { env: "CartPole-v1" }, checkpointEvery: 0 }, /"checkpointEvery" must be an integer >= 1/],
    [{ out: "o", base: { env: "CartPole-v2" } }, /point run: no environment named "CartPole-v2"; known: CartPole-v1, Acrobot-v1/],
    [
      { out: "o", base: { env: "CartPole-v1" }, grid: { env: ["MinAtar/Breakout-v1", "MinAtar-Breakout-v1"] } },
      /point env=MinAtar-Breakout-v1: no environment named/,
    ],
    [
      { out: "o", base: { preset: "quick" }, grid: { env: ["MinAtar/Breakout v1", "MinAtar/Breakout-v1"] } },
      /two different runs would share the directory env=MinAtar-Breakout-v1/,
    ],
  ];
  for (const [json, message] of bad) {
    assert.throws(
      () => parseSweep(json, FILE),
      (error: Error) => error instanceof StaqFormatError && message.test(error.message) && error.message.startsWith(FILE),
      `${JSON.stringify(json)} should fail with ${message}`,
    );
  }
});

test("more hidden layers than the agent takes (MAX_HIDDEN_LAYERS) fail at load time, naming the point", () => {
  const deep = Array.from({ length: MAX_HIDDEN_LAYERS + 1 }, () => 4);
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "CartPole-v1" }, grid: { hidden: [[8], deep] } }, FILE),
    (error: Error) =>
      error instanceof StaqFormatError &&
      error.message.startsWith(`${FILE}: point hidden=${deep.join("x")}: mlp.hidden has ${deep.length} layers; staq takes at most 16`),
  );
  const ok = Array.from({ length: MAX_HIDDEN_LAYERS }, () => 4);
  assert.equal(parseSweep({ out: "o", base: { env: "CartPole-v1", hidden: ok } }, FILE).points.length, 1);
});

test("gym: environments are swept, read as staq train reads their names; a malformed one fails naming the point", () => {
  const sweep = parseSweep(
    { out: "o", base: { preset: "quick" }, grid: { env: ["gym:CartPole-v1", "gym:Pendulum-v1,discretise-box"] } },
    FILE,
  );
  assert.deepEqual(
    sweep.points.map((p) => p.name),
    ["env=gym-CartPole-v1", "env=gym-Pendulum-v1-discretise-box"],
  );
  assert.deepEqual(trainArguments(sweep, sweep.points[1]).slice(0, 2), ["--env", "gym:Pendulum-v1,discretise-box"]);
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "gym:CartPole-v1,bogus" } }, FILE),
    (error: Error) =>
      error instanceof StaqFormatError && /^\S+: point run: "gym:CartPole-v1,bogus": unknown option "bogus"/.test(error.message),
  );
});

test("an unknown MinAtar game fails once the MinAtar module is loaded, naming the point and the games", async () => {
  const sweep = parseSweep({ out: "o", base: { preset: "quick" }, grid: { env: ["MinAtar/Toy-v1", "MinAtar/Nope-v1"] } }, FILE);
  const whys: string[] = [];
  // Stands in for loadMinatar (the built module): registers the games it knows.
  const load = async (why: string) => {
    whys.push(why);
    registerEnv({ name: "MinAtar/Toy-v1", description: "a test game", make: () => ({}) as never });
  };
  await assert.rejects(checkMinatarEnvs(sweep, load), (error: Error) => {
    assert.ok(error instanceof StaqFormatError, error.message);
    assert.match(
      error.message,
      /point env=MinAtar-Nope-v1: no environment named "MinAtar\/Nope-v1"; the MinAtar games are: .*MinAtar\/Toy-v1/,
    );
    return true;
  });
  assert.equal(whys.length, 1);
  // A sweep without MinAtar points does not load the module.
  await checkMinatarEnvs(parseSweep({ out: "o", base: { env: "CartPole-v1" } }, FILE), () => assert.fail("loaded"));
  await checkMinatarEnvs(parseSweep({ out: "o", base: { env: "MinAtar/Toy-v1", preset: "quick" } }, FILE), load);
});

test("a point whose directory name is over 255 bytes fails when the file is read, naming the point and what to do", () => {
  // Twelve keys of long floats, as a fine grid of learning rates makes: one name of about 300 bytes.
  const grid = Object.fromEntries(
    ["lr", "adamEps", "gamma", "eta", "tauStart", "tauEnd", "epsilon", "epsilonStart", "rewardScale", "smoothnessSigma"].map((key, i) => [
      key,
      [0.0123456789012345 + i / 1000],
    ]),
  );
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "CartPole-v1" }, grid: { ...grid, seed: [0] } }, FILE),
    (error: Error) =>
      error instanceof StaqFormatError &&
      /point lr=0\.0123456789012345,adamEps=.*,seed=0: its directory name is \d{3} bytes long, more than the 255 a file system takes; give the grid fewer keys \(move the ones with one value to "base"\) or shorter values/.test(
        error.message,
      ),
  );
});

test(`a grid of more than MAX_SWEEP_POINTS (${MAX_SWEEP_POINTS}) points is refused with its count, before it is built`, () => {
  const ten = Array.from({ length: 10 }, (_, i) => i + 1);
  const keys = ["seed", "memory", "batchSize", "gradientSteps", "evalEpisodes", "totalSteps", "evalEvery", "replayCapacity"];
  const huge = Object.fromEntries(keys.map((key) => [key, key === "batchSize" ? ten.map((v) => v * 16) : ten]));
  const started = performance.now();
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "CartPole-v1", preset: "quick" }, grid: huge }, FILE),
    /the grid makes 100000000 points \(10 seed × 10 memory × .* × 10 replayCapacity\), more than the 100000 a sweep may have; give fewer keys or fewer values, or split it into several sweep files/,
  );
  assert.ok(performance.now() - started < 1000, "refused from the counts alone");
  // A list of grids counts their sum: two of 60 000 are too many together.
  const sixty = { seed: Array.from({ length: 600 }, (_, i) => i), memory: Array.from({ length: 100 }, (_, i) => i + 1) };
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "CartPole-v1" }, grid: [sixty, sixty] }, FILE),
    /the grid makes 120000 points \(600 seed × 100 memory \+ 600 seed × 100 memory\)/,
  );
});

test('--out "" is refused naming the flag and its value, not the file\'s "out"', () => {
  assert.throws(
    () => parseSweep({ out: "o", base: { env: "CartPole-v1" } }, FILE, ""),
    (error: Error) => error instanceof StaqInputError && error.message === `--out must be the sweep's output directory; got ""`,
  );
});
