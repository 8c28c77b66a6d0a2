/**
 * `staq eval --checkpoint DIR [--episodes 10] [--seed S] [--env NAME] [MinAtar settings]`: greedy
 * episodes of a trained agent, printed as one JSON line (the eval.jsonl record) after a human
 * summary on stderr. A MinAtar run is played on its game as the run made it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqInputError } from "../errors.ts";
import { parseJsonText } from "../io/json.ts";
import { sourceEnvStates } from "../agent/env-factory.ts";
import { RUN_ENV_NOT_REGISTERED } from "../agent/trained-policy.ts";
import { checkpointSource } from "../node/checkpoint-directory.ts";
import { StaQ } from "../node/staq.ts";
import { UsageError, integerFlag, numberFlag, parseCommandArgs, type Command, type CommandIO } from "./command.ts";
import { loadMinatar, type MinatarModule, type MinatarSettings } from "./minatar-module.ts";
import { checkpointPath } from "./run-directory.ts";

/**
 * The most episodes one evaluation runs: every return is printed in eval/returns, one JSON line,
 * and the episodes run in rounds of the agent's acting batch, so 10^8 would print a gigabyte after
 * hours. (The agent keeps one environment copy per episode of a round, not per episode.)
 */
export const MAX_EPISODES = 100_000;

const HELP = `Usage: staq eval --checkpoint DIR [--episodes N] [--seed S] [--env NAME]
                 [--sticky-action-prob P] [--difficulty-ramping true|false]

Runs greedy episodes (the argmax of the stack's logits) of a trained agent and prints the
evaluation as one JSON line on stdout: {"eval/mean_return": ..., "eval/returns": [...], ...}.

Options:
  --checkpoint DIR   a run directory written by \`staq train\` (its checkpoint/ is used), or a
                     checkpoint directory itself (agent.save); only its state.json and
                     stack.safetensors are read, so the replay buffer and networks files
                     may be left out
  --episodes N       episodes to run, 1 to ${MAX_EPISODES} (default 10)
  --seed S           episode j starts from seed S + j modulo 2^32, S in [0, 2^32) (default: the
                     run's seed + 2^31, the seeds of its first evaluation; the later evaluations
                     during training each start evalEpisodes seeds further on)
  --env NAME         the environment, when it is not the registered one the run names
                     (a gym:<id> run's name is used as it is: its Python env must be importable)
  --sticky-action-prob P, --difficulty-ramping true|false
                     a MinAtar game's settings. By default a MinAtar run is evaluated on
                     its game as the run made it, with the settings its checkpoint records
                     (upstream's 0.1 and true unless it was trained through the library
                     with its own env); a flag evaluates it with another value instead
  -h, --help         show this help
`;

const OPTIONS = {
  checkpoint: { type: "string" },
  episodes: { type: "string" },
  seed: { type: "string" },
  env: { type: "string" },
  "sticky-action-prob": { type: "string" },
  "difficulty-ramping": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * What a checkpoint's state.json says of its run: the environment's name and saved state, and the
 * config's time limit (each undefined where it cannot be read: loading then says why).
 */
async function savedRun(path: string): Promise<{ env?: string; envState?: unknown; timeLimit?: number }> {
  const dir = await checkpointSource(path).catch(() => undefined);
  const text = dir === undefined ? undefined : await readFile(join(dir, "state.json"), "utf8").catch(() => undefined);
  if (text === undefined) return {};
  try {
    const state = parseJsonText(text, "state.json") as { env?: unknown; envState?: unknown; config?: { timeLimit?: unknown } } | null;
    const timeLimit = state?.config?.timeLimit;
    return {
      env: typeof state?.env === "string" ? state.env : undefined,
      envState: state?.envState,
      timeLimit: typeof timeLimit === "number" ? timeLimit : undefined,
    };
  } catch {
    return {};
  }
}

async function evaluate(args: string[], io: CommandIO): Promise<void> {
  const values = parseCommandArgs(args, OPTIONS, evalCommand);
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  if (values.checkpoint === undefined) throw new UsageError("--checkpoint DIR is required", evalCommand);
  const episodes =
    values.episodes === undefined
      ? 10
      : integerFlag(values.episodes, "episodes", evalCommand, {
          min: 1,
          max: MAX_EPISODES,
          why: ` (every return is printed; for more, run several evaluations with --seed S, S + ${MAX_EPISODES}, ...)`,
        });
  // Episode j is reset with seed + j modulo 2^32: a larger --seed would alias a smaller one.
  const seed = values.seed === undefined ? undefined : integerFlag(values.seed, "seed", evalCommand, { min: 0, max: 2 ** 32 - 1 });
  const path = await checkpointPath(values.checkpoint);
  const saved = await savedRun(path);
  const envName = values.env ?? saved.env;
  const flags = settingFlags(values);
  // Unknown (no readable state.json) is left to the load, which says what is wrong with the checkpoint.
  if (Object.keys(flags).length > 0 && envName !== undefined && !envName.startsWith("MinAtar/"))
    throw new UsageError(
      `--sticky-action-prob and --difficulty-ramping are MinAtar game settings; this run's environment is ${envName}`,
      evalCommand,
    );
  // A MinAtar run needs the GPL subpath loaded (it registers the names) before the agent is built.
  const minatar = envName?.startsWith("MinAtar/") ? await loadMinatar(envName) : undefined;
  // The run's copies below the agent's own time limit: a game in a wrapper of the run's own is not
  // one eval can make again, and the load then says so.
  const copies = minatar && envName === saved.env ? sourceEnvStates(saved.envState, saved.timeLimit ?? 0) : undefined;
  const runSettings = copies && minatar?.savedMinatarSettings(copies);
  const game = minatar && envName ? minatarGame(minatar, envName, runSettings, flags) : undefined;
  const env = game?.make ?? values.env;
  // The trained policy alone: the replay buffer and Adam's moments are not read (nor needed).
  const policy = await StaQ.loadPolicy(path, env ? { env } : {}).catch((error: unknown) => {
    // The library's advice (pass env) is for code; say what the command can and cannot make.
    if (error instanceof StaqInputError && error.message.includes(RUN_ENV_NOT_REGISTERED))
      throw new StaqInputError(
        `${error.message}. staq eval makes the registered environment (a MinAtar game with the run's settings) and no other: evaluate this run from code, StaQ.loadPolicy(dir, { env })`,
        { cause: error },
      );
    throw error;
  });
  try {
    const result = await policy.evaluate({ episodes, seed });
    io.stderr.write(
      `${policy.envName}${game ? ` (stickyActionProb ${game.settings.stickyActionProb}, difficultyRamping ${game.settings.difficultyRamping})` : ""} after ${policy.globalStep} steps (${policy.iteration} iterations, stack of ${policy.stack.size}): ` +
        `mean greedy return ${result["eval/mean_return"].toFixed(2)} ± ${result["eval/std_return"].toFixed(2)} (min ${result["eval/min_return"]}, max ${result["eval/max_return"]}) over ${episodes} episodes\n`,
    );
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    policy.destroy();
  }
}

/**
 * The MinAtar game `id` to evaluate on where it is not simply the registered one: made with the
 * run's settings (its checkpoint records them; undefined for another game, or a run from before
 * they were recorded) and the flags' over them. Undefined where that is the registered game and no
 * flag chose it; where flags chose the settings they are the caller's choice, as the library's env
 * is, even upstream's for a run that had others.
 */
function minatarGame(minatar: MinatarModule, id: string, runSettings: MinatarSettings | undefined, flags: Partial<MinatarSettings>) {
  const upstream = minatar.MINATAR_UPSTREAM_SETTINGS;
  const settings = { ...upstream, ...runSettings, ...flags };
  const registered = settings.stickyActionProb === upstream.stickyActionProb && settings.difficultyRamping === upstream.difficultyRamping;
  if (registered && Object.keys(flags).length === 0) return undefined;
  return { settings, make: () => minatar.makeMinatarEnvById(id, settings) };
}

/** The MinAtar game settings the flags give: those given, checked. */
function settingFlags(values: { "sticky-action-prob"?: string; "difficulty-ramping"?: string }): Partial<MinatarSettings> {
  const sticky = values["sticky-action-prob"];
  const ramping = values["difficulty-ramping"];
  const flags: Partial<MinatarSettings> = {};
  if (sticky !== undefined) {
    flags.stickyActionProb = numberFlag(sticky, "sticky-action-prob", evalCommand, {
      valid: (x) => x >= 0 && x <= 1,
      requirement: "a number from 0 to 1",
    });
  }
  if (ramping !== undefined) {
    if (ramping !== "true" && ramping !== "false")
      throw new UsageError(`--difficulty-ramping must be true or false; got ${JSON.stringify(ramping)}`, evalCommand);
    flags.difficultyRamping = ramping === "true";
  }
  return flags;
}

export const evalCommand: Command = {
  name: "eval",
  summary: "run greedy episodes of a trained agent from its checkpoint",
  help: HELP,
  run: evaluate,
};
