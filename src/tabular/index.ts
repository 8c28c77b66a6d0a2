/**
 * The tabular PMD toolkit: exact, float64 Policy Mirror Descent on MDPs small enough to solve, for
 * checking the theory (and StaQ's finite-memory variants) against the same coefficient functions
 * the GPU stack uses. Pure TypeScript; runs anywhere.
 */
export { createMdp, mdpFromArrays, mdpFromJson, mdpToArrays, validateMdp, ROW_SUM_TOLERANCE, type Mdp, type MdpArrays } from "./mdp.ts";
export { garnetMdp, type GarnetOptions } from "./garnet.ts";
export { riverSwimMdp, type RiverSwimOptions } from "./river-swim.ts";
export { gridworldMdp, GRIDWORLD_ACTIONS, type GridworldOptions, type GridworldMdp } from "./gridworld.ts";
export { createRandomStream, type RandomStream } from "../random/random-stream.ts";
export { solveLinearSystem } from "./linear-solve.ts";
export { softPolicyEvaluation, softStateValues, backupQ, softEvaluationErrorBound } from "./soft-evaluation.ts";
export {
  softValueIteration,
  softPolicyIteration,
  softOptimum,
  softBellman,
  type SoftOptimum,
  type SoftSolveOptions,
} from "./soft-optimal.ts";
export { softmaxPolicy, uniformPolicy, meanEntropy, meanKl, policyDistance, logPolicyDistance } from "./policy-math.ts";
export {
  tabularPmd,
  tauAt,
  weightedSum,
  TABULAR_PMD_VARIANTS,
  type TabularPmdOptions,
  type TabularPmdResult,
  type TabularPmdStep,
  type TabularPmdVariant,
  type TauSchedule,
} from "./pmd.ts";
export { pmdLinearRate, exactPmdBounds, correctedMemoryThreshold } from "./convergence-bounds.ts";
export { tabularStackSpec, tabularSnapshot, oneHotStates } from "./tabular-stack.ts";
