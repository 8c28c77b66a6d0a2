// The TypeScript twin of test/fixtures/gym/tiny_env.py's Walk, for the Gymnasium bridge's tests:
// the same rules (see there), so that the bridge over the Python one and createVectorEnv over this
// one must agree step for step.
import type { Env, StepResult } from "../../src/envs/env.ts";

/** tiny_env.py's Walk, in TypeScript: the same rules (see there), for createVectorEnv. */
export class Walk implements Env {
  readonly name = "Walk";
  readonly observationShape = [3];
  readonly actionCount = 3;
  private generator = 0n;
  private seed = 0;
  private p = 0;
  private t = 0;
  constructor(private readonly limit = 6) {}
  private draw(): number {
    this.generator = (this.generator * 1103515245n + 12345n) % 2n ** 31n;
    return Number(this.generator);
  }
  reset(options: { seed?: number } = {}) {
    if (options.seed !== undefined) {
      this.generator = BigInt(options.seed);
      this.seed = options.seed;
    }
    this.p = this.draw() % 3;
    this.t = 0;
    return { obs: this.observe(), info: {} };
  }
  step(action: number): StepResult {
    this.p += action - 1;
    this.t++;
    return { obs: this.observe(), reward: 0.5 * this.p, terminated: Math.abs(this.p) >= 4, truncated: this.t >= this.limit, info: {} };
  }
  private observe() {
    return Float32Array.of(this.p, this.t, this.seed);
  }
}
