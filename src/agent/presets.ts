/**
 * Named starting points for a config: plain objects, every field spelled out, so a reader sees the
 * whole setting in one place. Any field can be overridden (API: `StaQ.create({ preset, ...fields })`;
 * command line: `--preset quick --lr 3e-4`).
 */
import { StaqInputError } from "../errors.ts";
import type { StaqConfig } from "./config.ts";

/**
 * The StaQ authors' published defaults for classic control (docs/algorithm.md, “The published defaults”): 5000 environment steps and
 * 5000 gradient steps (batch 256, Adam 1e-4, MSE, hard target copy every 200) per iteration, a 50k
 * FIFO replay buffer, M = 300, η = 20, τ from 2.0/ln|A| to 0.4/ln|A| over 500k steps, γ = 0.99,
 * ε = 0.05, c_r = 10, an ensemble of 2 MLPs 2×256, 10 greedy episodes every 100k steps.
 * The run length is not part of the published defaults; 1M steps is twice the annealing.
 */
export const PAPER_CLASSIC: Readonly<StaqConfig> = Object.freeze({
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
  ensemble: 2,
  convFilters: 0,
  hidden: [256, 256],
  variant: "corrected",
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
  hidden: [64, 64],
  evalEvery: 5000,
  evalEpisodes: 10,
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

export const PRESETS: Readonly<Record<string, Readonly<StaqConfig>>> = Object.freeze({
  "paper-classic": PAPER_CLASSIC,
  "paper-minatar": PAPER_MINATAR,
  quick: QUICK,
  "quick-minatar": QUICK_MINATAR,
});

export type PresetName = "paper-classic" | "paper-minatar" | "quick" | "quick-minatar";

/** The preset called `name`; an unknown name is an error listing the presets. */
export function presetConfig(name: string): StaqConfig {
  const preset = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!preset) throw new StaqInputError(`unknown preset ${JSON.stringify(name)}; the presets are: ${Object.keys(PRESETS).join(", ")}`);
  return { ...preset, hidden: [...preset.hidden] };
}

/** The preset a run uses when none is named: paper-minatar for MinAtar games, paper-classic otherwise. */
export function defaultPreset(envName: string): PresetName {
  return envName.startsWith("MinAtar/") ? "paper-minatar" : "paper-classic";
}
