/**
 * The StaQ agent in Node: Dawn's device by default, and checkpoints as directories on disk.
 *
 *   const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick" });
 *   await agent.learn({ steps: 50_000 });
 *   await agent.save("runs/cartpole/checkpoint");
 *   const again = await StaQ.load("runs/cartpole/checkpoint");   // continues exactly
 */
import { StaQ as PortableStaQ, type EnvSource } from "../agent/staq-agent.ts";
import type { StaqConfig } from "../agent/config.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { readCheckpointDirectory, writeDirectoryAtomically } from "./checkpoint-directory.ts";
import { createGpu } from "./create-gpu.ts";

export class StaQ extends PortableStaQ {
  protected static override defaultGpu(): Promise<Gpu> {
    return createGpu();
  }

  /** Writes a checkpoint directory (atomically: an interrupted save leaves the previous one). */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    await writeDirectoryAtomically(dir, await this.checkpoint(extra));
  }

  /** An agent from a checkpoint directory; `env` for an environment that is not registered. */
  static async load(dir: string, options: { env?: EnvSource; gpu?: Gpu; overrides?: Partial<StaqConfig> } = {}): Promise<StaQ> {
    return this.restore(await readCheckpointDirectory(dir), options);
  }
}
