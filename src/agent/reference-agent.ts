/**
 * StaQ in one file, in float64: the algorithm that src/agent/staq-agent.ts runs on the GPU, as
 * one plain loop on the CPU, built from the float64 twins of the kernels. It is for reading (what
 * does an iteration do, in which order?) and for testing the GPU agent against
 * (test/agent/reference-agent.test.ts runs both side by side); it is far too slow for real runs.
 *
 * Every random draw is the GPU agent's, from the same counter-based Philox streams:
 *   - the sampled action of env copy i at actor step t: policyUniform(seed, t, i) (stream 0);
 *   - the minibatch of gradient step g: the keyed permutation minibatchIndices(size, B, seed', g);
 *   - the next action a' of batch position b at step g: Philox counter (b, g, STREAM_NEXT_ACTION);
 * with seed' = seed | 2^32 (SOFT_Q_FIT_STREAM, random-streams.ts). Given the same environment, the
 * two agents therefore take the same actions and train on the same rows, and their weights differ
 * only by float32 rounding (the GPU) against float64 (here).
 *
 * The only float32 steps here are those the twins define on float32 inputs: policyReference
 * takes the logits as float32 (so they are rounded once), and the sampled a' inverts a float32
 * running sum of π_k (nextActionFromProbs). Everything else is float64.
 */
import { StaqInputError } from "../errors.ts";
import type { Env } from "../envs/env.ts";
import { envFactory } from "./env-factory.ts";
import { agentNetworkSpec } from "./network-spec.ts";
import type { VectorEnv } from "../envs/vector-env.ts";
import { pmdStep, stackSlots } from "../pmd/coefficients.ts";
import { philox4x32, policyUniform, splitU64, STREAM_NEXT_ACTION, uniformFromPhilox } from "../random/philox.ts";
import { policyReference, sampleFromCdf } from "../policy/reference.ts";
import type { MlpSpec, MlpWeights } from "../stack/mlp.ts";
import { stackLogitsReference, type StackContents } from "../stack/reference.ts";
import { initialQNetworks } from "../train/initialisation.ts";
import { minibatchIndices } from "../train/minibatch-sampling.ts";
import {
  adamStep,
  createAdamState,
  flattenParameters,
  forwardActivations,
  lossAndGradient,
  toFloat64,
  unflattenParameters,
  type AdamOptions,
  type AdamState,
  type MlpWeights64,
} from "../train/reference.ts";
import { softBellmanTarget } from "../train/targets-reference.ts";
import { resolveConfig, type StaqConfig } from "./config.ts";
import { defaultPreset, presetConfig } from "./presets.ts";
import { epsilonAt } from "./algorithm.ts";
import { SOFT_Q_FIT_STREAM } from "./random-streams.ts";
import { tauAt } from "./tau-schedule.ts";

export interface ReferenceStaQOptions extends Partial<StaqConfig> {
  /** A registered environment name, or a function that builds a new copy (as StaQ.create takes). */
  env: string | (() => Env);
  /** The config to start from (default: as StaQ.create chooses). */
  preset?: string;
}

/** What one gradient step did. */
export interface ReferenceGradientStep {
  /** The global gradient step (the Philox step of its draws). */
  step: number;
  /** Whether the target networks were refreshed (hard copy) before it. */
  refreshedTargets: boolean;
  /** The replay rows of its minibatch, in batch order. */
  rows: Uint32Array;
  /** The soft-Bellman targets of those rows. */
  targets: Float64Array;
  /** Per ensemble member: the minibatch's mean loss and the gradient's norm before clipping. */
  loss: number[];
  gradNorm: number[];
}

/** What one iteration did, for reading and for comparing with the GPU agent. */
export interface ReferenceIteration {
  iteration: number;
  tau: number;
  /** The collected transitions, row t·N + i being env copy i at vector step t (what rollout.ts collects). */
  transitions: { obs: Float32Array; actions: Uint32Array; rewards: Float64Array; terminated: Uint8Array; nextObs: Float32Array };
  /** Per collected transition: its uniform draw, and the ε-softmax CDF [rows × A] it inverted. */
  actionDraws: { u: Float64Array; cdf: Float64Array };
  episodeReturns: number[];
  episodeLengths: number[];
  gradientSteps: ReferenceGradientStep[];
}

/** The float64 replay ring: src/train/replay-buffer.ts's rows, at the same places. */
export interface ReferenceReplay {
  capacity: number;
  size: number;
  /** The row the next transition is written to. */
  next: number;
  obs: Float32Array;
  actions: Uint32Array;
  rewards: Float64Array;
  terminated: Uint8Array;
  nextObs: Float32Array;
  /** π_k(·|s') [capacity × A] and H(π_k(·|s')) of each stored next state, from the last precompute. */
  probs: Float64Array;
  entropy: Float64Array;
}

/** The float64 stack: per member, the frozen snapshots oldest first, and the PMD coefficients. */
export interface ReferenceStack {
  snapshots: MlpWeights64[][];
  coefficients: Float64Array[];
  correction: number;
}

export class ReferenceStaQ {
  readonly config: Readonly<StaqConfig>;
  readonly spec: MlpSpec;
  readonly envs: VectorEnv;
  /** The observations the next rollout starts from. */
  obs: Float32Array;
  /** The active (online) Q-networks, flat in PyTorch order, one per ensemble member. */
  readonly online: Float64Array[];
  /** Their target networks. */
  readonly target: Float64Array[];
  readonly adam: AdamState[];
  readonly replay: ReferenceReplay;
  readonly stack: ReferenceStack;
  globalStep = 0;
  iteration = 0;
  /** The actor's Philox step: one per vector step (StaQ's counters.actStep). */
  actStep = 0;
  /** Gradient steps taken (SoftQFit.gradientSteps). */
  gradientSteps = 0;

  /** As StaQ.create: `preset` (or the env's default) with the given fields overridden. */
  constructor(options: ReferenceStaQOptions) {
    const { env, preset, ...overrides } = options;
    const envName = typeof env === "string" ? env : "";
    this.config = resolveConfig(presetConfig(preset ?? defaultPreset(envName)), overrides);
    const config = this.config;
    if (config.algo !== "staq")
      throw new StaqInputError(
        `the reference agent runs StaQ only; algo ${JSON.stringify(config.algo)} has no float64 twin of the whole agent`,
      );
    this.envs = envFactory(env, config.timeLimit).makeVector(config.numEnvs);
    if (this.envs.actionCount < 2) throw new StaqInputError(`the environment has ${this.envs.actionCount} action; StaQ needs at least 2`);
    this.spec = agentNetworkSpec(config, this.envs);
    const { inputs, outputs } = this.spec;

    // The initial networks (src/train/initialisation.ts): PyTorch's default init for the hidden
    // layers and a zero head, so Q_0 ≡ 0; member e from seed·64 + e, as StaQ.create seeds them.
    // The target networks start as copies (MlpTrainer.setWeights writes both), Adam from zero.
    const initial = initialQNetworks(this.spec, config.ensemble, config.seed * 64);
    this.online = initial.map((w) => flattenParameters(toFloat64(w)));
    this.target = this.online.map((p) => p.slice());
    this.adam = this.online.map((p) => createAdamState(p.length));

    const capacity = config.replayCapacity;
    this.replay = {
      capacity,
      size: 0,
      next: 0,
      obs: new Float32Array(capacity * inputs),
      actions: new Uint32Array(capacity),
      rewards: new Float64Array(capacity),
      terminated: new Uint8Array(capacity),
      nextObs: new Float32Array(capacity * inputs),
      probs: new Float64Array(capacity * outputs),
      entropy: new Float64Array(capacity),
    };
    // An empty stack: its logits are all zero, so π_0 is uniform (stack-logits.ts does the same).
    this.stack = { snapshots: initial.map(() => []), coefficients: initial.map(() => new Float64Array(0)), correction: 1 };
    // Copy i resets with seed + i (Gymnasium's convention, VectorEnv.reset).
    this.obs = this.envs.reset({ seed: config.seed });
  }

  /** τ of the next iteration: annealed over the environment steps taken (StaQ.tau). */
  get tau(): number {
    return tauAt(this.config, this.globalStep, this.spec.outputs);
  }

  /** The stack's logits ξ_k(s) = correction · mean_e Σ_i c[e,i] Q_{e,i}(s), [batch × A], float64. */
  logits(states: Float32Array): Float64Array {
    return stackLogitsReference(this.stackContents(), states, states.length / this.spec.inputs).logits;
  }

  /** One iteration: collect, precompute π_k, evaluate it (K gradient steps), push. */
  iterate(): ReferenceIteration {
    const { config, spec, replay, envs } = this;
    const { inputs, outputs: A } = spec;
    const E = config.ensemble;
    // τ is fixed for the whole iteration, from the steps taken before it (StaQ.iterate).
    const tau = this.tau;

    // 1. Collect (src/agent/rollout.ts, acting through src/policy/actor.ts): every vector step,
    //    the stack's logits of the N observations, the ε-softmax behaviour policy, and a draw
    //    u = policyUniform(seed, actStep, row) inverted through its CDF (shaders/policy.wgsl).
    const N = envs.count;
    const vectorSteps = config.stepsPerIteration / N;
    const rows = vectorSteps * N;
    const transitions = {
      obs: new Float32Array(rows * inputs),
      actions: new Uint32Array(rows),
      rewards: new Float64Array(rows),
      terminated: new Uint8Array(rows),
      nextObs: new Float32Array(rows * inputs),
    };
    const actionDraws = { u: new Float64Array(rows), cdf: new Float64Array(rows * A) };
    const episodeReturns: number[] = [];
    const episodeLengths: number[] = [];
    for (let t = 0; t < vectorSteps; t++) {
      // ε follows its schedule (constant unless epsilonDecaySteps > 0) from this vector step's first environment step.
      const epsilon = epsilonAt(config, this.globalStep + t * N);
      const behaviour = policyReference(Float32Array.from(this.logits(this.obs)), A, epsilon);
      const actions = new Uint32Array(N);
      for (let i = 0; i < N; i++) {
        const u = policyUniform(config.seed, this.actStep, i);
        actions[i] = sampleFromCdf(behaviour.cdf, i * A, A, u);
        actionDraws.u[t * N + i] = u;
      }
      actionDraws.cdf.set(behaviour.cdf, t * N * A);
      this.actStep++;
      const step = envs.step(actions);
      for (let i = 0; i < N; i++) {
        const row = t * N + i;
        // A copy that reset itself returns the new episode's first observation; the transition's
        // next state is the finished episode's last one, so a truncated episode still bootstraps
        // from where it stopped (only `terminated` ends the return).
        const final = step.finalObs[i];
        transitions.obs.set(this.obs.subarray(i * inputs, (i + 1) * inputs), row * inputs);
        transitions.actions[row] = actions[i];
        transitions.rewards[row] = step.rewards[i];
        transitions.terminated[row] = step.terminated[i];
        transitions.nextObs.set(final ?? step.obs.subarray(i * inputs, (i + 1) * inputs), row * inputs);
        if (final !== null) {
          episodeReturns.push(step.episodeReturns[i]);
          episodeLengths.push(step.episodeLengths[i]);
        }
      }
      this.obs = step.obs;
    }
    this.globalStep += config.stepsPerIteration;

    //    Into the FIFO ring (ReplayBuffer.add): each row at the write position, which wraps, so
    //    once full the oldest rows are overwritten in place and stored order is not time order.
    for (let row = 0; row < rows; row++) {
      const at = replay.next;
      replay.obs.set(transitions.obs.subarray(row * inputs, (row + 1) * inputs), at * inputs);
      replay.actions[at] = transitions.actions[row];
      replay.rewards[at] = transitions.rewards[row];
      replay.terminated[at] = transitions.terminated[row];
      replay.nextObs.set(transitions.nextObs.subarray(row * inputs, (row + 1) * inputs), at * inputs);
      replay.next = (at + 1) % replay.capacity;
      replay.size = Math.min(replay.capacity, replay.size + 1);
    }

    // Until learningStarts steps are stored, an iteration only collects.
    if (this.globalStep < config.learningStarts) {
      this.iteration++;
      return { iteration: this.iteration, tau, transitions, actionDraws, episodeReturns, episodeLengths, gradientSteps: [] };
    }

    // 2. Precompute (ReplayBuffer.precomputePolicy): π_k only changes at a push, so π_k(·|s') and
    //    its entropy are evaluated once per iteration on every stored next state; the targets
    //    then only read them. ε = 0: the targets use π_k itself, not the behaviour policy.
    const precomputed = policyReference(Float32Array.from(this.logits(replay.nextObs.subarray(0, replay.size * inputs))), A, 0);
    replay.probs.set(precomputed.probs);
    replay.entropy.set(precomputed.entropy);

    // 3. The soft Q fit (src/train/soft-q-fit.ts): K gradient steps fit the active
    //    networks, warm-started from the last iteration, to the soft Q-function of π_k.
    const fitSeed = BigInt(config.seed) | SOFT_Q_FIT_STREAM;
    const [seedLo, seedHi] = splitU64(fitSeed);
    // The trainer's Adam (createMlpTrainer in staq-agent.ts): clipping only when maxGradNorm > 0;
    // no weight decay (StaqConfig has none, so ADAM_DEFAULTS' 0); β1, β2 PyTorch's defaults.
    const adamOptions: AdamOptions = {
      lr: config.lr,
      eps: config.adamEps,
      maxGradNorm: config.maxGradNorm > 0 ? config.maxGradNorm : undefined,
    };
    const B = config.batchSize;
    const gradientSteps: ReferenceGradientStep[] = [];
    for (let j = 0; j < config.gradientSteps; j++) {
      const step = this.gradientSteps + j;
      // Hard target refresh before steps 0, T, 2T, … of each evaluation call (train_polyak.wgsl
      // with HARD, encoded before the step's sampling): every iteration starts with one.
      const refreshedTargets = j % config.targetUpdateEvery === 0;
      if (refreshedTargets) this.online.forEach((p, e) => this.target[e].set(p));

      //    a. The minibatch: B distinct rows of [0, size), a keyed permutation of (seed', step)
      //       (shaders/replay_sample.wgsl, twin minibatch-sampling.ts), gathered in batch order.
      const batchRows = minibatchIndices(replay.size, B, fitSeed, step);
      const states = new Float32Array(B * inputs);
      const nextStates = new Float32Array(B * inputs);
      const actions = new Uint32Array(B);
      batchRows.forEach((i, b) => {
        states.set(replay.obs.subarray(i * inputs, (i + 1) * inputs), b * inputs);
        nextStates.set(replay.nextObs.subarray(i * inputs, (i + 1) * inputs), b * inputs);
        actions[b] = replay.actions[i];
      });

      //    b. The target networks on the next states (the trainer's forward pass runs them beside
      //       the online ones), then y = c_r·r + γ(1 − terminated)[mean_e Q̄_e(s', a') + τ H(π_k(·|s'))]
      //       (shaders/train_targets.wgsl, twin targets-reference.ts), a' drawn with
      //       u from Philox counter (b, step, STREAM_NEXT_ACTION) under seed' (or the expectation).
      const targetQ = this.target.map((p) => forwardActivations(spec, unflattenParameters(spec, p), nextStates, B).at(-1)!);
      const [stepLo, stepHi] = splitU64(step);
      const targets = Float64Array.from(batchRows, (i, b) =>
        softBellmanTarget(
          {
            reward: replay.rewards[i],
            terminated: replay.terminated[i] === 1,
            probs: replay.probs.subarray(i * A, (i + 1) * A),
            entropy: replay.entropy[i],
            targetQ: targetQ.map((q) => q.subarray(b * A, (b + 1) * A)),
            u: uniformFromPhilox(philox4x32([b, stepLo, stepHi, STREAM_NEXT_ACTION], [seedLo, seedHi])[0]),
          },
          { rewardScale: config.rewardScale, gamma: config.gamma, tau, nextAction: config.nextAction },
        ),
      );

      //    c. Every member, on the same minibatch and targets: the MSE/Huber loss of the taken
      //       actions' Q values, backprop, and one Adam step with the gradient's norm clipped
      //       (shaders/train_{loss,weight_grad,backward_input,grad_norm,adam}.wgsl, twin train/reference.ts).
      const loss: number[] = [];
      const gradNorm: number[] = [];
      for (let e = 0; e < E; e++) {
        const fit = lossAndGradient(spec, unflattenParameters(spec, this.online[e]), { states, actions, targets }, { loss: config.loss });
        loss.push(fit.loss);
        gradNorm.push(adamStep(this.online[e], flattenParameters(fit.grads), this.adam[e], adamOptions));
      }
      gradientSteps.push({ step, refreshedTargets, rows: batchRows, targets, loss, gradNorm });
    }
    this.gradientSteps += config.gradientSteps;

    // 4. Push (src/train/push-snapshot.ts → Stack.pushFromBuffer): the active networks are frozen
    //    as each member's newest snapshot, the oldest dropped beyond M, and the coefficients take
    //    one PMD step with this iteration's τ (src/pmd/coefficients.ts): c ← (β·c, α), then the
    //    correction of the variant. The active networks keep training from here next iteration.
    const pmd = { eta: config.eta, tau, memory: config.memory, variant: config.variant, rule: config.stackRule };
    for (let e = 0; e < E; e++) {
      this.stack.snapshots[e].push(unflattenParameters(spec, this.online[e]));
      if (this.stack.snapshots[e].length > stackSlots(config.memory, config.stackRule)) this.stack.snapshots[e].shift();
    }
    const stepped = this.stack.coefficients.map((c) => pmdStep(c, pmd));
    this.stack.coefficients = stepped.map((s) => s.coefficients);
    this.stack.correction = stepped[0].correction;
    this.iteration++;

    return { iteration: this.iteration, tau, transitions, actionDraws, episodeReturns, episodeLengths, gradientSteps };
  }

  /** The stack as stack/reference.ts takes it. */
  stackContents(): StackContents {
    // stackLogitsReference only reads the weights as numbers; MlpWeights names Float32Array, so the
    // float64 snapshots are passed through a cast rather than rounded.
    const snapshots = this.stack.snapshots.map((member) => member.map((w) => w as unknown as MlpWeights));
    return { spec: this.spec, snapshots, coefficients: this.stack.coefficients, correction: this.stack.correction };
  }
}
