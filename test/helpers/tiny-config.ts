/**
 * A StaQ config small enough that an iteration of 32 steps takes well under a second on lavapipe:
 * for tests of the agent's and the CLI's machinery (logs, checkpoints, resume, sweeps), not of
 * learning. totalSteps (96) is three iterations.
 */
export const TINY_CONFIG = {
  numEnvs: 2,
  stepsPerIteration: 32,
  totalSteps: 96,
  replayCapacity: 128,
  gradientSteps: 8,
  batchSize: 8,
  memory: 2,
  hidden: [8],
  evalEvery: 32,
  evalEpisodes: 2,
};
