/**
 * The StaQ agent in Node: Dawn's device by default, and checkpoints as directories on disk.
 *
 *   const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick" });
 *   await agent.learn({ steps: 50_000 });
 *   await agent.save("runs/cartpole/checkpoint");
 *   const again = await StaQ.load("runs/cartpole/checkpoint");   // continues exactly
 *   await StaQ.create({ env: "gym:CartPole-v1" });               // Gymnasium's own, through Python
 */
import { join } from "node:path";
import { StaQ as PortableStaQ, type EnvSource, type RestoreOptions } from "../agent/staq-agent.ts";
import { CHECKPOINT_FILES, decodeCheckpoint, type CheckpointFiles, type DecodedCheckpoint } from "../agent/checkpoint.ts";
import { StaqFormatError, StaqInputError } from "../errors.ts";
import type { Gpu } from "../gpu/gpu.ts";
import { readCheckpointDirectory, writeDirectoryAtomically } from "./checkpoint-directory.ts";
import { createGpu } from "./create-gpu.ts";
import { gymEnvSource } from "../envs/gym/gym-env-source.ts";
import { isGymName } from "../envs/gym/gym-name.ts";
import { pathExists } from "./files.ts";

export interface CheckpointOnDisk {
  files: CheckpointFiles;
  contents: DecodedCheckpoint;
}

/**
 * Reads and checks the checkpoint directory `dir` (or `dir.old`, see checkpoint-directory.ts). A
 * problem is a StaqFormatError naming the file on disk ("runs/x/checkpoint/stack.safetensors: …"):
 * decodeCheckpoint knows only the files' names, and a user with several runs needs the path.
 */
export async function readCheckpoint(dir: string): Promise<CheckpointOnDisk> {
  const files = await readCheckpointDirectory(dir);
  try {
    return { files, contents: decodeCheckpoint(files) };
  } catch (error) {
    if (!(error instanceof StaqFormatError)) throw error;
    const source = (await pathExists(dir)) ? dir : `${dir}.old`;
    const file = CHECKPOINT_FILES.find((name) => error.message.startsWith(name));
    throw new StaqFormatError(
      file ? `${join(source, file)}${error.message.slice(file.length)}` : `the checkpoint ${source}: ${error.message}`,
      { cause: error },
    );
  }
}

export class StaQ extends PortableStaQ {
  protected static override defaultGpu(): Promise<Gpu> {
    return createGpu();
  }

  /** `gym:<id>` names step Gymnasium environments in a Python worker (src/envs/gym/, docs/gym-bridge.md). */
  protected static override envSource(env: EnvSource): EnvSource {
    return typeof env === "string" && isGymName(env) ? gymEnvSource(env) : env;
  }

  /** Writes a checkpoint directory (atomically: an interrupted save leaves the previous one). */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    await writeDirectoryAtomically(dir, await this.checkpoint(extra));
  }

  /** An agent from a checkpoint directory; `env` for an environment that is not registered. */
  static async load(dir: string, options: RestoreOptions = {}): Promise<StaQ> {
    const { contents } = await readCheckpoint(dir);
    try {
      return await this.restoreDecoded(contents, options);
    } catch (error) {
      // A checkpoint whose sizes do not fit this device, or that another environment cannot take:
      // with several runs about, the message must say which checkpoint.
      if (error instanceof StaqInputError && !error.message.includes(dir))
        throw new StaqInputError(`the checkpoint ${dir}: ${error.message}`, { cause: error });
      throw error;
    }
  }
}
