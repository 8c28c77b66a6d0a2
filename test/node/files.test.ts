// writeFileAtomically (src/node/files.ts): a path that cannot be written is the user's to fix
// (StaqInputError: exit 2 in the CLI); a full disk is the machine's (StaqError: exit 1); neither
// leaves the temporary file or changes what was there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqError, StaqInputError } from "../../src/errors.ts";
import { NODE_FILE_OPERATIONS, fileError, makeDirectories, writeFileAtomically } from "../../src/node/files.ts";
import { tempDir } from "../io/stack-fixtures.ts";

const dir = await tempDir();
const bytes = new TextEncoder().encode("new contents");

test("writing into a missing directory, onto a directory, or under a file is a StaqInputError naming the path", async () => {
  const aDirectory = join(dir, "a-directory");
  await mkdir(aDirectory);
  const aFile = join(dir, "a-file");
  await writeFile(aFile, "x");
  const cases: [string, RegExp][] = [
    [join(dir, "missing", "out.svg"), /no such file or directory \(ENOENT\)/],
    [aDirectory, /it is a directory \(EISDIR\)/],
    [join(aFile, "out.svg"), /a part of the path is a file, not a directory \(ENOTDIR\)/],
  ];
  for (const [path, reason] of cases) {
    await assert.rejects(writeFileAtomically(path, bytes, "the chart"), (error: Error) => {
      assert.ok(error instanceof StaqInputError, `${path}: ${error.name}: ${error.message}`);
      assert.ok(error.message.startsWith(`Could not write the chart to ${path}: `), error.message);
      assert.match(error.message, reason);
      return true;
    });
  }
  assert.deepEqual((await readdir(dir)).sort(), ["a-directory", "a-file"], "no temporary file is left");
  assert.deepEqual(await readdir(aDirectory), []);
});

test("a full disk is a StaqError (not the user's mistake) saying so; the old file stays and no temporary file is left", async () => {
  const path = join(dir, "full.svg");
  await writeFile(path, "old contents");
  const fullDisk = {
    ...NODE_FILE_OPERATIONS,
    async writeFlushed(file: string, content: Uint8Array) {
      await writeFile(file, content.subarray(0, 3), { flag: "wx" });
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    },
  };
  await assert.rejects(writeFileAtomically(path, bytes, "the chart", fullDisk), (error: Error) => {
    assert.ok(error instanceof StaqError && !(error instanceof StaqInputError), `${error.name}: ${error.message}`);
    assert.equal(error.message, `Could not write the chart to ${path}: no space left on the device (ENOSPC)`);
    return true;
  });
  assert.equal(await readFile(path, "utf8"), "old contents");
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.endsWith(".tmp")),
    [],
  );
});

test("fileError: path mistakes are StaqInputErrors, the machine's failures StaqErrors, with the cause kept", () => {
  for (const code of ["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EROFS", "EISDIR"]) {
    const cause = Object.assign(new Error(code), { code });
    const error = fileError("Could not read the MDP file m.json", cause);
    assert.ok(error instanceof StaqInputError, code);
    assert.equal(error.cause, cause);
  }
  for (const code of ["ENOSPC", "EIO", "EMFILE", undefined]) {
    const error = fileError("Could not write x", Object.assign(new Error("boom"), { code }));
    assert.ok(error instanceof StaqError && !(error instanceof StaqInputError), String(code));
  }
});

test("writing to a symbolic link replaces the file it leads to and keeps the link (a chain, a relative one, a dangling one)", async () => {
  const links = join(dir, "links");
  await mkdir(join(links, "real"), { recursive: true });
  const target = join(links, "real", "chart.svg");
  await writeFile(target, "old");
  await symlink("real/chart.svg", join(links, "relative.svg"));
  await symlink(join(links, "relative.svg"), join(links, "chain.svg"));
  for (const link of ["relative.svg", "chain.svg"]) {
    await writeFileAtomically(join(links, link), bytes, "the chart");
    assert.ok((await lstat(join(links, link))).isSymbolicLink(), `${link} is still a link`);
    assert.equal(await readFile(target, "utf8"), "new contents");
    await writeFile(target, "old");
  }
  // A link to a file not yet there: the write creates it where the link leads.
  await symlink("real/later.svg", join(links, "dangling.svg"));
  await writeFileAtomically(join(links, "dangling.svg"), bytes, "the chart");
  assert.ok((await lstat(join(links, "dangling.svg"))).isSymbolicLink());
  assert.equal(await readFile(join(links, "real", "later.svg"), "utf8"), "new contents");
  assert.deepEqual((await readdir(join(links, "real"))).sort(), ["chart.svg", "later.svg"], "no temporary file is left");
});

test("a named pipe, or a link to one, is refused as not a regular file (StaqInputError), and left as it was", async () => {
  const pipes = join(dir, "pipes");
  await mkdir(pipes);
  const fifo = join(pipes, "fifo");
  execFileSync("mkfifo", [fifo]);
  await symlink(fifo, join(pipes, "to-fifo"));
  for (const path of [fifo, join(pipes, "to-fifo")]) {
    await assert.rejects(writeFileAtomically(path, bytes, "the chart"), (error: Error) => {
      assert.ok(error instanceof StaqInputError, `${error.name}: ${error.message}`);
      assert.equal(
        error.message,
        `Could not write the chart to ${path}: it is a named pipe, not a regular file; staq writes the chart by replacing a file, so give a file's path`,
      );
      return true;
    });
  }
  assert.ok((await lstat(fifo)).isFIFO());
  assert.ok((await lstat(join(pipes, "to-fifo"))).isSymbolicLink());
  assert.deepEqual((await readdir(pipes)).sort(), ["fifo", "to-fifo"]);
});

test("a cycle of symbolic links is a StaqInputError saying so", async () => {
  const loop = join(dir, "loop");
  await mkdir(loop);
  await symlink("b", join(loop, "a"));
  await symlink("a", join(loop, "b"));
  await assert.rejects(writeFileAtomically(join(loop, "a"), bytes, "the chart"), (error: Error) => {
    assert.ok(error instanceof StaqInputError, `${error.name}: ${error.message}`);
    assert.match(error.message, /too many symbolic links \(ELOOP\)/);
    return true;
  });
});

test("makeDirectories makes every missing parent, accepts what exists, and fails at once where mkdir -p would loop", async () => {
  const nested = join(dir, "made", "a", "b");
  await makeDirectories(nested);
  assert.ok((await stat(nested)).isDirectory());
  await makeDirectories(nested); // already there
  await writeFile(join(dir, "made", "file"), "x");
  await assert.rejects(makeDirectories(join(dir, "made", "file", "c")), /ENOTDIR/);
  // Node 20's mkdir(…, { recursive: true }) spins forever on /proc/x (mkdir answers ENOENT though
  // /proc exists); made one component at a time, that answer is an error.
  if (process.platform === "linux" && (await stat("/proc").catch(() => undefined))) {
    const started = performance.now();
    await assert.rejects(makeDirectories("/proc/staq-no-such-dir/x"), (error: NodeJS.ErrnoException) => error.code === "ENOENT");
    assert.ok(performance.now() - started < 5000, "refused at once");
  }
});
