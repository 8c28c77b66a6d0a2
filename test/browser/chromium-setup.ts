/**
 * The browser tests' setup: a Chromium to drive with playwright-core (which downloads no browser).
 * It uses $STAQ_CHROMIUM, else a Chromium or Chrome already installed, else installs Debian's
 * `chromium` package, but only as root on Debian. Elsewhere the tests are skipped with a message
 * saying what to install, except under CI (CI set), where a skip would hide a missing step.
 */
import { existsSync } from "node:fs";
import { aptInstallPlan, readMachineFacts, runInstallPlan, type InstallPlan, type MachineFacts } from "../../src/node/vulkan-driver.ts";

export const CHROMIUM_CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome-stable",
  "/usr/bin/google-chrome",
];

export type ChromiumPlan =
  { kind: "found"; path: string } | { kind: "install"; path: string; plan: InstallPlan } | { kind: "unavailable"; message: string };

const HOW_TO_INSTALL =
  "Install Chromium (Debian: apt-get install chromium; Fedora: dnf install chromium) or point STAQ_CHROMIUM at a Chrome or Chromium binary, then run the tests again.";

/** Pure: what to do, given the machine, $STAQ_CHROMIUM and which candidate paths exist. */
export function planChromium(facts: MachineFacts, env: { STAQ_CHROMIUM?: string }, exists: (path: string) => boolean): ChromiumPlan {
  if (env.STAQ_CHROMIUM) {
    return exists(env.STAQ_CHROMIUM)
      ? { kind: "found", path: env.STAQ_CHROMIUM }
      : { kind: "unavailable", message: `STAQ_CHROMIUM is ${env.STAQ_CHROMIUM}, which does not exist. ${HOW_TO_INSTALL}` };
  }
  const found = CHROMIUM_CANDIDATES.find(exists);
  if (found) return { kind: "found", path: found };
  const id = facts.osRelease.match(/^ID="?([^"\n]*)"?$/m)?.[1];
  if (facts.platform !== "linux" || id !== "debian") {
    return {
      kind: "unavailable",
      message: `No Chromium found (looked for $STAQ_CHROMIUM and ${CHROMIUM_CANDIDATES.join(", ")}), and this is not Debian, where the tests install it themselves. ${HOW_TO_INSTALL}`,
    };
  }
  if (!facts.isRoot) {
    return {
      kind: "unavailable",
      message: `No Chromium found (looked for ${CHROMIUM_CANDIDATES.join(", ")}); installing Debian's chromium package needs root. ${HOW_TO_INSTALL}`,
    };
  }
  return {
    kind: "install",
    path: "/usr/bin/chromium",
    plan: aptInstallPlan(["chromium"], "Debian's chromium package, for the browser tests"),
  };
}

/**
 * Returns Chromium's path (installing it when the plan says so), or the reason the browser tests
 * cannot run here. Under CI that reason is thrown instead: the tests must not be skipped there.
 */
export function ensureChromium(log: (line: string) => void = (line) => console.error(line)): { path: string } | { skip: string } {
  const plan = planChromium(readMachineFacts(), process.env, existsSync);
  if (plan.kind === "found") return { path: plan.path };
  if (plan.kind === "unavailable") {
    if (process.env.CI) throw new Error(`The browser tests cannot run: ${plan.message}`);
    return { skip: plan.message };
  }
  log("The browser tests need Chromium, which is not installed.");
  runInstallPlan(plan.plan, log, "stderr");
  if (!existsSync(plan.path)) throw new Error(`Installed Debian's chromium package, but ${plan.path} does not exist.`);
  return { path: plan.path };
}

/** Chromium's flags for the tests: headless WebGPU (SwiftShader on a machine without a GPU), no network chatter. */
export const CHROMIUM_ARGS = [
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];
