/**
 * `staq fit --net IN.safetensors --batch BATCH.json --steps K --lr LR [--beta1 B1] [--beta2 B2]
 * [--eps EPS] --out OUT.safetensors`: K full-batch Adam steps of the GPU trainer on the MSE of the
 * taken actions' Q values, from a network file to a network file (src/io/network-file.ts). With it
 * anyone can check staq's trainer against another framework: torch.optim.Adam on the same inputs
 * gives the same weights to float32 accuracy (test/cross-check/fit-torch.test.ts).
 */
import { readFile } from "node:fs/promises";
import { StaqError, StaqFormatError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { float32Problem } from "../io/float32-range.ts";
import { networkToSafetensors, parseTrainingBatchJson, readNetworkFile, type NetworkFileContents } from "../io/network-file.ts";
import { createGpu } from "../node/create-gpu.ts";
import { fileError, writeFileAtomically } from "../node/files.ts";
import { convGeometry } from "../stack/conv.ts";
import { parameterCount, type MlpSpec, type MlpWeights } from "../stack/mlp.ts";
import { encodeSteps } from "../train/gradient-step.ts";
import { createMlpTrainer, type MlpTrainer } from "../train/mlp-trainer.ts";
import { ADAM_DEFAULTS } from "../train/reference.ts";
import { integerFlag, numberFlag, UsageError, parseCommandArgs, readInputFile, type Command } from "./command.ts";
import { checkOutputPath } from "./output-path.ts";

const HELP = `Usage: staq fit --net IN.safetensors --batch BATCH.json --steps K --lr LR
                [--beta1 B1] [--beta2 B2] [--eps EPS] --out OUT.safetensors

Trains one Q-network on one batch on the GPU: K full-batch steps of Adam (as torch.optim.Adam,
no weight decay) on the mean squared error of the taken actions' Q values,
  loss = mean_b (Q(obs_b, actions_b) - targets_b)^2,
and writes the new weights. PyTorch on the same inputs gives the same weights to float32
accuracy, so this checks staq's trainer against another framework.

Files:
  IN.safetensors   the network: net.layers.{l}.weight F32 [out, in] and net.layers.{l}.bias
                   F32 [out], l = 0, 1, ...; layers chain (in of l+1 = out of l), hidden layers
                   are ReLU, the last is the linear head (one output per action). Layer 0 may
                   be a conv layer: weight [out, in, kh, kw] (PyTorch's Conv2d, stride 1, no
                   padding) with __metadata__ "input_shape" = "H,W,C"; each state is then the
                   image flattened [H][W][C], and the next layer takes out*H'*W' inputs in
                   PyTorch's flatten order (H' = H - kh + 1, W' = W - kw + 1)
  BATCH.json       {"obs": [[...], ...], "actions": [...], "targets": [...]}: one row per
                   sample; obs rows of the network's inputs, actions integers in [0, outputs)
  OUT.safetensors  the trained network under the same names and shapes; __metadata__ has
                   format "staq-net/1", loss, steps, lr, beta1, beta2, eps (and input_shape)

Options:
  --net FILE     the network to start from
  --batch FILE   the batch to fit
  --steps K      Adam steps, an integer >= 1
  --lr LR        learning rate, a number > 0
  --beta1 B1     decay of Adam's first moment, in [0, 1) (default ${ADAM_DEFAULTS.beta1})
  --beta2 B2     decay of Adam's second moment, in [0, 1) (default ${ADAM_DEFAULTS.beta2})
  --eps EPS      Adam's epsilon, a number >= 0 (default ${ADAM_DEFAULTS.eps})
                 The GPU computes in float32: lr and a nonzero eps must lie in its range,
                 about [1.2e-38, 3.4e38], and a beta must not round to 1 (at most 0.99999994)
  --out FILE     where to write the trained network; not an input file. Written to a temporary
                 file first and renamed, so it is never left half-written
  -h, --help     show this help

It prints a summary: the network, the batch, and the loss before the first and the last step.
`;

/** Steps submitted before `staq fit` waits for the GPU to catch up. */
const FIT_STEPS_PER_WAIT = 4096;

const OPTIONS = {
  net: { type: "string" },
  batch: { type: "string" },
  steps: { type: "string" },
  lr: { type: "string" },
  beta1: { type: "string" },
  beta2: { type: "string" },
  eps: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export interface FitSettings {
  netPath: string;
  batchPath: string;
  outPath: string;
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** A finite decimal number accepted by `valid`; anything else is a UsageError saying what is needed. */
function parseNumber(name: string, text: string, valid: (x: number) => boolean, requirement: string): number {
  const value = numberFlag(text, name, fitCommand, { valid, requirement });
  checkFloat32(name, text, value);
  return value;
}

/** The largest float32 below 1. */
const F32_BELOW_ONE = 1 - 2 ** -24;

/**
 * The GPU trains in float32, so each setting reaches it rounded to float32 (lr through the step
 * size lr/(1 − β1^t), which lies in [lr, lr/(1 − β1)]). A value the rounding changes in kind is
 * refused here, naming the option, instead of being silently replaced: lr or eps outside float32's
 * normal range (src/io/float32-range.ts: lr 0 trains nothing and exits 0, eps 0 turns a zero
 * gradient into 0/0, "diverged … try a smaller --lr", the wrong advice); and a beta in (0, 1) that
 * rounds to 1 (from 1 − 2^-25 ≈ 0.9999999702 up), with which the moment would never decay: the
 * kernel multiplies by the rounded β while the host's bias correction 1 − β^t and the (1 − β)
 * weight (computed in float64) still assume the β given.
 */
function checkFloat32(name: string, text: string, value: number): void {
  if (name === "beta1" || name === "beta2") {
    if (Math.fround(value) === 1) {
      throw new UsageError(
        `--${name} ${text} rounds to 1 in float32 (staq trains in float32 on the GPU), so the moment would never decay; use at most ${F32_BELOW_ONE.toPrecision(8)}, the largest float32 below 1`,
        fitCommand,
      );
    }
    return;
  }
  const problem = float32Problem(value);
  if (problem !== undefined) throw new UsageError(`--${name} ${text} ${problem}`, fitCommand);
}

function parseSettings(values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>): FitSettings {
  const need = (name: "net" | "batch" | "steps" | "lr" | "out", what: string): string => {
    const value = values[name];
    if (typeof value !== "string") throw new UsageError(`fit needs --${name} ${what}`, fitCommand);
    return value;
  };
  const netPath = need("net", "IN.safetensors");
  const batchPath = need("batch", "BATCH.json");
  const stepsText = need("steps", "K");
  const lrText = need("lr", "LR");
  const outPath = need("out", "OUT.safetensors");
  const steps = integerFlag(stepsText, "steps", fitCommand, { min: 1, why: " (a count of Adam steps)" });
  const inUnitInterval = (x: number) => x >= 0 && x < 1;
  return {
    netPath,
    batchPath,
    outPath,
    steps,
    lr: parseNumber("lr", lrText, (x) => x > 0, "a finite number > 0, e.g. 1e-3"),
    beta1:
      values.beta1 === undefined ? ADAM_DEFAULTS.beta1 : parseNumber("beta1", values.beta1, inUnitInterval, "a number in [0, 1), e.g. 0.9"),
    beta2:
      values.beta2 === undefined
        ? ADAM_DEFAULTS.beta2
        : parseNumber("beta2", values.beta2, inUnitInterval, "a number in [0, 1), e.g. 0.999"),
    eps: values.eps === undefined ? ADAM_DEFAULTS.eps : parseNumber("eps", values.eps, (x) => x >= 0, "a finite number >= 0, e.g. 1e-8"),
  };
}

/**
 * Refuses an --out that would replace an input (the same path, or another name for the same file:
 * a link), is a directory, or whose directory does not exist, before any time is spent training.
 */
async function checkOutput({ netPath, batchPath, outPath }: FitSettings): Promise<void> {
  await checkOutputPath({
    output: { option: "--out", path: outPath },
    what: "the trained network",
    example: "trained.safetensors",
    inputs: [
      { option: "--net", path: netPath },
      { option: "--batch", path: batchPath },
    ],
    command: fitCommand,
  });
}

async function readNetwork(path: string): Promise<NetworkFileContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileError(`Could not read the network file ${path}`, error);
  }
  try {
    return readNetworkFile(bytes);
  } catch (error) {
    // Name the file: the format errors name only the tensor.
    if (error instanceof StaqFormatError) throw new StaqFormatError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** "4 -> 8 -> 3", or with a conv layer "400 -> conv 16×3×3 (10×10×4 → 16×8×8) -> 128 -> 3". */
function describeNetwork(spec: MlpSpec): string {
  const layers: (number | string)[] = [spec.inputs];
  if (spec.conv) {
    // A network file's conv layer has stride 1 and no padding, so kernel and shapes say it all.
    const g = convGeometry(spec.conv);
    layers.push(
      `conv ${g.filters}×${g.kernelHeight}×${g.kernelWidth} (${g.height}×${g.width}×${g.channels} → ${g.filters}×${g.outHeight}×${g.outWidth})`,
    );
  }
  return [...layers, ...spec.hidden, spec.outputs].join(" -> ");
}

const formatLoss = (x: number) => String(Number(x.toPrecision(7)));

/** Throws when training left a weight that is not finite (Adam with --eps 0 on a zero gradient divides 0 by 0). */
function checkFinite(weights: MlpWeights, settings: FitSettings): void {
  weights.layers.forEach(({ weight, bias }, l) => {
    for (const [name, values] of [
      ["weight", weight],
      ["bias", bias],
    ] as const) {
      const k = values.findIndex((x) => !Number.isFinite(x));
      if (k >= 0) {
        const hint =
          settings.eps === 0
            ? " (with --eps 0, a parameter whose gradient is exactly 0 divides 0 by 0; use eps > 0)"
            : "; try a smaller --lr";
        throw new StaqError(
          `training diverged: net.layers.${l}.${name} value ${k} is ${values[k]} after ${settings.steps} steps${hint}; nothing was written`,
        );
      }
    }
  });
}

export const fitCommand: Command = {
  name: "fit",
  summary: "train a network on one batch with Adam (to check staq's trainer against PyTorch)",
  help: HELP,
  async run(args, io) {
    const values = parseCommandArgs(args, OPTIONS, fitCommand);
    if (values.help) {
      io.stdout.write(HELP);
      return;
    }
    const settings = parseSettings(values);
    // Every input is checked before a GPU is created: a mistake is reported at once.
    await checkOutput(settings);
    const network = await readNetwork(settings.netPath);
    const batch = parseTrainingBatchJson(await readInputFile(settings.batchPath, "batch"), settings.batchPath, network.spec);

    let gpu: Gpu | undefined;
    let trainer: MlpTrainer | undefined;
    try {
      gpu = await createGpu();
      const { lr, beta1, beta2, eps, steps } = settings;
      trainer = await createMlpTrainer(gpu, {
        mlp: network.spec,
        batch: batch.batch,
        adam: { lr, beta1, beta2, eps },
        loss: { loss: "mse" },
        label: "staq fit",
      });
      trainer.setWeights([network.weights]);
      trainer.setBatch({ states: batch.states, actions: batch.actions, targets: batch.targets });
      // One full-batch step on the uploaded batch: no sampling, no target networks.
      const { forward, loss, backward, norm, adam } = trainer.pieces;
      const step = [forward, loss, backward, norm, adam];
      // A step's loss is that of the weights it starts from, computed in its forward pass.
      encodeSteps(gpu, step, 1, "staq fit");
      const first = (await trainer.readStatistics()).loss[0];
      // In runs with a wait between them: Dawn holds every submitted command buffer until the GPU
      // has run it, so submitting all K steps at once takes host memory in proportion to K.
      for (let done = 1; done < steps; done += FIT_STEPS_PER_WAIT) {
        encodeSteps(gpu, step, Math.min(FIT_STEPS_PER_WAIT, steps - done), "staq fit");
        await gpu.idle();
      }
      const last = steps > 1 ? (await trainer.readStatistics()).loss[0] : first;
      const [trained] = await trainer.readWeights();
      checkFinite(trained, settings);
      const bytes = networkToSafetensors(network.spec, trained, {
        loss: "mse",
        steps: String(steps),
        lr: String(lr),
        beta1: String(beta1),
        beta2: String(beta2),
        eps: String(eps),
      });
      await writeFileAtomically(settings.outPath, bytes, "the trained network");
      io.stdout.write(
        `network ${describeNetwork(network.spec)} (${parameterCount(network.spec)} parameters), batch ${batch.batch}, ` +
          `${steps} Adam step${steps === 1 ? "" : "s"} (lr ${lr}, beta1 ${beta1}, beta2 ${beta2}, eps ${eps})\n` +
          `loss before step 1: ${formatLoss(first)}${steps > 1 ? `, before step ${steps}: ${formatLoss(last)}` : ""}\n` +
          `wrote ${settings.outPath}\n`,
      );
    } finally {
      // Without a device left alive, Dawn lets the process exit on its own.
      trainer?.destroy();
      gpu?.destroy();
    }
  },
};
