import { test } from "node:test";
import assert from "node:assert/strict";
import { build } from "esbuild";

test("the portable core bundles for a browser: no Dawn, no node: modules, no file I/O", async () => {
  // esbuild (already in the tree through tsx) refuses node built-ins when bundling for the browser.
  const result = await build({
    entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    logLevel: "silent",
  });
  assert.deepEqual(result.errors, []);
  const code = result.outputFiles[0].text;
  assert.ok(!/from\s*["']webgpu["']|dawn\.node/.test(code), "the browser bundle must not load Dawn");
  assert.match(code, /stack_forward/, "the WGSL sources are embedded");
});
