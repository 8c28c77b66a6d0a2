/**
 * `createGpu` for Node: Dawn's bindings (npm `webgpu`). The only place staq loads Dawn.
 */
import { createRequire } from "node:module";
import { availableParallelism, totalmem } from "node:os";
import { StaqGpuError } from "../errors.ts";
import { createGpuFrom, wrapDevice, NO_ADAPTER_HELP, type Gpu, type GpuOptions } from "../gpu/gpu.ts";
import { captureStderrDuring } from "./dawn-stderr.ts";

type DawnModule = { create(flags: string[]): GPU };

let dawn: DawnModule | undefined;

/**
 * The process's Dawn instance. Measured here: devices from one instance work side by side and one
 * after another, but a second instance in the same process (e.g. with other flags) makes promises
 * of either hang now and then. So staq keeps one instance per process, created on first use with
 * the flags of that first call, and refuses a later call that needs different flags.
 */
let instance: { gpu: GPU; flags: string[]; adapterRequested: boolean } | undefined;

let filterWarnings = false;

/**
 * Keeps Dawn's known harmless start-up warnings (two lines on the limits it clamps on Vulkan) off
 * stderr from now on, and lets every other line through (see dawn-stderr.ts). For a program that
 * owns its process, as the `staq` CLI does: it briefly moves file descriptor 2 while Dawn looks
 * for adapters, which other threads opening files at that moment could disturb.
 */
export function filterDawnStartupWarnings(enabled = true): void {
  filterWarnings = enabled;
}

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  try {
    dawn = (await import("webgpu")) as DawnModule;
  } catch (error) {
    const where = (() => {
      try {
        return createRequire(import.meta.url).resolve("webgpu");
      } catch {
        return "not installed";
      }
    })();
    throw new StaqGpuError(
      `Loading Dawn's Node bindings (npm package "webgpu", ${where}) failed: ${(error as Error).message}\n` +
        "Reinstall with `npm ci`; Dawn's prebuilt dawn.node needs glibc >= 2.31 and a 64-bit Linux, macOS or Windows.",
      { cause: error },
    );
  }
  return dawn;
}

/** The Dawn instance flags for a set of options (exported for tests and diagnostics). */
export function dawnFlags(options: GpuOptions): string[] {
  const flags: string[] = [];
  if (options.fast) flags.push("enable-dawn-features=allow_unsafe_apis,disable_robustness");
  if (!options.timestampQuantization) flags.push("disable-dawn-features=timestamp_quantization");
  return flags;
}

/**
 * Creates a WebGPU device through Dawn, or wraps `options.device`. The returned object owns the
 * device: call `destroy()` when done, after which the process can exit on its own.
 */
export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  // The host's memory bounds what staq plans to allocate (see gpu/buffer-budget.ts); its cores are
  // a software adapter's (see train/fused-step.ts's fusedPreferred).
  const hostMemory = totalmem();
  const hostCores = availableParallelism();
  if (options.device) return wrapDevice(options.device, { source: "external", fast: false, ownsDevice: false, hostMemory, hostCores });
  if (options.gpu) return createGpuFrom(options.gpu, { ...options, source: "navigator", fast: false, hostMemory, hostCores });
  const flags = dawnFlags(options);
  if (instance && instance.flags.join(" ") !== flags.join(" ")) {
    throw new StaqGpuError(
      `This process already uses Dawn with flags [${instance.flags.join(", ")}]; a second Dawn instance with flags ` +
        `[${flags.join(", ")}] is not reliable in one process. Create every Gpu of a process with the same ` +
        "`fast` and `timestampQuantization` options, or run the other configuration in a child process.",
    );
  }
  if (!instance) {
    const { create } = await loadDawn();
    try {
      instance = { gpu: create(flags), flags, adapterRequested: false };
    } catch (error) {
      throw new StaqGpuError(`Dawn refused the instance flags [${flags.join(", ")}]: ${(error as Error).message}\n${NO_ADAPTER_HELP}`, {
        cause: error,
      });
    }
  }
  const current = instance;
  return createGpuFrom(current.gpu, {
    ...options,
    source: "dawn",
    fast: Boolean(options.fast),
    triedFlags: flags,
    hostMemory,
    hostCores,
    // Dawn prints its start-up warnings during the instance's first requestAdapter, synchronously.
    requestAdapter(request) {
      const first = !current.adapterRequested;
      current.adapterRequested = true;
      return first && filterWarnings ? captureStderrDuring(request) : request();
    },
  });
}
