/**
 * Collecting experience: the vector env acts through the stack (ε-softmax samples drawn on the GPU)
 * for a number of steps, and every transition is kept for the replay buffer. The next observation of
 * a transition is the episode's final one when the copy reset itself, so truncated episodes still
 * bootstrap from where they stopped; `terminated` alone ends the return.
 */
import type { Actor } from "../policy/actor.ts";
import type { Transitions } from "../train/replay-buffer.ts";
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
}

/**
 * Steps `envs` for `vectorSteps` steps from `obs`, acting with `actor` at Philox steps
 * actStep, actStep + 1, … (one per vector step).
 */
export async function collectRollout(
  envs: VectorEnv,
  actor: Actor,
  obs: Float32Array,
  vectorSteps: number,
  actStep: number,
): Promise<Rollout> {
  const n = envs.count;
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
  let current = obs;
  for (let t = 0; t < vectorSteps; t++) {
    const actions = await actor.act(current, { step: actStep++ });
    const step = envs.step(actions);
    const row = t * n;
    transitions.obs.set(current, row * size);
    transitions.actions.set(actions, row);
    transitions.rewards.set(step.rewards, row);
    transitions.terminated.set(step.terminated, row);
    transitions.nextObs.set(step.obs, row * size);
    for (let i = 0; i < n; i++) {
      const final = step.finalObs[i];
      if (final === null) continue;
      transitions.nextObs.set(final, (row + i) * size);
      episodeReturns.push(step.episodeReturns[i]);
      episodeLengths.push(step.episodeLengths[i]);
    }
    current = step.obs;
  }
  return { transitions, obs: current, actStep, episodeReturns, episodeLengths };
}
