// `staq compare` on run directories written by the test (config.json and eval.jsonl, as staq train
// leaves them): the table's numbers against the pure functions, the JSON and the charts it writes,
// how runs are found and grouped, and what a user can get wrong (exit 2, one line naming the file
// or the flag). Run as child processes, so the exit codes and output are what a user sees.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bootstrapMeanInterval } from "../../src/analysis/bootstrap.ts";
import { STABILITY_METRICS, stabilityMetrics, type StabilityMetrics } from "../../src/analysis/stability.ts";
import { ownStderrLines, runStaq, tempDir } from "../io/stack-fixtures.ts";

const dir = await tempDir();
const STEPS = [0, 1000, 2000, 3000, 4000];

/** A run directory: config.json (no "algo" field when `algo` is undefined, as runs before it) and eval.jsonl. */
async function fakeRun(path: string, config: Record<string, unknown>, returns: number[]): Promise<string> {
  const run = join(dir, path);
  await mkdir(run, { recursive: true });
  await writeFile(join(run, "config.json"), JSON.stringify({ preset: "quick", memory: 30, ...config }, null, 2));
  const lines = returns.map((r, t) => JSON.stringify({ global_step: STEPS[t], iteration: t, time_s: t, "eval/mean_return": r }));
  await writeFile(join(run, "eval.jsonl"), lines.join("\n") + "\n");
  return run;
}

// A sweep's output: 2 groups (staq, dqn) × 2 seeds on one environment whose name has a "/".
const ENV = "MinAtar/Toy-v1";
const RUNS: Record<string, { config: { algo?: string; env: string; seed: number }; returns: number[] }> = {
  "sweep/dqn/s0": { config: { algo: "dqn", env: ENV, seed: 0 }, returns: [0, 5, 10, 15, 20] },
  "sweep/dqn/s1": { config: { algo: "dqn", env: ENV, seed: 1 }, returns: [10, 0, 10, 0, 10] },
  "sweep/staq/s0": { config: { env: ENV, seed: 0 }, returns: [0, 10, 5, 5, 20] },
  "sweep/staq/s1": { config: { env: ENV, seed: 1 }, returns: [0, 20, 20, 30, 40] },
};
for (const [path, { config, returns }] of Object.entries(RUNS)) await fakeRun(path, config, returns);
const metricsOf = (path: string) => stabilityMetrics({ x: STEPS.slice(0, RUNS[path].returns.length), y: RUNS[path].returns });

/** The rows of the table on stdout: the cells of each line that starts with "|", less the header and rule. */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split("\n").filter((line) => line.startsWith("|"));
  return lines.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split("|")
      .map((cell) => cell.trim()),
  );
}

/** Checks a "mean [lower, upper]" cell against the numbers, to the decimals it shows. */
function assertCell(cell: string, expected: { mean: number; lower: number; upper: number }, what: string): void {
  const match = /^(-?\d+\.(\d+)) \[(-?\d+\.\d+), (-?\d+\.\d+)\]$/.exec(cell);
  assert.ok(match, `${what}: ${JSON.stringify(cell)} is not "mean [lower, upper]"`);
  const tolerance = 0.5 * 10 ** -match[2].length + 1e-12;
  const shown = { mean: Number(match[1]), lower: Number(match[3]), upper: Number(match[4]) };
  for (const key of ["mean", "lower", "upper"] as const)
    assert.ok(Math.abs(shown[key] - expected[key]) <= tolerance, `${what} ${key}: shows ${shown[key]}, expected ${expected[key]}`);
}

/** The group summary of two runs' metrics: mean, and the 95% interval, which for two values is [min, max]. */
function twoRunSummary(a: StabilityMetrics, b: StabilityMetrics, name: keyof StabilityMetrics) {
  return { mean: (a[name] + b[name]) / 2, lower: Math.min(a[name], b[name]), upper: Math.max(a[name], b[name]) };
}

test("compare a sweep: one row per algorithm and environment, numbers from the stability metrics, the JSON and a chart per environment", async () => {
  const out = join(dir, "report");
  const json = join(dir, "compare-copy.json");
  const result = await runStaq(["compare", join(dir, "sweep"), "--out", out, "--json", json, "--seed", "3"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(ownStderrLines(result.stderr), []);

  const header = result.stdout.split("\n")[0];
  assert.match(header, /^\| algo +\| env +\| runs \(seeds\) +\| +final \| +area \| +drop \| +deviation \| +below best \|$/);
  const rows = tableRows(result.stdout);
  // Groups in the order of their first run's path: sweep/dqn before sweep/staq; staq is the runs without "algo".
  assert.deepEqual(
    rows.map((row) => row.slice(0, 3)),
    [
      ["dqn", ENV, "2 (0, 1)"],
      ["staq", ENV, "2 (0, 1)"],
    ],
  );
  const groups = [
    [metricsOf("sweep/dqn/s0"), metricsOf("sweep/dqn/s1")],
    [metricsOf("sweep/staq/s0"), metricsOf("sweep/staq/s1")],
  ];
  // staq seed 0 is R = [0, 10, 5, 5, 20], the sequence test/analysis/stability.test.ts works out by hand.
  assert.deepEqual(metricsOf("sweep/staq/s0"), {
    finalReturn: 20,
    normalizedArea: 7.5,
    meanDrop: 1.25,
    movingAverageDeviation: Math.sqrt(36.8),
    belowBestFraction: 0.4,
  });
  rows.forEach((row, g) =>
    STABILITY_METRICS.forEach((name, m) => assertCell(row[3 + m], twoRunSummary(groups[g][0], groups[g][1], name), `${row[0]} ${name}`)),
  );
  assert.match(result.stdout, /4 runs; eval\/mean_return against global_step\./);
  assert.match(result.stdout, /95% percentile-bootstrap interval: 10000 resamples of the runs, seed 3\]/);
  assert.match(result.stdout, new RegExp(`wrote ${join(out, "compare.json")}\\n`));

  const report = JSON.parse(await readFile(join(out, "compare.json"), "utf8"));
  assert.equal(await readFile(json, "utf8"), await readFile(join(out, "compare.json"), "utf8"), "--json writes the same document");
  assert.equal(report.metric, "eval/mean_return");
  assert.deepEqual(report.groupBy, ["algo", "env"]);
  assert.deepEqual(report.bootstrap.seed, 3);
  assert.equal(report.bootstrap.resamples, 10000);
  assert.deepEqual(
    report.runs.map((run: { dir: string; group: unknown; seed: number; metrics: unknown }) => [run.dir, run.group, run.seed, run.metrics]),
    Object.entries(RUNS).map(([path, { config }]) => [
      join(dir, path),
      { algo: config.algo ?? "staq", env: ENV },
      config.seed,
      metricsOf(path),
    ]),
  );
  assert.deepEqual(
    report.groups.map((group: { group: unknown; seeds: unknown }) => [group.group, group.seeds]),
    [
      [{ algo: "dqn", env: ENV }, [0, 1]],
      [{ algo: "staq", env: ENV }, [0, 1]],
    ],
  );
  // The JSON keeps every digit: the summaries are bootstrapMeanInterval of the runs' metrics with the seed.
  report.groups.forEach((group: { metrics: Record<string, unknown> }, g: number) =>
    STABILITY_METRICS.forEach((name) =>
      assert.deepEqual(group.metrics[name], bootstrapMeanInterval([groups[g][0][name], groups[g][1][name]], { seed: 3 }), name),
    ),
  );

  const svg = await readFile(join(out, "MinAtar-Toy-v1.svg"), "utf8");
  assert.match(svg, /^<svg/);
  assert.match(svg, /dqn \(2 runs\)/);
  assert.match(svg, /staq \(2 runs\)/);
});

test("a run given directly and again inside a directory counts once; --group-by env pools the algorithms", async () => {
  const result = await runStaq(["compare", join(dir, "sweep/staq/s0"), join(dir, "sweep"), "--group-by", "env"]);
  assert.equal(result.code, 0, result.stderr);
  const rows = tableRows(result.stdout);
  assert.equal(rows.length, 1);
  // staq/s0 first (given first), then the sweep in path order without it again.
  assert.deepEqual(rows[0].slice(0, 2), [ENV, "4 (0, 0, 1, 1)"]);
  // The resamples pick runs by position, so the values go in the table's order of runs.
  const order = ["sweep/staq/s0", "sweep/dqn/s0", "sweep/dqn/s1", "sweep/staq/s1"] as const;
  const finals = order.map((path) => metricsOf(path).finalReturn);
  // The mean of the 4 finals: (20 + 20 + 10 + 40)/4 = 22.5.
  const summary = bootstrapMeanInterval(finals);
  assert.equal(summary.mean, 22.5);
  assertCell(rows[0][2], summary, "final");
  assert.match(result.stdout, /seed 0\]/);
  // Pooling algorithms is allowed, but said: the groups' runs differ in a field and repeat seeds.
  assert.match(result.stderr, /staq compare: warning: group env=MinAtar\/Toy-v1: seed 0, 1 appears in more than one run/);
  assert.match(result.stderr, /staq compare: warning: group env=MinAtar\/Toy-v1: its runs differ in algo \(add them to --group-by/);
});

test("compare warns when a group mixes unfinished runs, runs that end apart, repeated seeds or other settings", async () => {
  await fakeRun("mixed/a", { env: ENV, seed: 0, totalSteps: 4000, lr: 0.001 }, [0, 1, 2, 3, 4]);
  await fakeRun("mixed/b", { env: ENV, seed: 0, totalSteps: 4000, lr: 0.002 }, [0, 1, 2]);
  const result = await runStaq(["compare", join(dir, "mixed")]);
  assert.equal(result.code, 0, result.stderr);
  const warnings = result.stderr
    .split("\n")
    .filter((line) => line.startsWith("staq compare: warning: group algo=staq, env=MinAtar/Toy-v1: "));
  assert.equal(warnings.length, 4, result.stderr);
  assert.match(warnings[0], /its runs end at different steps \(\S+mixed.a: 4000, \S+mixed.b: 2000\)/);
  assert.match(warnings[1], /runs end before their last scheduled evaluation \(unfinished\?\): \S+mixed.b at 2000 of 4000$/);
  assert.match(warnings[2], /seed 0 appears in more than one run$/);
  assert.match(warnings[3], /its runs differ in lr \(add them to --group-by to tell them apart\)$/);
  // A finished run's last evaluation is at the iteration that crosses the last multiple of
  // evalEvery (lastEvaluationStep), short of totalSteps: 3000 for 4000 steps of 1000 evaluated every
  // 2500. Ending there is no warning; ending before it is.
  const schedule = { env: ENV, seed: 5, totalSteps: 4000, stepsPerIteration: 1000, evalEvery: 2500 };
  await fakeRun("scheduled/finished", schedule, [0, 1, 2, 3]);
  await fakeRun("scheduled/stopped", { ...schedule, seed: 6 }, [0, 1, 2]);
  const scheduled = await runStaq(["compare", join(dir, "scheduled")]);
  assert.equal(scheduled.code, 0, scheduled.stderr);
  assert.match(
    scheduled.stderr,
    /runs end before their last scheduled evaluation \(unfinished\?\): \S+scheduled.stopped at 2000 of 3000\n/,
  );
  assert.doesNotMatch(scheduled.stderr, /scheduled.finished at/);
  // Seeds of one setting, finished alike, draw no warning.
  const clean = await runStaq(["compare", join(dir, "sweep/dqn")]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.doesNotMatch(clean.stderr, /warning/);
});

test("what a user can get wrong exits 2 with one line saying what (or the usage for a bad flag)", async () => {
  const empty = join(dir, "empty");
  await mkdir(join(empty, "nothing-here"), { recursive: true });
  const badEval = await fakeRun("bad-eval/run", { env: ENV, seed: 0 }, [1, 2]);
  await writeFile(
    join(badEval, "eval.jsonl"),
    '{"global_step": 0, "eval/mean_return": 1}\n{oops}\n{"global_step": 1, "eval/mean_return": 2}\n',
  );
  const badConfig = await fakeRun("bad-config", { env: ENV, seed: 0 }, [1, 2]);
  await writeFile(join(badConfig, "config.json"), "{ not json");
  const noEvaluations = join(dir, "no-evaluations");
  await mkdir(noEvaluations);
  await writeFile(join(noEvaluations, "config.json"), JSON.stringify({ env: ENV, seed: 0 }));
  // JSON writes a diverged (NaN) evaluation as null: refused, not dropped; so are steps out of order.
  const diverged = await fakeRun("diverged", { env: ENV, seed: 0 }, [1, 2, 3]);
  await writeFile(
    join(diverged, "eval.jsonl"),
    '{"global_step": 0, "eval/mean_return": 1}\n{"global_step": 1000, "eval/mean_return": null}\n{"global_step": 2000, "eval/mean_return": 3}\n',
  );
  const shuffled = await fakeRun("shuffled", { env: ENV, seed: 0 }, [1, 2]);
  await writeFile(
    join(shuffled, "eval.jsonl"),
    '{"global_step": 1000, "eval/mean_return": 1}\n{"global_step": 0, "eval/mean_return": 2}\n',
  );
  const sweep = join(dir, "sweep");

  const oneLine: [string[], RegExp][] = [
    [[diverged], /^staq compare: .*diverged.eval\.jsonl line 2: eval\/mean_return is null, not a finite number \(JSON writes NaN/],
    [[shuffled], /^staq compare: .*shuffled.eval\.jsonl line 2: global_step 0 does not come after the previous record's 1000/],
    [[empty], /^staq compare: no run directory under .*empty: none of its directories holds both config\.json and eval\.jsonl/],
    [[join(dir, "missing")], /^staq compare: Could not read the directory .*missing: no such file or directory \(ENOENT\)/],
    [[join(badEval, "eval.jsonl")], /^staq compare: .*eval\.jsonl is a file, not a directory/],
    [[join(dir, "bad-eval")], /^staq compare: .*bad-eval.run.eval\.jsonl line 2 is not a JSON object/],
    [[badConfig], /^staq compare: .*bad-config.config\.json is not valid JSON/],
    [[noEvaluations], /^staq compare: .*no-evaluations has a config\.json but no eval\.jsonl/],
    [
      [sweep, "--group-by", "algo,lr"],
      /^staq compare: --group-by lr: no run's config\.json has the field "lr"; the fields are: algo, preset, memory, env, seed$/,
    ],
    [
      [sweep, "--metric", "eval/nothing"],
      /^staq compare: no run logged "eval\/nothing" in eval\.jsonl; the keys there are: time_s, eval\/mean_return/,
    ],
  ];
  const usage: [string[], RegExp][] = [
    [[], /^staq compare: give at least one run directory/],
    [[sweep, "--band", "wide"], /^staq compare: --band must be minmax or std; got "wide"/],
    [[sweep, "--seed=-1"], /^staq compare: --seed must be an integer >= 0 \(at most 2\^53 - 1\); got "-1"/],
    [[sweep, "--seed", "0x10"], /^staq compare: --seed must be an integer >= 0/],
    [[sweep, "--group-by", "algo,,env"], /^staq compare: --group-by takes config\.json fields separated by commas/],
    [[sweep, "--nope"], /^staq compare: Unknown option '--nope'/],
  ];
  const results = await Promise.all([...oneLine, ...usage].map(([args]) => runStaq(["compare", ...args])));
  results.forEach((result, i) => {
    const [args, message] = i < oneLine.length ? oneLine[i] : usage[i - oneLine.length];
    const what = args.join(" ");
    assert.equal(result.code, 2, `${what}: ${result.stderr}`);
    assert.equal(result.stdout, "", what);
    const lines = ownStderrLines(result.stderr);
    assert.match(lines[0], message, what);
    if (i < oneLine.length) assert.equal(lines.length, 1, `${what}: one line, got:\n${result.stderr}`);
    else assert.match(result.stderr, /Usage: staq compare DIR\.\.\./, `${what}: the usage follows`);
  });
});

test("staq help lists compare, and compare --help shows its usage", async () => {
  const [list, help] = await Promise.all([runStaq(["help"]), runStaq(["compare", "--help"])]);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^ {2}compare +compare runs by stability metrics/m);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: staq compare DIR\.\.\. \[--group-by FIELDS\]/);
  assert.match(help.stdout, /--out DIR/);
});

test("without vega the table still prints; --out, which draws, fails before reading a run and writes nothing", async () => {
  // vega and vega-lite are optional peer dependencies; hidden, they are unresolvable in the child.
  const staq = (args: string[]) => runStaq(["compare", ...args], process.env, { hide: ["vega", "vega-lite"] });
  const out = join(dir, "no-vega-report");
  const [table, charts] = await Promise.all([staq([join(dir, "sweep")]), staq([join(dir, "sweep"), "--out", out])]);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(tableRows(table.stdout).length, 2);
  assert.equal(charts.code, 1, charts.stderr);
  assert.equal(charts.stdout, "");
  assert.match(
    ownStderrLines(charts.stderr)[0],
    /^staq compare: drawing charts needs the packages vega and vega-lite.*npm install vega@6 vega-lite@6/,
  );
  await assert.rejects(readdir(out), { code: "ENOENT" });
});

test("--out gives two environments whose names clean to one file distinct charts, and says so", async () => {
  await fakeRun("clash/slash/s0", { env: "MinAtar/Breakout-v1", seed: 0 }, [0, 1, 2, 3, 4]);
  await fakeRun("clash/dash/s0", { env: "MinAtar-Breakout-v1", seed: 0 }, [4, 3, 2, 1, 0]);
  const out = join(dir, "clash-report");
  const result = await runStaq(["compare", join(dir, "clash"), "--out", out]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual((await readdir(out)).sort(), ["MinAtar-Breakout-v1-2.svg", "MinAtar-Breakout-v1.svg", "compare.json"]);
  // Runs are found in path order: clash/dash (MinAtar-Breakout-v1) first, so the slashed one is renamed.
  assert.match(
    result.stderr,
    /staq compare: the charts of "MinAtar-Breakout-v1" and "MinAtar\/Breakout-v1" would share one file name: "MinAtar\/Breakout-v1"'s is MinAtar-Breakout-v1-2\.svg\n/,
  );
  assert.match(await readFile(join(out, "MinAtar-Breakout-v1.svg"), "utf8"), /MinAtar-Breakout-v1/);
  assert.match(await readFile(join(out, "MinAtar-Breakout-v1-2.svg"), "utf8"), /MinAtar\/Breakout-v1/);
  assert.match(result.stdout, /wrote \S+MinAtar-Breakout-v1-2\.svg\n/);
});

test("--json naming a file that --out writes (compare.json or a chart, also through a link) is refused before any work, writing nothing", async () => {
  const out = join(dir, "clash-json");
  await mkdir(out);
  // A link in another directory whose target is the chart compare would write: the write follows it.
  const elsewhere = join(dir, "clash-json-links");
  await mkdir(elsewhere);
  await symlink(join(out, "MinAtar-Toy-v1.svg"), join(elsewhere, "to-chart.json"));
  // --out through a link to the directory: the same directory by its real path.
  await symlink(out, join(dir, "clash-json-alias"));
  const writes = (what: string) => new RegExp(`^staq compare: --json .* is the file --out .* writes ${what} to `);
  const cases: [string[], RegExp][] = [
    [["--out", out, "--json", join(out, "MinAtar-Toy-v1.svg")], writes("the chart of MinAtar/Toy-v1")],
    [["--out", out, "--json", join(out, "compare.json")], writes("the comparison")],
    [["--out", join(dir, "clash-json-alias"), "--json", join(out, "compare.json")], writes("the comparison")],
    [["--out", out, "--json", join(elsewhere, "to-chart.json")], writes("the chart of MinAtar/Toy-v1")],
    // One file where case is ignored (macOS, Windows).
    [["--out", out, "--json", join(out, "COMPARE.json")], /writes the comparison to .* on a file system that ignores case/],
    // A name a chart gets after a clash of names.
    [["--out", out, "--json", join(out, "MinAtar-Toy-v1-2.svg")], /is a name --out .* can give the chart of MinAtar\/Toy-v1 /],
  ];
  for (const [args, message] of cases) {
    const result = await runStaq(["compare", join(dir, "sweep"), ...args]);
    const shown = args.join(" ");
    assert.equal(result.code, 2, `${shown}: ${result.stderr}`);
    assert.equal(result.stdout, "", shown);
    const lines = ownStderrLines(result.stderr);
    assert.equal(lines.length, 1, `${shown}: one line, got:\n${result.stderr}`);
    assert.match(lines[0], message, shown);
    assert.match(lines[0], /give --json another file/, shown);
  }
  assert.deepEqual(await readdir(out), [], "nothing written");
});

test("--out is checked before any run is read: a directory that cannot be made is exit 2 naming --out", async () => {
  // /proc takes no new directory (mkdir answers ENOENT); the run directory given does not exist,
  // so a check made only after reading the runs would report the run instead.
  const missingRun = join(dir, "no-such-run");
  if (process.platform === "linux") {
    const procOut = await runStaq(["compare", missingRun, "--out", "/proc/staq-compare-test"]);
    assert.equal(procOut.code, 2, procOut.stderr);
    assert.match(
      ownStderrLines(procOut.stderr)[0],
      /^staq compare: cannot create --out \/proc\/staq-compare-test: making a directory in \/proc failed: no such file or directory \(ENOENT\)/,
    );
  }
  const file = join(dir, "a-file");
  await writeFile(file, "");
  const underFile = await runStaq(["compare", missingRun, "--out", join(file, "report")]);
  assert.equal(underFile.code, 2, underFile.stderr);
  assert.match(
    ownStderrLines(underFile.stderr)[0],
    /^staq compare: cannot create --out .*a-file.report: .*a-file is a file, not a directory/,
  );
});

test("--json into the directory --out is about to create is fine: both files are written", async () => {
  const out = join(dir, "made-by-out");
  const result = await runStaq(["compare", join(dir, "sweep"), "--out", out, "--json", join(out, "copy.json")]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(await readFile(join(out, "copy.json"), "utf8"), await readFile(join(out, "compare.json"), "utf8"));
  // --json one level further down is not made by --out: its directory must exist, as ever.
  const deeper = await runStaq([
    "compare",
    join(dir, "sweep"),
    "--out",
    join(dir, "made-2"),
    "--json",
    join(dir, "made-2", "sub", "x.json"),
  ]);
  assert.equal(deeper.code, 2, deeper.stderr);
  assert.match(ownStderrLines(deeper.stderr)[0], /does not exist; create it first/);
  await assert.rejects(readdir(join(dir, "made-2")), { code: "ENOENT" });
});

test("an empty run directory argument is refused by name, not read as the working directory", async () => {
  for (const args of [[""], [join(dir, "sweep"), ""]]) {
    const result = await runStaq(["compare", ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      ownStderrLines(result.stderr)[0],
      new RegExp(`^staq compare: run directory argument ${args.length} is empty \\(""\\); give run directories written by staq train`),
    );
    assert.match(result.stderr, /Usage: staq compare DIR\.\.\./);
  }
});

test("a --metric of metrics.jsonl is unfinished when its log stops short of the run's last iteration, not of its last evaluation", async () => {
  // totalSteps 192 in iterations of 32, evaluated every 100: evaluations end at 128 (the iteration
  // crossing 100), the run at 192. A run stopped at 128 has every evaluation but not every iteration.
  const config = { env: ENV, totalSteps: 192, stepsPerIteration: 32, evalEvery: 100 };
  const write = async (path: string, seed: number, steps: number[], last: number | null) => {
    const run = join(dir, path);
    await mkdir(run, { recursive: true });
    await writeFile(join(run, "config.json"), JSON.stringify({ ...config, seed }));
    const evals = [0, 128].map((step) => JSON.stringify({ global_step: step, "eval/mean_return": step / 10 }));
    await writeFile(join(run, "eval.jsonl"), evals.join("\n") + "\n");
    // The last iteration logs no episodic return (no episode ended in it): null, "not measured".
    const metrics = steps.map((step, i) =>
      JSON.stringify({ global_step: step, "losses/td_loss": 1 / step, "charts/episodic_return": i === steps.length - 1 ? last : step }),
    );
    await writeFile(join(run, "metrics.jsonl"), metrics.join("\n") + "\n");
  };
  await write("metric-end/stopped", 0, [32, 64, 96, 128], 128);
  await write("metric-end/finished", 1, [32, 64, 96, 128, 160, 192], null);
  // Two finished runs, one whose last iteration logged null: they end at the same step, 192.
  await write("metric-alike/a", 0, [32, 64, 96, 128, 160, 192], 192);
  await write("metric-alike/b", 1, [32, 64, 96, 128, 160, 192], null);
  const alike = await runStaq(["compare", join(dir, "metric-alike"), "--metric", "charts/episodic_return"]);
  assert.equal(alike.code, 0, alike.stderr);
  assert.doesNotMatch(alike.stderr, /warning/);
  const root = join(dir, "metric-end");
  const loss = await runStaq(["compare", root, "--metric", "losses/td_loss"]);
  assert.equal(loss.code, 0, loss.stderr);
  assert.match(loss.stderr, /runs end before their last iteration \(unfinished\?\): \S+metric-end.stopped at 128 of 192\n/);
  assert.doesNotMatch(loss.stderr, /finished at/);
  // charts/episodic_return's last point of the finished run is at 160 (192 logged null): the log, not the curve, says where the run ended.
  const returns = await runStaq(["compare", root, "--metric", "charts/episodic_return"]);
  assert.equal(returns.code, 0, returns.stderr);
  assert.match(returns.stderr, /\(unfinished\?\): \S+metric-end.stopped at 128 of 192\n/);
  assert.doesNotMatch(returns.stderr, /metric-end.finished at/);
  // Both runs made every scheduled evaluation: the evaluation curve draws no unfinished warning.
  const evals = await runStaq(["compare", root]);
  assert.equal(evals.code, 0, evals.stderr);
  assert.doesNotMatch(evals.stderr, /unfinished/);
});
