/**
 * The StaQ agent, top to bottom (docs/algorithm.md, “The practical algorithm”). Each iteration:
 *   1. collect: the vector env acts through the stack (ε-softmax, sampled on the GPU) for
 *      stepsPerIteration steps; the transitions go to the GPU replay buffer;
 *   2. precompute: π_k(·|s') on every stored next state, once: the rows' raw sums follow every
 *      push (step 4), so only the new rows need the stack, and most of them have their logits
 *      from acting (docs/algorithm.md, “Incremental logits”);
 *   3. fit Q: K gradient steps fit the active Q-networks (warm-started from the last iteration)
 *      to the soft Q-function of π_k, with target networks (src/train/soft-q-fit.ts);
 *   4. push: the active networks are copied into the stack as frozen snapshots and the
 *      coefficients take one PMD step with this iteration's τ (annealed over the run); the replay
 *      buffer's sums follow it with two snapshot evaluations per row;
 * and greedy evaluation episodes run every evalEvery environment steps. The metrics of an
 * iteration are assembled in metrics.ts and its phases timed by timing.ts, outside the algorithm.
 *
 * The same loop runs the baselines (algorithm.ts says how each differs): DQN and M-DQN act
 * ε-greedy on their Q-networks, a one-snapshot "stack", and skip step 2; MDPO fits a policy
 * network after step 3 and pushes that instead. The branches below read `isBaseline`,
 * `readsPolicy` and `policyFit`.
 *
 * Every counter has one owner: the agent counts environment steps, iterations, actor steps,
 * evaluations and learning seconds; the soft Q fit counts gradient steps; the trainer Adam steps.
 *
 * Everything here is portable (no files, no Node): `checkpoint()` returns the files' bytes and
 * `restore` takes them back; src/node/staq.ts writes them to a directory.
 */
import { StaqInputError } from "../errors.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import { createGpu, type Gpu } from "../gpu/gpu.ts";
import { createBuffer } from "../gpu/buffers.ts";
import { BufferUsage } from "../gpu/constants.ts";
import type { Env } from "../envs/env.ts";
import type { VectorEnv } from "../envs/vector-env.ts";
import { createActor, type Actor } from "../policy/actor.ts";
import { createStack, type Stack } from "../stack/stack.ts";
import type { MlpSpec } from "../stack/mlp.ts";
import { initialQNetworks } from "../train/initialisation.ts";
import { createMlpTrainer, type MlpTrainer } from "../train/mlp-trainer.ts";
import { createSoftQFit, fitSoftQ, smoothnessTrainerBatch, type SoftQFit } from "../train/soft-q-fit.ts";
import { pushSnapshot } from "../train/push-snapshot.ts";
import { createReplayBuffer, type ReplayBuffer } from "../train/replay-buffer.ts";
import { CONFIG_FIELDS, resolveConfig, wholeIterationSteps, type StaqConfig } from "./config.ts";
import {
  decodeCheckpoint,
  decodeCheckpointPolicy,
  encodeCheckpoint,
  type CheckpointFiles,
  type AgentCounters,
  type DecodedCheckpoint,
  type DecodedPolicy,
} from "./checkpoint.ts";
import { TrainedPolicy } from "./trained-policy.ts";
import { StaqDivergenceError, nonFiniteArrays, nonFiniteMetrics } from "./divergence.ts";
import { GreedyEvaluator } from "./greedy-evaluation.ts";
import { envFactory, type EnvSource, type VectorEnvSource } from "./env-factory.ts";
import { agentNetworkSpec } from "./network-spec.ts";
import {
  evaluationMetrics,
  iterationMetrics,
  lossMetrics,
  type EvaluationMetrics,
  type IterationMetrics,
  type IterationOutcome,
  type IterationPhase,
} from "./metrics.ts";
import { policyChange, type PolicyChange } from "./policy-change.ts";
import { defaultPreset, presetConfig, presetName } from "./presets.ts";
import {
  PLAIN_NETWORK_STACK,
  agentSmoothness,
  agentStackSettings,
  agentActorOptions,
  epsilonAt,
  isBaseline,
  iterationTau,
  readsPolicy,
  targetRule,
} from "./algorithm.ts";
import { stackLogits } from "../stack/stack-logits.ts";
import { StaqStackChangedError } from "../stack/stack-evaluator.ts";
import { collectRollout, type Rollout } from "./rollout.ts";
import { POLICY_FIT_STREAM, SOFT_Q_FIT_STREAM, policyInitialSeed } from "./random-streams.ts";
import { UserActing } from "./user-acting.ts";
import { createMdpoPolicyFit, type MdpoPolicyFit } from "../train/mdpo-policy-fit.ts";
import { learningClock, PhaseTimer } from "./timing.ts";
import { checkTauScale } from "./tau-schedule.ts";

/** An environment by registry name, or a function that builds a new copy (the user's own Env). */
export type { EnvSource, VectorEnvSource };

export interface StaQOptions extends Partial<StaqConfig> {
  env: EnvSource;
  /** The config to start from (default: paper-minatar for MinAtar, paper-classic otherwise). */
  preset?: string;
  /** The device to run on (default: a new one, released by `destroy`). */
  gpu?: Gpu;
}

export interface LearnOptions {
  /**
   * Environment steps to take in this call (default: the rest of the run, totalSteps − globalStep).
   * The agent trains whole iterations, so this is rounded up to a multiple of stepsPerIteration
   * (`wholeIterationSteps`); the result's globalStep says where it ended.
   */
  steps?: number;
  /**
   * Called once an iteration is complete, its scheduled greedy evaluation included (onEvaluation
   * has been called for it): `checkpoint()` here captures everything the iteration reported, so a
   * run stopped here and restored reports exactly what one that never stopped does.
   */
  onIteration?(metrics: IterationMetrics): void | Promise<void>;
  /** Called for each scheduled greedy evaluation (at step 0, then every evalEvery steps), before its iteration's onIteration. */
  onEvaluation?(metrics: EvaluationMetrics): void | Promise<void>;
  /** Stops after the iteration in progress (and its evaluation) when aborted. */
  signal?: AbortSignal;
}

export interface RestoreOptions {
  /** The environment, when it is not a registered one (a function that builds a new copy). */
  env?: EnvSource;
  gpu?: Gpu;
  /** Config fields to change (totalSteps, to extend a run; not those that fix its shapes or random streams). */
  overrides?: Partial<StaqConfig>;
}

export interface LearnResult {
  globalStep: number;
  iteration: number;
  /** True when `signal` stopped it before `steps`. */
  stopped: boolean;
}

/** Next states in the probe on which each push's KL and entropy are measured. */
const PROBE_STATES = 256;

/** The counters the agent owns: the gradient steps of a checkpoint's counters are the soft Q fit's. */
export type AgentOwnCounters = Omit<AgentCounters, "gradientSteps">;

export interface AgentParts {
  config: StaqConfig;
  preset: string;
  envName: string;
  /** A new copy of the environment (for evaluation); absent for one that runs only as a vector env. */
  makeCopy?: () => Env;
  makeVector: (count: number) => VectorEnv;
  gpu: Gpu;
  ownsGpu: boolean;
  envs: VectorEnv;
  stack: Stack;
  trainer: MlpTrainer;
  replay: ReplayBuffer;
  softQFit: SoftQFit;
  /** MDPO's policy network and the fit of it to the PMD step (absent for the other algorithms). */
  policyFit?: MdpoPolicyFit;
  actor: Actor;
  /** The actor's logits of the rollout in progress ([stepsPerIteration × actions]), for the replay buffer. */
  rolloutLogits: GPUBuffer;
  obs: Float32Array;
  counters: AgentOwnCounters;
}

async function buildParts(options: {
  config: StaqConfig;
  preset: string;
  env: EnvSource;
  gpu?: Gpu;
  defaultGpu: () => Promise<Gpu>;
  /** The soft Q fit's gradient steps so far (a restored run's). */
  gradientSteps: number;
  /** MDPO's policy fit's gradient steps so far. */
  policyGradientSteps: number;
}): Promise<Omit<AgentParts, "obs" | "counters">> {
  const { config } = options;
  const { makeCopy, makeVector, envName } = envFactory(options.env, config.timeLimit);
  const envs = makeVector(config.numEnvs);
  if (envs.actionCount < 2) {
    envs.close?.();
    throw new StaqInputError(`${envName} has ${envs.actionCount} action; StaQ needs at least 2`);
  }
  try {
    checkTauScale(config, envs.actionCount);
  } catch (error) {
    envs.close?.();
    throw error;
  }
  let gpu: Gpu;
  try {
    gpu = options.gpu ?? (await options.defaultGpu());
  } catch (error) {
    envs.close?.(); // a Python worker must not outlive an agent that was never made
    throw error;
  }
  // A part that cannot be made (a size past the device's limits, say) must not leak those made
  // before it, nor a device made here: the caller never gets an agent to destroy.
  const madeParts: { destroy(): void }[] = [];
  const made = <P extends { destroy(): void }>(part: P): P => (madeParts.push(part), part);
  try {
    const mlp: MlpSpec = agentNetworkSpec(config, {
      name: envName,
      observationShape: envs.observationShape,
      observationSize: envs.observationSize,
      actionCount: envs.actionCount,
    });
    const stack = made(
      createStack(gpu, { mlp, gamma: config.gamma, ...agentStackSettings(config, mlp.outputs), label: "staq agent stack" }),
    );
    // The PAVE-style penalty trains on [s; s+ε; s'] rows, on the multi-dispatch path (soft-q-fit.ts).
    const smoothness = agentSmoothness(config);
    const trainer = made(
      await createMlpTrainer(gpu, {
        mlp,
        ensemble: config.ensemble,
        batch: smoothnessTrainerBatch(config.batchSize, smoothness),
        ...(smoothness ? { path: "multi-dispatch" as const } : {}),
        adam: { lr: config.lr, eps: config.adamEps, maxGradNorm: config.maxGradNorm > 0 ? config.maxGradNorm : undefined },
        loss: { loss: config.loss },
        targetNetworks: true,
        label: "staq agent trainer",
      }),
    );
    const replay = made(
      createReplayBuffer(gpu, { capacity: config.replayCapacity, inputs: mlp.inputs, actions: mlp.outputs, label: "staq agent replay" }),
    );
    const softQFit = made(
      await createSoftQFit(gpu, {
        trainer,
        replay,
        seed: BigInt(config.seed) | SOFT_Q_FIT_STREAM,
        gamma: config.gamma,
        rewardScale: config.rewardScale,
        target: targetRule(config),
        smoothness,
        targetUpdate: { kind: "hard", every: config.targetUpdateEvery },
        gradientSteps: options.gradientSteps,
      }),
    );
    const policyFit =
      config.algo === "mdpo"
        ? made(
            await createMdpoPolicyFit(gpu, {
              policy: made(
                await createMlpTrainer(gpu, {
                  mlp,
                  ensemble: 1,
                  batch: config.batchSize,
                  adam: { lr: config.policyLr, eps: config.adamEps, maxGradNorm: config.maxGradNorm > 0 ? config.maxGradNorm : undefined },
                  targetNetworks: true,
                  path: "multi-dispatch",
                  label: "staq agent policy",
                }),
              ),
              critic: trainer,
              replay,
              seed: BigInt(config.seed) | POLICY_FIT_STREAM,
              gradientSteps: options.policyGradientSteps,
              label: "staq agent policy fit",
            }),
          )
        : undefined;
    const actor = made(createActor(stack, agentActorOptions(config)));
    const rolloutLogits = made(
      createBuffer(
        gpu,
        config.stepsPerIteration * mlp.outputs * 4,
        BufferUsage.STORAGE | BufferUsage.COPY_DST,
        "staq agent rollout logits",
      ),
    );
    return {
      config,
      preset: options.preset,
      envName,
      makeCopy,
      makeVector,
      gpu,
      ownsGpu: options.gpu === undefined,
      envs,
      stack,
      trainer,
      replay,
      softQFit,
      policyFit,
      actor,
      rolloutLogits,
    };
  } catch (error) {
    for (const part of madeParts.reverse()) part.destroy();
    if (options.gpu === undefined) gpu.destroy();
    envs.close?.();
    throw error;
  }
}

export class StaQ {
  readonly config: Readonly<StaqConfig>;
  /** The preset the config started from. */
  readonly preset: string;
  readonly envName: string;
  readonly gpu: Gpu;
  /** The stack (for `stackLogits`, `saveStack` and the like). */
  readonly stack: Stack;
  readonly trainer: MlpTrainer;
  readonly replay: ReplayBuffer;
  /** The soft Q fit it trains with (its `path`; `readLastStep` for tests and debugging). */
  readonly softQFit: SoftQFit;
  /** MDPO's policy fit (its `policy` trainer holds π_θ); undefined for the other algorithms. */
  readonly policyFit: MdpoPolicyFit | undefined;
  readonly observationSize: number;
  readonly actionCount: number;

  private readonly ownsGpu: boolean;
  private readonly envs: VectorEnv;
  private readonly actor: Actor;
  private readonly rolloutLogits: GPUBuffer;
  /** The environments' observations: where the next rollout starts. */
  private obs: Float32Array;
  private readonly counters: AgentOwnCounters;
  private readonly evaluator: GreedyEvaluator;
  private userActing: UserActing | undefined;
  private destroyed = false;
  /**
   * The call that has the agent to itself now, if any: `learn` (except while its callbacks run,
   * so that they may checkpoint or evaluate), `evaluate` or `checkpoint`. Their work spans many
   * awaits over shared state (the environments, the counters, the acting buffers), so two at once
   * would interleave; each refuses to start beside another. `act` shares none of it (it has its
   * own actor) and runs beside any of them: it acts on the stack as it is when its turn comes.
   */
  private holder: string | undefined;
  /** Whether `learn` is running, its callbacks included. */
  private learning = false;

  /** Use `StaQ.create` or `StaQ.restore` (or, in Node, `StaQ.load`). */
  constructor(parts: AgentParts) {
    this.config = Object.freeze({ ...parts.config, hidden: [...parts.config.hidden] });
    this.preset = parts.preset;
    this.envName = parts.envName;
    this.gpu = parts.gpu;
    this.stack = parts.stack;
    this.trainer = parts.trainer;
    this.replay = parts.replay;
    this.observationSize = parts.envs.observationSize;
    this.actionCount = parts.envs.actionCount;
    this.evaluator = new GreedyEvaluator(parts, parts.actor);
    this.ownsGpu = parts.ownsGpu;
    this.envs = parts.envs;
    this.actor = parts.actor;
    this.rolloutLogits = parts.rolloutLogits;
    this.softQFit = parts.softQFit;
    this.policyFit = parts.policyFit;
    this.obs = parts.obs;
    this.counters = parts.counters;
  }

  /**
   * The environment the agent is built on, from the one given: Node's StaQ turns a `gym:<id>` name
   * into a VectorEnvSource of the Gymnasium bridge (which needs Node's processes); here, as given.
   */
  protected static envSource(env: EnvSource): EnvSource {
    return env;
  }

  /** The device an agent uses when none is given; Node's StaQ overrides it with Dawn's. */
  protected static defaultGpu(): Promise<Gpu> {
    return createGpu();
  }

  /** A new agent: `preset` (or the default for the env) with the given fields overridden. */
  static async create<T extends typeof StaQ>(this: T, options: StaQOptions): Promise<InstanceType<T>> {
    if (options === null || typeof options !== "object")
      throw new StaqInputError("StaQ.create needs an options object: { env, ...config }");
    const { env, preset, gpu, ...overrides } = options;
    if (env === undefined)
      throw new StaqInputError("StaQ.create needs env: a registered name (see `staq envs`) or a function that builds your environment");
    const envName = typeof env === "string" ? env : undefined;
    // The algorithm picks among its own presets (presets.ts): checked first, so a bad one is named as such.
    const algo = overrides.algo === undefined ? undefined : resolveConfig(presetConfig("paper-classic"), { algo: overrides.algo }).algo;
    const name = presetName(preset ?? defaultPreset(envName ?? "", algo), algo);
    const config = resolveConfig(presetConfig(name), overrides);
    const parts = await buildParts({
      config,
      preset: name,
      env: this.envSource(env),
      gpu,
      defaultGpu: () => this.defaultGpu(),
      gradientSteps: 0,
      policyGradientSteps: 0,
    });
    parts.trainer.setWeights(initialQNetworks(parts.trainer.spec, config.ensemble, config.seed * 64));
    // MDPO's π_0: the Q-network's initialisation (a zero head, so uniform), from a seed of its own.
    parts.policyFit?.policy.setWeights(initialQNetworks(parts.trainer.spec, 1, policyInitialSeed(config.seed)));
    const obs = parts.envs.reset({ seed: config.seed });
    const counters: AgentOwnCounters = { globalStep: 0, iteration: 0, actStep: 0, evaluations: 0, elapsedSeconds: 0 };
    return new this({ ...parts, obs, counters }) as InstanceType<T>;
  }

  /** Environment steps taken so far. */
  get globalStep(): number {
    return this.counters.globalStep;
  }

  get iteration(): number {
    return this.counters.iteration;
  }

  /** τ of the next iteration (StaQ's annealed τ, M-DQN's temperature, 0 for DQN). */
  get tau(): number {
    return iterationTau(this.config, this.counters.globalStep, this.actionCount);
  }

  /** ε of the behaviour policy at the next environment step. */
  get epsilon(): number {
    return epsilonAt(this.config, this.counters.globalStep);
  }

  /**
   * Trains (see the file's comment) until `steps` more environment steps are taken (in whole
   * iterations) or `signal` stops it. Throws a StaqDivergenceError when an iteration's losses or
   * policy change are not finite; the agent then refuses to train or checkpoint any further.
   */
  async learn(options: LearnOptions = {}): Promise<LearnResult> {
    if (this.learning) throw new StaqInputError("learn: learn is already running on this agent; await it before calling learn again");
    return this.exclusively("learn", async () => {
      this.learning = true;
      try {
        return await this.learnNow(options);
      } finally {
        this.learning = false;
      }
    });
  }

  private async learnNow(options: LearnOptions): Promise<LearnResult> {
    this.notDiverged();
    const { counters, config } = this;
    const steps = options.steps ?? Math.max(0, config.totalSteps - counters.globalStep);
    if (!(Number.isInteger(steps) && steps >= 0)) throw new StaqInputError(`learn: steps must be an integer >= 0; got ${steps}`);
    const goal = counters.globalStep + wholeIterationSteps(steps, config.stepsPerIteration);
    const clock = learningClock(counters.elapsedSeconds);
    const stopped = () => options.signal?.aborted === true;
    if (counters.globalStep === 0 && counters.evaluations === 0 && config.evalEvery > 0 && steps > 0) {
      const metrics = await this.scheduledEvaluation(clock);
      await this.released("onEvaluation", () => options.onEvaluation?.(metrics));
    }
    while (counters.globalStep < goal && !stopped()) {
      const before = counters.globalStep;
      const phases = new PhaseTimer<IterationPhase>(this.gpu);
      const outcome = await this.iterate(phases);
      counters.elapsedSeconds = clock();
      const metrics = iterationMetrics(
        outcome,
        {
          global_step: counters.globalStep,
          iteration: counters.iteration,
          time_s: counters.elapsedSeconds,
          learningRate: config.lr,
          stack: this.stack,
        },
        phases.seconds,
      );
      // The evaluation belongs to the iteration: it comes before onIteration, where a caller
      // checkpoints, so no checkpoint falls between an iteration and its evaluation (a run
      // restored from one would never make that evaluation).
      if (config.evalEvery > 0 && Math.floor(counters.globalStep / config.evalEvery) > Math.floor(before / config.evalEvery)) {
        const evaluation = await this.scheduledEvaluation(clock);
        await this.released("onEvaluation", () => options.onEvaluation?.(evaluation));
      }
      counters.elapsedSeconds = clock();
      await this.released("onIteration", () => options.onIteration?.(metrics));
    }
    return { globalStep: counters.globalStep, iteration: counters.iteration, stopped: counters.globalStep < goal };
  }

  /**
   * One iteration: collect; then, once learningStarts steps are stored, fit Q and push (each phase
   * timed by `phases`). StaQ precomputes π_k for its targets and pushes a PMD step; MDPO precomputes
   * its policy network's π_k, fits Q, then fits the policy network to the PMD step and pushes it;
   * DQN's and M-DQN's fitted Q simply becomes their acting network (algorithm.ts).
   */
  private async iterate(phases: PhaseTimer<IterationPhase>): Promise<IterationOutcome> {
    const { config } = this;
    const tau = this.tau;
    const epsilon = this.epsilon;
    const iteration = this.counters.iteration + 1;
    const staq = !isBaseline(config);
    const rollout = await phases.time("collect", () => this.collect());
    const outcome = { tau, epsilon, episodeReturns: rollout.episodeReturns, episodeLengths: rollout.episodeLengths };
    if (this.counters.globalStep < config.learningStarts) {
      this.counters.iteration = iteration;
      return { ...outcome, fit: null, policy: null, change: null };
    }
    if (readsPolicy(config)) {
      const every = config.fullPrecomputeEvery;
      // MDPO's one-snapshot stack changes wholly at every push: its logits are recomputed (O(1) in M anyway).
      const full = !staq || (every > 0 && (iteration - 1) % every === 0);
      await phases.time("precompute", () => this.replay.precomputePolicy(this.stack, { full }));
    }
    const fit = await phases.time("fit", () => fitSoftQ(this.softQFit, { steps: config.gradientSteps, tau }));
    // Non-finite losses mean non-finite networks: stop before they are pushed into the stack.
    this.checkFinite(iteration, nonFiniteMetrics(lossMetrics(fit)));
    const policyFit = this.policyFit;
    const policy = policyFit ? await phases.time("policy", () => policyFit.fit({ steps: config.policySteps, eta: config.eta, tau })) : null;
    if (policy) this.checkFinite(iteration, nonFiniteMetrics({ "losses/policy_loss": policy.meanLoss }));
    let change: PolicyChange | null = null;
    if (staq) change = await phases.time("push", () => this.push(tau));
    else if (policyFit) change = await phases.time("push", () => this.pushPolicy(policyFit.policy, rollout.transitions.nextObs));
    else await phases.time("push", async () => pushSnapshot(this.stack, this.trainer, { tau: PLAIN_NETWORK_STACK.tau }));
    if (change)
      this.checkFinite(
        iteration,
        nonFiniteMetrics({ "policy/entropy": change.entropy, "policy/kl": change.kl, "stack/correction": this.stack.correction }),
      );
    this.counters.iteration = iteration;
    return { ...outcome, fit, policy, change };
  }

  /** Acts for stepsPerIteration environment steps and stores the transitions. */
  private async collect(): Promise<Rollout> {
    const { config, counters } = this;
    const vectorSteps = config.stepsPerIteration / config.numEnvs;
    // ε follows its schedule step by step; vector step t starts at environment step globalStep + t·numEnvs.
    const epsilon = (t: number) => epsilonAt(config, counters.globalStep + t * config.numEnvs);
    const staq = !isBaseline(config);
    // StaQ keeps the logits it acted with, so the replay buffer need not evaluate the stack on those
    // states; a baseline's targets use no policy of the replay buffer.
    const logits = staq ? this.rolloutLogits : undefined;
    const rollout = await collectRollout(this.envs, this.actor, this.obs, vectorSteps, counters.actStep, logits, epsilon);
    this.replay.add(rollout.transitions, staq ? { nextLogits: rollout.nextLogits } : {});
    this.obs = rollout.obs;
    counters.actStep = rollout.actStep;
    counters.globalStep += config.stepsPerIteration;
    return rollout;
  }

  /**
   * Freezes the active networks into the stack with PMD step `tau`, the replay buffer's sums
   * following; measures the policy's change on a probe of the latest rollout's next states, from
   * their sums before and after (no stack evaluation).
   */
  private async push(tau: number): Promise<PolicyChange> {
    const probe = probeRows(this.replay, this.config.stepsPerIteration);
    const logits = async () => scaled(await this.replay.readSums(probe), this.stack.correction);
    const before = await logits();
    await this.replay.followPush(this.stack, tau, () => pushSnapshot(this.stack, this.trainer, { tau }));
    const after = await logits();
    return policyChange(before, after, this.actionCount);
  }

  /**
   * MDPO's push: the fitted policy network becomes the acting network; its change is measured on up
   * to PROBE_STATES of the latest rollout's next states (as StaQ's), from the stack's logits before
   * and after.
   */
  private async pushPolicy(policy: MlpTrainer, nextObs: Float32Array): Promise<PolicyChange> {
    const inputs = this.observationSize;
    const rows = nextObs.length / inputs;
    const count = Math.min(rows, PROBE_STATES);
    const probe = new Float32Array(count * inputs);
    for (let k = 0; k < count; k++) {
      const row = Math.floor((k * rows) / count);
      probe.set(nextObs.subarray(row * inputs, (row + 1) * inputs), k * inputs);
    }
    const logits = async () => Float64Array.from(await stackLogits(this.stack, probe));
    const before = await logits();
    pushSnapshot(this.stack, policy, { tau: PLAIN_NETWORK_STACK.tau });
    return policyChange(before, await logits(), this.actionCount);
  }

  /** The scheduled greedy evaluation: its episodes' seeds depend only on the run's seed and the evaluation's number. */
  private async scheduledEvaluation(clock: () => number): Promise<EvaluationMetrics> {
    const { config, counters } = this;
    const first = (config.seed + 2 ** 31 + counters.evaluations * config.evalEpisodes) % 2 ** 32;
    const result = await this.evaluateNow({ episodes: config.evalEpisodes, seed: first });
    counters.evaluations++;
    return { ...result, time_s: clock() };
  }

  /**
   * Greedy evaluation: `episodes` episodes (default: evalEpisodes) on fresh copies of the
   * environment, episode j reset with seed + j (seed default: the run's seed + 2^31).
   */
  async evaluate(options: { episodes?: number; seed?: number } = {}): Promise<EvaluationMetrics> {
    checkOptionKeys(options, ["episodes", "seed"], "evaluate"); // a misspelt `episode` would run evalEpisodes
    return this.exclusively("evaluate", () => this.evaluateNow(options));
  }

  private async evaluateNow(options: { episodes?: number; seed?: number }): Promise<EvaluationMetrics> {
    const { config, counters } = this;
    const started = performance.now();
    const episodes = options.episodes ?? config.evalEpisodes;
    const results = await this.evaluator.evaluate(episodes, options.seed ?? (config.seed + 2 ** 31) % 2 ** 32);
    const seconds = (performance.now() - started) / 1000;
    return evaluationMetrics(
      { global_step: counters.globalStep, iteration: counters.iteration, time_s: counters.elapsedSeconds, seconds },
      results.returns,
      results.lengths,
    );
  }

  /**
   * Actions for a batch of observations ([batch × observation size], or one observation): the
   * argmax of the stacked logits with `greedy`, else a sample of the behaviour policy (StaQ's and
   * MDPO's ε-softmax, DQN's and M-DQN's ε-greedy) with the ε of the current step, from its own
   * random stream, so acting never changes what training does.
   */
  async act(obs: Float32Array, options: { greedy?: boolean } = {}): Promise<Uint32Array> {
    this.alive();
    checkOptionKeys(options, ["greedy"], "act"); // a misspelt `greedy` would sample instead
    for (;;) {
      try {
        return await this.actNow(obs, options);
      } catch (error) {
        // A push by a learn running beside it landed while the call waited its turn: act again, on
        // the new stack (the user's act is "the current policy's action", not one frozen at the call).
        if (!(error instanceof StaqStackChangedError) || this.destroyed) throw error;
      }
    }
  }

  private async actNow(obs: Float32Array, options: { greedy?: boolean }): Promise<Uint32Array> {
    this.userActing ??= new UserActing(this.stack, this.config, this);
    return this.userActing.act(obs, options.greedy ?? false, this.epsilon);
  }

  /**
   * The checkpoint's files (see checkpoint.ts): everything `restore` needs to continue exactly.
   * Throws a StaqDivergenceError, and returns nothing, when the agent diverged or its networks or
   * Adam's moments hold a value that is not finite: such a checkpoint could not be restored, and
   * written over the last good one it would lose the run.
   */
  async checkpoint(extra: Record<string, unknown> = {}): Promise<CheckpointFiles> {
    return this.exclusively("checkpoint", () => this.checkpointNow(extra));
  }

  private async checkpointNow(extra: Record<string, unknown>): Promise<CheckpointFiles> {
    this.notDiverged();
    const { globalStep, iteration, actStep, evaluations, elapsedSeconds } = this.counters;
    const trainerState = await this.trainer.exportState();
    const policyState = await this.policyFit?.policy.exportState();
    // A NaN weight stays NaN through every later Adam step, so the online networks' weights at
    // any checkpoint show one that ever reached the stack through a push.
    this.checkFinite(iteration, [
      ...nonFiniteArrays([
        ["an online network weight", trainerState.params],
        ["a target network weight", trainerState.targetParams],
        ["an Adam first moment", trainerState.adamM],
        ["an Adam second moment", trainerState.adamV],
        ...(policyState
          ? ([
              ["a policy network weight", policyState.params],
              ["a policy Adam moment", policyState.adamM],
              ["a policy Adam moment", policyState.adamV],
            ] as [string, Float32Array][])
          : []),
      ]),
      ...nonFiniteArrays(this.stack.coefficients.map((c, e) => [`a stack coefficient of member ${e}`, c] as const)),
    ]);
    return encodeCheckpoint({
      config: this.config,
      preset: this.preset,
      envName: this.envName,
      adapter: this.gpu.info.adapter,
      counters: {
        globalStep,
        iteration,
        actStep,
        evaluations,
        gradientSteps: this.softQFit.gradientSteps,
        ...(this.policyFit ? { policyGradientSteps: this.policyFit.gradientSteps } : {}),
        elapsedSeconds,
      },
      stack: this.stack,
      trainer: trainerState,
      ...(policyState ? { policy: policyState } : {}),
      replay: await this.replay.read(),
      obs: this.obs,
      envState: this.envs.snapshots ? this.envs.saveState() : null,
      extra,
    });
  }

  /**
   * The trained policy of a checkpoint, without its training state (trained-policy.ts): only
   * stack.safetensors and state.json are read, so a checkpoint without its replay buffer and
   * networks (shared, or trimmed to save space) still acts and evaluates, as the agent would.
   */
  static async restorePolicy(files: CheckpointFiles, options: Omit<RestoreOptions, "overrides"> = {}): Promise<TrainedPolicy> {
    return this.restorePolicyDecoded(decodeCheckpointPolicy(files), options);
  }

  /** restorePolicy from a decoded policy (src/node/staq.ts reads the files from a directory). */
  static async restorePolicyDecoded(saved: DecodedPolicy, options: Omit<RestoreOptions, "overrides"> = {}): Promise<TrainedPolicy> {
    checkOptionKeys(options, ["env", "gpu"], "restorePolicy");
    // Before the device: a malformed gym:<id> fails here, and a device made first would leak.
    const env = this.envSource(options.env ?? saved.envName);
    const gpu = options.gpu ?? (await this.defaultGpu());
    return TrainedPolicy.create({ saved, env, envFromCheckpoint: options.env === undefined, gpu, ownsGpu: options.gpu === undefined });
  }

  /**
   * An agent from checkpoint files, continuing exactly where `checkpoint` was taken (on the same
   * adapter: another GPU may round differently). `env` is needed for an environment that is not
   * registered (the user's own); config fields given override the saved ones (e.g. totalSteps).
   */
  static async restore<T extends typeof StaQ>(this: T, files: CheckpointFiles, options: RestoreOptions = {}): Promise<InstanceType<T>> {
    return this.restoreDecoded(decodeCheckpoint(files), options);
  }

  /** `restore` from what `decodeCheckpoint` read (for a caller that has already read it, to check it first). */
  static async restoreDecoded<T extends typeof StaQ>(
    this: T,
    saved: DecodedCheckpoint,
    options: RestoreOptions = {},
  ): Promise<InstanceType<T>> {
    const config = resolveConfig(saved.config, options.overrides ?? {});
    for (const { key } of CONFIG_FIELDS.filter((field) => field.fixesRun)) {
      if (JSON.stringify(config[key]) !== JSON.stringify(saved.config[key])) {
        throw new StaqInputError(
          `cannot change ${key} when resuming (${JSON.stringify(saved.config[key])} in the checkpoint): it fixes the shapes or the random streams of the run`,
        );
      }
    }
    const env = options.env ?? saved.envName;
    const { gradientSteps, policyGradientSteps, ...counters } = saved.counters;
    const parts = await buildParts({
      config,
      preset: saved.preset,
      env: this.envSource(env),
      gpu: options.gpu,
      defaultGpu: () => this.defaultGpu(),
      gradientSteps,
      policyGradientSteps: policyGradientSteps ?? 0,
    });
    const agent = new this({ ...parts, obs: new Float32Array(0), counters }) as InstanceType<T>;
    try {
      agent.load(saved);
    } catch (error) {
      agent.destroy();
      throw error;
    }
    return agent;
  }

  private load(saved: DecodedCheckpoint): void {
    const { envs, stack, trainer, replay } = this;
    if (saved.envName !== this.envName)
      throw new StaqInputError(`the checkpoint was trained on ${saved.envName}; the environment given is ${this.envName}`);
    if (saved.obs.length !== envs.count * envs.observationSize) {
      throw new StaqInputError(
        `the checkpoint holds observations of ${saved.obs.length / envs.count} values per copy; ${this.envName} has ${envs.observationSize}`,
      );
    }
    stack.set(saved.stack);
    trainer.importState(saved.trainer);
    if (this.policyFit) {
      if (!saved.policy)
        throw new StaqInputError("the checkpoint is of an MDPO run but holds no policy network (networks.safetensors: policy_*)");
      this.policyFit.policy.importState(saved.policy);
    }
    replay.restore(saved.replay, { stack });
    if (saved.envState !== null && envs.snapshots) {
      envs.loadState(saved.envState);
    } else {
      // The environments could not save their state: restart their episodes from a seed of this point.
      envs.reset({ seed: (saved.config.seed + saved.counters.iteration * envs.count) % 2 ** 32 });
      this.resumeExact = false;
    }
    this.obs = saved.obs;
    this.checkpointExtra = saved.extra;
  }

  /** What the caller stored with the checkpoint this agent was restored from (`checkpoint(extra)`). */
  checkpointExtra: Record<string, unknown> = {};

  /**
   * False when a restore had to restart the environments' episodes: an env without saveState, such
   * as a Gymnasium env through the bridge (`gym:<id>`), whose Python state a checkpoint cannot hold.
   */
  resumeExact = true;

  /** Releases the GPU resources (and the device, when the agent created it) and closes the environments' workers, if any. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.envs.close?.();
    this.evaluator.close();
    this.userActing?.destroy();
    this.actor.destroy();
    this.rolloutLogits.destroy();
    this.softQFit.destroy();
    this.policyFit?.destroy();
    this.policyFit?.policy.destroy();
    this.replay.destroy();
    this.trainer.destroy();
    this.stack.destroy();
    if (this.ownsGpu) this.gpu.destroy();
  }

  private alive(): void {
    if (this.destroyed) throw new StaqInputError("this StaQ agent was destroyed");
  }

  /** Runs `work` with the agent to itself (see `holder`); a call destroyed meanwhile says so. */
  private async exclusively<T>(call: string, work: () => Promise<T>): Promise<T> {
    this.alive();
    if (this.holder !== undefined) throw this.busy(call);
    this.holder = call;
    try {
      return await work();
    } catch (error) {
      // What fails once destroy() freed the buffers mid-call is a consequence, not the cause.
      throw this.destroyed ? new StaqInputError(`${call}: this StaQ agent was destroyed while ${call} ran`, { cause: error }) : error;
    } finally {
      this.holder = undefined;
    }
  }

  /** Runs a caller's callback with the agent free, so that it may checkpoint, evaluate or act. */
  private async released(callback: string, work: () => void | Promise<void>): Promise<void> {
    const holder = this.holder;
    this.holder = undefined;
    try {
      await work();
    } finally {
      const left = this.holder;
      this.holder = holder;
      if (left !== undefined) {
        throw new StaqInputError(`${callback} returned while the ${left} it started was still running; await it in the callback`);
      }
    }
  }

  private busy(call: string): StaqInputError {
    return new StaqInputError(
      `${call}: ${this.holder} is still running on this agent; await it first (learn, evaluate and checkpoint run one at a time; act may run beside them)`,
    );
  }

  /** Set when training went non-finite: the state is garbage from then on. */
  private diverged: StaqDivergenceError | undefined;

  private notDiverged(): void {
    if (this.diverged) throw this.diverged;
  }

  /** Throws (and remembers) a StaqDivergenceError when `quantities` names any non-finite value. */
  private checkFinite(iteration: number, quantities: [string, number][]): void {
    if (quantities.length === 0) return;
    const { adamEps, rewardScale, lr, maxGradNorm } = this.config;
    this.diverged = new StaqDivergenceError({
      iteration,
      globalStep: this.counters.globalStep,
      quantities,
      settings: { adamEps, rewardScale, lr, maxGradNorm },
    });
    throw this.diverged;
  }
}

/** Up to PROBE_STATES ring rows of the replay buffer's latest `rows` transitions, evenly spaced. */
function probeRows(replay: ReplayBuffer, rows: number): number[] {
  const count = Math.min(rows, PROBE_STATES);
  const first = replay.next - rows + replay.capacity;
  return Array.from({ length: count }, (_, k) => (first + Math.floor((k * rows) / count)) % replay.capacity);
}

/** ξ = correction · S in float64. */
function scaled(sums: Float32Array, correction: number): Float64Array {
  return Float64Array.from(sums, (s) => correction * s);
}
