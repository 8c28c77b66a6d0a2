/**
 * JSON input files: parse errors become StaqFormatErrors that name the file, so every command
 * reports a bad file the same way.
 *
 * Nesting is bounded before parsing. JSON.parse itself copes with deep nesting, but what reads
 * the result afterwards (the checks that quote an entry with JSON.stringify, structured clone,
 * util.inspect) recurses once per level, and a file of a few thousand brackets then ends in
 * "Maximum call stack size exceeded" instead of a message about the file. No staq file nests
 * deeper than a handful of levels; 128 is also the limit of serde_json, which the reference
 * safetensors reader uses, so a header staq refuses for depth is one the reference refuses too.
 *
 * The files that are one object of known fields (`parseJsonObject`: the states of `staq logits`,
 * the MDP of `staq tabular`, the batch of `staq fit`) refuse any other field and a key written
 * twice. JSON.parse keeps the last of repeated keys and has no hook to see them, so the same pass
 * that measures the depth notes where each key is written (`scanJsonKeys`); for these files only
 * the top-level keys are looked at, as none has a nested object whose keys staq reads. The
 * safetensors header (./safetensors.ts) uses the same pass two levels deep, for the objects whose
 * keys it reads: tensor names, `__metadata__` keys and the fields of each tensor entry.
 *
 * Text that is not plain UTF-8 is refused in that pass too, so every JSON input (and the header)
 * says so the same way. A UTF-8 byte-order mark (Windows PowerShell 5's `Out-File -Encoding utf8`
 * and older Notepad write one) is refused rather than skipped: RFC 8259 lets a reader ignore it,
 * but JSON.parse, Python's json.loads and serde_json all refuse it, and readers that do their own
 * JSON.parse after `checkJsonDepth` (a run's config.json) could not skip it, so skipping it here
 * would make the same file good for one command and bad for another. UTF-16 (what Windows tools
 * call "Unicode"), read as UTF-8, becomes U+FFFD for its byte-order mark and NULs between the
 * characters; it is named as such rather than parsed as garbage.
 */
import { StaqFormatError } from "../errors.ts";

/** The deepest nesting of arrays and objects a JSON input may have. */
export const MAX_JSON_DEPTH = 128;

/** The same check by character code: `{` and `[` open a level, `}` and `]` close one, `"` and `\` delimit strings. */
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whitespace JSON allows between tokens. */
const isJsonSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const COLON = 0x3a;

/** A key of an object in JSON text, as `scanJsonKeys` finds it. */
export interface JsonKey {
  /** Where its quoted text is: [start, end), quotes included. */
  start: number;
  end: number;
  /** Where the "{" of the object holding it is: keys with the same `object` are keys of one object. */
  object: number;
  /** How deep that object is: 1 for the top-level object. */
  depth: number;
}

const BYTE_ORDER_MARK = 0xfeff;
const REPLACEMENT_CHARACTER = "\ufffd";
/** How to save a file so that staq can read it, ending the encoding errors. */
const SAVE_AS_UTF8 = 'save it as UTF-8 without a byte-order mark (the editor\'s "UTF-8", not "UTF-8 with BOM" or "Unicode")';

/** Throws a StaqFormatError naming `source` when `text` starts with a byte-order mark or looks like UTF-16 read as UTF-8. */
function refuseOtherEncodings(text: string, source: string): void {
  if (text.charCodeAt(0) === BYTE_ORDER_MARK) {
    throw new StaqFormatError(
      `${source} starts with a UTF-8 byte-order mark (BOM), an invisible character before the JSON that JSON readers refuse; ${SAVE_AS_UTF8}`,
    );
  }
  // UTF-16's byte-order mark (FF FE or FE FF) is two invalid UTF-8 bytes, each read as U+FFFD; without
  // a mark, its ASCII characters come with a NUL byte each. JSON text never holds a raw NUL.
  if (text.startsWith(REPLACEMENT_CHARACTER.repeat(2)) || text.slice(0, 4).includes("\u0000")) {
    throw new StaqFormatError(
      `${source} is not UTF-8 text: it looks like UTF-16 (what Windows tools call "Unicode") or UTF-32, which staq does not read; ${SAVE_AS_UTF8}`,
    );
  }
}

/**
 * One pass over the characters, skipping strings (brackets inside them do not count): throws a
 * StaqFormatError naming `source` when `text` is not plain UTF-8 (`refuseOtherEncodings`) or nests
 * arrays and objects deeper than `limit`, and, given `keys`, collects the keys of the objects
 * nested at most `keyDepth` deep (1: the top-level object's only), repeats included. It does not
 * validate the JSON, which JSON.parse does next.
 */
function scanJson(text: string, source: string, limit: number, keys?: JsonKey[], keyDepth = 1): void {
  refuseOtherEncodings(text, source);
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  // Per open level, where its "{" is, or -1 for an array.
  const objects: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        // A string directly inside an object and followed by ":" is one of its keys.
        if (keys && depth >= 1 && depth <= keyDepth && objects[depth - 1] >= 0) {
          let j = i + 1;
          while (j < text.length && isJsonSpace(text.charCodeAt(j))) j++;
          if (text.charCodeAt(j) === COLON) keys.push({ start: stringStart, end: i + 1, object: objects[depth - 1], depth });
        }
      }
    } else if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) {
        throw new StaqFormatError(
          `${source} is nested deeper than ${limit} levels of arrays and objects (level ${limit + 1} opens at character ${i}); staq's JSON inputs nest only a few levels, so check that this is the right file`,
        );
      }
      objects[depth - 1] = c === OPEN_BRACE ? i : -1;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
}

/**
 * `checkJsonDepth`'s checks, returning the keys of the objects nested at most `keyDepth` deep
 * (1: the top-level object's; arrays count as levels too), for `repeatedJsonKey`.
 */
export function scanJsonKeys(text: string, source: string, keyDepth: number): JsonKey[] {
  const keys: JsonKey[] = [];
  scanJson(text, source, MAX_JSON_DEPTH, keys, keyDepth);
  return keys;
}

/** A key written twice in one object, for a message that says where. */
export interface RepeatedJsonKey {
  key: string;
  /** How deep its object is: 1 for the top-level object (arrays count as levels too). */
  depth: number;
  /**
   * At depth 2, the top-level key whose value the object is (an object at depth 2 can be nothing
   * else when the top level is an object); undefined at other depths.
   */
  parent?: string;
  /** Where the second writing of the key starts in the text (its opening quote), for a line number. */
  start: number;
}

/**
 * The first key of `keys` (from `scanJsonKeys` over `text`, which JSON.parse has accepted) that its
 * object already has, or undefined when no object repeats a key. Keys are compared as the strings
 * they stand for, so "\u0077" repeats "w".
 */
export function repeatedJsonKey(text: string, keys: readonly JsonKey[]): RepeatedJsonKey | undefined {
  // Objects at one depth follow each other without overlapping, so the keys of one object are
  // consecutive among the keys of its depth: one set per depth, emptied when the object changes,
  // rather than a set per object (a header may have a million tensor entries).
  const seen: Set<string>[] = [];
  const current: number[] = [];
  // The latest top-level key: the one whose value an object at depth 2 is.
  let topLevelKey: string | undefined;
  for (const { start, end, object, depth } of keys) {
    // The text parsed, so every collected key is a valid JSON string; most have no escape to decode.
    const raw = text.slice(start + 1, end - 1);
    const key = raw.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : raw;
    if (depth === 1) topLevelKey = key;
    if (current[depth - 1] !== object) {
      current[depth - 1] = object;
      (seen[depth - 1] ??= new Set()).clear();
    }
    const keysOfObject = seen[depth - 1];
    if (keysOfObject.has(key)) return { key, depth, start, ...(depth === 2 && topLevelKey !== undefined ? { parent: topLevelKey } : {}) };
    keysOfObject.add(key);
  }
  return undefined;
}

/**
 * Throws a StaqFormatError naming `source` when `text` nests arrays and objects deeper than
 * `limit`, or starts with a byte-order mark or looks like UTF-16 (`refuseOtherEncodings`). One
 * pass over the characters, skipping strings (brackets inside them do not count); it does not
 * validate the JSON, which JSON.parse does next.
 */
export function checkJsonDepth(text: string, source: string, limit = MAX_JSON_DEPTH): void {
  scanJson(text, source, limit);
}

/** A string token or a bare NaN / Infinity / -Infinity outside strings. */
const NON_FINITE_TOKEN = /"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g;
/** What a bare non-finite token becomes for a second JSON.parse, which turns it back into the number. */
const NON_FINITE_MARK = "\u0000non-finite ";

/** `text` with every bare NaN / ±Infinity outside strings replaced by a marked string, or undefined if it has none. */
function markNonFinite(text: string): string | undefined {
  const marked = text.replace(NON_FINITE_TOKEN, (match, token?: string) => (token ? JSON.stringify(NON_FINITE_MARK + token) : match));
  return marked === text ? undefined : marked;
}

/** The StaqFormatError for text JSON.parse refused, with a word on NaN and Infinity if the text has them bare. */
function syntaxError(text: string, source: string, error: unknown): StaqFormatError {
  // Python's json module writes NaN and Infinity bare by default; JSON has neither.
  const hint =
    markNonFinite(text) === undefined
      ? ""
      : " (the file has a bare NaN or Infinity: JSON has neither, and staq's inputs must be finite numbers)";
  return new StaqFormatError(`${source} is not valid JSON: ${(error as Error).message}${hint}`);
}

/** JSON.parse after `checkJsonDepth`, with a StaqFormatError naming `source` when the text is not JSON. */
export function parseJsonText(text: string, source: string): unknown {
  checkJsonDepth(text, source);
  return parseScannedJson(text, source);
}

/**
 * parseJsonText for text whose encoding and depth were already checked, by `scanJsonKeys` (which
 * makes the same pass): JSON.parse, with a StaqFormatError naming `source` when the text is not JSON.
 */
export function parseScannedJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw syntaxError(text, source, error);
  }
}

/**
 * JSON.parse, except that bare NaN and ±Infinity (which Python's json module writes by default,
 * but JSON does not allow) parse as those numbers: the caller's finiteness checks then name the
 * entry holding one ("targets[3] is NaN") instead of a JSON syntax error somewhere in the file.
 */
function parseAllowingNonFinite(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const marked = markNonFinite(text);
    if (marked !== undefined) {
      try {
        return JSON.parse(marked, (_key, value: unknown) =>
          typeof value === "string" && value.startsWith(NON_FINITE_MARK) ? Number(value.slice(NON_FINITE_MARK.length)) : value,
        );
      } catch {
        // Not valid even so: report the file's own syntax error below.
      }
    }
    throw syntaxError(text, source, error);
  }
}

/** What `parseJsonObject` accepts. */
export interface JsonObjectShape {
  /** The fields the object may have; any other is refused (the caller checks for missing ones). */
  fields: readonly string[];
  /** What the file should look like, e.g. 'expected {"states": [[...], ...]}', ending each message. */
  expected: string;
}

/**
 * Parses an input file that is one JSON object of known fields. Refuses, with a StaqFormatError
 * naming `source`: text that is not JSON or nests too deep; a value that is not an object; a field
 * not in `shape.fields` (a misspelt or misplaced one would otherwise be ignored without a word);
 * and a top-level key written twice, which JSON.parse would resolve silently by keeping the last.
 * Bare NaN and ±Infinity parse as numbers, for the caller to refuse naming the entry.
 */
export function parseJsonObject(text: string, source: string, shape: JsonObjectShape): Record<string, unknown> {
  const keys = scanJsonKeys(text, source, 1);
  const parsed = parseAllowingNonFinite(text, source);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StaqFormatError(`${source} is not a JSON object; ${shape.expected}`);
  const repeat = repeatedJsonKey(text, keys);
  if (repeat !== undefined) {
    throw new StaqFormatError(
      `${source} has the field ${JSON.stringify(repeat.key)} twice; JSON.parse would keep only the last, so remove the one you do not mean (${shape.expected})`,
    );
  }
  const record = parsed as Record<string, unknown>;
  const unexpected = Object.keys(record).find((key) => !shape.fields.includes(key));
  if (unexpected !== undefined) {
    throw new StaqFormatError(
      `${source}: unexpected field ${JSON.stringify(unexpected)}; ${shape.expected}, with no other fields (a misspelt one would otherwise be ignored)`,
    );
  }
  return record;
}
