/**
 * A `gym:<id>` name as the agent's environment: a VectorEnvSource whose vector envs are Gymnasium
 * bridges (Node only, so the Node build's StaQ makes it; the portable core never imports this).
 * The config's timeLimit, when set, becomes the worker's step limit (Gymnasium's max_episode_steps).
 */
import type { VectorEnvSource } from "../../agent/env-factory.ts";
import { createGymVectorEnv, type GymVectorEnvOptions } from "./gym-vector-env.ts";
import { parseGymName } from "./gym-name.ts";

export function gymEnvSource(name: string, options: Omit<GymVectorEnvOptions, "maxEpisodeSteps"> = {}): VectorEnvSource {
  parseGymName(name); // a malformed name fails here, before any worker starts
  return {
    name,
    makeVector: (count, timeLimit) =>
      createGymVectorEnv(name, count, { ...options, ...(timeLimit > 0 ? { maxEpisodeSteps: timeLimit } : {}) }),
  };
}
