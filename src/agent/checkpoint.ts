/**
 * A training checkpoint as four files, portable bytes (src/node/staq.ts puts them in a directory,
 * atomically):
 *
 *   stack.safetensors     the stack, docs/formats.md, “The stack file” (readable by PyTorch's `safetensors`);
 *   networks.safetensors  the active and target networks and Adam's moments, each [E, P] in the
 *                         snapshot layout (src/stack/layout.ts), kept raw so a restore is exact;
 *                         for MDPO also its policy network's (policy_online, policy_target,
 *                         policy_adam_m, policy_adam_v, [1, P]); metadata: format, adam_steps
 *                         (and policy_adam_steps);
 *   replay.safetensors    the replay ring (obs, next_obs [n, inputs]; actions, rewards,
 *                         terminated [n]; next_sums [n, actions], the stack's raw sums of the
 *                         next states, when current: src/train/replay-sums.ts) and the observations
 *                         the next action is chosen from (current_obs [N, inputs]); metadata:
 *                         format, next (the write position);
 *   state.json            the config, the environment, the counters (environment steps,
 *                         iterations, the Philox steps of acting and of policy evaluation, …), the
 *                         stack's coefficients in float64 and its ring position (the file holds
 *                         float32 ones, oldest first) and the stack file's CRC-32, the environments' own state, and what the
 *                         caller adds (`extra`: staq train keeps its log positions there).
 *
 * Every random draw in staq is a pure function of (seed, counter), so counters are all the
 * generator state there is, apart from the environments' own (their `saveState`).
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { crc32 } from "../io/crc32.ts";
import { parseWholeNumber } from "../io/decimal.ts";
import { parseJsonText } from "../io/json.ts";
import { decodeSafetensors, encodeSafetensors, type Float32Tensor } from "../io/safetensors.ts";
import { readStackFile, stackToSafetensors } from "../io/stack-file.ts";
import type { EnvState } from "../envs/env.ts";
import type { MlpSpec, MlpWeights } from "../stack/mlp.ts";
import type { Stack } from "../stack/stack.ts";
import type { MlpTrainerState } from "../train/mlp-trainer.ts";
import type { ReplayContents } from "../train/replay-buffer.ts";
import { CONFIG_FIELDS, LATER_FIELDS, resolveConfig, type StaqConfig } from "./config.ts";
import { PAPER_CLASSIC } from "./presets.ts";

export const CHECKPOINT_FORMAT = "staq-agent-checkpoint/1";
export const CHECKPOINT_FILES = ["stack.safetensors", "networks.safetensors", "replay.safetensors", "state.json"] as const;
/** The files that hold the trained policy: all that acting and greedy evaluation read (decodeCheckpointPolicy). */
export const POLICY_FILES = ["stack.safetensors", "state.json"] as const;

/** File name → bytes. */
export type CheckpointFiles = Record<string, Uint8Array>;

export interface AgentCounters {
  /** Environment steps taken. */
  globalStep: number;
  /** Iterations completed (= snapshots pushed). */
  iteration: number;
  /** The Philox step of the next action sampled while collecting. */
  actStep: number;
  /** Scheduled greedy evaluations done. */
  evaluations: number;
  /** Gradient steps of policy evaluation taken (the Philox step of the next minibatch). */
  gradientSteps: number;
  /** MDPO: gradient steps of its policy fit taken (the Philox step of its next minibatch). */
  policyGradientSteps?: number;
  /** Wall-clock seconds of learning. */
  elapsedSeconds: number;
}

export interface CheckpointContents {
  config: StaqConfig;
  preset: string;
  envName: string;
  /** The adapter the run trained on (a restore elsewhere continues, but not bit for bit). */
  adapter: string;
  counters: AgentCounters;
  trainer: MlpTrainerState;
  /** MDPO's policy network (its online network, π_old in its target network, Adam's state). */
  policy?: MlpTrainerState;
  replay: ReplayContents;
  obs: Float32Array;
  /** The vector env's saveState(), or null when an environment cannot save its state. */
  envState: EnvState;
  extra: Record<string, unknown>;
}

/** The stack as `Stack.set` takes it. */
export interface DecodedStack {
  snapshots: MlpWeights[][];
  coefficients: Float64Array[];
  correction: number;
  tau: number;
  oldestSlot: number;
}

/** What decodeCheckpoint returns: the contents, with the stack as `Stack.set` takes it. */
export interface DecodedCheckpoint extends CheckpointContents {
  stack: DecodedStack;
}

/** What decodeCheckpointPolicy returns: the trained policy and what the run says of it, without the training state. */
export type DecodedPolicy = Pick<DecodedCheckpoint, "config" | "preset" | "envName" | "adapter" | "counters" | "stack" | "envState">;

const encoder = new TextEncoder();

export async function encodeCheckpoint(contents: CheckpointContents & { stack: Stack }): Promise<CheckpointFiles> {
  const { stack, trainer, policy, replay, obs, config } = contents;
  const perMember = stack.layout.vec4s * 4;
  const raw = (data: Float32Array): Float32Tensor => ({ shape: [data.length / perMember, perMember], data });
  const networks = encodeSafetensors(
    {
      online: raw(trainer.params),
      ...(trainer.targetParams ? { target: raw(trainer.targetParams) } : {}),
      adam_m: raw(trainer.adamM),
      adam_v: raw(trainer.adamV),
      ...(policy
        ? {
            policy_online: raw(policy.params),
            ...(policy.targetParams ? { policy_target: raw(policy.targetParams) } : {}),
            policy_adam_m: raw(policy.adamM),
            policy_adam_v: raw(policy.adamV),
          }
        : {}),
    },
    {
      format: "staq-agent-networks/1",
      adam_steps: String(trainer.adamSteps),
      ...(policy ? { policy_adam_steps: String(policy.adamSteps) } : {}),
      layout: "staq snapshot layout (src/stack/layout.ts)",
    },
  );
  const rows = replay.actions.length;
  const inputs = stack.spec.inputs;
  const replayFile = encodeSafetensors(
    {
      obs: { shape: [rows, inputs], data: replay.obs },
      next_obs: { shape: [rows, inputs], data: replay.nextObs },
      actions: { shape: [rows], data: Float32Array.from(replay.actions) },
      rewards: { shape: [rows], data: replay.rewards },
      terminated: { shape: [rows], data: replay.terminated },
      current_obs: { shape: [obs.length / inputs, inputs], data: obs },
      ...(replay.sums ? { next_sums: { shape: [rows, stack.spec.outputs], data: replay.sums } } : {}),
    },
    { format: "staq-agent-replay/1", next: String(replay.next) },
  );
  const stackFile = await stackToSafetensors(stack);
  const state = {
    format: CHECKPOINT_FORMAT,
    env: contents.envName,
    preset: contents.preset,
    adapter: contents.adapter,
    config,
    counters: contents.counters,
    stack: {
      coefficients: stack.coefficients.map((c) => Array.from(c)),
      correction: stack.correction,
      tau: stack.pmd.tau,
      oldestSlot: stack.size === 0 ? 0 : stack.slotsOldestFirst()[0],
      // Ties stack.safetensors to this state.json (decodeCheckpointPolicy compares them).
      crc32: crc32(stackFile),
    },
    envState: contents.envState,
    extra: contents.extra,
  };
  return {
    "stack.safetensors": stackFile,
    "networks.safetensors": networks,
    "replay.safetensors": replayFile,
    "state.json": encoder.encode(JSON.stringify(state, null, 1) + "\n"),
  };
}

/** Runs `read`, prefixing any format error with the file it came from. */
function inFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    // A bad value in a file is a format error of that file, whichever check found it.
    if ((error instanceof StaqFormatError || error instanceof StaqInputError) && !error.message.startsWith(file))
      throw new StaqFormatError(`${file}: ${error.message}`);
    throw error;
  }
}

function field<T>(object: unknown, key: string, check: (v: unknown) => v is T, expected: string, file = "state.json"): T {
  const value = (object as Record<string, unknown> | null)?.[key];
  if (!check(value)) throw new StaqFormatError(`${file}: "${key}" must be ${expected}; got ${JSON.stringify(value)}`);
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A count stored as safetensors metadata (a string): plain digits only ("0x10" and "" are not 16 and 0). */
const metadataCount = (text: string | undefined): number => (text === undefined ? NaN : parseWholeNumber(text));

function tensor(tensors: Map<string, Float32Tensor>, name: string, shape: readonly (number | null)[], file: string): Float32Tensor {
  const found = tensors.get(name);
  if (!found) throw new StaqFormatError(`${file}: missing tensor "${name}"`);
  if (found.shape.length !== shape.length || shape.some((n, i) => n !== null && found.shape[i] !== n)) {
    throw new StaqFormatError(
      `${file}: tensor "${name}" has shape [${found.shape.join(", ")}]; expected [${shape.map((n) => n ?? "n").join(", ")}]`,
    );
  }
  return found;
}

/**
 * Reads and checks state.json and stack.safetensors only: the policy the run trained, for acting
 * or greedy evaluation, from a checkpoint whose replay buffer and networks' training state may be
 * gone (a shared policy, or one trimmed to save space). Problems as decodeCheckpoint's.
 */
export function decodeCheckpointPolicy(files: CheckpointFiles): DecodedPolicy {
  return readPolicyFiles(files, POLICY_FILES, "acting and greedy evaluation read").policy;
}

/** state.json (parsed, and checked as far as the policy needs) and the stack file, after checking that `required` are present. */
function readPolicyFiles(
  files: CheckpointFiles,
  required: readonly string[],
  purpose: string,
): { policy: DecodedPolicy; state: Record<string, unknown>; spec: MlpSpec } {
  for (const name of required) {
    if (!(files[name] instanceof Uint8Array)) throw new StaqFormatError(`the checkpoint has no ${name}; ${purpose} ${required.join(", ")}`);
  }
  const state = parseJsonText(new TextDecoder().decode(files["state.json"]), "state.json");
  if (!isObject(state) || state.format !== CHECKPOINT_FORMAT) {
    throw new StaqFormatError(
      `state.json: "format" must be "${CHECKPOINT_FORMAT}"; got ${JSON.stringify(isObject(state) ? state.format : state)} (is this a staq checkpoint?)`,
    );
  }
  const envName = field(state, "env", isString, "the environment's name");
  const preset = field(state, "preset", isString, "a preset name");
  const adapter = field(state, "adapter", isString, "the adapter's description");
  const savedConfig = field(state, "config", isObject, "the run's config object");
  const missing = CONFIG_FIELDS.filter((f) => !(f.key in savedConfig) && !(f.key in LATER_FIELDS)).map((f) => f.key);
  if (missing.length > 0) throw new StaqFormatError(`state.json: the config lacks ${missing.join(", ")}`);
  const config = inFile("state.json", () => resolveConfig(PAPER_CLASSIC, { ...LATER_FIELDS, ...savedConfig }, "config."));
  const countersObject = field(state, "counters", isObject, "an object of counters");
  const counters: AgentCounters = {
    globalStep: field(countersObject, "globalStep", isCount, "an integer >= 0"),
    iteration: field(countersObject, "iteration", isCount, "an integer >= 0"),
    actStep: field(countersObject, "actStep", isCount, "an integer >= 0"),
    evaluations: field(countersObject, "evaluations", isCount, "an integer >= 0"),
    gradientSteps: field(countersObject, "gradientSteps", isCount, "an integer >= 0"),
    ...(countersObject.policyGradientSteps === undefined
      ? {}
      : { policyGradientSteps: field(countersObject, "policyGradientSteps", isCount, "an integer >= 0") }),
    elapsedSeconds: field(countersObject, "elapsedSeconds", (v): v is number => isFiniteNumber(v) && v >= 0, "a number >= 0"),
  };
  const stackState = field(state, "stack", isObject, "the stack's coefficients and ring position");
  const coefficients = field(
    stackState,
    "coefficients",
    (v): v is number[][] => Array.isArray(v) && v.every((c) => Array.isArray(c) && c.every(isFiniteNumber)),
    "[E][N] finite numbers",
  );
  const correction = field(stackState, "correction", isFiniteNumber, "a finite number");
  const tau = field(stackState, "tau", (v): v is number => isFiniteNumber(v) && v > 0, "a number > 0");
  const oldestSlot = field(stackState, "oldestSlot", isCount, "an integer >= 0");

  const stackFile = inFile("stack.safetensors", () => readStackFile(files["stack.safetensors"]));
  if (stackFile.members !== coefficients.length || coefficients.some((c) => c.length !== stackFile.stored)) {
    throw new StaqFormatError(
      `state.json: the stack's coefficients are [${coefficients.length}][${coefficients[0]?.length}]; stack.safetensors holds [${stackFile.members}][${stackFile.stored}]`,
    );
  }
  // The float64 coefficients must be the file's float32 ones, or the two files are not from one checkpoint.
  coefficients.forEach((c, e) =>
    c.forEach((value, i) => {
      if (Math.fround(value) !== stackFile.coefficients[e][i]) {
        throw new StaqFormatError(
          `state.json's coefficient [${e}, ${i}] (${value}) is not stack.safetensors' (${stackFile.coefficients[e][i]}): the files come from different checkpoints`,
        );
      }
    }),
  );

  // The stack file's CRC-32, in checkpoints written since it was recorded (checked after the stack
  // file's own checks, whose messages say more): the coefficients alone agree between seeds of one
  // config, or between steps once the ring is full at a constant τ.
  if (stackState.crc32 !== undefined) {
    const recorded = field(stackState, "crc32", (v): v is number => isCount(v) && v < 2 ** 32, "an integer in [0, 2^32)");
    const actual = crc32(files["stack.safetensors"]);
    if (actual !== recorded)
      throw new StaqFormatError(
        `state.json records a stack file of CRC-32 ${recorded}, but stack.safetensors' is ${actual}: the files come from different checkpoints (or the stack file was changed); put the stack.safetensors of this checkpoint back`,
      );
  }
  return {
    policy: {
      config,
      preset,
      envName,
      adapter,
      counters,
      stack: { snapshots: stackFile.snapshots, coefficients: coefficients.map((c) => Float64Array.from(c)), correction, tau, oldestSlot },
      // Checked only where it is loaded (the environments' own loadState).
      envState: (state.envState ?? null) as EnvState,
    },
    state,
    spec: stackFile.spec,
  };
}

/** Reads and checks the four files; any problem is a StaqFormatError naming the file and the entry. */
export function decodeCheckpoint(files: CheckpointFiles): DecodedCheckpoint {
  const { policy: trained, state, spec } = readPolicyFiles(files, CHECKPOINT_FILES, "a checkpoint holds");
  const { config } = trained;
  const extra = state.extra === undefined ? {} : field(state, "extra", isObject, "an object");

  const networks = inFile("networks.safetensors", () => decodeSafetensors(files["networks.safetensors"]));
  if (networks.metadata.format !== "staq-agent-networks/1")
    throw new StaqFormatError(
      `networks.safetensors: format must be "staq-agent-networks/1"; got ${JSON.stringify(networks.metadata.format)}`,
    );
  const adamSteps = metadataCount(networks.metadata.adam_steps);
  if (!isCount(adamSteps))
    throw new StaqFormatError(
      `networks.safetensors: adam_steps must be an integer >= 0; got ${JSON.stringify(networks.metadata.adam_steps)}`,
    );
  // The Q-networks: the config's ensemble (the stack's members too, except MDPO's, whose stack holds its one policy network).
  const online = tensor(networks.tensors, "online", [config.ensemble, null], "networks.safetensors");
  const trainerState = (prefix: string, members: number, steps: number): MlpTrainerState => {
    const shape = [members, online.shape[1]];
    const state: MlpTrainerState = {
      params: tensor(networks.tensors, `${prefix}online`, shape, "networks.safetensors").data,
      adamM: tensor(networks.tensors, `${prefix}adam_m`, shape, "networks.safetensors").data,
      adamV: tensor(networks.tensors, `${prefix}adam_v`, shape, "networks.safetensors").data,
      adamSteps: steps,
    };
    if (networks.tensors.has(`${prefix}target`))
      state.targetParams = tensor(networks.tensors, `${prefix}target`, shape, "networks.safetensors").data;
    return state;
  };
  const trainer = trainerState("", config.ensemble, adamSteps);
  let policy: MlpTrainerState | undefined;
  if (networks.tensors.has("policy_online")) {
    const policySteps = metadataCount(networks.metadata.policy_adam_steps);
    if (!isCount(policySteps))
      throw new StaqFormatError(
        `networks.safetensors: policy_adam_steps must be an integer >= 0; got ${JSON.stringify(networks.metadata.policy_adam_steps)}`,
      );
    policy = trainerState("policy_", 1, policySteps);
  }

  const replayFile = inFile("replay.safetensors", () => decodeSafetensors(files["replay.safetensors"]));
  if (replayFile.metadata.format !== "staq-agent-replay/1")
    throw new StaqFormatError(
      `replay.safetensors: format must be "staq-agent-replay/1"; got ${JSON.stringify(replayFile.metadata.format)}`,
    );
  const inputs = spec.inputs;
  const actionsTensor = tensor(replayFile.tensors, "actions", [null], "replay.safetensors");
  const rows = actionsTensor.shape[0];
  const actions = new Uint32Array(rows);
  actionsTensor.data.forEach((a, i) => {
    if (!(Number.isInteger(a) && a >= 0 && a < spec.outputs))
      throw new StaqFormatError(`replay.safetensors: actions[${i}] is ${a}; actions are integers in [0, ${spec.outputs})`);
    actions[i] = a;
  });
  const next = metadataCount(replayFile.metadata.next);
  if (!isCount(next))
    throw new StaqFormatError(`replay.safetensors: "next" must be an integer >= 0; got ${JSON.stringify(replayFile.metadata.next)}`);
  const replay: ReplayContents = {
    obs: tensor(replayFile.tensors, "obs", [rows, inputs], "replay.safetensors").data,
    nextObs: tensor(replayFile.tensors, "next_obs", [rows, inputs], "replay.safetensors").data,
    actions,
    rewards: tensor(replayFile.tensors, "rewards", [rows], "replay.safetensors").data,
    terminated: tensor(replayFile.tensors, "terminated", [rows], "replay.safetensors").data,
    next,
  };
  if (replayFile.tensors.has("next_sums")) {
    const sums = tensor(replayFile.tensors, "next_sums", [rows, spec.outputs], "replay.safetensors").data;
    const bad = sums.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new StaqFormatError(`replay.safetensors: next_sums[${bad}] is ${sums[bad]}; the stack's sums are finite`);
    replay.sums = sums;
  }
  const obs = tensor(replayFile.tensors, "current_obs", [null, inputs], "replay.safetensors").data;

  return {
    ...trained,
    trainer,
    ...(policy ? { policy } : {}),
    replay,
    obs,
    extra,
  };
}
