/**
 * Environments: the Gymnasium-style interface, the time limit, the batched vector env, the
 * registry, the classic-control ports and numpy's RandomState. (MinAtar, GPL-3.0, lives on its own
 * subpath, `staq/envs/minatar`.)
 */
export { observationSize, type Env, type ResetResult, type StepResult } from "./env.ts";
export { withTimeLimit, type TimeLimitedEnv } from "./time-limit.ts";
export { createVectorEnv, writesObservations, type ObservationWriter, type VectorEnv, type VectorStep } from "./vector-env.ts";
export { makeEnv, registerEnv, registeredEnvs, type EnvRegistration } from "./registry.ts";
export { CartPoleEnv } from "./classic/cartpole.ts";
export { AcrobotEnv } from "./classic/acrobot.ts";
export { MountainCarEnv } from "./classic/mountain-car.ts";
export { checkClassicReference, CLASSIC_TIME_LIMITS, type ClassicEnv, type ClassicReferenceReport, type ReferenceMismatch } from "./classic/reference-check.ts";
export { RandomState, type RandomStateSnapshot } from "./random-state.ts";
export { checkRandomStateReference, type RandomStateReferenceReport, type RandomStateMismatch } from "./random-state-check.ts";
