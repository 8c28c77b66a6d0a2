/**
 * The one template step between a `shaders/*.wgsl` file and the WGSL that is compiled.
 *
 * A shader marks the module-scope constants the host sets with a trailing `// @inject` comment:
 *
 *     const TILE_ROWS: u32 = 16u;                              // @inject
 *     const LAYER_OUT: array<u32, 2> = array<u32, 2>(64u, 4u); // @inject
 *
 * The file stays valid WGSL with those defaults (so editors and validators read it as is), and
 * `injectConstants` replaces each marked initialiser with the value the host gives, rendered as
 * a WGSL literal of the declared type. Every marked constant must be given a value and every
 * given value must name a marked constant, so a typo fails loudly instead of silently keeping a
 * default.
 *
 * A shader that uses a shared library of functions names it on a line of its own:
 *
 *     // @include philox
 *
 * `resolveIncludes` appends that library (shaders/philox.wgsl) to the end of the source, once.
 * WGSL declarations may come in any order, so appending keeps the including file's line numbers
 * (and so compiler messages) unchanged.
 */
import { StaqInputError } from "../errors.ts";

export type ShaderConstant = number | boolean | readonly number[];
export type ShaderConstants = Readonly<Record<string, ShaderConstant>>;

const DECLARATION = /^(\s*)const\s+([A-Za-z_]\w*)\s*:\s*([^=]+?)\s*=\s*(.+?);\s*\/\/\s*@inject\b.*$/;

/** Names of the constants a shader source marks with `// @inject`, in order. */
export function injectableConstants(source: string): string[] {
  return source
    .split("\n")
    .map((line) => line.match(DECLARATION)?.[2])
    .filter((name): name is string => name !== undefined);
}

function scalarLiteral(name: string, type: string, value: ShaderConstant): string {
  if (type === "bool") {
    if (typeof value !== "boolean") throw new StaqInputError(`shader constant ${name} is bool; got ${JSON.stringify(value)}`);
    return String(value);
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new StaqInputError(`shader constant ${name} (${type}) needs a finite number; got ${JSON.stringify(value)}`);
  }
  switch (type) {
    case "u32":
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new StaqInputError(`shader constant ${name} is u32; ${value} is not an integer in [0, 2^32)`);
      }
      return `${value}u`;
    case "i32":
      if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
        throw new StaqInputError(`shader constant ${name} is i32; ${value} is not an integer in [-2^31, 2^31)`);
      }
      return `${value}i`;
    case "f32": {
      // Math.fround makes the literal exactly representable, so WGSL's parse cannot round it differently.
      const text = String(Math.fround(value));
      return /[.eE]/.test(text) ? `${text}f` : `${text}.0f`;
    }
    default:
      throw new StaqInputError(
        `shader constant ${name} has type ${type}, which injection does not support (u32, i32, f32, bool, array<…>)`,
      );
  }
}

function literal(name: string, type: string, value: ShaderConstant): { type: string; text: string } {
  const array = type.match(/^array\s*<\s*(\w+)\s*,\s*[^>]+>$/);
  if (!array) return { type, text: scalarLiteral(name, type, value) };
  if (!Array.isArray(value) || value.length === 0) {
    throw new StaqInputError(`shader constant ${name} is ${type}; it needs a non-empty array, got ${JSON.stringify(value)}`);
  }
  const element = array[1];
  const arrayType = `array<${element}, ${value.length}>`;
  const elements = (value as readonly number[]).map((v, i) => scalarLiteral(`${name}[${i}]`, element, v));
  return { type: arrayType, text: `${arrayType}(${elements.join(", ")})` };
}

/** Returns `source` with every `// @inject` constant set to the value given for it. */
export function injectConstants(source: string, constants: ShaderConstants, shaderName = "shader"): string {
  const declared = new Set(injectableConstants(source));
  for (const key of Object.keys(constants)) {
    if (!declared.has(key)) {
      throw new StaqInputError(`${shaderName} has no injectable constant ${key} (it declares: ${[...declared].join(", ") || "none"})`);
    }
  }
  return source
    .split("\n")
    .map((line) => {
      const match = line.match(DECLARATION);
      if (!match) return line;
      const [, indent, name, type] = match;
      if (!(name in constants)) {
        throw new StaqInputError(`${shaderName} needs a value for its injectable constant ${name}`);
      }
      const { type: newType, text } = literal(name, type.trim(), constants[name]);
      return `${indent}const ${name}: ${newType} = ${text};`;
    })
    .join("\n");
}

/** A stable text key for a set of constants (key order does not matter). */
export function constantsKey(constants: ShaderConstants): string {
  return JSON.stringify(
    Object.keys(constants)
      .sort()
      .map((key) => [key, constants[key]]),
  );
}

const INCLUDE = /^\s*\/\/\s*@include\s+([A-Za-z_]\w*)\s*$/;

/** Returns `source` with the libraries named by its `// @include NAME` lines appended (one level deep). */
export function resolveIncludes(source: string, libraries: Readonly<Record<string, string>>, shaderName = "shader"): string {
  const names = [
    ...new Set(
      source
        .split("\n")
        .map((line) => line.match(INCLUDE)?.[1])
        .filter((name): name is string => name !== undefined),
    ),
  ];
  const appended = names.map((name) => {
    const library = libraries[name];
    if (library === undefined) throw new StaqInputError(`${shaderName} includes ${name}, but there is no shaders/${name}.wgsl`);
    if (library.split("\n").some((line) => INCLUDE.test(line))) {
      throw new StaqInputError(`shaders/${name}.wgsl includes another library; libraries are included one level deep`);
    }
    return `\n// ---- included from shaders/${name}.wgsl ----\n${library}`;
  });
  return source + appended.join("");
}
