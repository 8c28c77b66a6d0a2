/**
 * What a compute shader declares, read from its WGSL text: its bindings (name, access, type), the
 * layout of its uniform struct (every field's byte offset, by WGSL's layout rules) and its
 * `@workgroup_size`. A kernel object (kernel.ts) binds buffers and fills uniforms by these names,
 * so the shader is the one list of both and the host never repeats a binding index or an offset.
 *
 * This is not a WGSL parser: it reads the declaration forms staq's shaders use (one `var` per
 * line, structs of scalars and vectors, a workgroup size of literals or module constants) and
 * throws on anything else, so a shader written differently fails at load time, not with a
 * misplaced value.
 */
import { StaqInputError } from "../errors.ts";

export interface ShaderBinding {
  name: string;
  group: number;
  binding: number;
  /** `uniform`, or `storage` with its access mode. */
  kind: "uniform" | "read" | "read_write";
  /** The declared type, e.g. `array<vec4<f32>>` or a struct name. */
  type: string;
}

export interface UniformField {
  name: string;
  type: "u32" | "i32" | "f32";
  /** Byte offset in the struct. */
  offset: number;
}

export interface UniformLayout {
  struct: string;
  fields: UniformField[];
  /** The struct's size in bytes (WGSL's rules: rounded up to its alignment, at least 16 for uniforms). */
  size: number;
}

export interface ShaderInterface {
  bindings: ShaderBinding[];
  /** The struct of the (single) `var<uniform>`, or undefined when the shader has none. */
  uniform?: UniformLayout;
  workgroupSize: [number, number, number];
}

const VAR =
  /^\s*@group\((\d+)\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read|read_write)\s*)?>\s*([A-Za-z_]\w*)\s*:\s*([^;]+);/;
const STRUCT = /\bstruct\s+([A-Za-z_]\w*)\s*\{([^}]*)\}/g;
const WORKGROUP_SIZE = /@workgroup_size\(([^)]*)\)/;
const SCALARS = new Set(["u32", "i32", "f32"]);

/** Strips `//` comments (staq's shaders use no block comments). */
function withoutComments(source: string): string {
  return source.replace(/\/\/[^\n]*/g, "");
}

function parseStruct(name: string, body: string, shaderName: string): UniformLayout {
  const fields: UniformField[] = [];
  let offset = 0;
  for (const member of body
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean)) {
    const match = member.match(/^([A-Za-z_]\w*)\s*:\s*(\w+)$/);
    if (!match || !SCALARS.has(match[2])) {
      throw new StaqInputError(
        `${shaderName}: uniform struct ${name} has a member "${member}"; kernels fill u32, i32 and f32 members only`,
      );
    }
    // Scalars are 4 bytes with 4-byte alignment, so members follow one another.
    fields.push({ name: match[1], type: match[2] as UniformField["type"], offset });
    offset += 4;
  }
  // A struct's size rounds up to its alignment (4 here); a uniform buffer binding must be a multiple of 16.
  return { struct: name, fields, size: Math.max(16, Math.ceil(offset / 16) * 16) };
}

/** The value of a module-scope `const NAME: u32 = 64u;` (after constants were injected). */
function constantValue(source: string, name: string, shaderName: string): number {
  const match = source.match(new RegExp(`\\bconst\\s+${name}\\s*:\\s*[ui]32\\s*=\\s*(\\d+)[ui]?\\s*;`));
  if (!match) throw new StaqInputError(`${shaderName}: @workgroup_size names ${name}, which is not a literal u32/i32 constant`);
  return Number(match[1]);
}

/** Reads the interface of a compute shader (give it the source after constants were injected). */
export function reflectShader(source: string, shaderName = "shader"): ShaderInterface {
  const code = withoutComments(source);
  const bindings: ShaderBinding[] = [];
  for (const line of code.split("\n")) {
    const match = line.match(VAR);
    if (!match) {
      if (/@binding\s*\(/.test(line)) throw new StaqInputError(`${shaderName}: cannot read the binding declaration "${line.trim()}"`);
      continue;
    }
    const [, group, binding, space, access, name, type] = match;
    if (space === "storage" && !access)
      throw new StaqInputError(`${shaderName}: storage binding ${name} must state its access (read or read_write)`);
    bindings.push({
      name,
      group: Number(group),
      binding: Number(binding),
      kind: space === "uniform" ? "uniform" : (access as "read" | "read_write"),
      type: type.trim(),
    });
  }
  const uniforms = bindings.filter((b) => b.kind === "uniform");
  if (uniforms.length > 1)
    throw new StaqInputError(`${shaderName} declares ${uniforms.length} uniforms; kernels support one uniform struct`);
  let uniform: UniformLayout | undefined;
  if (uniforms.length === 1) {
    const structs = new Map([...code.matchAll(STRUCT)].map((m) => [m[1], m[2]]));
    const body = structs.get(uniforms[0].type);
    if (body === undefined)
      throw new StaqInputError(
        `${shaderName}: the uniform ${uniforms[0].name} has type ${uniforms[0].type}, which is not a struct declared in the shader`,
      );
    uniform = parseStruct(uniforms[0].type, body, shaderName);
  }
  const size = code.match(WORKGROUP_SIZE);
  if (!size) throw new StaqInputError(`${shaderName} has no @workgroup_size`);
  const dims = size[1]
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  const values = dims.map((d) => (/^\d+[ui]?$/.test(d) ? parseInt(d, 10) : constantValue(code, d, shaderName)));
  const workgroupSize: [number, number, number] = [values[0], values[1] ?? 1, values[2] ?? 1];
  return { bindings, uniform, workgroupSize };
}
