/**
 * The StaQ agent in Node: Dawn's device by default, and checkpoints as directories on disk.
 *
 *   const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick" });
 *   await agent.learn({ steps: 50_000 });
 *   await agent.save("runs/cartpole/checkpoint");
 *   const again = await StaQ.load("runs/cartpole/checkpoint");   // continues exactly
 *   const policy = await StaQ.loadPolicy("runs/cartpole/checkpoint"); // acts and evaluates only
 *   await StaQ.create({ env: "gym:CartPole-v1" });               // Gymnasium's own, through Python
 */
import { join } from "node:path";
import { StaQ as PortableStaQ, type EnvSource, type RestoreOptions } from "../agent/staq-agent.ts";
import {
  CHECKPOINT_FILES,
  POLICY_FILES,
  decodeCheckpoint,
  decodeCheckpointPolicy,
  type CheckpointFiles,
  type DecodedCheckpoint,
  type DecodedPolicy,
} from "../agent/checkpoint.ts";
import type { TrainedPolicy } from "../agent/trained-policy.ts";
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
  return { files, contents: await decodedOnDisk(dir, () => decodeCheckpoint(files)) };
}

/** readCheckpoint for the trained policy alone: state.json and stack.safetensors are all it reads. */
export async function readCheckpointPolicy(dir: string): Promise<DecodedPolicy> {
  const files = await readCheckpointDirectory(dir, POLICY_FILES);
  return decodedOnDisk(dir, () => decodeCheckpointPolicy(files));
}

/** `decode()`, its format error naming the file on disk. */
async function decodedOnDisk<T>(dir: string, decode: () => T): Promise<T> {
  try {
    return decode();
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

/** `make()`, an input error that does not name the checkpoint `dir` prefixed with it (several runs about, the message must say which). */
async function namingCheckpoint<T>(dir: string, make: () => Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (error) {
    if (error instanceof StaqInputError && !error.message.includes(dir))
      throw new StaqInputError(`the checkpoint ${dir}: ${error.message}`, { cause: error });
    throw error;
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
    // A checkpoint whose sizes do not fit this device, or that another environment cannot take.
    return namingCheckpoint(dir, () => this.restoreDecoded(contents, options));
  }

  /**
   * The trained policy of a checkpoint directory, for acting and greedy evaluation (see
   * StaQ.restorePolicy): reads only its state.json and stack.safetensors.
   */
  static async loadPolicy(dir: string, options: Omit<RestoreOptions, "overrides"> = {}): Promise<TrainedPolicy> {
    const saved = await readCheckpointPolicy(dir);
    return namingCheckpoint(dir, () => this.restorePolicyDecoded(saved, options));
  }
}
