// Your own environment in staq: implement the Env interface (name, observationShape, actionCount,
// reset, step), register it, and it works everywhere staq's built-in environments do — makeEnv
// with a time limit, and the batched vector env the agent acts through.
//   npx tsx examples/custom-env.ts
import { createVectorEnv, makeEnv, registerEnv, type Env, type ResetResult, type StepResult } from "staq";

/**
 * Find the treasure: a corridor of `length` cells; the agent starts at a random cell, moves left (0)
 * or right (1), and the episode terminates with reward +1 at the right end. Each step costs 0.01.
 * The observation is the position scaled to [0, 1] and a one-hot "at a wall" flag.
 */
class TreasureCorridor implements Env {
  readonly name = "TreasureCorridor-v0";
  readonly observationShape = [2];
  readonly actionCount = 2;
  private position = 0;
  private random = mulberry32(0);

  constructor(private readonly length = 8) {}

  reset(options: { seed?: number } = {}): ResetResult {
    // A seed restarts the generator (same seed, same episodes); no seed continues it.
    if (options.seed !== undefined) this.random = mulberry32(options.seed);
    this.position = Math.floor(this.random() * (this.length - 1));
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    if (action !== 0 && action !== 1) throw new Error(`${this.name}: action must be 0 (left) or 1 (right); got ${action}`);
    this.position = Math.max(0, this.position + (action === 1 ? 1 : -1));
    const terminated = this.position === this.length - 1;
    // truncated stays false: time limits are the TimeLimit wrapper's job (see makeEnv below).
    return { obs: this.observe(), reward: terminated ? 1 : -0.01, terminated, truncated: false, info: {} };
  }

  private observe(): Float32Array {
    return Float32Array.of(this.position / (this.length - 1), this.position === 0 ? 1 : 0);
  }
}

/** A small seeded generator for the example (any will do). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Register it like a built-in: makeEnv adds the time limit (truncated = true after 20 steps).
registerEnv({
  name: "TreasureCorridor-v0",
  description: "walk right to the treasure",
  make: () => new TreasureCorridor(),
  maxEpisodeSteps: 20,
});

// Eight copies in one batch, seeded 100..107, with a policy that walks right 70% of the time.
const envs = createVectorEnv(() => makeEnv("TreasureCorridor-v0"), 8);
let obs = envs.reset({ seed: 100 });
console.log(`observations: ${envs.count} × [${envs.observationShape}] in one Float32Array(${obs.length})`);
const policy = mulberry32(7);
const actions = new Int32Array(envs.count);
let finished = 0;
let terminated = 0;
let returns = 0;
for (let t = 0; t < 200; t++) {
  for (let i = 0; i < envs.count; i++) actions[i] = policy() < 0.7 ? 1 : 0;
  const step = envs.step(actions);
  obs = step.obs; // already the next episode's first observation where a copy finished
  for (let i = 0; i < envs.count; i++) {
    if (!step.terminated[i] && !step.truncated[i]) continue;
    finished++;
    terminated += step.terminated[i];
    returns += step.episodeReturns[i];
    // step.finalObs[i] is the finished episode's last observation: bootstrap from it when truncated.
  }
}
console.log(`episodes: ${finished} (${terminated} found the treasure, ${finished - terminated} cut at 20 steps)`);
console.log(`mean return: ${(returns / finished).toFixed(3)}`);
