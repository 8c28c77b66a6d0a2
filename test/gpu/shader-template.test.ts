import { test } from "node:test";
import assert from "node:assert/strict";
import { constantsKey, injectConstants, injectableConstants, resolveIncludes } from "../../src/gpu/shader-template.ts";

const source = [
  "const ROWS: u32 = 4u; // @inject",
  "const SCALE: f32 = 1.0f;   // @inject the scale",
  "const SIGNED: i32 = -1i; // @inject",
  "const FLAG: bool = false; // @inject",
  "const SIZES: array<u32, 2> = array<u32, 2>(1u, 2u); // @inject",
  "const FIXED: u32 = 7u;",
  "fn main() {}",
].join("\n");

test("lists the marked constants only", () => {
  assert.deepEqual(injectableConstants(source), ["ROWS", "SCALE", "SIGNED", "FLAG", "SIZES"]);
});

test("renders each value as a literal of the declared type", () => {
  const out = injectConstants(source, { ROWS: 16, SCALE: 0.1, SIGNED: -3, FLAG: true, SIZES: [5, 6, 7] });
  assert.equal(
    out,
    [
      "const ROWS: u32 = 16u;",
      `const SCALE: f32 = ${Math.fround(0.1)}f;`,
      "const SIGNED: i32 = -3i;",
      "const FLAG: bool = true;",
      "const SIZES: array<u32, 3> = array<u32, 3>(5u, 6u, 7u);",
      "const FIXED: u32 = 7u;",
      "fn main() {}",
    ].join("\n"),
  );
  assert.match(injectConstants(source, { ROWS: 1, SCALE: 2, SIGNED: 0, FLAG: false, SIZES: [1] }), /SCALE: f32 = 2\.0f;/);
});

test("rejects missing, unknown and ill-typed values with the constant's name", () => {
  const all = { ROWS: 1, SCALE: 1, SIGNED: 1, FLAG: true, SIZES: [1] };
  assert.throws(() => injectConstants(source, { ...all, ROWS: undefined as unknown as number, EXTRA: 1 }), /no injectable constant EXTRA/);
  const { ROWS: _rows, ...missing } = all;
  assert.throws(() => injectConstants(source, missing), /needs a value for its injectable constant ROWS/);
  assert.throws(() => injectConstants(source, { ...all, ROWS: -1 }), /ROWS is u32; -1 is not an integer/);
  assert.throws(() => injectConstants(source, { ...all, ROWS: 1.5 }), /ROWS is u32/);
  assert.throws(() => injectConstants(source, { ...all, SCALE: NaN }), /SCALE \(f32\) needs a finite number/);
  assert.throws(() => injectConstants(source, { ...all, FLAG: 1 }), /FLAG is bool/);
  assert.throws(() => injectConstants(source, { ...all, SIZES: [] }), /SIZES is array<u32, 2>; it needs a non-empty array/);
});

test("the cache key ignores key order", () => {
  assert.equal(constantsKey({ A: 1, B: [2, 3] }), constantsKey({ B: [2, 3], A: 1 }));
  assert.notEqual(constantsKey({ A: 1 }), constantsKey({ A: 2 }));
});

test("includes append each named library once, after the including source, and unknown names fail", () => {
  const libraries = { lib: "fn helper() -> u32 { return 1u; }" };
  const shader = ["// @include lib", "fn main() { _ = helper(); }", "  // @include lib  "].join("\n");
  const out = resolveIncludes(shader, libraries, "shaders/a.wgsl");
  assert.ok(out.startsWith(shader), "the including source keeps its lines, so compiler line numbers stay right");
  assert.equal(out.split("fn helper").length - 1, 1);
  assert.throws(
    () => resolveIncludes("// @include nothing", libraries, "shaders/a.wgsl"),
    /shaders\/a\.wgsl includes nothing, but there is no shaders\/nothing\.wgsl/,
  );
  assert.throws(() => resolveIncludes("// @include lib", { lib: "// @include lib" }), /one level deep/);
  assert.equal(resolveIncludes("fn main() {}", libraries), "fn main() {}");
});
