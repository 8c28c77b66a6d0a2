/**
 * Files on disk (Node): atomic writes, and file-system errors in words and in the right class.
 */
import { lstat, mkdir, open, readlink, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { StaqError, StaqInputError } from "../errors.ts";

export function describeFsError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    ENOTDIR: "a part of the path is a file, not a directory",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "the file system is read-only",
    EISDIR: "it is a directory",
    ENAMETOOLONG: "the name is too long",
    ELOOP: "too many symbolic links",
    ENOSPC: "no space left on the device",
    EDQUOT: "the disk quota is used up",
    EIO: "an input/output error of the device",
    EMFILE: "too many open files",
  };
  return code && reasons[code] ? `${reasons[code]} (${code})` : message;
}

/**
 * Error codes that mean the path given cannot be used as it is (missing, not a directory, not
 * allowed, a directory where a file is meant): the user can fix the path, so the CLI exits 2.
 * Everything else (a full disk, an I/O error, too many open files) is the machine's trouble at
 * that moment, with a correct path: exit 1, like any other failure.
 */
const PATH_MISTAKES = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EROFS", "EISDIR", "ENAMETOOLONG", "ELOOP"]);

/** True when `error` is a file-system error about the path itself (see PATH_MISTAKES). */
export function isPathMistake(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && PATH_MISTAKES.has(code);
}

/**
 * "`what`: the reason in words", as a StaqInputError when the path is at fault (exit 2 in the CLI),
 * else a StaqError (exit 1); the file-system error is kept as the cause.
 */
export function fileError(what: string, error: unknown): StaqError {
  const Class = isPathMistake(error) ? StaqInputError : StaqError;
  return new Class(`${what}: ${describeFsError(error)}`, { cause: error });
}

/**
 * The device and inode of what `path` names (undefined when nothing is there): the same for two
 * names of one file (a hard link, a symlink) and kept by a rename, so it tells one file from another.
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info === undefined ? undefined : `${info.dev}:${info.ino}`;
}

/** True when something exists at `path` (a file or a directory). */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The file-system steps of the atomic writes, one call each, so a test can make any one of them
 * fail (or stop half-way, as a kill would) and check what is left on disk.
 */
export interface FileOperations {
  /** Creates the directory `path`, and its parents when missing. */
  mkdir(path: string): Promise<void>;
  /** Writes a new file (failing if it exists) and flushes it to disk. */
  writeFlushed(path: string, bytes: Uint8Array): Promise<void>;
  /** Flushes the entries of the directory `path` (files created, renamed in or out) to disk. */
  syncDirectory(path: string): Promise<void>;
  /** Renames `from` to `to` (atomic within a file system; replaces an empty directory or a file). */
  rename(from: string, to: string): Promise<void>;
  /** Removes the file or directory tree `path`; nothing when there is none. */
  remove(path: string): Promise<void>;
}

/** Writes a new file (failing if it exists) and flushes it to disk before returning. */
export async function writeFlushed(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * fsync of a directory, which makes the names created or renamed in it survive a power cut.
 * Windows cannot open a directory for it (and NTFS journals its metadata), so there it is skipped.
 */
async function syncDirectory(path: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** stat's codes for nothing at the path: ENOENT, or ENOTDIR (a file where a directory on the way should be). */
const NOT_THERE: readonly string[] = ["ENOENT", "ENOTDIR"];

/**
 * What stat says of `path`, or undefined when nothing is there: a stat error with one of the codes
 * `notThere` (by default ENOENT and ENOTDIR). Any other error (a name too long, a loop of links, a
 * forbidden directory on the way) is thrown.
 */
export async function statIfThere(path: string, notThere: readonly string[] = NOT_THERE): Promise<FileKindInfo | undefined> {
  return stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== undefined && notThere.includes(error.code)) return undefined;
    throw error;
  });
}

/**
 * The nearest of `path` and the directories above it where something exists (statIfThere with
 * `notThere`), with what stat says of it, and `missing`: the paths below it, `path` first. `found`
 * is undefined when nothing exists even at the root (then the root is the last of `missing`).
 */
export async function nearestExisting(
  path: string,
  notThere: readonly string[] = NOT_THERE,
): Promise<{ found?: { path: string; info: FileKindInfo }; missing: string[] }> {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    const info = await statIfThere(current, notThere);
    if (info !== undefined) return { found: { path: current, info }, missing };
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) return { missing };
    current = parent;
  }
}

/**
 * A name in `directory` for something made there only to learn whether it can be made (then
 * removed): permission bits alone say nothing of a read-only mount or /proc, and root passes every
 * access() check. The name says what it was, should the removal fail.
 */
export function writeCheckPath(directory: string): string {
  return join(directory, `.staq-write-check.${process.pid}.${randomBytes(4).toString("hex")}`);
}

/**
 * `mkdir -p`: creates `path` and any missing parents. Not `mkdir(path, { recursive: true })`:
 * Node 20's recursive mkdir loops forever where mkdir answers ENOENT though the parent exists
 * (`/proc/x`: a run directory there hung `staq train` and `staq compare`, spinning a core). Here
 * each missing component is made on its own, so such an answer is an error naming the path.
 * Returns the first directory it made (as mkdir's recursive form does), or undefined.
 */
export async function makeDirectories(path: string): Promise<string | undefined> {
  // Only ENOENT is a missing component: ENOTDIR (a file on the way) fails here, at the stat.
  const { missing } = await nearestExisting(path, ["ENOENT"]);
  let first: string | undefined;
  for (const directory of missing.reverse()) {
    const made = await mkdir(directory).then(
      () => true,
      async (error: NodeJS.ErrnoException) => {
        // Made meanwhile by another process (two sweep workers, say): fine if it is a directory.
        if (error.code === "EEXIST" && (await stat(directory)).isDirectory()) return false;
        throw error;
      },
    );
    if (made) first ??= directory;
  }
  return first;
}

export const NODE_FILE_OPERATIONS: FileOperations = {
  mkdir: async (path) => {
    await makeDirectories(path);
  },
  writeFlushed,
  syncDirectory,
  rename,
  remove: (path) => rm(path, { recursive: true, force: true }),
};

/**
 * What specialFileKind (and statIfThere's callers) read of an fs.Stats, written out so that staq's
 * published declarations name no Node type (a consumer without @types/node type-checks them).
 */
interface FileKindInfo {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

/** What a file that is neither a regular file nor a directory is, in words ("a named pipe"). */
export function specialFileKind(info: FileKindInfo): string | undefined {
  if (info.isFile() || info.isDirectory()) return undefined;
  if (info.isFIFO()) return "a named pipe";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Refuses (StaqInputError) a `path` that leads, through any links, to a pipe, a device or a socket
 * (/dev/stdout, /dev/null): an atomic write renames a new file over the path, which would replace
 * the device's name rather than write to it.
 */
export async function refuseSpecialFile(path: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  const kind = info && specialFileKind(info);
  if (kind !== undefined)
    throw new StaqInputError(
      `Could not write ${what} to ${path}: it is ${kind}, not a regular file; staq writes ${what} by replacing a file, so give a file's path`,
    );
}

/** Symbolic links followed before giving up, as the kernel's limit (ELOOP). */
const MAX_LINKS = 40;

/**
 * The file a write to `path` should replace: `path` itself, or, when it is a symbolic link, the
 * file the link leads to (followed by hand, so a link to a file not yet there leads to where it
 * will be), so that the write keeps the link instead of renaming a file over it.
 */
export async function linkTarget(path: string): Promise<string> {
  let current = resolve(path);
  for (let hops = 0; hops < MAX_LINKS; hops++) {
    const info = await lstat(current).catch(() => undefined);
    if (!info?.isSymbolicLink()) return current;
    current = resolve(dirname(current), await readlink(current));
  }
  throw Object.assign(new Error(`more than ${MAX_LINKS} symbolic links`), { code: "ELOOP" });
}

/**
 * Writes `bytes` to a temporary file beside `path`, flushed to disk, then renames it over `path`:
 * a rename within a directory is atomic, so a crash or a full disk leaves the old file or the new
 * one, never half of one (the temporary file is removed on failure). A symbolic link is kept: the
 * file it leads to is replaced. A pipe or a device is refused. `what` names the contents in
 * the error ("the stack"). A path that cannot be written (no such directory, a directory, no
 * permission) is a StaqInputError; a full disk or an I/O error a StaqError (see `fileError`).
 */
export async function writeFileAtomically(
  path: string,
  bytes: Uint8Array,
  what: string,
  operations: FileOperations = NODE_FILE_OPERATIONS,
): Promise<void> {
  await refuseSpecialFile(path, what);
  const target = await linkTarget(path).catch((error: unknown) => {
    throw fileError(`Could not write ${what} to ${path}`, error);
  });
  // Beside the target, not the link: a rename is atomic only within one file system.
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await operations.writeFlushed(temporary, bytes);
    await operations.rename(temporary, target);
  } catch (error) {
    await operations.remove(temporary).catch(() => undefined);
    throw fileError(`Could not write ${what} to ${path}`, error);
  }
}
