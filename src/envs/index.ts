/**
 * Environments: the Gymnasium-style interface, the time limit, the batched vector env, the
 * registry, the classic-control ports, LunarLander (Box2D on planck), numpy's RandomState and
 * default generator (PCG64), and the saving and restoring of an environment's complete state
 * (SnapshotEnv) for checkpoints. (MinAtar, GPL-3.0, lives on its own subpath, `staq/envs/minatar`.)
 */
export {
  observationSize,
  savesState,
  writesObservations,
  type Env,
  type ResetResult,
  type StepResult,
  type SnapshotEnv,
  type ObservationWriter,
  type EnvState,
  type JsonValue,
  type JsonObject,
} from "./env.ts";
export { StateReader, openState, encodeFloat, type JsonFloat } from "./state-reader.ts";
export { withTimeLimit, type TimeLimitedEnv } from "./time-limit.ts";
export { createVectorEnv, type VectorEnv, type VectorEnvState, type VectorStep } from "./vector-env.ts";
export { makeEnv, registerEnv, registeredEnvs, type EnvRegistration } from "./registry.ts";
export { CartPoleEnv } from "./classic/cartpole.ts";
export { AcrobotEnv } from "./classic/acrobot.ts";
export { MountainCarEnv } from "./classic/mountain-car.ts";
export { CLASSIC_TIME_LIMITS, type ClassicEnv } from "./classic/classic-env.ts";
export { checkClassicReference, type ClassicReferenceReport, type ReferenceMismatch } from "./classic/reference-check.ts";
export { LunarLanderEnv, LUNAR_LANDER_TIME_LIMIT } from "./box2d/lunar-lander.ts";
export { lunarLanderHeuristic } from "./box2d/lunar-lander-heuristic.ts";
export { RandomState, type RandomStateSnapshot } from "./random-state.ts";
export { Pcg64Generator, type Pcg64State, type Pcg64Seed } from "../random/pcg64.ts";
export { checkRandomStateReference, type RandomStateReferenceReport, type RandomStateMismatch } from "./random-state-check.ts";
