// Run by without-vega.test.ts in a child process (with or without vega hidden): what the plotting
// entry points do, printed as one JSON line.
import { mkdtemp, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRunCurve } from "../../src/cli/run-curve.ts";
import { ensurePlotting, PlottingUnavailableError, renderLineChartSvg } from "../../src/plot/line-chart.ts";
import { StaqError } from "../../src/errors.ts";

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await run();
    return { value: typeof value === "string" ? value.slice(0, 40) : value };
  } catch (error) {
    return { error: (error as Error).message, unavailable: error instanceof PlottingUnavailableError, staq: error instanceof StaqError };
  }
}

async function runDirectory(evaluations: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "staq-plot-"));
  await writeFile(join(dir, "config.json"), JSON.stringify({ env: "CartPole-v1", preset: "quick" }));
  await writeFile(
    join(dir, "eval.jsonl"),
    evaluations ? '{"global_step": 100, "eval/mean_return": 20}\n{"global_step": 200, "eval/mean_return": 35}\n' : "",
  );
  return dir;
}

const withEvaluations = await runDirectory(true);
const withoutEvaluations = await runDirectory(false);
const result = {
  dir: withEvaluations,
  ensurePlotting: await outcome(() => ensurePlotting()),
  render: await outcome(() => renderLineChartSvg([{ name: "a", x: [0, 1], y: [1, 2] }], { xTitle: "x", yTitle: "y" })),
  curve: await outcome(() => writeRunCurve(withEvaluations)),
  files: await readdir(withEvaluations),
  noEvaluations: await outcome(() => writeRunCurve(withoutEvaluations)),
};
console.log(JSON.stringify(result));
