/**
 * `staq plot DIR... --out curve.svg`: learning curves of one or many runs, the mean and spread over
 * the runs of each environment and preset (seeds), against environment steps or wall-clock time.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeFileAtomically } from "../node/files.ts";
import { UsageError, isParseArgsError, numberFlag, type Command, type CommandIO } from "./command.ts";
import { checkOutputPath } from "./output-path.ts";
import { renderRunCurves } from "./run-curve.ts";
import { RUN_FILES } from "./run-directory.ts";

const HELP = `Usage: staq plot DIR... --out FILE.svg [--metric KEY] [--x steps|time] [--band minmax|std]
                 [--threshold Y] [--title TEXT]

Draws the learning curves of runs written by \`staq train\`: one curve per environment and preset,
the mean over its runs (seeds) with a band for their spread, drawn where every run has data
(runs logged at other x are interpolated linearly).

Options:
  --out FILE       the SVG to write (written to a temporary file first, then renamed); not a
                   file the plot reads (config.json, eval.jsonl, metrics.jsonl)
  --metric KEY     what to plot: a key of eval.jsonl (default eval/mean_return) or of
                   metrics.jsonl (e.g. charts/episodic_return, losses/td_loss, policy/kl)
  --x steps|time   environment steps (default) or wall-clock minutes of training
  --band B         the spread: minmax (default) or std (±1 standard deviation)
  --threshold Y    a dashed horizontal line at Y (e.g. 475 for CartPole)
  --title TEXT     the chart's title
  -h, --help       show this help
`;

const OPTIONS = {
  out: { type: "string" },
  metric: { type: "string" },
  x: { type: "string" },
  band: { type: "string" },
  threshold: { type: "string" },
  title: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function plot(args: string[], io: CommandIO): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message, plotCommand);
    throw error;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  if (positionals.length === 0) throw new UsageError("give at least one run directory", plotCommand);
  if (positionals.includes("")) throw new UsageError('a run directory is "" (an empty path); give each run\'s directory', plotCommand);
  if (values.out === undefined) throw new UsageError("--out FILE.svg is required", plotCommand);
  if (values.x !== undefined && values.x !== "steps" && values.x !== "time")
    throw new UsageError(`--x must be steps or time; got ${JSON.stringify(values.x)}`, plotCommand);
  if (values.band !== undefined && values.band !== "minmax" && values.band !== "std")
    throw new UsageError(`--band must be minmax or std; got ${JSON.stringify(values.band)}`, plotCommand);
  const threshold =
    values.threshold === undefined
      ? undefined
      : numberFlag(values.threshold, "threshold", plotCommand, { valid: () => true, requirement: "a finite number" });
  // Every file of the runs the plot reads: an --out onto one (RUN/eval.jsonl) would replace a log
  // by the chart drawn from it.
  const inputs = positionals.flatMap((dir) =>
    [RUN_FILES.config, RUN_FILES.eval, RUN_FILES.metrics].map((name) => ({ option: "which the plot reads", path: join(dir, name) })),
  );
  await checkOutputPath({
    output: { option: "--out", path: values.out },
    what: "the chart",
    example: RUN_FILES.curve,
    inputs,
    command: plotCommand,
    extension: ".svg",
  });
  const { svg, runs, curves } = await renderRunCurves(positionals, {
    metric: values.metric,
    x: values.x as "steps" | "time" | undefined,
    band: values.band as "minmax" | "std" | undefined,
    title: values.title,
    threshold,
  });
  await writeFileAtomically(values.out, new TextEncoder().encode(svg), "the chart");
  io.stdout.write(
    `wrote ${values.out}: ${runs} run${runs === 1 ? "" : "s"}, ${curves.map((c) => `${c.name}: ${c.points} points, last ${c.last === null ? "-" : c.last.toFixed(1)}`).join("; ")}\n`,
  );
}

export const plotCommand: Command = {
  name: "plot",
  summary: "draw learning curves (mean and spread over seeds) of runs written by staq train",
  help: HELP,
  run: plot,
};
