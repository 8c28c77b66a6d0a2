// The package as people get it: `npm pack` of the built tree, installed with `npm install
// <tarball>` into a fresh project, then used only through the package's public entry points
// (`import ... from "staq"`, `npx staq`), as a project that depends on staq would.
//
// npm test builds dist/ first; this test packs with --ignore-scripts so that it does not build
// again. The fresh project resolves staq's dependency (webgpu) through npm as usual, from npm's
// cache when `npm ci` has put it there.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

interface PackedFile {
  path: string;
  size: number;
}
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

/**
 * The environment for the npm and node processes of the fresh project: this one's, without the
 * npm_* variables an enclosing `npm test` sets (npm_config_local_prefix and others name this
 * repository, and the nested npm must work on the fresh project only). The cache and registry
 * are kept, so that a configured cache is still used.
 */
const KEEP = new Set(["npm_config_cache", "npm_config_registry"]);
const ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || KEEP.has(key.toLowerCase())));

function sh(command: string, args: readonly string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: ENV, encoding: "utf8", timeout });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.error, undefined, `${what}: ${result.error?.message}`);
  assert.equal(result.status, 0, `${what} exited ${result.status ?? result.signal}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

let work: string;
let app: string;
let pack: PackResult;
let manifest: Record<string, any>;

before(() => {
  assert.ok(existsSync(join(ROOT, "dist", "node", "index.js")), "dist/ is not built: run `npm run build` first (npm test does)");
  work = mkdtempSync(join(tmpdir(), "staq-package-"));
  pack = (
    JSON.parse(ok(sh("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], ROOT), "npm pack")) as PackResult[]
  )[0];
  const tarball = join(work, pack.filename);
  manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

  app = join(work, "app");
  mkdirSync(app);
  // What `npm init -y` then `npm pkg set type=module` would write, without depending on npm's init defaults.
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "staq-consumer", version: "1.0.0", private: true, type: "module" }, null, 2),
  );
  ok(sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], app, 300_000), "npm install <tarball>");
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the tarball holds the built library, its licences and its types, and none of the repository's own files", () => {
  const paths = new Set(pack.files.map((f) => f.path));
  const missing: string[] = [];
  const targets = (value: unknown): string[] =>
    typeof value === "string" ? [value] : value && typeof value === "object" ? Object.values(value).flatMap(targets) : [];
  for (const target of [...targets(manifest.exports), ...targets(manifest.bin)]) {
    if (!paths.has(target.replace(/^\.\//, ""))) missing.push(target);
  }
  assert.deepEqual(missing, [], "every export and bin target is in the tarball");
  for (const file of [
    "LICENSE",
    "README.md",
    "package.json",
    "dist/envs/minatar/LICENSE",
    "dist/envs/minatar/README.md",
    "dist/envs/gym/staq_gym_worker.py",
  ])
    assert.ok(paths.has(file), `${file} is in the tarball`);
  const stray = [...paths].filter((path) =>
    /\.map$|^dist\/demo\/|^(src|test|bench|scripts|demo|examples|docs|node_modules|test-artifacts)\//.test(path),
  );
  assert.deepEqual(stray, [], "no source maps (their sources are not shipped), demo pages, sources, tests or tools");
  // Every compiled module of the library comes with its declarations.
  const undeclared = [...paths].filter((path) => /^dist\/(?!browser\/).*\.js$/.test(path) && !paths.has(path.replace(/\.js$/, ".d.ts")));
  assert.deepEqual(undeclared, []);
  // The bin: a node shebang (npm makes it executable when it installs it: see the npx test).
  assert.match(
    readFileSync(join(ROOT, "dist", "cli", "main.js"), "utf8"),
    /^#!\/usr\/bin\/env node\n/,
    "the bin starts with a node shebang",
  );
  // A guard against packing something large by mistake (the library is about 1.3 MB unpacked).
  assert.ok(pack.unpackedSize < 4e6, `unpacked size ${pack.unpackedSize} bytes`);

  assert.equal(manifest.private, undefined, "the package is publishable");
  assert.equal(manifest.license, "Apache-2.0 AND GPL-3.0-or-later");
  assert.match(readFileSync(join(ROOT, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
  assert.match(readFileSync(join(ROOT, "src", "envs", "minatar", "LICENSE"), "utf8"), /GNU GENERAL PUBLIC LICENSE\s+Version 3/);
  // Plotting is optional: vega and vega-lite are optional peers, not dependencies.
  assert.deepEqual(
    Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith("vega")),
    [],
  );
  for (const name of ["vega", "vega-lite"]) {
    assert.ok(manifest.peerDependencies?.[name], `${name} is a peer dependency`);
    assert.equal(manifest.peerDependenciesMeta?.[name]?.optional, true, `${name} is an optional peer`);
  }
});

test('in a fresh project, `import { createGpu, createStack } from "staq"` evaluates a stack as the float64 reference does', () => {
  // The optional peers are not installed with staq.
  assert.equal(existsSync(join(app, "node_modules", "vega")), false, "npm installed vega, an optional peer");
  assert.ok(existsSync(join(app, "node_modules", "webgpu")), "npm did not install webgpu, a dependency");
  writeFileSync(
    join(app, "check.js"),
    `import { createGpu, createStack, stackLogits, stackLogitsReference, randomMlpWeights } from "staq";
import { minatarRegistrations } from "staq/envs/minatar";
import { pmdStep } from "staq/portable";

const gpu = await createGpu();
const mlp = { inputs: 3, hidden: [8], outputs: 2 };
const stack = createStack(gpu, { mlp, memory: 3, ensemble: 2, eta: 5, tau: 0.5 });
let seed = 1;
const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1;
for (let push = 0; push < 4; push++) stack.push([0, 1].map(() => randomMlpWeights(mlp, random)));
const batch = 4;
const states = Float32Array.from({ length: batch * mlp.inputs }, random);
const logits = await stackLogits(stack, states);
const reference = stackLogitsReference({ spec: mlp, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction }, states, batch);
stack.destroy();
gpu.destroy();
console.log(JSON.stringify({
  logits: Array.from(logits),
  reference: Array.from(reference.logits),
  bound: Array.from(reference.bound),
  games: minatarRegistrations().map((r) => r.name),
  portable: typeof pmdStep,
}));
`,
  );
  const stdout = ok(sh(process.execPath, ["check.js"], app), "node check.js");
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
    logits: number[];
    reference: number[];
    bound: number[];
    games: string[];
    portable: string;
  };
  assert.equal(result.logits.length, 4 * 2);
  result.logits.forEach((logit, k) => {
    assert.ok(Number.isFinite(logit), `logit ${k} is ${logit}`);
    assert.ok(
      Math.abs(logit - result.reference[k]) <= result.bound[k],
      `logit ${k}: ${logit}, float64 reference ${result.reference[k]} ± ${result.bound[k]}`,
    );
  });
  assert.ok(
    result.reference.some((x) => Math.abs(x) > 1e-3),
    "the logits are not all near zero (the comparison would be empty)",
  );
  assert.ok(result.games.includes("MinAtar/Breakout-v1"), `MinAtar games from staq/envs/minatar: ${result.games.join(", ")}`);
  assert.equal(result.portable, "function");
});

test("its declarations type-check a TypeScript consumer (skipLibCheck off)", () => {
  writeFileSync(
    join(app, "consumer.ts"),
    `import { createGpu, createStack, stackLogits, type Stack } from "staq";

const gpu = await createGpu();
const stack: Stack = createStack(gpu, { mlp: { inputs: 2, hidden: [4], outputs: 2 }, memory: 2, eta: 1, tau: 1 });
const logits: Float32Array = await stackLogits(stack, new Float32Array(2));
const device: GPUDevice = gpu.device;
// The declarations are real types, not any: a wrong call is an error.
// @ts-expect-error memory must be a number
createStack(gpu, { mlp: { inputs: 2, hidden: [4], outputs: 2 }, memory: "2", eta: 1, tau: 1 });
export { logits, device };
`,
  );
  // A TypeScript project as the README describes it: the DOM library (TypeScript's default),
  // whose WebGPU types (GPUDevice, ...) staq's declarations use; no other type packages.
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2022", "DOM"],
        types: [],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      files: ["consumer.ts"],
    }),
  );
  ok(sh(process.execPath, [TSC, "-p", "."], app), "tsc in the fresh project");
});

test("npx staq runs from the fresh project; staq plot says to install vega without it, and draws with it", () => {
  assert.equal(
    statSync(join(app, "node_modules", "staq", "dist", "cli", "main.js")).mode & 0o111,
    0o111,
    "the installed bin is executable",
  );
  assert.match(ok(sh("npx", ["--no-install", "staq", "--help"], app), "npx staq --help"), /^Usage: staq <command>/);

  // A run directory as staq train writes it: its config and two evaluations.
  const run = join(app, "run");
  mkdirSync(run);
  writeFileSync(join(run, "config.json"), JSON.stringify({ env: "CartPole-v1", preset: "quick" }));
  writeFileSync(join(run, "eval.jsonl"), '{"global_step": 100, "eval/mean_return": 20}\n{"global_step": 200, "eval/mean_return": 35}\n');
  const svg = join(app, "curve.svg");
  const without = sh("npx", ["--no-install", "staq", "plot", "run", "--out", svg], app);
  // 1: the request was valid but could not be carried out here (2 is for wrong arguments or inputs).
  assert.equal(without.status, 1, `staq plot without vega exited ${without.status}:\n${without.stderr}`);
  assert.match(without.stderr, /^staq plot: drawing charts needs the packages vega and vega-lite.*`npm install vega@6 vega-lite@6`\n$/);
  assert.equal(existsSync(svg), false);

  ok(
    sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "vega@6", "vega-lite@6"], app, 300_000),
    "npm install vega vega-lite",
  );
  assert.match(ok(sh("npx", ["--no-install", "staq", "plot", "run", "--out", svg], app), "staq plot with vega"), /^wrote /);
  assert.match(readFileSync(svg, "utf8"), /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
});
