// `staq sweep` refuses what is wrong in its flags or its file before it writes anything (exit 2),
// naming what was given: run as a user runs it, as a child process.
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runStaq, tempDir } from "../io/stack-fixtures.ts";

async function sweepFile(json: object): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  const file = join(dir, "sweep.json");
  await writeFile(file, JSON.stringify(json));
  return { dir, file };
}

test('--out "" names the flag and its empty value, not the file\'s "out"; exit 2, nothing written', async () => {
  const { dir, file } = await sweepFile({ out: "o", base: { env: "CartPole-v1", preset: "quick" }, grid: { seed: [0, 1] } });
  const result = await runStaq(["sweep", file, "--out", ""]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--out must be the sweep's output directory; got ""/);
  assert.doesNotMatch(result.stderr, /got "o"/);
  assert.deepEqual(await readdir(dir), ["sweep.json"]);
});

test("a point name over 255 bytes fails --dry-run and --status, exit 2, naming the point", async () => {
  const keys = ["lr", "adamEps", "gamma", "eta", "tauStart", "tauEnd", "epsilon", "epsilonStart", "rewardScale", "smoothnessSigma"];
  const grid = Object.fromEntries(keys.map((key, i) => [key, [0.0123456789012345 + i / 1000]]));
  const { dir, file } = await sweepFile({ out: "o", base: { env: "CartPole-v1", preset: "quick" }, grid });
  for (const flag of ["--dry-run", "--status"]) {
    const result = await runStaq(["sweep", file, flag]);
    assert.equal(result.code, 2, `${flag}: ${result.stderr}`);
    assert.match(result.stderr, /point lr=0\.0123456789012345,.*: its directory name is \d+ bytes long, more than the 255/);
  }
  assert.deepEqual(await readdir(dir), ["sweep.json"]);
});
