/**
 * The PyTorch baseline of the stack benchmark: runs bench/pytorch_stack.py (the stack workload
 * written the way the StaQ authors' PyTorch code writes it — stacked weights [E·M, in, out],
 * batched torch.matmul over the snapshots, sum over snapshots, mean over members; a conv network's
 * first layer as one conv2d with groups = E·M over the input repeated E·M times) with a Python
 * that has torch, and returns its parsed JSON. Also times torch.matmul N×N×N in FP32 (TF32 off):
 * the device's FP32 GEMM ceiling by cuBLAS where the GPU has PyTorch.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConvSpec } from "../src/stack/conv.ts";

export const PYTORCH_STACK_SCRIPT = fileURLToPath(new URL("./pytorch_stack.py", import.meta.url));

/** Pythons tried, in order, when none is named (and $STAQ_PYTHON is unset). */
export const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3"];

export interface PytorchConfig {
  memory: number;
  batch: number;
  /** Hidden width: the network is inputs → W → W → actions unless `hidden` is given. */
  width: number;
  inputs: number;
  ensemble: number;
  /** Head width (bench/stack.ts uses 18 for its MLPs, the script's default). */
  actions: number;
  /** Hidden layer widths (default [width, width]). */
  hidden?: number[];
  /** A conv layer (+ ReLU) first (src/stack/conv.ts): `inputs` must be H·W·C. */
  conv?: ConvSpec;
}

export interface PytorchSummary {
  median: number;
  p10: number;
  p90: number;
  runs: number;
}

export interface PytorchConfigResult {
  config: PytorchConfig;
  /** Milliseconds per evaluation of the whole stack (CUDA events on a GPU, perf_counter on the CPU). */
  ms: PytorchSummary;
  /** 2·E·M·B·(multiply-adds of one state through one snapshot): I·W + W·W + W·A for the MLP; a conv network adds H'·W'·C·kh·kw·F. */
  flops: number;
  /** flops / median. */
  gflops: number;
  /** Batch chunks per evaluation (a conv network's intermediates are bounded by maxChunkBytes; 1 otherwise). */
  chunks: number;
}

export interface PytorchGemmResult {
  n: number;
  ms: PytorchSummary;
  /** 2·n³. */
  flops: number;
  gflops: number;
  op: string;
}

export interface PytorchCheckPart {
  maxError: number;
  tolerance: number;
  ok: boolean;
}

export interface PytorchCheckResult {
  /** The (shrunken) configuration checked on random data. */
  config: PytorchConfig;
  /** 1 + max |logit|; the tolerances are relative to it. */
  scale: number;
  /** Stacked float64 against the per-snapshot nn.Linear loop in float64. */
  float64: PytorchCheckPart;
  /** Stacked float32 against the per-snapshot nn.Linear loop in float64. */
  float32: PytorchCheckPart;
}

export interface PytorchDump {
  ensemble: number;
  memory: number;
  batch: number;
  /** [batch][actions], float32 values. */
  logits: number[][];
}

export interface PytorchBaselineResult {
  torch: string;
  /** "cuda" or "cpu". */
  device: string;
  deviceName: string;
  /** torch.get_num_threads() (after --threads). */
  threads: number;
  tf32: false;
  precision: string;
  ops: string;
  /** How a conv network's first layer is evaluated. */
  convOps: string;
  flops: string;
  /** The bound on a conv network's intermediates per batch chunk, in bytes. */
  maxChunkBytes: number;
  configs: PytorchConfigResult[];
  gemm: PytorchGemmResult | null;
  check?: PytorchCheckResult[];
  dump?: PytorchDump;
  /** On the CPU: the BLAS libraries the process loaded (bench/pytorch_train.py's probe). */
  blas?: { libraries: string[]; name: string | null };
  /** On the CPU: torch's build settings (BLAS_INFO, LAPACK_INFO, USE_MKLDNN). */
  build?: { blasInfo: string | null; lapackInfo: string | null; mkldnn: string | null };
}

/**
 * Weights and states for --dump-logits, in PyTorch's nn.Linear layout (weight [out][in]); with
 * `conv`, layer 0 is the Conv2d weight [F, C, kh, kw] read as [F][C·kh·kw] (staq's layout too).
 */
export interface PytorchStackInputs {
  /** [member][i] of { layers: [{ weight: [out][in], bias: [out] }] }. */
  snapshots: { layers: { weight: number[][]; bias: number[] }[] }[][];
  conv?: ConvSpec;
  /** [member][i]. */
  coefficients: number[][];
  correction: number;
  /** [batch][inputs]. */
  states: number[][];
}

export interface TorchPython {
  python: string;
  torch: string;
  cuda: boolean;
}

export class PytorchUnavailableError extends Error {}

const PROBE = "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.cuda.is_available()}))";

/**
 * The first Python that imports torch: `python` if given (only it), else $STAQ_PYTHON, else
 * python3 and /usr/bin/python3. Throws PytorchUnavailableError saying what was tried and what to install.
 */
const probed = new Map<string, TorchPython>();

export function findTorchPython(python?: string): TorchPython {
  const candidates = python ? [python] : process.env.STAQ_PYTHON ? [process.env.STAQ_PYTHON] : PYTHON_CANDIDATES;
  const tried: string[] = [];
  for (const candidate of candidates) {
    const known = probed.get(candidate);
    if (known) return known;
    const probe = spawnSync(candidate, ["-c", PROBE], { encoding: "utf8", timeout: 60_000 });
    if (probe.error) {
      tried.push(`${candidate}: ${(probe.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : probe.error.message}`);
      continue;
    }
    if (probe.status !== 0) {
      const last = probe.stderr.trim().split("\n").pop() ?? "";
      tried.push(`${candidate}: ${last.includes("No module named") ? "no torch module" : last || `exit ${probe.status}`}`);
      continue;
    }
    const info = JSON.parse(probe.stdout.trim().split("\n").pop() ?? "{}") as { torch: string; cuda: boolean };
    const found = { python: candidate, torch: info.torch, cuda: info.cuda };
    probed.set(candidate, found);
    return found;
  }
  throw new PytorchUnavailableError(
    `no Python with PyTorch found (${tried.join("; ")}). Install PyTorch for python3 ` +
      `(pip install torch, or apt-get install python3-torch on Debian/Ubuntu), or name a Python with torch by $STAQ_PYTHON.`,
  );
}

export interface PytorchBaselineOptions {
  configs: PytorchConfig[];
  /** Default "auto" (cuda when torch sees one). */
  device?: "cuda" | "cpu" | "auto";
  /** Measured time per configuration; default 1. */
  seconds?: number;
  /** Also time torch.matmul N×N×N (0 or undefined: skip). */
  gemm?: number;
  /** Also check the stacked computation against a loop of nn.Linear layers in float64. */
  check?: boolean;
  /** Weights and states to print the float32 logits of (small stacks only). */
  dumpInputs?: PytorchStackInputs;
  /** A Python with torch; by default findTorchPython(). */
  python?: string;
  /** Kill the script after this long; default 30 min. */
  timeoutMs?: number;
  seed?: number;
  /** torch.set_num_threads(threads) (default: torch's own choice); on the CPU, the cores staq gets. */
  threads?: number;
  /** A conv network's intermediates per batch chunk, in bytes (the script's default: 1 GiB). */
  maxChunkBytes?: number;
}

/**
 * Runs `python args…` (args[0] the script) and parses the JSON it prints on stdout; rejects with
 * its stderr when it fails or prints something else. Killed after `timeoutMs` (default 30 min).
 */
export async function runPythonJson<T>(python: string, args: string[], timeoutMs = 30 * 60_000): Promise<T> {
  const script = args[0];
  const { code, signal, stdout, stderr } = await new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const child = spawn(python, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  if (code !== 0) throw new Error(`${python} ${script} failed (${signal ? `signal ${signal}` : `exit ${code}`}):\n${stderr.trim()}`);
  try {
    return JSON.parse(stdout) as T;
  } catch (error) {
    throw new Error(`${script} printed no JSON (${(error as Error).message}); stdout: ${stdout.slice(0, 500)}; stderr: ${stderr.trim()}`);
  }
}

/** Runs bench/pytorch_stack.py; rejects with its stderr when it fails. */
export async function runPytorchBaseline(options: PytorchBaselineOptions): Promise<PytorchBaselineResult> {
  const { python } = findTorchPython(options.python);
  const args = [
    PYTORCH_STACK_SCRIPT,
    "--configs",
    JSON.stringify(options.configs),
    "--device",
    options.device ?? "auto",
    "--seconds",
    String(options.seconds ?? 1),
  ];
  if (options.gemm) args.push("--gemm", String(options.gemm));
  if (options.check) args.push("--check");
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  if (options.threads !== undefined) args.push("--threads", String(options.threads));
  if (options.maxChunkBytes !== undefined) args.push("--max-chunk-bytes", String(options.maxChunkBytes));
  let scratch: string | undefined;
  if (options.dumpInputs) {
    scratch = mkdtempSync(join(tmpdir(), "staq-pytorch-"));
    const file = join(scratch, "inputs.json");
    writeFileSync(file, JSON.stringify(options.dumpInputs));
    args.push("--inputs", file, "--dump-logits");
  }
  try {
    return await runPythonJson<PytorchBaselineResult>(python, args, options.timeoutMs);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}
