// writeFileAtomically (src/node/files.ts): a path that cannot be written is the user's to fix
// (StaqInputError: exit 2 in the CLI); a full disk is the machine's (StaqError: exit 1); neither
// leaves the temporary file or changes what was there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqError, StaqInputError } from "../../src/errors.ts";
import { NODE_FILE_OPERATIONS, fileError, writeFileAtomically } from "../../src/node/files.ts";
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
