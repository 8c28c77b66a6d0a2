/**
 * `npm run bench`: runs each benchmark section in its own process, in order, so one section's
 * memory and GPU state never colour another's timings.
 *   stack       bench/stack.ts       stack evaluation on the GPU (gets all of its options but the
 *                                    internal --fast-child)
 *   train       bench/train.ts       the GPU trainer: gradient steps/s, the per-iteration precompute
 *                                    (gets --quick, --full, --out, --fast and --rows)
 *   precompute  bench/precompute.ts  the per-iteration precompute of π_k(·|s') on a 50k replay
 *                                    buffer, the full recompute against followPush + the incremental
 *                                    precompute, M = 10 to 300 (gets --quick, --full, --out and
 *                                    --fast; the default measures every cell, over half an hour on
 *                                    lavapipe; --quick skips the 2×256 full recompute at M ≥ 100)
 *   tabular     bench/tabular.ts     tabular PMD on the CPU (gets --quick, --full and --out)
 *   envs        bench/envs.ts        env steps/s of every built-in env, single and vectorised,
 *                                    against upstream (gets --quick, --full, --out and
 *                                    --upstream-src; to measure upstream now rather than use the
 *                                    reference figures, give --upstream-src or set STAQ_UPSTREAM_SRC)
 * `--only stack,train,precompute,tabular,envs` picks sections. An option none of the chosen
 * sections takes exits 2 (bench/arguments.ts's BENCH_OPTIONS says which take which). Exits with the
 * first failing section's code.
 *
 * Before the sections, when one of them will run a PyTorch baseline on the CPU (train; stack with
 * --pytorch cpu), it checks which BLAS the Python with torch loads and, as root on Debian,
 * installs libopenblas0-pthread if that is the reference BLAS; elsewhere it says the command to
 * run (scripts/ensure-torch-blas.ts, scripts/torch-blas.ts). Once, here, so that no apt-get run
 * overlaps another.
 */
import { spawnSync } from "node:child_process";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_USAGE, parseBenchCommandLine, prepareOutputFolder, sectionArguments } from "./arguments.ts";

const here = dirname(fileURLToPath(import.meta.url));
/** ".ts" in the repository (sections run through tsx); ".mjs" in scripts/bundle.ts's bundle (plain node). */
const extension = extname(fileURLToPath(import.meta.url));
const loader = extension === ".ts" ? ["--import", "tsx"] : [];

// Checked whole before anything runs: a flag without its value, a flag no chosen section takes
// or a bad value would otherwise show (or be dropped) only when its section's turn comes.
const { only, help, options } = parseBenchCommandLine(process.argv.slice(2));

if (help) {
  console.log(BENCH_USAGE);
  for (const section of only) {
    console.log(`\n=== bench: ${section} ===`);
    spawnSync(process.execPath, [...loader, join(here, `${section}${extension}`), "--help"], { stdio: "inherit" });
  }
  process.exit(0);
}

const out = options.filter((option) => option.name === "out").at(-1)?.value;
if (out !== undefined) await prepareOutputFolder(out);

// In the repository only, as a child process so that the bundle (for machines without a network)
// holds no installer: scripts/ensure-torch-blas.ts.
if (extension === ".ts")
  spawnSync(
    process.execPath,
    [...loader, join(here, "..", "scripts", "ensure-torch-blas.ts"), only.join(","), ...sectionArguments("stack", options)],
    { stdio: "inherit" },
  );

for (const section of only) {
  console.log(`\n=== bench: ${section} ===`);
  const child = spawnSync(process.execPath, [...loader, join(here, `${section}${extension}`), ...sectionArguments(section, options)], {
    stdio: "inherit",
  });
  if (child.status !== 0) process.exit(child.status ?? 1);
}
