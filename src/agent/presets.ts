/**
 * Named starting points for a config: plain objects, every field spelled out, so a reader sees the
 * whole setting in one place. Any field can be overridden (API: `StaQ.create({ preset, ...fields })`;
 * command line: `--preset quick --lr 3e-4`).
 */
import { StaqInputError } from "../errors.ts";
import type { Algo, StaqConfig } from "./config.ts";

/**
 * The StaQ authors' published defaults for classic control (docs/algorithm.md, “The published defaults”): 5000 environment steps and
 * 5000 gradient steps (batch 256, Adam 1e-4, MSE, hard target copy every 200) per iteration, a 50k
 * FIFO replay buffer, M = 300, η = 20, τ from 2.0/ln|A| to 0.4/ln|A| over 500k steps, γ = 0.99,
 * ε = 0.05, c_r = 10, an ensemble of 2 MLPs 2×256, 10 greedy episodes every 100k steps.
 * The run length is not part of the published defaults; 1M steps is twice the annealing.
 */
export const PAPER_CLASSIC: Readonly<StaqConfig> = Object.freeze({
  algo: "staq",
  seed: 0,
  numEnvs: 8,
  stepsPerIteration: 5000,
  totalSteps: 1_000_000,
  replayCapacity: 50_000,
  gradientSteps: 5000,
  batchSize: 256,
  lr: 1e-4,
  adamEps: 1e-8,
  maxGradNorm: 0,
  loss: "mse",
  targetUpdateEvery: 200,
  nextAction: "sample",
  rewardScale: 10,
  gamma: 0.99,
  memory: 300,
  eta: 20,
  tauStart: 2.0,
  tauEnd: 0.4,
  tauAnnealSteps: 500_000,
  epsilon: 0.05,
  epsilonStart: 0.05,
  epsilonDecaySteps: 0,
  learningStarts: 0,
  munchausenAlpha: 0.9,
  munchausenTau: 0.03,
  munchausenClip: -1,
  policySteps: 5000,
  policyLr: 1e-4,
  smoothnessState: 0,
  smoothnessTransition: 0,
  smoothnessSigma: 0.01,
  ensemble: 2,
  convFilters: 0,
  hidden: [256, 256],
  variant: "corrected",
  stackRule: "exact",
  timeLimit: 0,
  evalEvery: 100_000,
  evalEpisodes: 10,
  fullPrecomputeEvery: 0,
});

/**
 * The authors' MinAtar defaults: as classic control, with c_r = 200, τ annealed over 1M steps and
 * episodes cut at 5000 steps (their TimeLimit wrapper). Their Q-network: Conv2d(C → 16, 3×3,
 * stride 1, no padding) + ReLU, flatten (16·8·8 = 1024), Linear 1024 → 128 + ReLU, a
 * zero-initialised head. They use the minimal action sets: run it on the "-v1" environments
 * (MinAtar/Breakout-v1, …). Run length: 5M steps (not part of the published defaults).
 */
export const PAPER_MINATAR: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  totalSteps: 5_000_000,
  rewardScale: 200,
  tauAnnealSteps: 1_000_000,
  convFilters: 16,
  hidden: [128],
  timeLimit: 5000,
});

/**
 * Small and fast, tuned so that CartPole-v1 and Acrobot-v1 learn within minutes on a 2-core
 * machine without a GPU (the README shows the curves): 2×64 networks, M = 30, 1000 environment
 * steps and 1000 gradient steps (batch 64, Adam 1e-3) per iteration.
 *
 * The reward scale is 1 rather than 10, with η and τ scaled down by 10 as well: PMD's policies are
 * unchanged by scaling rewards, η and τ together (the logits αQ are scale-free), while Q values
 * 10× smaller are reached in 10× fewer Adam steps of a given size.
 */
export const QUICK: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  numEnvs: 8,
  stepsPerIteration: 1000,
  totalSteps: 50_000,
  replayCapacity: 20_000,
  gradientSteps: 1000,
  batchSize: 64,
  lr: 1e-3,
  targetUpdateEvery: 100,
  rewardScale: 1,
  memory: 30,
  eta: 2,
  tauStart: 0.2,
  tauEnd: 0.04,
  tauAnnealSteps: 50_000,
  policySteps: 1000,
  policyLr: 1e-3,
  hidden: [64, 64],
  evalEvery: 5000,
  evalEpisodes: 10,
});

/**
 * `quick` for LunarLander-v3, tuned to learn it on a 2-core machine without a GPU in about half an
 * hour (docs/acceptance-lunar): `quick`'s agent, with 400k steps (τ annealed over all of them) and
 * a replay buffer of 100k transitions. The lander's episodes last up to 1000 steps, and with
 * `quick`'s 20k buffer the landings of one stretch of training were gone from it by the next; the
 * agent then settled into hovering until the time limit (a return near −20, the crash it avoids
 * costing −100). A larger batch or wider layers would cost more than the extra steps on a CPU adapter.
 */
export const QUICK_LUNAR: Readonly<StaqConfig> = Object.freeze({
  ...QUICK,
  totalSteps: 400_000,
  replayCapacity: 100_000,
  tauAnnealSteps: 400_000,
  evalEvery: 25_000,
});

/**
 * `quick` for MinAtar, tuned to learn on a 2-core machine without a GPU within half an hour
 * (docs/acceptance-minatar): the paper's network shape scaled down (a 3×3 convolution with 8
 * filters, then 512 → 64 → actions), batch 32, and 250 gradient steps per 1000 environment steps
 * (the trainer, not the environments, is what a CPU adapter spends its time on); τ annealed over
 * 50k steps, episodes cut at 5000 steps as the paper's, 60k steps. Run it on the "-v1" games.
 */
export const QUICK_MINATAR: Readonly<StaqConfig> = Object.freeze({
  ...QUICK,
  totalSteps: 60_000,
  gradientSteps: 250,
  batchSize: 32,
  tauAnnealSteps: 50_000,
  convFilters: 8,
  hidden: [64],
  timeLimit: 5000,
});

/**
 * DQN (Mnih et al. 2015) with CleanRL's CartPole settings (cleanrl/dqn.py's defaults): a 120-84
 * MLP, Adam 2.5e-4, batch 128, MSE, a 10k buffer, one gradient step per 10 environment steps after
 * 10k, the target network copied every 500 environment steps (50 gradient steps), ε from 1 to 0.05
 * over half of the 500k steps. One environment copy, as CleanRL's; greedy evaluations every 10k steps.
 */
export const DQN_CLEANRL: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  algo: "dqn",
  numEnvs: 1,
  stepsPerIteration: 10,
  totalSteps: 500_000,
  replayCapacity: 10_000,
  gradientSteps: 1,
  batchSize: 128,
  lr: 2.5e-4,
  targetUpdateEvery: 50,
  rewardScale: 1,
  epsilon: 0.05,
  epsilonStart: 1,
  epsilonDecaySteps: 250_000,
  learningStarts: 10_000,
  ensemble: 1,
  hidden: [120, 84],
  evalEvery: 10_000,
  evalEpisodes: 10,
});

/**
 * DQN for a CPU in minutes: rl-baselines3-zoo's tuned CartPole-v1 settings (hyperparams/dqn.yml):
 * 50k steps (51 200 here: whole iterations of 256), a 256-256 MLP, Adam 2.3e-3, batch 64, Huber loss (SB3's), 128 gradient steps after every
 * 256 environment steps from step 1000, the target network refreshed before each of those bursts,
 * ε from 1 to 0.04 over the first 16% of the run. 8 environment copies instead of 1 (the same
 * transitions per iteration, fewer GPU calls); greedy evaluations every 5000 steps as `quick`.
 */
export const DQN_QUICK: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  algo: "dqn",
  numEnvs: 8,
  stepsPerIteration: 256,
  totalSteps: 51_200,
  replayCapacity: 50_000,
  gradientSteps: 128,
  batchSize: 64,
  lr: 2.3e-3,
  loss: "huber",
  targetUpdateEvery: 128,
  rewardScale: 1,
  epsilon: 0.04,
  epsilonStart: 1,
  epsilonDecaySteps: 8000,
  learningStarts: 1000,
  ensemble: 1,
  hidden: [256, 256],
  evalEvery: 5000,
  evalEpisodes: 10,
});

/**
 * DQN on MinAtar as Young & Tian (2019) ran it: their network (Conv2d 16 3×3 + ReLU, Linear 128 +
 * ReLU, the head), batch 32, a 100k buffer, one gradient step per environment step after 5000, the
 * target network copied every 1000 steps, ε from 1 to 0.1 over 100k steps, 5M steps; Adam 2.5e-4 in
 * place of their RMSProp (as later MinAtar baselines do), episodes cut at 5000 steps as StaQ's.
 * Their ratio of gradient steps to environment steps is kept, in bursts of 100 of each (an
 * iteration): acting with a network up to 100 steps old, for 100× fewer GPU round trips and log lines.
 */
export const DQN_MINATAR: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  algo: "dqn",
  numEnvs: 1,
  stepsPerIteration: 100,
  totalSteps: 5_000_000,
  replayCapacity: 100_000,
  gradientSteps: 100,
  batchSize: 32,
  lr: 2.5e-4,
  loss: "huber",
  targetUpdateEvery: 1000,
  rewardScale: 1,
  epsilon: 0.1,
  epsilonStart: 1,
  epsilonDecaySteps: 100_000,
  learningStarts: 5000,
  ensemble: 1,
  convFilters: 16,
  hidden: [128],
  timeLimit: 5000,
  evalEvery: 100_000,
  evalEpisodes: 10,
});

/**
 * M-DQN (Vieillard, Pietquin & Geist 2020) on a DQN preset: their settings of the Munchausen term,
 * α = 0.9, τ = 0.03, l₀ = −1, and everything else as the DQN preset it extends (the paper tuned
 * on Atari; on classic control and MinAtar, sharing DQN's settings keeps the comparison about the
 * backup alone).
 */
function munchausen(dqn: Readonly<StaqConfig>): Readonly<StaqConfig> {
  return Object.freeze({ ...dqn, algo: "mdqn", munchausenAlpha: 0.9, munchausenTau: 0.03, munchausenClip: -1 });
}

/**
 * Discrete, off-policy MDPO (docs/baselines.md) on a StaQ preset: the same critic, η, τ schedule,
 * ε-softmax behaviour and budgets, and a policy network of the Q-network's shape fitted by
 * policySteps Adam steps (rate policyLr) per iteration, as many as the critic's. MDPO's official
 * code is for continuous actions only, so there are no published discrete settings; StaQ's make
 * MDPO-vs-StaQ measure the error of fitting the PMD step instead of stacking it, and nothing else.
 */
function mdpo(staq: Readonly<StaqConfig>): Readonly<StaqConfig> {
  return Object.freeze({ ...staq, algo: "mdpo", policySteps: staq.gradientSteps, policyLr: staq.lr });
}

export const PRESETS: Readonly<Record<string, Readonly<StaqConfig>>> = Object.freeze({
  "paper-classic": PAPER_CLASSIC,
  "paper-minatar": PAPER_MINATAR,
  quick: QUICK,
  "quick-minatar": QUICK_MINATAR,
  "quick-lunar": QUICK_LUNAR,
  "dqn-cleanrl": DQN_CLEANRL,
  "dqn-quick": DQN_QUICK,
  "dqn-minatar": DQN_MINATAR,
  "mdqn-cleanrl": munchausen(DQN_CLEANRL),
  "mdqn-quick": munchausen(DQN_QUICK),
  "mdqn-minatar": munchausen(DQN_MINATAR),
  "mdpo-classic": mdpo(PAPER_CLASSIC),
  "mdpo-minatar": mdpo(PAPER_MINATAR),
  "mdpo-quick": mdpo(QUICK),
  "mdpo-quick-minatar": mdpo(QUICK_MINATAR),
});

export type PresetName = keyof typeof PRESETS;

/**
 * The preset called `name`; an unknown name is an error listing the presets. With `algo`, a name
 * is looked up among that algorithm's presets first: ("quick", "dqn") is dqn-quick.
 */
export function presetConfig(name: string, algo?: Algo): StaqConfig {
  const own = presetName(name, algo);
  const preset = Object.hasOwn(PRESETS, own) ? PRESETS[own] : undefined;
  if (!preset) throw new StaqInputError(`unknown preset ${JSON.stringify(name)}; the presets are: ${Object.keys(PRESETS).join(", ")}`);
  return { ...preset, hidden: [...preset.hidden] };
}

/** The name `presetConfig(name, algo)` resolves to: "dqn-quick" for ("quick", "dqn"). */
export function presetName(name: string, algo?: Algo): string {
  return algo !== undefined && algo !== "staq" && Object.hasOwn(PRESETS, `${algo}-${name}`) ? `${algo}-${name}` : name;
}

/**
 * The preset a run uses when none is named: for StaQ paper-minatar on MinAtar games, paper-classic
 * otherwise; for a baseline its published settings (<algo>-minatar; dqn-cleanrl, mdqn-cleanrl and,
 * for MDPO, which has none for discrete actions, StaQ's: mdpo-classic).
 */
export function defaultPreset(envName: string, algo: Algo = "staq"): string {
  const minatar = envName.startsWith("MinAtar/");
  if (algo === "staq") return minatar ? "paper-minatar" : "paper-classic";
  if (minatar) return `${algo}-minatar`;
  return algo === "mdpo" ? "mdpo-classic" : `${algo}-cleanrl`;
}
