/**
 * Gymnasium's TimeLimit: truncates an episode after `maxEpisodeSteps` steps. As upstream,
 * `truncated` is true at the limit even when the last step also terminated, and the count restarts
 * at every reset.
 *
 * When the inner environment implements SnapshotEnv, so does the limited one: its state is the
 * inner state plus the steps taken, so a restored episode is truncated on the same step.
 */
import { StaqInputError } from "../errors.ts";
import {
  savesState,
  writesObservations,
  type Env,
  type EnvState,
  type ObservationWriter,
  type ResetResult,
  type SnapshotEnv,
  type StepResult,
} from "./env.ts";
import { openState } from "./state-reader.ts";
import { finiteByConstruction, markFinite } from "./finite-envs.ts";
import { describeValue } from "../io/describe-value.ts";

export interface TimeLimitedEnv extends Env {
  readonly maxEpisodeSteps: number;
  /** Steps taken since the last reset. */
  readonly elapsedSteps: number;
  /** The environment inside the limit. */
  readonly inner: Env;
}

export function withTimeLimit(env: Env, maxEpisodeSteps: number): TimeLimitedEnv {
  if (!(Number.isInteger(maxEpisodeSteps) && maxEpisodeSteps >= 1)) {
    throw new StaqInputError(
      `${env.name}: maxEpisodeSteps must be an integer >= 1 (or null for no limit); got ${describeValue(maxEpisodeSteps)}`,
    );
  }
  let elapsed = 0;
  const limited: TimeLimitedEnv = {
    name: env.name,
    observationShape: env.observationShape,
    actionCount: env.actionCount,
    maxEpisodeSteps,
    ...(env.maxSeed === undefined ? {} : { maxSeed: env.maxSeed }),
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
  // A limit adds no values of its own: it is as finite as what it wraps.
  if (finiteByConstruction(env)) markFinite(limited);
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
    Object.assign(limited, writer);
  }
  if (savesState(env)) {
    const snapshots: SnapshotEnv = {
      saveState() {
        return { env: env.name, kind: "time-limit", maxEpisodeSteps, elapsedSteps: elapsed, inner: env.saveState() };
      },
      loadState(state: EnvState) {
        const root = openState(env.name, state, "time-limit");
        // A limit other than the one saved under would truncate the restored episode on another step.
        const savedLimit = root.get("maxEpisodeSteps");
        if (savedLimit.value !== maxEpisodeSteps)
          savedLimit.fail(
            `${maxEpisodeSteps}, this environment's step limit (a state saved under another limit would truncate on another step)`,
          );
        // Steps go on past the limit when the caller keeps stepping a truncated episode.
        const elapsedSteps = root.get("elapsedSteps").integer(0, Number.MAX_SAFE_INTEGER);
        loadInner(env, root.get("inner").value);
        elapsed = elapsedSteps;
      },
    };
    Object.assign(limited, snapshots);
  }
  return limited;
}

/** The inner environment's loadState, its errors saying they are about the state inside the limit. */
function loadInner(env: Env & SnapshotEnv, state: unknown): void {
  try {
    env.loadState(state as EnvState);
  } catch (error) {
    if (!(error instanceof StaqInputError)) throw error;
    throw new StaqInputError(`${error.message} (in state.inner, the state of the environment inside the time limit)`, { cause: error });
  }
}
