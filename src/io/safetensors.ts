/**
 * The safetensors container format (https://github.com/huggingface/safetensors), float32 only:
 *
 *     8 bytes   N, the header's length in bytes, unsigned 64-bit little-endian
 *     N bytes   UTF-8 JSON object starting with "{": per tensor { "dtype", "shape", "data_offsets" },
 *               plus an optional "__metadata__" object of string values; padded with spaces so
 *               that the byte buffer starts 8-byte aligned
 *     the rest  the byte buffer: each tensor's row-major little-endian data at
 *               [data_offsets[0], data_offsets[1]), relative to the buffer's start; the tensors
 *               cover the buffer exactly, without holes or overlaps
 *
 * Written by hand because the format is this small, and because the reader is where a file from
 * another program meets staq: every check below fails with the tensor's name and what is wrong,
 * the way the reference implementation's validation does, so a file that staq accepts is one that
 * the `safetensors` Python package accepts too. The other way round holds for F32 tensors with one
 * exception: a key written twice in the header. The package (0.8) refuses a repeated field of a
 * tensor entry and a repeated "__metadata__", but keeps the last of a repeated tensor name (when
 * both entries cover the same bytes) or metadata key without a word. staq refuses every repeat, as
 * its JSON inputs do (./json.ts): one of the two values is silently dropped, and which one depends
 * on the reader, so a stack file with "correction" twice would mean different things to different
 * programs.
 *
 * Portable: no `node:` modules.
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { repeatedJsonKey, scanJsonKeys, type RepeatedJsonKey } from "./json.ts";

export interface Float32Tensor {
  /** Dimensions, outermost first; [] is a scalar (one value). */
  shape: readonly number[];
  /** Row-major values; its length is the product of `shape`. */
  data: Float32Array;
}

export interface DecodedSafetensors {
  /** In the order the header lists them. */
  tensors: Map<string, Float32Tensor>;
  /** The header's `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
}

export type TensorInput = ReadonlyMap<string, Float32Tensor> | Readonly<Record<string, Float32Tensor>>;

const METADATA_KEY = "__metadata__";
/** The reference reader refuses larger headers; refusing them here keeps files interchangeable. */
export const MAX_HEADER_BYTES = 100_000_000;

/** The dtypes of the safetensors spec, with their sizes in bytes, so other ones can be called unknown. */
const SPEC_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  F4: 1,
  F6_E2M3: 1,
  F6_E3M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const quote = (name: string) => JSON.stringify(name);

function entriesOf(tensors: TensorInput): [string, Float32Tensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, Float32Tensor>);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/**
 * Copies float32 values out of little-endian bytes. A byte copy, not a float conversion, so every
 * bit survives (NaN payloads and -0 included) and the source may be unaligned; on a big-endian
 * host the bytes of each value are then reversed in place.
 */
export function float32FromLittleEndian(bytes: Uint8Array, hostLittleEndian = HOST_LITTLE_ENDIAN): Float32Array {
  if (bytes.length % 4 !== 0) throw new StaqInputError(`float32 data must be a multiple of 4 bytes; got ${bytes.length}`);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!hostLittleEndian) reverseWords(copy);
  return new Float32Array(copy.buffer);
}

/** Writes float32 values as little-endian bytes into `target` (the inverse of `float32FromLittleEndian`). */
export function float32ToLittleEndian(values: Float32Array, target: Uint8Array, hostLittleEndian = HOST_LITTLE_ENDIAN): void {
  target.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  if (!hostLittleEndian) reverseWords(target.subarray(0, values.byteLength));
}

function reverseWords(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    const b0 = bytes[i];
    const b1 = bytes[i + 1];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b1;
    bytes[i + 3] = b0;
  }
}

/** Throws `Failure` (a format error when reading, an input error when writing) for a bad shape. */
function checkShape(shape: unknown, where: string, Failure: typeof StaqFormatError | typeof StaqInputError): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Failure(`${where}: shape must be an array of integers >= 0; got ${JSON.stringify(shape)}`);
  }
  if (!Number.isSafeInteger(elementCount(shape) * 4)) {
    throw new Failure(`${where}: shape ${JSON.stringify(shape)} has too many elements to address`);
  }
  return shape;
}

/**
 * Encodes float32 tensors and string metadata as one safetensors file. Tensors are laid out in
 * the order given; `__metadata__` is written only when there is some.
 */
export function encodeSafetensors(tensors: TensorInput, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  const metadataEntries = Object.entries(metadata);
  for (const [key, value] of metadataEntries) {
    if (typeof value !== "string") {
      throw new StaqInputError(`metadata ${quote(key)} is a ${typeof value}; safetensors metadata values must be strings (use String(x))`);
    }
  }
  if (metadataEntries.length > 0) header[METADATA_KEY] = Object.fromEntries(metadataEntries);

  const entries = entriesOf(tensors);
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) throw new StaqInputError(`a tensor cannot be named ${METADATA_KEY}; the format reserves it for metadata`);
    if (!(tensor?.data instanceof Float32Array)) throw new StaqInputError(`tensor ${quote(name)}: data must be a Float32Array`);
    const shape = checkShape(tensor.shape, `tensor ${quote(name)}`, StaqInputError);
    if (elementCount(shape) !== tensor.data.length) {
      throw new StaqInputError(
        `tensor ${quote(name)}: shape [${shape}] holds ${elementCount(shape)} values but data has ${tensor.data.length}`,
      );
    }
    // Defined with defineProperty semantics, so even a tensor named "__proto__" is an own key.
    Object.defineProperty(header, name, {
      value: { dtype: "F32", shape: [...shape], data_offsets: [offset, offset + tensor.data.byteLength] },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    offset += tensor.data.byteLength;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  // Spaces up to a multiple of 8 bytes, as the reference writer does, so the byte buffer (and so
  // every float32) starts aligned for readers that map the file and view it in place.
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerBytes + offset);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, headerBytes, true);
  view.setUint32(4, Math.floor(headerBytes / 2 ** 32), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerBytes);
  let position = 8 + headerBytes;
  for (const [, tensor] of entries) {
    float32ToLittleEndian(tensor.data, bytes.subarray(position, position + tensor.data.byteLength));
    position += tensor.data.byteLength;
  }
  return bytes;
}

interface TensorEntry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(bytes: Uint8Array): { header: Record<string, unknown>; bufferStart: number } {
  if (!(bytes instanceof Uint8Array)) throw new StaqInputError("decodeSafetensors takes the file's bytes as a Uint8Array");
  if (bytes.length < 8) {
    throw new StaqFormatError(
      `the file is ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length (empty or truncated file?)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // As a BigInt: a number loses the low bits past 2^53, and the message would quote a length
  // (2^63 as 9223372036854776000) that is not the one in the file.
  const field = view.getBigUint64(0, true);
  if (field > BigInt(MAX_HEADER_BYTES)) {
    throw new StaqFormatError(
      `the header length field says ${field} bytes, more than the ${MAX_HEADER_BYTES} safetensors allows (not a safetensors file?)`,
    );
  }
  const headerBytes = Number(field);
  if (headerBytes > bytes.length - 8) {
    throw new StaqFormatError(
      `the header length field says ${headerBytes} bytes, but only ${bytes.length - 8} follow it (truncated file, or not a safetensors file?)`,
    );
  }
  let text: string;
  try {
    // ignoreBOM keeps a leading byte-order mark in the text, for the scan below to refuse as the
    // reference reader does; by default TextDecoder drops it without a word.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    throw new StaqFormatError("the header is not valid UTF-8 (not a safetensors file?)");
  }
  // Before parsing: the checks below quote entries with JSON.stringify, which recurses per level.
  // The same pass names a byte-order mark (invisible in the "{" message below) and notes the keys
  // of the objects staq reads, since JSON.parse keeps the last of repeated keys without a word:
  // the top level (tensor names, "__metadata__") and, one level down, the metadata and each
  // tensor entry. Deeper objects are no part of the format, and nothing reads their keys.
  const keys = scanJsonKeys(text, "the header", 2);
  if (!text.startsWith("{")) {
    throw new StaqFormatError(`the header must be a JSON object starting with "{"; it starts with ${JSON.stringify(text.slice(0, 16))}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(`the header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new StaqFormatError("the header must be a JSON object of tensors");
  }
  const repeat = repeatedJsonKey(text, keys);
  if (repeat !== undefined) throw new StaqFormatError(repeatedKeyMessage(repeat));
  return { header: header as Record<string, unknown>, bufferStart: 8 + headerBytes };
}

/** What a key written twice in the header is, in the header's terms: a tensor, __metadata__, a metadata key, a field. */
function repeatedKeyMessage({ key, depth, parent }: RepeatedJsonKey): string {
  const why = "JSON readers keep only one of the two (which one differs between readers), so remove the one you do not mean";
  if (depth === 1 && key === METADATA_KEY) return `${quote(METADATA_KEY)} is written twice in the header; ${why}`;
  if (depth === 1) return `tensor ${quote(key)} is listed twice in the header; ${why}`;
  // Keys are collected two levels deep and the header is an object, so this one is in the value of the top-level key `parent`.
  if (parent === METADATA_KEY) return `${METADATA_KEY} has ${quote(key)} twice; ${why}`;
  return `tensor ${quote(parent!)} has the field ${quote(key)} twice; ${why}`;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StaqFormatError(`${METADATA_KEY} must be an object of strings; got ${JSON.stringify(value)}`);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw new StaqFormatError(`${METADATA_KEY} ${quote(key)} is ${JSON.stringify(item)}; safetensors metadata values must be strings`);
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseTensorInfo(name: string, info: unknown): TensorEntry {
  const where = `tensor ${quote(name)}`;
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw new StaqFormatError(`${where}: expected { "dtype", "shape", "data_offsets" }; got ${JSON.stringify(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== "string") throw new StaqFormatError(`${where}: "dtype" is missing or not a string`);
  if (dtype !== "F32") {
    if (dtype in SPEC_DTYPES) {
      throw new StaqFormatError(
        `${where} has dtype ${dtype}; staq reads only F32 tensors (save it as float32, e.g. tensor.float() in PyTorch)`,
      );
    }
    throw new StaqFormatError(
      `${where} has unknown dtype ${JSON.stringify(dtype)}; safetensors dtypes are ${Object.keys(SPEC_DTYPES).join(", ")}`,
    );
  }
  const dims = checkShape(shape, where, StaqFormatError);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new StaqFormatError(`${where}: "data_offsets" must be [begin, end] with integers >= 0; got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new StaqFormatError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const needed = elementCount(dims) * 4;
  if (end - begin !== needed) {
    throw new StaqFormatError(
      `${where}: shape [${dims}] of F32 needs ${needed} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, shape: dims, begin, end };
}

/**
 * Checks that the tensors tile the byte buffer exactly: sorted by offset, each begins where the
 * previous one ended, and the last ends at the end of the file.
 */
function checkCoverage(entries: TensorEntry[], bufferBytes: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorEntry | undefined;
  for (const entry of sorted) {
    if (entry.end > bufferBytes) {
      throw new StaqFormatError(
        `tensor ${quote(entry.name)}: data_offsets [${entry.begin}, ${entry.end}] run past the end of the byte buffer (${bufferBytes} bytes; truncated file?)`,
      );
    }
    if (entry.begin < covered) {
      throw new StaqFormatError(
        `tensors ${quote(previous!.name)} [${previous!.begin}, ${previous!.end}] and ${quote(entry.name)} [${entry.begin}, ${entry.end}] overlap`,
      );
    }
    if (entry.begin > covered) {
      const after = previous ? `after tensor ${quote(previous.name)}` : "at the start of the byte buffer";
      throw new StaqFormatError(
        `bytes [${covered}, ${entry.begin}) ${after} belong to no tensor (a hole before tensor ${quote(entry.name)})`,
      );
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== bufferBytes) {
    const last = previous ? `the last tensor, ${quote(previous.name)}, ends at ${covered}` : "there are no tensors";
    throw new StaqFormatError(
      `the byte buffer has ${bufferBytes} bytes but ${last}; ${bufferBytes - covered} trailing bytes belong to no tensor`,
    );
  }
}

/** Decodes a safetensors file of F32 tensors, validating it completely first. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  const { header, bufferStart } = parseHeader(bytes);
  const metadata = parseMetadata(header[METADATA_KEY]);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, info]) => parseTensorInfo(name, info));
  checkCoverage(entries, bytes.length - bufferStart);
  const tensors = new Map<string, Float32Tensor>();
  for (const { name, shape, begin, end } of entries) {
    tensors.set(name, { shape, data: float32FromLittleEndian(bytes.subarray(bufferStart + begin, bufferStart + end)) });
  }
  return { tensors, metadata };
}
