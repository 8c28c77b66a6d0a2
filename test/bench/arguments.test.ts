// The benchmark programs' command lines (bench/arguments.ts, bench/all.ts): every mistake is one
// line and exit 2 before anything is measured, run as child processes so the exit code is seen.
// Nothing here reaches a GPU: each case fails (or prints help) before the adapter is asked for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchCommandLine, sectionArguments } from "../../bench/arguments.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

function bench(file: string, args: string[]) {
  // STAQ_UPSTREAM_SRC unset: envs.ts takes it as --upstream-src's default.
  const env = { ...process.env };
  delete env.STAQ_UPSTREAM_SRC;
  return spawnSync(process.execPath, ["--import", "tsx", join("bench", file), ...args], {
    cwd: root,
    encoding: "utf8",
    env,
    timeout: 60_000,
  });
}

function assertRefused(run: ReturnType<typeof bench>, message: RegExp, label: string) {
  assert.equal(run.status, 2, `${label}: ${run.stderr}`);
  assert.match(run.stderr.split("\n")[0], message, label);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `${label}: no stack trace`);
}

test("each benchmark program refuses an unknown option or a missing value with exit 2 and its usage line", () => {
  for (const file of ["stack.ts", "train.ts", "precompute.ts", "envs.ts", "tabular.ts", "logits-drift.ts"]) {
    const run = bench(file, ["--bogus"]);
    assertRefused(run, /^Unknown option '--bogus'/, file);
    assert.match(run.stderr, new RegExp(`Usage: npx tsx bench/${file.replace(".", "\\.")}`), file);
    assertRefused(bench(file, ["--out"]), /^Option '--out <value>' argument missing/, `${file} --out`);
  }
});

test("numbers are plain decimals, quoted when refused; precompute blames --rows when --new-rows was not given", () => {
  for (const text of ["abc", "", "0x10"])
    assertRefused(
      bench("stack.ts", ["--max-eval-seconds", text]),
      new RegExp(`^--max-eval-seconds takes a number of seconds .*; got ${JSON.stringify(JSON.stringify(text)).slice(1, -1)}$`),
      text,
    );
  assertRefused(bench("stack.ts", ["--pytorch", "gpu"]), /^--pytorch takes cuda, cpu or off; got "gpu"/, "--pytorch");
  assertRefused(
    bench("precompute.ts", ["--rows", "50"]),
    /^--rows 50 leaves 5 new rows per iteration \(rows \/ 10\).*give --rows/,
    "--rows 50",
  );
  assertRefused(bench("precompute.ts", ["--rows", "0x10"]), /^--rows takes a positive whole number; got "0x10"/, "0x10");
  assertRefused(bench("logits-drift.ts", ["--pushes", "0x10"]), /^--pushes takes a positive whole number; got "0x10"/, "pushes");
});

test("envs.ts: a missing --upstream-src and an empty --only= are mistakes", () => {
  assertRefused(bench("envs.ts", ["--upstream-src", "/no/such/folder"]), /^--upstream-src "\/no\/such\/folder" does not exist/, "upstream");
  assertRefused(bench("envs.ts", ["--only="]), /^--only takes a comma-separated list of .*; got ""/, "--only=");
});

test("--out is made and tried before measuring: a path under a file exits 2 at once", () => {
  const dir = mkdtempSync(join(tmpdir(), "staq-bench-out-"));
  try {
    writeFileSync(join(dir, "file"), "");
    for (const file of ["tabular.ts", "envs.ts"])
      assertRefused(
        bench(file, ["--out", join(dir, "file", "results")]),
        /^--out .*file\/results cannot take the results: .*ENOTDIR/,
        file,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bench/gemm.ts run directly says it is a module", () => {
  assertRefused(bench("gemm.ts", ["--bogus"]), /^bench\/gemm\.ts is a module the benchmarks import, not a program/, "gemm");
});

test("npm run bench: a flag without its value, an unknown flag or one no chosen section takes exits 2 before any section", () => {
  const cases: [string[], RegExp][] = [
    [["--only", "tabular", "--out"], /^Option '--out <value>' argument missing/],
    [["--rows"], /^Option '--rows <value>' argument missing/],
    [["--only"], /^Option '--only <value>' argument missing/],
    [["--only", "tabular", "--bogus"], /^Unknown option '--bogus'/],
    [["--only", "tabular", "--fast"], /^--fast is taken by stack, train, precompute only, and --only tabular runs none of them/],
    [["--only", "tabular,envs", "--rows", "conv"], /^--rows is taken by stack, train only/],
    [["--only", "tabular", "--quick", "--full"], /^Choose one of --quick and --full/],
    [["--rows", "bad"], /^--rows takes all, dense or conv; got "bad"/],
    [["--only", "stak"], /^--only takes a comma-separated list of stack, train, precompute, tabular, envs; got "stak"/],
    [["--only", "envs", "--upstream-src", "/no/such/folder"], /^--upstream-src "\/no\/such\/folder" does not exist/],
  ];
  for (const [args, message] of cases) {
    const run = bench("all.ts", args);
    assertRefused(run, message, args.join(" "));
    assert.doesNotMatch(run.stdout, /=== bench: /, `${args.join(" ")}: no section ran`);
  }
  assert.deepEqual(
    readdirSync(root).filter((name) => name === "undefined"),
    [],
    "no ./undefined/ folder",
  );
});

test("npm run bench passes each section the options it takes, as --name=value, in order", () => {
  const { only, options } = parseBenchCommandLine([
    "--only",
    "train,envs",
    "--out=-odd",
    "--fast",
    "--rows",
    "conv",
    "--upstream-src",
    root,
    "--quick",
  ]);
  assert.deepEqual(only, ["train", "envs"]);
  assert.deepEqual(sectionArguments("train", options), ["--out=-odd", "--fast", "--rows=conv", "--quick"]);
  assert.deepEqual(sectionArguments("envs", options), ["--out=-odd", `--upstream-src=${root}`, "--quick"]);
  assert.deepEqual(sectionArguments("tabular", options), ["--out=-odd", "--quick"]);
});

test("npm run bench --help prints its own usage, then the chosen sections' help", () => {
  const run = bench("all.ts", ["--help", "--only", "tabular,envs"]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^Usage: npm run bench -- \[--only SECTIONS\]/);
  assert.match(run.stdout, /=== bench: tabular ===\nUsage: npx tsx bench\/tabular\.ts/);
  assert.match(run.stdout, /=== bench: envs ===\nUsage: npx tsx bench\/envs\.ts/);
});
