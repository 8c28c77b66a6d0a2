/**
 * A trained policy without its training: the stack a run pushed, restored from a checkpoint's
 * stack.safetensors and state.json alone (decodeCheckpointPolicy), for acting and greedy
 * evaluation. That is what a shared or deployed agent needs; the replay buffer and Adam's moments,
 * most of a checkpoint's bytes, are not read. It acts and evaluates as the agent restored from the
 * same checkpoint does: the same stack, actors and seeds, so the same actions and returns.
 *
 * Made by `StaQ.restorePolicy` (portable) or `StaQ.loadPolicy` (Node, from a directory).
 */
import { StaqInputError } from "../errors.ts";
import { checkOptionKeys } from "../io/option-keys.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { createActor, type Actor } from "../policy/actor.ts";
import { createStack, type Stack } from "../stack/stack.ts";
import { agentActorOptions, agentStackSettings, epsilonAt } from "./algorithm.ts";
import type { AgentCounters, DecodedPolicy } from "./checkpoint.ts";
import type { StaqConfig } from "./config.ts";
import { envFactory, type EnvFactory, type EnvSource } from "./env-factory.ts";
import { GreedyEvaluator } from "./greedy-evaluation.ts";
import { evaluationMetrics, type EvaluationMetrics } from "./metrics.ts";
import { agentNetworkSpec } from "./network-spec.ts";
import { UserActing } from "./user-acting.ts";

export interface TrainedPolicyParts {
  saved: DecodedPolicy;
  /** The environment (as the agent's: a registered name, a constructor, or a VectorEnvSource). */
  env: EnvSource;
  /**
   * Whether `env` is the checkpoint's own name rather than one the caller gave: the registered
   * environment must then be able to take the run's saved environment state (see `create`).
   */
  envFromCheckpoint: boolean;
  gpu: Gpu;
  /** Whether `destroy` releases the device (it was made for this policy). */
  ownsGpu: boolean;
}

export class TrainedPolicy {
  readonly config: Readonly<StaqConfig>;
  readonly preset: string;
  readonly envName: string;
  /** The adapter the run trained on. */
  readonly trainedOn: string;
  readonly gpu: Gpu;
  readonly stack: Stack;
  readonly observationSize: number;
  readonly actionCount: number;
  /** The run's counters when the checkpoint was written. */
  readonly counters: Readonly<AgentCounters>;

  private readonly ownsGpu: boolean;
  private readonly evaluator: GreedyEvaluator;
  private readonly actor: Actor;
  private readonly acting: UserActing;
  private destroyed = false;
  /** Whether an evaluation is running: its episodes share the evaluation's environment copies. */
  private evaluating = false;

  private constructor(
    parts: TrainedPolicyParts,
    factory: EnvFactory,
    shape: { observationSize: number; actionCount: number },
    stack: Stack,
  ) {
    const { saved } = parts;
    this.config = Object.freeze({ ...saved.config, hidden: [...saved.config.hidden] });
    this.preset = saved.preset;
    this.envName = saved.envName;
    this.trainedOn = saved.adapter;
    this.counters = Object.freeze({ ...saved.counters });
    this.gpu = parts.gpu;
    this.ownsGpu = parts.ownsGpu;
    this.stack = stack;
    this.observationSize = shape.observationSize;
    this.actionCount = shape.actionCount;
    this.actor = createActor(stack, agentActorOptions(saved.config));
    this.evaluator = new GreedyEvaluator(factory, this.actor);
    this.acting = new UserActing(stack, saved.config, this);
  }

  /**
   * The policy of `parts.saved` on its environment. The environment must be the one the run
   * trained on (by name) and have its observation and action sizes; a device made for it is
   * released again when the policy cannot be made.
   */
  static create(parts: TrainedPolicyParts): TrainedPolicy {
    const { saved, gpu } = parts;
    let stack: Stack | undefined;
    try {
      const factory = envFactory(parts.env, saved.config.timeLimit);
      if (factory.envName !== saved.envName)
        throw new StaqInputError(`the checkpoint was trained on ${saved.envName}; the environment given is ${factory.envName}`);
      const shape = environmentShape(factory, parts.envFromCheckpoint ? saved : undefined);
      const mlp = agentNetworkSpec(saved.config, { name: saved.envName, ...shape });
      stack = createStack(gpu, {
        mlp,
        gamma: saved.config.gamma,
        ...agentStackSettings(saved.config, mlp.outputs),
        label: "staq trained policy",
      });
      stack.set(saved.stack);
      return new TrainedPolicy(parts, factory, shape, stack);
    } catch (error) {
      stack?.destroy();
      if (parts.ownsGpu) gpu.destroy();
      throw error;
    }
  }

  /** Environment steps the run had taken. */
  get globalStep(): number {
    return this.counters.globalStep;
  }

  /** Iterations the run had completed. */
  get iteration(): number {
    return this.counters.iteration;
  }

  /** ε of the behaviour policy at the run's last step (what `act` samples with). */
  get epsilon(): number {
    return epsilonAt(this.config, this.counters.globalStep);
  }

  /**
   * Greedy evaluation, as the agent's `evaluate`: `episodes` episodes (default: evalEpisodes) on
   * fresh copies of the environment, episode j reset with seed + j (default: the run's seed + 2^31).
   */
  async evaluate(options: { episodes?: number; seed?: number } = {}): Promise<EvaluationMetrics> {
    this.alive();
    checkOptionKeys(options, ["episodes", "seed"], "evaluate");
    if (this.evaluating)
      throw new StaqInputError("evaluate: an evaluation is still running on this policy; await it first (act may run beside it)");
    this.evaluating = true;
    try {
      return await this.evaluateNow(options);
    } catch (error) {
      // What fails once destroy() freed the stack mid-evaluation is a consequence, not the cause.
      throw this.destroyed ? new StaqInputError("evaluate: this trained policy was destroyed while evaluate ran", { cause: error }) : error;
    } finally {
      this.evaluating = false;
    }
  }

  private async evaluateNow(options: { episodes?: number; seed?: number }): Promise<EvaluationMetrics> {
    const { config, counters } = this;
    const started = performance.now();
    const results = await this.evaluator.evaluate(
      options.episodes ?? config.evalEpisodes,
      options.seed ?? (config.seed + 2 ** 31) % 2 ** 32,
    );
    return evaluationMetrics(
      {
        global_step: counters.globalStep,
        iteration: counters.iteration,
        time_s: counters.elapsedSeconds,
        seconds: (performance.now() - started) / 1000,
      },
      results.returns,
      results.lengths,
    );
  }

  /** Actions for a batch of observations, as the agent's `act`: the argmax with `greedy`, else a sample of its behaviour policy. */
  async act(obs: Float32Array, options: { greedy?: boolean } = {}): Promise<Uint32Array> {
    this.alive();
    checkOptionKeys(options, ["greedy"], "act");
    return this.acting.act(obs, options.greedy ?? false, this.epsilon);
  }

  /** Releases the stack and actors (and the device, when the policy made it) and closes the evaluation's environments. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.evaluator.close();
    this.acting.destroy();
    this.actor.destroy();
    this.stack.destroy();
    if (this.ownsGpu) this.gpu.destroy();
  }

  private alive(): void {
    if (this.destroyed) throw new StaqInputError("this trained policy was destroyed");
  }
}

/**
 * How the refusal of a run's saved environment state by the registered environment begins
 * (environmentShape): `staq eval` finds it by this, after the loader's prefix naming the
 * checkpoint, to add what the command can make.
 */
export const RUN_ENV_NOT_REGISTERED = "the run's environments are not the registered";

/**
 * The observation and action sizes of an environment (from copies made only to ask, closed again).
 * Given `saved`, the run's environment state is loaded into copies of it first: when no
 * environment was given and the registered one is not made as the run's was (a MinAtar game with
 * other sticky actions: its loadState refuses), the policy would be evaluated on another game.
 */
function environmentShape(
  factory: EnvFactory,
  saved?: Pick<DecodedPolicy, "envState" | "config" | "envName">,
): { observationShape: readonly number[]; observationSize: number; actionCount: number } {
  const env = factory.makeVector(saved?.envState ? saved.config.numEnvs : 1);
  try {
    if (saved?.envState && env.snapshots) {
      try {
        env.loadState(saved.envState);
      } catch (error) {
        if (!(error instanceof StaqInputError)) throw error;
        throw new StaqInputError(
          `${RUN_ENV_NOT_REGISTERED} ${saved.envName} as it is made now: ${error.message}; pass env, a function that makes the environment as the run did`,
          { cause: error },
        );
      }
    }
    return { observationShape: env.observationShape, observationSize: env.observationSize, actionCount: env.actionCount };
  } finally {
    env.close?.();
  }
}
