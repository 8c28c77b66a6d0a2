/**
 * What a run reports, one record per iteration and one per greedy evaluation, under CleanRL's key
 * names (`charts/…`, `losses/…`) so the files read like any other RL run's. Written as JSON lines
 * by `staq train` (metrics.jsonl, eval.jsonl) and handed to `learn`'s callbacks.
 */

/** One training iteration: collect, precompute, policy evaluation, push. */
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
  /** τ of this iteration's evaluation and PMD step. */
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
  /** Seconds spent acting in the environments, precomputing π_k, in policy evaluation, and pushing. */
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
export const TIMING_KEYS: readonly string[] = ["time_s", "charts/SPS", "time/collect_s", "time/precompute_s", "time/train_s", "time/push_s", "time/eval_s"];

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The evaluation record of a set of episode returns and lengths. */
export function evaluationMetrics(base: { global_step: number; iteration: number; time_s: number; seconds: number }, returns: readonly number[], lengths: readonly number[]): EvaluationMetrics {
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
