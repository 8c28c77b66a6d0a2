/**
 * A VectorEnv whose N copies are Python environments — Gymnasium's own, or any object with
 * Gymnasium's reset/step/spaces — stepped in one Python worker process (staq_gym_worker.py) through
 * a binary pipe: one frame of N actions out, one frame of batched results back per step.
 *
 * It keeps createVectorEnv's contract exactly: copy i is seeded with seed + i; a copy whose episode
 * ends is reset in the same step (without a seed, its generator continuing), its last observation
 * going to `finalObs`; `terminated` and `truncated` stay apart; the episode returns and lengths are
 * booked here as there; every step's arrays are new (views on the reply's own buffer). What it
 * cannot do: save or restore its state (Python environments have no general way to), so
 * `snapshots` is false; and its copies cannot be stepped one by one (`envs` holds descriptors).
 *
 *   const envs = createGymVectorEnv("CartPole-v1", 16);        // Gymnasium's CartPole, 16 copies
 *   const obs = envs.reset({ seed: 0 });
 *   const step = envs.step(actions);
 *   envs.close();                                               // ends the worker
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StaqError, StaqInputError } from "../../errors.ts";
import type { Env, JsonValue } from "../env.ts";
import { checkSeedRange } from "../seeds.ts";
import { describeValue } from "../../io/describe-value.ts";
import { checkActions, type VectorEnv, type VectorStep } from "../vector-env.ts";
import { GYM_PREFIX, isGymName, parseGymName } from "./gym-name.ts";
import {
  decodeAttr,
  decodeError,
  decodeObs,
  decodeSpec,
  decodeStepped,
  encodeClose,
  encodeGetAttr,
  encodeHello,
  encodeReset,
  encodeStep,
  PROTOCOL_VERSION,
  Reply,
  type GymSpaces,
  type SteppedReply,
} from "./protocol.ts";
import { defaultPython, gymnasiumMissing, numpyMissing } from "./python-hints.ts";
import { WorkerLink } from "./worker-link.ts";

export interface GymVectorEnvOptions {
  /** A Box action space as the paper's 2d + 1 discrete actions (also `,discretise-box` in the name). */
  discretiseBox?: boolean;
  /** Keyword arguments of gymnasium.make or the factory (added to those in the name). */
  kwargs?: Record<string, JsonValue>;
  /** A step limit replacing the env's own (Gymnasium's max_episode_steps). */
  maxEpisodeSteps?: number;
  /** The interpreter (default $STAQ_PYTHON, else python3). */
  python?: string;
  /** Directories put first on the worker's sys.path, for a `module.path:factory` id (the current directory is always on it). */
  pythonPath?: string[];
  /** Seconds to wait for the worker to start and build the copies (default 120: importing Gymnasium is slow on a busy machine). */
  startTimeoutSeconds?: number;
  /** Seconds to wait for any later reply (default 30); past it the worker is killed and the call throws. */
  timeoutSeconds?: number;
  /** Echo the worker's stderr (Python's warnings) to this process's stderr (default true); its tail is in the errors either way. */
  echoStderr?: boolean;
  /** The worker file (default: staq_gym_worker.py beside this module, in src/ and in dist/ alike). */
  workerScript?: string;
}

/** A VectorEnv stepped by a Python worker process; close() ends it. */
export interface GymVectorEnv extends VectorEnv {
  /** gym:<id> */
  readonly name: string;
  /** The copies' spaces, as the worker read them. */
  readonly spaces: GymSpaces;
  /** The worker's process id. */
  readonly pid: number | undefined;
  /** `env.unwrapped.<attribute>` of every copy, as float64 arrays (e.g. CartPole's `state`). */
  getAttr(attribute: string): Float64Array[];
  /** Ends the worker; every later call throws. Idempotent. */
  close(): void;
  readonly closed: boolean;
}

/** staq_gym_worker.py beside this module: src/envs/gym/ under tsx, dist/envs/gym/ once built. */
export function gymWorkerScript(): string {
  return fileURLToPath(new URL("./staq_gym_worker.py", import.meta.url));
}

/**
 * N copies of a Python environment in one worker: `id` a Gymnasium id (`CartPole-v1`), a
 * `module.path:factory`, or a whole gym: name with options (`gym:Pendulum-v1,discretise-box`).
 */
export function createGymVectorEnv(id: string, count: number, options: GymVectorEnvOptions = {}): GymVectorEnv {
  const parsed = parseGymName(isGymName(id) ? id : GYM_PREFIX + id);
  const name = GYM_PREFIX + parsed.id;
  if (!(Number.isInteger(count) && count >= 1))
    throw new StaqInputError(`${name}: a vector env needs an integer number of copies >= 1; got ${count}`);
  const limit = options.maxEpisodeSteps;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
    throw new StaqInputError(`${name}: maxEpisodeSteps must be an integer >= 1; got ${describeValue(limit)}`);
  // Checked before the worker starts: a NaN or non-number here would make every wait endless (Atomics.wait(…, NaN)).
  const startTimeoutSeconds = checkSeconds(name, "startTimeoutSeconds", options.startTimeoutSeconds, 120);
  const timeoutSeconds = checkSeconds(name, "timeoutSeconds", options.timeoutSeconds, 30);
  const script = options.workerScript ?? gymWorkerScript();
  if (!existsSync(script))
    throw new StaqError(
      `${name}: the Python worker file ${script} is missing; a build of staq must copy src/envs/gym/staq_gym_worker.py beside gym-vector-env.js (or pass workerScript)`,
    );
  const python = options.python ?? defaultPython();
  const link = new WorkerLink({
    name,
    python,
    script,
    echoStderr: options.echoStderr ?? true,
    env: process.env,
  });
  const spaces = start();
  const observationShape = Object.freeze([...spaces.observationShape]);
  const size = observationShape.reduce((product, n) => product * n, 1);
  const actionCount = spaces.actionCount;
  const returns = new Float64Array(count);
  const lengths = new Int32Array(count);
  let started = false;
  let closed = false;

  /** HELLO: the copies built and their spaces read, or the error saying why not (the worker then exits). */
  function start(): GymSpaces {
    const hello = encodeHello({
      version: PROTOCOL_VERSION,
      name,
      env: parsed.id,
      count,
      discretiseBox: options.discretiseBox ?? parsed.discretiseBox,
      kwargs: { ...parsed.kwargs, ...options.kwargs },
      maxEpisodeSteps: limit ?? null,
      path: options.pythonPath ?? [],
    });
    try {
      const reply = link.request(hello, "starting", startTimeoutSeconds);
      if (reply.type === Reply.error) {
        const failure = decodeError(reply.payload);
        if (failure.kind === "missing-gymnasium") throw gymnasiumMissing(name, python, failure.message);
        if (failure.kind === "missing-numpy") throw numpyMissing(name, python, failure.message);
        throw link.failureOf(reply.payload, "starting");
      }
      if (reply.type !== Reply.spec) throw new StaqError(`${name}: the Python worker answered HELLO with message ${reply.type}`);
      return decodeSpec(reply.payload);
    } catch (error) {
      link.close(encodeClose(), 1);
      throw error;
    }
  }

  /** One request whose reply must be `type`; an ERROR reply (the env raised) breaks the link unless `keep`. */
  function call(frame: ArrayBuffer, what: string, type: number, keep = false): ArrayBuffer {
    if (closed) throw new StaqInputError(`${name}: the vector env was closed; make a new one`);
    const reply = link.request(frame, what, timeoutSeconds);
    if (reply.type === Reply.error) {
      const error = link.failureOf(reply.payload, what);
      throw keep ? error : link.fail(error);
    }
    if (reply.type !== type)
      throw link.fail(new StaqError(`${name}: the Python worker answered ${what} with message ${reply.type}, not ${type}`));
    return reply.payload;
  }

  /**
   * A NaN or infinite value from the env would poison the learner silently (every later value it
   * touches turns NaN); it is stopped here, where the env and the copy can still be named. The
   * worker already stepped the batch, so the link is failed: the transitions cannot be taken back.
   */
  function checkFinite(values: ArrayLike<number>, copy: number, what: string, when: string): void {
    for (let k = 0; k < values.length; k++) {
      const value = values[k];
      if (Number.isFinite(value)) continue;
      throw link.fail(
        new StaqInputError(
          `${name} copy ${copy} returned ${value !== value ? "a NaN" : "an infinite"} ${what} ${when}${what === "observation" ? ` (value ${k} is ${value})` : ""}; staq needs finite numbers: fix or wrap the environment`,
        ),
      );
    }
  }

  /** Rewards, observations and final observations of one step, all finite (checkFinite). */
  function checkFiniteStep(reply: SteppedReply): void {
    let ended = 0;
    for (let i = 0; i < count; i++) {
      const at = `at step ${lengths[i] + 1} of its episode`;
      checkFinite(reply.rewards.subarray(i, i + 1), i, "reward", at);
      if (reply.terminated[i] || reply.truncated[i]) {
        checkFinite(reply.finals.subarray(ended * size, (ended + 1) * size), i, "observation", at);
        checkFinite(reply.obs.subarray(i * size, (i + 1) * size), i, "observation", "on its automatic reset");
        ended++;
      } else {
        checkFinite(reply.obs.subarray(i * size, (i + 1) * size), i, "observation", at);
      }
    }
  }

  const envs: Env[] = Array.from({ length: count }, (_, i) => copyDescriptor(name, i, observationShape, actionCount));

  return {
    name,
    spaces,
    get pid() {
      return link.pid;
    },
    count,
    envs,
    observationShape,
    observationSize: size,
    actionCount,
    reset(resetOptions = {}) {
      const seed = resetOptions?.seed;
      // Past 2^53 − 1, seed + i would round onto a neighbour's seed: the whole range is checked up front.
      if (seed !== undefined) checkSeedRange(name, seed, count);
      const seeds = seed === undefined ? null : Array.from({ length: count }, (_, i) => seed + i);
      const obs = decodeObs(call(encodeReset(seeds), "resetting", Reply.obs), count, size);
      for (let i = 0; i < count; i++) checkFinite(obs.subarray(i * size, (i + 1) * size), i, "observation", "on reset");
      returns.fill(0);
      lengths.fill(0);
      started = true;
      return obs;
    },
    step(actions) {
      if (!started) throw new StaqInputError(`${name}: call reset() before the first step()`);
      checkActions(actions, count, actionCount, `${name}: `, (i) => `copy ${i}`);
      const reply = decodeStepped(call(encodeStep(actions), "stepping", Reply.stepped), count, size);
      checkFiniteStep(reply);
      const result: VectorStep = {
        obs: reply.obs,
        rewards: reply.rewards,
        terminated: reply.terminated,
        truncated: reply.truncated,
        finalObs: new Array<Float32Array | null>(count).fill(null),
        episodeReturns: new Float64Array(count).fill(NaN),
        episodeLengths: new Int32Array(count),
      };
      let ended = 0;
      for (let i = 0; i < count; i++) {
        returns[i] += reply.rewards[i];
        lengths[i]++;
        if (!(reply.terminated[i] || reply.truncated[i])) continue;
        result.finalObs[i] = reply.finals.subarray(ended * size, (ended + 1) * size);
        ended++;
        result.episodeReturns[i] = returns[i];
        result.episodeLengths[i] = lengths[i];
        returns[i] = 0;
        lengths[i] = 0;
      }
      if (ended * size !== reply.finals.length)
        throw link.fail(
          new StaqError(`${name}: the Python worker sent ${reply.finals.length / size} final observations for ${ended} ended episodes`),
        );
      return result;
    },
    snapshots: false,
    saveState() {
      throw notSnapshots(name, "save");
    },
    loadState() {
      throw notSnapshots(name, "load");
    },
    getAttr(attribute) {
      if (!attribute) throw new StaqInputError(`${name}: getAttr needs an attribute name`);
      const { perCopy, values } = decodeAttr(call(encodeGetAttr(attribute), `reading ${attribute}`, Reply.attr, true), count);
      return Array.from({ length: count }, (_, i) => values.slice(i * perCopy, (i + 1) * perCopy));
    },
    close() {
      if (closed) return;
      closed = true;
      link.close(encodeClose());
    },
    get closed() {
      return closed;
    },
  };
}

/** A time limit in seconds: a finite number > 0 (a NaN would wait forever, 0 or less never). */
function checkSeconds(name: string, option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  throw new StaqInputError(
    `${name}: ${option} must be a finite number of seconds > 0; got ${describeValue(value)} (leave it out for the default of ${fallback} s)`,
  );
}

function notSnapshots(name: string, verb: "save" | "load"): StaqInputError {
  return new StaqInputError(
    `cannot ${verb} the state of ${name}: its copies live in a Python worker, and Python environments have no general way to save and restore their state (VectorEnv.snapshots is false). A checkpoint of a run on it stores no environment state; resuming restarts the episodes from a fresh seed (StaQ.resumeExact is then false)`,
  );
}

/**
 * What `envs[i]` holds: the copy's name, shape and action count, for code that reads them; it
 * lives in the worker, so stepping it alone is refused.
 */
function copyDescriptor(name: string, i: number, observationShape: readonly number[], actionCount: number): Env {
  const refuse = (): never => {
    throw new StaqInputError(
      `${name}: copy ${i} lives in the Python worker and steps only with the others, through the vector env's reset() and step()`,
    );
  };
  return { name, observationShape, actionCount, reset: refuse, step: refuse };
}
