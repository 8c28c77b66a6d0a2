/**
 * `staq tabular --mdp FILE.json --tau T --eta E --variant V[,V...] --iterations K [--memory M]
 * [--noise S --seed N] [--plot FILE.svg]`: runs Policy Mirror Descent in float64 on a tabular MDP
 * read from JSON (src/tabular/pmd.ts) and prints the errors, the final policy and its Q as JSON,
 * so anyone can check staq's PMD, and StaQ's finite-memory variants, against another program.
 */
import { writeFileAtomically } from "../node/files.ts";
import { pmdRates } from "../pmd/coefficients.ts";
import { ensurePlotting, renderLineChartSvg } from "../plot/line-chart.ts";
import { unresolvedErrors } from "../tabular/error-floor.ts";
import { mdpFromJson, type Mdp } from "../tabular/mdp.ts";
import { TABULAR_PMD_VARIANTS, tabularPmd, type TabularPmdResult, type TabularPmdVariant } from "../tabular/pmd.ts";
import { softOptimum, type SoftOptimum } from "../tabular/soft-optimal.ts";
import { integerFlag, numberFlag, UsageError, parseCommandArgs, readInputFile, type Command, type CommandIO } from "./command.ts";
import { checkOutputPath } from "./output-path.ts";
import { checkTabularCost } from "./tabular-cost.ts";

/** Errors below this are drawn at it on the log-scale plot (an exact 0 can happen). */
const LOG_FLOOR = 1e-17;

const HELP = `Usage: staq tabular --mdp FILE.json --tau T --eta E --variant V[,V...] --iterations K
                    [--memory M] [--noise S] [--seed N] [--plot FILE.svg]

Runs K iterations of Policy Mirror Descent, in float64, on the entropy-regularised tabular MDP in
FILE.json, from the uniform policy pi_0, evaluating each policy exactly:
  exact      xi_{k+1} = beta xi_k + alpha Q^k           (all past Q-functions)
  vanilla    xi_{k+1} = sum of the last M Q-functions with the PMD weights
  corrected  the same, divided by 1 - beta^M (StaQ's finite-memory correction)
with alpha = 1/(eta+tau), beta = eta/(eta+tau), Q^k = Q^{pi_k}_tau and pi_{k+1} = softmax(xi_{k+1}).

It prints JSON on stdout. With one variant:
  {"errors": [...], "policy": [[...]], "q": [[...]], "policyErrors": [...], "kl": [...], "entropy": [...]}
  errors[k]        ||Q*_tau - Q^{pi_k}_tau||_inf, k = 0..K-1 (errors[0] is the uniform policy's)
  policy           pi_K, [S][A]: policy[s][a] = pi_K(a|s)
  q                Q^{pi_K}_tau, [S][A], evaluated exactly
  policyErrors[k]  max_s sum_a |pi*_tau(a|s) - pi_k(a|s)|
  kl[k]            mean over states of KL(pi_{k+1}(.|s) || pi_k(.|s))
  entropy[k]       mean over states of the entropy of pi_k(.|s)
With several variants (--variant vanilla,corrected), one run each on the same MDP, in that order:
  {"runs": [{"variant": "vanilla", "errors": [...], "policy": [[...]], ...}, ...]}
Numbers are float64 at full precision; one that is not finite (a KL of a policy that underflowed
to 0) prints as null. Q*_tau is solved once, by soft policy then value iteration.
Each error is certified only to +-B, B the float64 rounding bound of Q*_tau plus that of one
evaluation (it grows like 1/(1-gamma)^2); when errors are reported below B while B is within six
decades of the largest error (gamma very close to 1), stderr says so: rounding alone can make them.

Options:
  --mdp FILE        the MDP: {"P": [S][A][S], "R": [S][A], "gamma": g}, each row P[s][a] a
                    distribution over next states (within 1e-9), 0 <= gamma < 1
  --tau T           entropy weight tau > 0
  --eta E           KL weight eta >= 0 (0: soft policy iteration)
  --variant V       exact, vanilla or corrected, or several separated by commas
  --iterations K    number of PMD updates, an integer >= 1
  --memory M        Q-functions kept by vanilla and corrected, an integer >= 1 (required for
                    them; ignored by exact)
  --noise S         standard deviation of Gaussian noise added to every Q^k(s,a) before the
                    update (default 0: exact updates); errors are always of the exact Q^{pi_k}
  --seed N          seed of that noise, an integer >= 0 (default 0); every variant gets the same
  --plot FILE.svg   also write an SVG of errors[k] against k on a log scale, one line per variant;
                    values below ${LOG_FLOOR} (e.g. an exact 0) are drawn at ${LOG_FLOOR}; the name
                    must end in .svg (it is SVG text, not PNG); not the --mdp file
  -h, --help        show this help

On a terminal, stderr shows the iteration, the current error and the time taken as it goes.
Each iteration solves a dense S×S linear system (O(S³)), and vanilla and corrected sum up to M
stored Q-functions: a run expected to take more than half a minute or 1 GB is announced on
stderr with its estimate before it starts, and one that needs more memory than the machine
has is refused.

Example:
  staq tabular --mdp garnet.json --tau 0.1 --eta 1 --variant exact,vanilla,corrected \\
    --memory 5 --iterations 200 --plot errors.svg > runs.json
`;

const OPTIONS = {
  mdp: { type: "string" },
  tau: { type: "string" },
  eta: { type: "string" },
  memory: { type: "string" },
  variant: { type: "string" },
  iterations: { type: "string" },
  noise: { type: "string" },
  seed: { type: "string" },
  plot: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A finite decimal number at least (or above) `min`; anything else is a UsageError naming the option. */
function parseReal(name: string, text: string, min: number, inclusive: boolean): number {
  return numberFlag(text, name, tabularCommand, {
    valid: (x) => (inclusive ? x >= min : x > min),
    requirement: `a finite number ${inclusive ? ">=" : ">"} ${min}`,
  });
}

function parseVariants(text: string): TabularPmdVariant[] {
  const names = text.split(",").map((name) => name.trim());
  const expected = `one of ${TABULAR_PMD_VARIANTS.join(", ")}, or several separated by commas`;
  for (const name of names) {
    if (!TABULAR_PMD_VARIANTS.includes(name as TabularPmdVariant)) {
      throw new UsageError(
        `--variant ${JSON.stringify(text)}: ${name === "" ? "an empty name" : JSON.stringify(name)} is not a variant; expected ${expected}`,
        tabularCommand,
      );
    }
  }
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated) throw new UsageError(`--variant ${JSON.stringify(text)} names ${repeated} twice; give each variant once`, tabularCommand);
  return names as TabularPmdVariant[];
}

interface Settings {
  mdpPath: string;
  tau: number;
  eta: number;
  variants: TabularPmdVariant[];
  iterations: number;
  memory?: number;
  noise: number;
  seed: number;
  plot?: string;
}

function parseSettings(values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>): Settings {
  const need = (name: keyof typeof OPTIONS, what: string): string => {
    const value = values[name];
    if (typeof value !== "string") throw new UsageError(`tabular needs --${name} ${what}`, tabularCommand);
    return value;
  };
  const mdpPath = need("mdp", "FILE.json");
  const tau = parseReal("tau", need("tau", "T (a number > 0)"), 0, false);
  const eta = parseReal("eta", need("eta", "E (a number >= 0)"), 0, true);
  const variants = parseVariants(need("variant", `V (${TABULAR_PMD_VARIANTS.join(", ")})`));
  const iterations = integerFlag(need("iterations", "K (an integer >= 1)"), "iterations", tabularCommand, { min: 1 });
  const memory = values.memory === undefined ? undefined : integerFlag(values.memory, "memory", tabularCommand, { min: 1 });
  const finite = variants.filter((v) => v !== "exact");
  if (finite.length > 0 && memory === undefined) {
    throw new UsageError(
      `the ${finite.join(" and ")} variant${finite.length > 1 ? "s need" : " needs"} --memory M (an integer >= 1)`,
      tabularCommand,
    );
  }
  const noise = values.noise === undefined ? 0 : parseReal("noise", values.noise, 0, true);
  const seed = values.seed === undefined ? 0 : integerFlag(values.seed, "seed", tabularCommand, { min: 0, why: " (at most 2^53 - 1)" });
  if (values.plot === "") throw new UsageError("--plot needs a file name", tabularCommand);
  checkStepWeight(values.eta!, values.tau!, eta + tau);
  if (variants.includes("corrected")) checkCorrectable({ eta, tau, memory: memory!, etaText: values.eta!, tauText: values.tau! });
  return { mdpPath, tau, eta, variants, iterations, memory, noise, seed, plot: values.plot };
}

/**
 * α = 1/(η+τ) weighs each new Q-function; below 2^-1024 (about 5.6e-309) it is Infinity in float64
 * and every variant's logits would be ∞ or NaN. Refused up front, naming the options (pmdStep
 * refuses it too, for callers of the library). Other overflows (logits growing to about
 * max|R|/((1 − γ)τ), or a huge --noise) depend on the MDP, K and the noise drawn, so the solver
 * reports them when they happen, naming tau, the noise or R.
 */
function checkStepWeight(etaText: string, tauText: string, sum: number): void {
  if (Number.isFinite(1 / sum)) return;
  throw new UsageError(
    `--tau ${tauText} with --eta ${etaText} is too small: the step weight alpha = 1/(eta + tau) overflows float64 (eta + tau must be at least about 5.6e-309); raise --tau`,
    tabularCommand,
  );
}

/**
 * The corrected variant multiplies by 1/(1 − β^M), β = η/(η+τ). Once η/τ passes 2^53 or so, η + τ
 * rounds to η, β to 1 and the factor to 1/0: the policy would come out NaN. Refused here, naming
 * the options; any η/τ up to about 1e15 works (the factor is then large but finite).
 */
function checkCorrectable({
  eta,
  tau,
  memory,
  etaText,
  tauText,
}: {
  eta: number;
  tau: number;
  memory: number;
  etaText: string;
  tauText: string;
}): void {
  const { beta } = pmdRates(eta, tau);
  if (1 - beta ** memory > 0) return;
  const limit = tau * 1e15;
  throw new UsageError(
    `--eta ${etaText} is too large against --tau ${tauText} for the corrected variant: β = η/(η+τ) rounds to 1 in float64, so its correction 1/(1 − β^M) is infinite; ` +
      `keep --eta below ${limit.toExponential(1).replace("e+", "e")} (η/τ < 1e15) or raise --tau`,
    tabularCommand,
  );
}

/** The MDP, and the size of its file (for the cost estimate). */
async function readMdp(path: string): Promise<{ mdp: Mdp; fileBytes: number }> {
  const text = await readInputFile(path, "MDP");
  return { mdp: mdpFromJson(text, path), fileBytes: Buffer.byteLength(text) };
}

/** A row-major [S, A] array as nested rows. */
function rows(flat: Float64Array, states: number, actions: number): number[][] {
  return Array.from({ length: states }, (_, s) => Array.from(flat.subarray(s * actions, (s + 1) * actions)));
}

/** What the command keeps of a run: the finite-memory variants' M stored Q-functions go at once. */
type Kept = Pick<TabularPmdResult, "errors" | "policy" | "q" | "policyErrors" | "kl" | "entropy" | "errorBound">;

function report(result: Kept, mdp: Mdp) {
  const { errors, policyErrors, kl, entropy } = result;
  return {
    errors,
    policy: rows(result.policy, mdp.states, mdp.actions),
    q: rows(result.q, mdp.states, mdp.actions),
    policyErrors,
    kl,
    entropy,
  };
}

function seriesName(variant: TabularPmdVariant, memory: number | undefined): string {
  return variant === "exact" ? variant : `${variant} (M=${memory})`;
}

/** One updating line on stderr while a terminal watches; nothing otherwise. */
function progressLine(io: CommandIO) {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const start = Date.now();
  let last = 0;
  let shown = false;
  const elapsed = () => `${((Date.now() - start) / 1000).toFixed(1)} s`;
  return {
    show(text: string, force = false) {
      if (!tty) return;
      const now = Date.now();
      if (!force && now - last < 100) return;
      last = now;
      shown = true;
      io.stderr.write(`\r\x1b[Kstaq tabular: ${text}  ${elapsed()}`);
    },
    clear() {
      if (tty && shown) io.stderr.write("\r\x1b[K");
      shown = false;
    },
  };
}

/**
 * One line when errors are reported below their certified bound B while B is within
 * RESOLVED_DECADES of the largest error (src/tabular/error-floor.ts): then those errors are
 * rounding, and π*_τ = softmax(Q*_τ/τ), which moves by at most 2‖δQ*‖∞/τ in ℓ1 per state, makes
 * the policyErrors just as uncertain.
 */
function unresolvedWarning(results: readonly Kept[], optimum: SoftOptimum, mdp: Mdp, tau: number): string | undefined {
  const bound = Math.max(...results.map((result) => result.errorBound));
  const found = unresolvedErrors(
    results.map((result) => result.errors),
    bound,
  );
  if (found === undefined) return undefined;
  const short = (x: number) => x.toExponential(1).replace("e+", "e");
  const policyBound = (2 * optimum.errorBound) / tau;
  const policies =
    policyBound >= 2
      ? "the policyErrors say nothing either (pi*_tau = softmax(Q*_tau/tau) is uncertain by the largest distance, 2)"
      : `the policyErrors are uncertain by up to ${short(policyBound)}`;
  return (
    `${found.unresolved} of the ${found.total} errors are at or below ${short(bound)}, the float64 rounding bound of the errors ` +
    `(Q*_tau is certified to ${short(optimum.errorBound)} and each evaluation to ${short(bound - optimum.errorBound)} with gamma = ${mdp.gamma}, ` +
    `1/(1 − gamma) = ${short(1 / (1 - mdp.gamma))}), so they are not certified: rounding alone can make errors that size, whatever PMD does (the largest error is ${short(found.largest)}); ` +
    `${policies}. A gamma further from 1 (or fewer states) makes the bound smaller`
  );
}

/** Array elements per piece of `writeJson`'s output. */
const JSON_CHUNK = 10_000;

const isPlainObject = (value: unknown): value is object => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Writes `value` as JSON.stringify would, in pieces: as one string, the output of a few million
 * iterations (about 80 characters each per variant) would pass V8's longest string (2^29 − 24
 * characters) and fail with "Invalid string length" after the whole run. An array of objects (the
 * runs of several variants) is written one object at a time, each in pieces itself; other arrays
 * (numbers, a policy's rows) JSON_CHUNK elements at a time.
 */
export function writeJson(write: (text: string) => void, value: unknown): void {
  if (Array.isArray(value)) {
    write("[");
    if (value.some(isPlainObject)) {
      // As JSON.stringify: an undefined element is null.
      value.forEach((item, i) => {
        if (i > 0) write(",");
        writeJson(write, item === undefined ? null : item);
      });
    } else {
      for (let i = 0; i < value.length; i += JSON_CHUNK)
        write((i > 0 ? "," : "") + JSON.stringify(value.slice(i, i + JSON_CHUNK)).slice(1, -1));
    }
    write("]");
  } else if (isPlainObject(value)) {
    write("{");
    // As JSON.stringify: a key whose value is undefined is left out.
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    entries.forEach(([key, item], i) => {
      write(`${i > 0 ? "," : ""}${JSON.stringify(key)}:`);
      writeJson(write, item);
    });
    write("}");
  } else write(JSON.stringify(value));
}

export const tabularCommand: Command = {
  name: "tabular",
  summary: "run tabular PMD (exact, vanilla or corrected finite memory) on an MDP from a JSON file",
  help: HELP,
  async run(args, io) {
    const values = parseCommandArgs(args, OPTIONS, tabularCommand);
    if (values.help) {
      io.stdout.write(HELP);
      return;
    }
    const settings = parseSettings(values);
    const { tau, eta, variants, iterations, memory, noise, seed, plot } = settings;
    // Before the MDP is read: an --mdp that is also the --plot would be replaced by the chart.
    if (plot !== undefined) {
      await checkOutputPath({
        output: { option: "--plot", path: plot },
        what: "the plot",
        example: "errors.svg",
        inputs: [{ option: "--mdp", path: settings.mdpPath }],
        command: tabularCommand,
        extension: ".svg",
      });
      // Plotting is an optional dependency: say it is missing now, not after the whole computation.
      await ensurePlotting();
    }
    const { mdp, fileBytes } = await readMdp(settings.mdpPath);
    const warning = checkTabularCost({
      states: mdp.states,
      actions: mdp.actions,
      iterations,
      variants: variants.length,
      finiteVariants: variants.filter((variant) => variant !== "exact").length,
      memory,
      fileBytes,
    });
    if (warning !== undefined) io.stderr.write(`staq tabular: ${warning}\n`);

    const progress = progressLine(io);
    const results: Kept[] = [];
    let optimum: SoftOptimum;
    try {
      progress.show(`solving Q*_tau (S=${mdp.states}, A=${mdp.actions})`, true);
      optimum = softOptimum(mdp, { tau });
      for (const variant of variants) {
        const { errors, policy, q, policyErrors, kl, entropy, errorBound } = tabularPmd(mdp, {
          variant,
          eta,
          tau,
          iterations,
          memory: variant === "exact" ? undefined : memory,
          noise,
          seed,
          optimum: () => optimum,
          onIteration: (k, { error }) =>
            progress.show(`${variant} ${k + 1}/${iterations}  error ${error.toExponential(3)}`, k + 1 === iterations),
        });
        results.push({ errors, policy, q, policyErrors, kl, entropy, errorBound });
      }
    } finally {
      progress.clear();
    }
    const unresolved = unresolvedWarning(results, optimum, mdp, tau);
    if (unresolved !== undefined) io.stderr.write(`staq tabular: ${unresolved}\n`);

    // The plot before stdout: if it cannot be written, stdout stays empty.
    if (plot !== undefined) {
      const ks = Array.from({ length: iterations }, (_, k) => k);
      const svg = await renderLineChartSvg(
        results.map((result, i) => ({ name: seriesName(variants[i], memory), x: ks, y: result.errors })),
        {
          title: `Tabular PMD, S=${mdp.states} states, A=${mdp.actions} actions: τ=${tau}, η=${eta}, γ=${mdp.gamma}${noise > 0 ? `, noise σ=${noise} (seed ${seed})` : ""}`,
          xTitle: "iteration k",
          yTitle: `error ‖Q*_τ − Q^{π_k}_τ‖∞ (values below ${LOG_FLOOR} drawn at ${LOG_FLOOR})`,
          logY: true,
          logFloor: LOG_FLOOR,
        },
      );
      await writeFileAtomically(plot, new TextEncoder().encode(svg), "the plot");
    }

    const output =
      variants.length === 1
        ? report(results[0], mdp)
        : { runs: results.map((result, i) => ({ variant: variants[i], ...report(result, mdp) })) };
    writeJson((text) => io.stdout.write(text), output);
    io.stdout.write("\n");
    if (plot !== undefined) io.stderr.write(`wrote ${plot}\n`);
  },
};
