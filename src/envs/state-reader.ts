/**
 * Reading a saved environment state back (SnapshotEnv.loadState). A state arrives as untrusted JSON
 * (a checkpoint file, perhaps edited or from another environment), so every value is checked before
 * it is used, and a bad one is reported with the environment, where it sits in the state, what it
 * must be and what it is:
 *
 *   Acrobot-v1: loadState: state.physics must be an array of 4 numbers; got an array of 3
 *
 * Environments read every field first and change themselves only once all of them passed, so a
 * failed load leaves the environment as it was.
 */
import { StaqInputError } from "../errors.ts";

/**
 * A float64 as JSON: the number itself, or a string for the values that JSON cannot carry —
 * JSON.stringify writes NaN and ±Infinity as null and −0 as 0.
 */
export type JsonFloat = number | "-0" | "NaN" | "Infinity" | "-Infinity";

const SPECIAL_FLOATS: Record<string, number> = { "-0": -0, NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** `x` as JSON that reads back bit for bit (decodeFloat / StateReader.float). */
export function encodeFloat(x: number): JsonFloat {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0";
  return x;
}

/** The episode phase every built-in environment keeps. */
export const EPISODE_PHASES = ["idle", "running", "terminated"] as const;

/**
 * Opens a saved state for `owner` (an environment's name): checks that it is an object saved by an
 * environment of that name (`state.env`) and of that kind (`state.kind`, e.g. "classic"), so that a
 * CartPole state is never read as an Acrobot one.
 */
export function openState(owner: string, state: unknown, kind: string): StateReader {
  const root = new StateReader(owner, state);
  const savedBy = root.get("env").value;
  if (savedBy !== owner) {
    if (typeof savedBy === "string") {
      throw new StaqInputError(
        `${owner}: loadState: the state was saved by ${JSON.stringify(savedBy)}, not by ${owner} (state.env); load it into an environment of that name`,
      );
    }
    root.get("env").fail(`the saving environment's name, ${JSON.stringify(owner)}`);
  }
  const savedKind = root.get("kind");
  if (savedKind.value !== kind) savedKind.fail(`${JSON.stringify(kind)} (a state saved by a ${kind} ${owner})`);
  return root;
}

/** One value of a saved state and where it sits in it, with typed, checked reads. */
export class StateReader {
  /**
   * `owner`: the environment reading, for messages; `value`: the value (anything: it is untrusted);
   * `path`: where it sits, e.g. "state.game.lanes[3]".
   */
  constructor(
    readonly owner: string,
    readonly value: unknown,
    readonly path = "state",
  ) {}

  /** Throws the StaqInputError saying that this value must be `should`, and what it is instead. */
  fail(should: string): never {
    throw new StaqInputError(`${this.owner}: loadState: ${this.path} must be ${should}; got ${describe(this.value)}`);
  }

  /** Field `key` of this value, which must be an object (a missing field reads as undefined and fails when read). */
  get(key: string): StateReader {
    if (typeof this.value !== "object" || this.value === null || Array.isArray(this.value) || ArrayBuffer.isView(this.value))
      this.fail("an object");
    const object = this.value as Record<string, unknown>;
    return new StateReader(this.owner, Object.hasOwn(object, key) ? object[key] : undefined, `${this.path}.${key}`);
  }

  /** The elements of this value, which must be a plain array (of exactly `length` elements when given). */
  items(length?: number): StateReader[] {
    const sized = length === undefined ? "an array" : `an array of ${length} ${length === 1 ? "element" : "elements"}`;
    if (!Array.isArray(this.value)) this.fail(sized);
    if (length !== undefined && this.value.length !== length) this.fail(sized);
    return this.value.map((item, i) => new StateReader(this.owner, item, `${this.path}[${i}]`));
  }

  /** A finite number. */
  number(): number {
    if (typeof this.value !== "number" || !Number.isFinite(this.value)) this.fail("a finite number");
    return this.value;
  }

  /** An integer in [min, max]. */
  integer(min: number, max: number): number {
    const v = this.value;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(`an integer in [${bound(min)}, ${bound(max)}]`);
    return v;
  }

  /**
   * A float64 written by encodeFloat. With `finite` (the default), NaN and ±Infinity are refused, and
   * so is everything but a number or "-0".
   */
  float(options: { finite?: boolean } = {}): number {
    const finite = options.finite ?? true;
    const v = this.value;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && Object.hasOwn(SPECIAL_FLOATS, v) && (!finite || v === "-0")) return SPECIAL_FLOATS[v];
    return this.fail(finite ? `a finite number (or "-0")` : `a number or one of "-0", "NaN", "Infinity", "-Infinity"`);
  }

  boolean(): boolean {
    if (typeof this.value !== "boolean") this.fail("true or false");
    return this.value;
  }

  /** One of `choices` (strings or numbers), compared with ===. */
  oneOf<T extends string | number>(choices: readonly T[]): T {
    if (!choices.includes(this.value as T)) this.fail(`one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`);
    return this.value as T;
  }

  /** An array of exactly `length` integers in [min, max]. */
  integers(length: number, min: number, max: number): number[] {
    const should = `an array of ${length} integers in [${bound(min)}, ${bound(max)}]`;
    if (!Array.isArray(this.value) || this.value.length !== length) this.fail(should);
    return this.items(length).map((item) => item.integer(min, max));
  }

  /** An array of exactly `length` float64s written by encodeFloat (see float). */
  floats(length: number, options: { finite?: boolean } = {}): number[] {
    if (!Array.isArray(this.value) || this.value.length !== length) this.fail(`an array of ${length} numbers`);
    return this.items(length).map((item) => item.float(options));
  }

  /** null, or what `read` makes of this value. */
  orNull<T>(read: (reader: StateReader) => T): T | null {
    return this.value === null ? null : read(this);
  }

  /**
   * What `parse` makes of this value, for values that another module validates (a generator's
   * state): its StaqInputError is re-thrown with this value's place in the state.
   */
  parse<T>(parse: (value: unknown) => T): T {
    try {
      return parse(this.value);
    } catch (error) {
      if (!(error instanceof StaqInputError)) throw error;
      throw new StaqInputError(`${this.owner}: loadState: ${this.path}: ${error.message}`, { cause: error });
    }
  }
}

/** Checks `state.game` (a MinAtar game's state, or any tagged part) names `expected`. */
export function checkTag(reader: StateReader, key: string, expected: string): void {
  const tag = reader.get(key);
  if (tag.value !== expected) tag.fail(JSON.stringify(expected));
}

function bound(x: number): string {
  if (x === Number.MAX_SAFE_INTEGER) return "2^53 - 1";
  if (x === Number.MIN_SAFE_INTEGER) return "-(2^53 - 1)";
  return String(x);
}

/** A short description of an untrusted value, for messages. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} (convert typed arrays to plain arrays)`;
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
