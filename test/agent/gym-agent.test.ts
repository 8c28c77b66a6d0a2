// The agent on a Python environment through the Gymnasium bridge (`env: "gym:..."`): it trains and
// evaluates exactly as on the same environment written in TypeScript (test/fixtures/gym/tiny_env.py
// and its twin test/helpers/walk-env.ts), checkpoints without the environment's state (a restore
// restarts the episodes and says so), and closes its Python workers when destroyed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { delimiter } from "node:path";
import { StaQ } from "../../src/node/staq.ts";
import { TIMING_KEYS, type EvaluationMetrics, type IterationMetrics } from "../../src/agent/metrics.ts";
import type { VectorEnv } from "../../src/envs/vector-env.ts";
import { testGpu } from "../helpers/gpu.ts";
import { TINY_CONFIG } from "../helpers/tiny-config.ts";
import { Walk } from "../helpers/walk-env.ts";

const python = process.env.STAQ_PYTHON || "python3";
const skip = spawnSync(python, ["-c", "import numpy"]).status === 0 ? {} : { skip: `${python} with numpy is not available` };

const withoutTiming = (record: object) =>
  Object.fromEntries(Object.entries(record).filter(([key]) => !TIMING_KEYS.includes(key) && key !== "time_s" && key !== "seconds"));

async function record(agent: StaQ, steps: number): Promise<{ iterations: object[]; evaluations: object[] }> {
  const iterations: IterationMetrics[] = [];
  const evaluations: EvaluationMetrics[] = [];
  await agent.learn({ steps, onIteration: (m) => void iterations.push(m), onEvaluation: (e) => void evaluations.push(e) });
  return { iterations: iterations.map(withoutTiming), evaluations: evaluations.map(withoutTiming) };
}

test("an agent on gym:<id> learns and evaluates as on the same env in TypeScript, and closes its workers", skip, async () => {
  // The worker inherits the environment: the fixture's module is importable by name.
  const fixtures = fileURLToPath(new URL("../fixtures/gym/", import.meta.url));
  process.env.PYTHONPATH = [fixtures, process.env.PYTHONPATH].filter(Boolean).join(delimiter);
  const gpu = await testGpu();
  const config = { preset: "quick", gpu, seed: 3, ...TINY_CONFIG };
  const bridged = await StaQ.create({ env: "gym:tiny_env:make_walk", ...config });
  const local = await StaQ.create({ env: () => new Walk(), ...config });
  try {
    assert.equal(bridged.envName, "gym:tiny_env:make_walk");
    const got = await record(bridged, 64);
    assert.deepEqual(got, await record(local, 64));
    assert.equal(got.evaluations.length, 3);
    assert.deepEqual(
      await bridged.evaluate({ episodes: 3, seed: 5 }).then(withoutTiming),
      await local.evaluate({ episodes: 3, seed: 5 }).then(withoutTiming),
    );

    const files = await bridged.checkpoint();
    assert.equal(JSON.parse(new TextDecoder().decode(files["state.json"])).envState, null);
    const resumed = await StaQ.restore(files, { gpu });
    try {
      assert.equal(resumed.envName, "gym:tiny_env:make_walk");
      assert.equal(resumed.resumeExact, false);
      assert.equal((await record(resumed, 32)).iterations.length, 1);
    } finally {
      resumed.destroy();
    }
  } finally {
    bridged.destroy();
    local.destroy();
  }
  const envs = (bridged as unknown as { envs: VectorEnv & { closed: boolean } }).envs;
  assert.equal(envs.closed, true, "destroy() closes the training workers");
});
