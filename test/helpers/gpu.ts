// One Gpu per test file (Dawn allows one device per adapter request, and compiling pipelines is
// the slow part on lavapipe, so tests share the device and its pipeline cache).
import { after } from "node:test";
import { createGpu } from "../../src/node/create-gpu.ts";
import type { Gpu } from "../../src/gpu/gpu.ts";
import { SHADER_SOURCES } from "../../src/gpu/shader-sources.generated.ts";
import { checkEmbeddedShaders } from "./embedded-shaders.ts";

let shared: Promise<Gpu> | undefined;

/** The test file's Gpu, destroyed after its last test. */
export function testGpu(): Promise<Gpu> {
  if (!shared) {
    checkEmbeddedShaders(SHADER_SOURCES);
    shared = createGpu();
    after(async () => (await shared!).destroy());
  }
  return shared;
}
