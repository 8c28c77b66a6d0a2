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
import { Kernel } from "./kernel.ts";
import { reflectShader } from "./shader-reflection.ts";

export type ShaderName = keyof typeof SHADER_SOURCES;

/**
 * A shader that is not one of the library's (a benchmark's, a user's): its name (for messages and
 * the pipeline cache) and its WGSL, which may `@include` the library's shaders.
 */
export interface ShaderSource {
  name: string;
  source: string;
  /** Where it comes from, for messages (default: the name). */
  file?: string;
}

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
   * True for a fallback adapter (a software one such as lavapipe or SwiftShader): its buffers are
   * host memory, so staq counts them against `hostMemory` too.
   */
  fallbackAdapter: boolean;
  /**
   * The host's memory in bytes where staq can know it (Node: os.totalmem()), else null. Sizes
   * that grow with a user's choice (the stack's memory M, a replay capacity) are checked against
   * a share of it before anything is allocated (see buffer-budget.ts).
   */
  hostMemory: number | null;
  /**
   * The host's logical cores where staq can know them (Node: os.availableParallelism()), else
   * null. On a software adapter they are the device's cores: the trainer picks its path with them
   * (fused-step.ts's `fusedPreferred`).
   */
  hostCores: number | null;
  /**
   * True when awaiting a WebGPU promise keeps the JS thread busy (Dawn's Node bindings poll with
   * setImmediate); staq then waits for long GPU work on a timer first (see patient-wait.ts).
   */
  busyPolls: boolean;
}

/**
 * staq's handle on a WebGPU device. The library's modules reach the device only through it (and
 * through `Kernel`, `UniformSlots` and `Readback` in this folder), so every allocation, upload,
 * submit and readback passes the checks of this one place; `device` stays public for programs
 * that bring their own WebGPU code.
 */
export interface Gpu {
  readonly device: GPUDevice;
  readonly info: GpuInfo;
  /**
   * The kernel of `shaders/<name>.wgsl` (or of a `ShaderSource`) with `constants` injected: its
   * pipeline and the interface it declares. Compiled once per distinct set of constants and cached
   * for the life of this object.
   */
  kernel(shader: ShaderName | ShaderSource, constants: ShaderConstants): Promise<Kernel>;
  /** The compute pipeline of a kernel (see `kernel`), for code that binds by index itself. */
  pipeline(shader: ShaderName | ShaderSource, constants: ShaderConstants): Promise<GPUComputePipeline>;
  /** Queues a write of `data` into `buffer` at `offset` bytes (ordered before any later submit). */
  writeBuffer(buffer: GPUBuffer, offset: number, data: ArrayBufferView | ArrayBuffer): void;
  /** A new command encoder. */
  encoder(label: string): GPUCommandEncoder;
  /** Submits command buffers to the device's queue. */
  submit(commands: GPUCommandBuffer[]): void;
  /** A bind group for group 0 of `pipeline` (Kernel.bind builds the entries by name). */
  createBindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[], label: string): GPUBindGroup;
  /** Resolves when the work submitted so far has finished. */
  idle(): Promise<void>;
  /**
   * Resolves once no kernel is being compiled: every compile begun so far, and any begun while
   * waiting, has finished or failed. Dawn builds pipelines on worker threads, and a process that
   * exits (process.exit) while one runs can crash in the static destructors exit() runs under it
   * (SIGSEGV, not the exit code asked for); staq's CLI awaits this before it exits at once.
   */
  compiled(): Promise<void>;
  /** True once `destroy()` ran or the device was lost. */
  readonly destroyed: boolean;
  /**
   * The first WebGPU error on this device (a validation or out-of-memory error nobody captured
   * with an error scope, or the device's loss), as the StaqGpuError every later readback throws;
   * undefined while there was none. Once WebGPU has reported an error, results computed on the
   * device may come from invalid objects, so staq returns none: create a new Gpu to go on.
   */
  readonly error: StaqGpuError | undefined;
  /** Throws (a copy of) `error` if there is one. staq calls it wherever it reads results back. */
  throwIfFailed(): void;
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
   * Turn off Dawn's robustness (bounds checks on every buffer access). At most a little faster
   * (1.0–1.15× measured on lavapipe for the stack kernel), but an out-of-range access in a kernel is then undefined
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
  options: GpuOptions & {
    source: GpuInfo["source"];
    fast: boolean;
    triedFlags?: string[];
    hostMemory?: number | null;
    hostCores?: number | null;
    /** How to call requestAdapter (the Node entry filters what Dawn prints during the first call). */
    requestAdapter?: (request: () => Promise<GPUAdapter | null>) => Promise<GPUAdapter | null>;
  },
): Promise<Gpu> {
  const request = () => gpuApi.requestAdapter({ powerPreference: options.powerPreference });
  const adapter = await (options.requestAdapter ? options.requestAdapter(request) : request());
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

function firstLine(message: string): string {
  return message.split("\n")[0].trim();
}

/**
 * The StaqGpuError for an error WebGPU reported: one line (Dawn's first), with what it means for
 * staq's results; the whole message is the cause.
 */
function describeGpuError(error: GPUError): StaqGpuError {
  const kind = error.constructor?.name;
  const cause = new Error(error.message);
  if (kind === "GPUOutOfMemoryError") {
    return new StaqGpuError(
      `the GPU ran out of memory: ${firstLine(error.message)}; use a smaller stack (memory M), replay capacity or batch`,
      { cause },
    );
  }
  const what = kind === "GPUValidationError" ? "a validation error" : kind === "GPUInternalError" ? "an internal error" : "an error";
  return new StaqGpuError(`WebGPU reported ${what}, so staq returns no results computed on this device: ${firstLine(error.message)}`, {
    cause,
  });
}

/** Wraps a device in a `Gpu`. With `ownsDevice: false` the device is never destroyed by staq. */
export function wrapDevice(
  device: GPUDevice,
  options: {
    source: GpuInfo["source"];
    fast: boolean;
    ownsDevice: boolean;
    adapterInfo?: GPUAdapterInfo;
    hostMemory?: number | null;
    hostCores?: number | null;
  },
): Gpu {
  const limits = {} as GpuLimits;
  for (const name of [...WANTED_LIMITS, "minStorageBufferOffsetAlignment"] as (keyof GpuLimits)[]) {
    limits[name] = device.limits[name];
  }
  const adapterInfo = options.adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const info: GpuInfo = {
    ...describeAdapterInfo(adapterInfo),
    features: {
      shaderF16: device.features.has("shader-f16"),
      subgroups: device.features.has("subgroups"),
      timestampQuery: device.features.has("timestamp-query"),
    },
    limits,
    fast: options.fast,
    source: options.source,
    busyPolls: options.source === "dawn",
    fallbackAdapter: adapterInfo?.isFallbackAdapter === true,
    hostMemory: options.hostMemory ?? null,
    hostCores: options.hostCores ?? null,
  };

  const kernels = new Map<string, Promise<Kernel>>();
  /** Compiles in flight, each settling (never rejecting) and leaving the set when done (see compiled()). */
  const compiling = new Set<Promise<void>>();
  let destroyed = false;

  let firstError: StaqGpuError | undefined;
  /** Keeps the first error: later ones are mostly consequences ("invalid due to a previous error"). */
  function record(error: StaqGpuError): void {
    firstError ??= error;
  }

  let lostError: StaqGpuError | undefined;
  device.lost.then((lost) => {
    // Not through destroy(): lost, or destroyed by its owner (or by a call to gpu.device.destroy()).
    if (!destroyed) {
      const what = lost.reason === "destroyed" ? "was destroyed outside this Gpu (device.destroy())" : `was lost (${lost.reason})`;
      const detail = firstLine(lost.message) ? `: ${firstLine(lost.message)}` : "";
      lostError = new StaqGpuError(`the WebGPU device ${what}${detail}; create a new Gpu to go on`, { cause: new Error(lost.message) });
      record(lostError);
    }
    destroyed = true;
  });
  const onUncapturedError = (event: Event) => {
    const { error } = event as GPUUncapturedErrorEvent;
    record(describeGpuError(error));
    // Dawn's Node bindings print an error nobody prevented on stdout, which is the output of a
    // command (JSON, logits); staq reports it itself, as the StaqGpuError of the next readback.
    // A device staq was handed keeps its owner's default handling.
    if (options.ownsDevice) event.preventDefault();
  };
  device.addEventListener("uncapturederror", onUncapturedError);
  const throwIfFailed = () => {
    // A new error each time, so its stack says where staq stopped; the message is the first error's.
    if (firstError) throw new StaqGpuError(firstError.message, { cause: firstError.cause });
  };

  async function compile(shader: ShaderName | ShaderSource, constants: ShaderConstants): Promise<Kernel> {
    const name = typeof shader === "string" ? shader : shader.name;
    const source = typeof shader === "string" ? SHADER_SOURCES[shader] : shader.source;
    const file = typeof shader === "string" ? `shaders/${name}.wgsl` : (shader.file ?? name);
    if (source === undefined) throw new StaqInputError(`no shader named ${name}`);
    const code = resolveIncludes(injectConstants(source, constants, file), SHADER_SOURCES, file);
    // Read before compiling, so that a shader the kernel layer cannot bind by name fails first.
    const shaderInterface = reflectShader(code, file);
    const label = `${name} ${constantsKey(constants)}`;
    // The error scope keeps a failed compile from also surfacing as an uncaptured error.
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code, label });
    const scopeError = await device.popErrorScope();
    const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
    if (scopeError && messages.length === 0) {
      throw new StaqGpuError(`${file} was rejected: ${scopeError.message}`);
    }
    if (messages.length > 0) {
      const lines = messages.map((m) => `  ${file}:${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new StaqGpuError(`${file} failed to compile with constants ${constantsKey(constants)}:\n${lines.join("\n")}`);
    }
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label });
    } catch (error) {
      throw new StaqGpuError(`creating the pipeline for ${file} failed: ${(error as Error).message}`, { cause: error });
    }
    return new Kernel(gpu, name, pipeline, shaderInterface, file);
  }

  /** Writes and submits after destroy() would fail inside Dawn with a message that names nothing of staq's. */
  function usable(): void {
    if (destroyed) throw new StaqGpuError(lostError?.message ?? "this Gpu was destroyed; create a new one with createGpu()");
  }

  function kernel(shader: ShaderName | ShaderSource, constants: ShaderConstants): Promise<Kernel> {
    if (firstError) return Promise.reject(new StaqGpuError(firstError.message, { cause: firstError.cause }));
    if (destroyed) return Promise.reject(new StaqGpuError("this Gpu was destroyed; create a new one with createGpu()"));
    const name = typeof shader === "string" ? shader : shader.name;
    const key = `${name}|${constantsKey(constants)}`;
    let compiled = kernels.get(key);
    if (!compiled) {
      compiled = compile(shader, constants);
      // A failed compile is not cached: the error is reported to the caller, and a retry recompiles.
      compiled.catch(() => kernels.delete(key));
      kernels.set(key, compiled);
      const settled: Promise<void> = compiled.then(
        () => void compiling.delete(settled),
        () => void compiling.delete(settled),
      );
      compiling.add(settled);
    }
    return compiled;
  }

  const gpu: Gpu = {
    device,
    info,
    get destroyed() {
      return destroyed;
    },
    get error() {
      return firstError;
    },
    throwIfFailed,
    kernel,
    async pipeline(shader, constants) {
      return (await kernel(shader, constants)).pipeline;
    },
    writeBuffer(buffer, offset, data) {
      usable();
      if (data instanceof ArrayBuffer) device.queue.writeBuffer(buffer, offset, data);
      else device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    },
    encoder(label) {
      return device.createCommandEncoder({ label });
    },
    submit(commands) {
      usable();
      device.queue.submit(commands);
    },
    createBindGroup(pipeline, entries, label) {
      return device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    },
    idle() {
      return device.queue.onSubmittedWorkDone();
    },
    async compiled() {
      // A loop: a compile that settles may be followed by one its caller starts next.
      while (compiling.size > 0) await Promise.all(compiling);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      kernels.clear();
      device.removeEventListener("uncapturederror", onUncapturedError);
      if (options.ownsDevice) device.destroy();
    },
  };
  return gpu;
}
