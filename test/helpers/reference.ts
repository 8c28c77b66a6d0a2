// Where the upstream reference data lives (DESIGN §4.2): $STAQ_REFERENCE_DIR if set, else
// shared/reference beside the repository (where the project's machines and CI keep it). Missing
// data fails loudly: these tests are the proof of parity and must not be skipped.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export function referenceDir(): string {
  const candidates = [process.env.STAQ_REFERENCE_DIR, join(repoRoot, "..", "shared", "reference")].filter((c): c is string => !!c);
  const found = candidates.find((dir) => existsSync(join(dir, "numpy-randomstate.json")));
  if (!found) throw new Error(`the upstream reference data was not found in ${candidates.join(", ")}; set STAQ_REFERENCE_DIR to the folder holding numpy-randomstate.json and the env JSON files`);
  return found;
}

/** A reference file's parsed JSON. */
export function readReference(name: string): unknown {
  return JSON.parse(readFileSync(join(referenceDir(), name), "utf8"));
}
