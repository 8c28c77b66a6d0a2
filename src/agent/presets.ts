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
  hidden: [256, 256],
  variant: "corrected",
  evalEvery: 100_000,
  evalEpisodes: 10,
  fullPrecomputeEvery: 0,
});

/**
 * The authors' MinAtar defaults: as classic control, with c_r = 200 and τ annealed over 1M steps.
 * Their Q-network is a 3×3 convolution with 16 channels, then 1024 → 128 → actions; staq has no
 * convolution layer yet, so this preset uses an MLP of the same widths on the flattened 10×10×C
 * frame (hidden 1024, 128). Run length: 5M steps (not part of the published defaults).
 */
export const PAPER_MINATAR: Readonly<StaqConfig> = Object.freeze({
  ...PAPER_CLASSIC,
  totalSteps: 5_000_000,
  rewardScale: 200,
  tauAnnealSteps: 1_000_000,
  hidden: [1024, 128],
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

export const PRESETS: Readonly<Record<string, Readonly<StaqConfig>>> = Object.freeze({
  "paper-classic": PAPER_CLASSIC,
  "paper-minatar": PAPER_MINATAR,
  quick: QUICK,
});

export type PresetName = "paper-classic" | "paper-minatar" | "quick";

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
