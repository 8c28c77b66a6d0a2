// The upstream reference data the parity tests replay: test/fixtures/reference/, in the repository,
// so that a clone anywhere has it (its README.md says what each file is and how it was recorded;
// the format is in docs/formats.md, “Reference data”). No other place is
// searched: these tests are the proof of parity, and a missing file must fail them, not skip them.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The folder holding the reference files. */
export const REFERENCE_DIR = join(repoRoot, "test", "fixtures", "reference");

export function referenceDir(): string {
  if (!existsSync(join(REFERENCE_DIR, "numpy-randomstate.json"))) {
    throw new Error(`the upstream reference data is missing from ${REFERENCE_DIR}; it is part of the repository (restore it from git)`);
  }
  return REFERENCE_DIR;
}

/** A reference file's parsed JSON. */
export function readReference(name: string): unknown {
  return JSON.parse(readFileSync(join(referenceDir(), name), "utf8"));
}
