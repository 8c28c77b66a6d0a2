/**
 * A value as an error message quotes it. Interpolating with `${value}` hides the type: the string
 * "1" and the number 1 both print as 1, so "tau must be a finite number > 0; got 1" reads as a
 * contradiction. Numbers print as JavaScript writes them (NaN and Infinity included, which
 * JSON.stringify would turn into null); everything else says what it is.
 */

/** The longest quotation of an array or object before it is cut with "…". */
const MAX_QUOTE = 60;

export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "string":
      return `the string ${JSON.stringify(value)}`;
    case "bigint":
      return `the bigint ${value}n`;
    case "boolean":
      return `the boolean ${value}`;
    case "undefined":
      return "undefined";
    case "symbol":
      return `the symbol ${String(value)}`;
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // Cycles and bigints inside: the kind of object is all that can be said.
  }
  const kind = Array.isArray(value) ? "an array" : ArrayBuffer.isView(value) ? `a ${value.constructor.name}` : "an object";
  if (text === undefined || ArrayBuffer.isView(value)) return kind;
  return `${kind} ${text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text}`;
}
