/**
 * The GPU runtime object: owns (or wraps) a GPUDevice, reports what the adapter can do, compiles
 * staq's shaders with injected constants and caches the pipelines.
 *
 * This file is portable: it never imports Dawn. In Node, `createGpu` from the package's Node entry
 * hands Dawn's `GPU` object to `createGpuFrom`; in a browser the portable `createGpu` uses
 * `navigator.gpu`; and anyone can wrap a device they already have.
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import { SHADER_SOURCES } from "./shader-sources.generated.ts";
import { constantsKey, injectConstants, resolveIncludes, type ShaderConstants } from "./shader-template.ts";

export type ShaderName = keyof typeof SHADER_SOURCES;

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

/** The device limits staq plans its work with. */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
}

export interface GpuInfo {
  /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  adapter: string;
  vendor: string;
  architecture: string;
  features: GpuFeatures;
  limits: GpuLimits;
  /** True when Dawn's bounds-checking robustness is off (see `GpuOptions.fast`). */
  fast: boolean;
  /** Where the device came from. */
  source: "dawn" | "navigator" | "external";
  /**
   * True when awaiting a WebGPU promise keeps the JS thread busy (Dawn's Node bindings poll with
   * setImmediate); staq then waits for long GPU work on a timer first (see patient-wait.ts).
   */
  busyPolls: boolean;
}

export interface Gpu {
  readonly device: GPUDevice;
  readonly info: GpuInfo;
  /**
   * The compute pipeline of `shaders/<name>.wgsl` with `constants` injected, compiled once per
   * distinct set of constants and cached for the life of this object.
   */
  pipeline(name: ShaderName, constants: ShaderConstants): Promise<GPUComputePipeline>;
  /** True once `destroy()` ran or the device was lost. */
  readonly destroyed: boolean;
  /**
   * Releases the device (when this object created it) and every cache. An externally supplied
   * device is left to its owner. Safe to call twice.
   */
  destroy(): void;
}

export interface GpuOptions {
  /** Wrap this existing device instead of creating one; `destroy()` will then leave it alive. */
  device?: GPUDevice;
  /** The WebGPU entry point to use (defaults to `navigator.gpu` in the portable build). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * Turn off Dawn's robustness (bounds checks on every buffer access). Faster (about 1.5× on
   * lavapipe for the stack kernel), but an out-of-range access in a kernel is then undefined
   * behaviour instead of a clamped read. staq's kernels do not index out of range, and their tests
   * run with robustness on. Only Dawn in Node can do this.
   */
  fast?: boolean;
  /**
   * Keep Dawn's timestamp quantisation (65.536 µs steps, a fingerprinting defence). Off by default
   * in Node so device timings are precise; browsers decide for themselves.
   */
  timestampQuantization?: boolean;
}

const WANTED_FEATURES: GPUFeatureName[] = ["shader-f16", "subgroups" as GPUFeatureName, "timestamp-query"];
const WANTED_LIMITS: (keyof GpuLimits)[] = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
];

/** What to tell a user whose environment has no adapter. */
export const NO_ADAPTER_HELP = [
  "How to fix it:",
  "  - Linux without a GPU: install Mesa's software Vulkan driver (lavapipe, Mesa >= 24) and the Vulkan loader;",
  "    on Debian 12 that is `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`",
  "    (`npm test` and `npx staq gpu --install-driver` do this themselves when run as root on Debian).",
  "  - Linux with a GPU: install the vendor's Vulkan driver (check with `vulkaninfo --summary`).",
  "  - In a browser: use one with WebGPU enabled (Chrome/Edge 113+, or --enable-unsafe-webgpu).",
].join("\n");

function describeAdapterInfo(info: GPUAdapterInfo | undefined): { adapter: string; vendor: string; architecture: string } {
  const vendor = info?.vendor ?? "";
  const architecture = info?.architecture ?? "";
  const adapter = info?.description || info?.device || vendor || "unknown adapter";
  return { adapter, vendor, architecture };
}

/** Creates a device on `gpuApi`'s best adapter, asking for every feature and limit staq can use. */
export async function createGpuFrom(
  gpuApi: GPU,
  options: GpuOptions & { source: GpuInfo["source"]; fast: boolean; triedFlags?: string[] },
): Promise<Gpu> {
  const adapter = await gpuApi.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    const tried = options.triedFlags?.length ? ` (Dawn flags: ${options.triedFlags.join(" ")})` : "";
    throw new StaqGpuError(`No WebGPU adapter found: requestAdapter() returned null${tried}.\n${NO_ADAPTER_HELP}`);
  }
  const requiredFeatures = WANTED_FEATURES.filter((feature) => adapter.features.has(feature));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: "staq" });
  } catch (error) {
    throw new StaqGpuError(`The adapter refused to create a device: ${(error as Error).message}`, { cause: error });
  }
  return wrapDevice(device, { ...options, adapterInfo: adapter.info, ownsDevice: true });
}

/**
 * The portable `createGpu`: wraps `options.device` if given, else creates a device from
 * `options.gpu` or the browser's `navigator.gpu`. (The Node entry replaces this with a version
 * that creates Dawn's GPU object.)
 */
export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (options.fast) {
    throw new StaqInputError("`fast` needs Dawn's toggles, which only the Node build can set; drop the option in a browser.");
  }
  if (options.device) return wrapDevice(options.device, { source: "external", fast: false, ownsDevice: false });
  const gpuApi = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpuApi) {
    throw new StaqGpuError(
      `This environment has no WebGPU (navigator.gpu is undefined). In Node, import staq's Node entry ("staq" resolves to it), or pass { gpu } or { device }.\n${NO_ADAPTER_HELP}`,
    );
  }
  return createGpuFrom(gpuApi, { ...options, source: "navigator", fast: false });
}

/** Wraps a device in a `Gpu`. With `ownsDevice: false` the device is never destroyed by staq. */
export function wrapDevice(
  device: GPUDevice,
  options: { source: GpuInfo["source"]; fast: boolean; ownsDevice: boolean; adapterInfo?: GPUAdapterInfo },
): Gpu {
  const limits = {} as GpuLimits;
  for (const name of [...WANTED_LIMITS, "minStorageBufferOffsetAlignment"] as (keyof GpuLimits)[]) {
    limits[name] = device.limits[name];
  }
  const info: GpuInfo = {
    ...describeAdapterInfo(options.adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo),
    features: {
      shaderF16: device.features.has("shader-f16"),
      subgroups: device.features.has("subgroups"),
      timestampQuery: device.features.has("timestamp-query"),
    },
    limits,
    fast: options.fast,
    source: options.source,
    busyPolls: options.source === "dawn",
  };

  const pipelines = new Map<string, Promise<GPUComputePipeline>>();
  let destroyed = false;

  device.lost.then((lost) => {
    if (!destroyed && lost.reason !== "destroyed") {
      console.error(`staq: the WebGPU device was lost (${lost.reason}): ${lost.message}`);
    }
    destroyed = true;
  });
  device.addEventListener("uncapturederror", (event) => {
    console.error(`staq: uncaptured WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });

  async function compile(name: ShaderName, constants: ShaderConstants): Promise<GPUComputePipeline> {
    const source = SHADER_SOURCES[name];
    if (source === undefined) throw new StaqInputError(`no shader named ${name}`);
    const code = resolveIncludes(injectConstants(source, constants, `shaders/${name}.wgsl`), SHADER_SOURCES, `shaders/${name}.wgsl`);
    const label = `${name} ${constantsKey(constants)}`;
    // The error scope keeps a failed compile from also surfacing as an uncaptured error.
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code, label });
    const scopeError = await device.popErrorScope();
    const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
    if (scopeError && messages.length === 0) {
      throw new StaqGpuError(`shaders/${name}.wgsl was rejected: ${scopeError.message}`);
    }
    if (messages.length > 0) {
      const lines = messages.map((m) => `  shaders/${name}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new StaqGpuError(`shaders/${name}.wgsl failed to compile with constants ${constantsKey(constants)}:\n${lines.join("\n")}`);
    }
    try {
      return await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label });
    } catch (error) {
      throw new StaqGpuError(`creating the pipeline for shaders/${name}.wgsl failed: ${(error as Error).message}`, { cause: error });
    }
  }

  return {
    device,
    info,
    get destroyed() {
      return destroyed;
    },
    pipeline(name, constants) {
      if (destroyed) throw new StaqGpuError("this Gpu was destroyed; create a new one with createGpu()");
      const key = `${name}|${constantsKey(constants)}`;
      let pipeline = pipelines.get(key);
      if (!pipeline) {
        pipeline = compile(name, constants);
        // A failed compile is not cached: the error is reported to the caller, and a retry recompiles.
        pipeline.catch(() => pipelines.delete(key));
        pipelines.set(key, pipeline);
      }
      return pipeline;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      pipelines.clear();
      if (options.ownsDevice) device.destroy();
    },
  };
}
