/**
 * staq — the portable core. Runs unchanged in Node and in a browser: it takes a WebGPU device
 * (from `createGpu`) and never touches Dawn, `node:` modules or files. In Node, `import "staq"`
 * resolves to ./node/index.ts, which adds Dawn device creation and file I/O.
 */
export { StaqError, StaqInputError, StaqFormatError, StaqGpuError } from "./errors.ts";
export { parseDecimal, parseInteger, parseWholeNumber } from "./io/decimal.ts";
export { createGpu, wrapDevice, type Gpu, type GpuInfo, type GpuOptions, type GpuFeatures, type GpuLimits } from "./gpu/gpu.ts";
export { injectConstants, injectableConstants, type ShaderConstants } from "./gpu/shader-template.ts";
export {
  pmdStep,
  pmdCoefficients,
  pmdRates,
  pmdCorrection,
  type PmdStepOptions,
  type PmdCoefficients,
  type PmdVariant,
  type PmdNormalization,
} from "./pmd/coefficients.ts";
export {
  layerShapes,
  parameterCount,
  randomMlpWeights,
  validateMlpWeights,
  type MlpSpec,
  type MlpWeights,
  type DenseLayer,
} from "./stack/mlp.ts";
export { createStack, type Stack, type StackOptions, type PmdSettings, type PushPreview } from "./stack/stack.ts";
export { incrementalSumUpdate, incrementalSumUpdateF32, pushErrorBound, type IncrementalPush } from "./stack/incremental-sums.ts";
export { stackLogits, encodeStackLogits, type StackLogitsIO } from "./stack/stack-logits.ts";
export { StaqStackChangedError } from "./stack/stack-evaluator.ts";
export { stackLogitsReference, mlpReference, type StackReference, type StackContents } from "./stack/reference.ts";
export { snapshotContributions, type SnapshotContributions } from "./stack/contributions.ts";
export { encodeSafetensors, decodeSafetensors, type Float32Tensor, type DecodedSafetensors, type TensorInput } from "./io/safetensors.ts";
export {
  stackToSafetensors,
  stackFromSafetensors,
  stackFromContents,
  readStackFile,
  STACK_FORMAT,
  type LoadStackOptions,
  type StackFileContents,
} from "./io/stack-file.ts";
export {
  encodePolicy,
  policyFromLogits,
  type EncodePolicyOptions,
  type PolicyOutputBuffers,
  type PolicyResult,
  type PolicySampling,
} from "./policy/policy.ts";
export { policyReference, policyErrorBounds, type PolicyReference, type PolicyErrorBounds } from "./policy/reference.ts";
export { philox4x32, uniformFromPhilox, policyUniform } from "./random/philox.ts";
export * from "./tabular/index.ts";
export * from "./envs/index.ts";
export {
  createMlpTrainer,
  type MlpTrainer,
  type MlpTrainerOptions,
  type MlpTrainerState,
  type TrainingBatch,
} from "./train/mlp-trainer.ts";
export { type TrainerPieces } from "./train/trainer-pieces.ts";
export { encodeSteps, STEPS_PER_SUBMIT, type StepPiece, type StepPosition } from "./train/gradient-step.ts";
export {
  createReplayBuffer,
  type ReplayBuffer,
  type ReplayBufferOptions,
  type Transitions,
  type ReplayContents,
  type AddOptions,
  type PrecomputeOptions,
} from "./train/replay-buffer.ts";
export { type NextLogits } from "./train/replay-sums.ts";
export {
  createSoftQFit,
  fitSoftQ,
  type SoftQFit,
  type SoftQFitOptions,
  type FitSoftQOptions,
  type SoftQFitSummary,
  type TargetUpdate,
} from "./train/soft-q-fit.ts";
export { pushSnapshot, type PushSnapshotOptions } from "./train/push-snapshot.ts";
export { initialQNetwork, initialQNetworks } from "./train/initialisation.ts";
export { minibatchIndices, permuteIndex } from "./train/minibatch-sampling.ts";
export {
  softBellmanTarget,
  nextActionFromProbs,
  maxTarget,
  munchausenTarget,
  MUNCHAUSEN_DEFAULTS,
  type SoftBellmanSettings,
  type NextActionMode,
  type TargetRule,
} from "./train/targets-reference.ts";
export * as trainReference from "./train/reference.ts";
export {
  readNetworkFile,
  networkToSafetensors,
  parseTrainingBatchJson,
  NETWORK_FORMAT,
  type NetworkFileContents,
  type TrainingBatchFile,
} from "./io/network-file.ts";
export { createActor, type Actor, type ActorOptions, type ActOptions } from "./policy/actor.ts";
export {
  StaQ,
  type StaQOptions,
  type LearnOptions,
  type LearnResult,
  type EnvSource,
  type VectorEnvSource,
  type RestoreOptions,
} from "./agent/staq-agent.ts";
export { TrainedPolicy } from "./agent/trained-policy.ts";
export { StaqDivergenceError, type DivergenceDetails } from "./agent/divergence.ts";
export {
  resolveConfig,
  parseFieldValue,
  wholeIterationSteps,
  CONFIG_FIELDS,
  ALGOS,
  type Algo,
  type StaqConfig,
  type ConfigField,
} from "./agent/config.ts";
export {
  PRESETS,
  PAPER_CLASSIC,
  PAPER_MINATAR,
  QUICK,
  DQN_QUICK,
  DQN_CLEANRL,
  DQN_MINATAR,
  presetConfig,
  presetName,
  defaultPreset,
  type PresetName,
} from "./agent/presets.ts";
export { linearEpsilon, type LinearEpsilon } from "./policy/epsilon-schedule.ts";
export { smoothnessTrainerBatch, SMOOTHNESS_DEFAULTS, type SmoothnessOptions } from "./train/soft-q-fit.ts";
export { createMdpoPolicyFit, type MdpoPolicyFit, type MdpoPolicyFitOptions } from "./train/mdpo-policy-fit.ts";
export { mdpoLoss, mdpoMinimiser } from "./train/mdpo-reference.ts";
export { type BehaviourKind } from "./policy/reference.ts";
export * from "./analysis/stability.ts";
export { bootstrapMeanInterval, type MeanInterval } from "./analysis/bootstrap.ts";
export { tauAt, type TauSchedule } from "./agent/tau-schedule.ts";
export { policyChange, type PolicyChange } from "./agent/policy-change.ts";
export { TIMING_KEYS, type IterationMetrics, type EvaluationMetrics } from "./agent/metrics.ts";
export {
  encodeCheckpoint,
  decodeCheckpoint,
  decodeCheckpointPolicy,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FILES,
  POLICY_FILES,
  type CheckpointFiles,
  type AgentCounters,
  type DecodedPolicy,
} from "./agent/checkpoint.ts";
