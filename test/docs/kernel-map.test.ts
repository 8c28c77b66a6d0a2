/**
 * docs/kernels.md is the map a newcomer follows from a shader to its driver, float64 twin and
 * tests. These checks keep it from drifting: every shader in shaders/ has a row, every row names a
 * shader that exists, and every file a row names exists.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The kernel table's rows: the names in the first cell, and every repository path in the row. */
function kernelRows(): { names: string[]; paths: string[]; line: string }[] {
  const text = readFileSync(join(root, "docs", "kernels.md"), "utf8");
  const start = text.indexOf("| Shader |");
  assert.ok(start >= 0, "docs/kernels.md has no kernel table (a header row starting '| Shader |')");
  const lines = text.slice(start).split("\n");
  const rows = [];
  // Skip the header and its separator; the table ends at the first line that is not a row.
  for (const line of lines.slice(2)) {
    if (!line.startsWith("|")) break;
    const [first] = line.split(" | ");
    const names = [...first.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]);
    const paths = [...line.matchAll(/`((?:src|test|shaders)\/[^`]+\.(?:ts|wgsl))`/g)].map((m) => m[1]);
    rows.push({ names, paths, line });
  }
  return rows;
}

test("docs/kernels.md has a row for every shader in shaders/, and no row for a shader that is gone", () => {
  const shaders = readdirSync(join(root, "shaders"))
    .filter((file) => file.endsWith(".wgsl"))
    .map((file) => file.slice(0, -".wgsl".length))
    .sort();
  const documented = kernelRows()
    .flatMap((row) => row.names)
    .sort();
  assert.ok(shaders.length > 10, `found only ${shaders.length} shaders`);
  assert.deepEqual(
    shaders.filter((name) => !documented.includes(name)),
    [],
    "shaders without a row in docs/kernels.md (add: what it computes, driver, float64 twin, tests)",
  );
  assert.deepEqual(
    documented.filter((name) => !shaders.includes(name)),
    [],
    "rows in docs/kernels.md naming no shader in shaders/",
  );
});

test("every file the kernel table names exists", () => {
  const rows = kernelRows();
  const paths = rows.flatMap((row) => row.paths);
  assert.ok(paths.length > 30, `the table names only ${paths.length} files`);
  assert.deepEqual(
    paths.filter((path) => !existsSync(join(root, path))),
    [],
    "files named in docs/kernels.md that do not exist",
  );
});
