/**
 * The study's tables and figures (docs/study.md) from its runs (the sweep docs/study/sweep.json):
 *
 *   npx tsx scripts/study.ts [--runs docs/study/runs] [--out docs/study] [--claims memory,...] [--seed 0]
 *
 * The MinAtar runs (the sweep docs/study/minatar.json) make claims 1 and 4 only:
 *
 *   npx tsx scripts/study.ts --runs docs/study/runs-minatar --out docs/study/minatar --claims memory,algorithms
 *
 * For each of the paper's claims: the runs it reads (chosen by their config.json), `staq compare`
 * on them (its table, OUT/<claim>/compare.json and the learning curves OUT/<claim>/<env>.svg), and
 * where the claim sets one setting against another, the difference of the two groups' means of each
 * stability metric with a percentile-bootstrap interval (src/analysis/bootstrap.ts). Writes
 * OUT/results.md. Runs that have not finished (no checkpoint at their totalSteps yet) are left out
 * and counted, so the script can be run while the sweep is still going.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseProgramArgs, prepareOutputFolder, usageError } from "../bench/arguments.ts";
import { parseInteger } from "../src/io/decimal.ts";
import { bootstrapDifferenceInterval } from "../src/analysis/bootstrap.ts";
import { STABILITY_COLUMNS, STABILITY_METRICS, type StabilityMetrics } from "../src/analysis/stability.ts";
import { runCommand } from "../src/cli/command.ts";
import { compareCommand } from "../src/cli/compare-command.ts";
import { writeFileAtomically } from "../src/node/files.ts";
import { renderLineChartSvg } from "../src/plot/line-chart.ts";
import { iterationTau } from "../src/agent/algorithm.ts";
import { presetConfig } from "../src/agent/presets.ts";
import { pmdCoefficients, type StackRule } from "../src/pmd/coefficients.ts";

const USAGE = `Usage: npx tsx scripts/study.ts [--runs DIR] [--out DIR] [--claims LIST] [--seed N]
  --runs DIR     the sweep's run folders (default docs/study/runs)
  --out DIR      where results.md and each claim's compare.json and curves go (default docs/study)
  --claims LIST  comma-separated claims (default all of them; a wrong name lists them)
  --seed N       the bootstrap's seed, a whole number 0 or more (default 0)`;

const { values } = parseProgramArgs(
  {
    options: {
      runs: { type: "string", default: "docs/study/runs" },
      out: { type: "string", default: "docs/study" },
      seed: { type: "string", default: "0" },
      claims: { type: "string" },
      help: { type: "boolean" },
    },
  },
  USAGE,
);
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const runsDir = values.runs;
const out = values.out;
const seed = parseInteger(values.seed);
if (!(seed >= 0)) usageError(`--seed takes a whole number, 0 or more; got ${JSON.stringify(values.seed)}`, USAGE);

type Config = Record<string, unknown>;

/** StaQ at the quick preset's settings: what every claim varies one thing of. */
const STAQ_DEFAULTS: Config = { algo: "staq", variant: "corrected", stackRule: "exact", epsilon: 0.05, memory: 30 };

/** A field of a run's config, with the defaults of runs from before the field existed. */
function field(config: Config, key: string): unknown {
  if (config[key] !== undefined) return config[key];
  return key === "algo" ? "staq" : key === "stackRule" ? "exact" : undefined;
}

/** StaQ with the defaults except the fields given (each a list of allowed values). */
function staqExcept(varied: Record<string, unknown[]>): (config: Config) => boolean {
  return (config) => Object.entries(STAQ_DEFAULTS).every(([key, value]) => (varied[key] ?? [value]).includes(field(config, key)));
}

interface Contrast {
  /** The field set one way against another. */
  field: string;
  a: unknown;
  b: unknown;
  /** The fields that must agree for two groups to be compared (the environment, M). */
  within: string[];
}

interface Claim {
  name: string;
  title: string;
  select: (config: Config) => boolean;
  groupBy: string[];
  contrasts: Contrast[];
}

const CLAIMS: Claim[] = [
  {
    name: "memory",
    title: "1. Memory M with the weight correction",
    select: staqExcept({ memory: [1, 5, 10, 30, 100] }),
    groupBy: ["env", "memory"],
    // The longest memories against the shortest: is more memory steadier?
    contrasts: [100, 30].map((a) => ({ field: "memory", a, b: 1, within: ["env"] })),
  },
  {
    name: "variant",
    title: "2. Vanilla against weight-corrected at small M",
    select: staqExcept({ memory: [5, 10], variant: ["corrected", "vanilla"] }),
    groupBy: ["env", "memory", "variant"],
    contrasts: [{ field: "variant", a: "corrected", b: "vanilla", within: ["env", "memory"] }],
  },
  {
    name: "epsilon",
    title: "3. The ε-softmax behaviour (ε = 0.05) against pure softmax (ε = 0)",
    select: staqExcept({ epsilon: [0.05, 0] }),
    groupBy: ["env", "epsilon"],
    contrasts: [{ field: "epsilon", a: 0.05, b: 0, within: ["env"] }],
  },
  {
    name: "algorithms",
    title: "4. StaQ against DQN, M-DQN and MDPO",
    select: (config) => staqExcept({})(config) || ["dqn", "mdqn", "mdpo"].includes(field(config, "algo") as string),
    groupBy: ["env", "algo"],
    contrasts: ["dqn", "mdqn", "mdpo"].map((b) => ({ field: "algo", a: "staq", b, within: ["env"] })),
  },
  {
    name: "stack-rule",
    title: "5. The authors' stack rule against exact finite memory",
    select: staqExcept({ memory: [5, 30], stackRule: ["exact", "authors"] }),
    groupBy: ["env", "memory", "stackRule"],
    contrasts: [{ field: "stackRule", a: "authors", b: "exact", within: ["env", "memory"] }],
  },
];

const ALGO_ORDER = ["staq", "dqn", "mdqn", "mdpo"];

/** Finished runs (checkpoint at totalSteps) with their configs; unfinished ones counted. */
async function finishedRuns(): Promise<{ runs: { dir: string; config: Config }[]; unfinished: number }> {
  const runs: { dir: string; config: Config }[] = [];
  let unfinished = 0;
  for (const name of (await readdir(runsDir)).sort()) {
    const dir = join(runsDir, name);
    let config: Config;
    let state: { counters: { globalStep: number } };
    try {
      config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as Config;
      state = JSON.parse(await readFile(join(dir, "checkpoint", "state.json"), "utf8"));
    } catch {
      unfinished++; // not started, or no checkpoint yet
      continue;
    }
    if (state.counters.globalStep >= (config.totalSteps as number)) runs.push({ dir, config });
    else unfinished++;
  }
  return { runs, unfinished };
}

interface CompareGroup {
  group: Record<string, unknown>;
  metrics: Record<keyof StabilityMetrics, { mean: number; lower: number; upper: number }>;
}

interface CompareRun {
  dir: string;
  group: Record<string, unknown>;
  seed: number;
  metrics: StabilityMetrics;
}

/** `staq compare` on the runs, into OUT/<claim>/: the table it prints, and its JSON's runs. */
async function compare(claim: Claim, dirs: string[]): Promise<{ table: string; runs: CompareRun[]; groups: CompareGroup[] }> {
  let stdout = "";
  let stderr = "";
  const dest = join(out, claim.name);
  const code = await runCommand(compareCommand, [...dirs, "--group-by", claim.groupBy.join(","), "--seed", String(seed), "--out", dest], {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
  });
  if (code !== 0) throw new Error(`staq compare failed for ${claim.name} (exit code ${code}): ${stderr}`);
  const report = JSON.parse(await readFile(join(dest, "compare.json"), "utf8")) as { runs: CompareRun[]; groups: CompareGroup[] };
  // The table is what compare prints before its notes.
  return { table: stdout.split("\n\n")[0], runs: report.runs, groups: report.groups };
}

/** Each contrast as a table: a − b of every metric's mean, with its interval; * where it excludes 0. */
function contrastTable(claim: Claim, runs: CompareRun[]): string {
  const lines: string[] = [];
  for (const contrast of claim.contrasts) {
    // A setting no run has (M = 100 in the MinAtar sweep) is not part of this study.
    if (!runs.some((r) => r.group[contrast.field] === contrast.a)) continue;
    const header = [...contrast.within, "runs (a, b)", ...STABILITY_METRICS.map((m) => STABILITY_COLUMNS[m])];
    const rows: string[] = [];
    const keyOf = (run: CompareRun) => JSON.stringify(contrast.within.map((f) => run.group[f]));
    const keys = [...new Set(runs.map(keyOf))];
    for (const key of keys) {
      const side = (value: unknown) => runs.filter((r) => keyOf(r) === key && r.group[contrast.field] === value);
      const a = side(contrast.a);
      const b = side(contrast.b);
      if (a.length === 0 || b.length === 0) continue;
      const cells = STABILITY_METRICS.map((metric) => {
        const d = bootstrapDifferenceInterval(
          a.map((r) => r.metrics[metric]),
          b.map((r) => r.metrics[metric]),
          { seed },
        );
        // Returns in the hundreds (classic control) read well to 0.1; MinAtar's, of a few points, need 0.01.
        const small = runs.every((r) => Math.abs(r.metrics[metric]) < 20);
        const digits = metric === "belowBestFraction" ? 3 : small ? 2 : 1;
        const excludesZero = d.lower > 0 || d.upper < 0;
        return `${d.difference.toFixed(digits)} [${d.lower.toFixed(digits)}, ${d.upper.toFixed(digits)}]${excludesZero ? " *" : ""}`;
      });
      rows.push(`| ${[...(JSON.parse(key) as unknown[]).map(String), `${a.length}, ${b.length}`, ...cells].join(" | ")} |`);
    }
    lines.push(`${contrast.field} = ${JSON.stringify(contrast.a)} minus ${contrast.field} = ${JSON.stringify(contrast.b)}:`, "");
    if (rows.length === 0) lines.push("No setting has finished runs on both sides yet.");
    else
      lines.push(
        `| ${header.join(" | ")} |`,
        `| ${header.map((_, i) => (i < contrast.within.length + 1 ? "---" : "---:")).join(" | ")} |`,
        ...rows,
      );
    lines.push("");
  }
  return lines.join("\n");
}

/**
 * Claim 1's figures: per environment, the area and the mean drop against M (log scale), each
 * point the mean over seeds with its bootstrap interval as a band. Returns the files written.
 */
async function againstMemory(groups: CompareGroup[]): Promise<string[]> {
  const written: string[] = [];
  const envs = [...new Set(groups.map((g) => String(g.group.env)))];
  for (const env of envs) {
    const mine = groups.filter((g) => g.group.env === env).sort((a, b) => Number(a.group.memory) - Number(b.group.memory));
    for (const metric of ["normalizedArea", "meanDrop"] as const) {
      const svg = await renderLineChartSvg(
        [
          {
            name: env,
            x: mine.map((g) => Number(g.group.memory)),
            y: mine.map((g) => g.metrics[metric].mean),
            lower: mine.map((g) => g.metrics[metric].lower),
            upper: mine.map((g) => g.metrics[metric].upper),
          },
        ],
        {
          title: `${env}: ${metric === "normalizedArea" ? "area (time-average return)" : "mean drop between evaluations"} against M`,
          xTitle: "memory M (log scale)",
          yTitle: STABILITY_COLUMNS[metric],
          logX: true,
          points: true,
        },
      );
      const path = join(
        out,
        "memory",
        `${env.replace(/[^A-Za-z0-9._-]/g, "-")}-${metric === "normalizedArea" ? "area" : "drop"}-against-M.svg`,
      );
      await writeFileAtomically(path, new TextEncoder().encode(svg), "a chart");
      written.push(path);
    }
  }
  return written;
}

/**
 * Claim 5's arithmetic, without training: along the quick preset's τ schedule, the logits' total
 * weight on the stored Q-functions, correction · Σ c_i, in units of 1/τ_k (so 1 is the weight of a
 * full, weight-corrected stack at constant τ), under each rule. The authors' rule gives every stored
 * snapshot the current α and keeps one more, so while τ falls its total is higher than the exact
 * rule's: this table says by how much the two policies' logits differ in scale.
 */
function stackRuleWeights(): string {
  const config = presetConfig("quick");
  const iterations = config.totalSteps / config.stepsPerIteration;
  const checkpoints = [1, 5, 10, 25, 50].filter((k) => k <= iterations);
  const lines = [
    "The logits' total weight correction · Σ c_i, times τ_k, after iteration k of the quick preset's schedule " +
      `(η = ${config.eta}, τ from ${config.tauStart} to ${config.tauEnd} over ${config.tauAnnealSteps} steps, ${config.stepsPerIteration} steps per iteration; ` +
      "1 is a full weight-corrected stack at constant τ). Computed from pmdCoefficients, not from the runs:",
    "",
    `| actions | M | rule | ${checkpoints.map((k) => `k = ${k}`).join(" | ")} |`,
    `| --- | --- | --- | ${checkpoints.map(() => "---:").join(" | ")} |`,
  ];
  for (const actions of [2, 3]) {
    for (const memory of [5, 30]) {
      for (const rule of ["exact", "authors"] as StackRule[]) {
        const cells = checkpoints.map((k) => {
          const taus = Array.from({ length: k }, (_, i) => iterationTau(config, i * config.stepsPerIteration, actions));
          const { coefficients, correction } = pmdCoefficients(taus, { eta: config.eta, memory, variant: "corrected", rule });
          const total = coefficients.reduce((sum, c) => sum + c, 0) * correction;
          return (total * taus[k - 1]).toFixed(3);
        });
        lines.push(`| ${actions} | ${memory} | ${rule} | ${cells.join(" | ")} |`);
      }
    }
  }
  lines.push("");
  return lines.join("\n");
}

const chosen = values.claims?.split(",") ?? CLAIMS.map((c) => c.name);
const unknown = chosen.filter((name) => !CLAIMS.some((c) => c.name === name));
if (unknown.length > 0) {
  usageError(`unknown claim ${unknown.join(", ")}; the claims are ${CLAIMS.map((c) => c.name).join(", ")}`, USAGE);
}

// Checked before any work: a missing --runs folder would otherwise be a raw ENOENT, and an --out
// that cannot be written would fail only after every claim's comparison.
const runsInfo = await stat(runsDir).catch(() => undefined);
if (!runsInfo?.isDirectory())
  usageError(`--runs ${runsDir} is not a folder: give the folder of the sweep's runs (default docs/study/runs)`, USAGE);
await prepareOutputFolder(out);

const { runs, unfinished } = await finishedRuns();
const sections: string[] = [
  "# The study's results",
  "",
  `Generated by \`npx tsx scripts/study.ts\` from the finished runs in ${runsDir} (${runs.length} runs; ${unfinished} started but not finished, left out). ` +
    `Each cell of a comparison table is the mean over seeds [its 95% percentile-bootstrap interval, 10 000 resamples, seed ${seed}]; ` +
    "each cell of a difference table is the difference of two settings' means [its 95% bootstrap interval], marked * where the interval excludes 0. " +
    "docs/stability.md defines the metrics; docs/study.md says what the tables show.",
  "",
];
for (const claim of CLAIMS.filter((c) => chosen.includes(c.name))) {
  // Groups appear in the table in the order compare meets them: by the grouped fields, numbers
  // numerically, StaQ before the baselines.
  const rank = (x: unknown) => (typeof x === "string" && ALGO_ORDER.includes(x) ? ALGO_ORDER.indexOf(x) : undefined);
  const order = (x: unknown, y: unknown): number => {
    if (typeof x === "number" && typeof y === "number") return x - y;
    const rx = rank(x);
    const ry = rank(y);
    if (rx !== undefined && ry !== undefined) return rx - ry;
    return String(x).localeCompare(String(y));
  };
  const dirs = runs
    .filter((r) => claim.select(r.config))
    .sort((a, b) => {
      for (const key of claim.groupBy) {
        const c = order(field(a.config, key), field(b.config, key));
        if (c !== 0) return c;
      }
      return 0;
    })
    .map((r) => r.dir);
  sections.push(`## ${claim.title}`, "");
  if (dirs.length === 0) {
    sections.push("No finished runs yet.", "");
    continue;
  }
  const { table, runs: compared, groups } = await compare(claim, dirs);
  sections.push(
    `\`staq compare\` on ${dirs.length} runs, \`--group-by ${claim.groupBy.join(",")}\`; learning curves in ${join(out, claim.name)}/:`,
    "",
    table,
    "",
  );
  if (claim.contrasts.length > 0) sections.push(contrastTable(claim, compared));
  if (claim.name === "stack-rule") sections.push(stackRuleWeights());
  if (claim.name === "memory") {
    const charts = await againstMemory(groups);
    sections.push(`The area and the mean drop against M (mean over seeds, the band its 95% interval): ${charts.join(", ")}.`, "");
  }
}
await writeFileAtomically(join(out, "results.md"), new TextEncoder().encode(sections.join("\n")), "the study's results");
console.log(`wrote ${join(out, "results.md")} from ${runs.length} finished runs (${unfinished} left out)`);
