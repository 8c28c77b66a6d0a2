/**
 * The lock that gives a sweep point to one worker at a time, on any file system that has hard
 * links (local disks, NFS, Lustre, GPFS), across processes and hosts, with no lock server.
 *
 * A point's run directory holds `sweep-claims/`, one record per claim, named by its generation:
 * `1.json`, `2.json`, ... Each record is created once, with its contents, by `link(2)` (which fails
 * when the name exists), and never removed; only its creator rewrites it, once, to mark it released.
 * The point is held when the newest record is unreleased and its worker alive (see `workerAlive`).
 *
 * A worker claims the point by creating the generation after the newest it saw. Creating `g`
 * needs `g - 1` to have existed (it was the newest), and records are never removed, so the
 * generations are 1..newest with no gaps, and a worker whose view is stale finds its `g` taken and
 * backs off. Two workers never hold the point together: the holder's record is the newest, and the
 * only way past it is to create the next one, which a worker does only after reading that record
 * and finding it released or its worker dead. No step depends on timing. (Remove `sweep-claims/`
 * by hand only while no worker runs.)
 *
 * Why not one lock file, removed when its worker is found dead: two workers that find the same
 * dead lock can both remove it and both take the point.
 *
 * A worker that died (killed, its node lost) leaves its record unreleased; it is ignored once its
 * worker is dead: on this host its pid is gone; from a Slurm task, squeue no longer lists the task.
 * The records left are also the point's history: who ran it, when, and whether it ended cleanly.
 */
import { link, readdir, readFile, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { StaqInputError } from "../errors.ts";
import { describeFsError, makeDirectories, writeFileAtomically, writeFlushed } from "../node/files.ts";
import { queuedTaskLines } from "./slurm-backend.ts";

/** The directory of a point's claim records. */
export const CLAIMS_DIRECTORY = "sweep-claims";

export interface PointLock {
  pid: number;
  host: string;
  /** ISO time the worker claimed the point. */
  started: string;
  /** Slurm's job and array task, when a Slurm task holds it. */
  slurmJob?: string;
  /** ISO time the worker let the point go; absent while it has it (or if it died). */
  released?: string;
}

/** A claim this process won: what `releaseLock` needs. */
export interface HeldLock {
  dir: string;
  generation: number;
  lock: PointLock;
}

/** Whether the worker that wrote a record is still running. */
export type WorkerJudge = (lock: PointLock) => Promise<boolean>;

/** What a worker sees before it claims: the newest generation (0: none) and its record. */
export interface LockView {
  generation: number;
  /** The newest record, when its worker holds the point (unreleased and alive). */
  holder?: PointLock;
}

const claimsDir = (dir: string) => join(dir, CLAIMS_DIRECTORY);

function lockError(dir: string, error: unknown): StaqInputError {
  // A path too long for the file system (a long "out") has nothing to do with hard links: say what does.
  if ((error as NodeJS.ErrnoException).code === "ENAMETOOLONG")
    return new StaqInputError(
      `Could not claim the sweep point in ${dir}: ${describeFsError(error)}: the path is longer than the file system takes; give the sweep a shorter "out" (or --out)`,
      { cause: error },
    );
  return new StaqInputError(
    `Could not claim the sweep point in ${dir}: ${describeFsError(error)}. The sweep's lock needs ${join(dir, CLAIMS_DIRECTORY)} to be a directory it can write, on a file system with hard links (link(2)): move what is in its way, or put the sweep's "out" on such a file system`,
    { cause: error },
  );
}
const recordPath = (dir: string, generation: number) => join(claimsDir(dir), `${generation}.json`);

/** Whether a process with this pid exists on this host (EPERM: it exists but is not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether a record's worker is alive: on this host, its pid; from a Slurm task on another host,
 * whether squeue still lists the task (asked only then; when squeue cannot say, alive); a process
 * on another host outside Slurm cannot be checked, so it counts as alive.
 */
export async function workerAlive(lock: PointLock): Promise<boolean> {
  if (lock.host === hostname()) return processAlive(lock.pid);
  if (lock.slurmJob === undefined) return true;
  const lines = await queuedTaskLines();
  return lines?.some((line) => line.split("|")[0].trim() === lock.slurmJob) ?? true;
}

/** The generations of a point's claim records, oldest first (none when it was never claimed). */
export async function claimGenerations(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(claimsDir(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw lockError(dir, error);
  }
  return names
    .map((name) => /^([1-9]\d*)\.json$/.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
}

/** A record, or undefined when it cannot be read as one (written by something else than staq). */
async function readRecord(dir: string, generation: number): Promise<PointLock | undefined> {
  try {
    const lock = JSON.parse(await readFile(recordPath(dir, generation), "utf8")) as PointLock;
    return typeof lock?.pid === "number" && typeof lock.host === "string" ? lock : undefined;
  } catch {
    return undefined;
  }
}

export async function viewLock(dir: string, judge: WorkerJudge = workerAlive): Promise<LockView> {
  const generation = (await claimGenerations(dir)).at(-1) ?? 0;
  if (generation === 0) return { generation };
  const lock = await readRecord(dir, generation);
  const held = lock !== undefined && lock.released === undefined && (await judge(lock));
  return held ? { generation, holder: lock } : { generation };
}

/** The lock of a point, if a live worker holds it. */
export async function readLock(dir: string, judge: WorkerJudge = workerAlive): Promise<PointLock | undefined> {
  return (await viewLock(dir, judge)).holder;
}

/**
 * Claims the point for `lock`'s worker after `view` showed it free: the record of the next
 * generation is created whole, or not at all when another worker created it first (then the point
 * is that worker's, and this returns undefined).
 */
export async function claimLock(dir: string, view: LockView, lock: PointLock): Promise<HeldLock | undefined> {
  if (view.holder) return undefined;
  const generation = view.generation + 1;
  const temporary = join(claimsDir(dir), `.${generation}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await makeDirectories(claimsDir(dir));
    await writeFlushed(temporary, new TextEncoder().encode(`${JSON.stringify(lock)}\n`));
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw lockError(dir, error);
  }
  try {
    await link(temporary, recordPath(dir, generation));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw lockError(dir, error);
  } finally {
    await rm(temporary, { force: true });
  }
  return { dir, generation, lock };
}

/** Takes the point's lock for this process: undefined when another live worker holds it. */
export async function takeLock(dir: string, slurmJob?: string): Promise<HeldLock | undefined> {
  const lock: PointLock = { pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(slurmJob ? { slurmJob } : {}) };
  return claimLock(dir, await viewLock(dir), lock);
}

/** Marks this worker's record released (a rename over it: whole, and only its creator writes it). */
export async function releaseLock(held: HeldLock): Promise<void> {
  const record: PointLock = { ...held.lock, released: new Date().toISOString() };
  await writeFileAtomically(
    recordPath(held.dir, held.generation),
    new TextEncoder().encode(`${JSON.stringify(record)}\n`),
    "the sweep's claim record",
  );
}
