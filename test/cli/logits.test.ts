// `staq logits` and friends, run as child processes from the TypeScript sources (no build needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { accessSync, constants } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { testGpu } from "../helpers/gpu.ts";
import { formatLogits, parseStatesJson, shortestFloat32 } from "../../src/cli/logits-command.ts";
import { encodeSafetensors, decodeSafetensors } from "../../src/io/safetensors.ts";
import { readStackFile } from "../../src/io/stack-file.ts";
import { saveStack } from "../../src/node/stack-files.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { ONE_HIDDEN, REPO_ROOT, ownStderrLines, pushedStack, randomStates, runStaq, statesJson, tempDir } from "../io/stack-fixtures.ts";

const gpu = await testGpu();
const dir = await tempDir();
const BATCH = 6;

// One stack file for every case: 2 members, a ring of 3 that wrapped (5 pushes).
const stackPath = join(dir, "stack.safetensors");
{
  const { stack } = pushedStack(gpu, { memory: 3, ensemble: 2, eta: 20, tau: 0.5, pushes: 5, seed: 23 });
  await saveStack(stack, stackPath);
  stack.destroy();
}
const states = randomStates(BATCH, ONE_HIDDEN.inputs, 29);
const statesPath = join(dir, "states.json");
await writeFile(statesPath, statesJson(states, ONE_HIDDEN.inputs));

/** The one line a failing command prints (Dawn's own start-up warnings aside). */
function failureLine(stderr: string): string {
  const lines = ownStderrLines(stderr);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace without STAQ_DEBUG=1");
  return lines[0];
}

test("staq logits prints the stack's logits within the float32 bound of the float64 reference", async () => {
  const reference = stackLogitsReference(readStackFile(await readFile(stackPath)), states, BATCH);
  // Both configurations in parallel: they are separate processes, each with its own Dawn instance.
  const runs = await Promise.all([
    runStaq(["logits", "--stack", stackPath, "--states", statesPath]),
    runStaq(["logits", "--fast", "--states", statesPath, "--stack", stackPath]),
  ]);
  for (const result of runs) {
    assert.equal(result.code, 0, result.stderr);
    // stdout is exactly one JSON document (Dawn's warnings go to stderr).
    const { logits } = JSON.parse(result.stdout) as { logits: number[][] };
    assert.equal(logits.length, BATCH);
    logits.forEach((row, b) => {
      assert.equal(row.length, ONE_HIDDEN.outputs);
      row.forEach((x, a) => {
        const k = b * ONE_HIDDEN.outputs + a;
        // The printed decimal is the shortest one that reads back as the kernel's float32.
        const value = Math.fround(x);
        assert.ok(
          Math.abs(value - reference.logits[k]) <= reference.bound[k],
          `logit [${b}][${a}]: ${value} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
        );
      });
    });
  }
});

// A conv stack file: a 5×6×2 image, 5 filters, a 2×3 kernel, then 7 and 3 (test/io/conv-stack-file.test.ts's).
const CONV: MlpSpec = {
  inputs: 60,
  conv: { inputShape: [5, 6, 2], filters: 5, kernel: [2, 3], stride: 1, padding: 0 },
  hidden: [7],
  outputs: 3,
};

test("staq logits evaluates a conv stack file within the float32 bound; bad conv files and states exit 2 naming the problem", async () => {
  const convPath = join(dir, "conv.safetensors");
  {
    const { stack } = pushedStack(gpu, { mlp: CONV, memory: 3, ensemble: 2, eta: 20, tau: 0.5, pushes: 4, seed: 47 });
    await saveStack(stack, convPath);
    stack.destroy();
  }
  const convStates = randomStates(3, CONV.inputs, 53);
  const convStatesPath = join(dir, "conv-states.json");
  await writeFile(convStatesPath, statesJson(convStates, CONV.inputs));
  // The same file without "input_shape", as a program writing only the tensors would.
  const withoutShape = join(dir, "conv-without-shape.safetensors");
  {
    const { tensors, metadata } = decodeSafetensors(await readFile(convPath));
    delete metadata.input_shape;
    await writeFile(withoutShape, encodeSafetensors(tensors, metadata));
  }
  const [good, missingShape, wrongWidth] = await Promise.all([
    runStaq(["logits", "--stack", convPath, "--states", convStatesPath]),
    runStaq(["logits", "--stack", withoutShape, "--states", convStatesPath]),
    runStaq(["logits", "--stack", convPath, "--states", statesPath]),
  ]);
  assert.equal(good.code, 0, good.stderr);
  const reference = stackLogitsReference(readStackFile(await readFile(convPath)), convStates, 3);
  const { logits } = JSON.parse(good.stdout) as { logits: number[][] };
  assert.equal(logits.length, 3);
  logits.flat().forEach((x, k) => {
    assert.ok(
      Math.abs(Math.fround(x) - reference.logits[k]) <= reference.bound[k],
      `logit ${k}: ${x} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
    );
  });
  for (const result of [missingShape, wrongWidth]) {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
  }
  assert.match(
    failureLine(missingShape.stderr),
    /^staq logits: .*conv-without-shape\.safetensors: __metadata__ has no "input_shape": "stack\.layers\.0\.weight" has shape \[2, 3, 5, 2, 2, 3\], a conv layer/,
  );
  assert.match(
    failureLine(wrongWidth.stderr),
    /states\.json: each state has 4 values, but the stack's MLP in .*conv\.safetensors takes 60 inputs \(a 5×6×2 image, flattened \[H\]\[W\]\[C\] row-major\)/,
  );
});

test("help: staq --help, staq help CMD and CMD --help print usage and exit 0", async () => {
  const [top, helpLogits, logitsHelp, gpuHelp, dashLogits, helpHelp] = await Promise.all([
    runStaq(["--help"]),
    runStaq(["help", "logits"]),
    runStaq(["logits", "--help"]),
    runStaq(["gpu", "-h"]),
    runStaq(["-h", "logits"]),
    runStaq(["help", "help"]),
  ]);
  for (const result of [top, helpLogits, logitsHelp, gpuHelp, dashLogits, helpHelp]) assert.equal(result.code, 0, result.stderr);
  // -h CMD is help CMD (it printed the general usage), and help is a command of its own.
  assert.equal(dashLogits.stdout, helpLogits.stdout);
  assert.equal(helpHelp.stdout, top.stdout);
  assert.match(top.stdout, /^Usage: staq <command>/);
  assert.match(top.stdout, /^  logits /m);
  assert.match(top.stdout, /^  gpu /m);
  assert.match(helpLogits.stdout, /^Usage: staq logits --stack FILE\.safetensors --states FILE\.json/);
  assert.match(helpLogits.stdout, /conv layer \(stack\.layers\.0\.weight of shape \[E, N, out, in, kh, kw\]/);
  assert.equal(logitsHelp.stdout, helpLogits.stdout);
  assert.match(gpuHelp.stdout, /--install-driver/);
});

test("in a clone, npx staq runs the built CLI: the build leaves dist/cli/main.js executable, so npx works after every rebuild", () => {
  // npm makes a package's own bin executable only when it first links it; the build rewrites dist/.
  accessSync(join(REPO_ROOT, "dist", "cli", "main.js"), constants.X_OK);
  const npx = spawnSync("npx", ["--no", "staq", "help"], { cwd: REPO_ROOT, encoding: "utf8" });
  assert.equal(npx.status, 0, npx.stderr);
  assert.match(npx.stdout, /^Usage: staq <command>/);
});

test("usage errors exit 2 with the message and the usage", async () => {
  const [none, unknownCommand, unknownOption, missingStack, missingValue, helpUnknown, helpExtra] = await Promise.all([
    runStaq([]),
    runStaq(["frobnicate"]),
    runStaq(["logits", "--stack", stackPath, "--states", statesPath, "--batch", "3"]),
    runStaq(["logits", "--states", statesPath]),
    runStaq(["logits", "--stack"]),
    runStaq(["help", "frobnicate"]),
    runStaq(["help", "gpu", "extra"]),
  ]);
  assert.match(helpExtra.stderr, /^staq: help takes one command name; got "gpu" "extra"/);
  for (const result of [none, unknownCommand, unknownOption, missingStack, missingValue, helpUnknown, helpExtra]) {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /Usage: staq/);
  }
  assert.match(unknownCommand.stderr, /unknown command "frobnicate"/);
  assert.match(unknownOption.stderr, /^staq logits: Unknown option '--batch'/);
  assert.match(missingStack.stderr, /^staq logits: logits needs --stack FILE\.safetensors/);
  assert.match(missingValue.stderr, /^staq logits: Option '--stack <value>' argument missing/);
  assert.match(helpUnknown.stderr, /no command named "frobnicate"/);
});

test("bad input files exit 2 and unreadable ones exit 1, with one line naming the file and the problem", async () => {
  const malformed = join(dir, "malformed.json");
  await writeFile(malformed, '{"states": [[1, 2, 3, 4],');
  const ragged = join(dir, "ragged.json");
  await writeFile(ragged, '{"states": [[1, 2, 3, 4], [1, 2]]}');
  const narrow = join(dir, "narrow.json");
  await writeFile(narrow, '{"states": [[1, 2, 3]]}');
  const nanFile = join(dir, "nan.safetensors");
  {
    const { tensors, metadata } = decodeSafetensors(await readFile(stackPath));
    tensors.get("stack.coefficients")!.data[4] = NaN;
    await writeFile(nanFile, encodeSafetensors(tensors, metadata));
  }
  const missing = join(dir, "absent.safetensors");
  const [missingStack, missingStates, badJson, raggedStates, wrongWidth, nanCoefficient] = await Promise.all([
    runStaq(["logits", "--stack", missing, "--states", statesPath]),
    runStaq(["logits", "--stack", stackPath, "--states", join(dir, "absent.json")]),
    runStaq(["logits", "--stack", stackPath, "--states", malformed]),
    runStaq(["logits", "--stack", stackPath, "--states", ragged]),
    runStaq(["logits", "--stack", stackPath, "--states", narrow]),
    runStaq(["logits", "--stack", nanFile, "--states", statesPath]),
  ]);
  // A path that names no file is the user's to fix, like a malformed one: exit 2 for all.
  for (const result of [missingStack, missingStates, badJson, raggedStates, wrongWidth, nanCoefficient])
    assert.equal(result.code, 2, result.stderr);
  for (const result of [missingStack, missingStates, badJson, raggedStates, wrongWidth, nanCoefficient]) assert.equal(result.stdout, "");
  assert.match(
    failureLine(missingStack.stderr),
    new RegExp(`^staq logits: Could not read the stack file ${missing}: no such file or directory`),
  );
  assert.match(failureLine(missingStates.stderr), /^staq logits: Could not read the states file .*absent\.json: no such file/);
  assert.match(failureLine(badJson.stderr), new RegExp(`^staq logits: ${malformed} is not valid JSON`));
  assert.match(failureLine(raggedStates.stderr), /states\[1\] has 2 values but states\[0\] has 4/);
  assert.match(failureLine(wrongWidth.stderr), /narrow\.json: each state has 3 values, but the stack's MLP in .* takes 4 inputs/);
  assert.match(
    failureLine(nanCoefficient.stderr),
    /nan\.safetensors: tensor "stack\.coefficients" \[1, 1\] is NaN; coefficients must be finite/,
  );
});

test("a states file with a field staq does not read, or a bare NaN, exits 2 before any GPU work", async () => {
  const extra = join(dir, "extra-field.json");
  await writeFile(extra, '{"states": [[1, 2, 3, 4]], "junk": 1}');
  const nan = join(dir, "bare-nan.json");
  await writeFile(nan, '{"states": [[NaN, 2, 3, 4]]}');
  const [extraRun, nanRun] = await Promise.all([
    runStaq(["logits", "--stack", stackPath, "--states", extra]),
    runStaq(["logits", "--stack", stackPath, "--states", nan]),
  ]);
  for (const result of [extraRun, nanRun]) {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
  }
  assert.match(failureLine(extraRun.stderr), /^staq logits: .*extra-field\.json: unexpected field "junk"; expected \{"states"/);
  assert.match(failureLine(nanRun.stderr), /^staq logits: .*bare-nan\.json: states\[0\]\[0\] is NaN; states must be finite numbers/);
});

test("STAQ_DEBUG=1 adds the stack trace", async () => {
  const result = await runStaq(["logits", "--stack", stackPath, "--states", join(dir, "absent.json")], { ...process.env, STAQ_DEBUG: "1" });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Could not read the states file/);
  assert.match(result.stderr, /^\s+at /m);
});

// ---- the pieces, in process ----

test("shortestFloat32 prints the shortest text that reads back as the same float32", () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const text = shortestFloat32(x);
      assert.ok(Object.is(Math.fround(JSON.parse(text)), x), `${text} for ${x}`);
      // No shorter precision would do (so no float64 noise like 0.10000000149011612).
      const digits = text.replace(/^-/, "").replace(/e.*$/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "").length;
      if (digits > 1) assert.notEqual(Math.fround(Number(x.toPrecision(digits - 1))), x, `${text} for ${x} is not the shortest`);
    }),
  );
  assert.equal(shortestFloat32(Math.fround(0.1)), "0.1");
  assert.equal(shortestFloat32(-0), "-0");
});

test("parseStatesJson and formatLogits", () => {
  const parsed = parseStatesJson('{"states": [[0.5, -1], [2, 1e-3]]}', "s.json");
  assert.equal(parsed.batch, 2);
  assert.equal(parsed.width, 2);
  assert.deepEqual(parsed.states, Float32Array.of(0.5, -1, 2, 1e-3));
  assert.deepEqual(parseStatesJson('{"states": []}', "s.json"), { states: new Float32Array(0), batch: 0, width: 0 });
  assert.throws(() => parseStatesJson("{}", "s.json"), /s\.json has no "states" array/);
  assert.throws(() => parseStatesJson('{"states": {"0": [1]}}', "s.json"), /s\.json has no "states" array/);
  // A misspelt field is named (it was ignored, then "no states" hid why).
  assert.throws(
    () => parseStatesJson('{"state": [[1]]}', "s.json"),
    /^StaqFormatError: s\.json: unexpected field "state"; expected \{"states"/,
  );
  // Fields staq does not read, and "states" twice (JSON.parse keeps the last), are refused.
  assert.throws(
    () => parseStatesJson('{"states": [[1, 2, 3]], "junk": 1}', "s.json"),
    /^StaqFormatError: s\.json: unexpected field "junk"; expected \{"states": \[\[s0, s1, \.\.\.\], \.\.\.\]\}, with no other fields/,
  );
  assert.throws(
    () => parseStatesJson('{"states": [[1, 2, 3]], "states": [[4, 5, 6], [7, 8, 9]]}', "s.json"),
    /^StaqFormatError: s\.json has the field "states" twice; JSON\.parse would keep only the last/,
  );
  // Bare NaN and Infinity (JSON has neither; Python writes them): named at the entry, not "Unexpected token 'N'".
  assert.throws(
    () => parseStatesJson('{"states": [[1, NaN, 2]]}', "s.json"),
    /^StaqInputError: s\.json: states\[0\]\[1\] is NaN; states must be finite numbers \(JSON has no NaN or Infinity\)$/,
  );
  assert.throws(
    () => parseStatesJson('{"states": [[1], [-Infinity]]}', "s.json"),
    /s\.json: states\[1\]\[0\] is -Infinity; states must be finite/,
  );
  assert.throws(() => parseStatesJson('{"states": [[1, "2"]]}', "s.json"), /s\.json: states\[0\]\[1\] is "2"; expected a number/);
  assert.throws(() => parseStatesJson('{"states": [[1e39]]}', "s.json"), /states\[0\]\[0\] = 1e\+39 is beyond the float32 range/);
  assert.throws(() => parseStatesJson('{"states": [[]]}', "s.json"), /states\[0\] is empty/);
  assert.equal(formatLogits(Float32Array.of(0.5, Math.fround(0.1), -3, 0), 2, 2), '{"logits": [[0.5, 0.1], [-3, 0]]}\n');
  assert.throws(() => formatLogits(Float32Array.of(0, Infinity), 1, 2), /logit \[0\]\[1\] is Infinity/);
});
