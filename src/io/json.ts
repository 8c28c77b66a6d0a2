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
 * that measures the depth notes where each top-level key is written; repeats in nested objects go
 * unseen, but none of these files has a nested object whose keys staq reads.
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

/**
 * One pass over the characters, skipping strings (brackets inside them do not count): throws a
 * StaqFormatError naming `source` when `text` nests arrays and objects deeper than `limit`, and,
 * given `keys`, collects where each key of the top-level object is written ([start, end) of its
 * quoted text), repeats included. It does not validate the JSON, which JSON.parse does next.
 */
function scanJson(text: string, source: string, limit: number, keys?: [number, number][]): void {
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  let topIsObject = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        // A string directly inside the top-level object and followed by ":" is one of its keys.
        if (keys && depth === 1 && topIsObject) {
          let j = i + 1;
          while (j < text.length && isJsonSpace(text.charCodeAt(j))) j++;
          if (text.charCodeAt(j) === COLON) keys.push([stringStart, i + 1]);
        }
      }
    } else if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === 0) topIsObject = c === OPEN_BRACE;
      if (++depth > limit) {
        throw new StaqFormatError(
          `${source} is nested deeper than ${limit} levels of arrays and objects (level ${limit + 1} opens at character ${i}); staq's JSON inputs nest only a few levels, so check that this is the right file`,
        );
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
}

/**
 * Throws a StaqFormatError naming `source` when `text` nests arrays and objects deeper than
 * `limit`. One pass over the characters, skipping strings (brackets inside them do not count);
 * it does not validate the JSON, which JSON.parse does next.
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
  const keys: [number, number][] = [];
  scanJson(text, source, MAX_JSON_DEPTH, keys);
  const parsed = parseAllowingNonFinite(text, source);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StaqFormatError(`${source} is not a JSON object; ${shape.expected}`);
  // The text parsed, so every collected key is a valid JSON string ("\u0050" is "P").
  const seen = new Set<string>();
  for (const [start, end] of keys) {
    const key = JSON.parse(text.slice(start, end)) as string;
    if (seen.has(key)) {
      throw new StaqFormatError(
        `${source} has the field ${JSON.stringify(key)} twice; JSON.parse would keep only the last, so remove the one you do not mean (${shape.expected})`,
      );
    }
    seen.add(key);
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
