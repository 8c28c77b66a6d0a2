/**
 * staq for Node: everything in the portable core, with `createGpu` backed by Dawn's Node bindings
 * (npm `webgpu`) and the Node-only helpers (driver set-up, files on disk).
 */
export * from "../index.ts";
export { createGpu, dawnFlags } from "./create-gpu.ts";
export { ensureAdapter, probeAdapter, describeAdapter } from "./ensure-adapter.ts";
export { saveStack, loadStack } from "./stack-files.ts";
// The agent with Dawn as its default device and checkpoints on disk (save / load); it takes the
// place of the portable core's StaQ.
export { StaQ, readCheckpoint, readCheckpointPolicy, type CheckpointOnDisk } from "./staq.ts";
export { writeDirectoryAtomically, readCheckpointDirectory } from "./checkpoint-directory.ts";
// Python environments (Gymnasium's, or yours) stepped in batches by a worker process.
export {
  createGymVectorEnv,
  gymEnvSource,
  gymWorkerScript,
  isGymName,
  parseGymName,
  type GymVectorEnv,
  type GymVectorEnvOptions,
  type GymSpaces,
  type GymName,
} from "../envs/gym/index.ts";
export {
  renderLineChartSvg,
  ensurePlotting,
  PlottingUnavailableError,
  type LineSeries,
  type LineChartOptions,
} from "../plot/line-chart.ts";
