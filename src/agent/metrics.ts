/**
 * What a run reports, one record per iteration and one per greedy evaluation, under CleanRL's key
 * names (`charts/…`, `losses/…`) so the files read like any other RL run's. Written as JSON lines
 * by `staq train` (metrics.jsonl, eval.jsonl) and handed to `learn`'s callbacks. The records are
 * assembled here from what the agent's algorithm returns and what the timers measured.
 */
import type { SoftQFitSummary } from "../train/soft-q-fit.ts";
import type { PolicyChange } from "./policy-change.ts";

/** One training iteration: collect, precompute, fit Q, push. */
export interface IterationMetrics {
  global_step: number;
  iteration: number;
  /** Wall-clock seconds of learning so far (across resumes). */
  time_s: number;
  /** Mean undiscounted return of the episodes that ended during this iteration's collection (null if none). */
  "charts/episodic_return": number | null;
  "charts/episodic_length": number | null;
  "charts/episodes": number;
  /** Environment steps per second of wall-clock, over the whole run so far. */
  "charts/SPS": number;
  /** τ of this iteration's soft Q fit and PMD step. */
  "charts/tau": number;
  "charts/learning_rate": number;
  /** Mean over members and gradient steps of the minibatch loss. */
  "losses/td_loss": number;
  /** Mean |Q(s, a)| of the taken actions. */
  "losses/q_values": number;
  /** ‖gradient‖₂ of the last step, mean over members. */
  "losses/grad_norm": number;
  /** Mean entropy of π_{k+1} on a probe batch of this iteration's states. */
  "policy/entropy": number;
  /** Mean KL(π_{k+1} ‖ π_k) on the same probe batch. */
  "policy/kl": number;
  "stack/size": number;
  "stack/correction": number;
  /** Seconds spent acting in the environments, precomputing π_k, fitting Q (train), and pushing. */
  "time/collect_s": number;
  "time/precompute_s": number;
  "time/train_s": number;
  "time/push_s": number;
}

/** One greedy evaluation. */
export interface EvaluationMetrics {
  global_step: number;
  iteration: number;
  time_s: number;
  "eval/mean_return": number;
  "eval/std_return": number;
  "eval/min_return": number;
  "eval/max_return": number;
  "eval/mean_length": number;
  "eval/returns": number[];
  "time/eval_s": number;
}

/** Keys whose values are wall-clock measurements: they differ between identical runs. */
export const TIMING_KEYS: readonly string[] = [
  "time_s",
  "charts/SPS",
  "time/collect_s",
  "time/precompute_s",
  "time/train_s",
  "time/push_s",
  "time/eval_s",
];

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The phases of an iteration, as the agent times them. */
export type IterationPhase = "collect" | "precompute" | "fit" | "push";

/** What one iteration of the algorithm did. */
export interface IterationOutcome {
  /** τ of its soft Q fit and PMD step. */
  tau: number;
  /** Return and length of every episode that ended during its collection. */
  episodeReturns: readonly number[];
  episodeLengths: readonly number[];
  fit: SoftQFitSummary;
  change: PolicyChange;
}

/** The losses of a soft Q fit, averaged over the ensemble. */
export function lossMetrics(fit: SoftQFitSummary): Pick<IterationMetrics, "losses/td_loss" | "losses/q_values" | "losses/grad_norm"> {
  return { "losses/td_loss": mean(fit.meanLoss), "losses/q_values": mean(fit.meanAbsQ), "losses/grad_norm": mean(fit.gradNorm) };
}

/** The iteration record of `outcome`, at `global_step` after `time_s` seconds of learning. */
export function iterationMetrics(
  outcome: IterationOutcome,
  run: { global_step: number; iteration: number; time_s: number; learningRate: number; stack: { size: number; correction: number } },
  phases: Readonly<Record<IterationPhase, number>>,
): IterationMetrics {
  const { episodeReturns, episodeLengths, change } = outcome;
  return {
    global_step: run.global_step,
    iteration: run.iteration,
    time_s: run.time_s,
    "charts/episodic_return": episodeReturns.length > 0 ? mean(episodeReturns) : null,
    "charts/episodic_length": episodeLengths.length > 0 ? mean(episodeLengths) : null,
    "charts/episodes": episodeReturns.length,
    "charts/SPS": Math.round(run.global_step / Math.max(run.time_s, 1e-9)),
    "charts/tau": outcome.tau,
    "charts/learning_rate": run.learningRate,
    ...lossMetrics(outcome.fit),
    "policy/entropy": change.entropy,
    "policy/kl": change.kl,
    "stack/size": run.stack.size,
    "stack/correction": run.stack.correction,
    "time/collect_s": phases.collect,
    "time/precompute_s": phases.precompute,
    "time/train_s": phases.fit,
    "time/push_s": phases.push,
  };
}

/** The evaluation record of a set of episode returns and lengths. */
export function evaluationMetrics(
  base: { global_step: number; iteration: number; time_s: number; seconds: number },
  returns: readonly number[],
  lengths: readonly number[],
): EvaluationMetrics {
  const average = mean(returns);
  const variance = mean(returns.map((r) => (r - average) ** 2));
  return {
    global_step: base.global_step,
    iteration: base.iteration,
    time_s: base.time_s,
    "eval/mean_return": average,
    "eval/std_return": Math.sqrt(variance),
    "eval/min_return": Math.min(...returns),
    "eval/max_return": Math.max(...returns),
    "eval/mean_length": mean(lengths),
    "eval/returns": [...returns],
    "time/eval_s": base.seconds,
  };
}
