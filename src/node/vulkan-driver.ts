/**
 * Getting a WebGPU adapter on a machine without a GPU.
 *
 * Dawn needs a Vulkan driver. On a bare Linux machine the software rasteriser lavapipe (Mesa) is
 * the one that is always available, but Dawn rejects Mesa 22 (Debian bookworm's main suite) with
 * "Vulkan shaderUniform*ArrayDynamicIndexing required"; Mesa 24 and later work, and on bookworm
 * that comes from bookworm-backports.
 *
 * `planVulkanDriverInstall` is pure (it only looks at the facts it is given) so that every branch
 * is tested; `installVulkanDriver` carries a plan out.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What the plan needs to know about the machine. */
export interface MachineFacts {
  platform: string;
  isRoot: boolean;
  /** Contents of /etc/os-release, or "" when absent. */
  osRelease: string;
  /** APT source files: path and contents (deb822 `.sources` files and one-line `.list` files). */
  aptSources: { path: string; contents: string }[];
}

export type DriverPlan =
  | {
      kind: "install";
      /** A new APT source file to write first, when the packages come from a suite not yet configured. */
      newSource?: { path: string; contents: string };
      commands: string[][];
      summary: string;
    }
  | { kind: "manual"; message: string };

const PACKAGES = ["mesa-vulkan-drivers", "libvulkan1"];
const BACKPORTS_SOURCE = "/etc/apt/sources.list.d/staq-bookworm-backports.sources";

/** The instructions printed when staq cannot (or may not) install the driver itself. */
export function manualDriverInstructions(reason: string): string {
  return [
    `No WebGPU adapter was found, and staq did not install a driver: ${reason}.`,
    "staq needs a Vulkan driver for Dawn. On a machine without a GPU, install Mesa's software driver",
    "(lavapipe) version 24 or newer together with the Vulkan loader, for example:",
    "  Debian 12 (bookworm): add the bookworm-backports suite, then",
    "      apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1",
    "  Debian 13 / Ubuntu 24.04 or newer: apt-get install mesa-vulkan-drivers libvulkan1",
    "  Fedora: dnf install mesa-vulkan-drivers vulkan-loader",
    "On a machine with a GPU, install its vendor's Vulkan driver instead.",
    "Then run the command again.",
  ].join("\n");
}

function osReleaseField(osRelease: string, key: string): string | undefined {
  const match = osRelease.match(new RegExp(`^${key}=("?)(.*)\\1$`, "m"));
  return match?.[2];
}

/**
 * Finds the URI of the Debian mirror already configured for `codename` (not its -security or
 * -updates suites), so that the backports suite comes from the same mirror.
 */
export function debianMirrorUri(sources: MachineFacts["aptSources"], codename: string): string | undefined {
  for (const { contents } of sources) {
    // deb822 paragraphs: "Types: deb\nURIs: ...\nSuites: bookworm bookworm-updates\n..."
    for (const paragraph of contents.split(/\n\s*\n/)) {
      const field = (name: string) =>
        paragraph
          .match(new RegExp(`^${name}:\\s*(.+)$`, "mi"))?.[1]
          .trim()
          .split(/\s+/) ?? [];
      if (!field("Types").includes("deb")) continue;
      if (!field("Suites").includes(codename)) continue;
      const uri = field("URIs")[0];
      if (uri) return uri;
    }
    // One-line format: "deb [options] URI SUITE COMPONENTS..."
    for (const line of contents.split("\n")) {
      const match = line.trim().match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
      if (match && match[2] === codename) return match[1];
    }
  }
  return undefined;
}

export function planVulkanDriverInstall(facts: MachineFacts): DriverPlan {
  if (facts.platform !== "linux") {
    return { kind: "manual", message: manualDriverInstructions(`this is ${facts.platform}, not Debian Linux`) };
  }
  const id = osReleaseField(facts.osRelease, "ID");
  const codename = osReleaseField(facts.osRelease, "VERSION_CODENAME");
  if (id !== "debian") {
    return { kind: "manual", message: manualDriverInstructions(`this is not Debian (ID=${id ?? "unknown"})`) };
  }
  if (!facts.isRoot) {
    return { kind: "manual", message: manualDriverInstructions("installing system packages needs root") };
  }
  const env = ["env", "DEBIAN_FRONTEND=noninteractive"];
  const install = [...env, "apt-get", "install", "-y", "--no-install-recommends"];
  if (codename === "bookworm") {
    const uri = debianMirrorUri(facts.aptSources, "bookworm");
    if (!uri) {
      return {
        kind: "manual",
        message: manualDriverInstructions("no configured Debian mirror for bookworm was found to add bookworm-backports from"),
      };
    }
    const alreadyConfigured = debianMirrorUri(facts.aptSources, "bookworm-backports") !== undefined;
    return {
      kind: "install",
      newSource: alreadyConfigured
        ? undefined
        : {
            path: BACKPORTS_SOURCE,
            contents: [
              "# Added by staq: Mesa 24+ (lavapipe) for WebGPU without a GPU.",
              "Types: deb",
              `URIs: ${uri}`,
              "Suites: bookworm-backports",
              "Components: main",
              "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
              "",
            ].join("\n"),
          },
      commands: [
        [...env, "apt-get", "update"],
        [...install, "-t", "bookworm-backports", ...PACKAGES],
      ],
      summary: `Mesa's lavapipe from bookworm-backports (${uri})`,
    };
  }
  // Debian 13 (trixie) and later ship Mesa >= 24 in their main suite.
  return {
    kind: "install",
    commands: [
      [...env, "apt-get", "update"],
      [...install, ...PACKAGES],
    ],
    summary: `Mesa's lavapipe from Debian ${codename ?? ""}`.trim(),
  };
}

/** Reads the facts the plan needs from this machine. */
export function readMachineFacts(): MachineFacts {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
  const aptSources: MachineFacts["aptSources"] = [];
  if (existsSync("/etc/apt/sources.list")) aptSources.push({ path: "/etc/apt/sources.list", contents: read("/etc/apt/sources.list") });
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(".sources") || name.endsWith(".list")) {
        aptSources.push({ path: join(dir, name), contents: read(join(dir, name)) });
      }
    }
  }
  return {
    platform: process.platform,
    isRoot: typeof process.getuid === "function" && process.getuid() === 0,
    osRelease: read("/etc/os-release"),
    aptSources,
  };
}

/** A plan to install system packages: an optional APT source to add, then commands. */
export type InstallPlan = Extract<DriverPlan, { kind: "install" }>;

/** The plan for Debian packages from the suites already configured: `apt-get update`, then install without recommends. */
export function aptInstallPlan(packages: readonly string[], summary: string): InstallPlan {
  const apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"];
  return {
    kind: "install",
    commands: [
      [...apt, "update"],
      [...apt, "install", "-y", "--no-install-recommends", ...packages],
    ],
    summary,
  };
}

/**
 * Carries out an install plan, echoing each command; throws if a command fails. The commands'
 * output goes to this process's stdout, or to stderr with `output: "stderr"` (a test's stdout is
 * its report to the test runner).
 */
export function runInstallPlan(plan: InstallPlan, log: (line: string) => void, output: "stdout" | "stderr" = "stdout"): void {
  log(`Installing ${plan.summary}.`);
  if (plan.newSource) {
    log(`Writing ${plan.newSource.path}`);
    writeFileSync(plan.newSource.path, plan.newSource.contents);
  }
  for (const command of plan.commands) {
    log(`$ ${command.join(" ")}`);
    const target = output === "stdout" ? "inherit" : 2;
    execFileSync(command[0], command.slice(1), { stdio: ["ignore", target, "inherit"] });
  }
}
