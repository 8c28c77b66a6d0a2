// The check that keeps a test file run alone from testing an old shader (test/helpers/embedded-shaders.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHADER_SOURCES } from "../../src/gpu/shader-sources.generated.ts";
import { checkEmbeddedShaders, staleShaders } from "../helpers/embedded-shaders.ts";

test("the embedded shaders are the files' now (npm run gen ran after the last shader edit)", () => {
  assert.deepEqual(staleShaders(SHADER_SOURCES), []);
});

test("an edited, added or removed shader file is named, with what to run", async () => {
  const dir = await mkdtemp(join(tmpdir(), "staq-shaders-"));
  await writeFile(join(dir, "kept.wgsl"), "fn kept() {}\n");
  await writeFile(join(dir, "edited.wgsl"), "fn edited() { let sum = 1.0; }\n");
  await writeFile(join(dir, "added.wgsl"), "fn added() {}\n");
  const embedded = { kept: "fn kept() {}\n", edited: "fn edited() { let total = 1.0; }\n", removed: "fn removed() {}\n" };
  assert.deepEqual(staleShaders(embedded, dir), ["added", "edited", "removed"]);
  assert.throws(
    () => checkEmbeddedShaders(embedded, dir),
    /is not what shaders\/\*\.wgsl holds now \(added\.wgsl, edited\.wgsl, removed\.wgsl\): run `npm run gen` after editing a shader/,
  );
  assert.doesNotThrow(() =>
    checkEmbeddedShaders({ kept: "fn kept() {}\n", edited: "fn edited() { let sum = 1.0; }\n", added: "fn added() {}\n" }, dir),
  );
});
