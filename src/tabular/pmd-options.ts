/**
 * The options of `tabularPmd` (src/tabular/pmd.ts) and their checks: everything is checked once,
 * before the first iteration, except what can only be known per iteration (τ_k of a schedule, and
 * an optimum supplied by the caller for that τ).
 */
import { StaqInputError } from "../errors.ts";
import { describeValue } from "../io/describe-value.ts";
import { validatePmdOptions, type PmdNormalization } from "../pmd/coefficients.ts";
import { checkSeed } from "../random/seed.ts";
import { checkMdp, type Mdp } from "./mdp.ts";
import { firstNonFinite } from "./overflow.ts";
import { validatePolicy } from "./policy-math.ts";
import { softOptimum, type SoftOptimum } from "./soft-optimal.ts";

export type TabularPmdVariant = "exact" | "vanilla" | "corrected";
export const TABULAR_PMD_VARIANTS: readonly TabularPmdVariant[] = ["exact", "vanilla", "corrected"];

/** τ for every iteration: a constant, one value per iteration, or a function of the iteration k. */
export type TauSchedule = number | readonly number[] | ((iteration: number) => number);

/** What iteration k computed; the arrays belong to the run, so copy them to change them. */
export interface TabularPmdStep {
  error: number;
  policyError: number;
  kl: number;
  entropy: number;
  /** π_k. */
  policy: Float64Array;
  /** The Q-function pushed at iteration k: Q^{π_k}_τ plus the noise, if any. */
  q: Float64Array;
}

export interface TabularPmdOptions {
  variant: TabularPmdVariant;
  /** KL weight η ≥ 0 (η = 0 is soft policy iteration). */
  eta: number;
  tau: TauSchedule;
  /** K ≥ 1: the number of PMD updates. */
  iterations: number;
  /** M ≥ 1 Q-functions kept (vanilla and corrected; exact keeps all). */
  memory?: number;
  normalization?: PmdNormalization;
  /** σ ≥ 0 of the Gaussian noise added to every Q^k(s,a) (0: exact evaluation). */
  noise?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
  /** Q*_τ and π*_τ for each τ, if already known (otherwise solved by `softOptimum`, once per τ). */
  optimum?: (tau: number) => SoftOptimum;
  /** Called after every iteration k, e.g. for progress output. */
  onIteration?: (iteration: number, step: TabularPmdStep) => void;
}

/** τ_k of a schedule, validated. */
export function tauAt(schedule: TauSchedule, iteration: number): number {
  if (!(Number.isSafeInteger(iteration) && iteration >= 0))
    throw new StaqInputError(`the iteration must be an integer >= 0; got ${describeValue(iteration)}`);
  let tau: number | undefined;
  if (typeof schedule === "number") tau = schedule;
  else if (typeof schedule === "function") tau = schedule(iteration);
  else {
    // Not a string: it would be indexed character by character ("0.5"[0] is "0").
    if (!Array.isArray(schedule))
      throw new StaqInputError(`tau must be a number, an array of numbers or a function of the iteration; got ${describeValue(schedule)}`);
    if (iteration >= schedule.length)
      throw new StaqInputError(
        `the tau schedule has ${schedule.length} values but iteration ${iteration} needs one; give one tau per iteration`,
      );
    tau = schedule[iteration];
  }
  if (!(typeof tau === "number" && Number.isFinite(tau) && tau > 0))
    throw new StaqInputError(`tau for iteration ${iteration} is ${describeValue(tau)}; tau must be a finite number > 0`);
  return tau;
}

/** Checks the MDP and the options before the first iteration. */
export function validateOptions(mdp: Mdp, options: TabularPmdOptions): void {
  checkMdp(mdp);
  if (typeof options !== "object" || options === null)
    throw new StaqInputError(`tabularPmd needs options {variant, eta, tau, iterations, ...}; got ${describeValue(options)}`);
  const { variant, iterations, memory, noise = 0 } = options;
  if (!TABULAR_PMD_VARIANTS.includes(variant))
    throw new StaqInputError(`variant must be one of ${TABULAR_PMD_VARIANTS.join(", ")}; got ${JSON.stringify(variant)}`);
  if (!(Number.isSafeInteger(iterations) && iterations >= 1))
    throw new StaqInputError(`iterations must be an integer >= 1; got ${describeValue(iterations)}`);
  if (variant !== "exact" && memory === undefined) throw new StaqInputError(`the ${variant} variant needs a memory M (an integer >= 1)`);
  if (!(typeof noise === "number" && Number.isFinite(noise) && noise >= 0))
    throw new StaqInputError(`noise must be a finite number >= 0; got ${describeValue(noise)}`);
  if (options.seed !== undefined) checkSeed("tabularPmd", options.seed);
  for (const name of ["optimum", "onIteration"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function")
      throw new StaqInputError(`${name} must be a function; got ${describeValue(options[name])}`);
  }
  validatePmdOptions({
    eta: options.eta,
    tau: tauAt(options.tau, 0),
    memory: variant === "exact" ? Infinity : memory!,
    normalization: options.normalization,
  });
}

/**
 * The optimum for each τ: the caller's (checked once per object it returns), or solved by
 * `softOptimum` once per distinct τ.
 */
export function optimumCache(mdp: Mdp, given?: (tau: number) => SoftOptimum): (tau: number) => SoftOptimum {
  if (given) {
    const checked = new WeakSet<SoftOptimum>();
    return (tau) => {
      const optimum = given(tau);
      if (!checked.has(optimum)) {
        checkOptimum(mdp, optimum, tau);
        checked.add(optimum);
      }
      return optimum;
    };
  }
  const cache = new Map<number, SoftOptimum>();
  return (tau) => {
    let optimum = cache.get(tau);
    if (!optimum) cache.set(tau, (optimum = softOptimum(mdp, { tau })));
    return optimum;
  };
}

/** A caller's optimum: q finite and policy a policy, both [S, A]; errorBound a number (NaN: none known). */
function checkOptimum(mdp: Mdp, optimum: SoftOptimum, tau: number): void {
  const { states: S, actions: A } = mdp;
  const what = `the optimum given for tau ${tau}`;
  if (typeof optimum !== "object" || optimum === null)
    throw new StaqInputError(
      `${what} must be a SoftOptimum {q, policy, iterations, errorBound} (softOptimum returns one); got ${describeValue(optimum)}`,
    );
  const { q, policy, errorBound } = optimum;
  if (!(q instanceof Float64Array && q.length === S * A))
    throw new StaqInputError(
      `${what}: q must be a Float64Array of ${S * A} entries (states × actions); got ${ArrayBuffer.isView(q) ? `a ${q.constructor.name} of ${(q as Float64Array).length}` : describeValue(q)}`,
    );
  const bad = firstNonFinite(q);
  if (bad >= 0) throw new StaqInputError(`${what}: q[${bad}] is ${q[bad]}; Q* must be finite`);
  validatePolicy(policy, S, A, `${what}: policy`);
  if (typeof errorBound !== "number")
    throw new StaqInputError(`${what}: errorBound must be a number (NaN when no bound is known); got ${describeValue(errorBound)}`);
}
