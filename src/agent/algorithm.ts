/**
 * What the algorithm (`config.algo`) changes in the shared agent (staq-agent.ts). Everything else —
 * the vector environments, the GPU replay buffer, the trainer and its kernels, the logs, the
 * checkpoints — is the same for every algorithm, so a comparison between them is about the
 * algorithms alone (docs/baselines.md).
 *
 *              acting                     regression target of Q(s, a)                   after the fit
 *   staq       ε-softmax of the stack     c_r r + γ[Q̄(s', a' ~ π_k) + τ H(π_k(·|s'))]   push: PMD step of the stack
 *   dqn        ε-greedy on Q              c_r r + γ max_a' Q̄(s', a')                      Q becomes the acting network
 *   mdqn       ε-greedy on Q              c_r r + α[τ log π̄(a|s)]_{l₀}^0                 Q becomes the acting network
 *                                           + γ Σ_a' π̄(a'|s')(Q̄(s', a') − τ log π̄(a'|s'))
 *   mdpo       ε-softmax of π_θ           as staq, with π_θ for π_k                       policySteps Adam steps fit π_θ to
 *                                                                                         the PMD step; π_θ becomes the acting network
 *
 * (π̄ = softmax(Q̄/τ) of the target networks; γ's term vanishes on termination.) A baseline's acting
 * network is a stack of one snapshot whose logits are exactly its network's outputs (Q-values, or
 * π_θ's logits): memory 1, η = 0 and τ = 1 make the PMD step's coefficient α = 1/(η+τ) = 1 with
 * correction 1/(1 − β¹) = 1 (β = 0).
 */
import type { SmoothnessOptions, TargetRule } from "../train/soft-q-fit.ts";
import { linearEpsilon } from "../policy/epsilon-schedule.ts";
import type { StaqConfig } from "./config.ts";
import { tauAt } from "./tau-schedule.ts";

/** A baseline's one-snapshot stack: logits = Q exactly (see the file's comment). */
export const PLAIN_NETWORK_STACK = { memory: 1, eta: 0, tau: 1, variant: "corrected" } as const;

/**
 * The settings of the agent's acting stack (createStack's, less the network and γ): StaQ's stack
 * of frozen Q-functions, or a baseline's acting network: MDPO's is its one policy network, DQN's
 * and M-DQN's their Q-networks. τ is the first iteration's; a restore sets the saved one.
 */
export function agentStackSettings(config: StaqConfig, actions: number) {
  return isBaseline(config)
    ? { ...PLAIN_NETWORK_STACK, ensemble: config.algo === "mdpo" ? 1 : config.ensemble }
    : {
        memory: config.memory,
        eta: config.eta,
        tau: iterationTau(config, 0, actions),
        variant: config.variant,
        rule: config.stackRule,
        ensemble: config.ensemble,
      };
}

/**
 * The agent's actor, which collects and evaluates: its batch is the vector env's copies or one
 * round of evaluation episodes; collection samples with the run's seed (random-streams.ts).
 */
export function agentActorOptions(config: StaqConfig) {
  return {
    maxBatch: Math.max(config.numEnvs, config.evalEpisodes),
    epsilon: config.epsilon,
    behaviour: behaviourKind(config),
    seed: config.seed,
  };
}

export function isBaseline(config: Pick<StaqConfig, "algo">): boolean {
  return config.algo !== "staq";
}

/** The regression target of the algorithm's Q fit. */
export function targetRule(config: StaqConfig): TargetRule {
  switch (config.algo) {
    case "staq":
    case "mdpo":
      return { kind: "soft", nextAction: config.nextAction };
    case "dqn":
      return { kind: "max" };
    case "mdqn":
      return { kind: "munchausen", alpha: config.munchausenAlpha, clipMin: config.munchausenClip };
  }
}

/**
 * τ of the iteration that starts after `envSteps` steps: StaQ's annealed entropy weight (its fit's
 * entropy bonus and PMD step; MDPO's too), M-DQN's fixed temperature, 0 for DQN (no entropy term).
 */
export function iterationTau(config: StaqConfig, envSteps: number, actions: number): number {
  switch (config.algo) {
    case "staq":
    case "mdpo":
      return tauAt(config, envSteps, actions);
    case "dqn":
      return 0;
    case "mdqn":
      return config.munchausenTau;
  }
}

/** The behaviour policy's kind: ε-softmax of the stack's logits (StaQ, MDPO) or ε-greedy on Q (DQN, M-DQN). */
export function behaviourKind(config: Pick<StaqConfig, "algo">): "softmax" | "greedy" {
  return config.algo === "dqn" || config.algo === "mdqn" ? "greedy" : "softmax";
}

/** Whether the fit's targets read π_k(·|s') from the replay buffer, which must then be precomputed. */
export function readsPolicy(config: Pick<StaqConfig, "algo">): boolean {
  return config.algo === "staq" || config.algo === "mdpo";
}

/** ε after `envSteps` environment steps: linear from epsilonStart to epsilon over epsilonDecaySteps. */
export function epsilonAt(config: Pick<StaqConfig, "epsilon" | "epsilonStart" | "epsilonDecaySteps">, envSteps: number): number {
  return linearEpsilon({ start: config.epsilonStart, end: config.epsilon, decaySteps: config.epsilonDecaySteps }, envSteps);
}

/** The critic's PAVE-style smoothness penalty (any algorithm), or undefined when both λ are 0. */
export function agentSmoothness(config: StaqConfig): SmoothnessOptions | undefined {
  if (config.smoothnessState === 0 && config.smoothnessTransition === 0) return undefined;
  return { state: config.smoothnessState, transition: config.smoothnessTransition, sigma: config.smoothnessSigma };
}
