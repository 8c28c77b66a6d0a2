/**
 * An agent's environment: a registered name, the caller's own constructor, or a source of vector
 * envs only (a Python environment through the Gymnasium bridge, whose copies live in a worker
 * process and step only together), time-limited as the config's `timeLimit` says.
 */
import type { Env } from "../envs/env.ts";
import { makeEnv } from "../envs/registry.ts";
import { withTimeLimit } from "../envs/time-limit.ts";
import { createVectorEnv, type VectorEnv } from "../envs/vector-env.ts";
import { StaqInputError } from "../errors.ts";

/**
 * An environment that exists only as N copies stepped together. The Node build's StaQ turns a
 * `gym:<id>` name into one (src/envs/gym/); the portable core has no Python to run it.
 */
export interface VectorEnvSource {
  /** The name the agent, its metrics and its checkpoints use (e.g. "gym:CartPole-v1"). */
  readonly name: string;
  /** `count` copies stepping together, with step limit `timeLimit` (0: the environment's own); `close()` releases them. */
  makeVector(count: number, timeLimit: number): VectorEnv;
}

/** A registered environment's name (see `staq envs`), a function that builds a new copy of yours, or a VectorEnvSource. */
export type EnvSource = string | (() => Env) | VectorEnvSource;

export interface EnvFactory {
  envName: string;
  /** N copies stepping together (close them with `close?.()` when done). */
  makeVector: (count: number) => VectorEnv;
  /** One new copy; absent for a VectorEnvSource, whose copies never step alone. */
  makeCopy?: () => Env;
}

function isVectorEnvSource(env: unknown): env is VectorEnvSource {
  return typeof env === "object" && env !== null && typeof (env as VectorEnvSource).makeVector === "function";
}

/** How to make copies of the environment, with the config's `timeLimit` (0: the environment's own). */
export function envFactory(env: EnvSource, timeLimit: number): EnvFactory {
  if (isVectorEnvSource(env)) {
    if (typeof env.name !== "string" || !env.name) throw new StaqInputError("a VectorEnvSource needs a non-empty name");
    return { envName: env.name, makeVector: (count) => env.makeVector(count, timeLimit) };
  }
  if (typeof env === "string") {
    const options = timeLimit > 0 ? { maxEpisodeSteps: timeLimit } : {};
    makeEnv(env, options); // fails early, with the list of names, when there is no such environment
    const makeCopy = () => makeEnv(env, options);
    return { makeCopy, makeVector: (count) => createVectorEnv(makeCopy, count), envName: env };
  }
  if (typeof env !== "function") {
    throw new StaqInputError(
      'env must be a registered name (see `staq envs`), a function that builds a new copy of your environment, e.g. env: () => new MyEnv(), or in Node a Gymnasium env as "gym:<id>"',
    );
  }
  const makeCopy = timeLimit > 0 ? () => withTimeLimit(env(), timeLimit) : env;
  return { makeCopy, makeVector: (count) => createVectorEnv(makeCopy, count), envName: env().name };
}

/**
 * The saved states of what an agent's env source made, from the agent's saved environment state:
 * its vector env's copies, less the time limit the agent wraps each in when the config's
 * `timeLimit` is > 0 (envFactory). Undefined where the state is not laid out so. A wrapper of the
 * run's own stays: only the run's env function can make it again.
 */
export function sourceEnvStates(envState: unknown, timeLimit: number): unknown[] | undefined {
  const vector = envState as { kind?: unknown; envs?: unknown } | null;
  if (vector === null || typeof vector !== "object" || vector.kind !== "vector" || !Array.isArray(vector.envs)) return undefined;
  if (timeLimit === 0) return vector.envs;
  const inner = vector.envs.map((copy: { kind?: unknown; inner?: unknown } | null) =>
    copy !== null && typeof copy === "object" && copy.kind === "time-limit" ? copy.inner : undefined,
  );
  return inner.includes(undefined) ? undefined : inner;
}
