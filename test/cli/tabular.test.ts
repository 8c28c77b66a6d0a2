// `staq tabular`, run as a child process from the TypeScript sources (no build, no GPU needed).
// The cross-check: an MDP written by numpy (test/cross-check/write_mdp.py) with numpy's own Q*_tau,
// which exact PMD must reach.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { garnetMdp } from "../../src/tabular/garnet.ts";
import { mdpToArrays } from "../../src/tabular/mdp.ts";
import { writeJson } from "../../src/cli/tabular-command.ts";
import { REPO_ROOT, run, runStaq, tempDir } from "../io/stack-fixtures.ts";

const WRITE_MDP = fileURLToPath(new URL("../cross-check/write_mdp.py", import.meta.url));
const dir = await tempDir();

// A small MDP of staq's own for the tests that need no numpy.
const garnet = mdpToArrays(garnetMdp({ states: 5, actions: 3, branching: 3, gamma: 0.9, seed: 1 }));
const garnetPath = join(dir, "garnet.json");
await writeFile(garnetPath, JSON.stringify(garnet));

interface Report {
  errors: number[];
  policy: number[][];
  q: number[][];
  policyErrors: number[];
  kl: number[];
  entropy: number[];
}

/** A Python 3 that can import numpy, or undefined. */
function findPython(): string | undefined {
  return ["python3", "/usr/bin/python3"].find((python) => spawnSync(python, ["-c", "import numpy"], { stdio: "ignore" }).status === 0);
}

/** The one line a failing command prints. */
function failureLine(stderr: string): string {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace without STAQ_DEBUG=1");
  return lines[0];
}

function assertShapes(report: Report, states: number, actions: number, iterations: number): void {
  for (const key of ["errors", "policyErrors", "kl", "entropy"] as const) assert.equal(report[key].length, iterations, key);
  for (const key of ["policy", "q"] as const) {
    assert.equal(report[key].length, states, key);
    for (const row of report[key]) assert.equal(row.length, actions, key);
  }
  report.policy.forEach((row, s) => {
    assert.ok(
      row.every((p) => p >= 0 && p <= 1),
      `policy[${s}] = ${row}`,
    );
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12, `policy[${s}] sums to ${row.reduce((a, b) => a + b, 0)}`);
  });
}

test("exact PMD on a numpy-written MDP reaches numpy's own Q*_tau within 1e-8", async (t: TestContext) => {
  const python = findPython();
  if (!python) {
    t.skip("needs Python 3 with numpy for write_mdp.py: install python3-numpy (Debian/Ubuntu) or `pip install numpy`");
    return;
  }
  const [S, A, gamma, tau, eta, K] = [6, 3, 0.9, 0.5, 0.5, 60];
  const mdpPath = join(dir, "numpy.json");
  const written = await run(python, [WRITE_MDP, mdpPath, String(S), String(A), String(gamma), "7", String(tau)]);
  assert.equal(written.code, 0, written.stderr);
  const { q_star: qStar } = JSON.parse(await readFile(join(dir, "numpy.qstar.json"), "utf8")) as { q_star: number[][] };

  const result = await runStaq([
    "tabular",
    "--mdp",
    mdpPath,
    "--tau",
    String(tau),
    "--eta",
    String(eta),
    "--variant",
    "exact",
    "--iterations",
    String(K),
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "", "nothing on stderr when it is not a terminal");
  assert.ok(result.stdout.endsWith("}\n"));
  const report = JSON.parse(result.stdout) as Report;
  assert.deepEqual(Object.keys(report), ["errors", "policy", "q", "policyErrors", "kl", "entropy"]);
  assertShapes(report, S, A, K);

  let gap = 0;
  report.q.forEach((row, s) => row.forEach((value, a) => (gap = Math.max(gap, Math.abs(value - qStar[s][a])))));
  assert.ok(gap <= 1e-8, `max |q - numpy's Q*| = ${gap}`);
  // Linear convergence down to rounding: never up by more than rounding, and ending at it.
  report.errors.forEach((error, k) => {
    if (k > 0) assert.ok(error <= report.errors[k - 1] + 1e-12, `errors[${k}] = ${error} > errors[${k - 1}] = ${report.errors[k - 1]}`);
  });
  assert.ok(report.errors[0] > 0.1, `the uniform policy is far from optimal: ${report.errors[0]}`);
  assert.ok(report.errors[K - 1] < 1e-8, `errors[${K - 1}] = ${report.errors[K - 1]}`);
});

test("several variants: one run each in the order given, and an SVG of their errors", async () => {
  const plotPath = join(dir, "errors.svg");
  const K = 30;
  const result = await runStaq([
    "tabular",
    "--mdp",
    garnetPath,
    "--tau",
    "0.5",
    "--eta",
    "0.5",
    "--variant",
    "vanilla,corrected",
    "--memory",
    "3",
    "--iterations",
    String(K),
    "--plot",
    plotPath,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, `wrote ${plotPath}\n`);
  const { runs } = JSON.parse(result.stdout) as { runs: (Report & { variant: string })[] };
  assert.deepEqual(
    runs.map((r) => r.variant),
    ["vanilla", "corrected"],
  );
  for (const r of runs) assertShapes(r, 5, 3, K);
  // Both start from the same uniform policy on the same MDP.
  assert.equal(runs[0].errors[0], runs[1].errors[0]);
  const [vanilla, corrected] = runs.map((r) => r.errors[K - 1]);
  assert.ok(vanilla > 1e-3 && corrected < 1e-10, `the last errors: vanilla ${vanilla}, corrected ${corrected}`);

  const svg = await readFile(plotPath, "utf8");
  assert.match(svg, /^<svg/);
  assert.ok(svg.includes("vanilla (M=3)") && svg.includes("corrected (M=3)"), "the legend names both variants");
  assert.match(svg, /S=5 states, A=3 actions: τ=0\.5, η=0\.5, γ=0\.9/);
});

test("bad MDP files exit 2 with one line naming the file and the entry; so do a missing file and a directory", async () => {
  const files: Record<string, string> = {
    "invalid.json": '{"P": [[[1]]], "R": [[0]],',
    "short-row.json": JSON.stringify({
      ...garnet,
      P: garnet.P.map((rows, s) => rows.map((row, a) => (s === 2 && a === 1 ? row.map((p) => p * 0.9) : row))),
    }),
    "gamma-one.json": JSON.stringify({ ...garnet, gamma: 1.0 }),
    "no-r.json": JSON.stringify({ P: garnet.P, gamma: 0.9 }),
    "ragged.json": JSON.stringify({ ...garnet, R: [...garnet.R.slice(0, 4), [0, 1]] }),
    "string.json": JSON.stringify({ ...garnet, R: [[0, "1", 2], ...garnet.R.slice(1)] }),
    // Fields an MDP does not have, a key twice, a bare NaN: refused, never ignored or "Unexpected token".
    "extra.json": JSON.stringify({ ...garnet, tau: 5 }),
    "twice.json": JSON.stringify(garnet).replace(/}$/, ', "gamma": 0.5}'),
    "bare-nan.json": JSON.stringify(garnet).replace(/"R":\[\[[^,\]]+/, '"R":[[NaN'),
    // Nested past any MDP: a message, not "Maximum call stack size exceeded".
    "deep.json": `{"P": ${JSON.stringify(garnet.P)}, "R": ${JSON.stringify(garnet.R)}, "gamma": ${'{"a": '.repeat(100_000)}0${"}".repeat(100_000)}}`,
  };
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  const options = ["--tau", "0.5", "--eta", "1", "--variant", "exact", "--iterations", "3"];
  await mkdir(join(dir, "a-directory.json"), { recursive: true });
  const unreadable = ["absent.json", "a-directory.json"];
  const names = [...Object.keys(files), ...unreadable];
  const results = await Promise.all(names.map((name) => runStaq(["tabular", "--mdp", join(dir, name), ...options])));
  const byName = Object.fromEntries(names.map((name, i) => [name, results[i]]));
  for (const [name, result] of Object.entries(byName)) {
    // A path that cannot be read is the user's to fix, as a malformed file is: exit 2.
    assert.equal(result.code, 2, `${name}: ${result.stderr}`);
    assert.equal(result.stdout, "", name);
    assert.ok(
      failureLine(result.stderr).startsWith(
        `staq tabular: ${unreadable.includes(name) ? "Could not read the MDP file " : ""}${join(dir, name)}`,
      ),
      `${name}: ${result.stderr}`,
    );
  }
  assert.match(byName["invalid.json"].stderr, /invalid\.json is not valid JSON/);
  assert.match(byName["short-row.json"].stderr, /P\[2\]\[1\] \(state 2, action 1\) sums to 0\.9\d*, not 1/);
  assert.match(byName["gamma-one.json"].stderr, /gamma must satisfy 0 <= gamma < 1.*got 1/);
  assert.match(byName["no-r.json"].stderr, /no-r\.json has no "R"/);
  assert.match(byName["ragged.json"].stderr, /R\[4\] is an array of 2; every state needs 3 rewards/);
  assert.match(byName["string.json"].stderr, /R\[0\]\[1\] \(state 0, action 1\) is "1"; expected a number/);
  assert.match(byName["deep.json"].stderr, /deep\.json is nested deeper than 128 levels/);
  assert.match(byName["extra.json"].stderr, /extra\.json: unexpected field "tau"; expected \{"P"/);
  assert.match(byName["twice.json"].stderr, /twice\.json has the field "gamma" twice/);
  assert.match(byName["bare-nan.json"].stderr, /bare-nan\.json: R\[0\]\[0\] \(state 0, action 0\) is NaN; rewards must be finite numbers/);
  assert.match(byName["absent.json"].stderr, /no such file or directory/);
  assert.match(byName["a-directory.json"].stderr, /it is a directory \(EISDIR\)/);
});

test('values past float64 exit 2 naming tau, the noise or R, never "policy(0|0) is NaN"; a denormal tau runs', async () => {
  const mdp = {
    P: [
      [
        [0.9, 0.1],
        [0.2, 0.8],
      ],
      [
        [0.5, 0.5],
        [0, 1],
      ],
    ],
    R: [
      [1e307, 0],
      [0, 2],
    ],
    gamma: 0.9,
  };
  const huge = join(dir, "huge-reward.json");
  const plain = join(dir, "plain-reward.json");
  await writeFile(huge, JSON.stringify(mdp));
  await writeFile(
    plain,
    JSON.stringify({
      ...mdp,
      R: [
        [1, 0],
        [0, 2],
      ],
    }),
  );
  const options = (path: string, ...extra: string[]) => ["tabular", "--mdp", path, "--eta", "1", "--variant", "exact", ...extra];
  const [overflow, noisy, tiny] = await Promise.all([
    runStaq(options(huge, "--tau", "0.1", "--iterations", "50")),
    runStaq(options(plain, "--tau", "0.1", "--iterations", "3", "--noise", "1.7e308")),
    runStaq(options(plain, "--tau", "1e-320", "--iterations", "3")),
  ]);
  for (const result of [overflow, noisy]) {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
  }
  assert.match(
    failureLine(overflow.stderr),
    /^staq tabular: PMD's logits overflow float64 at iteration \d+: .* = 1\.0e309 here .*raise tau or scale the rewards R down$/,
  );
  assert.match(
    failureLine(noisy.stderr),
    /^staq tabular: the noisy Q at iteration 0 overflows float64: .*with noise 1\.7e\+308.*lower the noise/,
  );
  // τ = 1e-320 with η = 1: α = β = 1, a greedy optimum; it used to fail with "policy(0|0) is NaN".
  assert.equal(tiny.code, 0, tiny.stderr);
  const { policy, errors } = JSON.parse(tiny.stdout) as { policy: number[][]; errors: number[] };
  assert.equal(errors.length, 3);
  for (const row of policy) assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-12 && row.every((p) => p >= 0 && p <= 1), String(row));
});

test("bad options exit 2 with a message naming the option, and the usage", async () => {
  const base = { "--mdp": garnetPath, "--tau": "0.5", "--eta": "1", "--variant": "exact", "--iterations": "3" };
  const argsWith = (changes: Record<string, string | null>) =>
    Object.entries({ ...base, ...changes }).flatMap(([option, value]) => (value === null ? [] : [option, value]));
  const cases: [string[], RegExp][] = [
    [argsWith({ "--tau": "-1" }), /Option '--tau' argument is ambiguous/],
    [argsWith({ "--tau": null }).concat("--tau=-1"), /--tau must be a finite number > 0; got "-1"/],
    [argsWith({ "--tau": "0" }), /--tau must be a finite number > 0; got "0"/],
    [argsWith({ "--tau": "abc" }), /--tau must be a finite number > 0; got "abc"/],
    [argsWith({ "--eta": "1e999" }), /--eta must be a finite number >= 0; got "1e999"/],
    [argsWith({ "--iterations": "0" }), /--iterations must be an integer >= 1; got "0"/],
    [argsWith({ "--iterations": "2.5" }), /--iterations must be an integer >= 1; got "2\.5"/],
    [argsWith({ "--iterations": "0x10" }), /--iterations must be an integer >= 1; got "0x10"/],
    [argsWith({ "--tau": "" }), /--tau must be a finite number > 0; got ""/],
    [argsWith({ "--tau": "0x10" }), /--tau must be a finite number > 0; got "0x10"/],
    // β = η/(η+τ) rounds to 1: the corrected variant's 1/(1 − β^M) would be infinite (was "policy(0|0) is NaN").
    [
      argsWith({ "--eta": "1e300", "--variant": "corrected", "--memory": "3" }),
      /--eta 1e300 is too large against --tau 0\.5 for the corrected variant: β = η\/\(η\+τ\) rounds to 1/,
    ],
    // α = 1/(η+τ) is Infinity in float64: every variant's logits would be ∞ or NaN.
    [
      argsWith({ "--tau": "1e-320", "--eta": "0" }),
      /--tau 1e-320 with --eta 0 is too small: the step weight alpha = 1\/\(eta \+ tau\) overflows float64 .*; raise --tau/,
    ],
    [argsWith({ "--plot": garnetPath }), /--plot .*garnet\.json is the --mdp file; write the plot to another file/],
    [argsWith({ "--variant": "nope" }), /--variant "nope": "nope" is not a variant; expected one of exact, vanilla, corrected/],
    [argsWith({ "--variant": "exact,exact" }), /names exact twice/],
    [argsWith({ "--variant": "vanilla" }), /the vanilla variant needs --memory M/],
    [argsWith({ "--variant": "exact,corrected", "--memory": "0" }), /--memory must be an integer >= 1; got "0"/],
    [argsWith({ "--noise": "-0.1" }), /Option '--noise' argument is ambiguous/],
    [argsWith({ "--seed": "1.5" }), /--seed must be an integer >= 0/],
    [argsWith({ "--eta": null }), /tabular needs --eta E/],
    [argsWith({ "--mdp": null }), /tabular needs --mdp FILE\.json/],
    [argsWith({}).concat("--momentum", "1"), /Unknown option '--momentum'/],
  ];
  const results = await Promise.all(cases.map(([args]) => runStaq(["tabular", ...args])));
  results.forEach((result, i) => {
    const [args, message] = cases[i];
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr.split("\n")[0], new RegExp(`^staq tabular: .*${message.source}`), args.join(" "));
    assert.match(result.stderr, /Usage: staq tabular --mdp FILE\.json/);
  });
  // A count past 2^53 says why it is refused (it satisfies ">= 1").
  const huge = await runStaq(["tabular", ...argsWith({ "--iterations": "9007199254740992" })]);
  assert.equal(huge.code, 2, huge.stderr);
  assert.match(huge.stderr, /--iterations must be an integer from 1 to 2\^53 - 1 \(larger ones are not exact\); got "9007199254740992"/);
  // Counts take the numbers config fields take: 1e1 is 10, as --steps 1e6 is a million for train.
  const exponent = await runStaq(["tabular", ...argsWith({ "--iterations": "1e1" })]);
  assert.equal(exponent.code, 0, exponent.stderr);
  assert.equal((JSON.parse(exponent.stdout) as { errors: number[] }).errors.length, 10);
});

test("a plot into a missing directory, or onto a directory, fails before the run (exit 2), with stdout empty", async () => {
  const options = ["--mdp", garnetPath, "--tau", "0.5", "--eta", "1", "--variant", "exact", "--iterations", "3"];
  const missing = await runStaq(["tabular", ...options, "--plot", join(dir, "nowhere", "plot.svg")]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.equal(missing.stdout, "");
  assert.match(
    failureLine(missing.stderr),
    /^staq tabular: the directory of --plot .*plot\.svg \(.*nowhere\) does not exist; create it first/,
  );
  const directory = await runStaq(["tabular", ...options, "--plot", dir]);
  assert.equal(directory.code, 2, directory.stderr);
  assert.match(
    failureLine(directory.stderr),
    /^staq tabular: --plot .* is a directory; give a file name for the plot, e\.g\. .*errors\.svg/,
  );
});

test("--plot onto the --mdp file (or a link to it) is refused before the run, and the MDP is kept", async () => {
  const copy = join(dir, "kept.json");
  await writeFile(copy, JSON.stringify(garnet));
  const link = join(dir, "kept-link.json");
  await symlink(copy, link);
  for (const plot of [copy, link]) {
    const result = await runStaq([
      "tabular",
      "--mdp",
      copy,
      "--tau",
      "0.5",
      "--eta",
      "1",
      "--variant",
      "exact",
      "--iterations",
      "3",
      "--plot",
      plot,
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^staq tabular: --plot .*kept(-link)?\.json is the --mdp file; write the plot to another file/);
  }
  assert.equal(await readFile(copy, "utf8"), JSON.stringify(garnet));
});

test("a long run is announced on stderr before it starts: its linear solves, time and memory", async () => {
  // S = 120 is quick to write and read, but 20000 iterations are 20000 solves of 120 × 120: the
  // estimate passes the warning threshold, so the warning must come before any work. The child is
  // stopped once it has warned.
  const mdpPath = join(dir, "long.json");
  await writeFile(mdpPath, JSON.stringify(mdpToArrays(garnetMdp({ states: 120, actions: 2, branching: 3, gamma: 0.9, seed: 2 }))));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "tabular",
      "--mdp",
      mdpPath,
      "--tau",
      "0.5",
      "--eta",
      "1",
      "--variant",
      "exact,corrected",
      "--memory",
      "3",
      "--iterations",
      "200000",
    ],
    { cwd: REPO_ROOT },
  );
  let stderr = "";
  const warned = await new Promise<boolean>((resolve) => {
    // Without a warning the run would take hours: give up after a minute.
    const timer = setTimeout(() => resolve(false), 60_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("\n")) resolve(true);
    });
    child.on("exit", () => resolve(false));
    child.on("exit", () => clearTimeout(timer));
  });
  child.kill();
  assert.ok(warned, `no warning before the run ended:\n${stderr}`);
  assert.match(
    stderr.split("\n")[0],
    /^staq tabular: S=120 states, A=2 actions, 2 variants × 200000 iterations: about 4\d{5} linear solves of a 120×120 system \(O\(S³\) each\), roughly \d+ (min|h) and \d+(\.\d+)? (MB|GB) of memory/,
  );
});

test("help: staq tabular --help and staq help tabular show the usage; staq --help lists tabular", async () => {
  const [own, viaHelp, top] = await Promise.all([runStaq(["tabular", "--help"]), runStaq(["help", "tabular"]), runStaq(["--help"])]);
  for (const result of [own, viaHelp, top]) assert.equal(result.code, 0, result.stderr);
  assert.match(own.stdout, /^Usage: staq tabular --mdp FILE\.json --tau T --eta E --variant V/);
  assert.match(own.stdout, /\{"runs": \[\{"variant": "vanilla"/);
  assert.match(own.stdout, /1e-17/);
  assert.equal(viaHelp.stdout, own.stdout);
  assert.match(top.stdout, /^ {2}tabular {2}/m);
});

test("gamma = 1 − 1e-9 (the tester's g9.json): one line on stderr says the errors are under their rounding bound; gamma 0.99 is silent", async () => {
  const two = (gamma: number) => ({
    P: [
      [
        [0.5, 0.5],
        [1, 0],
      ],
      [
        [0, 1],
        [0.2, 0.8],
      ],
    ],
    R: [
      [0, 1],
      [2, -1],
    ],
    gamma,
  });
  const nearOne = join(dir, "g9.json");
  const usual = join(dir, "g099.json");
  await writeFile(nearOne, JSON.stringify(two(0.999999999)));
  await writeFile(usual, JSON.stringify(mdpToArrays(garnetMdp({ states: 20, actions: 4, branching: 3, gamma: 0.99, seed: 1 }))));
  const options = ["--tau", "0.3", "--eta", "0", "--variant", "exact", "--iterations", "12"];
  const [flagged, silent] = await Promise.all([
    runStaq(["tabular", "--mdp", nearOne, ...options]),
    runStaq([
      "tabular",
      "--mdp",
      usual,
      "--tau",
      "0.1",
      "--eta",
      "1",
      "--variant",
      "exact,corrected",
      "--memory",
      "5",
      "--iterations",
      "300",
    ]),
  ]);
  // The numbers still come (they are within the bound of the truth), with the warning beside them.
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.equal((JSON.parse(flagged.stdout) as Report).errors.length, 12);
  const lines = flagged.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, flagged.stderr);
  assert.match(
    lines[0],
    /^staq tabular: 10 of the 12 errors are at or below 2\.6e4, the float64 rounding bound of the errors \(Q\*_tau is certified to 1\.\de4 and each evaluation to 1\.\de4 with gamma = 0\.999999999, 1\/\(1 − gamma\) = 1\.0e9\), so they are not certified: rounding alone can make errors that size.*; the policyErrors say nothing either.*A gamma further from 1 \(or fewer states\) makes the bound smaller$/,
  );
  // Converged to rounding too (its last errors are under its bound), but far below where it began.
  assert.equal(silent.code, 0, silent.stderr);
  assert.equal(silent.stderr, "");
});

test("--plot to a name not ending in .svg (x.png) exits 2 before the run and writes nothing", async () => {
  const png = join(dir, "x.png");
  const options = ["--mdp", garnetPath, "--tau", "0.5", "--eta", "1", "--variant", "exact", "--iterations", "3"];
  const [refused, upper] = await Promise.all([
    runStaq(["tabular", ...options, "--plot", png]),
    runStaq(["tabular", ...options, "--plot", join(dir, "upper.SVG")]),
  ]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.match(
    refused.stderr.split("\n")[0],
    /^staq tabular: --plot .*x\.png: the plot is written as SVG, so its name must end in \.svg \(e\.g\. errors\.svg\)$/,
  );
  await assert.rejects(readFile(png), { code: "ENOENT" });
  // The extension is not case-sensitive.
  assert.equal(upper.code, 0, upper.stderr);
  assert.match(await readFile(join(dir, "upper.SVG"), "utf8"), /^<svg/);
});

test("the JSON is written in pieces, byte for byte what JSON.stringify gives (one string would pass V8's limit past a few million iterations)", () => {
  const long = Array.from({ length: 25_003 }, (_, i) => (i % 7 === 0 ? NaN : i / 3));
  const value = {
    errors: long,
    policy: [[0.25, 0.75]],
    runs: [{ variant: "exact", kl: long.slice(0, 10_000), entropy: long.slice(0, 10_001), skipped: undefined }],
    empty: [],
  };
  let text = "";
  writeJson((piece) => (text += piece), value);
  assert.equal(text, JSON.stringify(value));
});

test("several variants' runs are written in pieces too: no piece holds a run's whole error series", () => {
  // { runs: [run, run] } is an array of two: written as one string it held every variant's series,
  // and failed past V8's longest string after about a third of the iterations one variant can have.
  const long = Array.from({ length: 25_003 }, (_, i) => i / 3);
  const value = { runs: [{ variant: "exact", errors: long }, { variant: "corrected", errors: long, missing: undefined }, undefined] };
  const pieces: string[] = [];
  writeJson((piece) => pieces.push(piece), value);
  assert.equal(pieces.join(""), JSON.stringify(value));
  const longest = Math.max(...pieces.map((piece) => piece.length));
  const series = JSON.stringify(long).length;
  assert.ok(longest < series / 2, `the longest piece has ${longest} characters; one run's series alone has ${series}`);
});
