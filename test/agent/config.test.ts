// The agent's config, presets, τ schedule and policy-change measure: pure functions, checked on
// hand-computed values and with fast-check.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CONFIG_FIELDS, flagName, lastEvaluationStep, parseFieldValue, resolveConfig } from "../../src/agent/config.ts";
import { PRESETS, QUICK, defaultPreset, presetConfig, presetName } from "../../src/agent/presets.ts";
import { tauAt } from "../../src/agent/tau-schedule.ts";
import { policyChange } from "../../src/agent/policy-change.ts";
import { StaqInputError } from "../../src/errors.ts";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

test("every preset is a valid config that names every field", () => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    assert.deepEqual(Object.keys(preset).sort(), CONFIG_FIELDS.map((f) => f.key).sort(), name);
    assert.deepEqual(resolveConfig(presetConfig(name)), presetConfig(name), name);
  }
  assert.equal(defaultPreset("MinAtar/Breakout-v1"), "paper-minatar");
  assert.equal(defaultPreset("CartPole-v1"), "paper-classic");
  // A baseline's default is its published settings; a name is looked up among its presets first.
  assert.equal(defaultPreset("CartPole-v1", "dqn"), "dqn-cleanrl");
  assert.equal(defaultPreset("MinAtar/Breakout-v1", "mdqn"), "mdqn-minatar");
  assert.equal(presetName("quick", "dqn"), "dqn-quick");
  assert.equal(presetName("quick"), "quick");
  assert.equal(presetName("paper-classic", "mdqn"), "paper-classic");
  assert.equal(presetConfig("quick", "mdqn").algo, "mdqn");
  assert.equal(defaultPreset("CartPole-v1", "mdpo"), "mdpo-classic");
  assert.equal(presetName("quick-minatar", "mdpo"), "mdpo-quick-minatar");
  for (const [name, preset] of Object.entries(PRESETS)) {
    const algo = (["dqn", "mdqn", "mdpo"] as const).find((a) => name.startsWith(`${a}-`)) ?? "staq";
    assert.equal(preset.algo, algo, name);
  }
  assert.throws(() => presetConfig("fast"), /unknown preset "fast"; the presets are: paper-classic, paper-minatar, quick, quick-minatar/);
  assert.throws(() => presetConfig("toString"), /unknown preset/);
});

test("the paper presets hold the authors' published defaults (docs/algorithm.md, “The published defaults”)", () => {
  const classic = PRESETS["paper-classic"];
  assert.deepEqual(
    [
      classic.stepsPerIteration,
      classic.gradientSteps,
      classic.batchSize,
      classic.lr,
      classic.replayCapacity,
      classic.targetUpdateEvery,
      classic.memory,
      classic.eta,
      classic.tauStart,
      classic.tauEnd,
      classic.tauAnnealSteps,
      classic.gamma,
      classic.epsilon,
      classic.rewardScale,
      classic.ensemble,
      classic.hidden,
      classic.evalEvery,
      classic.evalEpisodes,
    ],
    [5000, 5000, 256, 1e-4, 50_000, 200, 300, 20, 2.0, 0.4, 500_000, 0.99, 0.05, 10, 2, [256, 256], 100_000, 10],
  );
  assert.equal(PRESETS["paper-minatar"].rewardScale, 200);
  assert.equal(PRESETS["paper-minatar"].tauAnnealSteps, 1_000_000);
  // The authors' MinAtar network (Conv2d 16 3×3 → 1024 → 128) and their TimeLimit(5000).
  assert.equal(PRESETS["paper-minatar"].convFilters, 16);
  assert.deepEqual(PRESETS["paper-minatar"].hidden, [128]);
  assert.equal(PRESETS["paper-minatar"].timeLimit, 5000);
  assert.equal(classic.convFilters, 0);
  assert.equal(classic.timeLimit, 0);
});

test("overrides apply; unknown fields, wrong types and values out of range are errors naming the field", () => {
  assert.equal(resolveConfig(QUICK, { lr: 3e-4 }).lr, 3e-4);
  assert.deepEqual(resolveConfig(QUICK, { hidden: [32] }).hidden, [32]);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ learningRate: 1 }, /unknown config field "learningRate"; the fields are: algo, seed, numEnvs/],
    [{ lr: 0 }, /config field lr must be a number > 0; got 0/],
    [{ lr: "big" }, /config field lr must be a number > 0; got "big"/],
    [{ gamma: 1 }, /config field gamma must be a number in \[0, 1\); got 1/],
    [{ memory: 2.5 }, /config field memory must be an integer >= 1; got 2.5/],
    [{ epsilon: NaN }, /config field epsilon must be a number in \[0, 1\]; got NaN/],
    [{ loss: "l1" }, /config field loss must be one of "mse", "huber"; got "l1"/],
    [{ hidden: [] }, /config field hidden must be a non-empty list of integer widths/],
    [{ hidden: [64, 0] }, /hidden must be a non-empty list/],
    [{ stepsPerIteration: 1001 }, /stepsPerIteration \(1001\) must be a multiple of numEnvs \(8\); e.g. 1000/],
    [{ replayCapacity: 500 }, /replayCapacity \(500\) must hold at least one iteration's stepsPerIteration \(1000\)/],
    [{ batchSize: 2048, replayCapacity: 4096 }, /batchSize \(2048\) must not exceed the 1000 transitions stored at the first fit/],
    // learningStarts 2500 with 1000-step iterations: the first fit comes at 3000 stored transitions.
    [{ batchSize: 3001, replayCapacity: 4096, learningStarts: 2500 }, /batchSize \(3001\) must not exceed the 3000 transitions/],
    [{ algo: "ppo" }, /config field algo must be one of "staq", "dqn", "mdqn", "mdpo"; got "ppo"/],
    [{ munchausenClip: 0.5 }, /config field munchausenClip must be a number in \[-1000000, 0\]; got 0.5/],
    // In range, but the kernels compute in float32: 1e-50 would be an lr of 0, 1e39 infinite.
    [
      { lr: 1e-50 },
      /^config field lr 1e-50 is outside float32's normal range, \[1\.1754944e-38, 3\.4028235e\+38\] in magnitude \(staq computes in float32 on the GPU\); there it is 0/,
    ],
    [{ munchausenTau: 1e-40 }, /config field munchausenTau 1e-40 is outside float32's normal range.*there it is 0/],
    [{ rewardScale: 1e39 }, /config field rewardScale 1e\+39 is outside float32's normal range.*there it is Infinity/],
    [{ totalSteps: 2 ** 53 + 2 }, /config field totalSteps must be an integer >= 1 below 2\^53 \(larger integers are not exact\)/],
    [{ epsilonDecaySteps: 1e20 }, /config field epsilonDecaySteps must be an integer >= 0 below 2\^53/],
  ];
  // The float32 limits themselves are usable.
  assert.equal(resolveConfig(QUICK, { rewardScale: 2 ** -126 }).rewardScale, 2 ** -126);
  assert.equal(resolveConfig(QUICK, { rewardScale: 3.4028234663852886e38 }).rewardScale, 3.4028234663852886e38);
  assert.equal(resolveConfig(QUICK, { batchSize: 3000, replayCapacity: 4096, learningStarts: 2500 }).batchSize, 3000);
  for (const [overrides, message] of cases)
    assert.throws(
      () => resolveConfig(QUICK, overrides),
      (e: Error) => e instanceof StaqInputError && message.test(e.message),
      JSON.stringify(overrides),
    );
});

test("command-line values parse to the field's type, and flags are the field names in kebab case", () => {
  assert.equal(flagName("batchSize"), "batch-size");
  assert.equal(flagName("tauAnnealSteps"), "tau-anneal-steps");
  assert.equal(parseFieldValue("lr", "1e-3"), 1e-3);
  assert.deepEqual(parseFieldValue("hidden", "64,32"), [64, 32]);
  assert.equal(parseFieldValue("loss", "huber"), "huber");
  assert.equal(parseFieldValue("totalSteps", "1e6"), 1e6);
  assert.equal(parseFieldValue("seed", " 7 "), 7);
  assert.throws(() => parseFieldValue("lr", "fast"), /--lr must be a number > 0; got "fast"/);
  assert.throws(
    () => parseFieldValue("hidden", "64,,32"),
    /--hidden must be a non-empty list of integer widths in \[1, 4096\]; got "64,,32"/,
  );
  assert.throws(() => parseFieldValue("loss", "l1"), /--loss must be one of "mse", "huber"; got "l1"/);
  // Only plain decimals are numbers: Number() would take all of these.
  for (const text of ["0x10", "0b11", "0o7", "", " ", "Infinity", "-Infinity", "1e400", "1_000"]) {
    assert.throws(
      () => parseFieldValue("totalSteps", text, "--steps"),
      (e: Error) => e instanceof StaqInputError && e.message === `--steps must be an integer >= 1; got ${JSON.stringify(text)}`,
      JSON.stringify(text),
    );
  }
  // Out of range, or not an integer where one is needed: the same message, with the flag's name.
  assert.throws(() => parseFieldValue("memory", "0"), /^StaqInputError: --memory must be an integer >= 1; got "0"$/);
  assert.throws(() => parseFieldValue("batchSize", "2.5"), /--batch-size must be an integer >= 1; got "2.5"/);
  assert.throws(() => parseFieldValue("gamma", "1"), /--gamma must be a number in \[0, 1\); got "1"/);
  assert.throws(() => parseFieldValue("totalSteps", "9007199254740993", "--steps"), /--steps must be an integer >= 1 below 2\^53/);
  assert.throws(() => parseFieldValue("lr", "1e-50"), /^StaqInputError: --lr "1e-50" is outside float32's normal range/);
});

test("τ goes linearly from tauStart/ln|A| to tauEnd/ln|A| over the annealing, then stays", () => {
  const schedule = { tauStart: 2, tauEnd: 0.4, tauAnnealSteps: 1000 };
  assert.equal(tauAt(schedule, 0, 2), 2 / Math.log(2));
  assert.ok(Math.abs(tauAt(schedule, 500, 3) - 1.2 / Math.log(3)) < 1e-15);
  assert.equal(tauAt(schedule, 1000, 2), 0.4 / Math.log(2));
  assert.equal(tauAt(schedule, 5000, 2), 0.4 / Math.log(2));
  assert.equal(tauAt({ ...schedule, tauAnnealSteps: 0 }, 0, 2), 0.4 / Math.log(2));
});

test("policy change: KL and entropy of hand-computed softmaxes", () => {
  // before uniform over 2 actions; after softmax([ln 3, 0]) = [3/4, 1/4].
  const change = policyChange([0, 0], [Math.log(3), 0], 2);
  const kl = 0.75 * Math.log(0.75 / 0.5) + 0.25 * Math.log(0.25 / 0.5);
  const entropy = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
  assert.ok(Math.abs(change.kl - kl) < 1e-15 && Math.abs(change.entropy - entropy) < 1e-15);
});

test("policy change: KL ≥ 0 with equality for logits shifted by a constant per state, and 0 ≤ H ≤ ln|A| (Gibbs' inequality)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1e6 }),
      (actions, batch, seed) => {
        let x = seed;
        const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
        const before = Array.from({ length: batch * actions }, next);
        const after = Array.from({ length: batch * actions }, next);
        const { kl, entropy } = policyChange(before, after, actions);
        // KL ≥ 0 exactly: it is summed from terms clamped at 0 (klTerm); the entropy's rounding is ~1e-15.
        assert.ok(kl >= 0 && entropy >= -1e-12 && entropy <= Math.log(actions) + 1e-12);
        // Shifted logits are the same policy: its KL is rounding alone, never below 0 (it was, to −1e-15).
        const shifted = before.map((v, i) => v + Math.floor(i / actions) * 3.5);
        const same = policyChange(before, shifted, actions).kl;
        assert.ok(same >= 0 && same < 1e-12);
      },
    ),
  );
});

test("lastEvaluationStep: the end of the iteration that crosses the last multiple of evalEvery the run reaches", () => {
  // Hand-computed from learn's rule (an evaluation after each iteration that crosses a multiple of evalEvery):
  // 200 iterations of 256 end at 51200; the last multiple of 5000 is 50000, crossed by iteration 196 (ending at 50176).
  assert.equal(lastEvaluationStep({ totalSteps: 51200, stepsPerIteration: 256, evalEvery: 5000 }), 50176);
  // Iterations end at 32, 64, 96: 64 crosses 50, 96 crosses nothing.
  assert.equal(lastEvaluationStep({ totalSteps: 96, stepsPerIteration: 32, evalEvery: 50 }), 64);
  // 100 steps run as 4 iterations (to 128), which cross 50 at 64 and 100 at 128.
  assert.equal(lastEvaluationStep({ totalSteps: 100, stepsPerIteration: 32, evalEvery: 50 }), 128);
  // evalEvery a multiple of the iteration: the evaluation lands on the run's end.
  assert.equal(lastEvaluationStep({ totalSteps: 64, stepsPerIteration: 32, evalEvery: 32 }), 64);
  // evalEvery past the run: only the evaluation at step 0.
  assert.equal(lastEvaluationStep({ totalSteps: 64, stepsPerIteration: 32, evalEvery: 1000 }), 0);
});

test("lastEvaluationStep is where the committed finished runs' evaluations end (docs/: acceptance, baselines, study)", () => {
  const root = new URL("../../docs/", import.meta.url).pathname;
  const runs = readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith("config.json"))
    .map((path) => join(root, path, ".."))
    .filter((run) => existsSync(join(run, "eval.jsonl")) && existsSync(join(run, "metrics.jsonl")));
  const lastStep = (file: string) => JSON.parse(readFileSync(file, "utf8").trim().split("\n").at(-1)!).global_step as number;
  let finished = 0;
  for (const run of runs) {
    const config = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
    if (lastStep(join(run, "metrics.jsonl")) !== Math.ceil(config.totalSteps / config.stepsPerIteration) * config.stepsPerIteration)
      continue;
    finished++;
    assert.equal(lastStep(join(run, "eval.jsonl")), lastEvaluationStep(config), run);
  }
  assert.ok(finished >= 100, `${finished} finished runs checked`);
});

test("the fields a resume cannot change are those that fix the run's buffers, networks and random streams", () => {
  // Each sizes a buffer or a network, or keys a random stream: a restore with another value would
  // read the checkpoint's buffers wrongly or draw other numbers. The list is written out here so
  // that a field losing (or gaining) fixesRun is a decision, not an accident.
  assert.deepEqual(
    CONFIG_FIELDS.filter((f) => f.fixesRun)
      .map((f) => f.key)
      .sort(),
    ["algo", "batchSize", "convFilters", "ensemble", "hidden", "memory", "numEnvs", "replayCapacity", "seed", "stackRule"],
  );
});
