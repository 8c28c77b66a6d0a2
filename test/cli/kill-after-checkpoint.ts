// Preloaded (`node --import`) into a `staq train` child by test/cli/train.test.ts: kills the process
// with SIGKILL (no handler runs, nothing is flushed) the instant its first checkpoint directory has
// been renamed into place. That is the worst moment for a crash: the checkpoint says "after this
// iteration", so everything the iteration logs must already be in the run's files.
//
// The checkpoint is written by src/node/checkpoint-directory.ts with `rename` from node:fs/promises;
// replacing it on the module object and syncing the ES module bindings reaches that import.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";

const rename = fs.promises.rename;
fs.promises.rename = async (from, to) => {
  await rename(from, to);
  if (String(from).endsWith(".new") && basename(String(to)) === "checkpoint") process.kill(process.pid, "SIGKILL");
};
syncBuiltinESMExports();
