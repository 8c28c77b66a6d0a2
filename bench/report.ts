/**
 * Formatting for benchmark output: milliseconds, markdown tables, file names per adapter or CPU,
 * machine info, the report files; and the multiply-adds the benchmarks' GFLOP/s count.
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, totalmem } from "node:os";
import { extname, join } from "node:path";
import { convGeometry } from "../src/stack/conv.ts";
import { layerShapes, type MlpSpec } from "../src/stack/mlp.ts";
import { describeFsError } from "../src/node/files.ts";

/**
 * Multiply-adds of each layer for one state, Σ in·out per dense layer. A conv layer's weight
 * (layerShapes: C·kh·kw × F) is applied at every one of its H'·W' output positions, so it counts
 * H'·W'·C·kh·kw·F: without that factor a conv network's GFLOP/s would leave out most of the conv.
 */
export function layerMacs(spec: MlpSpec): number[] {
  const positions = spec.conv ? convGeometry(spec.conv).positions : 1;
  return layerShapes(spec).map(({ inputs, outputs }, l) => inputs * outputs * (l === 0 ? positions : 1));
}

/** Multiply-adds of one forward pass of one state: the sum of layerMacs. */
export function forwardMacs(spec: MlpSpec): number {
  return layerMacs(spec).reduce((sum, macs) => sum + macs, 0);
}

/**
 * Writes a benchmark's results as DIR/NAME.json (`report`) and DIR/NAME.md (`markdown`), and says
 * where (with the run's seconds when given). Both go to temporary names first and are renamed into
 * place only when both are written, so a failure leaves the previous pair (or none), never a new
 * .json beside an old .md. DIR should have been checked before measuring (prepareOutputFolder in
 * bench/arguments.ts); a failure here is still one line, exit 1.
 */
export function writeReport(dir: string, name: string, report: unknown, markdown: string, seconds?: number): void {
  const base = join(dir, name);
  const files = [
    { path: `${base}.json`, text: `${JSON.stringify(report, null, 2)}\n` },
    { path: `${base}.md`, text: markdown },
  ].map((file) => ({ ...file, temporary: join(dir, `.${name}${extname(file.path)}.${process.pid}.tmp`) }));
  try {
    for (const file of files) writeFileSync(file.temporary, file.text);
    for (const file of files) renameSync(file.temporary, file.path);
  } catch (error) {
    for (const file of files) rmSync(file.temporary, { force: true });
    console.error(`Could not write the results to ${base}.json and .md: ${describeFsError(error)}`);
    process.exit(1);
  }
  console.log(`\nwrote ${base}.json and ${base}.md${seconds === undefined ? "" : ` (${seconds.toFixed(0)} s)`}`);
}

/** Three significant digits, at least two decimals below 10 ms. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" → "llvmpipe"; "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3". */
export function adapterSlug(adapter: string): string {
  const name = adapter.split(/[:(]/)[0].trim() || "adapter";
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

/** The machine a CPU benchmark ran on, as its JSON records it. */
export function machineInfo() {
  const cores = cpus();
  return {
    cpu: cores[0]?.model ?? "unknown CPU",
    cores: cores.length,
    platform: `${platform()} ${arch()}`,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    /** 1-, 5- and 15-minute load averages at the start: other work on the machine skews the figures. */
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
  };
}

/** "Intel(R) Xeon(R) Processor" → "intel-xeon-processor"; "AMD EPYC 7763 64-Core Processor" → "amd-epyc-7763-64-core-processor". */
export function cpuSlug(model: string): string {
  // Not report.ts's adapterSlug: it cuts at the first "(", which leaves "intel" of every Intel CPU.
  const name = model
    .replace(/\((r|tm|c)\)/gi, " ")
    .replace(/@.*$/, " ")
    .replace(/\bCPU\b/gi, " ");
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "cpu"
  );
}

/** Whether a benchmark runs `--full` (else `--quick`, the default); both at once exits 2. */
export function fullMode(args: { quick?: boolean; full?: boolean }): boolean {
  if (args.quick && args.full) {
    console.error("Choose one of --quick and --full.");
    process.exit(2);
  }
  return args.full === true;
}

/** The options every benchmark takes: --quick | --full, --out DIR (default bench/results), --help. */
export function commonBenchOptions(resultsDir: string) {
  return {
    quick: { type: "boolean", default: false },
    full: { type: "boolean", default: false },
    out: { type: "string", default: resultsDir },
    help: { type: "boolean", default: false },
  } as const;
}
