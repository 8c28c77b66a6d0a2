/**
 * Dawn's known harmless start-up warnings, kept off a command's stderr.
 *
 * On Vulkan, Dawn clamps two adapter limits and says so on the first `requestAdapter()` of a
 * process:
 *
 *     Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *     Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *
 * staq binds no dynamic buffers, so they say nothing about its work. Dawn writes them from native
 * code (its `dawn::WarningLog`) straight to file descriptor 2, inside the synchronous part of that
 * call: neither `console` nor `process.stderr` sees them. So `captureStderrDuring` points fd 2 at
 * an unlinked temporary file for the length of that one synchronous call, then puts stderr back
 * and writes what was captured, minus exactly these lines, to it: any other output (a driver's
 * complaint, a different warning) still reaches stderr, in its order.
 *
 * Node cannot dup2, so fd 2 is closed and the lowest free descriptor, 2, reopened; a thread opening
 * a file at that instant could take it. That is why only the CLI turns this on (see
 * `filterDawnStartupWarnings` in create-gpu.ts), where nothing else runs while a device is made,
 * and why it is only done on Linux (where Dawn uses Vulkan), with stderr a pipe or a terminal
 * (reopened through /proc/self/fd: a regular file reopened would get an offset of its own and
 * overwrite what stdout wrote to it), and 0 and 1 open.
 */
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The lines dropped: Dawn's notes on limits it clamps for its dynamic-offset allocator. */
export const KNOWN_DAWN_WARNINGS: readonly RegExp[] = [
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
];

/** `text` without the lines KNOWN_DAWN_WARNINGS match; every other line is kept as it was. */
export function withoutKnownDawnWarnings(text: string): string {
  return text
    .split(/(?<=\n)/)
    .filter((line) => !KNOWN_DAWN_WARNINGS.some((known) => known.test(line.replace(/\r?\n$/, ""))))
    .join("");
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

type StderrKind = "pipe" | "terminal";

/**
 * A second descriptor for the pipe or terminal on fd 2 (/proc/self/fd reopens it), or undefined
 * when stderr is anything else or this is not Linux.
 */
function reopenStderr(): { fd: number; kind: StderrKind } | undefined {
  if (process.platform !== "linux" || !isOpen(0) || !isOpen(1)) return undefined;
  let kind: StderrKind;
  try {
    const stat = fstatSync(2);
    if (stat.isFIFO()) kind = "pipe";
    else if (stat.isCharacterDevice()) kind = "terminal";
    else return undefined;
  } catch {
    return undefined;
  }
  const fd = reopen("/proc/self/fd/2", kind);
  return fd === undefined ? undefined : { fd, kind };
}

/**
 * Opens `path` (a /proc/self/fd link to stderr's pipe or terminal) for writing. A pipe is opened
 * non-blocking: opening one whose reader is gone would otherwise wait forever (now it fails).
 */
function reopen(path: string, kind: StderrKind): number | undefined {
  const flags = constants.O_WRONLY | constants.O_NOCTTY | (kind === "pipe" ? constants.O_NONBLOCK : 0);
  try {
    return openSync(path, flags);
  } catch {
    return undefined;
  }
}

/**
 * Runs `call` (synchronous) with whatever is written to fd 2 meanwhile captured, then writes the
 * capture through `filter` to stderr. Where that cannot be done safely it just runs `call`.
 */
export function captureStderrDuring<T>(call: () => T, filter: (text: string) => string = withoutKnownDawnWarnings): T {
  const saved = reopenStderr();
  if (saved === undefined) return call();
  const capturePath = join(tmpdir(), `staq-stderr-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  let capture: number | undefined;
  try {
    closeSync(2);
    capture = openSync(capturePath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch {
    capture = undefined;
  }
  if (capture !== 2) {
    // Something else took fd 2 (or nothing could be opened): put stderr back and run unfiltered.
    if (capture !== undefined) closeSync(capture);
    restore(saved);
    try {
      unlinkSync(capturePath);
    } catch {
      // never created
    }
    return call();
  }
  unlinkSync(capturePath); // fd 2 keeps it open; nothing is left behind, even after a crash
  try {
    return call();
  } finally {
    const size = fstatSync(2).size;
    const bytes = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(2, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    closeSync(2);
    restore(saved);
    const kept = filter(bytes.subarray(0, read).toString("utf8"));
    if (kept.length > 0) {
      try {
        writeSync(2, kept);
      } catch {
        // stderr is gone (a closed pipe): nothing left to tell
      }
    }
  }
}

/** Puts stderr back on fd 2 (the lowest free descriptor) and closes the saved descriptor. */
function restore(saved: { fd: number; kind: StderrKind }): void {
  let fd = reopen(`/proc/self/fd/${saved.fd}`, saved.kind);
  // fd 2 must never stay free: the next file opened would get it, and stderr's output with it.
  if (fd === undefined) fd = openSync("/dev/null", constants.O_WRONLY);
  // Anything but 2 means another thread took fd 2 meanwhile; that descriptor is not ours to close.
  if (fd !== 2) closeSync(fd);
  closeSync(saved.fd);
}
