// Sizes a device or machine cannot hold fail the command at once, with exit 2 and one line naming
// the size, the limit and what fits; never WebGPU errors on stdout, all-zero logits and exit 0, a
// std::bad_alloc, or a run that grows until the kernel kills it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { saveStack } from "../../src/node/stack-files.ts";
import { testGpu } from "../helpers/gpu.ts";
import { ONE_HIDDEN, ownStderrLines, pushedStack, randomStates, REPO_ROOT, runStaq, statesJson, tempDir } from "../io/stack-fixtures.ts";

const gpu = await testGpu();
const dir = await tempDir();

/** A one-snapshot stack file whose metadata says `memory`. */
async function stackFileWithMemory(memory: string): Promise<string> {
  const path = join(dir, `memory-${memory}.safetensors`);
  const base = join(dir, "base.safetensors");
  const { stack } = pushedStack(gpu, { memory: 2, pushes: 1, seed: 5 });
  await saveStack(stack, base);
  stack.destroy();
  const { tensors, metadata } = decodeSafetensors(await readFile(base));
  await writeFile(path, encodeSafetensors(tensors, { ...metadata, memory }));
  return path;
}

/** The one line a failing command prints (Dawn's own start-up warnings aside). */
function failureLine(stderr: string): string {
  const lines = ownStderrLines(stderr);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0];
}

test("staq logits on a stack file whose memory M exceeds the device fails with exit 2, naming the file, M, the limit and the largest M", async () => {
  const statesPath = join(dir, "states.json");
  await writeFile(statesPath, statesJson(randomStates(2, ONE_HIDDEN.inputs, 1), ONE_HIDDEN.inputs));
  const limit = gpu.info.limits.maxStorageBufferBindingSize;
  for (const memory of [100_000_000, 1_000_000_000]) {
    if (memory * 4 <= limit) continue; // a device that holds it has nothing to refuse
    const path = await stackFileWithMemory(String(memory));
    const result = await runStaq(["logits", "--stack", path, "--states", statesPath]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "", "no logits (and no WebGPU errors) on stdout");
    const line = failureLine(result.stderr);
    assert.ok(
      line.startsWith(`staq logits: ${path}: memory M = ${memory} (the file's __metadata__ "memory") needs a coefficients buffer`),
      line,
    );
    assert.match(line, new RegExp(`of ${memory * 4} bytes .*more than this device's maxStorageBufferBindingSize of ${limit} bytes`));
    assert.match(line, /; memory M can be at most \d+ on this machine$/);
  }
});

test("staq train with a memory M, replay capacity or batch size beyond the device fails at once with exit 2", async () => {
  const out = join(dir, "run");
  const runs = await Promise.all([
    runStaq(["train", "--env", "CartPole-v1", "--preset", "quick", "--memory", "100000000", "--out", out]),
    runStaq(["train", "--env", "CartPole-v1", "--preset", "quick", "--replay-capacity", "1000000000", "--out", out]),
    // The config wants batch <= steps per iteration <= replay capacity; the trainer is made before the replay buffer.
    runStaq([
      "train",
      "--env",
      "CartPole-v1",
      "--preset",
      "quick",
      "--batch-size",
      "10000000",
      "--steps-per-iteration",
      "10000000",
      "--replay-capacity",
      "10000000",
      "--out",
      out,
    ]),
  ]);
  const expected = [
    /^staq train: memory M = 100000000 needs /,
    /^staq train: replay capacity = 1000000000 needs /,
    /^staq train: batch size = 10000000 needs /,
  ];
  runs.forEach((result, k) => {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    const line = failureLine(result.stderr);
    assert.match(line, expected[k]);
    assert.match(line, /can be at most \d+ on this machine$/);
  });
});

test(
  "a GPU command's stderr has none of Dawn's known start-up warnings",
  { skip: process.platform !== "linux" && "Linux only (Dawn's Vulkan backend)" },
  () => {
    // stderr through a shell pipe, as in `staq gpu 2>&1 | less` (a Node parent's pipes are sockets,
    // which the filter leaves alone: see src/node/dawn-stderr.ts); stdout is dropped.
    const child = spawnSync("sh", ["-c", `"$0" --import tsx src/cli/main.ts gpu 2>&1 >/dev/null | cat`, process.execPath], {
      encoding: "utf8",
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, "", "nothing on stderr");
  },
);
