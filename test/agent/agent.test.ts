// The StaQ agent end to end, with tiny budgets: train → save → load → act and evaluate; a resumed
// run gives the same metrics as an uninterrupted one; the same seed gives the same metrics; a
// user's own environment; clear errors for invalid configs and corrupt checkpoints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StaQ } from "../../src/node/staq.ts";
import { TIMING_KEYS, type EvaluationMetrics, type IterationMetrics } from "../../src/agent/metrics.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { StaqDivergenceError } from "../../src/agent/divergence.ts";
import { wholeIterationSteps } from "../../src/agent/config.ts";
import type { Env, StepResult } from "../../src/envs/env.ts";
import { testGpu } from "../helpers/gpu.ts";
import { createGpu } from "../../src/node/create-gpu.ts";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { randomStates } from "../helpers/random.ts";
import { TINY_CONFIG } from "../helpers/tiny-config.ts";

const gpu = await testGpu();

const TINY = TINY_CONFIG;

const withoutTiming = (record: object) => Object.fromEntries(Object.entries(record).filter(([key]) => !TIMING_KEYS.includes(key)));

async function record(agent: StaQ, steps?: number): Promise<{ iterations: IterationMetrics[]; evaluations: EvaluationMetrics[] }> {
  const iterations: IterationMetrics[] = [];
  const evaluations: EvaluationMetrics[] = [];
  await agent.learn({ steps, onIteration: (m) => void iterations.push(m), onEvaluation: (e) => void evaluations.push(e) });
  return { iterations, evaluations };
}

async function temporaryDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), "staq-agent-"));
}

test("train → save → load → act and evaluate: the loaded agent acts and evaluates as the saved one", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY });
  const { iterations, evaluations } = await record(agent, 64);
  assert.equal(iterations.length, 2);
  assert.deepEqual(
    iterations.map((m) => m.global_step),
    [32, 64],
  );
  assert.deepEqual(
    evaluations.map((e) => e.global_step),
    [0, 32, 64],
    "an evaluation at the start and every 32 steps",
  );
  assert.equal(agent.stack.size, 2);
  for (const m of iterations) {
    for (const key of ["losses/td_loss", "losses/q_values", "policy/entropy", "policy/kl", "charts/SPS"] as const)
      assert.ok(Number.isFinite(m[key]), `${key} is ${m[key]}`);
    assert.ok(m["policy/entropy"]! <= Math.log(2) + 1e-9 && m["policy/kl"]! >= -1e-9);
  }
  const dir = await temporaryDirectory();
  await agent.save(join(dir, "checkpoint"));
  assert.deepEqual((await readdir(join(dir, "checkpoint"))).sort(), [
    "networks.safetensors",
    "replay.safetensors",
    "stack.safetensors",
    "state.json",
  ]);
  const loaded = await StaQ.load(join(dir, "checkpoint"), { gpu });
  assert.equal(loaded.globalStep, 64);
  const states = randomStates(5, 4, 1, 0.1);
  assert.deepEqual(await loaded.act(states, { greedy: true }), await agent.act(states, { greedy: true }));
  assert.deepEqual(await stackLogits(loaded.stack, states), await stackLogits(agent.stack, states));
  assert.deepEqual(withoutTiming(await loaded.evaluate({ episodes: 3 })), withoutTiming(await agent.evaluate({ episodes: 3 })));
  await assert.rejects(agent.act(new Float32Array(3)), /obs must be a Float32Array of batch × 4 values/);

  // The trained policy alone, from state.json and stack.safetensors: with the replay buffer and
  // the networks gone (the agent can no longer load), it acts and evaluates as the agent does.
  const checkpoint = join(dir, "checkpoint");
  await rm(join(checkpoint, "replay.safetensors"));
  await rm(join(checkpoint, "networks.safetensors"));
  await assert.rejects(StaQ.load(checkpoint, { gpu }), /the checkpoint has no networks\.safetensors; a checkpoint holds/);
  const policy = await StaQ.loadPolicy(checkpoint, { gpu });
  assert.equal(policy.envName, "CartPole-v1");
  assert.deepEqual([policy.globalStep, policy.iteration, policy.stack.size], [64, 2, 2]);
  assert.equal(policy.epsilon, loaded.epsilon);
  const many = randomStates(64, 4, 3, 0.5);
  assert.deepEqual(await stackLogits(policy.stack, many), await stackLogits(loaded.stack, many));
  assert.deepEqual(await policy.act(states, { greedy: true }), await agent.act(states, { greedy: true }));
  // Sampled actions: the user's act stream, one Philox step per call. loaded has made one call so
  // far (the greedy one above), as policy has, so the next samples are the same draws.
  assert.deepEqual(await policy.act(many), await loaded.act(many));
  const seeded = { episodes: 3, seed: 12345 };
  assert.deepEqual(withoutTiming(await policy.evaluate(seeded)), withoutTiming(await loaded.evaluate(seeded)));
  assert.deepEqual(withoutTiming(await policy.evaluate()), withoutTiming(await agent.evaluate()));
  await assert.rejects(
    policy.act(new Float32Array(3)),
    /act: obs must be a Float32Array of batch × 4 values \(CartPole-v1's observation size\)/,
  );
  await assert.rejects(policy.evaluate({ episodes: 0 }), /evaluate: episodes must be an integer >= 1; got 0/);
  // Misspelt options are refused, not ignored (`grredy` would sample; `episode` run evalEpisodes).
  await assert.rejects(policy.act(states, { grredy: true } as never), /act: unknown option "grredy"; the options are: greedy/);
  await assert.rejects(policy.evaluate({ episode: 1 } as never), /evaluate: unknown option "episode"; the options are: episodes, seed/);
  await assert.rejects(loaded.act(states, { grredy: true } as never), /act: unknown option "grredy"/);
  await assert.rejects(loaded.evaluate(null as never), /evaluate needs an options object; got null/);
  // One evaluation at a time (they share the environment copies); acting beside one is fine.
  const first = policy.evaluate({ episodes: 2 });
  await assert.rejects(policy.evaluate({ episodes: 2 }), /evaluate: an evaluation is still running on this policy; await it first/);
  const beside = await policy.act(states, { greedy: true });
  assert.equal(beside.length, 5);
  await first;
  // Destroyed while it runs: said so, not a GPU error from the freed stack.
  const running = policy.evaluate({ episodes: 2 });
  policy.destroy();
  await assert.rejects(running, /evaluate: this trained policy was destroyed while evaluate ran/);
  await assert.rejects(policy.act(states), /this trained policy was destroyed/);
  await assert.rejects(policy.evaluate(), /this trained policy was destroyed/);
  agent.destroy();
  loaded.destroy();
  await rm(dir, { recursive: true });
});

test("state.json and stack.safetensors of different checkpoints are refused, even where their coefficients agree (two seeds)", async () => {
  const files = [];
  for (const seed of [0, 1]) {
    const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, seed });
    await agent.learn({ steps: 32 });
    files.push(await agent.checkpoint());
    agent.destroy();
  }
  const state = JSON.parse(new TextDecoder().decode(files[0]["state.json"]));
  // One config, so one τ schedule: the coefficients agree, and once were all that tied the files.
  assert.deepEqual(state.stack.coefficients, JSON.parse(new TextDecoder().decode(files[1]["state.json"])).stack.coefficients);
  const mixed = { "state.json": files[0]["state.json"], "stack.safetensors": files[1]["stack.safetensors"] };
  const different =
    /state\.json records a stack file of CRC-32 \d+, but stack\.safetensors' is \d+: the files come from different checkpoints/;
  await assert.rejects(StaQ.restorePolicy(mixed, { gpu }), different);
  await assert.rejects(StaQ.restore({ ...files[0], "stack.safetensors": files[1]["stack.safetensors"] }, { gpu }), different);
  // A checkpoint written before the CRC was recorded has none, and loads as before.
  delete state.stack.crc32;
  const older = { "state.json": new TextEncoder().encode(JSON.stringify(state)), "stack.safetensors": files[0]["stack.safetensors"] };
  const policy = await StaQ.restorePolicy(older, { gpu });
  assert.equal(policy.globalStep, 32);
  policy.destroy();
});

test("loadPolicy names what is wrong: a missing stack file, another environment, an unknown option", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY });
  await agent.learn({ steps: 32 });
  const dir = await temporaryDirectory();
  const checkpoint = join(dir, "checkpoint");
  await agent.save(checkpoint);
  agent.destroy();
  await assert.rejects(
    StaQ.loadPolicy(checkpoint, { gpu, env: "Acrobot-v1" }),
    (e: Error) =>
      e instanceof StaqInputError &&
      e.message.includes(checkpoint) &&
      /the checkpoint was trained on CartPole-v1; the environment given is Acrobot-v1/.test(e.message),
  );
  await assert.rejects(
    StaQ.loadPolicy(checkpoint, { gpu, overrides: {} } as never),
    /restorePolicy: unknown option "overrides"; the options are: env, gpu/,
  );
  // A device made for the policy is released when the policy cannot be made: here the gym name is
  // malformed, which is found before any device is made.
  let made = 0;
  let destroyed = 0;
  class Counting extends StaQ {
    protected static override async defaultGpu(): Promise<Gpu> {
      const device = await createGpu();
      made++;
      const destroy = device.destroy.bind(device);
      device.destroy = () => (destroyed++, destroy());
      return device;
    }
  }
  await assert.rejects(Counting.loadPolicy(checkpoint, { env: "gym:" }), StaqInputError);
  await assert.rejects(Counting.loadPolicy(checkpoint, { env: "Acrobot-v1" }), /trained on CartPole-v1/);
  assert.equal(made, destroyed, `${made} devices made, ${destroyed} destroyed`);
  // The device passed in survives the failures: it still runs a policy.
  const policy = await StaQ.loadPolicy(checkpoint, { gpu });
  assert.equal((await policy.act(randomStates(2, 4, 1, 0.1), { greedy: true })).length, 2);
  policy.destroy();
  await rm(join(checkpoint, "stack.safetensors"));
  await assert.rejects(
    StaQ.loadPolicy(checkpoint, { gpu }),
    (e: Error) =>
      e instanceof StaqFormatError &&
      /the checkpoint .*checkpoint: the checkpoint has no stack\.safetensors; acting and greedy evaluation read stack\.safetensors, state\.json/.test(
        e.message,
      ),
  );
  await rm(dir, { recursive: true });
});

async function assertExactResume(settings: Record<string, unknown>): Promise<void> {
  const straight = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, ...settings });
  const whole = await record(straight, 96);

  const first = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, ...settings });
  const before = await record(first, 64);
  const files = await first.checkpoint();
  first.destroy();
  const resumed = await StaQ.restore(files, { gpu });
  assert.equal(resumed.resumeExact, true);
  const after = await record(resumed, 32);

  assert.deepEqual([...before.iterations, ...after.iterations].map(withoutTiming), whole.iterations.map(withoutTiming));
  assert.deepEqual([...before.evaluations, ...after.evaluations].map(withoutTiming), whole.evaluations.map(withoutTiming));
  assert.deepEqual(await resumed.trainer.exportState(), await straight.trainer.exportState());
  assert.deepEqual(await resumed.replay.read(), await straight.replay.read());
  assert.deepEqual(resumed.stack.coefficients, straight.stack.coefficients);
  const states = randomStates(4, 4, 2, 0.1);
  assert.deepEqual(await stackLogits(resumed.stack, states), await stackLogits(straight.stack, states));
  straight.destroy();
  resumed.destroy();
}

test("a run resumed from a checkpoint gives the same metrics, evaluations and weights as one that never stopped", async () => {
  await assertExactResume({ seed: 5 });
});

test("the same under the authors' stack rule, its ring of M + 1 full at the checkpoint and τ annealing", async () => {
  await assertExactResume({ seed: 7, memory: 1, stackRule: "authors", tauStart: 1, tauEnd: 0.2, tauAnnealSteps: 96 });
});

test("a checkpoint taken in onIteration holds the iteration's evaluation: a run stopped there resumes to an uninterrupted run's logs", async () => {
  const straight = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, seed: 6 });
  const whole = await record(straight, 96);
  straight.destroy();

  // What staq train does: log every callback, checkpoint in onIteration with the log positions;
  // here the process "dies" right after the first checkpoint (the throw).
  const logs = { iterations: [] as IterationMetrics[], evaluations: [] as EvaluationMetrics[] };
  let files: Record<string, Uint8Array> | undefined;
  const first = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, seed: 6 });
  const killed = new Error("killed after the checkpoint");
  await assert.rejects(
    first.learn({
      steps: 96,
      onEvaluation: (e) => void logs.evaluations.push(e),
      onIteration: async (m) => {
        logs.iterations.push(m);
        files = await first.checkpoint({ iterations: logs.iterations.length, evaluations: logs.evaluations.length });
        throw killed;
      },
    }),
    (e) => e === killed,
  );
  first.destroy();
  const resumed = await StaQ.restore(files!, { gpu });
  const kept = resumed.checkpointExtra as { iterations: number; evaluations: number };
  const after = await record(resumed, 64);
  resumed.destroy();
  assert.deepEqual(
    [...logs.iterations.slice(0, kept.iterations), ...after.iterations].map(withoutTiming),
    whole.iterations.map(withoutTiming),
  );
  assert.deepEqual(
    [...logs.evaluations.slice(0, kept.evaluations), ...after.evaluations].map(withoutTiming),
    whole.evaluations.map(withoutTiming),
  );
});

test("a diverging run stops at the iteration that went non-finite, names the quantity and the setting to change, and refuses to checkpoint", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, adamEps: 0 });
  const iterations: IterationMetrics[] = [];
  const diverged = (e: Error) =>
    e instanceof StaqDivergenceError &&
    /^training diverged at iteration 1 \(step 32\): losses\/td_loss.* is NaN/.test(e.message) &&
    /adamEps > 0/.test(e.message) &&
    e.details.iteration === 1;
  await assert.rejects(agent.learn({ steps: 64, onIteration: (m) => void iterations.push(m) }), diverged);
  assert.equal(iterations.length, 0, "the diverged iteration is not reported as a normal one");
  await assert.rejects(agent.checkpoint(), diverged, "a diverged agent's state is not saved");
  await assert.rejects(agent.learn({ steps: 32 }), diverged, "nor trained further");
  agent.destroy();

  const scaled = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY, rewardScale: 1e30 });
  await assert.rejects(
    scaled.learn({ steps: 32 }),
    (e: Error) => e instanceof StaqDivergenceError && /a smaller rewardScale \(now 1e\+30\)/.test(e.message),
  );
  scaled.destroy();
});

test("learn, evaluate and checkpoint run one at a time (learn's callbacks may checkpoint); act runs beside any of them", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY });
  const obs = randomStates(1, 4, 1);
  const checkpointSteps: number[] = [];
  let learning = true;
  const running = agent
    .learn({
      steps: 64,
      onIteration: async () => void checkpointSteps.push(Object.keys(await agent.checkpoint()).length),
    })
    .finally(() => (learning = false));
  const busy = (call: string) => new RegExp(`^${call}: learn is still running on this agent; await it first`);
  await assert.rejects(agent.learn({ steps: 32 }), /^StaqInputError: learn: learn is already running on this agent/);
  await assert.rejects(agent.evaluate({ episodes: 1 }), (e: Error) => e instanceof StaqInputError && busy("evaluate").test(e.message));
  await assert.rejects(agent.checkpoint(), (e: Error) => e instanceof StaqInputError && busy("checkpoint").test(e.message));
  // act (a page rendering the current policy while it trains) goes on beside learn, across its
  // pushes: a call whose stack changed while it waited acts again on the new one.
  const actions: number[] = [];
  while (learning) actions.push(...(await agent.act(obs, { greedy: true })));
  assert.ok(actions.length > 0 && actions.every((a) => a === 0 || a === 1), `${actions}`);
  assert.deepEqual(await running, { globalStep: 64, iteration: 2, stopped: false });
  assert.equal(checkpointSteps.length, 2, "a checkpoint in each onIteration");
  assert.equal(agent.stack.size, 2, "one push per iteration: nothing interleaved");

  // act beside evaluate too; evaluate beside evaluate is refused.
  const evaluation = agent.evaluate({ episodes: 1 });
  await assert.rejects(agent.evaluate({ episodes: 1 }), /^StaqInputError: evaluate: evaluate is still running/);
  const [action] = await agent.act(obs, { greedy: true });
  await evaluation;
  assert.deepEqual(await agent.act(obs, { greedy: true }), Uint32Array.of(action), "the same stack, the same greedy action");

  // destroy() while learn runs: learn says so rather than what failed inside.
  const destroyed = agent.learn({ steps: 32 });
  agent.destroy();
  await assert.rejects(destroyed, /^StaqInputError: learn: this StaQ agent was destroyed while learn ran/);
});

test("learn trains whole iterations: steps are rounded up to a multiple of stepsPerIteration", async () => {
  assert.equal(wholeIterationSteps(20, 32), 32);
  assert.equal(wholeIterationSteps(64, 32), 64);
  assert.equal(wholeIterationSteps(0, 32), 0);
  assert.equal(wholeIterationSteps(65, 32), 96);
});

test("the same seed on the same adapter gives identical metrics; another seed does not", async () => {
  const runs = [];
  for (const seed of [3, 3, 4]) {
    const agent = await StaQ.create({ env: "Acrobot-v1", preset: "quick", gpu, ...TINY, seed });
    runs.push(await record(agent, 64));
    agent.destroy();
  }
  assert.deepEqual(runs[1].iterations.map(withoutTiming), runs[0].iterations.map(withoutTiming));
  assert.deepEqual(runs[1].evaluations.map(withoutTiming), runs[0].evaluations.map(withoutTiming));
  assert.notDeepEqual(runs[2].iterations.map(withoutTiming), runs[0].iterations.map(withoutTiming));
});

/** A user's own environment: walk right along a line of 6 cells; it cannot save its state. */
class Corridor implements Env {
  readonly name = "Corridor";
  readonly observationShape = [2];
  readonly actionCount = 2;
  private position = 0;
  private steps = 0;
  reset() {
    this.position = 0;
    this.steps = 0;
    return { obs: this.observe(), info: {} };
  }
  step(action: number): StepResult {
    this.position = Math.max(0, this.position + (action === 1 ? 1 : -1));
    this.steps++;
    const terminated = this.position === 5;
    return { obs: this.observe(), reward: terminated ? 1 : 0, terminated, truncated: !terminated && this.steps >= 20, info: {} };
  }
  private observe() {
    return Float32Array.of(this.position / 5, this.steps / 20);
  }
}

test("any object implementing the env interface trains; without saveState a restore restarts its episodes and says so", async () => {
  const agent = await StaQ.create({ env: () => new Corridor(), preset: "quick", gpu, ...TINY });
  assert.equal(agent.envName, "Corridor");
  const { iterations } = await record(agent, 64);
  assert.equal(iterations.length, 2);
  const files = await agent.checkpoint();
  assert.equal(JSON.parse(new TextDecoder().decode(files["state.json"])).envState, null);
  await assert.rejects(StaQ.restore(files, { gpu }), /no environment named "Corridor"/);
  const resumed = await StaQ.restore(files, { gpu, env: () => new Corridor() });
  assert.equal(resumed.resumeExact, false);
  assert.equal((await record(resumed, 32)).iterations.length, 1);
  agent.destroy();
  resumed.destroy();
});

test("invalid configs are errors that name the field", async () => {
  await assert.rejects(
    StaQ.create({ env: "CartPole-v1", gpu, ...TINY, learningRate: 1 } as never),
    (e: Error) => e instanceof StaqInputError && /unknown config field "learningRate"/.test(e.message),
  );
  await assert.rejects(StaQ.create({ env: "CartPole-v1", gpu, ...TINY, gamma: 1.5 }), /config field gamma must be a number in \[0, 1\)/);
  await assert.rejects(StaQ.create({ env: "CartPol-v1", gpu, ...TINY }), /no environment named "CartPol-v1"; known: CartPole-v1/);
  await assert.rejects(StaQ.create({ env: "CartPole-v1", preset: "slow", gpu }), /unknown preset "slow"/);
  // CartPole: τ = 1e-30/ln 2 beside η = 2 makes β = 1 in float64, and the correction 1/(1 − β^M) infinite.
  await assert.rejects(
    StaQ.create({ env: "CartPole-v1", gpu, ...TINY, eta: 2, tauEnd: 1e-30, tauAnnealSteps: 0 }),
    /^StaqInputError: tauEnd \(1e-30\) is too small beside eta \(2\): β = η\/\(η \+ τ\) rounds to 1/,
  );
  // 1e-10 leaves β below 1 (1 − 3.5e-11): a large but finite correction is allowed.
  (await StaQ.create({ env: "CartPole-v1", gpu, ...TINY, eta: 2, tauEnd: 1e-10, tauAnnealSteps: 0 })).destroy();
  await assert.rejects(
    StaQ.create({ env: new Corridor() as never, gpu, ...TINY }),
    /a function that builds a new copy of your environment/,
  );
});

test("corrupt or mismatched checkpoints are refused with the file and the entry named", async () => {
  const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", gpu, ...TINY });
  await agent.learn({ steps: 32 });
  const files = await agent.checkpoint();
  const state = JSON.parse(new TextDecoder().decode(files["state.json"]));
  const withState = (change: (s: typeof state) => void) => {
    const copy = structuredClone(state);
    change(copy);
    return { ...files, "state.json": new TextEncoder().encode(JSON.stringify(copy)) };
  };
  const { "replay.safetensors": _replay, ...missing } = files;
  const withMetadata = (name: string, change: Record<string, string>) => {
    const { tensors, metadata } = decodeSafetensors(files[name]);
    return { ...files, [name]: encodeSafetensors(tensors, { ...metadata, ...change }) };
  };
  const cases: [Record<string, Uint8Array>, RegExp][] = [
    [missing, /the checkpoint has no replay.safetensors/],
    [{ ...files, "state.json": new TextEncoder().encode("{ not json") }, /state.json is not valid JSON/],
    [withState((s) => (s.format = "other/1")), /"format" must be "staq-agent-checkpoint\/1"/],
    [withState((s) => (s.counters.globalStep = -3)), /state.json: "globalStep" must be an integer >= 0; got -3/],
    [withState((s) => (s.stack.coefficients[0][0] *= 1.5)), /the files come from different checkpoints/],
    [withState((s) => delete s.config.memory), /state.json: the config lacks memory/],
    [withState((s) => (s.config.lr = -1)), /config.lr must be a number > 0/],
    [{ ...files, "replay.safetensors": files["replay.safetensors"].subarray(0, 100) }, /^replay.safetensors: /],
    [{ ...files, "stack.safetensors": files["networks.safetensors"] }, /^stack.safetensors: /],
    // Counts in metadata are plain decimals: Number() would read "0x10" as 16 and "" as 0.
    [withMetadata("replay.safetensors", { next: "0x10" }), /^replay.safetensors: "next" must be an integer >= 0; got "0x10"/],
    [withMetadata("networks.safetensors", { adam_steps: "" }), /^networks.safetensors: adam_steps must be an integer >= 0; got ""/],
  ];
  for (const [corrupt, message] of cases) {
    await assert.rejects(
      StaQ.restore(corrupt, { gpu }),
      (e: Error) => e instanceof StaqFormatError && message.test(e.message),
      String(message),
    );
  }
  await assert.rejects(StaQ.restore(files, { gpu, overrides: { memory: 5 } }), /cannot change memory when resuming/);
  await assert.rejects(StaQ.restore(files, { gpu, env: "Acrobot-v1" }), /trained on CartPole-v1; the environment given is Acrobot-v1/);
  const dir = await temporaryDirectory();
  await assert.rejects(StaQ.load(join(dir, "nothing"), { gpu }), /no checkpoint at .*nothing/);
  // On disk, the message names the checkpoint's directory and file.
  await agent.save(join(dir, "corrupt"));
  await writeFile(join(dir, "corrupt", "replay.safetensors"), files["replay.safetensors"].subarray(0, 100));
  await assert.rejects(
    StaQ.load(join(dir, "corrupt"), { gpu }),
    (e: Error) => e instanceof StaqFormatError && e.message.startsWith(`${join(dir, "corrupt", "replay.safetensors")}: `),
    "names the file",
  );
  await writeFile(join(dir, "corrupt", "state.json"), "{ not json");
  await assert.rejects(
    StaQ.load(join(dir, "corrupt"), { gpu }),
    (e: Error) => e instanceof StaqFormatError && e.message.startsWith(`${join(dir, "corrupt", "state.json")} is not valid JSON`),
    "names the file",
  );
  // A crash between the two renames of a save leaves checkpoint.old/, which loading falls back to.
  await agent.save(join(dir, "checkpoint"));
  await writeFile(join(dir, "marker"), "");
  const { rename } = await import("node:fs/promises");
  await rename(join(dir, "checkpoint"), join(dir, "checkpoint.old"));
  const fallback = await StaQ.load(join(dir, "checkpoint"), { gpu });
  assert.equal(fallback.globalStep, 32);
  assert.equal(JSON.parse(await readFile(join(dir, "checkpoint.old", "state.json"), "utf8")).counters.globalStep, 32);
  fallback.destroy();
  agent.destroy();
  await rm(dir, { recursive: true });
});
