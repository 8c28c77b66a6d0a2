// A Node child running a module script from the repository root with tsx, for what a test must
// see from outside a process: how it exits, what it prints, whether it exits at all.
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../io/stack-fixtures.ts";

/** Runs `script` (an ES module; imports as "./src/…") and waits for it, `timeoutMs` at most. */
export function runNodeScript(script: string, timeoutMs = 120_000) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: timeoutMs,
    cwd: REPO_ROOT,
  });
}
