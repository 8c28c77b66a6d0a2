// Every function of the tabular API (src/tabular/index.ts) checks what it is given (the
// break-tester's lib1.mjs and lib2.mjs): a hand-built Mdp with gamma 1.5, a row of P summing to 0.6
// or a NaN reward used to run, huge generators failed with a bare RangeError, and several
// functions threw TypeErrors or returned garbage. Each now throws a StaqInputError naming the
// argument and what it must be.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqInputError } from "../../src/errors.ts";
import * as T from "../../src/tabular/index.ts";

/** The tester's 2-state MDP as a plain object, not built by createMdp; `change` spoils it. */
const raw = (change: Partial<Record<"gamma" | "P" | "R", unknown>> = {}) =>
  ({
    states: 2,
    actions: 2,
    P: new Float64Array([0.5, 0.5, 1, 0, 0, 1, 0.2, 0.8]),
    R: new Float64Array([0, 1, 2, -1]),
    gamma: 0.9,
    ...change,
  }) as T.Mdp;

const inputError = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StaqInputError, `${String(error)} is not a StaqInputError`);
  assert.match(error.message, pattern);
  return true;
};

test("a hand-built MDP is validated by every solver: gamma 1.5, a row summing to 0.6, a NaN reward", () => {
  const spoilt: [T.Mdp, RegExp][] = [
    [raw({ gamma: 1.5 }), /^gamma must satisfy 0 <= gamma < 1 \(a discounted MDP\); got 1\.5$/],
    [raw({ P: new Float64Array([0.3, 0.3, 1, 0, 0, 1, 0.2, 0.8]) }), /^P\[0\]\[0\] \(state 0, action 0\) sums to 0\.6, not 1/],
    // Was "soft policy evaluation overflows float64: V(0) is NaN", blaming the size of R.
    [raw({ R: new Float64Array([0, 1, 2, NaN]) }), /^R\[1\]\[1\] \(state 1, action 1\) is NaN; rewards must be finite numbers$/],
    [
      raw({ P: [0.5, 0.5, 1, 0, 0, 1, 0.2, 0.8] }),
      /^the MDP's P must be a Float64Array, row-major \[S, A, S\] \(createMdp converts arrays\)/,
    ],
    [undefined as unknown as T.Mdp, /^the MDP must be an object \{states, actions, P, R, gamma\}.*got undefined$/],
  ];
  const uniform = T.uniformPolicy(2, 2);
  for (const [mdp, message] of spoilt) {
    assert.throws(() => T.tabularPmd(mdp, { variant: "exact", eta: 1, tau: 1, iterations: 3 }), inputError(message));
    assert.throws(() => T.softOptimum(mdp, { tau: 1 }), inputError(message));
    assert.throws(() => T.softPolicyEvaluation(mdp, uniform, 1), inputError(message));
    assert.throws(() => T.softValueIteration(mdp, { tau: 1 }), inputError(message));
    assert.throws(() => T.softPolicyIteration(mdp, { tau: 1 }), inputError(message));
    assert.throws(() => T.softBellman(mdp, new Float64Array(4), 1), inputError(message));
    assert.throws(() => T.backupQ(mdp, new Float64Array(2)), inputError(message));
    assert.throws(() => T.softStateValues(mdp, uniform, 1), inputError(message));
    assert.throws(() => T.softEvaluationErrorBound(mdp, 1), inputError(message));
    assert.throws(() => T.mdpToArrays(mdp), inputError(message));
  }
  // The valid one runs. It is scanned once (checkMdp remembers it), but a field changed since is
  // noticed: the remembered fields are compared on every call.
  const fine = raw();
  assert.equal(T.tabularPmd(fine, { variant: "exact", eta: 1, tau: 1, iterations: 3 }).errors.length, 3);
  (fine as { gamma: number }).gamma = 1.5;
  assert.throws(() => T.softOptimum(fine, { tau: 1 }), inputError(/^gamma must satisfy 0 <= gamma < 1 \(a discounted MDP\); got 1\.5$/));
});

test("createMdp and mdpFromArrays refuse non-numbers instead of converting them, and a missing input", () => {
  const base = { states: 1, actions: 1, P: [1], gamma: 0.5 };
  // Float64Array.from turned "1" into 1 and null into 0.
  assert.throws(
    () => T.createMdp({ ...base, R: ["1"] as unknown as number[] }),
    inputError(/^R\[0\] is the string "1"; expected a number$/),
  );
  assert.throws(() => T.createMdp({ ...base, R: [null] as unknown as number[] }), inputError(/^R\[0\] is null; expected a number$/));
  assert.throws(() => T.createMdp({ ...base, R: [1], P: "1" as unknown as number[] }), inputError(/^P must be an array of numbers/));
  assert.throws(() => T.createMdp(undefined as never), inputError(/^createMdp needs \{states, actions, P, R, gamma\}; got undefined$/));
  assert.throws(
    () => T.mdpFromArrays(null as never),
    inputError(/^mdpFromArrays needs \{P: \[S\]\[A\]\[S\], R: \[S\]\[A\], gamma\}; got null$/),
  );
  assert.equal(T.createMdp({ ...base, R: new Float32Array([2]) }).R[0], 2);
});

test("generators too large for a dense P say so, naming the size, instead of a bare RangeError", () => {
  assert.throws(
    () => T.garnetMdp({ states: 100_000, actions: 2, branching: 1, seed: 0 }),
    inputError(
      /^garnetMdp: the dense P of 100000 states × 2 actions × 100000 next states needs 20000000000 float64 entries \(149 GiB\), more than one array can hold \(2\^32\); use fewer states or actions$/,
    ),
  );
  assert.throws(() => T.riverSwimMdp({ states: 100_000 }), inputError(/^riverSwimMdp: the dense P of 100000 states .*; use fewer states$/));
  assert.throws(
    () => T.gridworldMdp({ size: 1000, seed: 0 }),
    inputError(/^gridworldMdp: the dense P of 1000×1000 = 1000000 cells .*; use a smaller size$/),
  );
  assert.throws(() => T.garnetMdp(undefined as never), inputError(/^garnetMdp needs \{states, actions, branching, seed\}/));
  assert.throws(() => T.riverSwimMdp(null as never), inputError(/^riverSwimMdp takes \{states, gamma\}/));
  assert.throws(() => T.gridworldMdp(null as never), inputError(/^gridworldMdp needs \{seed\}/));
});

test("policy functions check shapes: meanKl of a short array, oneHotStates(2.5) and (-1), and the rest", () => {
  const half = new Float64Array([0.5, 0.5]);
  // meanKl returned NaN (it read past the end of q).
  assert.throws(
    () => T.meanKl(half, new Float64Array([1]), 1, 2),
    inputError(/^the second policy has 1 entries; 1 states × 2 actions need 2$/),
  );
  assert.throws(() => T.meanKl(half, half, 1.5, 2), inputError(/^states must be an integer >= 1; got states = 1\.5$/));
  assert.throws(() => T.meanEntropy(new Float64Array([0.7, 0.7]), 1, 2), inputError(/sums to 1\.4, not 1/));
  assert.throws(
    () => T.policyDistance(half, new Float64Array([2, -1]), 1, 2),
    inputError(/^the second policy: policy\(0\|0\) is 2; probabilities must be in \[0, 1\]$/),
  );
  assert.throws(() => T.logPolicyDistance(half, new Float64Array(3).fill(1 / 3)), inputError(/^the policies have 2 and 3 entries/));
  assert.throws(() => T.uniformPolicy(2, 0), inputError(/^actions must be an integer >= 1; got actions = 0$/));
  assert.throws(() => T.softmaxPolicy([1, 2] as unknown as Float64Array, 1, 2), inputError(/^logits must be a Float64Array/));
  // oneHotStates(2.5) gave 6 entries of garbage, oneHotStates(-1) gave [0].
  assert.throws(() => T.oneHotStates(2.5), inputError(/^states must be an integer >= 1; got states = 2\.5$/));
  assert.throws(() => T.oneHotStates(-1), inputError(/^states must be an integer >= 1; got states = -1$/));
  assert.throws(() => T.tabularStackSpec(undefined as never, 2), inputError(/^states must be an integer >= 1; got states = undefined$/));
  assert.throws(() => T.tabularSnapshot([1, 1e39], 1, 2), inputError(/^Q\(0, 1\) is 1e\+39; a snapshot stores Q as float32/));
  assert.deepEqual(Array.from(T.oneHotStates(2)), [1, 0, 0, 1]);
});

test("weightedSum, the bounds, the solver and the options refuse what they cannot use", () => {
  const c = { coefficients: new Float64Array([1, 1]), correction: 1 };
  // Q-functions of different lengths: the sum used qs[0]'s length and read undefined (NaN) or cut.
  assert.throws(
    () => T.weightedSum([new Float64Array(2), new Float64Array(3)], c),
    inputError(/^qs\[1\] has 3 entries but qs\[0\] has 2; every Q-function must have the same shape$/),
  );
  assert.throws(
    () => T.weightedSum([new Float64Array(2), new Float64Array(2)], { ...c, correction: NaN }),
    inputError(/^correction must be a finite number; got NaN$/),
  );
  // exactPmdBounds(1, {}) threw "Cannot destructure", and a missing k the same.
  assert.throws(() => T.exactPmdBounds(1, {} as never), inputError(/^gamma must satisfy 0 <= gamma < 1; got undefined$/));
  assert.throws(
    () => T.exactPmdBounds({} as never, {} as never),
    inputError(/^k, the number of PMD updates, must be an integer >= 0; got an object \{\}$/),
  );
  assert.throws(
    () => T.exactPmdBounds(1, undefined as never),
    inputError(/^exactPmdBounds needs \{gamma, beta, tau, initialQError, initialLogPolicyError\}; got undefined$/),
  );
  const constants = { gamma: 0.9, beta: 0.5, tau: 1, initialQError: 1, initialLogPolicyError: 1 };
  assert.throws(() => T.exactPmdBounds(1, { ...constants, initialQError: -1 }), inputError(/^initialQError must be a number >= 0/));
  assert.throws(() => T.exactPmdBounds(1, { ...constants, tau: 0 }), inputError(/^tau must be a finite number > 0; got 0$/));
  assert.throws(
    () => T.solveLinearSystem(new Float64Array([1, NaN, 0, 1]), new Float64Array(2), 2),
    inputError(/^entry 1 of the matrix is NaN/),
  );
  const mdp = T.riverSwimMdp();
  assert.throws(() => T.softOptimum(mdp, undefined as never), inputError(/^the solver options must be an object/));
  assert.throws(() => T.softOptimum(mdp, { tau: 1, tolerance: 0 }), inputError(/^tolerance must be a number > 0/));
  assert.throws(
    () => T.softValueIteration(mdp, { tau: 1, maxIterations: 2.5 }),
    inputError(/^maxIterations must be an integer >= 1; got 2\.5$/),
  );
  assert.throws(() => T.softValueIteration(mdp, { tau: 1, initialQ: new Float64Array(12).fill(NaN) }), inputError(/^initialQ\[0\] is NaN/));
  assert.throws(() => T.backupQ(mdp, new Float64Array(3)), inputError(/^values must be a Float64Array of 6 state values/));
  assert.throws(() => T.tauAt(1, -1), inputError(/^the iteration must be an integer >= 0; got -1$/));
  assert.throws(() => T.tabularPmd(mdp, undefined as never), inputError(/^tabularPmd needs options/));
  assert.throws(
    () =>
      T.tabularPmd(mdp, {
        variant: "exact",
        eta: 1,
        tau: 1,
        iterations: 1,
        optimum: () => ({ q: new Float64Array(1), policy: new Float64Array(1) }) as never,
      }),
    inputError(/^the optimum given for tau 1: q must be a Float64Array of 12 entries \(states × actions\); got a Float64Array of 1$/),
  );
  assert.throws(
    () => T.tabularPmd(mdp, { variant: "exact", eta: 1, tau: 1, iterations: 1, onIteration: 5 as never }),
    inputError(/^onIteration must be a function; got 5$/),
  );
});
