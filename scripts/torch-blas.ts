/**
 * OpenBLAS for the PyTorch-on-the-CPU baselines of `npm run bench` (bench/pytorch_train.py, and
 * bench/pytorch_stack.py with `--pytorch cpu`). Debian's python3-torch runs its matrix products on
 * whatever libblas.so.3 is installed: the reference BLAS, about 10× slower, unless
 * libopenblas0-pthread is installed, and a baseline on it is not a fair one. bench/all.ts calls
 * ensureTorchBlas once, before the sections run (so no apt-get run overlaps another): it asks the
 * Python with torch which BLAS it loads (bench/pytorch_train.py with no configs: the baseline's own
 * probe) and, as root on Debian, installs libopenblas0-pthread when that is the reference BLAS.
 * Elsewhere it installs nothing and says the command to run.
 *
 * `planTorchBlas` is pure (it only looks at the facts it is given) so that every branch is tested;
 * `ensureTorchBlas` probes, carries the plan out and probes again.
 */
import { runPytorchTrainBaseline, blasIsOptimised, OPENBLAS_PACKAGE, type PytorchTrainResult } from "../bench/pytorch-train-baseline.ts";
import { aptInstallPlan, readMachineFacts, runInstallPlan, type InstallPlan, type MachineFacts } from "../src/node/vulkan-driver.ts";
import { isDebian, probeTorchPython } from "./python-torch.ts";

/** What the Python with torch said about its BLAS (bench/pytorch_train.py's `blas` and `build`). */
export interface TorchBlasProbe extends Pick<PytorchTrainResult, "blas" | "build"> {
  python: string;
}

export type BlasPlan =
  /** An optimised BLAS already: nothing to do. */
  | { kind: "fair"; blas: string }
  /** Root on Debian with the system's reference BLAS: install OpenBLAS. */
  | { kind: "install"; plan: InstallPlan; reason: string }
  /** The reference BLAS, and the setup may not or cannot install OpenBLAS: what to run instead. */
  | { kind: "manual"; message: string }
  /** A BLAS the probe does not recognise (or none seen): nothing the setup knows to install. */
  | { kind: "unknown"; message: string };

/** Whether `bench/all.ts` with these sections and arguments runs a PyTorch baseline on the CPU. */
export function benchRunsTorchOnCpu(sections: readonly string[], args: readonly string[]): boolean {
  if (args.includes("--help")) return false;
  // The trainer section always runs its PyTorch CPU column (or reports "no torch").
  if (sections.includes("train")) return true;
  if (!sections.includes("stack")) return false;
  // The stack section's dense rows run PyTorch only with --pytorch (on the CPU only with --pytorch
  // cpu); its conv rows on the CPU unless --conv-pytorch says otherwise or only dense rows run.
  const flag = (name: string): string | undefined => {
    for (let i = 0; i < args.length; i++) {
      if (args[i] === `--${name}`) return args[i + 1];
      if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
    }
    return undefined;
  };
  const rows = flag("rows") ?? "all";
  const denseCpu = rows !== "conv" && flag("pytorch") === "cpu";
  const convCpu = rows !== "dense" && (flag("conv-pytorch") ?? "cpu") === "cpu";
  return denseCpu || convCpu;
}

/**
 * Pure: what to do, given the machine and what the Python with torch reported about its BLAS.
 * Installs only where installing libopenblas0-pthread changes what torch loads: as root on
 * Debian, when the BLAS is the system's reference one (libblas.so.3 under /usr/lib, which
 * OpenBLAS's higher-priority alternative replaces).
 */
export function planTorchBlas(facts: MachineFacts, probe: TorchBlasProbe): BlasPlan {
  const { name, libraries } = probe.blas;
  if (blasIsOptimised(probe.blas, probe.build))
    return { kind: "fair", blas: name ?? `not seen in the process, built with ${probe.build.blasInfo}` };
  const shown = libraries.length ? ` (${libraries.join(", ")})` : "";
  if (!name || !/reference/i.test(name)) {
    return {
      kind: "unknown",
      message:
        `${probe.python}'s torch loaded ${name ? `a BLAS the bench does not know: ${name}${shown}` : `no BLAS library the bench could see (BLAS_INFO=${probe.build.blasInfo ?? "?"})`}; ` +
        `the setup installs nothing, and the report marks the PyTorch baseline as not a fair one.`,
    };
  }
  const reason = `${probe.python}'s torch runs its matrix products on the reference BLAS${shown}, about 10× slower than OpenBLAS: not a fair baseline.`;
  const command = `sudo apt-get install ${OPENBLAS_PACKAGE}`;
  if (!isDebian(facts)) {
    return {
      kind: "manual",
      message: `${reason} The bench installs OpenBLAS only on Debian, and this is not Debian: on Debian or Ubuntu run \`${command}\`; elsewhere give this torch an optimised BLAS (PyTorch's pip wheels bring their own).`,
    };
  }
  if (!libraries.some((path) => path.startsWith("/usr/lib/"))) {
    return {
      kind: "manual",
      message: `${reason} It is not the system's libblas.so.3, so installing Debian's ${OPENBLAS_PACKAGE} would not change it: give this torch an optimised BLAS, or name a Python whose torch uses the system's by $STAQ_PYTHON.`,
    };
  }
  if (!facts.isRoot) {
    return { kind: "manual", message: `${reason} Installing OpenBLAS needs root: run \`${command}\`, then the benchmark again.` };
  }
  return {
    kind: "install",
    reason,
    plan: aptInstallPlan(
      [OPENBLAS_PACKAGE],
      `Debian's ${OPENBLAS_PACKAGE} (OpenBLAS), so that PyTorch's CPU baseline does not run on the reference BLAS`,
    ),
  };
}

/** Asks `python` which BLAS its torch loads: bench/pytorch_train.py with no configs (a matmul, no training). */
export async function probeTorchBlas(python: string): Promise<TorchBlasProbe> {
  const { blas, build } = await runPytorchTrainBaseline({ configs: [], threads: 1, python, timeoutMs: 5 * 60_000 });
  return { python, blas, build };
}

/** What ensureTorchBlas found and did. */
export type TorchBlasOutcome =
  | { kind: "no torch"; message: string }
  | { kind: "probe failed"; message: string }
  | { kind: "fair"; blas: string; installed: boolean }
  | { kind: "unfair"; message: string };

/**
 * The setup step: finds the Python with torch (findTorchPython), asks it which BLAS it loads and
 * installs libopenblas0-pthread when planTorchBlas says so, then asks again. Never throws: a
 * failed probe or install is reported, and the benchmark runs on (its PyTorch line says whether
 * the baseline was a fair one).
 */
export async function ensureTorchBlas(log: (line: string) => void = (line) => console.error(line)): Promise<TorchBlasOutcome> {
  const torch = probeTorchPython();
  // No torch: the trainer section reports "no torch" and what to install; nothing to do here.
  if (!("python" in torch)) return { kind: "no torch", message: torch.missing };
  let probe: TorchBlasProbe;
  try {
    probe = await probeTorchBlas(torch.python);
  } catch (error) {
    const message = `Could not ask ${torch.python} which BLAS its torch uses: ${(error as Error).message}`;
    log(message);
    return { kind: "probe failed", message };
  }
  const plan = planTorchBlas(readMachineFacts(), probe);
  if (plan.kind === "fair") {
    log(`PyTorch baseline: ${probe.python} (torch) on ${plan.blas}.`);
    return { kind: "fair", blas: plan.blas, installed: false };
  }
  if (plan.kind !== "install") {
    log(plan.message);
    return { kind: "unfair", message: plan.message };
  }
  log(plan.reason);
  try {
    runInstallPlan(plan.plan, log, "stderr");
    const after = await probeTorchBlas(probe.python);
    if (blasIsOptimised(after.blas, after.build)) {
      log(`PyTorch baseline: ${probe.python} (torch) now on ${after.blas.name}.`);
      return { kind: "fair", blas: after.blas.name ?? "an optimised BLAS", installed: true };
    }
    // Debian's alternative for libblas.so.3 is named after the multiarch directory it lives in.
    const multiarch =
      probe.blas.libraries.map((path) => path.match(/^\/usr\/lib\/([^/]+)\/blas\//)?.[1]).find(Boolean) ?? "$(uname -m)-linux-gnu";
    const message =
      `Installed ${OPENBLAS_PACKAGE}, but ${probe.python}'s torch still loads ${after.blas.name ?? "no BLAS the bench can see"} ` +
      `(${after.blas.libraries.join(", ")}): libblas.so.3's alternative is set by hand; \`update-alternatives --config libblas.so.3-${multiarch}\` picks OpenBLAS.`;
    log(message);
    return { kind: "unfair", message };
  } catch (error) {
    const message = `Could not install ${OPENBLAS_PACKAGE} (${(error as Error).message.split("\n")[0]}); the PyTorch baseline runs on the reference BLAS.`;
    log(message);
    return { kind: "unfair", message };
  }
}
