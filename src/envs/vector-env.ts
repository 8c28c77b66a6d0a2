/**
 * N copies of an environment stepped together, with batched arrays in and out: the way the agent
 * acts (one stack evaluation for all N states). Copies reset themselves when their episode ends
 * ("same-step" auto-reset): the returned observation is the new episode's first one, and the last
 * observation of the finished episode is kept in `finalObs`, so a learner can still bootstrap from
 * it when the episode was truncated rather than terminated.
 *
 * Every step returns new arrays (a caller may keep them), carved from shared slabs (ArraySlabs).
 * Copies that implement ObservationWriter (the MinAtar ports) write their observations straight into
 * the batch; any other Env is stepped with step() and its observation copied in.
 *
 * When every copy implements SnapshotEnv, the vector env's whole state (each copy's, the running
 * returns and lengths) can be saved and restored, so a checkpointed run resumes exactly.
 */
import { StaqInputError } from "../errors.ts";
import {
  observationSize,
  savesState,
  writesObservations,
  type Env,
  type EnvState,
  type ObservationWriter,
  type SnapshotEnv,
  type StepResult,
} from "./env.ts";
import { finiteByConstruction } from "./finite-envs.ts";
import { checkSeedRange, maxSeedOf } from "./seeds.ts";
import { describeValue } from "../io/describe-value.ts";
import { ArraySlabs } from "./array-slabs.ts";
import { encodeFloat, StateReader, type JsonFloat } from "./state-reader.ts";

/**
 * Where every vector env's per-step outputs come from (see ArraySlabs): observations from one pool,
 * the small per-copy arrays from another, so that keeping, say, every step's rewards does not keep
 * every step's observations alive with them.
 */
const observationSlabs = new ArraySlabs();
const smallSlabs = new ArraySlabs();

export interface VectorStep {
  /** [N × observation size]: each copy's observation after the step (after the auto-reset, if any). */
  obs: Float32Array;
  rewards: Float64Array;
  /** 1 where the copy's episode reached a terminal state this step. */
  terminated: Uint8Array;
  /** 1 where the copy's episode was cut short (time limit) this step. */
  truncated: Uint8Array;
  /** The last observation of each episode that ended this step; null for copies still running. */
  finalObs: (Float32Array | null)[];
  /** The undiscounted return and length of each episode that ended this step; NaN / 0 otherwise. */
  episodeReturns: Float64Array;
  episodeLengths: Int32Array;
}

/**
 * A vector env's complete state (VectorEnv.saveState), as JSON data: every copy's state, the return
 * and length of every running episode, and whether reset() was called.
 */
export type VectorEnvState = {
  kind: "vector";
  /** The copies' name (that of the first). */
  env: string;
  count: number;
  /** Whether reset() was called (step() refuses to run before). */
  started: boolean;
  /** Each copy's undiscounted return so far in its running episode (see encodeFloat). */
  episodeReturns: JsonFloat[];
  /** Each copy's steps so far in its running episode. */
  episodeLengths: number[];
  /** Each copy's own state (SnapshotEnv.saveState). */
  envs: EnvState[];
};

export interface VectorEnv {
  readonly count: number;
  /** The copies; a vector env whose copies live elsewhere (a Python worker) gives descriptors that refuse to step alone. */
  readonly envs: readonly Env[];
  readonly observationShape: readonly number[];
  readonly observationSize: number;
  readonly actionCount: number;
  /** Resets every copy; with a seed, copy i is seeded with seed + i (Gymnasium's convention). */
  reset(options?: { seed?: number }): Float32Array;
  /** One action per copy. */
  step(actions: ArrayLike<number>): VectorStep;
  /** True when every copy implements SnapshotEnv, so that saveState and loadState work. */
  readonly snapshots: boolean;
  /**
   * The complete state, for a checkpoint: the vector env then loaded with it steps exactly as this
   * one would have. Throws a StaqInputError naming the copy that has no saveState/loadState (check
   * `snapshots` first to fall back quietly).
   */
  saveState(): VectorEnvState;
  /**
   * Restores a state from saveState (also after a JSON round trip). It is validated, copy by copy;
   * if any part is refused (a StaqInputError saying which copy and what), every copy is put back as
   * it was.
   */
  loadState(state: EnvState): void;
  /**
   * Releases what the copies hold outside this process — the Python worker of a Gymnasium bridge
   * (src/envs/gym/) — after which the vector env refuses to step. Absent where there is nothing to
   * release (createVectorEnv's copies are plain objects); an agent calls it when destroyed.
   */
  close?(): void;
}

/**
 * One integer action in [0, actionCount) for each of `count` copies, or a StaqInputError that says
 * which copy (`copy(i)`), after `prefix`. A vector env checks every action before stepping any
 * copy: one refusing its action halfway would leave the copies before it stepped, their
 * transitions lost. Shared by the vector env and the Gymnasium bridge.
 */
export function checkActions(
  actions: ArrayLike<number>,
  count: number,
  actionCount: number,
  prefix: string,
  copy: (i: number) => string,
): void {
  if (actions === null || typeof actions !== "object" || typeof actions.length !== "number")
    throw new StaqInputError(`${prefix}step() needs an array of ${count} actions, one per copy; got ${describeValue(actions)}`);
  if (actions.length !== count) throw new StaqInputError(`${prefix}step() needs one action per copy: ${count}; got ${actions.length}`);
  for (let i = 0; i < count; i++) {
    const action = actions[i];
    if (!(Number.isInteger(action) && action >= 0 && action < actionCount))
      throw new StaqInputError(`${prefix}the action of ${copy(i)} must be an integer in [0, ${actionCount}); got ${describeValue(action)}`);
  }
}

/**
 * Refuses an object from a user's `make` that lacks part of the Env interface, naming the member:
 * otherwise its first use fails deep inside staq with a bare TypeError.
 */
function checkEnvInterface(env: Env, i: number): void {
  const where = `make() built copy ${i}`;
  if (env === null || typeof env !== "object")
    throw new StaqInputError(`${where} as ${describeValue(env)}; it must return an Env object (src/envs/env.ts)`);
  const problems: string[] = [];
  if (typeof env.name !== "string") problems.push(`name must be a string (got ${describeValue(env.name)})`);
  const shape = env.observationShape as unknown;
  if (!(Array.isArray(shape) && shape.length > 0 && shape.every((d) => Number.isInteger(d) && d >= 1)))
    problems.push(`observationShape must be a non-empty array of integers >= 1 (got ${describeValue(shape)})`);
  if (!(Number.isInteger(env.actionCount) && env.actionCount >= 1))
    problems.push(`actionCount must be an integer >= 1 (got ${describeValue(env.actionCount)})`);
  for (const method of ["reset", "step"] as const) if (typeof env[method] !== "function") problems.push(`${method} must be a function`);
  if (problems.length > 0) throw new StaqInputError(`${where} without the Env interface: ${problems.join("; ")}`);
}

/** N copies from `make` (called N times; each copy must be an independent environment). */
export function createVectorEnv(make: () => Env, count: number): VectorEnv {
  if (typeof make !== "function")
    throw new StaqInputError(
      `createVectorEnv needs a function that builds one copy, e.g. () => makeEnv("CartPole-v1"); got ${describeValue(make)}`,
    );
  if (!(Number.isInteger(count) && count >= 1))
    throw new StaqInputError(`a vector env needs an integer number of copies >= 1; got ${describeValue(count)}`);
  const envs = Array.from({ length: count }, make);
  if (new Set(envs).size !== count)
    throw new StaqInputError("make() returned the same environment object twice; it must build a new copy on every call");
  envs.forEach(checkEnvInterface);
  const first = envs[0];
  const size = observationSize(first);
  for (const env of envs) {
    // The same shape, not only the same size: [2, 2] and [4] are read differently by a conv layer.
    if (env.actionCount !== first.actionCount || env.observationShape.join() !== first.observationShape.join()) {
      throw new StaqInputError(
        `every copy must have the same observation shape and action count; got ${env.name} with [${env.observationShape}] and ${env.actionCount} actions vs [${first.observationShape}] and ${first.actionCount}`,
      );
    }
  }
  // In place only when every copy can: one loop or the other, each with a single kind of call in it.
  const writers = envs.every(writesObservations) ? (envs as (Env & ObservationWriter)[]) : null;
  const returns = new Float64Array(count);
  const lengths = new Int32Array(count);
  let started = false;
  const snapshotEnvs = envs.every(savesState) ? (envs as (Env & SnapshotEnv)[]) : null;
  const seedLimit = maxSeedOf(envs);
  // staq's own environments cannot produce NaN or infinite values (their dynamics are bounded), so
  // only the others are checked: the check costs a loop over every observation value, a few percent
  // of a built-in step, which the built-in ones need not pay.
  const trusted = envs.every(finiteByConstruction);

  const copyName = (i: number) => `copy ${i} (${envs[i].name})`;
  const place = (target: Float32Array, i: number, obs: Float32Array) => {
    if (obs.length !== size)
      throw new StaqInputError(
        `${envs[i].name} returned an observation of ${obs.length} values; its shape [${first.observationShape}] says ${size}`,
      );
    target.set(obs, i * size);
  };

  return {
    count,
    envs,
    observationShape: first.observationShape,
    observationSize: size,
    actionCount: first.actionCount,
    reset(options = {}) {
      const seed = options?.seed;
      if (seed !== undefined) checkSeedRange(`vector env of ${first.name}`, seed, count, seedLimit);
      const obs = new Float32Array(count * size);
      envs.forEach((env, i) => {
        place(obs, i, env.reset(seed === undefined ? {} : { seed: seed + i }).obs);
        if (!trusted) checkFinite(obs, i, "observation", "on reset");
      });
      returns.fill(0);
      lengths.fill(0);
      started = true;
      return obs;
    },
    step(actions) {
      if (!started) throw new StaqInputError("call reset() before the first step()");
      checkActions(actions, count, first.actionCount, "", copyName);
      // The arrays are new on every step (a caller may keep them) but come from slabs: at N = 16 or
      // more, `new Float64Array(count)` and the batch of observations would each be an off-heap
      // allocation costing more than the steps themselves (bench/envs.ts).
      const result: VectorStep = {
        obs: observationSlabs.float32(count * size),
        rewards: smallSlabs.float64(count),
        terminated: smallSlabs.uint8(count),
        truncated: smallSlabs.uint8(count),
        finalObs: new Array<Float32Array | null>(count).fill(null),
        episodeReturns: smallSlabs.float64(count).fill(NaN),
        episodeLengths: smallSlabs.int32(count),
      };
      if (writers) {
        stepInPlace(writers, actions, result);
        if (!trusted) checkFiniteStep(result);
        return result;
      }
      // A plain loop, not forEach: a closure made on every step costs measurably at these rates.
      for (let i = 0; i < count; i++) {
        const env = envs[i];
        const step = env.step(actions[i]);
        if (record(result, i, step)) {
          result.finalObs[i] = step.obs;
          place(result.obs, i, env.reset().obs);
        } else {
          place(result.obs, i, step.obs);
        }
      }
      if (!trusted) checkFiniteStep(result);
      return result;
    },
    snapshots: snapshotEnvs !== null,
    saveState() {
      const copies = requireSnapshots("save");
      return {
        kind: "vector",
        env: first.name,
        count,
        started,
        episodeReturns: Array.from(returns, encodeFloat),
        episodeLengths: Array.from(lengths),
        envs: copies.map((env) => env.saveState()),
      };
    },
    loadState(state) {
      const copies = requireSnapshots("load");
      const root = new StateReader("vector env", state);
      const kind = root.get("kind");
      if (kind.value !== "vector") kind.fail(`"vector" (a state saved by VectorEnv.saveState)`);
      if (root.get("env").value !== first.name) root.get("env").fail(`${JSON.stringify(first.name)}, the name of this vector env's copies`);
      const savedCount = root.get("count");
      if (savedCount.value !== count) savedCount.fail(`${count}, this vector env's number of copies`);
      const wasStarted = root.get("started").boolean();
      const savedReturns = root.get("episodeReturns").floats(count, { finite: false });
      const savedLengths = root.get("episodeLengths").integers(count, 0, 2 ** 31 - 1);
      const states = root
        .get("envs")
        .items(count)
        .map((item) => item.value as EnvState);
      loadCopies(copies, states);
      returns.set(savedReturns);
      lengths.set(savedLengths);
      started = wasStarted;
    },
  };

  /**
   * A NaN or infinite value from a user's env would poison the learner silently (everything it
   * touches turns NaN); it is stopped where the env and the copy can still be named.
   */
  function checkFinite(obs: Float32Array, i: number, what: string, when: string): void {
    for (let k = i * size, end = k + size; k < end; k++) {
      if (Number.isFinite(obs[k])) continue;
      throw new StaqInputError(
        `${envs[i].name} (copy ${i} of the vector env) returned ${obs[k] !== obs[k] ? "a NaN" : "an infinite"} ${what} ${when} (value ${k - i * size} is ${obs[k]}); staq needs finite numbers: fix the environment`,
      );
    }
  }

  /** One step's rewards and observations (final ones included), all finite. */
  function checkFiniteStep(result: VectorStep): void {
    for (let i = 0; i < count; i++) {
      const ended = result.finalObs[i];
      const at = `at step ${ended ? result.episodeLengths[i] : lengths[i]} of its episode`;
      const reward = result.rewards[i];
      if (!Number.isFinite(reward))
        throw new StaqInputError(
          `${envs[i].name} (copy ${i} of the vector env) returned ${reward !== reward ? "a NaN" : "an infinite"} reward ${at}; staq needs finite numbers: fix the environment`,
        );
      if (ended) {
        // The final observation alone, as copy 0 of a batch of one.
        const named = envs[i].name;
        for (let k = 0; k < size; k++)
          if (!Number.isFinite(ended[k]))
            throw new StaqInputError(
              `${named} (copy ${i} of the vector env) returned ${ended[k] !== ended[k] ? "a NaN" : "an infinite"} observation ${at} (value ${k} is ${ended[k]}); staq needs finite numbers: fix the environment`,
            );
      }
      checkFinite(result.obs, i, "observation", ended ? "on its automatic reset" : at);
    }
  }

  /** The copies as SnapshotEnvs, or a StaqInputError naming the first that is not one. */
  function requireSnapshots(verb: "save" | "load"): (Env & SnapshotEnv)[] {
    if (snapshotEnvs) return snapshotEnvs;
    const i = envs.findIndex((env) => !savesState(env));
    throw new StaqInputError(
      `cannot ${verb} the vector env's state: copy ${i} (${envs[i].name}) has no saveState/loadState; implement SnapshotEnv on it (VectorEnv.snapshots says whether every copy does)`,
    );
  }

  /**
   * Loads states[i] into copy i. Each copy validates its state before changing, but a later copy
   * may still refuse its own, so the copies already loaded are put back: a refused load changes nothing.
   */
  function loadCopies(copies: (Env & SnapshotEnv)[], states: EnvState[]): void {
    const before = copies.map((env) => env.saveState());
    for (let i = 0; i < count; i++) {
      try {
        copies[i].loadState(states[i]);
      } catch (error) {
        for (let j = 0; j < i; j++) copies[j].loadState(before[j]);
        if (!(error instanceof StaqInputError)) throw error;
        throw new StaqInputError(`vector env: loadState: copy ${i} of ${count} (state.envs[${i}]): ${error.message}`, { cause: error });
      }
    }
  }

  /**
   * Books copy i's step into `result` and the running return and length; when its episode ended,
   * also the flags, the return and the length, restarts the count and returns true (the caller
   * keeps the final observation and resets the copy).
   */
  function record(result: VectorStep, i: number, step: Omit<StepResult, "obs" | "info">): boolean {
    result.rewards[i] = step.reward;
    returns[i] += step.reward;
    lengths[i]++;
    if (!(step.terminated || step.truncated)) return false;
    result.terminated[i] = step.terminated ? 1 : 0;
    result.truncated[i] = step.truncated ? 1 : 0;
    result.episodeReturns[i] = returns[i];
    result.episodeLengths[i] = lengths[i];
    returns[i] = 0;
    lengths[i] = 0;
    return true;
  }

  /** The step loop for copies that write their observations into the batch themselves. */
  function stepInPlace(writers: (Env & ObservationWriter)[], actions: ArrayLike<number>, result: VectorStep): void {
    for (let i = 0; i < count; i++) {
      const env = writers[i];
      const offset = i * size;
      if (record(result, i, env.stepInto(actions[i], result.obs, offset))) {
        // The final observation is in the batch, where the reset's goes next: move it out first.
        const final = observationSlabs.float32(size);
        final.set(result.obs.subarray(offset, offset + size));
        result.finalObs[i] = final;
        env.resetInto(result.obs, offset);
      }
    }
  }
}
