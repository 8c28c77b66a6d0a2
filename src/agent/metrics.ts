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
  /** τ of this iteration's fit and PMD step (StaQ), M-DQN's temperature, 0 for DQN. */
  "charts/tau": number;
  /** ε of the behaviour policy at the iteration's first step. */
  "charts/epsilon": number;
  "charts/learning_rate": number;
  /** Mean over members and gradient steps of the minibatch loss (null before learningStarts: no fit). */
  "losses/td_loss": number | null;
  /** Mean |Q(s, a)| of the taken actions. */
  "losses/q_values": number | null;
  /** ‖gradient‖₂ of the last step, mean over members. */
  "losses/grad_norm": number | null;
  /** MDPO: the policy fit's loss averaged over its steps (null for the other algorithms). */
  "losses/policy_loss": number | null;
  /** With the smoothness penalty: mean ‖A(s+ε,·) − A(s,·)‖² over members and steps, before λ_S (null when off). */
  "losses/smoothness_state": number | null;
  /** With the smoothness penalty: mean ‖A(s',·) − A(s,·)‖², before λ_T (null when off). */
  "losses/smoothness_transition": number | null;
  /** StaQ: mean entropy of π_{k+1} on a probe batch of this iteration's states (null for DQN and M-DQN, whose stack is not a policy's, and before learningStarts). */
  "policy/entropy": number | null;
  /** StaQ: mean KL(π_{k+1} ‖ π_k) on the same probe batch. */
  "policy/kl": number | null;
  "stack/size": number;
  "stack/correction": number;
  /** Seconds spent acting in the environments, precomputing π_k, fitting Q (train), and pushing. */
  "time/collect_s": number;
  "time/precompute_s": number;
  "time/train_s": number;
  "time/push_s": number;
  /** MDPO: seconds fitting the policy network (0 for the other algorithms). */
  "time/policy_s": number;
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
  "time/policy_s",
  "time/eval_s",
];

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The phases of an iteration, as the agent times them. */
export type IterationPhase = "collect" | "precompute" | "fit" | "policy" | "push";

/** What one iteration of the algorithm did. */
export interface IterationOutcome {
  /** τ of its fit and PMD step. */
  tau: number;
  /** ε at its first step. */
  epsilon: number;
  /** Return and length of every episode that ended during its collection. */
  episodeReturns: readonly number[];
  episodeLengths: readonly number[];
  /** Null when it only collected (before learningStarts). */
  fit: SoftQFitSummary | null;
  /** MDPO's policy fit (null for the other algorithms and when there was no fit). */
  policy: { meanLoss: number } | null;
  /** StaQ's policy change at the push; null for the baselines and when there was no push. */
  change: PolicyChange | null;
}

/** The losses of a soft Q fit, averaged over the ensemble. */
export function lossMetrics(fit: SoftQFitSummary): Pick<IterationMetrics, "losses/td_loss" | "losses/q_values" | "losses/grad_norm"> {
  return { "losses/td_loss": mean(fit.meanLoss), "losses/q_values": mean(fit.meanAbsQ), "losses/grad_norm": mean(fit.gradNorm) };
}

/** The iteration record of `outcome`, at `global_step` after `time_s` seconds of learning. */
export function iterationMetrics(
  outcome: IterationOutcome,
  run: { global_step: number; iteration: number; time_s: number; learningRate: number; stack: { size: number; correction: number } },
  phases: Readonly<Partial<Record<IterationPhase, number>>>,
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
    "charts/epsilon": outcome.epsilon,
    "charts/learning_rate": run.learningRate,
    ...(outcome.fit ? lossMetrics(outcome.fit) : { "losses/td_loss": null, "losses/q_values": null, "losses/grad_norm": null }),
    "losses/policy_loss": outcome.policy?.meanLoss ?? null,
    "losses/smoothness_state": outcome.fit?.smoothness ? mean(outcome.fit.smoothness.state) : null,
    "losses/smoothness_transition": outcome.fit?.smoothness ? mean(outcome.fit.smoothness.transition) : null,
    "policy/entropy": change?.entropy ?? null,
    "policy/kl": change?.kl ?? null,
    "stack/size": run.stack.size,
    "stack/correction": run.stack.correction,
    // A phase the iteration did not run (no precompute for a baseline, no fit before learningStarts) took 0 s.
    "time/collect_s": phases.collect ?? 0,
    "time/precompute_s": phases.precompute ?? 0,
    "time/train_s": phases.fit ?? 0,
    "time/push_s": phases.push ?? 0,
    "time/policy_s": phases.policy ?? 0,
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
