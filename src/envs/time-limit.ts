/**
 * Gymnasium's TimeLimit: truncates an episode after `maxEpisodeSteps` steps. As upstream,
 * `truncated` is true at the limit even when the last step also terminated, and the count restarts
 * at every reset.
 */
import { StaqInputError } from "../errors.ts";
import type { Env, ResetResult, StepResult } from "./env.ts";
import { writesObservations, type ObservationWriter } from "./vector-env.ts";

export interface TimeLimitedEnv extends Env {
  readonly maxEpisodeSteps: number;
  /** Steps taken since the last reset. */
  readonly elapsedSteps: number;
  /** The environment inside the limit. */
  readonly inner: Env;
}

export function withTimeLimit(env: Env, maxEpisodeSteps: number): TimeLimitedEnv {
  if (!(Number.isInteger(maxEpisodeSteps) && maxEpisodeSteps >= 1)) {
    throw new StaqInputError(`maxEpisodeSteps must be an integer >= 1; got ${maxEpisodeSteps}`);
  }
  let elapsed = 0;
  const limited: TimeLimitedEnv = {
    name: env.name,
    observationShape: env.observationShape,
    actionCount: env.actionCount,
    maxEpisodeSteps,
    inner: env,
    get elapsedSteps() {
      return elapsed;
    },
    reset(options?: { seed?: number }): ResetResult {
      elapsed = 0;
      return env.reset(options);
    },
    step(action: number): StepResult {
      const result = env.step(action);
      elapsed++;
      return elapsed >= maxEpisodeSteps ? { ...result, truncated: true } : result;
    },
  };
  // Keep the inner environment's in-place path for vector envs, under the same limit.
  if (writesObservations(env)) {
    const writer: ObservationWriter = {
      stepInto(action, out, offset) {
        const result = env.stepInto(action, out, offset);
        elapsed++;
        return elapsed >= maxEpisodeSteps ? { ...result, truncated: true } : result;
      },
      resetInto(out, offset) {
        elapsed = 0;
        env.resetInto(out, offset);
      },
    };
    return Object.assign(limited, writer);
  }
  return limited;
}
