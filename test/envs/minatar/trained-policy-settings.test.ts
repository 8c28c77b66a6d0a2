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
