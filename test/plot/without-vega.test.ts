// vega and vega-lite are optional peer dependencies: without them, drawing fails with
// PlottingUnavailableError saying what to install, and the curve at the end of `staq train`
// (writeRunCurve) becomes a note instead of a failure. The packages are hidden from a child
// process by a resolve hook (test/helpers/hide-modules.ts); test/package/install.test.ts checks
// the same in a fresh project where they are really absent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./plot-outcomes.ts", import.meta.url));
const HIDE = fileURLToPath(new URL("../helpers/hide-modules.ts", import.meta.url));
/** STAQ_TEST_HIDE (hide-modules.ts) for vega and vega-lite not installed. */
const NOT_INSTALLED = "vega,vega-lite";
/** And for an install of them that is found but broken: a file inside vega is missing. */
const BROKEN_FILE = "/somewhere/node_modules/vega/build/vega.module.js";
const BROKEN = `vega=${BROKEN_FILE},vega-lite=${BROKEN_FILE}`;

interface Outcome {
  value?: any;
  error?: string;
  unavailable?: boolean;
  staq?: boolean;
}
interface Outcomes {
  dir: string;
  ensurePlotting: Outcome;
  render: Outcome;
  curve: Outcome;
  files: string[];
  noEvaluations: Outcome;
}

/** What plot-outcomes.ts prints, with the packages hidden as `hide` says (STAQ_TEST_HIDE), or not at all. */
function outcomes(hide: string | undefined): Outcomes {
  const args = ["--import", "tsx", ...(hide !== undefined ? ["--import", HIDE] : []), SCRIPT];
  const env = hide !== undefined ? { ...process.env, STAQ_TEST_HIDE: hide } : process.env;
  const child = spawnSync(process.execPath, args, { encoding: "utf8", env, timeout: 120_000 });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as Outcomes;
}

const INSTALL = /install them next to staq with `npm install vega@6 vega-lite@6`/;

test("without vega, drawing throws PlottingUnavailableError saying what to install", () => {
  const { ensurePlotting, render } = outcomes(NOT_INSTALLED);
  for (const failure of [ensurePlotting, render]) {
    assert.equal(failure.unavailable, true, JSON.stringify(failure));
    assert.match(
      failure.error!,
      /^drawing charts needs the packages vega and vega-lite, which staq leaves optional and which are not installed; /,
    );
    assert.match(failure.error!, INSTALL);
  }
});

test("without vega, a run's curve is a note saying how to draw it later, not a failure", () => {
  const { dir, curve, files, noEvaluations } = outcomes(NOT_INSTALLED);
  assert.equal(curve.value?.written, false, JSON.stringify(curve));
  assert.match(curve.value.reason, /^no curve: drawing charts needs/);
  assert.match(curve.value.reason, INSTALL);
  assert.ok(curve.value.reason.endsWith(`then draw it with \`staq plot ${dir} --out ${dir}/curve.svg\``), curve.value.reason);
  assert.deepEqual(files.sort(), ["config.json", "eval.jsonl"], "nothing was written");
  // Without evaluations there is nothing to draw, with or without vega.
  assert.deepEqual(noEvaluations.value, { written: false, reason: "no evaluations, so no curve" });
});

test("a vega that is installed but broken is a load failure, not 'not installed', and the run's curve reports it", () => {
  const { render, curve } = outcomes(BROKEN);
  for (const failure of [render, curve]) {
    assert.equal(failure.unavailable, false, JSON.stringify(failure));
    assert.equal(failure.staq, true);
    assert.match(
      failure.error!,
      /^could not load vega \/ vega-lite \(Cannot find module '.*vega\.module\.js'.*\); reinstall them with `npm install vega@6 vega-lite@6`$/,
    );
  }
});

test("with vega, the run's curve is written", () => {
  const { dir, ensurePlotting, render, curve, files } = outcomes(undefined);
  assert.equal(ensurePlotting.error, undefined, "ensurePlotting resolves");
  assert.match(render.value, /^<svg/);
  assert.deepEqual(curve.value, { written: true, path: `${dir}/curve.svg` });
  assert.ok(files.includes("curve.svg"));
});
