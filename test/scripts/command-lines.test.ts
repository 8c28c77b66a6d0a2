// The scripts' command lines (acceptance, study, ensure-torch-blas, bundle, the bundle's run.sh):
// --help works, and bad input is one line and exit 2 before any work, from any folder. Only the
// refusals run here: nothing trains, installs or bundles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsx = join(root, "node_modules", "tsx", "dist", "esm", "index.mjs");

/** The script run from the temporary folder, not the repository: it must not depend on the working folder. */
function script(file: string, args: string[]) {
  return spawnSync(process.execPath, ["--import", tsx, join(root, "scripts", file), ...args], {
    cwd: tmpdir(),
    encoding: "utf8",
    timeout: 60_000,
  });
}

function assertRefused(run: ReturnType<typeof script>, message: RegExp, label: string) {
  assert.equal(run.status, 2, `${label}: ${run.stderr}`);
  assert.match(run.stderr.split("\n")[0], message, label);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `${label}: no stack trace`);
}

test("acceptance.ts: --help, and every value checked before the first run", () => {
  const help = script("acceptance.ts", ["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npx tsx scripts\/acceptance\.ts/);
  assertRefused(script("acceptance.ts", ["--seeds", "x"]), /^--seeds takes whole numbers .*; got "x"/, "--seeds");
  assertRefused(script("acceptance.ts", ["--envs", "Foo"]), /^--envs: no env named "Foo"; the envs are: CartPole-v1/, "--envs");
  assertRefused(script("acceptance.ts", ["--preset", "nope"]), /^--preset: unknown preset "nope"/, "--preset");
  assertRefused(script("acceptance.ts", ["--bogus"]), /^Unknown option '--bogus'/, "--bogus");
});

test("study.ts: --help, a non-numeric --seed, a missing --runs folder and an unwritable --out exit 2 first", () => {
  const help = script("study.ts", ["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npx tsx scripts\/study\.ts/);
  assertRefused(script("study.ts", ["--seed", "x"]), /^--seed takes a whole number, 0 or more; got "x"/, "--seed");
  assertRefused(script("study.ts", ["--runs", "/no/such/runs"]), /^--runs \/no\/such\/runs is not a folder/, "--runs");
  assertRefused(
    script("study.ts", ["--runs", tmpdir(), "--out", "/etc/passwd/study"]),
    /^--out \/etc\/passwd\/study cannot take the results: .*ENOTDIR/,
    "--out",
  );
});

test("ensure-torch-blas.ts: --help, and misspelt sections or unknown flags are refused", () => {
  const help = script("ensure-torch-blas.ts", ["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npx tsx scripts\/ensure-torch-blas\.ts SECTIONS/);
  assertRefused(script("ensure-torch-blas.ts", ["stak,trian"]), /got "stak,trian"/, "sections");
  assertRefused(script("ensure-torch-blas.ts", ["tabular", "--bogus"]), /^Unknown option '--bogus'/, "flag");
});

test("bundle.ts: input errors found before staging exit 2; a binary that is not Node.js is named so", () => {
  const out = join(tmpdir(), `staq-bundle-never-${process.pid}`);
  assertRefused(script("bundle.ts", ["--node", "/no/such/node", "--out", out]), /^bundle: --node \/no\/such\/node: no such file/, "--node");
  assertRefused(script("bundle.ts", ["--node", "/bin/ls", "--out", out]), /^bundle: \/bin\/ls is not a Node\.js binary/, "ls");
  assertRefused(
    script("bundle.ts", ["--no-node", "--out", "/proc/staq-bundle"]),
    /^bundle: --out \/proc\/staq-bundle cannot be created/,
    "/proc",
  );
});

test("run.sh: a missing or empty --icd exits 2; the --icd hint follows a failed run (exit 1), not a benchmark's bad input (exit 2)", () => {
  const dir = mkdtempSync(join(tmpdir(), "staq-run-sh-"));
  try {
    const platform = `${process.platform}-${process.arch}`;
    writeFileSync(join(dir, "run.sh"), readFileSync(join(root, "scripts", "bundle-run.sh"), "utf8").replace("@PLATFORM@", platform));
    chmodSync(join(dir, "run.sh"), 0o755);
    mkdirSync(join(dir, "bench"));
    mkdirSync(join(dir, "node_modules", "webgpu", "dist", platform), { recursive: true });
    writeFileSync(join(dir, "node_modules", "webgpu", "dist", platform, "dawn.node"), "");
    // A stand-in benchmark: fails as told, as a failed run (1) or as bad input (2).
    writeFileSync(
      join(dir, "bench", "tabular.mjs"),
      `const how = process.argv.find((a) => a.startsWith("--how="))?.slice(6);
console.error(how === "adapter" ? "no WebGPU adapter found" : "Unknown option '--bogus'");
process.exit(how === "ok" ? 0 : how === "adapter" ? 1 : 2);`,
    );
    const env = { ...process.env, STAQ_NODE: process.execPath };
    const run = (args: string[]) => spawnSync(join(dir, "run.sh"), args, { encoding: "utf8", env, timeout: 60_000 });
    const hint = /pass --icd with the GPU driver's ICD JSON/;
    const adapter = run(["tabular", "--how=adapter"]);
    assert.equal(adapter.status, 1);
    assert.match(adapter.stderr, hint);
    const other = run(["tabular", "--how=other"]);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /Unknown option '--bogus'/);
    assert.doesNotMatch(other.stderr, hint);
    assert.equal(run(["tabular", "--how=ok"]).status, 0);
    for (const [args, message] of [
      [["--icd"], /--icd needs a path to an ICD JSON file/],
      [["--icd=", "tabular"], /--icd needs a path to an ICD JSON file; got an empty one/],
      [["--icd", join(dir, "none.json"), "tabular"], /--icd .*none\.json: no such file/],
    ] as const) {
      const refused = run([...args]);
      assert.equal(refused.status, 2, args.join(" "));
      assert.match(refused.stderr, message, args.join(" "));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
