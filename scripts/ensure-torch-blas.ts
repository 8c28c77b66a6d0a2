// The benchmark setup's BLAS step (scripts/torch-blas.ts), run by bench/all.ts in the repository
// as a child process before the sections, so that the bundle's all.mjs holds no installer:
//   tsx scripts/ensure-torch-blas.ts SECTIONS [bench arguments…]
// SECTIONS is the comma-separated list of sections that will run. It never fails the benchmark:
// a probe or an install that goes wrong is reported, and the PyTorch columns say they are not fair.
import { benchRunsTorchOnCpu, ensureTorchBlas } from "./torch-blas.ts";

const [sections = "", ...args] = process.argv.slice(2);
if (benchRunsTorchOnCpu(sections.split(","), args)) await ensureTorchBlas();
