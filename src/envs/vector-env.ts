/**
 * N copies of an environment stepped together, with batched arrays in and out: the way the agent
 * acts (one stack evaluation for all N states). Copies reset themselves when their episode ends
 * ("same-step" auto-reset): the returned observation is the new episode's first one, and the last
 * observation of the finished episode is kept in `finalObs`, so a learner can still bootstrap from
 * it when the episode was truncated rather than terminated.
 */
import { StaqInputError } from "../errors.ts";
import { observationSize, type Env } from "./env.ts";
import { validateSeed } from "../random/random-stream.ts";

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

export interface VectorEnv {
  readonly count: number;
  readonly envs: readonly Env[];
  readonly observationShape: readonly number[];
  readonly observationSize: number;
  readonly actionCount: number;
  /** Resets every copy; with a seed, copy i is seeded with seed + i (Gymnasium's convention). */
  reset(options?: { seed?: number }): Float32Array;
  /** One action per copy. */
  step(actions: ArrayLike<number>): VectorStep;
}

/** N copies from `make` (called N times; each copy must be an independent environment). */
export function createVectorEnv(make: () => Env, count: number): VectorEnv {
  if (!(Number.isInteger(count) && count >= 1)) throw new StaqInputError(`a vector env needs an integer number of copies >= 1; got ${count}`);
  const envs = Array.from({ length: count }, make);
  if (new Set(envs).size !== count) throw new StaqInputError("make() returned the same environment object twice; it must build a new copy on every call");
  const first = envs[0];
  const size = observationSize(first);
  for (const env of envs) {
    if (env.actionCount !== first.actionCount || observationSize(env) !== size) {
      throw new StaqInputError(`every copy must have the same observation shape and action count; got ${env.name} with [${env.observationShape}] and ${env.actionCount} actions vs [${first.observationShape}] and ${first.actionCount}`);
    }
  }
  const returns = new Float64Array(count);
  const lengths = new Int32Array(count);
  let started = false;

  const place = (target: Float32Array, i: number, obs: Float32Array) => {
    if (obs.length !== size) throw new StaqInputError(`${envs[i].name} returned an observation of ${obs.length} values; its shape [${first.observationShape}] says ${size}`);
    target.set(obs, i * size);
  };

  return {
    count,
    envs,
    observationShape: first.observationShape,
    observationSize: size,
    actionCount: first.actionCount,
    reset(options = {}) {
      if (options.seed !== undefined) validateSeed(options.seed);
      const obs = new Float32Array(count * size);
      envs.forEach((env, i) => place(obs, i, env.reset(options.seed === undefined ? {} : { seed: options.seed + i }).obs));
      returns.fill(0);
      lengths.fill(0);
      started = true;
      return obs;
    },
    step(actions) {
      if (!started) throw new StaqInputError("call reset() before the first step()");
      if (actions.length !== count) throw new StaqInputError(`step() needs one action per copy: ${count}; got ${actions.length}`);
      const result: VectorStep = {
        obs: new Float32Array(count * size),
        rewards: new Float64Array(count),
        terminated: new Uint8Array(count),
        truncated: new Uint8Array(count),
        finalObs: new Array<Float32Array | null>(count).fill(null),
        episodeReturns: new Float64Array(count).fill(NaN),
        episodeLengths: new Int32Array(count),
      };
      envs.forEach((env, i) => {
        const step = env.step(actions[i]);
        result.rewards[i] = step.reward;
        returns[i] += step.reward;
        lengths[i]++;
        if (step.terminated || step.truncated) {
          result.terminated[i] = step.terminated ? 1 : 0;
          result.truncated[i] = step.truncated ? 1 : 0;
          result.finalObs[i] = step.obs;
          result.episodeReturns[i] = returns[i];
          result.episodeLengths[i] = lengths[i];
          returns[i] = 0;
          lengths[i] = 0;
          place(result.obs, i, env.reset().obs);
        } else {
          place(result.obs, i, step.obs);
        }
      });
      return result;
    },
  };
}
