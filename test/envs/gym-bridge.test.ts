// The Gymnasium bridge (src/envs/gym/): its protocol and its vector env against a tiny pure-Python
// env written for the test (test/fixtures/gym/tiny_env.py: no Gymnasium, so this runs wherever
// python3 and numpy do), and against Gymnasium's own CartPole where Gymnasium is importable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StaqError, StaqInputError } from "../../src/errors.ts";
import { createVectorEnv, type VectorStep } from "../../src/envs/vector-env.ts";
import { CartPoleEnv } from "../../src/envs/classic/cartpole.ts";
import { makeEnv } from "../../src/envs/registry.ts";
import { createRandomStream } from "../../src/random/random-stream.ts";
import { Walk } from "../helpers/walk-env.ts";
import { createGymVectorEnv, gymWorkerScript, type GymVectorEnvOptions } from "../../src/envs/gym/gym-vector-env.ts";
import { parseGymName } from "../../src/envs/gym/gym-name.ts";
import { envFactory } from "../../src/agent/env-factory.ts";
import { gymEnvSource } from "../../src/envs/gym/gym-env-source.ts";
import {
  decodeObs,
  decodeSpec,
  decodeStepped,
  encodeClose,
  encodeHello,
  encodeReset,
  encodeStep,
  PROTOCOL_VERSION,
  Reply,
} from "../../src/envs/gym/protocol.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/gym/", import.meta.url));
const python = process.env.STAQ_PYTHON || "python3";
const pythonWorks = spawnSync(python, ["-c", "import numpy"]).status === 0;
const gymnasiumWorks = pythonWorks && spawnSync(python, ["-c", "import gymnasium"]).status === 0;
const needsPython = pythonWorks
  ? {}
  : { skip: `${python} with numpy is not available (install python3 and numpy to run the bridge's tests)` };

/** A bridge of the tiny env: quiet (the error tests' tracebacks are in the messages already). */
function tiny(factory: string, count: number, options: GymVectorEnvOptions = {}) {
  return createGymVectorEnv(`tiny_env:${factory}`, count, { pythonPath: [FIXTURES], echoStderr: false, ...options });
}

/** Every field of two vector steps, equal (NaN equal to NaN, final observations by value). */
function assertSameStep(got: VectorStep, expected: VectorStep, where: string) {
  assert.deepEqual(Array.from(got.obs), Array.from(expected.obs), `${where}: obs`);
  assert.deepEqual(Array.from(got.rewards), Array.from(expected.rewards), `${where}: rewards`);
  assert.deepEqual(Array.from(got.terminated), Array.from(expected.terminated), `${where}: terminated`);
  assert.deepEqual(Array.from(got.truncated), Array.from(expected.truncated), `${where}: truncated`);
  assert.deepEqual(
    got.finalObs.map((f) => f && Array.from(f)),
    expected.finalObs.map((f) => f && Array.from(f)),
    `${where}: finalObs`,
  );
  assert.deepEqual(Array.from(got.episodeReturns), Array.from(expected.episodeReturns), `${where}: episodeReturns`);
  assert.deepEqual(Array.from(got.episodeLengths), Array.from(expected.episodeLengths), `${where}: episodeLengths`);
}

test("the protocol: HELLO, RESET, STEP and CLOSE frames through the worker, decoded", needsPython, () => {
  const frames = [
    encodeHello({
      version: PROTOCOL_VERSION,
      name: "gym:tiny_env:make_walk",
      env: "tiny_env:make_walk",
      count: 2,
      discretiseBox: false,
      kwargs: { limit: 2 },
      maxEpisodeSteps: null,
      path: [FIXTURES],
    }),
    encodeReset([7, 8]),
    encodeStep([2, 0]),
    encodeStep([2, 2]),
    encodeClose(),
  ];
  const input = Buffer.concat(frames.map((f) => new Uint8Array(f)));
  const run = spawnSync(python, [gymWorkerScript()], { input });
  assert.equal(run.status, 0, run.stderr.toString());
  // Cut stdout into frames: u32 length, u8 type, payload (copied to its own buffer, as the pipe thread does).
  const replies: { type: number; payload: ArrayBuffer }[] = [];
  for (let at = 0; at < run.stdout.length;) {
    const length = run.stdout.readUInt32LE(at);
    replies.push({ type: run.stdout[at + 4], payload: new Uint8Array(run.stdout.subarray(at + 5, at + 4 + length)).slice().buffer });
    at += 4 + length;
  }
  assert.deepEqual(
    replies.map((r) => r.type),
    [Reply.spec, Reply.obs, Reply.stepped, Reply.stepped],
  );
  const spec = decodeSpec(replies[0].payload);
  assert.deepEqual([spec.observationShape, spec.actionCount, spec.action.kind], [[3], 3, "discrete"]);
  const walks = [new Walk(2), new Walk(2)];
  assert.deepEqual(Array.from(decodeObs(replies[1].payload, 2, 3)), [
    ...walks[0].reset({ seed: 7 }).obs,
    ...walks[1].reset({ seed: 8 }).obs,
  ]);
  const first = decodeStepped(replies[2].payload, 2, 3);
  const expected = [walks[0].step(2), walks[1].step(0)];
  assert.deepEqual(Array.from(first.rewards), [expected[0].reward, expected[1].reward]);
  assert.deepEqual(Array.from(first.obs), [...expected[0].obs, ...expected[1].obs]);
  assert.equal(first.finals.length, 0);
  // The limit of 2 ends both episodes (truncated) on the second step: two final observations, then the resets' obs.
  const second = decodeStepped(replies[3].payload, 2, 3);
  const ends = [walks[0].step(2), walks[1].step(2)];
  assert.deepEqual(Array.from(second.truncated), [1, 1]);
  assert.deepEqual(Array.from(second.finals), [...ends[0].obs, ...ends[1].obs]);
  assert.deepEqual(Array.from(second.obs), [...walks[0].reset().obs, ...walks[1].reset().obs]);
});

test("the bridge steps as createVectorEnv over the same env: auto-reset, finalObs, both endings, seeds", needsPython, () => {
  const count = 4;
  const bridge = tiny("make_walk", count);
  try {
    const local = createVectorEnv(() => new Walk(), count);
    assert.deepEqual([bridge.observationShape, bridge.observationSize, bridge.actionCount], [[3], 3, 3]);
    assert.equal(bridge.snapshots, false);
    assert.deepEqual(Array.from(bridge.reset({ seed: 11 })), Array.from(local.reset({ seed: 11 })));
    const random = createRandomStream(5);
    const endings = { terminated: 0, truncated: 0 };
    for (let t = 0; t < 40; t++) {
      // Mostly right, so that some episodes reach p = 4 (terminated) and others run out of steps (truncated).
      const actions = Int32Array.from({ length: count }, () => (random.uniform() < 0.7 ? 2 : random.integer(3)));
      const got = bridge.step(actions);
      assertSameStep(got, local.step(actions), `step ${t}`);
      for (let i = 0; i < count; i++) {
        if (got.terminated[i]) endings.terminated++;
        else if (got.truncated[i]) endings.truncated++;
      }
    }
    assert.ok(endings.terminated > 0 && endings.truncated > 0, `endings: ${JSON.stringify(endings)}`);
    // A reset without a seed continues each copy's generator, as createVectorEnv's copies do.
    assert.deepEqual(Array.from(bridge.reset()), Array.from(local.reset()));
    assertSameStep(bridge.step([2, 1, 0, 2]), local.step([2, 1, 0, 2]), "after reset()");
    // The same seed gives the same episode starts; copy i is seeded seed + i (the obs shows the seed).
    const again = bridge.reset({ seed: 11 });
    assert.deepEqual(Array.from(again), Array.from(local.reset({ seed: 11 })));
    assert.deepEqual([again[2], again[5], again[8], again[11]], [11, 12, 13, 14]);
    // env.unwrapped.<name> of each copy.
    assert.deepEqual(
      bridge.getAttr("seed").map((v) => Array.from(v)),
      [[11], [12], [13], [14]],
    );
    assert.throws(() => bridge.getAttr("no_such_attribute"), /gym:tiny_env:make_walk: reading no_such_attribute failed.*AttributeError/s);
    bridge.step([1, 1, 1, 1]); // a failed getAttr leaves the env usable
  } finally {
    bridge.close();
  }
});

test("a Box action space is discretised into 2d + 1 actions: neutral, then each dimension at its low and high bound", needsPython, () => {
  assert.throws(
    () => tiny("make_box_walk", 1),
    (error: Error) =>
      error instanceof StaqInputError && /gym:tiny_env:make_box_walk has a Box action space.*discretise-box/.test(error.message),
  );
  // BoxWalk moves by the rounded first component (bounds [-1, 1]) and adds the second (bounds [0, 4]) to the reward.
  const bridge = tiny("make_box_walk", 5, { discretiseBox: true });
  try {
    assert.equal(bridge.actionCount, 5);
    assert.deepEqual(bridge.spaces.action, { kind: "box", shape: [2], low: [-1, 0], high: [1, 4], n: 5 });
    const start = bridge.reset({ seed: 3 });
    const step = bridge.step([0, 1, 2, 3, 4]);
    // action → (move, bonus): 0 neutral (0, 2); 1 dim 0 low (-1, 2); 2 dim 0 high (1, 2); 3 dim 1 low (0, 0); 4 dim 1 high (0, 4).
    const moves = [0, -1, 1, 0, 0];
    const bonuses = [2, 2, 2, 0, 4];
    for (let i = 0; i < 5; i++) {
      const p = start[3 * i] + moves[i];
      assert.equal(step.obs[3 * i], p, `copy ${i}: position`);
      assert.equal(step.rewards[i], 0.5 * p + bonuses[i], `copy ${i}: reward`);
    }
  } finally {
    bridge.close();
  }
  // The same through the name's option.
  assert.deepEqual(parseGymName('gym:Pendulum-v1,discretise-box,g=9.81,mode="x"'), {
    id: "Pendulum-v1",
    discretiseBox: true,
    kwargs: { g: 9.81, mode: "x" },
  });
  assert.throws(
    () => parseGymName("gym:Pendulum-v1,discretize"),
    /unknown option "discretize"; the options after the id are discretise-box and key=value/,
  );
});

test("wrong actions, unsupported spaces, bad ids and bad observations are refused with errors naming the env", needsPython, () => {
  const bridge = tiny("make_walk", 2);
  try {
    assert.throws(() => bridge.step([0, 0]), /gym:tiny_env:make_walk: call reset\(\) before the first step\(\)/);
    bridge.reset({ seed: 0 });
    assert.throws(() => bridge.step([0]), /gym:tiny_env:make_walk: step\(\) needs one action per copy: 2; got 1/);
    assert.throws(() => bridge.step([0, 3]), /the action of copy 1 must be an integer in \[0, 3\); got 3/);
    assert.throws(() => bridge.saveState(), /cannot save the state of gym:tiny_env:make_walk: its copies live in a Python worker/);
    assert.throws(() => bridge.envs[1].step(0), /copy 1 lives in the Python worker and steps only with the others/);
    bridge.step([0, 2]); // refused actions changed nothing
  } finally {
    bridge.close();
  }
  assert.throws(() => bridge.step([0, 0]), /was closed/);
  assert.equal(alive(bridge.pid!), false, "close() ends the worker");
  assert.throws(
    () => tiny("make_dict_actions", 1),
    (error: Error) =>
      error instanceof StaqInputError &&
      /gym:tiny_env:make_dict_actions has the action space .*staq steps Discrete action spaces/.test(error.message),
  );
  assert.throws(
    () => createGymVectorEnv("no_such_module_here:make", 1, { echoStderr: false }),
    (error: Error) =>
      error instanceof StaqInputError &&
      /gym:no_such_module_here:make: starting failed.*cannot import module 'no_such_module_here'/.test(error.message),
  );
  const bad = tiny("make_bad_obs", 1);
  try {
    bad.reset({ seed: 1 });
    assert.throws(
      () => bad.step([1]),
      /gym:tiny_env:make_bad_obs: copy 0 returned an observation of 5 values; its observation space says 3/,
    );
  } finally {
    bad.close();
  }
  assert.throws(() => makeEnv("gym:CartPole-v1"), /gym:CartPole-v1 is a Python environment: it runs only as a vector env/);
});

test("an exception in the env's step, a killed worker and a stuck one give errors naming the env, never a hang", needsPython, async () => {
  const raiser = tiny("make_raiser", 2);
  try {
    raiser.reset({ seed: 0 });
    raiser.step([1, 1]);
    raiser.step([1, 1]);
    const raised = (error: Error) =>
      error instanceof StaqError &&
      /gym:tiny_env:make_raiser: stepping failed in the Python worker: ValueError: the tiny env refuses its third step/.test(
        error.message,
      ) &&
      /Traceback[\s\S]*tiny_env\.py", line \d+, in step/.test(error.message);
    assert.throws(() => raiser.step([1, 1]), raised);
    assert.throws(() => raiser.step([1, 1]), raised, "a half-stepped batch is not stepped again");
  } finally {
    raiser.close();
  }

  const killed = tiny("make_walk", 2);
  try {
    killed.reset({ seed: 0 });
    process.kill(killed.pid!, "SIGKILL");
    const started = performance.now();
    assert.throws(() => killed.step([1, 1]), /gym:tiny_env:make_walk: the Python worker was killed by SIGKILL while stepping/);
    assert.ok(performance.now() - started < 5000);
  } finally {
    killed.close();
  }

  // A worker that never answers: the call gives up after timeoutSeconds and stops it.
  const stuck = tiny("make_walk", 1, { timeoutSeconds: 1 });
  try {
    stuck.reset({ seed: 0 });
    process.kill(stuck.pid!, "SIGSTOP");
    assert.throws(() => stuck.step([1]), /gym:tiny_env:make_walk: no reply from the Python worker within 1 s while stepping/);
  } finally {
    stuck.close();
  }
});

test(
  "no Python, no numpy or no Gymnasium is an error saying what to install",
  process.platform === "win32" ? { skip: "a shell script as the interpreter" } : needsPython,
  () => {
    const saved = process.env.STAQ_PYTHON;
    process.env.STAQ_PYTHON = "/nonexistent/python3";
    try {
      assert.throws(
        () => createGymVectorEnv("CartPole-v1", 1),
        (error: Error) =>
          error instanceof StaqInputError &&
          /gym:CartPole-v1 steps a Python environment, but the interpreter "\/nonexistent\/python3" could not be started \(ENOENT/.test(
            error.message,
          ) &&
          /pip install gymnasium/.test(error.message) &&
          /STAQ_PYTHON=/.test(error.message),
      );
    } finally {
      if (saved === undefined) delete process.env.STAQ_PYTHON;
      else process.env.STAQ_PYTHON = saved;
    }
    // A Python without its site-packages (-S) has no numpy: the worker says so through the protocol.
    const dir = mkdtempSync(join(tmpdir(), "staq-gym-"));
    const bare = join(dir, "python-without-site");
    writeFileSync(bare, `#!/bin/sh\nexec ${python} -S "$@"\n`, { mode: 0o755 });
    try {
      if (spawnSync(bare, ["-c", "import numpy"]).status !== 0) {
        assert.throws(
          () => tiny("make_walk", 1, { python: bare }),
          (error: Error) =>
            error instanceof StaqInputError &&
            /gym:tiny_env:make_walk: the Python worker needs numpy.*pip install numpy \(Debian: apt install python3-numpy\)/.test(
              error.message,
            ),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (!gymnasiumWorks) {
      assert.throws(
        () => createGymVectorEnv("CartPole-v1", 1, { echoStderr: false }),
        (error: Error) =>
          error instanceof StaqInputError &&
          /gym:CartPole-v1: Gymnasium ids need the gymnasium package.*pip install gymnasium/.test(error.message),
      );
    }
  },
);

test("the agent's env factory makes bridges for gym: names, with the config's time limit", needsPython, () => {
  const factory = envFactory(gymEnvSource(`gym:tiny_env:make_walk,limit=50`, { pythonPath: [FIXTURES], echoStderr: false }), 2);
  assert.equal(factory.envName, "gym:tiny_env:make_walk,limit=50");
  assert.equal(factory.makeCopy, undefined);
  const envs = factory.makeVector(1);
  try {
    envs.reset({ seed: 4 });
    envs.step([1]);
    const second = envs.step([1]);
    assert.deepEqual([second.truncated[0], second.episodeLengths[0]], [1, 2]); // timeLimit 2, not the env's 50
  } finally {
    envs.close!();
  }
});

test("a process that never closes its bridge still exits, and its worker with it", needsPython, async () => {
  const script = `
    import { createGymVectorEnv } from ${JSON.stringify(new URL("../../src/envs/gym/gym-vector-env.ts", import.meta.url).href)};
    const envs = createGymVectorEnv("tiny_env:make_walk", 1, { pythonPath: [${JSON.stringify(FIXTURES)}] });
    envs.reset({ seed: 0 });
    console.log(envs.pid);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the process did not exit within 30 s: an unclosed bridge kept it alive"));
    }, 30_000);
    child.on("exit", (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  assert.equal(code, 0);
  const pid = Number(out.trim());
  assert.ok(pid > 0, out);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(alive(pid), false, "the Python worker outlived its parent");
});

/** Whether process `pid` runs (a zombie, dead but not reaped — as under a container's init that reaps nothing — does not). */
function alive(pid: number): boolean {
  if (existsSync("/proc/self/status")) {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  "Gymnasium's CartPole through the bridge and staq's CartPoleEnv give identical transitions from identical states",
  gymnasiumWorks ? {} : { skip: `Gymnasium is not importable by ${python} (pip install gymnasium, or STAQ_PYTHON=a Python that has it)` },
  () => {
    const bridge = createGymVectorEnv("CartPole-v1", 1);
    const local = new CartPoleEnv();
    try {
      const first = bridge.reset({ seed: 42 });
      const sync = () => local.setState(bridge.getAttr("state")[0]);
      assert.deepEqual(Array.from(sync()), Array.from(first));
      const random = createRandomStream(9);
      let episodes = 0;
      for (let t = 0; t < 400; t++) {
        const action = random.integer(2);
        const got = bridge.step([action]);
        const expected = local.step(action);
        const where = `step ${t} (episode ${episodes})`;
        assert.equal(got.rewards[0], expected.reward, `${where}: reward`);
        assert.equal(got.terminated[0], expected.terminated ? 1 : 0, `${where}: terminated`);
        assert.equal(got.truncated[0], 0, `${where}: truncated`); // random actions never reach the 500-step limit
        const ended = got.finalObs[0];
        assert.deepEqual(Array.from(ended ?? got.obs), Array.from(expected.obs), `${where}: observation`);
        if (ended) {
          episodes++;
          // The bridge reset itself (its own generator): the TypeScript env starts from that state.
          assert.deepEqual(Array.from(sync()), Array.from(got.obs), `${where}: the new episode's start`);
        }
      }
      assert.ok(episodes >= 5, `${episodes} episodes`);
    } finally {
      bridge.close();
    }
  },
);
