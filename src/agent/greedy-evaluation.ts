/**
 * Greedy evaluation: episodes run to their end with the argmax action of the stacked logits, all
 * episodes of one evaluation acting together (one stack evaluation per step). Each episode starts
 * from its own seed, so an evaluation is a pure function of the stack and the seeds.
 */
import { observationSize, type Env } from "../envs/env.ts";
import type { VectorEnv } from "../envs/vector-env.ts";
import { StaqInputError } from "../errors.ts";
import type { Actor } from "../policy/actor.ts";
import type { EnvFactory } from "./env-factory.ts";

/** An episode longer than this is cut off (MinAtar has no time limit, and a greedy policy may stall). */
export const MAX_EVALUATION_STEPS = 100_000;

export interface GreedyEvaluation {
  returns: number[];
  lengths: number[];
}

/**
 * Runs one episode on each of `envs`, env j reset with `seeds[j]`. Every step acts on all the
 * episodes' states, finished ones included (their actions are ignored): one batch size means one
 * kernel plan, where a batch shrinking episode by episode would prepare a new one each time.
 */
export async function evaluateGreedy(envs: readonly Env[], actor: Actor, seeds: readonly number[]): Promise<GreedyEvaluation> {
  const size = observationSize(envs[0]);
  const states = new Float32Array(envs.length * size);
  envs.forEach((env, j) => states.set(env.reset({ seed: seeds[j] }).obs, j * size));
  const returns = envs.map(() => 0);
  const lengths = envs.map(() => 0);
  const running = envs.map(() => true);
  while (running.some(Boolean)) {
    const actions = await actor.act(states, { step: 0, greedy: true });
    envs.forEach((env, j) => {
      if (!running[j]) return;
      const step = env.step(actions[j]);
      returns[j] += step.reward;
      lengths[j]++;
      states.set(step.obs, j * size);
      running[j] = !(step.terminated || step.truncated || lengths[j] >= MAX_EVALUATION_STEPS);
    });
  }
  return { returns, lengths };
}

/**
 * evaluateGreedy for an environment that runs only as a vector env (a Python environment through
 * the Gymnasium bridge): copy j is reset with firstSeed + j (the vector env's seeding, which is
 * evaluateGreedy's seeds[j] = seed + j), and the first `episodes` copies' first episodes count.
 * The vector env steps all its copies together, so a copy whose episode ended runs on into the
 * next one (auto-reset) until the last counted episode ends; its actions then no longer matter.
 */
export async function evaluateGreedyVector(envs: VectorEnv, actor: Actor, firstSeed: number, episodes: number): Promise<GreedyEvaluation> {
  let states = envs.reset({ seed: firstSeed });
  const returns = new Array<number>(episodes).fill(0);
  const lengths = new Array<number>(episodes).fill(0);
  const running = new Array<boolean>(episodes).fill(true);
  while (running.some(Boolean)) {
    const actions = await actor.act(states, { step: 0, greedy: true });
    const step = envs.step(actions);
    for (let j = 0; j < episodes; j++) {
      if (!running[j]) continue;
      returns[j] += step.rewards[j];
      lengths[j]++;
      running[j] = !(step.terminated[j] || step.truncated[j] || lengths[j] >= MAX_EVALUATION_STEPS);
    }
    states = step.obs;
  }
  return { returns, lengths };
}

/**
 * The greedy evaluations of one acting network (an agent's, or a policy loaded from a checkpoint
 * without its training state): `episodes` episodes, episode j reset with seed + j modulo 2^32, in
 * rounds of the actor's batch. It keeps its environment copies from one evaluation to the next
 * (every episode starts from a seeded reset, so reuse changes nothing); `close` releases them.
 */
export class GreedyEvaluator {
  private copies: Env[] | undefined;
  /** The copies of an environment that runs only as a vector env (the Gymnasium bridge). */
  private vector: VectorEnv | undefined;

  constructor(
    private readonly envs: Pick<EnvFactory, "makeCopy" | "makeVector">,
    private readonly actor: Actor,
  ) {}

  async evaluate(episodes: number, seed: number): Promise<GreedyEvaluation> {
    if (!(Number.isInteger(episodes) && episodes >= 1))
      throw new StaqInputError(`evaluate: episodes must be an integer >= 1; got ${episodes}`);
    if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32))
      throw new StaqInputError(
        `evaluate: seed must be an integer in [0, 2^32) (episode j is reset with seed + j, modulo 2^32); got ${seed}`,
      );
    const seeds = Array.from({ length: episodes }, (_, j) => (seed + j) % 2 ** 32);
    const results: GreedyEvaluation = { returns: [], lengths: [] };
    const { maxBatch } = this.actor;
    for (let first = 0; first < episodes; first += maxBatch) {
      const count = Math.min(maxBatch, episodes - first);
      const round = this.envs.makeCopy
        ? await evaluateGreedy(this.copiesFor(count, this.envs.makeCopy), this.actor, seeds.slice(first, first + count))
        : await evaluateGreedyVector(this.vectorFor(Math.min(episodes, maxBatch)), this.actor, seeds[first], count);
      results.returns.push(...round.returns);
      results.lengths.push(...round.lengths);
    }
    return results;
  }

  close(): void {
    this.vector?.close?.();
    this.vector = undefined;
  }

  private copiesFor(count: number, makeCopy: () => Env): Env[] {
    this.copies ??= [];
    while (this.copies.length < count) this.copies.push(makeCopy());
    return this.copies.slice(0, count);
  }

  /** A vector env of at least `count` copies (kept for the next evaluation). */
  private vectorFor(count: number): VectorEnv {
    if (this.vector === undefined || this.vector.count < count) {
      this.close();
      this.vector = this.envs.makeVector(count);
    }
    return this.vector;
  }
}
