import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("the README's quick start (examples/quickstart.ts) runs against the built package", () => {
  const stackFile = join(tmpdir(), `staq-quickstart-${process.pid}.safetensors`);
  rmSync(stackFile, { force: true });
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/quickstart.ts", stackFile], {
    cwd: new URL("..", import.meta.url).pathname,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /logits: Float32Array\(6\)/);
  assert.match(child.stdout, /sampled: Uint32Array\(3\)/);
  assert.ok(existsSync(stackFile));
  rmSync(stackFile);
});

test("examples/tabular-pmd.ts runs against the built package, and the CLI reads the MDP it writes", () => {
  const out = join(tmpdir(), `staq-example-garnet-${process.pid}.json`);
  rmSync(out, { force: true });
  const root = new URL("..", import.meta.url).pathname;
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/tabular-pmd.ts", out], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^vanilla\s+M=10: ‖Q\* − Q\^π_300‖∞ = [1-9]\.\d+e-[1-3]$/m, "vanilla stalls at its floor");
  assert.match(child.stdout, /^corrected M=10: ‖Q\* − Q\^π_300‖∞ = \d\.\d+e-1[0-9]$/m, "corrected converges");
  const cli = spawnSync(
    process.execPath,
    [
      "dist/cli/main.js",
      "tabular",
      "--mdp",
      out,
      "--tau",
      "0.1",
      "--eta",
      "1",
      "--variant",
      "corrected",
      "--memory",
      "10",
      "--iterations",
      "5",
    ],
    { cwd: root, encoding: "utf8" },
  );
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).errors.length, 5);
});

test("examples/custom-env.ts: a user's own Env registers, time-limits and runs batched", () => {
  const root = new URL("..", import.meta.url).pathname;
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/custom-env.ts"], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^observations: 8 × \[2\] in one Float32Array\(16\)$/m);
  const [, total, found, cut] = /^episodes: (\d+) \((\d+) found the treasure, (\d+) cut at 20 steps\)$/m.exec(child.stdout) ?? [];
  assert.ok(Number(found) > 0 && Number(cut) > 0, "both endings happen: termination and the time limit's truncation");
  assert.equal(Number(found) + Number(cut), Number(total));
});

test("examples/one-iteration.ts: one StaQ iteration by hand — collect, precompute, fit, push", () => {
  const root = new URL("..", import.meta.url).pathname;
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/one-iteration.ts"], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const rounds = [...child.stdout.matchAll(/^steps (\d+): loss ([\d.]+), ([\d.]+); mean \|Q\| ([\d.]+), ([\d.]+)$/gm)];
  assert.deepEqual(
    rounds.map((m) => Number(m[1])),
    [500, 1000, 1500],
  );
  // Q starts at 0 (zero head) and grows towards the soft value of CartPole's +10 rewards.
  assert.ok(Number(rounds[2][4]) > Number(rounds[0][4]), "mean |Q| grows over the rounds");
  assert.match(child.stdout, /^stack size 1, coefficients 0\.0476$/m);
});

test("examples/train-agent.ts: create, learn, act, save, load and continue, and the trained policy alone", () => {
  const root = new URL("..", import.meta.url).pathname;
  const checkpoint = join(tmpdir(), `staq-example-agent-${process.pid}`);
  const child = spawnSync(process.execPath, ["--import", "tsx", "examples/train-agent.ts", "2000", checkpoint], {
    cwd: root,
    encoding: "utf8",
    timeout: 180_000,
  });
  rmSync(checkpoint, { recursive: true, force: true });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(
    [...child.stdout.matchAll(/^step (\d+): return/gm)].map((m) => Number(m[1])),
    [1000, 2000],
    "the first learn's iterations (the second has no callback)",
  );
  assert.deepEqual(
    [...child.stdout.matchAll(/^greedy evaluation at step (\d+)/gm)].map((m) => Number(m[1])),
    [0, 2000],
  );
  assert.match(child.stdout, /^greedy actions: \[ [01], [01] \]$/m);
  assert.match(child.stdout, /^loaded at step 2000, stack of 2 snapshots$/m);
  assert.match(child.stdout, /^now at step 3000$/m);
  assert.match(child.stdout, /^policy from the checkpoint \(step 2000\): mean greedy return \d+\.\d over 3 episodes$/m);
});
