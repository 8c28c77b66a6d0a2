/**
 * The pages' first step: a WebGPU device, or a message saying plainly why there is none and what
 * to do. The banner element gets data-state="ok" | "missing" | "error" (the browser tests read it).
 */
import { createGpu, type Gpu } from "../src/index.ts";

const HOW_TO_GET_WEBGPU =
  "Use a browser with WebGPU: Chrome or Edge 113 or newer (on Linux, start it with --enable-unsafe-webgpu " +
  "or turn on chrome://flags/#enable-unsafe-webgpu), Safari 26, or Firefox 141 or newer on Windows. " +
  "WebGPU is only given to pages on https or on localhost.";

export async function openGpu(banner: HTMLElement): Promise<Gpu | null> {
  const say = (state: "ok" | "missing" | "error", text: string) => {
    banner.dataset.state = state;
    banner.textContent = text;
  };
  if (!("gpu" in navigator) || !navigator.gpu) {
    say("missing", `This browser has no WebGPU (navigator.gpu is undefined), and staq runs on WebGPU. ${HOW_TO_GET_WEBGPU}`);
    return null;
  }
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) {
    say("missing", `This browser has WebGPU but found no GPU adapter (it may be blocked for this GPU or driver). ${HOW_TO_GET_WEBGPU}`);
    return null;
  }
  try {
    const gpu = await createGpu();
    gpu.device.lost.then((info) => {
      if (info.reason !== "destroyed") say("error", `The GPU device was lost (${info.message || info.reason}). Reload the page.`);
    });
    say(
      "ok",
      `WebGPU: ${gpu.info.adapter || "adapter"} (${gpu.info.vendor || "unknown vendor"}, ${gpu.info.architecture || "unknown architecture"})`,
    );
    return gpu;
  } catch (error) {
    say("error", `Could not open a WebGPU device: ${(error as Error).message}`);
    return null;
  }
}
