/**
 * Classic-control states saved by an earlier staq still load, and load into the same episode.
 * The saved texts below are literal outputs of saveState (captured before the save/restore code was
 * shared between the three environments), so any change to the format — a renamed field, another
 * field order, another number encoding — fails here instead of in a user's old checkpoint.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { savesState, type Env, type EnvState } from "../../src/envs/env.ts";
import { makeEnv } from "../../src/envs/registry.ts";

interface SavedCase {
  name: string;
  /** Whether the state is that of makeEnv's time-limited env (what a checkpoint holds) or of the bare one. */
  timeLimited: boolean;
  /** The episode phase saved: mid-episode, or just after its terminal step. */
  phase: "running" | "terminated";
  /** JSON.stringify(env.saveState()), as written then. */
  saved: string;
  /** The steps the original env took after saving: action in, observation, reward and flags out. */
  next: { action: number; obs: number[]; reward: number; terminated: boolean; truncated: boolean }[];
  /** The observation of the unseeded reset after those steps (the generator went on from where it was saved). */
  reset: number[];
}

const CASES: SavedCase[] = [
  {
    // reset({ seed: 7 }), actions 0, 1, 1.
    name: "CartPole-v1",
    timeLimited: true,
    phase: "running",
    saved:
      '{"env":"CartPole-v1","kind":"time-limit","maxEpisodeSteps":500,"elapsedSteps":3,"inner":{"env":"CartPole-v1","kind":"classic","phase":"running","physics":[0.039250539557442926,0.15688393102001502,-0.005600006087388666,-0.33309546722737754],"random":{"seed":7,"block":2,"words":[]}}}',
    next: [
      {
        action: 1,
        obs: [0.04238821938633919, 0.352085143327713, -0.012261915020644665, -0.6275390982627869],
        reward: 1,
        terminated: false,
        truncated: false,
      },
      {
        action: 0,
        obs: [0.04942991957068443, 0.1571364551782608, -0.024812696501612663, -0.3387429416179657],
        reward: 1,
        terminated: false,
        truncated: false,
      },
    ],
    reset: [-0.04939248785376549, 0.030765512958168983, -0.01098009292036295, -0.03522250056266785],
  },
  {
    // reset({ seed: 11 }), actions 2, 0, 1, 2.
    name: "Acrobot-v1",
    timeLimited: true,
    phase: "running",
    saved:
      '{"env":"Acrobot-v1","kind":"time-limit","maxEpisodeSteps":500,"elapsedSteps":4,"inner":{"env":"Acrobot-v1","kind":"classic","phase":"running","physics":[-0.052383090912404354,0.06043411118617245,-0.21931447749192534,0.2419259943958472],"random":{"seed":11,"block":2,"words":[]}}}',
    next: [
      {
        action: 1,
        obs: [0.9962476491928101, -0.0865485817193985, 0.9955207705497742, 0.09454292058944702, -0.11558940261602402, 0.08973731100559235],
        reward: -1,
        terminated: false,
        truncated: false,
      },
      {
        action: 0,
        obs: [0.9965389370918274, -0.08312704414129257, 0.9982386827468872, 0.05932600796222687, 0.1478574573993683, -0.43585532903671265],
        reward: -1,
        terminated: false,
        truncated: false,
      },
    ],
    reset: [0.9997847080230713, 0.020750368013978004, 0.9970581531524658, 0.07664906978607178, 0.049958501011133194, 0.08693479001522064],
  },
  {
    // reset({ seed: 3 }), actions 2, 2, 0: the generator holds two buffered words.
    name: "MountainCar-v0",
    timeLimited: true,
    phase: "running",
    saved:
      '{"env":"MountainCar-v0","kind":"time-limit","maxEpisodeSteps":200,"elapsedSteps":3,"inner":{"env":"MountainCar-v0","kind":"classic","phase":"running","physics":[-0.43654950225748124,-0.0009441034597251754],"random":{"seed":3,"block":1,"words":[2817715290,3286640633]}}}',
    next: [
      { action: 1, obs: [-0.43813908100128174, -0.0015895775286480784], reward: -1, terminated: false, truncated: false },
      { action: 0, obs: [-0.4413626194000244, -0.003223526757210493], reward: -1, terminated: false, truncated: false },
    ],
    reset: [-0.4687899053096771, 0],
  },
  {
    // The bare env, reset({ seed: 1 }), action 1 until the pole fell (10 steps): the episode is over.
    name: "CartPole-v1",
    timeLimited: false,
    phase: "terminated",
    saved:
      '{"env":"CartPole-v1","kind":"classic","phase":"terminated","physics":[0.21640116639081475,1.9631687846494374,-0.24918227081971892,-3.0777240378427764],"random":{"seed":1,"block":2,"words":[]}}',
    next: [],
    reset: [-0.025259852409362793, 0.02131296694278717, 0.0257626511156559, -0.035662733018398285],
  },
];

function make(name: string, timeLimited: boolean): Env {
  return makeEnv(name, timeLimited ? {} : { maxEpisodeSteps: null });
}

for (const c of CASES) {
  const label = `${c.name}${c.timeLimited ? " (time-limited)" : ""}, ${c.phase}`;
  test(`${label}: an earlier saved state loads, saves back to the same text and continues as the original did`, () => {
    const env = make(c.name, c.timeLimited);
    assert.ok(savesState(env));
    env.loadState(JSON.parse(c.saved) as EnvState);
    assert.equal(JSON.stringify(env.saveState()), c.saved, "the loaded env saves the same text");
    for (const [i, expected] of c.next.entries()) {
      const got = env.step(expected.action);
      assert.deepEqual(Array.from(got.obs), expected.obs, `step ${i} obs`);
      assert.deepEqual(
        { reward: got.reward, terminated: got.terminated, truncated: got.truncated },
        { reward: expected.reward, terminated: expected.terminated, truncated: expected.truncated },
        `step ${i}`,
      );
    }
    if (c.phase === "terminated") {
      assert.throws(() => env.step(0), /after the episode terminated/, "the loaded env knows the episode is over");
    }
    assert.deepEqual(Array.from(env.reset().obs), c.reset, "the unseeded reset continues the saved generator");
  });
}

test("an earlier state saved before the first reset (no generator yet) loads and saves back unchanged", () => {
  const saved = '{"env":"Acrobot-v1","kind":"classic","phase":"idle","physics":[0,0,0,0],"random":null}';
  const env = make("Acrobot-v1", false);
  assert.ok(savesState(env));
  env.loadState(JSON.parse(saved) as EnvState);
  assert.equal(JSON.stringify(env.saveState()), saved);
  assert.throws(() => env.step(0), /before reset\(\)/);
});
