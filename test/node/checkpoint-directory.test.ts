// The checkpoint directory's replacement (src/node/checkpoint-directory.ts) under a kill at every
// step (issue 16, item 7): whichever file-system operation of a save is the last to run, and even
// if it only half ran, a complete checkpoint (the previous one or the new one, never a mix) is
// readable afterwards, and the next save completes and cleans up. A second kill during that next
// save, from every state the first kill can leave, keeps it so. A full disk leaves no partial
// `NAME.new` behind and keeps the previous checkpoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqError, StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { readCheckpointDirectory, writeDirectoryAtomically } from "../../src/node/checkpoint-directory.ts";
import { NODE_FILE_OPERATIONS, type FileOperations } from "../../src/node/files.ts";
import { tempDir } from "../io/stack-fixtures.ts";

const dir = await tempDir();
const bytes = (text: string) => new TextEncoder().encode(text);

/**
 * Successive checkpoints: each has a file the others lack and a shared name with other contents,
 * so a mix of two (files of one beside files of another) is told apart from each whole one.
 */
const OLDER = { "state.json": bytes('{"v": 0}'), "older.bin": bytes("0".repeat(100)) };
const OLD = { "state.json": bytes('{"v": 1}'), "old.bin": bytes("1".repeat(300)), "shared.bin": bytes("one") };
const NEW = { "state.json": bytes('{"v": 2}'), "new.bin": bytes("2".repeat(500)), "shared.bin": bytes("two") };
const NEWER = { "state.json": bytes('{"v": 3}'), "newer.bin": bytes("3".repeat(200)), "shared.bin": bytes("three") };
const VERSIONS = { OLDER, OLD, NEW, NEWER } as const;
type Version = keyof typeof VERSIONS;

/** Which whole checkpoint `files` is, or a failure saying it is a mix. */
function versionOf(files: Record<string, Uint8Array>): Version {
  const found = (Object.keys(VERSIONS) as Version[]).find((name) => {
    const expected = VERSIONS[name];
    return (
      Object.keys(files).length === Object.keys(expected).length &&
      Object.entries(expected).every(([file, content]) => files[file] !== undefined && Buffer.from(files[file]).equals(content))
    );
  });
  assert.ok(
    found,
    `a mix of checkpoints: ${JSON.stringify(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new TextDecoder().decode(v).slice(0, 12)])))}`,
  );
  return found;
}

/** The version readCheckpointDirectory reads at `path`, or undefined when it finds no checkpoint. */
async function readable(path: string): Promise<Version | undefined> {
  try {
    return versionOf(await readCheckpointDirectory(path));
  } catch (error) {
    if (error instanceof StaqFormatError && /no checkpoint at/.test(error.message)) return undefined;
    throw error;
  }
}

/** A directory holding `files`, as a save would leave it. */
async function writeTree(path: string, files: Record<string, Uint8Array>): Promise<void> {
  await mkdir(path, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(path, name), content);
}

/** Removes one file of the tree at `path` (a recursive removal cut short). */
async function removeOneEntry(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) return rm(path);
  const [first] = await readdir(path);
  if (first !== undefined) await rm(join(path, first), { recursive: true });
}

/**
 * The real operations, except that call number `killAt` (0-based) is cut short the way a kill
 * during it would leave things: a removal takes away one file of the tree, a write leaves half
 * the file, others do nothing. Every later call fails too, as in a dead process: nothing runs
 * after the kill, not even the cleanup. Flushes to disk are skipped (a kill does not undo them,
 * and the loops below run thousands of saves); the final save of each case uses the real ones.
 */
function killedAt(killAt: number): FileOperations & { calls: number } {
  const killed = () => Object.assign(new Error("killed"), { code: "EKILLED" });
  const operations = {
    calls: 0,
    async step<T>(partly: () => Promise<unknown>, whole: () => Promise<T>): Promise<T> {
      const index = operations.calls++;
      if (index === killAt) await partly();
      if (index >= killAt) throw killed();
      return whole();
    },
    mkdir: (path: string) =>
      operations.step(
        async () => undefined,
        () => NODE_FILE_OPERATIONS.mkdir(path),
      ),
    writeFlushed: (path: string, content: Uint8Array) =>
      operations.step(
        () => writeFile(path, content.subarray(0, content.length >> 1), { flag: "wx" }),
        () => writeFile(path, content, { flag: "wx" }),
      ),
    syncDirectory: () =>
      operations.step(
        async () => undefined,
        async () => undefined,
      ),
    rename: (from: string, to: string) =>
      operations.step(
        async () => undefined,
        () => NODE_FILE_OPERATIONS.rename(from, to),
      ),
    remove: (path: string) =>
      operations.step(
        () => removeOneEntry(path),
        () => NODE_FILE_OPERATIONS.remove(path),
      ),
  };
  return operations;
}

/** How many file operations a save makes from the state `setUp` leaves. */
async function stepsOfSave(path: string, setUp: (path: string) => Promise<void>): Promise<number> {
  await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
  await setUp(path);
  const counting = killedAt(Infinity);
  await writeDirectoryAtomically(path, NEW, counting);
  return counting.calls;
}

/** Starting states: none, a checkpoint, and what earlier kills leave (NAME.new may be partial). */
const STARTS: Record<string, { setUp: (path: string) => Promise<void>; before: Version | undefined }> = {
  "no checkpoint": { setUp: async () => undefined, before: undefined },
  "NAME only": { setUp: (path) => writeTree(path, OLD), before: "OLD" },
  "NAME, NAME.old and a partial NAME.new": {
    setUp: async (path) => {
      await writeTree(path, OLD);
      await writeTree(`${path}.old`, OLDER);
      await writeTree(`${path}.new`, { "state.json": bytes('{"v": 9') });
    },
    before: "OLD",
  },
  "NAME.old and NAME.new only": {
    setUp: async (path) => {
      await writeTree(`${path}.old`, OLD);
      await writeTree(`${path}.new`, { "state.json": bytes('{"v": 9}'), "junk.bin": bytes("x") });
    },
    before: "OLD",
  },
};

/** Asserts that what is readable is one of `allowed` (undefined: no checkpoint), whole. */
async function assertLoadable(path: string, allowed: readonly (Version | undefined)[], where: string): Promise<Version | undefined> {
  const version = await readable(path);
  assert.ok(
    allowed.includes(version),
    `${where}: read ${version ?? "no checkpoint"}, expected one of ${allowed.map((v) => v ?? "none").join(", ")}`,
  );
  return version;
}

/**
 * A save of NEWER completes from whatever is on disk, and leaves only NAME. With `real`, through
 * the real operations, flushes included (once per test: thousands of fsyncs would take minutes).
 */
async function assertNextSaveCompletes(path: string, where: string, real = false): Promise<void> {
  await writeDirectoryAtomically(path, NEWER, real ? NODE_FILE_OPERATIONS : killedAt(Infinity));
  assert.equal(await readable(path), "NEWER", where);
  const left = (await readdir(dir)).sort();
  assert.deepEqual(left, ["checkpoint"], `${where}: left behind ${left.join(", ")}`);
}

for (const [name, { setUp, before }] of Object.entries(STARTS)) {
  test(`a save killed at any step, from ${name}, leaves a complete checkpoint; the next save completes`, async () => {
    const path = join(dir, "checkpoint");
    const steps = await stepsOfSave(path, setUp);
    assert.ok(steps >= 8, `a save makes ${steps} file operations`);
    for (let k = 0; k <= steps; k++) {
      const where = `${name}, killed at step ${k} of ${steps}`;
      await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
      await setUp(path);
      const save = writeDirectoryAtomically(path, NEW, killedAt(k));
      if (k < steps) await assert.rejects(save, StaqError, where);
      else await save;
      // Never nothing where there was a checkpoint; the new one only whole.
      await assertLoadable(path, k < steps ? [before, "NEW"] : ["NEW"], where);
      await assertNextSaveCompletes(path, where, k === 0);
    }
  });
}

test("two kills in a row (the second during the save after the first) still leave a complete checkpoint", async () => {
  const path = join(dir, "checkpoint");
  for (const [name, { setUp, before }] of Object.entries(STARTS)) {
    const first = await stepsOfSave(path, setUp);
    for (let k = 0; k < first; k++) {
      for (let j = 0; ; j++) {
        const where = `${name}, killed at step ${k}, then at step ${j} of the next save`;
        await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
        await setUp(path);
        await writeDirectoryAtomically(path, NEW, killedAt(k)).catch(() => undefined);
        const second = killedAt(j);
        const finished = await writeDirectoryAtomically(path, NEWER, second).then(
          () => true,
          () => false,
        );
        await assertLoadable(path, finished ? ["NEWER"] : [before, "NEW", "NEWER"], where);
        await assertNextSaveCompletes(path, where, k === 0 && j === 0);
        if (finished) break;
      }
    }
  }
});

test("a full disk while writing NAME.new: no partial NAME.new is left, the previous checkpoint stays, and the error says so", async () => {
  await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
  const path = join(dir, "checkpoint");
  await writeDirectoryAtomically(path, OLD);
  let writes = 0;
  const fullDisk: FileOperations = {
    ...NODE_FILE_OPERATIONS,
    async writeFlushed(file, content) {
      // The second file gets half-way, as a write that runs out of space does.
      if (++writes === 2) {
        await writeFile(file, content.subarray(0, content.length >> 1), { flag: "wx" });
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      return NODE_FILE_OPERATIONS.writeFlushed(file, content);
    },
  };
  await assert.rejects(writeDirectoryAtomically(path, NEW, fullDisk), (error: Error) => {
    // The environment's failure, not the user's mistake: exit 1 in the CLI.
    assert.ok(error instanceof StaqError && !(error instanceof StaqInputError), `${error.name}: ${error.message}`);
    assert.ok(error.message.includes(path), error.message);
    assert.match(error.message, /no space left/);
    assert.match(error.message, /previous checkpoint .* kept|kept .*previous checkpoint/);
    return true;
  });
  assert.deepEqual((await readdir(dir)).sort(), ["checkpoint"], "no partial checkpoint.new is left");
  assert.equal(await readable(path), "OLD");
});

test("reading a file, or a directory holding a directory, says what a checkpoint is", async () => {
  await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
  const file = join(dir, "notes.txt");
  await writeFile(file, "not a checkpoint");
  await assert.rejects(readCheckpointDirectory(file), (error: Error) => {
    assert.ok(error instanceof StaqInputError, `${error.name}: ${error.message}`);
    assert.match(error.message, /notes\.txt is a file, not a checkpoint directory/);
    assert.doesNotMatch(error.message, /ENOTDIR|scandir/);
    return true;
  });
  const holding = join(dir, "holding");
  await writeTree(holding, OLD);
  await mkdir(join(holding, "inner"));
  await assert.rejects(readCheckpointDirectory(holding), (error: Error) => {
    assert.ok(error instanceof StaqFormatError, `${error.name}: ${error.message}`);
    assert.match(error.message, /holding.inner is a directory; a checkpoint directory holds only files/);
    assert.doesNotMatch(error.message, /EISDIR|illegal operation/);
    return true;
  });
});

test('a save creates the directories above the checkpoint, as agent.save("runs/x/checkpoint") needs', async () => {
  await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir));
  const path = join(dir, "runs", "cartpole", "checkpoint");
  await writeDirectoryAtomically(path, NEW);
  assert.equal(await readable(path), "NEW");
  assert.deepEqual(await readdir(join(dir, "runs", "cartpole")), ["checkpoint"]);
});

test("a reader running beside saves (staq eval during staq train) always reads one whole checkpoint", async () => {
  const path = join(dir, "concurrent", "checkpoint");
  await writeDirectoryAtomically(path, OLD);
  const versions: Version[] = ["NEW", "NEWER", "OLD"];
  let saving = true;
  // The saves rename the directory under the reader: without a retry a read that chose NAME/
  // meets its files gone (ENOENT) once the save has renamed it to NAME.old/.
  const saves = (async () => {
    for (let k = 0; k < 60; k++) await writeDirectoryAtomically(path, VERSIONS[versions[k % versions.length]]);
    saving = false;
  })();
  let reads = 0;
  while (saving) {
    versionOf(await readCheckpointDirectory(path));
    reads++;
  }
  await saves;
  assert.ok(reads > 10, `only ${reads} reads overlapped the saves`);
});
