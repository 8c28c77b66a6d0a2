/**
 * An agent's environment: a registered name or the caller's own constructor, time-limited as the
 * config's `timeLimit` says.
 */
import type { Env } from "../envs/env.ts";
import { makeEnv } from "../envs/registry.ts";
import { withTimeLimit } from "../envs/time-limit.ts";
import { StaqInputError } from "../errors.ts";

/** A registered environment's name (see `staq envs`), or a function that builds a new copy of yours. */
export type EnvSource = string | (() => Env);

/** How to make a copy of the environment, with the config's `timeLimit` (0: the environment's own). */
export function envFactory(env: EnvSource, timeLimit: number): { makeCopy: () => Env; envName: string } {
  if (typeof env === "string") {
    const options = timeLimit > 0 ? { maxEpisodeSteps: timeLimit } : {};
    makeEnv(env, options); // fails early, with the list of names, when there is no such environment
    return { makeCopy: () => makeEnv(env, options), envName: env };
  }
  if (typeof env !== "function") {
    throw new StaqInputError(
      "env must be a registered name (see `staq envs`) or a function that builds a new copy of your environment, e.g. env: () => new MyEnv()",
    );
  }
  return { makeCopy: timeLimit > 0 ? () => withTimeLimit(env(), timeLimit) : env, envName: env().name };
}
