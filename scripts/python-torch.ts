/**
 * PyTorch for the cross-checks (test/cross-check/fit-torch.test.ts, test/bench/pytorch-baseline.test.ts):
 * a Python 3 that can import torch. `npm test` runs scripts/ensure-test-tools.ts first, which uses
 * the one found (bench/pytorch-baseline.ts's findTorchPython: $STAQ_PYTHON, else python3, else
 * /usr/bin/python3), else installs Debian's python3-torch as root on Debian, as the Vulkan driver
 * (scripts/ensure-webgpu.ts) and Chromium (test/browser/chromium-setup.ts) are installed.
 * Elsewhere the tests skip with a message saying what to install, except under CI (CI set), where
 * a skip would hide a missing step and fails instead.
 *
 * The install happens once, before `node --test`, not in the test files: the test files run
 * concurrently, and two apt-get runs at once fail on dpkg's lock.
 */
import { findTorchPython, PytorchUnavailableError, type TorchPython } from "../bench/pytorch-baseline.ts";
import { aptInstallPlan, readMachineFacts, runInstallPlan, type InstallPlan, type MachineFacts } from "../src/node/vulkan-driver.ts";

export type TorchPlan =
  { kind: "found"; python: TorchPython } | { kind: "install"; plan: InstallPlan } | { kind: "unavailable"; message: string };

/**
 * Pure: what to do, given the machine, $STAQ_PYTHON and what probing the candidates gave (a
 * Python with torch, or the reason none was found).
 */
export function planPythonTorch(facts: MachineFacts, env: { STAQ_PYTHON?: string }, probe: TorchPython | { missing: string }): TorchPlan {
  if ("python" in probe) return { kind: "found", python: probe };
  // probe.missing says what was tried and what to install; this adds why the setup did not.
  const unavailable = (why: string): TorchPlan => ({
    kind: "unavailable",
    message: `The PyTorch cross-checks cannot run: ${probe.missing} The test setup did not install it: ${why}.`,
  });
  // $STAQ_PYTHON names the Python to use; installing Debian's package would not give it torch.
  if (env.STAQ_PYTHON) return unavailable(`STAQ_PYTHON is ${env.STAQ_PYTHON}`);
  if (!isDebian(facts)) return unavailable(`it installs Debian's python3-torch, and this is not Debian`);
  if (!facts.isRoot) return unavailable("installing Debian's python3-torch needs root");
  // No recommends: they would add a C++ toolchain and libtorch-dev, which the cross-checks do not use.
  return {
    kind: "install",
    plan: aptInstallPlan(["python3-torch"], "Debian's python3-torch (and python3-numpy with it), for the PyTorch and numpy cross-checks"),
  };
}

/** Whether the machine is Debian itself (os-release's ID; not a derivative such as Ubuntu), where the setups install with apt-get. */
export function isDebian(facts: MachineFacts): boolean {
  const id = facts.osRelease.match(/^ID="?([^"\n]*)"?$/m)?.[1];
  return facts.platform === "linux" && id === "debian";
}

/** findTorchPython's answer as a value rather than an exception. */
export function probeTorchPython(): TorchPython | { missing: string } {
  try {
    return findTorchPython();
  } catch (error) {
    if (error instanceof PytorchUnavailableError) return { missing: error.message };
    throw error;
  }
}

/**
 * The setup step: finds a Python with torch, installing Debian's python3-torch when the plan
 * says so. Returns it, or the message saying why the cross-checks will not run here.
 */
export function ensurePythonTorch(log: (line: string) => void = (line) => console.error(line)): TorchPython | { missing: string } {
  const plan = planPythonTorch(readMachineFacts(), process.env, probeTorchPython());
  if (plan.kind === "found") return plan.python;
  if (plan.kind === "unavailable") return { missing: plan.message };
  log("The PyTorch cross-checks need a Python with torch, and none was found.");
  runInstallPlan(plan.plan, log, "stderr");
  const installed = probeTorchPython();
  if (!("python" in installed)) throw new Error(`Installed Debian's python3-torch, but still: ${installed.missing}`);
  return installed;
}

/**
 * For the test files: the Python with torch, or a skip reason. Under CI (CI set) a missing torch
 * throws instead, so that the cross-checks cannot silently stop running there.
 */
export function torchPythonForTests(): { python: string; skip: false } | { python: undefined; skip: string } {
  const found = probeTorchPython();
  if ("python" in found) return { python: found.python, skip: false };
  if (process.env.CI) {
    throw new Error(
      `${found.missing}\nUnder CI the PyTorch cross-checks must run; npm test's setup (scripts/ensure-test-tools.ts) installs python3-torch as root on Debian.`,
    );
  }
  return { python: undefined, skip: found.missing };
}
