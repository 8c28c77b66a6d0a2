// `npm run bundle` (scripts/bundle.ts) and the run.sh it writes (scripts/bundle-run.sh): built into
// a temporary folder outside the repository, so nothing in it can resolve the repository's
// node_modules, and run from there on this machine's adapter (lavapipe).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCHMARKS, BundleError, buildBundle, compressXz, hostPlatform, type Platform } from "../../scripts/bundle.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "staq-bundle-test-"));
const bare = join(work, "bare"); // --no-node
const withNode = join(work, "with-node"); // node.xz of this process's node, at xz -0 (fast)
const platform = hostPlatform() as Platform;

after(() => rmSync(work, { recursive: true, force: true }));

function bundleCli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["--import", "tsx", "scripts/bundle.ts", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

/** A PATH of only what run.sh needs, plus `extra` (node, xz, python3), each found on this machine. */
function pathWith(name: string, extra: string[]): string {
  const bin = join(work, `bin-${name}`);
  mkdirSync(bin, { recursive: true });
  for (const tool of ["dirname", "uname", "sed", "cat", "rm", "chmod", "mv", "grep", ...extra]) {
    // python3 may be a shim (pyenv's needs bash): link the interpreter itself.
    const found =
      tool === "node"
        ? process.execPath
        : tool === "python3"
          ? spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout.trim()
          : spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    assert.ok(found, `${tool} is on this machine's PATH`);
    if (!existsSync(join(bin, tool))) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

function runSh(bundle: string, args: string[], path: string, timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(join(bundle, "run.sh"), args, { cwd: work, encoding: "utf8", timeout, env: { ...process.env, PATH: path } });
}

before(() => {
  assert.ok(!work.startsWith(root), "the bundles are built outside the repository");
  for (let dir = work; dir !== dirname(dir); dir = dirname(dir)) {
    assert.ok(!existsSync(join(dir, "node_modules", "webgpu")), `no webgpu package above the bundles (${dir}/node_modules)`);
  }
  const built = bundleCli(["--no-node", "--out", bare]);
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stdout, new RegExp(`wrote ${bare}/ for ${platform} in [\\d.]+ s: [\\d.]+ MB`));
  assert.match(built.stdout, /no Node\.js \(--no-node\)/);
});

test("the bundle holds the benchmarks as .mjs, only this platform's dawn.node, an executable run.sh, and no installer", () => {
  assert.deepEqual(readdirSync(join(bare, "node_modules")), ["webgpu"]);
  assert.deepEqual(readdirSync(join(bare, "node_modules", "webgpu")).sort(), ["LICENSE.md", "dist", "index.js", "package.json"]);
  assert.deepEqual(readdirSync(join(bare, "node_modules", "webgpu", "dist")), [platform]);
  assert.ok(statSync(join(bare, "node_modules", "webgpu", "dist", platform, "dawn.node")).size > 1e6);
  const mjs = readdirSync(join(bare, "bench")).filter((name) => name.endsWith(".mjs")).sort();
  assert.deepEqual(mjs, BENCHMARKS.map((name) => `${name}.mjs`).sort());
  for (const name of mjs) {
    const text = readFileSync(join(bare, "bench", name), "utf8");
    assert.doesNotMatch(text, /from "\.{1,2}\/[^"]*\.ts"/, `${name} imports no .ts file`);
    assert.doesNotMatch(text, /runInstallPlan|ensureAdapter/, `${name} holds nothing that installs a driver`);
    assert.doesNotMatch(text, /from "vega|vega-lite/, `${name} bundles no plotting`);
  }
  assert.match(readFileSync(join(bare, "bench", "stack.mjs"), "utf8"), /import\("webgpu"\)/, "webgpu stays a package: its index.js finds dawn.node beside it");
  assert.match(readFileSync(join(bare, "bench", "stack.mjs"), "utf8"), /@compute/, "the WGSL shaders are inside");
  assert.ok(statSync(join(bare, "run.sh")).mode & 0o111, "run.sh is executable");
  assert.match(readFileSync(join(bare, "run.sh"), "utf8"), new RegExp(`^BUNDLE_PLATFORM='${platform}'$`, "m"));
  assert.ok(!existsSync(join(bare, "node.xz")), "--no-node: no node.xz");
  assert.ok(existsSync(join(bare, "licenses", "MinAtar-GPL-3.0.txt")));
  assert.ok(existsSync(join(bare, "bench", "pytorch_stack.py")), "the PyTorch baseline script travels with stack.mjs");
  assert.ok(existsSync(join(bare, "bench", "pytorch_train.py")), "the PyTorch baseline script travels with train.mjs");
  const manifest = JSON.parse(readFileSync(join(bare, "bundle.json"), "utf8"));
  assert.equal(manifest.platform, platform);
  assert.match(readFileSync(join(bare, "README.txt"), "utf8"), /total\s+\d+\.\d MB/);
  const total = spawnSync("du", ["-sb", bare], { encoding: "utf8" }).stdout.split("\t")[0];
  assert.ok(Number(total) < 40e6, `tens of MB without node (${total} bytes)`);
});

test("run.sh lists the benchmarks; an unknown one exits 2 naming the valid ones", () => {
  const path = pathWith("node", ["node"]);
  const help = runSh(bare, ["--help"], path);
  assert.equal(help.status, 0, help.stderr);
  for (const name of BENCHMARKS) assert.match(help.stdout, new RegExp(`^  ${name} `, "m"));
  const unknown = runSh(bare, ["stak"], path);
  assert.equal(unknown.status, 2);
  const names = BENCHMARKS.join(", ");
  assert.ok(unknown.stderr.includes(`unknown benchmark 'stak': choose one of ${names}`), unknown.stderr);
  const none = runSh(bare, [], path);
  assert.equal(none.status, 2);
  assert.ok(none.stderr.includes(`name a benchmark: one of ${names}`), none.stderr);
  const icd = runSh(bare, ["--icd", join(work, "no-such-icd.json"), "stack"], path);
  assert.equal(icd.status, 2, "a missing --icd file is bad input");
  assert.match(icd.stderr, /--icd .*no-such-icd\.json: no such file/);
});

test("a short GPU run from the bundle: Dawn from the bundle, GEMM kernels, the stack bench's child processes, results beside run.sh", () => {
  const path = pathWith("node", ["node"]);
  const where = spawnSync(process.execPath, ["--input-type=module", "-e", 'console.log(import.meta.resolve("webgpu"))'], { cwd: join(bare, "bench"), encoding: "utf8" });
  assert.equal(where.stdout.trim(), `file://${bare}/node_modules/webgpu/index.js`);
  // --max-eval-seconds 0 skips the grid: what is left is the GEMM ceiling (real kernels on the
  // adapter) and the fast-mode comparison, which runs stack.mjs again in four child processes.
  const run = runSh(bare, ["stack", "--max-eval-seconds", "0"], path);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /no node\.xz \(built with --no-node\): using /);
  assert.match(run.stdout, /^staq stack benchmark \(quick\) on .+ \[/m, "the adapter line");
  assert.match(run.stdout, /^GEMM ceiling: [\d.]+ GFLOP\/s/m);
  const results = join(bare, "results");
  const json = readdirSync(results).find((name) => name.endsWith(".json"));
  assert.ok(json, `a JSON report in ${results}`);
  const report = JSON.parse(readFileSync(join(results, json!), "utf8"));
  assert.equal(report.benchmark, "stack");
  assert.ok(report.ceiling.best.gflops > 0);
  assert.deepEqual(report.fastMode, [], "the fast-mode children ran (with nothing to measure)");
});

test("all.mjs runs every section as a sibling .mjs, with no tsx", () => {
  const run = runSh(bare, ["all", "--help"], pathWith("node", ["node"]));
  assert.equal(run.status, 0, run.stderr);
  for (const section of ["stack", "train", "precompute", "tabular", "envs"]) assert.match(run.stdout, new RegExp(`=== bench: ${section} ===\\nUsage: `));
});

test("without node.xz and without a node on PATH, run.sh says what to do", () => {
  const run = runSh(bare, ["tabular", "--help"], pathWith("bare", []));
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no Node\.js \(built with --no-node\) and there is no node on PATH: install Node\.js >= 20/);
});

test("with node.xz (xz -0 here): run.sh unpacks it once, with xz, else python3, else says it cannot", () => {
  const built = bundleCli(["--xz-level", "0", "--out", withNode]);
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stdout, /node\.xz\s+[\d.]+ MB/);
  const manifest = JSON.parse(readFileSync(join(withNode, "bundle.json"), "utf8"));
  assert.equal(manifest.node.xzLevel, 0);
  assert.equal(manifest.node.version, process.version);

  // No node on PATH: the bundle's own runs the GPU benchmark.
  const first = runSh(withNode, ["stack", "--max-eval-seconds", "0", "--no-fast-compare", "--out", join(work, "results-with-node")], pathWith("xz", ["xz"]));
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /unpacking node\.xz to \.\/node \(once\) with xz/);
  assert.match(first.stdout, new RegExp(`node ${process.version}`));
  assert.ok(existsSync(join(work, "results-with-node")), "--out is passed through");
  assert.ok(!existsSync(join(withNode, "results")), "and then nothing goes to results/");
  assert.equal(statSync(join(withNode, "node")).size, statSync(process.execPath).size);
  assert.ok(statSync(join(withNode, "node")).mode & 0o100);
  const second = runSh(withNode, ["tabular", "--help"], pathWith("xz", ["xz"]));
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /unpacking/, "unpacked once");

  rmSync(join(withNode, "node"));
  const python = runSh(withNode, ["tabular", "--help"], pathWith("python3", ["python3"]));
  assert.equal(python.status, 0, python.stderr);
  assert.match(python.stderr, /unpacking node\.xz to \.\/node \(once\) with python3's lzma \(no xz here\)/);
  assert.match(python.stdout, /^Usage: /m);

  rmSync(join(withNode, "node"));
  const neither = runSh(withNode, ["tabular", "--help"], pathWith("bare", []));
  assert.equal(neither.status, 1);
  assert.match(neither.stderr, /node\.xz needs xz .* or python3 to unpack, and this machine has neither/);
  assert.ok(!existsSync(join(withNode, "node")) && readdirSync(withNode).every((name) => !name.includes(".partial")), "no half-written node left");
});

test("compressXz round-trips through xz", () => {
  const source = join(work, "sample.bin");
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
  writeFileSync(source, bytes);
  compressXz(source, `${source}.xz`, 6);
  assert.ok(statSync(`${source}.xz`).size < bytes.length / 10);
  const back = spawnSync("xz", ["-dc", `${source}.xz`]);
  assert.equal(back.status, 0);
  assert.ok(Buffer.compare(back.stdout, bytes) === 0);
});

test("bundle errors (an unknown platform, another platform's node, a missing dawn.node, an --out that is not a bundle); a rebuild keeps results/", async () => {
  const unknown = bundleCli(["--platform", "linux-riscv64", "--no-node", "--out", join(work, "x")]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown platform "linux-riscv64": choose one of linux-x64, linux-arm64, darwin-universal, win32-x64, win32-arm64/);
  const other = platform === "linux-arm64" ? "linux-x64" : "linux-arm64";
  const foreign = bundleCli(["--platform", other, "--out", join(work, "x")]);
  assert.equal(foreign.status, 2);
  assert.match(foreign.stderr, new RegExp(`--platform ${other} is not this machine's .*pass --node PATH .* or --no-node`));
  assert.ok(!existsSync(join(work, "x")));

  const fakeWebgpu = join(work, "fake-webgpu");
  mkdirSync(join(fakeWebgpu, "dist", "linux-x64"), { recursive: true });
  writeFileSync(join(fakeWebgpu, "package.json"), JSON.stringify({ name: "webgpu", version: "0.0.0" }));
  writeFileSync(join(fakeWebgpu, "dist", "linux-x64", "dawn.node"), "");
  await assert.rejects(
    buildBundle({ platform: "darwin-universal", out: join(work, "y"), node: null, xzLevel: 0, webgpuDir: fakeWebgpu, log: () => {} }),
    (error: Error) => error instanceof BundleError && /no dawn\.node for darwin-universal: .*dist\/darwin-universal\/dawn\.node is missing \(webgpu 0\.0\.0 here has linux-x64/.test(error.message),
  );
  const occupied = join(work, "occupied");
  mkdirSync(occupied);
  writeFileSync(join(occupied, "notes.txt"), "mine");
  await assert.rejects(
    buildBundle({ platform, out: occupied, node: null, xzLevel: 0, log: () => {} }),
    (error: Error) => error instanceof BundleError && /exists and is not a staq bundle/.test(error.message),
  );
  assert.deepEqual(readdirSync(occupied), ["notes.txt"], "left alone");

  // A rebuild over the first bundle: a killed build's staging folder goes, earlier results stay.
  mkdirSync(join(bare, ".partial-1"));
  writeFileSync(join(bare, ".partial-1", "junk"), "");
  const resultsBefore = readdirSync(join(bare, "results"));
  const report = await buildBundle({ platform, out: bare, node: null, xzLevel: 0, log: () => {} });
  assert.ok(!existsSync(join(bare, ".partial-1")));
  assert.deepEqual(readdirSync(join(bare, "results")), resultsBefore);
  assert.equal(report.node, null);
  assert.ok(report.parts.webgpu > 1e6 && report.parts.bench > 1e4 && report.parts.node === 0);
});
