// The baselines (DQN, M-DQN, MDPO) on the StaQ agent's machinery, end to end with tiny budgets: the
// iterations before learningStarts only collect, ε follows its linear schedule, the fit uses the
// algorithm's target (checked row by row against the float64 twins), the acting network is a
// one-snapshot stack whose logits are its network's outputs (Q-values, or MDPO's policy logits:
// coefficient 1, correction 1, checked against the float64 stack reference), and a resumed run
// continues exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaQ } from "../../src/node/staq.ts";
import { TIMING_KEYS, type IterationMetrics } from "../../src/agent/metrics.ts";
import { ReferenceStaQ } from "../../src/agent/reference-agent.ts";
import { StaqInputError } from "../../src/errors.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import type { MlpWeights } from "../../src/stack/mlp.ts";
import type { Stack } from "../../src/stack/stack.ts";
import { maxTarget, maxTargetBound, munchausenTarget, munchausenTargetBound } from "../../src/train/targets-reference.ts";
import { testGpu } from "../helpers/gpu.ts";
import { randomStates } from "../helpers/random.ts";
import { TINY_CONFIG } from "../helpers/tiny-config.ts";

const gpu = await testGpu();

/** Three iterations of 32 steps; the first only collects (learningStarts 64 is reached after the second). */
const TINY = {
  ...TINY_CONFIG,
  targetUpdateEvery: 4,
  learningStarts: 64,
  epsilonStart: 1,
  epsilon: 0.1,
  epsilonDecaySteps: 64,
};

const withoutTiming = (record: object) => Object.fromEntries(Object.entries(record).filter(([key]) => !TIMING_KEYS.includes(key)));

/** The stack's logits are `network`'s outputs: one snapshot weighted 1, within the stack kernel's float32 bound. */
async function assertStackIsNetwork(stack: Stack, network: MlpWeights): Promise<void> {
  assert.deepEqual(
    stack.coefficients.map((c) => Array.from(c)),
    [[1]],
  );
  assert.equal(stack.correction, 1);
  const states = randomStates(6, stack.spec.inputs, 7, 0.1);
  const logits = await stackLogits(stack, states);
  const reference = stackLogitsReference({ spec: stack.spec, snapshots: [[network]], coefficients: [[1]], correction: 1 }, states, 6);
  logits.forEach((l, k) =>
    assert.ok(
      Math.abs(l - reference.logits[k]) <= reference.bound[k],
      `logit ${k}: ${l}, float64 ${reference.logits[k]} ± ${reference.bound[k]}`,
    ),
  );
}

async function iterations(agent: StaQ, steps: number): Promise<IterationMetrics[]> {
  const records: IterationMetrics[] = [];
  await agent.learn({ steps, onIteration: (m) => void records.push(m) });
  return records;
}

for (const algo of ["dqn", "mdqn"] as const) {
  test(`${algo}: collects until learningStarts, follows the ε schedule, fits its own target and acts through a one-snapshot stack of its Q-network`, async () => {
    const agent = await StaQ.create({ env: "CartPole-v1", algo, preset: "quick", gpu, ...TINY, seed: 3 });
    assert.equal(agent.preset, `${algo}-quick`);
    assert.equal(agent.config.algo, algo);
    const records = await iterations(agent, 96);
    assert.equal(records.length, 3);

    // Iteration 1 ends at step 32 < learningStarts = 64: no fit, no push.
    assert.equal(records[0]["losses/td_loss"], null);
    assert.equal(records[0]["stack/size"], 0);
    // ε at an iteration's first step: 1 at step 0; 1 + (0.1 − 1)·32/64 = 0.55 at step 32; 0.1 from step 64 on.
    assert.deepEqual(
      records.map((r) => r["charts/epsilon"]),
      [1, 0.55, 0.1],
    );
    for (const r of records.slice(1)) {
      assert.ok(Number.isFinite(r["losses/td_loss"]) && Number.isFinite(r["losses/q_values"]), JSON.stringify(r));
      assert.equal(r["stack/size"], 1);
      // StaQ's policy-change probe does not apply to a baseline.
      assert.equal(r["policy/entropy"], null);
      assert.equal(r["policy/kl"], null);
    }
    assert.equal(records[2]["charts/tau"], algo === "mdqn" ? 0.03 : 0);

    // The acting network: the online Q-network, pushed after the last fit.
    await assertStackIsNetwork(agent.stack, (await agent.trainer.readWeights())[0]);

    // The last gradient step's targets, row by row, against the algorithm's float64 twin.
    const last = await agent.softQFit.readLastStep();
    const replay = await agent.replay.read();
    const padded = last.targetQ[0].length / last.rows.length;
    const slice = (q: Float32Array, b: number) => q.subarray(b * padded, b * padded + 2);
    const settings = { rewardScale: agent.config.rewardScale, gamma: agent.config.gamma };
    for (let b = 0; b < last.rows.length; b++) {
      const i = last.rows[b];
      const row = { reward: replay.rewards[i], terminated: replay.terminated[i] === 1, targetQ: last.targetQ.map((q) => slice(q, b)) };
      const [expected, bound] =
        algo === "dqn"
          ? [maxTarget(row, settings), maxTargetBound(row, settings)]
          : (() => {
              const m = { ...row, action: last.actions[b], stateQ: last.stateQ!.map((q) => slice(q, b)) };
              const s = { ...settings, tau: 0.03, alpha: 0.9, clipMin: -1 };
              return [munchausenTarget(m, s), munchausenTargetBound(m, s)];
            })();
      assert.ok(Math.abs(last.targets[b] - expected) <= bound, `row ${b}: GPU ${last.targets[b]}, float64 ${expected} ± ${bound}`);
    }

    // Greedy actions are the argmax of the stack's logits, which are the online network's Q.
    const states = randomStates(6, 4, 7, 0.1);
    const logits = await stackLogits(agent.stack, states);
    const greedy = await agent.act(states, { greedy: true });
    for (let s = 0; s < 6; s++) assert.equal(greedy[s], logits[2 * s + 1] > logits[2 * s] ? 1 : 0);
    agent.destroy();
  });
}

test("mdpo: fits the critic to its policy network's π_k, then the policy network by policySteps, and acts through it", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", algo: "mdpo", preset: "quick", gpu, ...TINY, policySteps: 6, seed: 4 });
  assert.equal(agent.preset, "mdpo-quick");
  const records = await iterations(agent, 96);
  assert.equal(records[0]["losses/policy_loss"], null);
  for (const r of records.slice(1)) {
    assert.ok(Number.isFinite(r["losses/td_loss"]) && Number.isFinite(r["losses/policy_loss"]), JSON.stringify(r));
    // The policy's change at the push is measured as StaQ's is: 0 ≤ H ≤ ln 2, KL ≥ 0.
    assert.ok(r["policy/entropy"]! >= 0 && r["policy/entropy"]! <= Math.log(2) + 1e-9 && r["policy/kl"]! >= -1e-9, JSON.stringify(r));
    assert.equal(r["stack/size"], 1);
  }
  // Two policy fits of 6 steps each.
  assert.equal(agent.policyFit!.gradientSteps, 12);
  await assertStackIsNetwork(agent.stack, (await agent.policyFit!.policy.readWeights())[0]);
  agent.destroy();
});

for (const algo of ["dqn", "mdqn", "mdpo"] as const) {
  test(`${algo}: a run resumed from a checkpoint gives the same metrics and weights as one that never stopped`, async () => {
    const straight = await StaQ.create({ env: "CartPole-v1", algo, preset: "quick", gpu, ...TINY, seed: 5 });
    const whole = await iterations(straight, 96);
    const first = await StaQ.create({ env: "CartPole-v1", algo, preset: "quick", gpu, ...TINY, seed: 5 });
    const before = await iterations(first, 64);
    const files = await first.checkpoint();
    // The acting network alone (a one-snapshot stack here), restored without the training state, acts as the agent.
    const policy = await StaQ.restorePolicy(
      { "state.json": files["state.json"], "stack.safetensors": files["stack.safetensors"] },
      { gpu },
    );
    const probe = randomStates(32, 4, 9, 0.5);
    assert.deepEqual(await stackLogits(policy.stack, probe), await stackLogits(first.stack, probe));
    assert.deepEqual(await policy.act(probe), await first.act(probe), "the same ε and the same draws of the user's act stream");
    assert.deepEqual(withoutTiming(await policy.evaluate()), withoutTiming(await first.evaluate()));
    policy.destroy();
    first.destroy();
    const resumed = await StaQ.restore(files, { gpu });
    assert.equal(resumed.config.algo, algo);
    const after = await iterations(resumed, 32);
    assert.deepEqual([...before, ...after].map(withoutTiming), whole.map(withoutTiming));
    assert.deepEqual(await resumed.trainer.exportState(), await straight.trainer.exportState());
    assert.deepEqual(await resumed.policyFit?.policy.exportState(), await straight.policyFit?.policy.exportState());
    const states = randomStates(4, 4, 2, 0.1);
    assert.deepEqual(await stackLogits(resumed.stack, states), await stackLogits(straight.stack, states));
    await assert.rejects(
      StaQ.restore(files, { gpu, overrides: { algo: "staq" } }),
      (e: Error) => e instanceof StaqInputError && /cannot change algo when resuming/.test(e.message),
    );
    straight.destroy();
    resumed.destroy();
  });
}

test("the critic's smoothness penalty: any algorithm trains on [s; s+ε; s'] rows, logs both penalties and resumes exactly", async () => {
  const smooth = { ...TINY, smoothnessState: 1, smoothnessTransition: 0.5, smoothnessSigma: 0.1, seed: 6 };
  for (const algo of ["staq", "dqn"] as const) {
    const straight = await StaQ.create({ env: "CartPole-v1", algo, preset: "quick", gpu, ...smooth });
    assert.equal(straight.trainer.batch, 3 * TINY.batchSize);
    const whole = await iterations(straight, 96);
    for (const r of whole.slice(1)) {
      assert.ok(r["losses/smoothness_state"]! >= 0 && r["losses/smoothness_transition"]! >= 0, JSON.stringify(r));
    }
    assert.equal(whole[0]["losses/smoothness_state"], null);
    const first = await StaQ.create({ env: "CartPole-v1", algo, preset: "quick", gpu, ...smooth });
    const before = await iterations(first, 64);
    const files = await first.checkpoint();
    first.destroy();
    const resumed = await StaQ.restore(files, { gpu });
    const after = await iterations(resumed, 32);
    assert.deepEqual([...before, ...after].map(withoutTiming), whole.map(withoutTiming), algo);
    assert.deepEqual(await resumed.trainer.exportState(), await straight.trainer.exportState(), algo);
    straight.destroy();
    resumed.destroy();
  }
});

test("the float64 reference agent runs StaQ only, and says so for a baseline", () => {
  assert.throws(
    () => new ReferenceStaQ({ env: "CartPole-v1", preset: "dqn-quick" }),
    (e: Error) => e instanceof StaqInputError && /runs StaQ only; algo "dqn"/.test(e.message),
  );
});
