/**
 * The PyTorch-on-the-CPU baseline of the trainer benchmark: runs bench/pytorch_train.py (per
 * ensemble member an nn.Sequential Q-network — an MLP, optionally behind an nn.Conv2d — and a
 * target copy, MSE on Q(s, a) against r + γ(1 − done)·mean_e target_e(s')[a'], Adam, on one fixed
 * random batch) with a Python that has torch (findTorchPython from bench/pytorch-baseline.ts), and
 * returns its parsed JSON, or, when no Python with torch is found, why not.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConvSpec } from "../src/stack/conv.ts";
import { findTorchPython, PytorchUnavailableError, runPythonJson } from "./pytorch-baseline.ts";

export const PYTORCH_TRAIN_SCRIPT = fileURLToPath(new URL("./pytorch_train.py", import.meta.url));

export interface PytorchTrainConfig {
  /** Hidden width: the network is inputs → W → W → actions unless `hidden` is given. */
  width: number;
  batch: number;
  ensemble: number;
  /** Default 4 (CartPole). */
  inputs?: number;
  /** Default 2 (CartPole). */
  actions?: number;
  /** Hidden layer widths (default [width, width]). */
  hidden?: number[];
  /** An nn.Conv2d + ReLU first (src/stack/conv.ts): the state is an image flattened [H][W][C]; `inputs` must be H·W·C. */
  conv?: ConvSpec;
  /** K, the gradient steps per timed run (default: the script's --steps). */
  steps?: number;
  /** Untimed steps first (default: the script's --warmup). */
  warmup?: number;
}

export interface PytorchTrainConfigResult {
  /** The config as the script ran it: inputs and actions filled in. */
  config: Omit<PytorchTrainConfig, "inputs" | "actions"> & { inputs: number; actions: number };
  steps: number;
  warmup: number;
  repeats: number;
  /** Milliseconds per gradient step: each sample is one timed run of K steps, divided by K. */
  msPerStep: { median: number; min: number; max: number; samples: number[] };
  /** 1000 / msPerStep.median. */
  stepsPerSecond: number;
  finalLoss: number | null;
}

export interface PytorchTrainResult {
  torch: string;
  device: "cpu";
  /** torch.get_num_threads() after torch.set_num_threads(--threads). */
  threads: number;
  interopThreads: number;
  /** The BLAS libraries mapped into the process, and what they are ("OpenBLAS", "reference BLAS (netlib)", …). */
  blas: { libraries: string[]; name: string | null };
  /** From torch.__config__.show(): BLAS_INFO, LAPACK_INFO, USE_MKLDNN. */
  build: { blasInfo: string | null; lapackInfo: string | null; mkldnn: string | null };
  /** torch.__config__.parallel_info(). */
  parallelInfo: string;
  precision: string;
  step: string;
  lr: number;
  gamma: number;
  configs: PytorchTrainConfigResult[];
  /** With `check`: the step once in float64 on the given networks and batch. */
  check?: PytorchTrainCheckResult;
}

/** One layer's parameters, flat in PyTorch's row-major layout (Conv2d [F, C, kh, kw], nn.Linear [out, in]): staq's DenseLayer. */
export interface FlatLayer {
  weight: number[];
  bias: number[];
}

/** The networks and batch of a float64 check step (bench/pytorch_train.py --check). */
export interface PytorchTrainCheckInputs {
  /** The network (its steps and warmup are ignored). */
  config: PytorchTrainConfig;
  /** [member][layer]. */
  online: FlatLayer[][];
  /** [member][layer]: the target networks, as many as online. */
  target: FlatLayer[][];
  /** [B·inputs], images flattened [H][W][C] for a conv network. */
  states: number[];
  nextStates: number[];
  actions: number[];
  nextActions: number[];
  rewards: number[];
  /** 1 where the episode terminated, else 0. */
  done: number[];
}

export interface PytorchTrainCheckResult {
  /** Σ_e MSE(Q_e(s)[a], y). */
  loss: number;
  /** y = r + γ(1 − done)·mean_e target_e(s')[a'], [B]. */
  targets: number[];
  /** Per online member after the step: its gradient and its parameters after Adam, flat in PyTorch's parameter order. */
  members: { grads: number[]; params: number[] }[];
}

export interface PytorchTrainOptions {
  configs: PytorchTrainConfig[];
  /** torch.set_num_threads(threads): the threads staq gets. */
  threads: number;
  /** Default K for configs that do not set one (script default 200). */
  steps?: number;
  /** Timed runs per config (script default 3). */
  repeats?: number;
  warmup?: number;
  lr?: number;
  gamma?: number;
  seed?: number;
  /** A Python with torch; by default findTorchPython(). */
  python?: string;
  /** Kill the script after this long; default 30 min. */
  timeoutMs?: number;
  /** Also run one float64 step on these networks and this batch (the result's `check`). */
  check?: PytorchTrainCheckInputs;
}

/** Runs bench/pytorch_train.py; throws PytorchUnavailableError without torch, and an Error with its stderr when it fails. */
export async function runPytorchTrainBaseline(options: PytorchTrainOptions): Promise<PytorchTrainResult> {
  const { python } = findTorchPython(options.python);
  const args = [PYTORCH_TRAIN_SCRIPT, "--configs", JSON.stringify(options.configs), "--threads", String(options.threads)];
  const optional: [string, number | undefined][] = [
    ["--steps", options.steps],
    ["--repeats", options.repeats],
    ["--warmup", options.warmup],
    ["--lr", options.lr],
    ["--gamma", options.gamma],
    ["--seed", options.seed],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  let scratch: string | undefined;
  if (options.check) {
    scratch = mkdtempSync(join(tmpdir(), "staq-pytorch-train-"));
    const file = join(scratch, "check.json");
    writeFileSync(file, JSON.stringify(options.check));
    args.push("--check", file);
  }
  try {
    return await runPythonJson<PytorchTrainResult>(python, args, options.timeoutMs);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** runPytorchTrainBaseline, or `{ missing }` saying why there is no Python with torch (other failures still throw). */
export async function pytorchTrainBaselineOrMissing(options: PytorchTrainOptions): Promise<PytorchTrainResult | { missing: string }> {
  try {
    return await runPytorchTrainBaseline(options);
  } catch (error) {
    if (error instanceof PytorchUnavailableError) return { missing: error.message };
    throw error;
  }
}

/** Debian's OpenBLAS for libblas.so.3 (`npm run bench` installs it as root on Debian: scripts/torch-blas.ts). */
export const OPENBLAS_PACKAGE = "libopenblas0-pthread";

/**
 * Whether torch's matrix products run on an optimised BLAS: OpenBLAS, MKL or BLIS seen in the
 * process, or, when no BLAS library is seen (linked in statically, as in PyTorch's pip wheels),
 * one of those named by the build's BLAS_INFO.
 */
export function blasIsOptimised(blas: PytorchTrainResult["blas"], build: PytorchTrainResult["build"]): boolean {
  if (blas.name !== null) return /openblas|mkl|blis/i.test(blas.name);
  // BLAS_INFO: "mkl" (x86 wheels), "open" (OpenBLAS, aarch64 wheels), "accelerate" (macOS); "generic" is libblas.so.3.
  return /openblas|mkl|blis|accelerate|^open$/i.test(build.blasInfo ?? "");
}

/** One line for the report: torch's version, the BLAS it loaded and its threads. */
export function describeTorchCpu(result: PytorchTrainResult): string {
  const blas = result.blas.name ?? `not seen in the process (build: BLAS_INFO=${result.build.blasInfo ?? "?"})`;
  const libraries = result.blas.libraries.length ? ` (${result.blas.libraries.join(", ")})` : "";
  // Debian's python3-torch runs on whatever libblas.so.3 is: the reference BLAS unless OpenBLAS is installed.
  const fairness = blasIsOptimised(result.blas, result.build)
    ? ""
    : ` — not a fair baseline: on Debian run \`apt-get install ${OPENBLAS_PACKAGE}\` as root (what \`npm run bench\` does as root on Debian) so that PyTorch's products run on OpenBLAS`;
  return `PyTorch ${result.torch} on the CPU: BLAS ${blas}${libraries}; ${result.threads} threads (torch.set_num_threads), ${result.interopThreads} inter-op; BLAS_INFO=${result.build.blasInfo ?? "?"}, MKL-DNN ${result.build.mkldnn ?? "?"}${fairness}`;
}
