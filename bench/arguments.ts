/**
 * The command lines of the benchmark programs and of `npm run bench` (bench/all.ts): strict
 * parsing whose mistakes are one line and exit 2 (never a stack trace), the checks of the values
 * several programs share (so all.ts can check them before the first section runs), the --out
 * folder made and test-written before any measuring, and the refusal of a library module run as
 * a program.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isParseArgsError } from "../src/cli/command.ts";
import { parseDecimal, parseInteger } from "../src/io/decimal.ts";
import { describeFsError, makeDirectories } from "../src/node/files.ts";

/**
 * Says `message` and the usage's first line (the synopsis) on stderr, and exits 2: what every
 * bad command line of a benchmark gets.
 */
export function usageError(message: string, usage: string): never {
  console.error(message);
  console.error(`${usage.split("\n")[0]} (--help for every option)`);
  process.exit(2);
}

/**
 * `util.parseArgs` (strict, its default) with its errors (an unknown option, a
 * value missing) turned into `usageError`: a top-level parseArgs would otherwise die with a stack
 * trace and exit 1.
 */
export function parseProgramArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (isParseArgsError(error)) usageError(error.message, usage);
    throw error;
  }
}

/** The rows of stack.ts and train.ts (--rows): the MLP rows, the conv rows, or both. */
export const ROW_KINDS: Readonly<Record<string, readonly ("dense" | "conv")[]>> = {
  all: ["dense", "conv"],
  dense: ["dense"],
  conv: ["conv"],
};

/** --rows all|dense|conv of stack.ts and train.ts as the row kinds; anything else exits 2. */
export function parseRowKinds(text: string): readonly ("dense" | "conv")[] {
  if (!Object.hasOwn(ROW_KINDS, text)) {
    console.error(`--rows takes all, dense or conv; got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return ROW_KINDS[text];
}

/** A PyTorch device flag of stack.ts (--pytorch, --conv-pytorch): cuda, cpu or off; anything else exits 2. */
export function pytorchDevice(text: string, flag: string): "cuda" | "cpu" | "off" {
  if (text !== "cuda" && text !== "cpu" && text !== "off") {
    console.error(`${flag} takes cuda, cpu or off; got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return text;
}

/**
 * A number of seconds, 0 or more, written as a plain decimal (parseDecimal: not "" as 0 or "0x10"
 * as 16); anything else exits 2 quoting the text.
 */
export function secondsOption(text: string, flag: string): number {
  const value = parseDecimal(text);
  if (!(value >= 0) || !Number.isFinite(value)) {
    console.error(`${flag} takes a number of seconds (0 or more, like 0.6); got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

/** A count (1 or more; parseInteger: "1e3" is 1000, "0x10" and "" are not numbers); anything else exits 2 quoting the text. */
export function positiveIntegerOption(text: string, flag: string): number {
  const value = parseInteger(text);
  if (!(value >= 1)) {
    console.error(`${flag} takes a positive whole number; got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

/** A comma-separated list of counts (positiveIntegerOption each), without repeats, in increasing order. */
export function positiveIntegerList(text: string, flag: string): number[] {
  const values = text.split(",").map((part) => parseInteger(part));
  if (!values.every((value) => value >= 1)) {
    console.error(`${flag} takes positive whole numbers separated by commas; got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * envs.ts's --upstream-src (or $STAQ_UPSTREAM_SRC, named by `flag`): a folder given but missing is
 * a mistake to fix, not a reason to fall back on the reference figures, which would measure
 * something else than asked. Exits 2.
 */
export function upstreamSource(value: string, flag: string): string {
  if (value.trim() === "" || !existsSync(value)) {
    console.error(
      `${flag} ${JSON.stringify(value)} does not exist: give the folder holding upstream's extracted minatar/ and gymnasium/ packages, or leave it out to use bench/upstream-throughput.json`,
    );
    process.exit(2);
  }
  return value;
}

/**
 * Makes the --out folder (each missing level on its own: Node 20's recursive mkdir hangs under
 * /proc) and writes and removes a file in it, before any measuring: a folder that cannot take the
 * results would otherwise fail only after the whole benchmark. Exits 2 with the reason.
 */
export async function prepareOutputFolder(dir: string, flag = "--out"): Promise<void> {
  if (dir.trim() === "") {
    console.error(`${flag} needs a folder's path; got ""`);
    process.exit(2);
  }
  const probe = join(dir, `.staq-write-test-${process.pid}`);
  try {
    await makeDirectories(dir);
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
  } catch (error) {
    console.error(`${flag} ${dir} cannot take the results: ${describeFsError(error)}; give a folder you can write to`);
    process.exit(2);
  }
}

/**
 * For a module of bench/ that other programs import (gemm.ts, measure.ts, …): run directly, it
 * says so and exits 2 rather than doing nothing with exit 0. `url` is the module's import.meta.url
 * and `file` its name, which is compared too: in scripts/bundle.ts's bundle the module's code sits
 * inside another program (stack.mjs), where import.meta.url is that program's.
 */
export function refuseDirectRun(url: string, file: string, program: string): void {
  const path = fileURLToPath(url);
  if (basename(path) !== file || !process.argv[1] || resolve(process.argv[1]) !== path) return;
  console.error(`bench/${file} is a module the benchmarks import, not a program: run ${program}`);
  process.exit(2);
}

/** The sections of `npm run bench` (bench/all.ts), each a program bench/SECTION.ts, in running order. */
export const BENCH_SECTIONS = ["stack", "train", "precompute", "tabular", "envs"] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

/**
 * The options `npm run bench` passes on, with the sections that take each (their own option
 * tables must agree) and the check of its value, run before the first section: a mistake in an
 * option of the last section would otherwise show only after the others' half hour. The sections'
 * internal options (stack's --fast-child, envs' --worker) and their narrowing options that
 * all.ts never passed (precompute's --rows N, which is not stack's and train's --rows) are left out.
 */
export const BENCH_OPTIONS: Record<
  string,
  { type: "string" | "boolean"; sections: readonly BenchSection[]; check?: (value: string, flag: string) => unknown }
> = {
  quick: { type: "boolean", sections: BENCH_SECTIONS },
  full: { type: "boolean", sections: BENCH_SECTIONS },
  out: {
    type: "string",
    sections: BENCH_SECTIONS,
    check: (value, flag) => value.trim() !== "" || usageError(`${flag} needs a folder's path; got ""`, BENCH_USAGE),
  },
  fast: { type: "boolean", sections: ["stack", "train", "precompute"] },
  rows: { type: "string", sections: ["stack", "train"], check: (value) => parseRowKinds(value) },
  "no-fast-compare": { type: "boolean", sections: ["stack"] },
  "max-eval-seconds": { type: "string", sections: ["stack"], check: secondsOption },
  "max-conv-eval-seconds": { type: "string", sections: ["stack"], check: secondsOption },
  pytorch: { type: "string", sections: ["stack"], check: pytorchDevice },
  "conv-pytorch": { type: "string", sections: ["stack"], check: pytorchDevice },
  "upstream-src": { type: "string", sections: ["envs"], check: upstreamSource },
};

export const BENCH_USAGE = `Usage: npm run bench -- [--only SECTIONS] [--quick | --full] [--out DIR] [--fast] [--rows all|dense|conv] [--upstream-src DIR] [stack's options]
Runs each benchmark section in its own process, in order (${BENCH_SECTIONS.join(", ")}), and exits with the
first failing section's code.
  --only SECTIONS     comma-separated sections to run (default all: ${BENCH_SECTIONS.join(",")})
  --quick, --full     every section (--quick is the default)
  --out DIR           every section's results folder (default bench/results)
  --fast              stack, train and precompute
  --rows all|dense|conv  stack and train
  --no-fast-compare, --max-eval-seconds S, --max-conv-eval-seconds S, --pytorch D, --conv-pytorch D
                      stack only
  --upstream-src DIR  envs only (default $STAQ_UPSTREAM_SRC)
An option none of the chosen sections takes is refused. Each section's own help follows.`;

/** One option of a benchmark command line as the token parseArgs saw. */
interface GivenOption {
  name: string;
  value: string | undefined;
}

/**
 * `npm run bench`'s command line, checked: --only's sections, every option known to one of them and
 * taken by at least one chosen section, every value present and valid. Exits 2 on the first
 * mistake. `options` are the given options in order, for passing on to the sections.
 */
export function parseBenchCommandLine(
  args: string[],
  usage = BENCH_USAGE,
): { only: BenchSection[]; help: boolean; options: GivenOption[] } {
  // Typed as any option table: the names come from BENCH_OPTIONS, so the values are looked up by name.
  const table: NonNullable<ParseArgsConfig["options"]> = {
    only: { type: "string" },
    help: { type: "boolean" },
    ...Object.fromEntries(Object.entries(BENCH_OPTIONS).map(([name, { type }]) => [name, { type }])),
  };
  const { values, tokens } = parseProgramArgs({ args, options: table, tokens: true }, usage);
  let only: BenchSection[] = [...BENCH_SECTIONS];
  if (typeof values.only === "string") {
    const names = values.only.split(",");
    const unknown = names.filter((name) => !(BENCH_SECTIONS as readonly string[]).includes(name));
    if (unknown.length > 0)
      usageError(`--only takes a comma-separated list of ${BENCH_SECTIONS.join(", ")}; got ${JSON.stringify(values.only)}`, usage);
    only = [...new Set(names)] as BenchSection[];
  }
  const options: GivenOption[] = [];
  for (const token of tokens) {
    if (token.kind !== "option" || token.name === "only" || token.name === "help") continue;
    const option = BENCH_OPTIONS[token.name];
    if (!option.sections.some((section) => only.includes(section)))
      usageError(
        `${token.rawName} is taken by ${option.sections.join(", ")} only, and --only ${only.join(",")} runs none of them: leave it out or add a section that takes it`,
        usage,
      );
    if (token.value !== undefined) option.check?.(token.value, token.rawName);
    options.push({ name: token.name, value: token.value });
  }
  if (values.quick && values.full) usageError("Choose one of --quick and --full.", usage);
  return { only, help: values.help === true, options };
}

/** The command-line arguments of `section` out of `npm run bench`'s options: those it takes, in order. */
export function sectionArguments(section: BenchSection, options: readonly GivenOption[]): string[] {
  return options
    .filter(({ name }) => BENCH_OPTIONS[name].sections.includes(section))
    .map(({ name, value }) => (value === undefined ? `--${name}` : `--${name}=${value}`));
}
