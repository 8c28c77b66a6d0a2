/**
 * Makes sure this machine has a WebGPU adapter, installing Mesa's software Vulkan driver when it
 * has none and may install one (root on Debian). Used by `npm test`, `npm run bench` and
 * `staq gpu --install-driver`.
 */
import { spawnSync } from "node:child_process";
import { withoutKnownDawnWarnings } from "./dawn-stderr.ts";
import { runInstallPlan, planVulkanDriverInstall, readMachineFacts } from "./vulkan-driver.ts";

export interface AdapterProbe {
  /** Adapter description, or null when Dawn found none. */
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
  /** What Dawn printed while looking (it says why a backend failed to load). */
  diagnostics: string;
}

/**
 * Asks Dawn for an adapter in a fresh child process: a process that already failed to load the
 * Vulkan loader keeps that failure, so a probe after an install must not run in this process.
 */
export function probeAdapter(): AdapterProbe {
  const webgpu = import.meta.resolve("webgpu");
  const script = `
    import { create } from ${JSON.stringify(webgpu)};
    const adapter = await create([]).requestAdapter();
    const info = adapter && adapter.info;
    process.stdout.write(JSON.stringify(info ? { vendor: info.vendor, architecture: info.architecture,
      device: info.device, description: info.description } : null));
    process.exit(0);`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 120_000 });
  let adapter: AdapterProbe["adapter"] = null;
  try {
    adapter = JSON.parse(child.stdout.trim() || "null");
  } catch {
    adapter = null;
  }
  // Dawn's harmless notes on the limits it clamps would otherwise be the first "Dawn said" line.
  return { adapter, diagnostics: `${withoutKnownDawnWarnings(child.stderr ?? "")}${child.error ? String(child.error) : ""}`.trim() };
}

export function describeAdapter(adapter: NonNullable<AdapterProbe["adapter"]>): string {
  return [adapter.description || adapter.device, adapter.vendor, adapter.architecture].filter(Boolean).join(", ");
}

/**
 * Returns the adapter, after installing a driver if needed and allowed. Throws an Error whose
 * message says what was tried and what to do when there is still none.
 */
export function ensureAdapter(log: (line: string) => void = (line) => console.error(line)): NonNullable<AdapterProbe["adapter"]> {
  const first = probeAdapter();
  if (first.adapter) return first.adapter;
  log("No WebGPU adapter found.");
  if (first.diagnostics) log(`Dawn said: ${first.diagnostics.split("\n")[0]}`);
  const plan = planVulkanDriverInstall(readMachineFacts());
  if (plan.kind === "manual") throw new Error(plan.message);
  runInstallPlan(plan, log);
  const second = probeAdapter();
  if (second.adapter) {
    log(`WebGPU adapter now available: ${describeAdapter(second.adapter)}`);
    return second.adapter;
  }
  throw new Error(
    [
      `Installed ${plan.summary}, but Dawn still finds no WebGPU adapter.`,
      second.diagnostics ? `Dawn said:\n${second.diagnostics}` : "Dawn printed nothing.",
      "Check `vulkaninfo --summary` (package vulkan-tools) and that VK_DRIVER_FILES / VK_ICD_FILENAMES, if set, point at an existing ICD file.",
    ].join("\n"),
  );
}
