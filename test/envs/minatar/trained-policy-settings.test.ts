// SPDX-License-Identifier: GPL-3.0-or-later
// A policy restored from a checkpoint alone is evaluated on the registered environment of the
// run's name. A MinAtar run made through an env function with other game settings (no sticky
// actions, no ramping) must not be evaluated on the registered defaults without a word: the run's
// saved environment state says how its games were made, and the registered game refuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaQ } from "../../../src/node/staq.ts";
import { makeMinatarEnv } from "../../../src/envs/minatar/index.ts";
import { withTimeLimit } from "../../../src/envs/time-limit.ts";
import type { Env } from "../../../src/envs/env.ts";
import { testGpu } from "../../helpers/gpu.ts";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ownStderrLines, runStaq, tempDir } from "../../io/stack-fixtures.ts";
import { TINY_CONFIG } from "../../helpers/tiny-config.ts";

const gpu = await testGpu();

async function checkpointOf(env: Parameters<typeof StaQ.create>[0]["env"], overrides: Record<string, unknown> = {}) {
  const agent = await StaQ.create({ env, preset: "quick", gpu, ...TINY_CONFIG, convFilters: 0, ...overrides });
  await agent.learn({ steps: 32 });
  const files = await agent.checkpoint();
  agent.destroy();
  return files;
}

test("a MinAtar policy trained with other game settings is refused on the registered game unless env is given", async () => {
  const noSticky = () => makeMinatarEnv("breakout", { actionSet: "minimal", stickyActionProb: 0, difficultyRamping: false });
  const files = await checkpointOf(noSticky);
  await assert.rejects(
    StaQ.restorePolicy(files, { gpu }),
    /^StaqInputError: the run's environments are not the registered MinAtar\/Breakout-v1 as it is made now: .*stickyActionProb 0 and difficultyRamping false; this one has 0\.1 and true.*; pass env, a function that makes the environment as the run did/,
  );
  // Given explicitly, the environment is the caller's choice (the run's, here, or a variant on purpose).
  for (const env of [noSticky, "MinAtar/Breakout-v1"]) {
    const policy = await StaQ.restorePolicy(files, { gpu, env });
    assert.equal((await policy.evaluate({ episodes: 2 }))["eval/returns"].length, 2);
    policy.destroy();
  }
  // A run on the registered game loads without env.
  const registered = await StaQ.restorePolicy(await checkpointOf("MinAtar/Breakout-v1"), { gpu });
  assert.equal(registered.envName, "MinAtar/Breakout-v1");
  registered.destroy();
});

test("staq eval plays a MinAtar run's game as the run made it (its checkpoint records the settings); flags change a setting", async () => {
  const noSticky = () => makeMinatarEnv("breakout", { actionSet: "minimal", stickyActionProb: 0, difficultyRamping: false });
  const files = await checkpointOf(noSticky);
  const dir = join(await tempDir(), "checkpoint");
  await mkdir(dir);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  const evaluate = (...flags: string[]) => runStaq(["eval", "--checkpoint", dir, "--episodes", "4", "--seed", "5", ...flags]);
  const evalKeys = (record: object) => Object.fromEntries(Object.entries(record).filter(([key]) => key.startsWith("eval/")));
  const libraryEvaluation = async (env: () => ReturnType<typeof makeMinatarEnv>) => {
    const policy = await StaQ.restorePolicy(files, { gpu, env });
    const result = await policy.evaluate({ episodes: 4, seed: 5 });
    policy.destroy();
    return evalKeys(result);
  };

  // No flags: the run's settings (it was refused before, as on the registered game), the same
  // episodes as the library's evaluation on the run's own env function.
  const asRun = await evaluate();
  assert.equal(asRun.code, 0, asRun.stderr);
  assert.match(asRun.stderr, /MinAtar\/Breakout-v1 \(stickyActionProb 0, difficultyRamping false\) after /);
  assert.deepEqual(evalKeys(JSON.parse(asRun.stdout)), await libraryEvaluation(noSticky));

  // A flag changes that setting alone; the other stays the run's.
  const ramping = await evaluate("--difficulty-ramping", "true");
  assert.equal(ramping.code, 0, ramping.stderr);
  assert.match(ramping.stderr, /MinAtar\/Breakout-v1 \(stickyActionProb 0, difficultyRamping true\) after /);
  const withRamping = () => makeMinatarEnv("breakout", { actionSet: "minimal", stickyActionProb: 0, difficultyRamping: true });
  assert.deepEqual(evalKeys(JSON.parse(ramping.stdout)), await libraryEvaluation(withRamping));
  // Upstream's settings chosen by the flags: the caller's choice, evaluated (not refused as the
  // registered game refuses the run's state), and said.
  const upstream = await evaluate("--sticky-action-prob", "0.1", "--difficulty-ramping", "true");
  assert.equal(upstream.code, 0, upstream.stderr);
  assert.match(upstream.stderr, /MinAtar\/Breakout-v1 \(stickyActionProb 0\.1, difficultyRamping true\) after /);

  // Under the agent's own time limit (config timeLimit) the game is found and made with the limit;
  // under a wrapper of the run's own it is not one eval can make: refused, saying what to do (the
  // game inside had been made bare, the run's limit dropped without a word).
  const write = async (name: string, env: () => Env, overrides: Record<string, unknown> = {}) => {
    const at = join(dir, "..", name);
    await mkdir(at);
    for (const [file, bytes] of Object.entries(await checkpointOf(env, overrides))) await writeFile(join(at, file), bytes);
    return at;
  };
  const limited = await runStaq(["eval", "--checkpoint", await write("agent-limit", noSticky, { timeLimit: 3 }), "--episodes", "2"]);
  assert.equal(limited.code, 0, limited.stderr);
  assert.match(limited.stderr, /\(stickyActionProb 0, difficultyRamping false\) after /);
  assert.ok(JSON.parse(limited.stdout)["eval/mean_length"] <= 3, limited.stdout);
  const wrapped = await runStaq([
    "eval",
    "--checkpoint",
    await write("own-wrapper", () => withTimeLimit(noSticky(), 3)),
    "--episodes",
    "2",
  ]);
  assert.equal(wrapped.code, 2, wrapped.stderr);
  assert.match(
    wrapped.stderr,
    /got "time-limit".*staq eval makes the registered environment .* and no other: evaluate this run from code, StaQ\.loadPolicy\(dir, \{ env \}\)/,
  );

  // A checkpoint that is not there is named as that, whatever the flags (it was blamed on them).
  const missing = await runStaq(["eval", "--checkpoint", join(dir, "missing"), "--sticky-action-prob", "0"]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.doesNotMatch(missing.stderr, /are MinAtar game settings/);
  assert.match(ownStderrLines(missing.stderr).join("\n"), /no checkpoint/);

  for (const [flags, message] of [
    [["--sticky-action-prob", "1.5"], /--sticky-action-prob must be a number from 0 to 1; got "1\.5"/],
    [["--sticky-action-prob", "0x1"], /--sticky-action-prob must be a number from 0 to 1; got "0x1"/],
    [["--difficulty-ramping", "yes"], /--difficulty-ramping must be true or false; got "yes"/],
    [["--env", "CartPole-v1", "--difficulty-ramping", "false"], /are MinAtar game settings; this run's environment is CartPole-v1/],
  ] as const) {
    const result = await evaluate(...flags);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
  }
});
