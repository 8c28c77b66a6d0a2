// Exiting at once (a second Ctrl-C in `staq train`) while Dawn builds pipelines on its worker
// threads: process.exit() runs exit(), whose static destructors pull SPIR-V validation from under
// those threads, and the process then dies by SIGSEGV instead of exiting with its code (measured
// on lavapipe: about 4 in 10 such exits crashed). exitWhenCompiled waits for the compiles first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runNodeScript } from "../helpers/run-node.ts";

/**
 * A child that starts eight compiles of a long shader and, 20 ms after the first pipeline build
 * began (when builds are on Dawn's worker threads), exits with code 130 through exitWhenCompiled.
 */
const EXIT_WHILE_COMPILING = `
  import { createGpu } from "./src/node/create-gpu.ts";
  import { exitWhenCompiled } from "./src/node/exit-when-compiled.ts";
  const gpu = await createGpu();
  const build = gpu.device.createComputePipelineAsync.bind(gpu.device);
  let exiting = false;
  gpu.device.createComputePipelineAsync = (descriptor) => {
    const pipeline = build(descriptor);
    if (!exiting) {
      exiting = true;
      setTimeout(() => exitWhenCompiled(gpu, 130, () => process.stderr.write("lastly\\n")), 20);
    }
    return pipeline;
  };
  const body = Array.from({ length: 400 }, (_, j) => "  acc = acc * " + (1 + (j % 13) / 100) + " + sin(acc + " + j + ".0);").join("\\n");
  for (let k = 0; k < 8; k++) {
    const source = "@group(0) @binding(0) var<storage, read_write> out: array<f32>;\\n@compute @workgroup_size(64)\\n" +
      "fn main(@builtin(global_invocation_id) id: vec3<u32>) {\\n  var acc = f32(id.x + " + k + "u);\\n" + body + "\\n  out[id.x] = acc;\\n}\\n";
    gpu.kernel({ name: "long" + k, source }, {}).catch(() => {});
  }`;

test("exiting while pipelines are being built ends with the exit code asked for, never by a signal", () => {
  // Six exits: were the wait missing, all six would survive with probability about 0.6^6 ≈ 5%.
  for (let run = 0; run < 6; run++) {
    const child = runNodeScript(EXIT_WHILE_COMPILING);
    assert.equal(child.signal, null, `run ${run}: killed by ${child.signal}; stderr:\n${child.stderr.slice(-2000)}`);
    assert.equal(child.status, 130, child.stderr.slice(-2000));
    assert.equal(child.stderr.match(/^lastly$/gm)?.length, 1, "the last words are said once, before the exit");
  }
});

test("a compile that never ends delays the exit by the wait given, no longer", () => {
  const started = Date.now();
  const child = runNodeScript(`
    import { exitWhenCompiled } from "./src/node/exit-when-compiled.ts";
    const stuck = { compiled: () => new Promise(() => {}) };
    await exitWhenCompiled(stuck, 3, () => console.log("lastly"), 300);`);
  const elapsed = Date.now() - started;
  assert.equal(child.status, 3, child.stderr);
  assert.equal(child.stdout, "lastly\n");
  // tsx's start-up comes on top of the 300 ms; a process that waited on the compile would be killed
  // by runNodeScript's timeout (120 s) instead.
  assert.ok(elapsed >= 300 && elapsed < 60_000, `exited after ${elapsed} ms`);
});
