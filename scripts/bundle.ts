/**
 * `npm run bundle [-- --platform linux-x64] [--no-node | --node PATH] [--out DIR] [--xz-level N]`:
 * a folder that runs staq's benchmarks on a machine with no Node.js, no npm and no network
 * (an air-gapped GPU node). Default `bundle/` (git-ignored). It holds:
 *
 *   run.sh                      ./run.sh [--icd PATH] <all|stack|train|precompute|tabular|envs> [options...]
 *   README.txt                  how to run it, what it holds, the sizes
 *   bench/<name>.mjs            each benchmark with the library bundled in (esbuild, ESM, node20)
 *   bench/*.py                  the Python scripts envs.mjs and stack.mjs run (upstream, PyTorch, the
 *                               Gymnasium bridge's worker)
 *   bench/upstream-throughput.json
 *                               the envs benchmark's upstream figures, read beside envs.mjs as
 *                               bench/envs.ts reads them in the repository
 *   node_modules/webgpu/        Dawn's bindings: package.json, index.js, LICENSE.md and only the
 *                               target platform's dist/<platform>/ (dawn.node, plus DLLs on Windows)
 *   node.xz                     the Node.js binary, xz-compressed (not with --no-node); run.sh
 *                               unpacks it once, to ./node
 *   lib/libvulkan.so.1          the Vulkan loader of this machine (Linux, same platform only), used
 *                               by run.sh only where the target machine has none
 *   licenses/                   MinAtar's GPL-3.0 (bench/envs.mjs holds the port), Node.js's and
 *                               the Vulkan loader's licences where found
 *   bundle.json                 what was bundled: platform, versions, sizes, the node.xz source
 *
 * The WGSL shaders are in the bundled JS already (`npm run gen` embeds them; it runs first).
 * `webgpu` stays external, so `import("webgpu")` resolves to the bundle's own node_modules and its
 * index.js loads dist/<process.platform>-<arch>/dawn.node beside itself.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { describeFsError, makeDirectories } from "../src/node/files.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The platforms the webgpu package ships a dawn.node for (its dist/ folder names). */
export const PLATFORMS = ["linux-x64", "linux-arm64", "darwin-universal", "win32-x64", "win32-arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The benchmarks run.sh runs: bench/<name>.ts, bundled to bench/<name>.mjs. */
export const BENCHMARKS = ["all", "stack", "train", "precompute", "tabular", "envs"] as const;

/**
 * xz preset for node.xz. Measured on this project's 2-core machine with the 99 MB node 20 binary
 * (xz 5.4, -T0): -3 → 27.1 MB in 10 s, -6 → 24.2 MB in 25 s, -9 → 23.9 MB in 54 s (and 800 MB of
 * memory). Unpacking takes about 1.5 s at any level. -6 is xz's own default and the knee.
 */
export const DEFAULT_XZ_LEVEL = 6;

/** A problem the user can fix (bad option, missing file): printed without a stack trace. */
export class BundleError extends Error {}
/** A BundleError found before anything is staged (the options, the inputs, --out): exit 2, not 1. */
export class BundleInputError extends BundleError {}

export interface BundleOptions {
  platform: Platform;
  /** Output folder; replaced if it holds an earlier bundle, refused if it holds anything else. */
  out: string;
  /** The Node.js binary to compress into node.xz, or null for none (`--no-node`). */
  node: string | null;
  xzLevel: number;
  /** The repository root (the bench/ and scripts/ to bundle, and its node_modules). */
  root?: string;
  /** The webgpu package folder; default: resolved from the repository root. */
  webgpuDir?: string;
  log?: (line: string) => void;
}

export interface BundleReport {
  out: string;
  platform: Platform;
  /** Bytes per part: bench, webgpu, node, vulkan-loader, other. */
  parts: Record<string, number>;
  total: number;
  node: {
    version: string | null;
    source: string;
    bytes: number;
    compressed: number;
    xzLevel: number;
    seconds: number;
    reused: boolean;
  } | null;
  warnings: string[];
}

/** This machine's platform in the webgpu package's naming (macOS ships one universal binary). */
export function hostPlatform(): string {
  return `${process.platform}-${process.platform === "darwin" ? "universal" : process.arch}`;
}

function isPlatform(value: string): value is Platform {
  return (PLATFORMS as readonly string[]).includes(value);
}

const USAGE = `Usage: npm run bundle -- [--platform P] [--no-node | --node PATH] [--out DIR] [--xz-level N]
Writes a folder that runs staq's benchmarks without Node.js, npm or a network (see its README.txt).
  --platform P    ${PLATFORMS.join(" | ")} (default: this machine's, ${hostPlatform()})
  --no-node       leave Node.js out: run.sh then uses the node (>= 20) on the target's PATH
  --node PATH     the Node.js binary to include (default: the one running this script; needed when
                  --platform is not this machine's)
  --out DIR       output folder (default: bundle)
  --xz-level N    xz preset 0-9 for node.xz (default ${DEFAULT_XZ_LEVEL})`;

/** The command line as options; throws BundleError on anything it does not understand. */
export function parseBundleArgs(argv: string[]): BundleOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        platform: { type: "string", default: hostPlatform() },
        "no-node": { type: "boolean", default: false },
        node: { type: "string" },
        out: { type: "string", default: "bundle" },
        "xz-level": { type: "string", default: String(DEFAULT_XZ_LEVEL) },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new BundleError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) return "help";
  const platform = values.platform;
  if (!isPlatform(platform)) throw new BundleError(`unknown platform ${JSON.stringify(platform)}: choose one of ${PLATFORMS.join(", ")}`);
  if (values["no-node"] && values.node !== undefined) throw new BundleError("--no-node and --node PATH contradict each other: pick one");
  const level = values["xz-level"];
  if (!/^[0-9]$/.test(level)) throw new BundleError(`--xz-level takes 0-9, got ${JSON.stringify(level)}`);
  let node: string | null = null;
  if (values.node !== undefined) node = resolve(values.node);
  else if (!values["no-node"]) {
    if (platform !== hostPlatform()) {
      throw new BundleError(
        `--platform ${platform} is not this machine's (${hostPlatform()}), so this machine's Node.js would not run there: ` +
          `pass --node PATH to a Node.js (>= 20) binary for ${platform} (from https://nodejs.org/dist/), or --no-node`,
      );
    }
    node = process.execPath;
  }
  return { platform, out: resolve(values.out), node, xzLevel: Number(level) };
}

/** Compresses `source` into `target` with the xz command (`-T0`: all cores). Returns the seconds it took. */
export function compressXz(source: string, target: string, level: number): number {
  const started = performance.now();
  const partial = `${target}.partial`;
  // Through a shell redirect rather than node's pipes: xz writes the file itself, no copy through JS.
  const child = spawnSync("sh", ["-c", 'xz -z -c -T0 "-$1" -- "$2" > "$3"', "sh", String(level), source, partial], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (child.error || child.status !== 0) {
    rmSync(partial, { force: true });
    throw new BundleError(`xz -${level} ${source} failed: ${(child.error?.message ?? child.stderr).trim()}`);
  }
  renameSync(partial, target);
  return (performance.now() - started) / 1000;
}

function haveXz(): boolean {
  return spawnSync("xz", ["--version"], { stdio: "ignore" }).status === 0;
}

/** `node --version` of a binary that runs here, else null. */
function nodeVersion(node: string): string | null {
  const child = spawnSync(node, ["--version"], { encoding: "utf8", timeout: 30_000 });
  return child.status === 0 ? child.stdout.trim() : null;
}

/** Shared libraries a Linux binary needs beyond glibc and the C++ runtime (a distro Node.js needs libnode, libuv, ...). */
function unusualLibraries(binary: string): string[] {
  const child = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (child.status !== 0) return [];
  const usual = /^(linux-vdso|linux-gate|ld-linux|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libatomic)\.so/;
  return child.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name) => name && !name.startsWith("/") && !usual.test(name));
}

/** The first of `candidates` that exists. */
const firstExisting = (candidates: (string | undefined)[]) => candidates.find((file): file is string => !!file && existsSync(file));

/** The envs benchmark's upstream figures, where bench/envs.ts itself reads them: bench/ in the repository. */
function referenceFile(root: string): string | undefined {
  return firstExisting([join(root, "bench", "upstream-throughput.json")]);
}

/** This machine's Vulkan loader (the real file, not the symlink), if it has one where ld.so looks. */
function hostVulkanLoader(): string | undefined {
  const dirs = [
    `/usr/lib/${process.arch === "x64" ? "x86_64" : "aarch64"}-linux-gnu`,
    "/lib64",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
  ];
  const found = firstExisting(dirs.map((dir) => join(dir, "libvulkan.so.1")));
  return found && realpathSync(found);
}

function folderBytes(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + folderBytes(join(path, name)), 0);
}

export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Where a build is put together, inside the output folder (git-ignored there), then moved up. */
const STAGING_PREFIX = ".partial-";

/** Whether `dir` is absent, empty, or an earlier bundle (safe to replace); a killed build's staging folder does not count. */
function replaceable(dir: string): boolean {
  if (!existsSync(dir)) return true;
  if (!statSync(dir).isDirectory()) return false;
  const names = readdirSync(dir).filter((name) => !name.startsWith(STAGING_PREFIX));
  return names.length === 0 || (names.includes("bundle.json") && names.includes("run.sh"));
}

interface Manifest {
  node?: { source: string; bytes: number; mtimeMs: number; xzLevel: number; compressed: number; version: string | null };
}

function readManifest(dir: string): Manifest {
  try {
    return JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8")) as Manifest;
  } catch {
    return {};
  }
}

export async function buildBundle(options: BundleOptions): Promise<BundleReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const root = options.root ?? ROOT;
  const { platform, out, xzLevel } = options;
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    log(`warning: ${line}`);
  };
  if (!isPlatform(platform))
    throw new BundleInputError(`unknown platform ${JSON.stringify(platform)}: choose one of ${PLATFORMS.join(", ")}`);

  // Everything that can fail cheaply, before the slow parts.
  const webgpuDir = options.webgpuDir ?? join(root, "node_modules", "webgpu");
  if (!existsSync(join(webgpuDir, "package.json")))
    throw new BundleInputError(`the webgpu package is not installed at ${webgpuDir}: run npm ci`);
  const webgpuVersion = (JSON.parse(readFileSync(join(webgpuDir, "package.json"), "utf8")) as { version: string }).version;
  const dawnDir = join(webgpuDir, "dist", platform);
  if (!existsSync(join(dawnDir, "dawn.node"))) {
    const shipped = existsSync(join(webgpuDir, "dist"))
      ? readdirSync(join(webgpuDir, "dist")).filter((name) => existsSync(join(webgpuDir, "dist", name, "dawn.node")))
      : [];
    throw new BundleInputError(
      `no dawn.node for ${platform}: ${join(dawnDir, "dawn.node")} is missing ` +
        `(webgpu ${webgpuVersion} here has ${shipped.length ? shipped.join(", ") : "none"}; reinstall it with npm ci)`,
    );
  }
  if (!replaceable(out))
    throw new BundleInputError(`${out} exists and is not a staq bundle (no bundle.json and run.sh): choose another --out or remove it`);
  const nodeSource = options.node;
  let version: string | null = null;
  if (nodeSource !== null) {
    if (!existsSync(nodeSource) || !statSync(nodeSource).isFile()) throw new BundleInputError(`--node ${nodeSource}: no such file`);
    if (!haveXz())
      throw new BundleInputError("xz is not installed here (Debian: apt-get install xz-utils); install it, or build with --no-node");
    if (platform === hostPlatform()) {
      version = nodeVersion(nodeSource);
      if (version === null)
        throw new BundleInputError(
          `${nodeSource} does not run here (\`${nodeSource} --version\` failed): is it a Node.js binary for ${platform}?`,
        );
      // Any binary that runs answers --version somehow (ls prints its whole copyright): only a
      // "vN.N.N" is Node.js.
      if (!/^v\d+\./.test(version))
        throw new BundleInputError(
          `${nodeSource} is not a Node.js binary (its --version printed no vN.N.N): give --node the path of a node executable`,
        );
      if (Number(/^v(\d+)/.exec(version)?.[1] ?? 0) < 20)
        throw new BundleInputError(`${nodeSource} is Node.js ${version}; the bundled benchmarks need >= 20`);
      if (platform.startsWith("linux")) {
        const extra = unusualLibraries(nodeSource);
        if (extra.length)
          warn(
            `${nodeSource} needs ${extra.join(", ")}, which the target may lack (a distribution's build?); an official build from nodejs.org needs only glibc and libstdc++`,
          );
      }
    }
  }

  const created = !existsSync(out);
  const staging = join(out, `${STAGING_PREFIX}${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  // Not mkdirSync's recursive form: Node 20's loops forever where mkdir answers ENOENT though the
  // parent exists (--out /proc/foo); makeDirectories makes each level and names the failure.
  try {
    await makeDirectories(staging);
  } catch (error) {
    throw new BundleInputError(`--out ${out} cannot be created: ${describeFsError(error)}; choose a folder you can write to`);
  }
  try {
    // 1. The shaders into src/gpu/shader-sources.generated.ts (what `npm run gen` runs).
    const gen = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "embed-shaders.ts")], {
      cwd: root,
      encoding: "utf8",
    });
    if (gen.status !== 0) throw new BundleError(`npm run gen (scripts/embed-shaders.ts) failed:\n${gen.stderr}`);

    // 2. The benchmarks, each one file with the library inside; webgpu stays a package beside them.
    const built = await build({
      absWorkingDir: root,
      entryPoints: BENCHMARKS.map((name) => join(root, "bench", `${name}.ts`)),
      outdir: join(staging, "bench"),
      outExtension: { ".js": ".mjs" },
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      external: ["webgpu"],
      banner: {
        js: `// staq benchmark, bundled by scripts/bundle.ts from the repository's bench/ and src/ (${new Date().toISOString().slice(0, 10)}).`,
      },
      metafile: true,
      logLevel: "silent",
    }).catch((error: { errors?: { text: string }[]; message: string }) => {
      throw new BundleError(`esbuild failed: ${error.errors?.map((e) => e.text).join("\n") ?? error.message}`);
    });
    const packages = Object.values(built.metafile.outputs).flatMap((output) =>
      Object.keys(output.inputs).filter((input) => input.includes("node_modules")),
    );
    if (packages.length) warn(`bundled packages from node_modules: ${[...new Set(packages)].join(", ")}`);
    // envs.mjs runs this with --upstream-src (python3 and upstream's sources needed on the target).
    copyFileSync(join(root, "bench", "upstream-env-throughput.py"), join(staging, "bench", "upstream-env-throughput.py"));
    // envs.mjs's Gymnasium bridge rows start this worker, which the bridge looks for beside the bundled module.
    copyFileSync(join(root, "src", "envs", "gym", "staq_gym_worker.py"), join(staging, "bench", "staq_gym_worker.py"));
    // stack.mjs and train.mjs run these for their PyTorch baselines (python3 with torch needed on the target).
    for (const script of ["pytorch_stack.py", "pytorch_train.py"])
      copyFileSync(join(root, "bench", script), join(staging, "bench", script));

    // 3. Dawn: the package's loader and only this platform's binary.
    const webgpuOut = join(staging, "node_modules", "webgpu");
    mkdirSync(join(webgpuOut, "dist"), { recursive: true });
    for (const name of ["package.json", "index.js", "LICENSE.md"]) copyFileSync(join(webgpuDir, name), join(webgpuOut, name));
    cpSync(dawnDir, join(webgpuOut, "dist", platform), { recursive: true });

    // 4. The envs benchmark's upstream figures, beside envs.mjs, where it reads them.
    const reference = referenceFile(root);
    if (reference) copyFileSync(reference, join(staging, "bench", "upstream-throughput.json"));
    else warn("bench/upstream-throughput.json not found: the envs benchmark will report its ratios to upstream as unknown");

    // 5. Licences of what is inside.
    mkdirSync(join(staging, "licenses"));
    copyFileSync(join(root, "src", "envs", "minatar", "LICENSE"), join(staging, "licenses", "MinAtar-GPL-3.0.txt"));

    // 6. The Vulkan loader, for targets without libvulkan1 (only this machine's, so only for its platform).
    let loader: string | undefined;
    if (platform === hostPlatform() && platform.startsWith("linux")) {
      loader = hostVulkanLoader();
      if (loader) {
        mkdirSync(join(staging, "lib"));
        copyFileSync(loader, join(staging, "lib", "libvulkan.so.1"));
        const copyright = firstExisting(["/usr/share/doc/libvulkan1/copyright"]);
        if (copyright) copyFileSync(copyright, join(staging, "licenses", "vulkan-loader-copyright.txt"));
      } else warn("no libvulkan.so.1 on this machine to include: the target needs its own Vulkan loader (libvulkan1)");
    }

    // 7. Node.js, compressed; an earlier bundle's node.xz of the same binary and level is kept.
    let nodeReport: BundleReport["node"] = null;
    let nodeManifest: Manifest["node"];
    if (nodeSource !== null) {
      const stat = statSync(nodeSource);
      const previous = readManifest(out).node;
      const reusable =
        previous !== undefined &&
        previous.source === nodeSource &&
        previous.bytes === stat.size &&
        previous.mtimeMs === stat.mtimeMs &&
        previous.xzLevel === xzLevel &&
        existsSync(join(out, "node.xz")) &&
        statSync(join(out, "node.xz")).size === previous.compressed;
      let seconds = 0;
      if (reusable) {
        copyFileSync(join(out, "node.xz"), join(staging, "node.xz"));
        log(`node.xz: kept the earlier bundle's (${nodeSource}, xz -${xzLevel})`);
      } else {
        log(`node.xz: compressing ${nodeSource} (${mb(stat.size)}) with xz -${xzLevel} -T0 ...`);
        seconds = compressXz(nodeSource, join(staging, "node.xz"), xzLevel);
      }
      const compressed = statSync(join(staging, "node.xz")).size;
      nodeReport = { version, source: nodeSource, bytes: stat.size, compressed, xzLevel, seconds, reused: reusable };
      nodeManifest = { source: nodeSource, bytes: stat.size, mtimeMs: stat.mtimeMs, xzLevel, compressed, version };
      const license = firstExisting([
        join(dirname(nodeSource), "..", "LICENSE"),
        join(dirname(nodeSource), "..", "share", "doc", "node", "LICENSE"),
        join(dirname(nodeSource), "..", "share", "doc", "nodejs", "LICENSE"),
      ]);
      if (license) copyFileSync(license, join(staging, "licenses", "nodejs-LICENSE.txt"));
    }

    // 8. run.sh and README.txt.
    const template = readFileSync(join(root, "scripts", "bundle-run.sh"), "utf8");
    writeFileSync(join(staging, "run.sh"), template.replaceAll("@PLATFORM@", platform), { mode: 0o755 });
    chmodSync(join(staging, "run.sh"), 0o755);

    const partOf = (name: string) =>
      name === "bench"
        ? "bench"
        : name === "node_modules"
          ? "webgpu"
          : name === "node.xz"
            ? "node"
            : name === "lib"
              ? "vulkan-loader"
              : "other";
    const sizes = () => {
      const parts: Record<string, number> = { bench: 0, webgpu: 0, node: 0, "vulkan-loader": 0, other: 0 };
      for (const name of readdirSync(staging)) parts[partOf(name)] += folderBytes(join(staging, name));
      return parts;
    };
    const staqVersion = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout?.trim() || "unknown";
    const manifest = {
      what: "staq benchmark bundle (scripts/bundle.ts)",
      platform,
      staq: { version: staqVersion, commit },
      webgpu: webgpuVersion,
      date: new Date().toISOString(),
      benchmarks: BENCHMARKS,
      node: nodeManifest,
      vulkanLoader: loader ?? null,
      // Relative to the repository: the manifest travels, and a full path names one machine.
      reference: reference ? relative(root, reference) : null,
    };
    writeFileSync(join(staging, "bundle.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // The README states the sizes, so write it twice: its own few kB hardly change the totals.
    writeFileSync(
      join(staging, "README.txt"),
      readme(platform, manifest, nodeReport, loader !== undefined, reference !== undefined, sizes()),
    );
    const parts = sizes();
    writeFileSync(
      join(staging, "README.txt"),
      readme(platform, manifest, nodeReport, loader !== undefined, reference !== undefined, parts),
    );

    // The earlier bundle (and any killed build's staging folder) out, this one in; results of
    // benchmarks run from the earlier one stay.
    for (const name of readdirSync(out)) {
      if (name === "results") log(`kept ${join(out, "results")} (results of earlier runs; it travels with the bundle)`);
      else if (join(out, name) !== staging) rmSync(join(out, name), { recursive: true, force: true });
    }
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(out, name));
    rmSync(staging, { recursive: true, force: true });
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    return { out, platform, parts, total, node: nodeReport, warnings };
  } catch (error) {
    rmSync(created ? out : staging, { recursive: true, force: true });
    throw error;
  }
}

function readme(
  platform: Platform,
  manifest: { staq: { version: string; commit: string }; webgpu: string; date: string },
  node: BundleReport["node"],
  loader: boolean,
  reference: boolean,
  parts: Record<string, number>,
): string {
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const exe = platform.startsWith("win32") ? "node.exe" : "node";
  return `staq benchmark bundle for ${platform}
staq ${manifest.staq.version} (${manifest.staq.commit}), webgpu (Dawn) ${manifest.webgpu}, built ${manifest.date}
${node ? `Node.js ${node.version ?? "(version unknown: built for another platform)"} included as node.xz` : "No Node.js included (built with --no-node): run.sh uses the node (>= 20) on PATH"}

RUN
  ./run.sh --help                       what run.sh takes
  ./run.sh stack                        the stack evaluation benchmark (--quick grid, the default)
  ./run.sh stack --full                 the whole grid, for a real GPU
  ./run.sh all --full                   every section: stack, train, precompute, tabular, envs
  ./run.sh --icd /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json all --full
  ./run.sh train --help                 a benchmark's own options

  --icd PATH   the Vulkan driver's ICD JSON (on NVIDIA machines e.g. /usr/share/vulkan/icd.d/nvidia_icd.json
               or /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json); run.sh exports it as
               VK_DRIVER_FILES (and VK_ICD_FILENAMES for older loaders). Without it the loader's
               default search applies.
  --vulkan-loader auto|bundled|system
               auto (default): the machine's libvulkan.so.1, else the bundle's lib/libvulkan.so.1

Everything after the benchmark's name goes to the benchmark: --quick (default) | --full, --out DIR,
--help, and its own (stack: --max-eval-seconds S, --no-fast-compare, --fast; all: --only a,b).
Results (JSON and Markdown, named after the adapter or CPU) go to results/ beside run.sh unless you
pass --out DIR. The benchmark's exit code is run.sh's.

Node.js: run.sh unpacks node.xz once to ./${exe} (xz, else python3's lzma module). With no node.xz
it uses the node on PATH. STAQ_NODE=/path/to/node picks another one. If this folder is read-only,
unpack by hand: xz -dc node.xz > /somewhere/node && chmod +x /somewhere/node, then set STAQ_NODE.

If the benchmark says "No WebGPU adapter found": pass --icd with the driver's ICD JSON (ls
/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d), check that the
driver's library (e.g. libGLX_nvidia.so.0) is on the linker path, and see what \`vulkaninfo --summary\`
says if it is installed. The advice it prints about npm and apt-get is for the repository: nothing
here installs anything or needs a network.

CONTENTS
  run.sh, README.txt, bundle.json       the runner, this file, what was bundled
  bench/*.mjs                           ${BENCHMARKS.join(", ")}: each with staq's code and shaders inside (${mb(parts.bench)})
  node_modules/webgpu/                  Dawn's Node bindings, dist/${platform}/ only (${mb(parts.webgpu)})
${node ? `  node.xz                               Node.js, xz -${node.xzLevel} (${mb(parts.node)}; ${mb(node.bytes)} unpacked)\n` : ""}${
    loader
      ? `  lib/libvulkan.so.1                    Vulkan loader, used only where the machine has none (${mb(parts["vulkan-loader"])})\n`
      : ""
  }${reference ? "  bench/upstream-throughput.json        upstream env throughput, for the envs benchmark's ratios\n" : ""}  licenses/                             MinAtar (GPL-3.0; bench/envs.mjs holds the port)${node ? ", Node.js" : ""}${loader ? ", Vulkan loader" : ""}
  total                                 ${mb(total)}${node ? ` (${mb(total - parts.node + node.bytes)} once node is unpacked)` : ""}
`;
}

async function main(): Promise<void> {
  let options: BundleOptions | "help";
  try {
    options = parseBundleArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    console.error(`bundle: ${error.message}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const started = performance.now();
  let report: BundleReport;
  try {
    report = await buildBundle(options);
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    console.error(`bundle: ${error.message}`);
    process.exit(error instanceof BundleInputError ? 2 : 1);
  }
  const near = relative(process.cwd(), report.out);
  const shown = near === "" ? "." : near.startsWith("..") ? report.out : near;
  console.log(`\nwrote ${shown}/ for ${report.platform} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${mb(report.total)}`);
  const labels: Record<string, string> = {
    bench: "bench/*.mjs (staq + benchmarks)",
    webgpu: `node_modules/webgpu (dist/${report.platform} only)`,
    node: "node.xz",
    "vulkan-loader": "lib/libvulkan.so.1",
    other: "run.sh, README.txt, licenses",
  };
  for (const [part, bytes] of Object.entries(report.parts))
    if (bytes > 0) console.log(`  ${labels[part].padEnd(50)} ${mb(bytes).padStart(9)}`);
  if (report.node) {
    const how = report.node.reused ? "kept from the earlier bundle" : `xz -${options.xzLevel} in ${report.node.seconds.toFixed(1)} s`;
    console.log(
      `  Node.js ${report.node.version ?? "(another platform's)"} from ${report.node.source}: ${mb(report.node.bytes)} → ${mb(report.node.compressed)} (${how})`,
    );
  } else console.log("  no Node.js (--no-node): the target needs node >= 20 on PATH");
  console.log(`Run there: ${shown}/run.sh --help`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
