/**
 * A finite MDP small enough to solve exactly: transition probabilities P[s][a][s'], expected
 * rewards R[s][a] and a discount γ. Stored flat in float64 so the solvers run over typed arrays:
 * P at ((s·A + a)·S + s'), R at (s·A + a).
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { parseJsonObject } from "../io/json.ts";
import { describeValue } from "../io/describe-value.ts";

export interface Mdp {
  readonly states: number;
  readonly actions: number;
  /** Row-major [S, A, S]: P[(s·A + a)·S + s'] = Pr(s' | s, a). */
  readonly P: Float64Array;
  /** Row-major [S, A]: R[s·A + a], the expected reward of taking a in s. */
  readonly R: Float64Array;
  /** Discount, 0 ≤ γ < 1. */
  readonly gamma: number;
}

/** How far a row of P may sum from 1. */
export const ROW_SUM_TOLERANCE = 1e-9;

type Nested<T> = ArrayLike<T>;

/** An MDP as nested arrays, the form of the JSON file: P [S][A][S], R [S][A]. */
export interface MdpArrays {
  P: Nested<Nested<Nested<number>>>;
  R: Nested<Nested<number>>;
  gamma: number;
}

/**
 * Checks that `mdp` is an Mdp: an object whose P and R are Float64Arrays of the right shapes, every
 * row of P a distribution, γ in [0, 1), and nothing NaN. Always checks every entry; see `checkMdp`.
 */
export function validateMdp(mdp: Mdp): void {
  if (typeof mdp !== "object" || mdp === null)
    throw new StaqInputError(`the MDP must be an object {states, actions, P, R, gamma} (createMdp builds one); got ${describeValue(mdp)}`);
  const { states: S, actions: A, P, R, gamma } = mdp;
  if (!(Number.isInteger(S) && S >= 1)) throw new StaqInputError(`an MDP needs at least one state; got states = ${describeValue(S)}`);
  if (!(Number.isInteger(A) && A >= 1)) throw new StaqInputError(`an MDP needs at least one action; got actions = ${describeValue(A)}`);
  // A plain array would hold strings or holes that arithmetic turns into numbers or NaN silently.
  if (!(P instanceof Float64Array))
    throw new StaqInputError(
      `the MDP's P must be a Float64Array, row-major [S, A, S] (createMdp converts arrays); got ${describeValue(P)}`,
    );
  if (!(R instanceof Float64Array))
    throw new StaqInputError(`the MDP's R must be a Float64Array, row-major [S, A] (createMdp converts arrays); got ${describeValue(R)}`);
  if (P.length !== S * A * S)
    throw new StaqInputError(`P has ${P.length} entries; ${S} states × ${A} actions × ${S} next states need ${S * A * S}`);
  if (R.length !== S * A) throw new StaqInputError(`R has ${R.length} entries; ${S} states × ${A} actions need ${S * A}`);
  if (!(typeof gamma === "number" && gamma >= 0 && gamma < 1)) {
    throw new StaqInputError(`gamma must satisfy 0 <= gamma < 1 (a discounted MDP); got ${describeValue(gamma)}`);
  }
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const where = `state ${s}, action ${a}`;
      if (!Number.isFinite(R[s * A + a]))
        throw new StaqInputError(`R[${s}][${a}] (${where}) is ${R[s * A + a]}; rewards must be finite numbers`);
      let sum = 0;
      for (let next = 0; next < S; next++) {
        const p = P[(s * A + a) * S + next];
        if (!Number.isFinite(p))
          throw new StaqInputError(`P[${s}][${a}][${next}] (${where}) is ${p}; probabilities must be finite numbers`);
        if (p < 0) throw new StaqInputError(`P[${s}][${a}][${next}] (${where}) is ${p}; probabilities must be >= 0`);
        sum += p;
      }
      if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) {
        throw new StaqInputError(
          `P[${s}][${a}] (${where}) sums to ${sum}, not 1; each row of P must be a probability distribution over next states (within ${ROW_SUM_TOLERANCE})`,
        );
      }
    }
  }
}

/** The fields of each MDP `checkMdp` has validated, as they were then. */
const validated = new WeakMap<object, Mdp>();

/**
 * `validateMdp`, once per MDP: every solver calls this at its entry, and an MDP that passed before
 * with the same fields (the same P and R arrays, states, actions and γ) is not scanned again, so a
 * solver called in a loop (softBellman, backupQ) does not pay O(S²A) per call for the check.
 * An MDP is treated as immutable (its fields are readonly): entries of P or R changed in place after
 * its first use are not checked again; build a new one with createMdp instead.
 */
export function checkMdp(mdp: Mdp): void {
  const seen = typeof mdp === "object" && mdp !== null ? validated.get(mdp) : undefined;
  if (
    seen &&
    seen.P === mdp.P &&
    seen.R === mdp.R &&
    seen.states === mdp.states &&
    seen.actions === mdp.actions &&
    seen.gamma === mdp.gamma
  )
    return;
  validateMdp(mdp);
  validated.set(mdp, { states: mdp.states, actions: mdp.actions, P: mdp.P, R: mdp.R, gamma: mdp.gamma });
}

/**
 * The most float64 entries one array can hold in Node (2^32, 32 GiB). A dense MDP's P needs S·A·S:
 * past this, or past the memory there is, the allocation is a RangeError that names neither.
 */
export const MAX_DENSE_ENTRIES = 2 ** 32;

/** A zeroed Float64Array of `count` entries, or a StaqInputError naming `what` and how to make it fit. */
export function allocateDense(count: number, what: string, fix: string): Float64Array {
  const gigabytes = `${((8 * count) / 2 ** 30).toPrecision(3)} GiB`;
  if (count > MAX_DENSE_ENTRIES)
    throw new StaqInputError(`${what} needs ${count} float64 entries (${gigabytes}), more than one array can hold (2^32); ${fix}`);
  try {
    return new Float64Array(count);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new StaqInputError(`${what} needs ${count} float64 entries (${gigabytes}), more memory than could be allocated; ${fix}`, {
      cause: error,
    });
  }
}

/** Checks that `values` is an array (or typed array) of numbers; `name` says which argument. */
function checkNumbers(values: unknown, name: string, shape: string): asserts values is ArrayLike<number> {
  if (!(Array.isArray(values) || ArrayBuffer.isView(values)))
    throw new StaqInputError(`${name} must be an array of numbers, row-major ${shape}; got ${describeValue(values)}`);
  if (values instanceof Float64Array || values instanceof Float32Array) return;
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < list.length; i++) {
    // Float64Array.from would turn "1" into 1, null into 0 and undefined (a hole) into NaN.
    if (typeof list[i] !== "number") throw new StaqInputError(`${name}[${i}] is ${describeValue(list[i])}; expected a number`);
  }
}

/** A validated MDP from flat arrays (copied). */
export function createMdp(input: { states: number; actions: number; P: ArrayLike<number>; R: ArrayLike<number>; gamma: number }): Mdp {
  if (typeof input !== "object" || input === null)
    throw new StaqInputError(`createMdp needs {states, actions, P, R, gamma}; got ${describeValue(input)}`);
  checkNumbers(input.P, "P", "[S, A, S]");
  checkNumbers(input.R, "R", "[S, A]");
  // The copy doubles P's memory for a moment: a big one fails here with a message, not a RangeError.
  const P = allocateDense(input.P.length, `createMdp: a copy of P (${input.P.length} entries)`, "use fewer states or actions");
  P.set(input.P);
  const mdp: Mdp = { states: input.states, actions: input.actions, P, R: Float64Array.from(input.R), gamma: input.gamma };
  checkMdp(mdp);
  return mdp;
}

/** A validated MDP from nested arrays P [S][A][S] and R [S][A]; shape mistakes name the entry. */
export function mdpFromArrays(input: MdpArrays): Mdp {
  if (typeof input !== "object" || input === null)
    throw new StaqInputError(`mdpFromArrays needs {P: [S][A][S], R: [S][A], gamma}; got ${describeValue(input)}`);
  const describe = (value: unknown) => (Array.isArray(value) ? `an array of ${value.length}` : (JSON.stringify(value) ?? String(value)));
  const isList = (value: unknown): value is Nested<unknown> => Array.isArray(value) || ArrayBuffer.isView(value);
  if (!isList(input.P)) throw new StaqInputError(`P must be an array [S][A][S] of transition probabilities; got ${describe(input.P)}`);
  if (!isList(input.R)) throw new StaqInputError(`R must be an array [S][A] of rewards; got ${describe(input.R)}`);
  const S = input.P.length;
  const first = input.P[0];
  if (S === 0 || !isList(first) || first.length === 0)
    throw new StaqInputError("P must be a non-empty array [S][A][S]: at least one state and one action");
  const A = first.length;
  if (input.R.length !== S) throw new StaqInputError(`R has ${input.R.length} rows but P has ${S} states; R must be [S][A] = [${S}][${A}]`);
  const P = allocateDense(S * A * S, `P of ${S} states × ${A} actions × ${S} next states`, "use fewer states or actions");
  const R = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    const rowP = input.P[s];
    const rowR = input.R[s];
    if (!isList(rowP) || rowP.length !== A)
      throw new StaqInputError(`P[${s}] is ${describe(rowP)}; every state needs ${A} actions (as P[0] has)`);
    if (!isList(rowR) || rowR.length !== A)
      throw new StaqInputError(`R[${s}] is ${describe(rowR)}; every state needs ${A} rewards, one per action`);
    for (let a = 0; a < A; a++) {
      const distribution = rowP[a];
      if (!isList(distribution) || distribution.length !== S) {
        throw new StaqInputError(
          `P[${s}][${a}] (state ${s}, action ${a}) is ${describe(distribution)}; it must list ${S} probabilities, one per next state`,
        );
      }
      for (let next = 0; next < S; next++) {
        const p = distribution[next];
        if (typeof p !== "number")
          throw new StaqInputError(`P[${s}][${a}][${next}] (state ${s}, action ${a}) is ${describe(p)}; expected a number`);
        P[(s * A + a) * S + next] = p;
      }
      const r = rowR[a];
      if (typeof r !== "number") throw new StaqInputError(`R[${s}][${a}] (state ${s}, action ${a}) is ${describe(r)}; expected a number`);
      R[s * A + a] = r;
    }
  }
  if (typeof input.gamma !== "number") throw new StaqInputError(`gamma must be a number in [0, 1); got ${describe(input.gamma)}`);
  return createMdp({ states: S, actions: A, P, R, gamma: input.gamma });
}

/** The MDP as plain nested arrays, the JSON form `{"P": [[[...]]], "R": [[...]], "gamma": g}`. */
export function mdpToArrays(mdp: Mdp): { P: number[][][]; R: number[][]; gamma: number } {
  checkMdp(mdp);
  const { states: S, actions: A } = mdp;
  const P = Array.from({ length: S }, (_, s) =>
    Array.from({ length: A }, (_, a) => Array.from(mdp.P.subarray((s * A + a) * S, (s * A + a + 1) * S))),
  );
  const R = Array.from({ length: S }, (_, s) => Array.from(mdp.R.subarray(s * A, (s + 1) * A)));
  return { P, R, gamma: mdp.gamma };
}

/**
 * Parses an MDP file `{"P": [[[...]]], "R": [[...]], "gamma": g}` (no other fields, none twice).
 * Every problem, from bad JSON to a row of P that is not a distribution, is a StaqFormatError that
 * names `source` and the entry.
 */
export function mdpFromJson(text: string, source = "the MDP JSON"): Mdp {
  const expected = 'expected {"P": [[[p, ...], ...], ...], "R": [[r, ...], ...], "gamma": g} with P [S][A][S] and R [S][A]';
  // Only P, R and gamma, each once: a "tau" in the file, say, is not a setting, and would be ignored.
  // A bare NaN or Infinity parses as the number, which validateMdp refuses naming the entry.
  const record = parseJsonObject(text, source, { fields: ["P", "R", "gamma"], expected });
  for (const key of ["P", "R", "gamma"]) {
    if (!(key in record)) throw new StaqFormatError(`${source} has no "${key}"; ${expected}`);
  }
  try {
    return mdpFromArrays(record as unknown as MdpArrays);
  } catch (error) {
    if (error instanceof StaqInputError) throw new StaqFormatError(`${source}: ${error.message}`, { cause: error });
    throw error;
  }
}
