import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testGpu } from "../helpers/gpu.ts";
import { StaqError, StaqFormatError, StaqInputError } from "../../src/errors.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";
import { readStackFile, stackFromSafetensors, stackToSafetensors } from "../../src/io/stack-file.ts";
import { loadStack, saveStack } from "../../src/node/stack-files.ts";
import { pmdCoefficients } from "../../src/pmd/coefficients.ts";
import type { MlpWeights } from "../../src/stack/mlp.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import type { Stack } from "../../src/stack/stack.ts";
import {
  ONE_HIDDEN,
  TWO_HIDDEN,
  pushedStack,
  randomStates,
  tempDir,
  handBuiltStackFile,
  spoiledStackFile,
  type HandBuiltStackFile,
} from "./stack-fixtures.ts";

const gpu = await testGpu();
const BATCH = 5;

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
const snapshotBits = (snapshots: MlpWeights[][]) =>
  snapshots.map((list) => list.map((w) => w.layers.map((l) => [bits(l.weight), bits(l.bias)])));

async function assertSameStack(loaded: Stack, original: Stack) {
  assert.deepEqual(loaded.spec, original.spec);
  assert.equal(loaded.memory, original.memory);
  assert.equal(loaded.ensemble, original.ensemble);
  assert.equal(loaded.size, original.size);
  assert.deepEqual(loaded.pmd, original.pmd);
  assert.equal(loaded.correction, original.correction);
  assert.deepEqual(loaded.coefficients, original.coefficients);
  assert.deepEqual(snapshotBits(await loaded.readSnapshots()), snapshotBits(await original.readSnapshots()));
}

test("save → load gives bit-identical snapshots, coefficients, correction, settings and logits", async () => {
  // η = τ = 1 makes α = β = 1/2, so every coefficient is a power of two, exact in float32: nothing
  // is rounded on the way to the file and the loaded stack must equal the original exactly.
  const { stack } = pushedStack(gpu, { memory: 4, ensemble: 2, eta: 1, tau: 1, gamma: 0.9, pushes: 3, seed: 7 });
  const dir = await tempDir();
  const path = join(dir, "stack.safetensors");
  await saveStack(stack, path);
  const loaded = await loadStack(gpu, path);
  await assertSameStack(loaded, stack);
  const states = randomStates(BATCH, ONE_HIDDEN.inputs, 3);
  assert.deepEqual(bits(await stackLogits(loaded, states)), bits(await stackLogits(stack, states)));
  // Nothing but the file is left behind by the atomic save.
  assert.deepEqual(await readdir(dir), ["stack.safetensors"]);
  // And saving the loaded stack writes the same bytes.
  assert.deepEqual(await stackToSafetensors(loaded), new Uint8Array(await readFile(path)));
  loaded.destroy();
  stack.destroy();
});

test("a stack under the authors' rule round-trips with its M + 1 snapshots and stack_rule; an exact stack's file has no such key", async () => {
  const { stack } = pushedStack(gpu, { memory: 2, ensemble: 2, eta: 1, tau: 1, pushes: 4, seed: 9, rule: "authors" });
  assert.equal(stack.size, 3);
  const bytes = await stackToSafetensors(stack);
  assert.equal(decodeSafetensors(bytes).metadata.stack_rule, "authors");
  const contents = readStackFile(bytes);
  assert.equal(contents.rule, "authors");
  assert.equal(contents.stored, 3);
  const loaded = stackFromSafetensors(gpu, bytes);
  await assertSameStack(loaded, stack);
  assert.equal(loaded.slots, 3);
  loaded.destroy();
  stack.destroy();
  const exact = pushedStack(gpu, { memory: 2, pushes: 1, seed: 9 }).stack;
  assert.equal(decodeSafetensors(await stackToSafetensors(exact)).metadata.stack_rule, undefined);
  exact.destroy();
});

test("an MLP stack file is byte for byte what staq wrote before conv layers existed", async () => {
  const { stack, pushed } = pushedStack(gpu, { memory: 3, ensemble: 2, eta: 1, tau: 1, gamma: 0.9, pushes: 2, seed: 7 });
  const bytes = await stackToSafetensors(stack);
  // The header as staq has always written it: no "input_shape", padded to a multiple of 8 bytes.
  const header =
    '{"__metadata__":{"format":"staq-stack/1","activation":"relu","ensemble_reduce":"mean","correction":"1.1428571428571428",' +
    '"memory":"3","eta":"1","tau":"1","gamma":"0.9","variant":"corrected","normalization":"memory"},' +
    '"stack.layers.0.weight":{"dtype":"F32","shape":[2,2,8,4],"data_offsets":[0,512]},' +
    '"stack.layers.0.bias":{"dtype":"F32","shape":[2,2,8],"data_offsets":[512,640]},' +
    '"stack.layers.1.weight":{"dtype":"F32","shape":[2,2,3,8],"data_offsets":[640,1024]},' +
    '"stack.layers.1.bias":{"dtype":"F32","shape":[2,2,3],"data_offsets":[1024,1072]},' +
    '"stack.coefficients":{"dtype":"F32","shape":[2,2],"data_offsets":[1072,1088]}}      ';
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true), BigInt(header.length));
  assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + header.length)), header);
  // The data: each layer's weight then bias, [member][snapshot] oldest first, then the coefficients.
  const parts: Float32Array[] = [];
  for (let l = 0; l < 2; l++) {
    for (const part of ["weight", "bias"] as const) {
      for (let e = 0; e < 2; e++) for (const members of pushed) parts.push(members[e].layers[l][part]);
    }
  }
  parts.push(...stack.coefficients.map((c) => Float32Array.from(c)));
  const data = Float32Array.from(parts.flatMap((p) => Array.from(p)));
  assert.deepEqual(bytes.subarray(8 + header.length), new Uint8Array(data.buffer));
  stack.destroy();
});

test("a ring that wrapped around is saved oldest first", async () => {
  const { stack, pushed } = pushedStack(gpu, { memory: 3, ensemble: 2, eta: 1, tau: 1, pushes: 5, seed: 11 });
  const bytes = await stackToSafetensors(stack);
  const { tensors, metadata } = decodeSafetensors(bytes);
  // Pushes 2, 3, 4 survive; the file must list them in that order whatever slot holds them.
  const survivors = pushed.slice(2);
  for (let l = 0; l < 2; l++) {
    const weight = tensors.get(`stack.layers.${l}.weight`)!;
    const bias = tensors.get(`stack.layers.${l}.bias`)!;
    const { inputs, outputs } = [
      { inputs: 4, outputs: 8 },
      { inputs: 8, outputs: 3 },
    ][l];
    assert.deepEqual(weight.shape, [2, 3, outputs, inputs]);
    for (let e = 0; e < 2; e++) {
      survivors.forEach((members, i) => {
        const at = (e * 3 + i) * outputs;
        assert.deepEqual(
          weight.data.subarray(at * inputs, (at + outputs) * inputs),
          members[e].layers[l].weight,
          `layer ${l} [${e}, ${i}]`,
        );
        assert.deepEqual(bias.data.subarray(at, at + outputs), members[e].layers[l].bias, `layer ${l} bias [${e}, ${i}]`);
      });
    }
  }
  const expected = pmdCoefficients([1, 1, 1, 1, 1], { eta: 1, memory: 3 });
  assert.deepEqual(Array.from(tensors.get("stack.coefficients")!.data), [...expected.coefficients, ...expected.coefficients]);
  assert.equal(metadata.correction, String(expected.correction));
  assert.equal(metadata.memory, "3");

  const loaded = stackFromSafetensors(gpu, bytes);
  await assertSameStack(loaded, stack);
  // The kernel adds snapshots in slot order, which differs between the wrapped ring and the
  // loaded one (oldest in slot 0), so the float32 sums may differ in their last bits: both must be
  // within the float32 bound of the float64 reference of the file's contents.
  const states = randomStates(BATCH, ONE_HIDDEN.inputs, 5);
  const reference = stackLogitsReference(readStackFile(bytes), states, BATCH);
  for (const [which, logits] of [
    ["loaded", await stackLogits(loaded, states)],
    ["original", await stackLogits(stack, states)],
  ] as const) {
    logits.forEach((x, k) =>
      assert.ok(
        Math.abs(x - reference.logits[k]) <= reference.bound[k],
        `${which} logit ${k}: ${x} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
      ),
    );
  }
  // The loaded ring continues like the original: one more push drops the same snapshot.
  const next = pushed[0];
  loaded.push(next);
  stack.push(next);
  await assertSameStack(loaded, stack);
  loaded.destroy();
  stack.destroy();
});

test("float64 coefficients are stored as float32; the loaded stack evaluates within the float32 bound and re-saves to the same bytes", async () => {
  const { stack } = pushedStack(gpu, {
    mlp: TWO_HIDDEN,
    memory: 3,
    ensemble: 1,
    eta: 20,
    tau: 0.7,
    gamma: 0.99,
    variant: "corrected",
    normalization: "sum",
    pushes: 4,
    seed: 13,
  });
  const bytes = await stackToSafetensors(stack);
  const loaded = stackFromSafetensors(gpu, bytes);
  assert.deepEqual(
    loaded.coefficients.map((c) => Array.from(c)),
    stack.coefficients.map((c) => Array.from(c, Math.fround)),
  );
  assert.equal(loaded.correction, stack.correction);
  assert.deepEqual(loaded.pmd, stack.pmd);
  assert.deepEqual(await stackToSafetensors(loaded), bytes);

  const contents = readStackFile(bytes);
  const states = randomStates(BATCH, TWO_HIDDEN.inputs, 17);
  const reference = stackLogitsReference(contents, states, BATCH);
  const logits = await stackLogits(loaded, states);
  logits.forEach((x, k) =>
    assert.ok(
      Math.abs(x - reference.logits[k]) <= reference.bound[k],
      `logit ${k}: ${x} vs ${reference.logits[k]} ± ${reference.bound[k]}`,
    ),
  );
  loaded.destroy();
  stack.destroy();
});

test("an empty stack round-trips", async () => {
  const { stack } = pushedStack(gpu, { memory: 2, ensemble: 2, pushes: 0 });
  const bytes = await stackToSafetensors(stack);
  assert.deepEqual(decodeSafetensors(bytes).tensors.get("stack.layers.1.weight")!.shape, [2, 0, 3, 8]);
  const loaded = stackFromSafetensors(gpu, bytes);
  assert.equal(loaded.size, 0);
  assert.equal(loaded.ensemble, 2);
  assert.deepEqual(loaded.spec, ONE_HIDDEN);
  loaded.destroy();
  stack.destroy();
});

test("a memory override keeps the snapshots and must hold them all", async () => {
  const { stack } = pushedStack(gpu, { memory: 3, ensemble: 1, eta: 1, tau: 1, pushes: 2, seed: 19 });
  const bytes = await stackToSafetensors(stack);
  const bigger = stackFromSafetensors(gpu, bytes, { memory: 6 });
  assert.equal(bigger.memory, 6);
  assert.equal(bigger.size, 2);
  assert.deepEqual(snapshotBits(await bigger.readSnapshots()), snapshotBits(await stack.readSnapshots()));
  assert.throws(
    () => stackFromSafetensors(gpu, bytes, { memory: 1 }),
    (error: Error) =>
      error instanceof StaqInputError && /memory override 1 must be an integer >= 2: the file holds 2 snapshots/.test(error.message),
  );
  bigger.destroy();
  stack.destroy();
});

// ---- malformed stack files ----

/** A valid file (2 members, 2 snapshots, ONE_HIDDEN) built without a GPU, and ways to spoil it. */
function validFile(): HandBuiltStackFile {
  return handBuiltStackFile([
    [
      [2, 2, 8, 4],
      [2, 2, 8],
    ],
    [
      [2, 2, 3, 8],
      [2, 2, 3],
    ],
  ]);
}

function spoiled(change: (file: HandBuiltStackFile) => void): Uint8Array {
  return spoiledStackFile(validFile, change);
}

function rejects(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => stackFromSafetensors(gpu, bytes),
    (error: Error) => {
      assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test("the hand-built valid file loads (so the failures below are each caused by their one change)", async () => {
  const stack = stackFromSafetensors(
    gpu,
    spoiled(() => {}),
  );
  assert.deepEqual(stack.spec, ONE_HIDDEN);
  assert.equal(stack.size, 2);
  assert.equal(stack.pmd.variant, "corrected");
  stack.destroy();
});

test("a truncated file names the tensor that runs past the end", () => {
  const bytes = spoiled(() => {});
  rejects(
    bytes.subarray(0, bytes.length - 4),
    /tensor "stack\.coefficients": data_offsets .* run past the end of the byte buffer .*truncated/,
  );
  rejects(bytes.subarray(0, 6), /6 bytes long/);
});

test("a missing tensor is named", () => {
  rejects(
    spoiled((f) => f.tensors.delete("stack.layers.1.bias")),
    /missing tensor "stack\.layers\.1\.bias"/,
  );
  rejects(
    spoiled((f) => f.tensors.delete("stack.coefficients")),
    /missing tensor "stack\.coefficients"/,
  );
  rejects(
    spoiled((f) => f.tensors.delete("stack.layers.0.weight")),
    /missing tensor "stack\.layers\.0\.weight"/,
  );
});

test("a wrong shape names the tensor, its shape and the expected one", () => {
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.0.bias", { shape: [2, 2, 7], data: new Float32Array(28) })),
    /tensor "stack\.layers\.0\.bias" has shape \[2, 2, 7\]; expected \[2, 2, 8\]/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.1.weight", { shape: [2, 2, 3, 5], data: new Float32Array(60) })),
    /tensor "stack\.layers\.1\.weight" has shape \[2, 2, 3, 5\]; expected \[2, 2, 3, 8\] .*the out of "stack\.layers\.0\.weight"/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.1.weight", { shape: [2, 1, 3, 8], data: new Float32Array(48) })),
    /tensor "stack\.layers\.1\.weight" has shape \[2, 1, 3, 8\]; expected \[2, 2, 3, 8\] \(.*N = 2 from "stack\.coefficients"/,
  );
  rejects(
    spoiled((f) => f.tensors.set("stack.coefficients", { shape: [4], data: new Float32Array(4) })),
    /tensor "stack\.coefficients" has shape \[4\]; expected \[E, N\]/,
  );
});

test("a NaN or infinite coefficient or weight is named with its index", () => {
  rejects(
    spoiled((f) => (f.tensors.get("stack.coefficients")!.data[2] = NaN)),
    /tensor "stack\.coefficients" \[1, 0\] is NaN; coefficients must be finite/,
  );
  rejects(
    spoiled((f) => (f.tensors.get("stack.layers.1.weight")!.data[3 * 8 + 9] = -Infinity)),
    /tensor "stack\.layers\.1\.weight" \[0, 1, 1, 1\] is -Infinity; weights must be finite/,
  );
});

test("a wrong or missing format string says what the file should be", () => {
  rejects(
    spoiled((f) => (f.metadata.format = "staq-stack/2")),
    /__metadata__ "format" is "staq-stack\/2"; a staq stack file has "staq-stack\/1"/,
  );
  rejects(
    spoiled((f) => delete f.metadata.format),
    /__metadata__ "format" is missing/,
  );
});

test("metadata fields are checked: numbers in decimal, in range, and the known activation and reduction", () => {
  rejects(
    spoiled((f) => delete f.metadata.memory),
    /__metadata__ has no "memory"/,
  );
  rejects(
    spoiled((f) => (f.metadata.memory = "1")),
    /holds 2 snapshots per member, more than the file's memory M = 1/,
  );
  rejects(
    spoiled((f) => (f.metadata.eta = "0x10")),
    /__metadata__ "eta" is "0x10"; it must be a finite number >= 0/,
  );
  rejects(
    spoiled((f) => (f.metadata.tau = "0")),
    /"tau" is "0"; it must be a finite number > 0/,
  );
  rejects(
    spoiled((f) => (f.metadata.gamma = "1")),
    /"gamma" is "1"; it must be a number in \[0, 1\)/,
  );
  rejects(
    spoiled((f) => (f.metadata.correction = "NaN")),
    /"correction" is "NaN"; it must be a finite number/,
  );
  rejects(
    spoiled((f) => (f.metadata.activation = "tanh")),
    /"activation" is "tanh"; it must be "relu"/,
  );
  rejects(
    spoiled((f) => (f.metadata.ensemble_reduce = "sum")),
    /"ensemble_reduce" is "sum"; it must be "mean"/,
  );
  rejects(
    spoiled((f) => (f.metadata.stack_rule = "paper")),
    /"stack_rule" is "paper"; it must be "exact" or "authors"/,
  );
  rejects(
    spoiled((f) => (f.metadata.variant = "exact")),
    /"variant" is "exact"; it must be "vanilla" or "corrected"/,
  );
});

test("metadata numbers the GPU computes with must be in float32's range, and so must correction · c / E", () => {
  // 1e39 is finite in float64 but Infinity in float32: the logits came out NaN after the GPU run.
  rejects(
    spoiled((f) => (f.metadata.correction = "1e39")),
    /^__metadata__ "correction" is "1e39"; it is outside float32's normal range.*there it is Infinity/,
  );
  // Below float32's normal range the GPU sees 0 (or a subnormal it may flush): every logit 0, silently.
  rejects(
    spoiled((f) => (f.metadata.correction = "1e-50")),
    /^__metadata__ "correction" is "1e-50"; it is outside float32's normal range.*0 \(or flushed to 0\)/,
  );
  rejects(
    spoiled((f) => (f.metadata.eta = "1e39")),
    /^__metadata__ "eta" is "1e39"; it is outside float32's normal range/,
  );
  rejects(
    spoiled((f) => (f.metadata.tau = "1e-40")),
    /^__metadata__ "tau" is "1e-40"; it is outside float32's normal range/,
  );
  rejects(
    spoiled((f) => (f.metadata.gamma = "1e-45")),
    /^__metadata__ "gamma" is "1e-45"; it is outside float32's normal range/,
  );
  // Each in range, but the weight the GPU gets, correction · c[e, i] / E = 3e38 · 4 / 2, is not.
  rejects(
    spoiled((f) => {
      f.metadata.correction = "3e38";
      f.tensors.get("stack.coefficients")!.data[1] = 4;
    }),
    /^tensor "stack\.coefficients" \[0, 1\] is 4, and correction · c \/ E = 3e\+38 · 4 \/ 2 = 6e\+38 is beyond float32's range/,
  );
  // 0 is exact in float32 (η = 0 and γ = 0 are allowed), and so are the limits' neighbours inside.
  const edge = readStackFile(
    spoiled((f) => {
      f.metadata.eta = "0";
      f.metadata.gamma = "0";
      f.metadata.correction = "3e38";
      f.metadata.tau = "1.2e-38";
    }),
  );
  assert.deepEqual([edge.eta, edge.gamma, edge.correction, edge.tau], [0, 0, 3e38, 1.2e-38]);
});

test("an unexpected tensor is named", () => {
  rejects(
    spoiled((f) => f.tensors.set("stack.layers.01.weight", { shape: [1], data: new Float32Array(1) })),
    /unexpected tensor "stack\.layers\.01\.weight"/,
  );
});

test("loadStack names the path in file and format errors", async () => {
  const dir = await tempDir();
  await assert.rejects(
    loadStack(gpu, join(dir, "absent.safetensors")),
    (error: Error) =>
      error instanceof StaqError && error.message.includes(join(dir, "absent.safetensors")) && /no such file/.test(error.message),
  );
  const bad = join(dir, "bad.safetensors");
  await writeFile(
    bad,
    spoiled((f) => (f.metadata.format = "other")),
  );
  await assert.rejects(loadStack(gpu, bad), (error: Error) => error instanceof StaqFormatError && error.message.startsWith(`${bad}: `));
  const { stack } = pushedStack(gpu, { memory: 2, pushes: 1 });
  await assert.rejects(
    saveStack(stack, join(dir, "no-such-dir", "s.safetensors")),
    /Could not write the stack to .*no-such-dir.*no such file/,
  );
  stack.destroy();
});
