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

/** Checks shapes, that every row of P is a distribution, that γ is in [0, 1), and that nothing is NaN. */
export function validateMdp(mdp: Mdp): void {
  const { states: S, actions: A, P, R, gamma } = mdp;
  if (!(Number.isInteger(S) && S >= 1)) throw new StaqInputError(`an MDP needs at least one state; got states = ${describeValue(S)}`);
  if (!(Number.isInteger(A) && A >= 1)) throw new StaqInputError(`an MDP needs at least one action; got actions = ${describeValue(A)}`);
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

/** A validated MDP from flat arrays (copied). */
export function createMdp(input: { states: number; actions: number; P: ArrayLike<number>; R: ArrayLike<number>; gamma: number }): Mdp {
  const mdp: Mdp = {
    states: input.states,
    actions: input.actions,
    P: Float64Array.from(input.P),
    R: Float64Array.from(input.R),
    gamma: input.gamma,
  };
  validateMdp(mdp);
  return mdp;
}

/** A validated MDP from nested arrays P [S][A][S] and R [S][A]; shape mistakes name the entry. */
export function mdpFromArrays(input: MdpArrays): Mdp {
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
  const P = new Float64Array(S * A * S);
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
