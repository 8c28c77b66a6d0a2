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

/**
 * Throws a StaqFormatError naming `source` when `text` nests arrays and objects deeper than
 * `limit`. One pass over the characters, skipping strings (brackets inside them do not count);
 * it does not validate the JSON, which JSON.parse does next.
 */
export function checkJsonDepth(text: string, source: string, limit = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
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

/** JSON.parse after `checkJsonDepth`, with a StaqFormatError naming `source` when the text is not JSON. */
export function parseJsonText(text: string, source: string): unknown {
  checkJsonDepth(text, source);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StaqFormatError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}
