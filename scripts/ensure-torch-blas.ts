// The benchmark setup's BLAS step (scripts/torch-blas.ts), run by bench/all.ts in the repository
// as a child process before the sections, so that the bundle's all.mjs holds no installer:
//   tsx scripts/ensure-torch-blas.ts SECTIONS [bench arguments…]
// SECTIONS is the comma-separated list of sections that will run. It never fails the benchmark:
// a probe or an install that goes wrong is reported, and the PyTorch columns say they are not fair.
// Its command line, though, is checked like `npm run bench`'s (bench/arguments.ts): a misspelt
// section or option would otherwise decide silently that no PyTorch baseline runs.
import { parseBenchCommandLine, sectionArguments, usageError } from "../bench/arguments.ts";
import { benchRunsTorchOnCpu, ensureTorchBlas } from "./torch-blas.ts";

const USAGE = `Usage: npx tsx scripts/ensure-torch-blas.ts SECTIONS [npm run bench's options]
SECTIONS: the comma-separated sections that will run (stack, train, precompute, tabular, envs). When one
of them runs a PyTorch baseline on the CPU (train; stack with --pytorch cpu or its conv rows), checks
which BLAS torch loads and, as root on Debian, installs libopenblas0-pthread if it is the reference
BLAS; elsewhere says the command to run. npm run bench runs it before the sections.`;

const [sections, ...rest] = process.argv.slice(2);
if (sections === "--help" || sections === "-h") {
  console.log(USAGE);
  process.exit(0);
}
if (sections === undefined || sections.startsWith("-")) usageError("the first argument must be the comma-separated sections", USAGE);
const { only, help, options } = parseBenchCommandLine(["--only", sections, ...rest], USAGE);
if (help) {
  console.log(USAGE);
  process.exit(0);
}
if (benchRunsTorchOnCpu(only, sectionArguments("stack", options))) await ensureTorchBlas();
