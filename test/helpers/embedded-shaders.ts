// The WGSL the tests run is src/gpu/shader-sources.generated.ts, which `npm run gen` writes from
// shaders/*.wgsl (npm test and npm run build run it first). A test file run alone after a shader
// edit would otherwise test the old shader and pass: testGpu() refuses that, naming the shader.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SHADER_DIR = fileURLToPath(new URL("../../shaders/", import.meta.url));

/** The shaders whose embedded source differs from shaders/NAME.wgsl (or is missing, or has no file any more). */
export function staleShaders(embedded: Readonly<Record<string, string>>, shaderDir = SHADER_DIR): string[] {
  const onDisk = new Map(
    readdirSync(shaderDir)
      .filter((name) => name.endsWith(".wgsl"))
      .map((name) => [name.replace(/\.wgsl$/, ""), readFileSync(join(shaderDir, name), "utf8")] as const),
  );
  const names = new Set([...onDisk.keys(), ...Object.keys(embedded)]);
  return [...names].filter((name) => onDisk.get(name) !== embedded[name]).sort();
}

/** Throws when the embedded shaders are not the files' (see the module comment). */
export function checkEmbeddedShaders(embedded: Readonly<Record<string, string>>, shaderDir?: string): void {
  const stale = staleShaders(embedded, shaderDir);
  if (stale.length > 0)
    throw new Error(
      `src/gpu/shader-sources.generated.ts is not what shaders/*.wgsl holds now (${stale.map((name) => `${name}.wgsl`).join(", ")}): run \`npm run gen\` after editing a shader (npm test and npm run build do it), or the tests run the old WGSL`,
    );
}
