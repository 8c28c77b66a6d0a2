#!/bin/sh
# staq benchmark bundle runner: runs one of staq's benchmarks with the Node.js and Dawn in this
# folder, no npm and no network needed. scripts/bundle.ts copies this file into the bundle as
# run.sh (filling in the platform); see the bundle's README.txt.
#
#   ./run.sh [--icd PATH] [--vulkan-loader auto|bundled|system] <benchmark> [benchmark options...]
set -u

BUNDLE_PLATFORM='@PLATFORM@'
BENCHMARKS='all stack train precompute tabular envs'

me=run.sh
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { say "$@"; exit 1; }
# A mistake in run.sh's own command line: exit 2, like the benchmarks' own bad input.
refuse() { say "$@"; exit 2; }

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || die "cannot find the folder run.sh is in"

usage() {
  cat <<EOF
Usage: ./run.sh [--icd PATH] [--vulkan-loader auto|bundled|system] <benchmark> [options...]

Benchmarks:
  all       every section below, each in its own process (--only stack,train,precompute,tabular,envs picks some)
  stack     stack evaluation on the GPU: the one-dispatch kernel against a naive baseline, the CPU
            reference and a GEMM ceiling, over memory, batch, width, inputs, ensemble
  train     the GPU trainer: gradient steps/s and the per-iteration precompute
  precompute the replay buffer's logits per iteration: the incremental update against a full recompute
  tabular   tabular PMD on the CPU
  envs      env steps/s of the built-in environments on the CPU, against upstream's figures

Before the benchmark's name:
  --icd PATH     the Vulkan driver's ICD JSON, e.g. /usr/share/vulkan/icd.d/nvidia_icd.json or
                 /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; exported as VK_DRIVER_FILES
                 (and VK_ICD_FILENAMES, for loaders before 1.3.207)
  --vulkan-loader auto|bundled|system
                 auto (the default): this machine's libvulkan.so.1, else the bundle's lib/ copy
  -h, --help     this text

After it, everything goes to the benchmark: --quick (the default) | --full (for a real GPU),
--out DIR, --help (its own options). Results go to $here/results unless --out is given.
Environment: STAQ_NODE=/path/to/node runs that Node.js (>= 20) instead of the bundled one.
This bundle is for $BUNDLE_PLATFORM.
EOF
}

icd=''
icd_given=no
loader_mode=auto
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --icd) [ $# -ge 2 ] || refuse "--icd needs a path to an ICD JSON file"; icd=$2; icd_given=yes; shift 2 ;;
    --icd=*) icd=${1#--icd=}; icd_given=yes; shift ;;
    --vulkan-loader) [ $# -ge 2 ] || refuse "--vulkan-loader needs auto, bundled or system"; loader_mode=$2; shift 2 ;;
    --vulkan-loader=*) loader_mode=${1#--vulkan-loader=}; shift ;;
    --) shift; break ;;
    -*) say "unknown option $1 (options of the benchmark go after its name)"; usage >&2; exit 2 ;;
    *) break ;;
  esac
done

if [ $# -eq 0 ]; then
  say "name a benchmark: one of $(echo "$BENCHMARKS" | sed 's/ /, /g')"
  usage >&2
  exit 2
fi
benchmark=$1
shift
case " $BENCHMARKS " in
  *" $benchmark "*) ;;
  *) say "unknown benchmark '$benchmark': choose one of $(echo "$BENCHMARKS" | sed 's/ /, /g') (./run.sh --help)"; exit 2 ;;
esac
case $loader_mode in
  auto | bundled | system) ;;
  *) say "--vulkan-loader takes auto, bundled or system, not '$loader_mode'"; exit 2 ;;
esac
# An empty --icd= would otherwise mean "no ICD" without a word: the run would use another driver.
[ $icd_given = no ] || [ -n "$icd" ] || refuse "--icd needs a path to an ICD JSON file; got an empty one"
if [ -n "$icd" ]; then
  [ -f "$icd" ] || refuse "--icd $icd: no such file (an ICD JSON such as /usr/share/vulkan/icd.d/nvidia_icd.json; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d)"
  case $icd in /*) ;; *) icd="$PWD/$icd" ;; esac
fi

# --- The platform: dawn.node and node only run on the one they were built for. -----------------
host_platform() {
  os=$(uname -s 2>/dev/null)
  cpu=$(uname -m 2>/dev/null)
  case $cpu in x86_64 | amd64) cpu=x64 ;; aarch64 | arm64) cpu=arm64 ;; esac
  case $os in
    Linux) echo "linux-$cpu" ;;
    Darwin) echo darwin-universal ;;
    MINGW* | MSYS* | CYGWIN*) echo "win32-$cpu" ;;
    *) echo "$os-$cpu" ;;
  esac
}
case $BUNDLE_PLATFORM in
  @*@) die "this is the template of run.sh (scripts/bundle-run.sh): npm run bundle writes bundle/run.sh from it" ;;
esac
host=$(host_platform)
if [ "$host" != "$BUNDLE_PLATFORM" ]; then
  die "this bundle is for $BUNDLE_PLATFORM, but this machine is $host: build one for $host (npm run bundle -- --platform $host; see its --help)"
fi
if [ ! -f "$here/node_modules/webgpu/dist/$BUNDLE_PLATFORM/dawn.node" ]; then
  die "$here/node_modules/webgpu/dist/$BUNDLE_PLATFORM/dawn.node is missing: the bundle is incomplete, copy it again"
fi

# --- Node.js: STAQ_NODE, else ./node (unpacked from node.xz on first use), else node on PATH. ----
case $BUNDLE_PLATFORM in win32-*) exe=node.exe ;; *) exe=node ;; esac

unpack_node() {
  partial="$here/$exe.partial.$$"
  if command -v xz >/dev/null 2>&1; then
    say "unpacking node.xz to ./$exe (once) with xz"
    xz -dc -- "$here/node.xz" >"$partial" || { rm -f "$partial"; die "xz -dc node.xz failed (is the bundle complete?)"; }
  elif command -v python3 >/dev/null 2>&1; then
    say "unpacking node.xz to ./$exe (once) with python3's lzma (no xz here)"
    python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as source, open(sys.argv[2], "wb") as target:
    shutil.copyfileobj(source, target, 1 << 20)' "$here/node.xz" "$partial" || { rm -f "$partial"; die "python3 could not unpack node.xz (is the bundle complete?)"; }
  else
    die "node.xz needs xz (Debian/Ubuntu: xz-utils; RHEL: xz) or python3 to unpack, and this machine has neither. Unpack it on another machine (xz -dc node.xz > $exe && chmod +x $exe) and copy $exe here, beside run.sh"
  fi
  chmod +x "$partial" && mv -f "$partial" "$here/$exe" || { rm -f "$partial"; die "cannot write $here/$exe"; }
}

if [ -n "${STAQ_NODE:-}" ]; then
  node=$STAQ_NODE
elif [ -x "$here/$exe" ]; then
  node=$here/$exe
elif [ -f "$here/node.xz" ]; then
  [ -w "$here" ] || die "$here is read-only, so node.xz cannot be unpacked beside run.sh: unpack it elsewhere (xz -dc node.xz > DIR/node && chmod +x DIR/node) and set STAQ_NODE=DIR/node"
  unpack_node
  node=$here/$exe
elif command -v node >/dev/null 2>&1; then
  node=$(command -v node)
  say "this bundle has no node.xz (built with --no-node): using $node"
else
  die "this bundle has no Node.js (built with --no-node) and there is no node on PATH: install Node.js >= 20, set STAQ_NODE=/path/to/node, or build the bundle without --no-node"
fi
version=$("$node" --version 2>/dev/null) || die "$node does not run on this machine (\`$node --version\` failed)"
major=$(echo "$version" | sed 's/^v\([0-9]*\).*/\1/')
if [ -n "$major" ] && [ "$major" -lt 20 ] 2>/dev/null; then
  die "$node is Node.js $version; the benchmarks need >= 20 (set STAQ_NODE to another, or rebuild the bundle with its own node)"
fi

# --- Vulkan (Linux): the driver's ICD, and the loader libvulkan.so.1 that Dawn opens. ------------
if [ -n "$icd" ]; then
  VK_DRIVER_FILES=$icd
  VK_ICD_FILENAMES=$icd
  export VK_DRIVER_FILES VK_ICD_FILENAMES
  say "Vulkan driver: $icd"
fi

system_vulkan_loader() {
  old_ifs=$IFS
  IFS=:
  for dir in ${LD_LIBRARY_PATH:-} /lib64 /usr/lib64 /lib /usr/lib /usr/local/lib /lib/*-linux-gnu /usr/lib/*-linux-gnu; do
    if [ -n "$dir" ] && [ -e "$dir/libvulkan.so.1" ]; then IFS=$old_ifs; return 0; fi
  done
  IFS=$old_ifs
  for ldconfig in ldconfig /sbin/ldconfig; do
    if "$ldconfig" -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then return 0; fi
  done
  return 1
}

case $BUNDLE_PLATFORM in
  linux-*)
    use_bundled=no
    if [ "$loader_mode" = bundled ]; then
      use_bundled=yes
    elif [ "$loader_mode" = auto ] && ! system_vulkan_loader; then
      if [ -f "$here/lib/libvulkan.so.1" ]; then
        say "this machine has no Vulkan loader (libvulkan.so.1): using the bundle's lib/libvulkan.so.1"
        use_bundled=yes
      else
        say "warning: this machine has no Vulkan loader (libvulkan.so.1; Debian/Ubuntu package libvulkan1), so Dawn will find no GPU"
      fi
    fi
    if [ $use_bundled = yes ]; then
      [ -f "$here/lib/libvulkan.so.1" ] || die "--vulkan-loader bundled: this bundle has no lib/libvulkan.so.1"
      LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      export LD_LIBRARY_PATH
    fi
    ;;
esac

# --- Run it: results beside run.sh unless --out is given (envs.mjs reads the upstream figures,
# bench/upstream-throughput.json, beside itself). ------------------------------------------------
out_given=no
for arg in "$@"; do
  case $arg in --out | --out=*) out_given=yes ;; esac
done

if [ $out_given = yes ]; then
  "$node" "$here/bench/$benchmark.mjs" "$@"
else
  "$node" "$here/bench/$benchmark.mjs" --out "$here/results" "$@"
fi
status=$?
# Exit 1 is a failure of the run (2 is a benchmark's bad input, which says what to fix itself); the
# hint is worded for the one failure run.sh can help with. Its stderr is left alone: a filter
# between the benchmark and the terminal would hold back its progress lines.
if [ $status -eq 1 ]; then
  say "the $benchmark benchmark failed (exit $status)."
  say "If it says it found no WebGPU adapter: pass --icd with the GPU driver's ICD JSON, make sure the driver's own library (e.g. libGLX_nvidia.so.0) is on the linker path, and try vulkaninfo --summary if installed. Ignore its advice to run npm or apt-get: that is for the repository."
fi
exit $status
