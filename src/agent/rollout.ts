/**
 * Collecting experience: the vector env acts through the stack (ε-softmax samples drawn on the GPU)
 * for a number of steps, and every transition is kept for the replay buffer. The next observation of
 * a transition is the episode's final one when the copy reset itself, so truncated episodes still
 * bootstrap from where they stopped; `terminated` alone ends the return.
 */
import type { Actor } from "../policy/actor.ts";
import type { Transitions } from "../train/replay-buffer.ts";
import type { NextLogits } from "../train/replay-sums.ts";
import type { VectorEnv } from "../envs/vector-env.ts";

export interface Rollout {
  transitions: Transitions;
  /** The observations after the last step: where the next rollout starts. */
  obs: Float32Array;
  /** The actor's Philox step after the rollout. */
  actStep: number;
  /** Return and length of every episode that ended during the rollout. */
  episodeReturns: number[];
  episodeLengths: number[];
  /** Where the actor's logits of the transitions' next states are, when `logits` was given. */
  nextLogits?: NextLogits;
}

/**
 * Steps `envs` for `vectorSteps` steps from `obs`, acting with `actor` at Philox steps
 * actStep, actStep + 1, … (one per vector step). With `logits` (room for vectorSteps × count rows
 * of logits), the actor's logits of step t go to its rows [t · count, (t + 1) · count), and the
 * rollout says which transitions' next states they cover: all but the episodes' final
 * observations and the states after the last step. With `epsilonAt`, vector step t acts with
 * ε = epsilonAt(t) (a schedule), else with the actor's own ε.
 */
export async function collectRollout(
  envs: VectorEnv,
  actor: Actor,
  obs: Float32Array,
  vectorSteps: number,
  actStep: number,
  logits?: GPUBuffer,
  epsilonAt?: (t: number) => number,
): Promise<Rollout> {
  const n = envs.count;
  const { stack } = actor;
  const version = stack.version;
  const rowBytes = stack.spec.outputs * 4;
  const size = envs.observationSize;
  const rows = vectorSteps * n;
  const transitions = {
    obs: new Float32Array(rows * size),
    actions: new Uint32Array(rows),
    rewards: new Float64Array(rows),
    terminated: new Uint8Array(rows),
    nextObs: new Float32Array(rows * size),
  };
  const episodeReturns: number[] = [];
  const episodeLengths: number[] = [];
  const finals: number[] = [];
  // Transition (t, i) has its next state acted on at step t + 1, row (t + 1) · n + i, unless it ended an episode.
  const nextRows = new Int32Array(rows).fill(-1);
  let current = obs;
  for (let t = 0; t < vectorSteps; t++) {
    const keepLogits = logits ? { buffer: logits, offset: t * n * rowBytes } : undefined;
    const actions = await actor.act(current, { step: actStep++, keepLogits, epsilon: epsilonAt?.(t) });
    const row = t * n;
    if (t > 0) for (let i = 0; i < n; i++) nextRows[row - n + i] = row + i;
    const step = envs.step(actions);
    transitions.obs.set(current, row * size);
    transitions.actions.set(actions, row);
    transitions.rewards.set(step.rewards, row);
    transitions.terminated.set(step.terminated, row);
    transitions.nextObs.set(step.obs, row * size);
    for (let i = 0; i < n; i++) {
      const final = step.finalObs[i];
      if (final === null) continue;
      transitions.nextObs.set(final, (row + i) * size);
      finals.push(row + i);
      episodeReturns.push(step.episodeReturns[i]);
      episodeLengths.push(step.episodeLengths[i]);
    }
    current = step.obs;
  }
  for (const row of finals) nextRows[row] = -1;
  if (stack.version !== version) throw new Error("collectRollout: the stack changed while the rollout acted through it");
  const nextLogits = logits ? { buffer: logits, rows: nextRows, stack, version } : undefined;
  return { transitions, obs: current, actStep, episodeReturns, episodeLengths, nextLogits };
}
