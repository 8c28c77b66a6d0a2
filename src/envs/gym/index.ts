/**
 * The Gymnasium bridge (Node only): Python environments stepped in batches by a worker process, as
 * VectorEnvs. docs/gym-bridge.md explains its use, protocol, semantics, errors and limits.
 */
export { createGymVectorEnv, gymWorkerScript, type GymVectorEnv, type GymVectorEnvOptions } from "./gym-vector-env.ts";
export { gymEnvSource } from "./gym-env-source.ts";
export { GYM_PREFIX, isGymName, parseGymName, type GymName } from "./gym-name.ts";
export type { GymSpaces } from "./protocol.ts";
