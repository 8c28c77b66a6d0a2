/**
 * `npm run bench`: runs each benchmark section in its own process, in order, so one section's
 * memory and GPU state never colour another's timings.
 *   stack       bench/stack.ts       stack evaluation on the GPU (all options after -- go to it)
 *   train       bench/train.ts       the GPU trainer: gradient steps/s, the per-iteration precompute
 *                                    (gets --quick, --full, --out, --fast and --rows)
 *   precompute  bench/precompute.ts  the per-iteration precompute of π_k(·|s') on a 50k replay
 *                                    buffer, the full recompute against followPush + the incremental
 *                                    precompute, M = 10 to 300 (gets --quick, --full, --out and
 *                                    --fast; the default measures every cell, over half an hour on
 *                                    lavapipe; --quick skips the 2×256 full recompute at M ≥ 100)
 *   tabular     bench/tabular.ts     tabular PMD on the CPU (gets --quick, --full and --out)
 *   envs        bench/envs.ts        env steps/s of every built-in env, single and vectorised,
 *                                    against upstream (gets --quick, --full and --out; to measure
 *                                    upstream now rather than use the reference figures, set
 *                                    STAQ_UPSTREAM_SRC)
 * `--only stack,train,precompute,tabular,envs` picks sections. Exits with the first failing
 * section's code.
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

const here = dirname(fileURLToPath(import.meta.url));
/** ".ts" in the repository (sections run through tsx); ".mjs" in scripts/bundle.ts's bundle (plain node). */
const extension = extname(fileURLToPath(import.meta.url));
const loader = extension === ".ts" ? ["--import", "tsx"] : [];
const SECTIONS = ["stack", "train", "precompute", "tabular", "envs"] as const;
type Section = (typeof SECTIONS)[number];

const argv = process.argv.slice(2);
let only: Section[] = [...SECTIONS];
const rest: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const value = arg === "--only" ? argv[++i] : arg.startsWith("--only=") ? arg.slice("--only=".length) : undefined;
  if (value === undefined) {
    rest.push(arg);
    continue;
  }
  const names = value.split(",");
  const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    console.error(`--only takes a comma-separated list of ${SECTIONS.join(", ")}; got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  only = names as Section[];
}

/** The arguments each section understands: the stack bench takes everything, the others a subset. */
function argumentsFor(section: Section): string[] {
  if (section === "stack") return rest;
  const shared: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--quick" || rest[i] === "--full" || rest[i] === "--help" || rest[i].startsWith("--out=")) shared.push(rest[i]);
    else if (rest[i] === "--fast" && (section === "train" || section === "precompute")) shared.push(rest[i]);
    else if (rest[i] === "--out") shared.push(rest[i], rest[++i]);
    // The train section has conv rows too (--rows all|dense|conv).
    else if (section === "train" && rest[i] === "--rows") shared.push(rest[i], rest[++i]);
    else if (section === "train" && rest[i].startsWith("--rows=")) shared.push(rest[i]);
  }
  return shared;
}

// In the repository only, as a child process so that the bundle (for machines without a network)
// holds no installer: scripts/ensure-torch-blas.ts.
if (extension === ".ts")
  spawnSync(process.execPath, [...loader, join(here, "..", "scripts", "ensure-torch-blas.ts"), only.join(","), ...rest], {
    stdio: "inherit",
  });

for (const section of only) {
  console.log(`\n=== bench: ${section} ===`);
  const child = spawnSync(process.execPath, [...loader, join(here, `${section}${extension}`), ...argumentsFor(section)], {
    stdio: "inherit",
  });
  if (child.status !== 0) process.exit(child.status ?? 1);
}
