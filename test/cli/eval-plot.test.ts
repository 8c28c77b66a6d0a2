// `staq eval` and `staq plot` on what a user can get wrong (issue 16), run as child processes so the
// exit code and the one line on stderr are what a user sees. None of these reach a GPU: eval's
// arguments and checkpoint are checked first, and plot needs none.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstat, mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ownStderrLines, runStaq, tempDir, type Run } from "../io/stack-fixtures.ts";

const dir = await tempDir();

/** A run directory as staq train leaves it, minus the checkpoint: config.json and the two logs. */
async function fakeRun(name: string): Promise<string> {
  const run = join(dir, name);
  await mkdir(run);
  await writeFile(join(run, "config.json"), JSON.stringify({ env: "CartPole-v1", preset: "quick", seed: 1 }));
  const lines = (key: string) =>
    [1, 2, 3].map((k) => JSON.stringify({ global_step: 1000 * k, iteration: k, time_s: k, [key]: 10 * k })).join("\n") + "\n";
  await writeFile(join(run, "eval.jsonl"), lines("eval/mean_return"));
  await writeFile(join(run, "metrics.jsonl"), lines("charts/episodic_return"));
  return run;
}

/** The one line a failing command prints, which must not be a raw Node error. */
function failureLine(result: Run): string {
  const lines = ownStderrLines(result.stderr);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.doesNotMatch(
    result.stderr,
    /^\s+at |STAQ_DEBUG|EISDIR: illegal|ENOTDIR: not a directory, scandir/m,
    "a message in words, no stack trace",
  );
  return lines[0];
}

// ---- eval ----

test("eval --checkpoint FILE says a checkpoint is a directory (exit 2), not ENOTDIR", async () => {
  const file = join(dir, "notes.txt");
  await writeFile(file, "hello");
  const result = await runStaq(["eval", "--checkpoint", file]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    failureLine(result),
    /^staq eval: .*notes\.txt is a file, not a checkpoint directory; give a run directory written by staq train/,
  );
});

test("eval on a directory holding a directory says what a checkpoint holds (exit 2), not EISDIR", async () => {
  const checkpoint = join(dir, "not-a-checkpoint");
  // eval reads state.json and stack.safetensors only: a directory under one of those names.
  await mkdir(join(checkpoint, "stack.safetensors"), { recursive: true });
  await writeFile(join(checkpoint, "state.json"), "{}");
  const result = await runStaq(["eval", "--checkpoint", checkpoint]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    failureLine(result),
    /^staq eval: .*not-a-checkpoint.stack\.safetensors is a directory; a checkpoint directory holds only files/,
  );
});

test("eval --episodes: a count beyond the cap (also written 1e8), hex, a fraction or nothing is refused with the range (exit 2, before any work)", async () => {
  const checkpoint = join(dir, "absent-checkpoint");
  const cases: [string[], RegExp][] = [
    [["--episodes", "100000000"], /--episodes must be an integer from 1 to 100000 \(.*\); got "100000000"/],
    [["--episodes", "1e8"], /--episodes must be an integer from 1 to 100000 \(.*\); got "1e8"/],
    [["--episodes", "0x10"], /--episodes must be an integer from 1 to 100000 \(.*\); got "0x10"/],
    [["--episodes", ""], /--episodes must be an integer from 1 to 100000 \(.*\); got ""/],
    [["--episodes", "0"], /--episodes must be an integer from 1 to 100000 \(.*\); got "0"/],
    [["--seed", "0x10"], /--seed must be an integer from 0 to 4294967295; got "0x10"/],
    [["--seed", "1.5"], /--seed must be an integer from 0 to 4294967295; got "1\.5"/],
    // Episode j is reset with seed + j modulo 2^32: 2^32 would be seed 0 again.
    [["--seed", "4294967296"], /--seed must be an integer from 0 to 4294967295; got "4294967296"/],
  ];
  const results = await Promise.all(cases.map(([args]) => runStaq(["eval", "--checkpoint", checkpoint, ...args])));
  results.forEach((result, i) => {
    const [args, message] = cases[i];
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr.split("\n")[0], new RegExp(`^staq eval: ${message.source}`), args.join(" "));
  });
  // The cap says why there is one.
  assert.match(results[0].stderr, /every return is printed; for more, run several evaluations/);
});

// ---- plot ----

test("plot --out onto a file the plot reads (eval.jsonl, metrics.jsonl, config.json, a link to one) is refused and the file kept", async () => {
  const run = await fakeRun("run-inputs");
  const before = await readFile(join(run, "eval.jsonl"), "utf8");
  const link = join(dir, "link-to-eval.jsonl");
  await symlink(join(run, "eval.jsonl"), link);
  const cases: [string[], RegExp][] = [
    [
      ["--out", join(run, "eval.jsonl")],
      /--out .*run-inputs.eval\.jsonl is .*run-inputs.eval\.jsonl, which the plot reads; write the chart to another file/,
    ],
    [["--out", join(run, "config.json")], /--out .*config\.json is .*config\.json, which the plot reads/],
    [
      ["--out", join(run, "metrics.jsonl"), "--metric", "charts/episodic_return"],
      /--out .*metrics\.jsonl is .*metrics\.jsonl, which the plot reads/,
    ],
    [["--out", link], /--out .*link-to-eval\.jsonl is .*run-inputs.eval\.jsonl, which the plot reads/],
    // Another spelling of the same path (join would normalise the "..").
    [["--out", `${run}/../run-inputs/eval.jsonl`], /--out .*run-inputs\/\.\.\/run-inputs\/eval\.jsonl is .*, which the plot reads/],
  ];
  for (const [args, message] of cases) {
    const result = await runStaq(["plot", run, ...args]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr.split("\n")[0], new RegExp(`^staq plot: ${message.source}`), args.join(" "));
  }
  assert.equal(await readFile(join(run, "eval.jsonl"), "utf8"), before);
  assert.equal(JSON.parse(await readFile(join(run, "config.json"), "utf8")).env, "CartPole-v1");
  assert.deepEqual((await readdir(run)).sort(), ["config.json", "eval.jsonl", "metrics.jsonl"]);
});

test("plot --out a directory, into a missing directory, under a file or not .svg exits 2 with what to do; RUN/curve.svg is fine", async () => {
  const run = await fakeRun("run-outputs");
  const file = join(dir, "plain-file");
  await writeFile(file, "x");
  const cases: [string, RegExp][] = [
    [run, /--out .*run-outputs is a directory; give a file name for the chart, e\.g\. .*run-outputs.curve\.svg/],
    [join(dir, "missing", "curve.svg"), /the directory of --out .*curve\.svg \(.*missing\) does not exist; create it first/],
    [join(file, "curve.svg"), /the directory of --out .*curve\.svg \(.*plain-file\) is a file, not a directory/],
    // The chart is SVG text: curve.png would hold no PNG.
    [join(run, "curve.png"), /--out .*curve\.png: the chart is written as SVG, so its name must end in \.svg \(e\.g\. curve\.svg\)/],
  ];
  for (const [out, message] of cases) {
    const result = await runStaq(["plot", run, "--out", out]);
    assert.equal(result.code, 2, `${out}: ${result.stderr}`);
    assert.match(failureLine(result), new RegExp(`^staq plot: ${message.source}`), out);
  }
  await assert.rejects(readFile(join(run, "curve.png")), /ENOENT/);
  const ok = await runStaq(["plot", run, "--out", join(run, "curve.SVG")]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(await readFile(join(run, "curve.SVG"), "utf8"), /^<svg/);
});

test("plot --out a named pipe (as /dev/stdout can be) exits 2 saying so; --out a link writes the file it leads to and keeps the link", async () => {
  const run = await fakeRun("run-special-outputs");
  const fifo = join(dir, "out-fifo");
  execFileSync("mkfifo", [fifo]);
  const refused = await runStaq(["plot", run, "--out", fifo]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    failureLine(refused),
    /^staq plot: --out .*out-fifo is a named pipe, not a regular file; the chart is written by replacing a file, so give a file's path/,
  );
  assert.ok((await lstat(fifo)).isFIFO(), "the pipe is left as it was");

  const target = join(dir, "chart-target.svg");
  const link = join(dir, "chart-link.svg");
  await writeFile(target, "old");
  await symlink(target, link);
  const ok = await runStaq(["plot", run, "--out", link]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok((await lstat(link)).isSymbolicLink(), "the link is kept");
  assert.match(await readFile(target, "utf8"), /^<svg/);
});

test("plot counts a run given twice (or through a link) once, in the legend and the summary", async () => {
  const run = await fakeRun("run-twice");
  const other = await fakeRun("run-twice-other");
  await writeFile(join(other, "config.json"), JSON.stringify({ env: "CartPole-v1", preset: "quick", seed: 2 }));
  await symlink(run, join(dir, "link-to-run-twice"));
  const out = join(dir, "twice.svg");
  const result = await runStaq(["plot", run, run, join(dir, "link-to-run-twice"), other, "--out", out]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /: 2 runs, CartPole-v1 quick \(2 runs\): 3 points/);
  assert.match(await readFile(out, "utf8"), /CartPole-v1 quick \(2 runs\)/);
});

test("plot refuses, naming the run: a run with no log or no record of the metric, runs that share no steps, a config.json not an object", async () => {
  const withData = await fakeRun("run-with-data");
  const noLog = await fakeRun("run-no-log");
  await rm(join(noLog, "eval.jsonl"));
  const noMetric = await fakeRun("run-no-metric");
  await writeFile(join(noMetric, "eval.jsonl"), JSON.stringify({ global_step: 0, iteration: 0, "eval/other": 1 }) + "\n");
  const later = await fakeRun("run-later");
  await writeFile(
    join(later, "eval.jsonl"),
    [5000, 6000].map((k) => JSON.stringify({ global_step: k, iteration: 1, time_s: 1, "eval/mean_return": 1 })).join("\n") + "\n",
  );
  const notObject = await fakeRun("run-config-array");
  await writeFile(join(notObject, "config.json"), "[1, 2]");
  const cases: [string[], RegExp][] = [
    [[withData, noLog], /^staq plot: .*run-no-log has no eval\.jsonl \(the run has not logged yet\?\); leave it out/],
    [[withData, noMetric], /^staq plot: .*run-no-metric.eval\.jsonl has no record of "eval\/mean_return"; leave the run out/],
    [
      [withData, later],
      /^staq plot: the runs of CartPole-v1 quick share no steps, so they have no mean to draw \(.*run-with-data covers 1000 to 3000; .*run-later covers 5000 to 6000\); plot them separately/,
    ],
    [[notObject], /^staq plot: .*run-config-array.config\.json is not a JSON object/],
  ];
  for (const [runs, message] of cases) {
    const result = await runStaq(["plot", ...runs, "--out", join(dir, "refused.svg")]);
    assert.equal(result.code, 2, `${runs.join(" ")}: ${result.stderr}`);
    assert.match(failureLine(result), message, runs.join(" "));
  }
});

test("plot --metric of a key logged only as null (DQN's policy/kl) says so, and lists only keys with numbers", async () => {
  const run = await fakeRun("run-null-metric");
  await writeFile(
    join(run, "metrics.jsonl"),
    [1, 2].map((k) => JSON.stringify({ global_step: 1000 * k, iteration: k, "charts/episodic_return": k, "policy/kl": null })).join("\n") +
      "\n",
  );
  const result = await runStaq(["plot", run, "--metric", "policy/kl", "--out", join(dir, "null.svg")]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    failureLine(result),
    /^staq plot: no run logged "policy\/kl" as a number \(these runs record it, always null: not measured by their algorithm\); the keys with numbers are: charts\/episodic_return$/,
  );
});

test('plot "" (an empty run directory) is refused, not read as the working directory', async () => {
  const result = await runStaq(["plot", "", "--out", join(dir, "empty-dir.svg")]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^staq plot: a run directory is "" \(an empty path\); give each run's directory/);
});

test("plot --threshold takes decimals only", async () => {
  const run = await fakeRun("run-threshold");
  for (const text of ["0x10", "", "Infinity"]) {
    const result = await runStaq(["plot", run, "--out", join(dir, "t.svg"), "--threshold", text]);
    assert.equal(result.code, 2, `${text}: ${result.stderr}`);
    assert.match(
      result.stderr.split("\n")[0],
      new RegExp(`^staq plot: --threshold must be a finite number; got ${JSON.stringify(JSON.stringify(text)).slice(1, -1)}`),
    );
  }
});
