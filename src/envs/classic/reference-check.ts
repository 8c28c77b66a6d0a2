/**
 * Checks a classic-control port against reference data recorded from upstream Gymnasium
 * (`test/fixtures/reference/<env>.json`, in the format of docs/formats.md, “Reference data”), one
 * step at a time.
 *
 * For every episode and step t the checker puts a fresh environment in the state before the step
 * (`initial_state` for t = 0, else `state[t−1]`), applies `actions[t]` and compares:
 * - `state[t]` (float64) component-wise within |got − expected| ≤ rtol·|expected| + atol, with
 *   rtol = 1e-12 and atol = 1e-15. The relative part absorbs the last-bit differences between
 *   JavaScript's and numpy's `cos`/`sin` after they pass through one step's arithmetic. The absolute
 *   floor is for components that land next to 0 (a velocity changing sign): there the result is a
 *   difference of terms of size ~0.01–10 (CartPole's ẋ + τ·ẍ, Acrobot's θ̇ + dt/6·Σk, MountainCar's
 *   velocity + acceleration), so one ulp of those terms (up to ~1e-15) can exceed 1e-12·|expected|.
 *   On the recorded data the worst component uses 2.3% of this tolerance (Acrobot: θ̇₁ = 0.0061
 *   off by 1.7e-16, one ulp of 1); a formula, constant or operation-order error shows up orders of
 *   magnitude above it, so the floor hides nothing real.
 * - `obs[t]` exactly, as float32 (the reference values are float32 numbers printed exactly). A
 *   last-bit float64 difference flips the float32 rounding only when the value sits within an ulp
 *   of a float32 rounding boundary (odds ~1e-9 per component), so exact comparison is sound here;
 * - `reward[t]` and `terminated[t]` exactly;
 * - `truncated[t]`: the recordings ran under Gymnasium's `TimeLimit` wrapper (CartPole-v1 and
 *   Acrobot-v1: 500 steps; MountainCar-v0: 200), which sets truncated once the episode's step count
 *   reaches the limit (even on a terminating step). The environments here never truncate — staq's
 *   registry adds the time limit as a separate wrapper — so the expected flag is compared with
 *   `got.truncated || t + 1 ≥ maxEpisodeSteps`. The limit defaults from the environment's name and
 *   can be passed explicitly for other recordings.
 * Before the first step, the observation of `initial_state` (as returned by `setState`) is compared
 * with `initial_obs`; a mismatch there is reported with `field: "obs"` and `step: -1`.
 *
 * Single steps, not replays: trig differs from numpy's in the last bit, and over hundreds of steps of
 * a chaotic system (Acrobot) those bits grow; starting every step from the recorded state keeps the
 * comparison at one step's rounding.
 *
 * Portable: no Node imports; the caller reads and parses the file.
 */
import { StaqFormatError, StaqInputError } from "../../errors.ts";
import { array, describe, isObject, nothingToCheck } from "../reference-format.ts";
import { CLASSIC_TIME_LIMITS, type ClassicEnv } from "./classic-env.ts";

export const STATE_RELATIVE_TOLERANCE = 1e-12;
export const STATE_ABSOLUTE_TOLERANCE = 1e-15;

export type ReferenceField = "state" | "obs" | "reward" | "terminated" | "truncated";

export interface ReferenceMismatch {
  /** Index into `episodes`. */
  episode: number;
  /** The step t (0-based); −1 for the observation of `initial_state`. */
  step: number;
  field: ReferenceField;
  /** For state/obs: the first component that differs. */
  index?: number;
  /** The reference value (the whole vector for state/obs). */
  expected: unknown;
  /** The port's value (the whole vector for state/obs). */
  got: unknown;
}

export interface ClassicReferenceReport {
  /** Episodes checked (all of them, or up to and including the one with the mismatch). */
  episodes: number;
  /** Steps checked, the mismatching one included. */
  steps: number;
  /**
   * The largest state errors seen over the checked steps: `relative` = max |got − expected| / |expected|
   * over components with expected ≠ 0, `absolute` = max |got − expected|.
   */
  maxStateError: { relative: number; absolute: number };
  /** The first mismatch; absent when every checked step matched. */
  mismatch?: ReferenceMismatch;
}

export interface ClassicReferenceOptions {
  /** The TimeLimit the reference was recorded under; default from CLASSIC_TIME_LIMITS by name. */
  maxEpisodeSteps?: number;
}

/**
 * Replays a parsed reference file step by step against environments from `make` (called once per
 * episode) and returns counts and the first mismatch. Throws StaqFormatError when the file does not
 * follow the format, StaqInputError when it is for a different environment or no time limit is known.
 */
export function checkClassicReference(
  json: unknown,
  make: () => ClassicEnv,
  options: ClassicReferenceOptions = {},
): ClassicReferenceReport {
  if (!isObject(json)) throw new StaqFormatError(`reference data must be a JSON object with "episodes"; got ${describe(json)}`);
  const episodes = json.episodes;
  if (!Array.isArray(episodes)) {
    throw new StaqFormatError(`reference data needs an "episodes" array (docs/formats.md, “Reference data”); got ${describe(episodes)}`);
  }
  // A file without episodes, or an episode without steps, would pass having checked nothing.
  if (episodes.length === 0) throw nothingToCheck("episodes", "episode");
  const probe = make();
  const name = probe.name;
  if (json.env !== undefined && json.env !== name) {
    throw new StaqInputError(
      `the reference data is for ${String(json.env)} but the environment is ${name}; pass the matching environment or file`,
    );
  }
  const limit = options.maxEpisodeSteps ?? CLASSIC_TIME_LIMITS[name];
  if (limit === undefined) {
    throw new StaqInputError(`no known time limit for ${name}; pass maxEpisodeSteps (the TimeLimit the reference was recorded under)`);
  }
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new StaqInputError(`maxEpisodeSteps must be a positive integer; got ${limit}`);
  }
  const stateLength = probe.getState().length;
  const obsLength = probe.observationShape.reduce((a, b) => a * b, 1);

  const report: ClassicReferenceReport = { episodes: 0, steps: 0, maxStateError: { relative: 0, absolute: 0 } };
  for (let e = 0; e < episodes.length; e++) {
    const where = `episodes[${e}]`;
    const episode = episodes[e];
    if (!isObject(episode)) throw new StaqFormatError(`${where} must be an object; got ${describe(episode)}`);
    const initialState = numberVector(episode.initial_state, stateLength, `${where}.initial_state`);
    const actions = array(episode.actions, `${where}.actions`);
    const n = actions.length;
    if (n === 0) throw new StaqFormatError(`${where} has no actions: record at least one step (docs/formats.md, “Reference data”)`);
    const states = array(episode.state, `${where}.state`, n);
    const observations = array(episode.obs, `${where}.obs`, n);
    const rewards = array(episode.reward, `${where}.reward`, n);
    const terminateds = array(episode.terminated, `${where}.terminated`, n);
    const truncateds = array(episode.truncated, `${where}.truncated`, n);
    report.episodes++;

    const env = make();
    const initialObs = env.setState(initialState);
    if (episode.initial_obs !== undefined) {
      const expected = numberVector(episode.initial_obs, obsLength, `${where}.initial_obs`);
      const index = firstDifference(initialObs, expected);
      if (index >= 0) {
        report.mismatch = { episode: e, step: -1, field: "obs", index, expected, got: Array.from(initialObs) };
        return report;
      }
    }

    let before = initialState;
    for (let t = 0; t < n; t++) {
      const action = actions[t];
      // Checked here, not left to step(): its error would not say which episode and step.
      if (!(typeof action === "number" && Number.isInteger(action) && action >= 0 && action < probe.actionCount)) {
        throw new StaqFormatError(`${where}.actions[${t}] must be an integer in 0..${probe.actionCount - 1}; got ${describe(action)}`);
      }
      const expectedState = numberVector(states[t], stateLength, `${where}.state[${t}]`);
      const expectedObs = numberVector(observations[t], obsLength, `${where}.obs[${t}]`);
      const expectedReward = rewards[t];
      if (typeof expectedReward !== "number") {
        throw new StaqFormatError(`${where}.reward[${t}] must be a number; got ${describe(expectedReward)}`);
      }
      const expectedTerminated = terminateds[t];
      const expectedTruncated = truncateds[t];
      if (typeof expectedTerminated !== "boolean" || typeof expectedTruncated !== "boolean") {
        throw new StaqFormatError(`${where}.terminated[${t}] and .truncated[${t}] must be booleans`);
      }

      env.setState(before);
      const result = env.step(action);
      const state = env.getState();
      report.steps++;

      let stateIndex = -1;
      for (let i = 0; i < stateLength; i++) {
        const diff = Math.abs(state[i] - expectedState[i]);
        const magnitude = Math.abs(expectedState[i]);
        if (!(diff <= STATE_RELATIVE_TOLERANCE * magnitude + STATE_ABSOLUTE_TOLERANCE) && stateIndex < 0) stateIndex = i;
        if (diff > report.maxStateError.absolute) report.maxStateError.absolute = diff;
        if (magnitude > 0 && diff / magnitude > report.maxStateError.relative) report.maxStateError.relative = diff / magnitude;
      }
      const fail = (field: ReferenceField, expected: unknown, got: unknown, index?: number): ClassicReferenceReport => {
        report.mismatch = { episode: e, step: t, field, ...(index === undefined ? {} : { index }), expected, got };
        return report;
      };
      if (stateIndex >= 0) return fail("state", expectedState, Array.from(state), stateIndex);
      const obsIndex = firstDifference(result.obs, expectedObs);
      if (obsIndex >= 0) return fail("obs", expectedObs, Array.from(result.obs), obsIndex);
      if (result.reward !== expectedReward) return fail("reward", expectedReward, result.reward);
      if (result.terminated !== expectedTerminated) return fail("terminated", expectedTerminated, result.terminated);
      const truncated = result.truncated || t + 1 >= limit;
      if (truncated !== expectedTruncated) return fail("truncated", expectedTruncated, truncated);
      before = expectedState;
    }
  }
  return report;
}

/** The first index where the float32 observation differs from the expected values, or −1. */
function firstDifference(got: Float32Array, expected: readonly number[]): number {
  if (got.length !== expected.length) return Math.min(got.length, expected.length);
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return i;
  return -1;
}

function numberVector(value: unknown, length: number, where: string): number[] {
  const values = array(value, where);
  if (values.length !== length || !values.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new StaqFormatError(`${where} must be an array of ${length} finite numbers; got ${describe(value)}`);
  }
  return values as number[];
}
