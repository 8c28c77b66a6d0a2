/**
 * The user's `act` on an agent or a trained policy: actions for a batch of observations of any
 * size, in chunks of the actor's batch. Its samples come from a random stream of their own
 * (USER_ACT_STREAM), one Philox step per chunk, so acting never changes what training draws.
 */
import { StaqInputError } from "../errors.ts";
import { createActor, type Actor } from "../policy/actor.ts";
import type { Stack } from "../stack/stack.ts";
import { behaviourKind } from "./algorithm.ts";
import type { StaqConfig } from "./config.ts";
import { USER_ACT_STREAM } from "./random-streams.ts";

/** The largest chunk one stack evaluation takes (a larger batch runs in several). */
const USER_ACT_BATCH = 1024;

export class UserActing {
  private actor: Actor | undefined;
  private step = 0;

  constructor(
    private readonly stack: Stack,
    private readonly config: Pick<StaqConfig, "algo" | "epsilon" | "seed">,
    private readonly env: { envName: string; observationSize: number },
  ) {}

  /** The greedy actions, or samples of the behaviour policy with this `epsilon`. */
  async act(obs: Float32Array, greedy: boolean, epsilon: number): Promise<Uint32Array> {
    const { envName, observationSize } = this.env;
    if (!(obs instanceof Float32Array) || obs.length === 0 || obs.length % observationSize !== 0) {
      throw new StaqInputError(
        `act: obs must be a Float32Array of batch × ${observationSize} values (${envName}'s observation size); got ${obs instanceof Float32Array ? obs.length + " values" : String(obs)}`,
      );
    }
    this.actor ??= createActor(this.stack, {
      maxBatch: USER_ACT_BATCH,
      epsilon: this.config.epsilon,
      behaviour: behaviourKind(this.config),
      seed: BigInt(this.config.seed) | USER_ACT_STREAM,
    });
    const batch = obs.length / observationSize;
    const actions = new Uint32Array(batch);
    for (let first = 0; first < batch; first += USER_ACT_BATCH) {
      const count = Math.min(USER_ACT_BATCH, batch - first);
      const states = obs.subarray(first * observationSize, (first + count) * observationSize);
      actions.set(await this.actor.act(states, { step: this.step++, greedy, epsilon }), first);
    }
    return actions;
  }

  destroy(): void {
    this.actor?.destroy();
  }
}
