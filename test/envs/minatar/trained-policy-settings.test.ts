// SPDX-License-Identifier: GPL-3.0-or-later
// A policy restored from a checkpoint alone is evaluated on the registered environment of the
// run's name. A MinAtar run made through an env function with other game settings (no sticky
// actions, no ramping) must not be evaluated on the registered defaults without a word: the run's
// saved environment state says how its games were made, and the registered game refuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaQ } from "../../../src/node/staq.ts";
import { makeMinatarEnv } from "../../../src/envs/minatar/index.ts";
import { testGpu } from "../../helpers/gpu.ts";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ownStderrLines, runBuiltStaq, tempDir } from "../../io/stack-fixtures.ts";
import { TINY_CONFIG } from "../../helpers/tiny-config.ts";

const gpu = await testGpu();

async function checkpointOf(env: Parameters<typeof StaQ.create>[0]["env"]) {
  const agent = await StaQ.create({ env, preset: "quick", gpu, ...TINY_CONFIG, convFilters: 0 });
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

test("staq eval takes a MinAtar run's game settings as flags, and says so when the registered game refuses the run", async () => {
  const noSticky = () => makeMinatarEnv("breakout", { actionSet: "minimal", stickyActionProb: 0, difficultyRamping: false });
  const dir = join(await tempDir(), "checkpoint");
  await mkdir(dir);
  for (const [name, bytes] of Object.entries(await checkpointOf(noSticky))) await writeFile(join(dir, name), bytes);
  // The built CLI, as users run it: from source, the CLI's error classes are not those of the
  // built staq/envs/minatar it loads, and a refusal there would not be known as the input error it is.
  const evaluate = (...flags: string[]) => runBuiltStaq(["eval", "--checkpoint", dir, "--episodes", "2", ...flags]);

  const refused = await evaluate();
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    ownStderrLines(refused.stderr).join("\n"),
    /stickyActionProb 0 and difficultyRamping false.*On the command line: --sticky-action-prob P --difficulty-ramping true\|false/,
  );

  const ok = await evaluate("--sticky-action-prob", "0", "--difficulty-ramping", "false");
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout)["eval/returns"].length, 2);
  assert.match(ok.stderr, /MinAtar\/Breakout-v1 \(stickyActionProb 0, difficultyRamping false\) after /);
  // Settings given are the caller's choice, as the library's env is: evaluating with ramping, which
  // the run's game had not, is a question one may ask on purpose (the other flag keeps upstream's).
  assert.equal((await evaluate("--sticky-action-prob", "0")).code, 0);

  // A checkpoint that is not there is named as that, whatever the flags (it was blamed on them).
  const missing = await runBuiltStaq(["eval", "--checkpoint", join(dir, "missing"), "--sticky-action-prob", "0"]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.doesNotMatch(missing.stderr, /are MinAtar game settings/);
  assert.match(missing.stderr, /no checkpoint/);

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
