/**
 * The StaQ agent's configuration: one flat, typed object, and one table that says, for every field,
 * its kind, its valid range and what it means. The table drives everything that reads a config —
 * validation of API objects and of config.json files, the `staq train` flags (`--batch-size 64` for
 * `batchSize`), and their help — so a field cannot be valid in one place and rejected in another.
 */
import { StaqInputError } from "../errors.ts";
import { parseDecimal } from "../io/decimal.ts";
import { float32Problem } from "../io/float32-range.ts";

export interface StaqConfig {
  /**
   * The algorithm: StaQ, or a baseline trained on the same environments, replay buffer, trainer
   * kernels and logs (docs/baselines.md): DQN (max backup, ε-greedy), M-DQN (Munchausen term and
   * soft backup, ε-greedy) or MDPO (a policy network fitted by gradient steps to StaQ's PMD step).
   * A baseline's acting network is a one-snapshot stack (memory and variant do not apply): the
   * online Q-network for DQN and M-DQN, the policy network for MDPO.
   */
  algo: Algo;
  /** Seed of everything random: weights, actions, minibatches, environment resets. */
  seed: number;
  /** Environment copies stepped together (one stack evaluation acts for all of them). */
  numEnvs: number;
  /** Environment steps collected per iteration (a multiple of numEnvs). */
  stepsPerIteration: number;
  /** Environment steps of a whole run, the default of `learn({ steps })`. */
  totalSteps: number;
  /** Transitions the FIFO replay buffer keeps. */
  replayCapacity: number;
  /** K, gradient steps of policy evaluation per iteration. */
  gradientSteps: number;
  batchSize: number;
  /** Adam's learning rate. */
  lr: number;
  /** Adam's epsilon. */
  adamEps: number;
  /** Global gradient-norm clipping (0: none). */
  maxGradNorm: number;
  loss: "mse" | "huber";
  /** Gradient steps between hard copies of the online networks into the target networks. */
  targetUpdateEvery: number;
  /** How a' enters the soft-Bellman target: a sample of π_k (the authors') or the expectation. */
  nextAction: "sample" | "expectation";
  /** c_r, the reward scale of the targets. */
  rewardScale: number;
  gamma: number;
  /** M, the snapshots kept in the stack. */
  memory: number;
  /** η, the KL weight of the mirror-descent step. */
  eta: number;
  /** τ at the start, in units of 1/ln|A| (τ = tauStart / ln|A|). */
  tauStart: number;
  /** τ at the end of the annealing, in units of 1/ln|A|. */
  tauEnd: number;
  /** Environment steps over which τ goes linearly from tauStart to tauEnd (0: constant tauEnd). */
  tauAnnealSteps: number;
  /**
   * ε of the behaviour policy (ε-softmax for StaQ, ε-greedy for DQN and M-DQN); with
   * epsilonDecaySteps > 0 the value it reaches at the end of the decay.
   */
  epsilon: number;
  /** ε at step 0 when it decays (CleanRL's start_e). */
  epsilonStart: number;
  /** Environment steps over which ε goes linearly from epsilonStart to epsilon (0: epsilon throughout). */
  epsilonDecaySteps: number;
  /** Environment steps collected before the first fit (CleanRL's learning_starts); 0: fit from the first iteration. */
  learningStarts: number;
  /** M-DQN's α, the weight of the Munchausen term (Vieillard et al. 2020: 0.9). */
  munchausenAlpha: number;
  /** M-DQN's τ, the temperature of its softmax policy and entropy term (not scaled by ln|A|; 0.03). */
  munchausenTau: number;
  /** M-DQN's l₀: τ·log π(a|s) is clipped to [l₀, 0] in the Munchausen term (−1). */
  munchausenClip: number;
  /** MDPO: Adam steps of the policy network per iteration, after the critic's fit. */
  policySteps: number;
  /** MDPO: Adam's learning rate for the policy network. */
  policyLr: number;
  /**
   * λ_S of the PAVE-style smoothness penalty on the critic, for any algorithm: λ_S·‖A(s+ε,·) − A(s,·)‖²
   * with A = Q − mean_a Q and ε ~ N(0, σ²) (docs/baselines.md, “Smoothness regulariser”); 0: off.
   */
  smoothnessState: number;
  /** λ_T of the same penalty along stored transitions: λ_T·‖A(s',·) − A(s,·)‖²; 0: off. */
  smoothnessTransition: number;
  /** σ of the state perturbation ε of the smoothness penalty. */
  smoothnessSigma: number;
  /** E, Q-networks (each with its own stack) whose mean is the target and the policy's logits. */
  ensemble: number;
  /**
   * Filters of a 3×3 convolution (stride 1, no padding, ReLU) in front of the hidden layers, 0 for
   * none (an MLP on the flattened observation). Needs an image observation [height, width, channels],
   * as MinAtar's; the StaQ paper's MinAtar network has 16 (src/stack/conv.ts).
   */
  convFilters: number;
  /** Hidden layer widths of the Q-network's dense layers (ReLU), after the conv layer if any. */
  hidden: number[];
  /** The finite-memory variant: weight-corrected (the StaQ paper's) or vanilla. */
  variant: "corrected" | "vanilla";
  /**
   * What a push keeps (src/pmd/coefficients.ts): "exact" finite-memory PMD (M snapshots, each with
   * the α of its own step), or "authors", the StaQ authors' code (M + 1 snapshots, all weighted by
   * the latest step's α), to measure whether the difference matters.
   */
  stackRule: "exact" | "authors";
  /**
   * Episode length limit of the training and evaluation environments (0: the environment's own,
   * e.g. 500 for CartPole-v1, none for MinAtar); an episode cut by it is truncated, not terminated.
   */
  timeLimit: number;
  /** Environment steps between greedy evaluations (0: none). */
  evalEvery: number;
  /** Greedy episodes per evaluation. */
  evalEpisodes: number;
  /**
   * Iterations between full recomputes of the replay buffer's logits (O(M) per row); in between,
   * and always with 0, each push updates them with two snapshot evaluations per row
   * (docs/algorithm.md, “Incremental logits”). 1 recomputes every iteration.
   */
  fullPrecomputeEvery: number;
}

/** The algorithms `algo` chooses between. */
export const ALGOS = ["staq", "dqn", "mdqn", "mdpo"] as const;
export type Algo = (typeof ALGOS)[number];

type FieldKind =
  | { kind: "integer"; min: number; max?: number }
  | { kind: "number"; min: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { kind: "choice"; choices: readonly string[] }
  | { kind: "widths" };

export interface ConfigField {
  key: keyof StaqConfig;
  type: FieldKind;
  help: string;
  /** The algorithms that read the field, where not all do (a baseline's acting network is no stack). */
  algos?: readonly Algo[];
  /**
   * The field fixes the run's shapes or random streams (buffer sizes, networks, the seed), so a
   * restored run cannot change it (`StaQ.restore`'s overrides): only fields without it may.
   */
  fixesRun?: true;
}

const STAQ_ONLY: readonly Algo[] = ["staq"];
/** StaQ and MDPO: the PMD step (η, τ) and the soft target's a'. */
const PMD_ALGOS: readonly Algo[] = ["staq", "mdpo"];

/** Every field, in the order `staq train --help` lists them. */
export const CONFIG_FIELDS: readonly ConfigField[] = [
  {
    key: "algo",
    type: { kind: "choice", choices: ALGOS },
    help: "the algorithm: staq, or the baselines dqn (max backup), mdqn (Munchausen DQN) and mdpo (a policy network fitted to the PMD step)",
    fixesRun: true,
  },
  {
    key: "seed",
    type: { kind: "integer", min: 0, max: 2 ** 32 - 1 },
    help: "seed of everything random (weights, actions, minibatches, resets)",
    fixesRun: true,
  },
  { key: "numEnvs", type: { kind: "integer", min: 1, max: 4096 }, help: "environment copies stepped together", fixesRun: true },
  {
    key: "stepsPerIteration",
    type: { kind: "integer", min: 1 },
    help: "environment steps collected per iteration (a multiple of numEnvs)",
  },
  { key: "totalSteps", type: { kind: "integer", min: 1 }, help: "environment steps of the whole run" },
  { key: "replayCapacity", type: { kind: "integer", min: 1 }, help: "transitions kept in the FIFO replay buffer", fixesRun: true },
  { key: "gradientSteps", type: { kind: "integer", min: 1 }, help: "K, gradient steps of policy evaluation per iteration" },
  { key: "batchSize", type: { kind: "integer", min: 1 }, help: "minibatch size", fixesRun: true },
  { key: "lr", type: { kind: "number", min: 0, minExclusive: true }, help: "Adam's learning rate" },
  { key: "adamEps", type: { kind: "number", min: 0 }, help: "Adam's epsilon" },
  { key: "maxGradNorm", type: { kind: "number", min: 0 }, help: "clip the gradient's global norm to this (0: no clipping)" },
  { key: "loss", type: { kind: "choice", choices: ["mse", "huber"] }, help: "regression loss of policy evaluation" },
  { key: "targetUpdateEvery", type: { kind: "integer", min: 1 }, help: "gradient steps between hard target-network copies" },
  {
    key: "nextAction",
    type: { kind: "choice", choices: ["sample", "expectation"] },
    help: "a' of the target: a sample of pi_k, or the expectation over it",
    algos: PMD_ALGOS,
  },
  { key: "rewardScale", type: { kind: "number", min: 0, minExclusive: true }, help: "c_r, the reward scale of the targets" },
  { key: "gamma", type: { kind: "number", min: 0, max: 1, maxExclusive: true }, help: "discount" },
  { key: "memory", type: { kind: "integer", min: 1 }, help: "M, snapshots kept in the stack", algos: STAQ_ONLY, fixesRun: true },
  {
    key: "eta",
    type: { kind: "number", min: 0, minExclusive: true },
    help: "eta, the KL weight of the mirror-descent step",
    algos: PMD_ALGOS,
  },
  { key: "tauStart", type: { kind: "number", min: 0, minExclusive: true }, help: "initial tau, times 1/ln|A|", algos: PMD_ALGOS },
  { key: "tauEnd", type: { kind: "number", min: 0, minExclusive: true }, help: "final tau, times 1/ln|A|", algos: PMD_ALGOS },
  {
    key: "tauAnnealSteps",
    type: { kind: "integer", min: 0 },
    help: "environment steps of the linear tau annealing (0: tauEnd throughout)",
    algos: PMD_ALGOS,
  },
  {
    key: "epsilon",
    type: { kind: "number", min: 0, max: 1 },
    help: "epsilon of the behaviour policy (epsilon-softmax for staq, epsilon-greedy for dqn, mdqn); the final value when it decays",
  },
  { key: "epsilonStart", type: { kind: "number", min: 0, max: 1 }, help: "epsilon at step 0 when it decays" },
  {
    key: "epsilonDecaySteps",
    type: { kind: "integer", min: 0 },
    help: "environment steps of the linear epsilon decay from epsilonStart to epsilon (0: epsilon throughout)",
  },
  { key: "learningStarts", type: { kind: "integer", min: 0 }, help: "environment steps collected before the first fit (0: none)" },
  { key: "munchausenAlpha", type: { kind: "number", min: 0 }, help: "mdqn: alpha, the weight of the Munchausen term", algos: ["mdqn"] },
  {
    key: "munchausenTau",
    type: { kind: "number", min: 0, minExclusive: true },
    help: "mdqn: tau, the temperature of its softmax policy (not scaled by ln|A|)",
    algos: ["mdqn"],
  },
  {
    key: "munchausenClip",
    type: { kind: "number", min: -1e6, max: 0 },
    help: "mdqn: l0, the lower clip of tau*log pi(a|s)",
    algos: ["mdqn"],
  },
  { key: "policySteps", type: { kind: "integer", min: 1 }, help: "mdpo: Adam steps of the policy network per iteration", algos: ["mdpo"] },
  {
    key: "policyLr",
    type: { kind: "number", min: 0, minExclusive: true },
    help: "mdpo: Adam's learning rate for the policy network",
    algos: ["mdpo"],
  },
  {
    key: "smoothnessState",
    type: { kind: "number", min: 0 },
    help: "lambda_S of the critic's smoothness penalty |A(s+eps) - A(s)|^2 (0: off)",
  },
  {
    key: "smoothnessTransition",
    type: { kind: "number", min: 0 },
    help: "lambda_T of the critic's smoothness penalty |A(s') - A(s)|^2 along transitions (0: off)",
  },
  {
    key: "smoothnessSigma",
    type: { kind: "number", min: 0, minExclusive: true },
    help: "sigma of the state perturbation eps of the smoothness penalty",
  },
  {
    key: "ensemble",
    type: { kind: "integer", min: 1, max: 64 },
    fixesRun: true,
    help: "Q-networks in the ensemble (each with its own stack)",
  },
  {
    key: "convFilters",
    type: { kind: "integer", min: 0, max: 1024 },
    help: "filters of a 3x3 conv layer before the hidden layers (0: none; needs an image observation, e.g. MinAtar)",
    fixesRun: true,
  },
  { key: "hidden", type: { kind: "widths" }, help: "hidden widths of the dense layers, e.g. 64,64", fixesRun: true },
  {
    key: "variant",
    type: { kind: "choice", choices: ["corrected", "vanilla"] },
    help: "finite-memory variant of the stack",
    algos: STAQ_ONLY,
  },
  {
    key: "stackRule",
    type: { kind: "choice", choices: ["exact", "authors"] },
    help: "exact finite-memory PMD, or the StaQ authors' code's rule (M + 1 snapshots, the current alpha on all)",
    algos: STAQ_ONLY,
    fixesRun: true,
  },
  {
    key: "timeLimit",
    type: { kind: "integer", min: 0 },
    help: "episode step limit (0: the environment's own, e.g. 500 for CartPole-v1, none for MinAtar)",
  },
  { key: "evalEvery", type: { kind: "integer", min: 0 }, help: "environment steps between greedy evaluations (0: none)" },
  { key: "evalEpisodes", type: { kind: "integer", min: 1, max: 1000 }, help: "greedy episodes per evaluation" },
  {
    key: "fullPrecomputeEvery",
    type: { kind: "integer", min: 0 },
    help: "iterations between full O(M) recomputes of the replay logits (0: never, only the O(1) update per push)",
    algos: STAQ_ONLY,
  },
];

/**
 * Fields added after checkpoints of format 1 were first written, with the value an older run had
 * in effect (e.g. fullPrecomputeEvery 1: its logits were recomputed in full every iteration). A
 * checkpoint or a sweep's run without one of them is read with this value. A new config field
 * goes here too, with the behaviour staq had before it.
 */
export const LATER_FIELDS: Readonly<Partial<StaqConfig>> = {
  fullPrecomputeEvery: 1,
  convFilters: 0,
  timeLimit: 0,
  // Runs before the baselines were StaQ runs with a constant ε, fitting from the first iteration.
  algo: "staq",
  epsilonStart: 0.05,
  epsilonDecaySteps: 0,
  learningStarts: 0,
  munchausenAlpha: 0.9,
  munchausenTau: 0.03,
  munchausenClip: -1,
  policySteps: 1000,
  policyLr: 1e-3,
  smoothnessState: 0,
  smoothnessTransition: 0,
  smoothnessSigma: 0.01,
  // Runs before the authors' rule was an option kept exact finite memory.
  stackRule: "exact",
};

const FIELDS = new Map(CONFIG_FIELDS.map((field) => [field.key as string, field]));

/** "batchSize" → "batch-size", the field's command-line flag. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
}

/** The range a number field accepts, in words ("> 0", "in [0, 1)"). */
function rangeText(type: Extract<FieldKind, { kind: "integer" | "number" }>): string {
  const open = "minExclusive" in type && type.minExclusive ? "(" : "[";
  if (type.max === undefined) return `${open === "(" ? ">" : ">="} ${type.min}`;
  const close = "maxExclusive" in type && type.maxExclusive ? ")" : "]";
  return `in ${open}${type.min}, ${type.max}${close}`;
}

/** What a field accepts, in words: "an integer >= 1", "one of "mse", "huber"". */
function requirement(type: FieldKind): string {
  switch (type.kind) {
    case "integer":
    case "number":
      return `${type.kind === "integer" ? "an integer" : "a number"} ${rangeText(type)}`;
    case "choice":
      return `one of ${type.choices.map((c) => JSON.stringify(c)).join(", ")}`;
    case "widths":
      return "a non-empty list of integer widths in [1, 4096]";
  }
}

function accepts(type: FieldKind, value: unknown): boolean {
  return inRange(type, value) && !(type.kind === "number" && float32Problem(value as number) !== undefined);
}

/** Whether `value` has the field's type and lies in its range (float32 aside). */
function inRange(type: FieldKind, value: unknown): boolean {
  switch (type.kind) {
    case "integer":
    case "number": {
      if (!(typeof value === "number" && Number.isFinite(value))) return false;
      // Past 2^53 an integer is no longer exact (--steps 9007199254740993 would become …992).
      if (type.kind === "integer" && !Number.isSafeInteger(value)) return false;
      const aboveMin = type.kind === "number" && type.minExclusive ? value > type.min : value >= type.min;
      const belowMax = type.max === undefined || (type.kind === "number" && type.maxExclusive ? value < type.max : value <= type.max);
      return aboveMin && belowMax;
    }
    case "choice":
      return typeof value === "string" && type.choices.includes(value);
    case "widths":
      return Array.isArray(value) && value.length > 0 && value.every((w) => Number.isInteger(w) && w >= 1 && w <= 4096);
  }
}

/** "must be …; got …", or why a value in range is still unusable. */
function refusal(type: FieldKind, value: unknown, shown: string): string {
  if (type.kind === "number" && inRange(type, value)) return `${shown} ${float32Problem(value as number)}`;
  if (type.kind === "integer" && typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return `must be ${requirement(type)} below 2^53 (larger integers are not exact); got ${shown}`;
  }
  return `must be ${requirement(type)}; got ${shown}`;
}

/** Checks one field's value; returns it (a copy for arrays) or throws naming the field as `name`. */
function checkField(field: ConfigField, value: unknown, name: string): unknown {
  if (!accepts(field.type, value)) throw new StaqInputError(`${name} ${refusal(field.type, value, describe(value))}`);
  return Array.isArray(value) ? [...value] : value;
}

/**
 * `base` with `overrides` applied, every field checked: an unknown key, a wrong type or a value out
 * of range is a StaqInputError naming the field. Then the checks that involve several fields.
 */
export function resolveConfig(base: StaqConfig, overrides: Readonly<Record<string, unknown>> = {}, where = ""): StaqConfig {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!FIELDS.has(key)) {
      throw new StaqInputError(
        `unknown config field ${JSON.stringify(where + key)}; the fields are: ${CONFIG_FIELDS.map((f) => f.key).join(", ")}`,
      );
    }
    merged[key] = value;
  }
  for (const field of CONFIG_FIELDS) merged[field.key] = checkField(field, merged[field.key], `config field ${where}${field.key}`);
  const config = merged as unknown as StaqConfig;
  if (config.stepsPerIteration % config.numEnvs !== 0) {
    throw new StaqInputError(
      `config: stepsPerIteration (${config.stepsPerIteration}) must be a multiple of numEnvs (${config.numEnvs}); e.g. ${Math.max(1, Math.round(config.stepsPerIteration / config.numEnvs)) * config.numEnvs}`,
    );
  }
  if (config.replayCapacity < config.stepsPerIteration) {
    throw new StaqInputError(
      `config: replayCapacity (${config.replayCapacity}) must hold at least one iteration's stepsPerIteration (${config.stepsPerIteration})`,
    );
  }
  const firstFit = firstFitStep(config);
  if (config.batchSize > Math.min(firstFit, config.replayCapacity)) {
    throw new StaqInputError(
      `config: batchSize (${config.batchSize}) must not exceed the ${Math.min(firstFit, config.replayCapacity)} transitions stored at the first fit (stepsPerIteration ${config.stepsPerIteration}, learningStarts ${config.learningStarts}, replayCapacity ${config.replayCapacity})`,
    );
  }
  return config;
}

/**
 * Of `keys` (fields a caller set explicitly), those `config.algo` does not read: a value there is
 * recorded but changes nothing, which a caller who set it should hear.
 */
export function unusedFields(
  config: Pick<StaqConfig, "algo">,
  keys: readonly string[],
): { key: keyof StaqConfig; algos: readonly Algo[] }[] {
  return keys.flatMap((key) => {
    const algos = FIELDS.get(key)?.algos;
    return algos && !algos.includes(config.algo) ? [{ key: key as keyof StaqConfig, algos }] : [];
  });
}

/**
 * Parses and checks a command-line value of the field: plain decimals only (src/io/decimal.ts:
 * "0x10", "Infinity" and "" are refused), in the field's range. Errors name `flag`, the option the
 * user typed (`--steps` for totalSteps), and quote the text as given.
 */
export function parseFieldValue(key: keyof StaqConfig, text: string, flag = `--${flagName(key)}`): unknown {
  const field = FIELDS.get(key);
  if (!field) throw new StaqInputError(`unknown config field ${JSON.stringify(key)}`);
  const type = field.type;
  const value = type.kind === "choice" ? text : type.kind === "widths" ? text.split(",").map(parseDecimal) : parseDecimal(text);
  if (!accepts(type, value)) throw new StaqInputError(`${flag} ${refusal(type, value, JSON.stringify(text))}`);
  return value;
}

/** The environment step after which the first fit runs: the end of the first iteration at or past learningStarts. */
export function firstFitStep(config: Pick<StaqConfig, "learningStarts" | "stepsPerIteration">): number {
  return wholeIterationSteps(Math.max(config.learningStarts, 1), config.stepsPerIteration);
}

/**
 * The environment steps `steps` amounts to: a run trains whole iterations of stepsPerIteration
 * steps, so anything between two multiples is rounded up to the next one (0 stays 0).
 */
export function wholeIterationSteps(steps: number, stepsPerIteration: number): number {
  return Math.ceil(steps / stepsPerIteration) * stepsPerIteration;
}

/**
 * The step of a finished run's last scheduled greedy evaluation. An evaluation follows each
 * iteration that crosses a multiple of evalEvery (and one runs at step 0), and the run ends at
 * totalSteps rounded up to whole iterations, so the last is at the end of the iteration that
 * crosses the last multiple it reaches: 50176 for 51200 steps of 256 evaluated every 5000.
 */
export function lastEvaluationStep(config: Pick<StaqConfig, "totalSteps" | "stepsPerIteration" | "evalEvery">): number {
  const end = wholeIterationSteps(config.totalSteps, config.stepsPerIteration);
  return wholeIterationSteps(Math.floor(end / config.evalEvery) * config.evalEvery, config.stepsPerIteration);
}
