import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

test("the README's quick start (examples/quickstart.ts) runs against the built package", () => {
  rmSync("/tmp/staq-quickstart.safetensors", { force: true });
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/quickstart.ts"], {
    cwd: new URL("..", import.meta.url).pathname,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /logits: Float32Array\(6\)/);
  assert.match(child.stdout, /sampled: Uint32Array\(3\)/);
  assert.ok(existsSync("/tmp/staq-quickstart.safetensors"));
});
