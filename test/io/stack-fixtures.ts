// Small stacks and files for the stack-file, CLI and cross-check tests. Few MLP shapes, because
// every new shape costs a pipeline compile (1–3 s on lavapipe).
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { encodeSafetensors, type Float32Tensor } from "../../src/io/safetensors.ts";
import { randomMlpWeights, type MlpSpec, type MlpWeights } from "../../src/stack/mlp.ts";
import { createStack, type Stack, type StackOptions } from "../../src/stack/stack.ts";
import { shortestFloat32 } from "../../src/cli/logits-command.ts";
import { MINATAR_ENTRY } from "../../src/cli/minatar-module.ts";
import { seededSigned, randomStates } from "../helpers/random.ts";

export { randomStates };

export const ONE_HIDDEN: MlpSpec = { inputs: 4, hidden: [8], outputs: 3 };
export const TWO_HIDDEN: MlpSpec = { inputs: 3, hidden: [5, 6], outputs: 2 };

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A stack after `pushes` pushes of seeded random snapshots; returns the pushed networks too,
 * `pushed[k][e]` for push k and member e.
 */
export function pushedStack(
  gpu: Gpu,
  options: Omit<StackOptions, "mlp"> & { mlp?: MlpSpec; pushes: number; seed?: number },
): { stack: Stack; pushed: MlpWeights[][] } {
  const { pushes, seed, ...stackOptions } = options;
  const spec = options.mlp ?? ONE_HIDDEN;
  const stack = createStack(gpu, { ...stackOptions, mlp: spec });
  const sample = seededSigned(seed ?? 1);
  const pushed: MlpWeights[][] = [];
  for (let k = 0; k < pushes; k++) {
    const members = Array.from({ length: stack.ensemble }, () => randomMlpWeights(spec, sample, 2));
    stack.push(members);
    pushed.push(members);
  }
  return { stack, pushed };
}

/** A temporary directory removed after the test file. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "staq-test-"));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The states as the CLI's JSON input, with numbers that read back as the same float32. */
export function statesJson(states: Float32Array, inputs: number): string {
  const rows: string[] = [];
  for (let b = 0; b < states.length / inputs; b++) {
    rows.push(`[${Array.from(states.subarray(b * inputs, (b + 1) * inputs), shortestFloat32).join(", ")}]`);
  }
  return `{"states": [${rows.join(", ")}]}`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (without a shell) and collects its output. */
export function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, env, encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const HIDE_MODULES = fileURLToPath(new URL("../helpers/hide-modules.ts", import.meta.url));

/**
 * runStaq's `hide` for an install without the GPL-3.0 MinAtar port's files: the CLI imports the
 * port's entry file by its URL (MINATAR_ENTRY), and from source that is src/envs/minatar/index.ts.
 */
export const MISSING_MINATAR = [`${MINATAR_ENTRY.href}=${fileURLToPath(MINATAR_ENTRY)}`];

/**
 * `staq ARGS` from the TypeScript sources, as `npx staq` runs the built CLI. `hide` makes modules
 * unresolvable in it: STAQ_TEST_HIDE entries of test/helpers/hide-modules.ts ("vega", or
 * "SPECIFIER=FILE" for one found but missing its file).
 */
export function runStaq(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  { hide = [] }: { hide?: readonly string[] } = {},
): Promise<Run> {
  if (hide.length === 0) return run(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], env);
  return run(process.execPath, ["--import", "tsx", "--import", HIDE_MODULES, "src/cli/main.ts", ...args], {
    ...env,
    STAQ_TEST_HIDE: hide.join(","),
  });
}

/** stderr without Dawn's start-up warnings ("Warning: maxDynamic… artificially reduced …"). */
export function ownStderrLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("Warning: "));
}

/** A stack file's tensors and metadata before encoding, built by hand (no GPU) to be spoiled. */
export interface HandBuiltStackFile {
  tensors: Map<string, Float32Tensor>;
  metadata: Record<string, string>;
}

/**
 * A valid stack file of 2 members × 2 snapshots: each layer's weight and bias of the given shapes
 * ([2, 2, …]), filled with small exact values, the coefficients, the required metadata and `extra`.
 */
export function handBuiltStackFile(layers: readonly [number[], number[]][], extra: Record<string, string> = {}): HandBuiltStackFile {
  const filled = (shape: number[]) => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => ((k % 7) - 3) / 8),
  });
  const tensors = new Map<string, Float32Tensor>();
  layers.forEach(([weight, bias], l) => {
    tensors.set(`stack.layers.${l}.weight`, filled(weight));
    tensors.set(`stack.layers.${l}.bias`, filled(bias));
  });
  tensors.set("stack.coefficients", { shape: [2, 2], data: Float32Array.of(0.25, 0.5, 0.25, 0.5) });
  const metadata = {
    format: "staq-stack/1",
    activation: "relu",
    ensemble_reduce: "mean",
    correction: "1.5",
    memory: "3",
    eta: "1",
    tau: "1",
    gamma: "0.99",
    ...extra,
  };
  return { tensors, metadata };
}

/** The bytes of `build()` after `change`. */
export function spoiledStackFile(build: () => HandBuiltStackFile, change: (file: HandBuiltStackFile) => void): Uint8Array {
  const file = build();
  change(file);
  return encodeSafetensors(file.tensors, file.metadata);
}
