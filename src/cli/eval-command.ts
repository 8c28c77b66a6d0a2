/**
 * `staq eval --checkpoint DIR [--episodes 10] [--seed S] [--env NAME]`: greedy episodes of a
 * trained agent, printed as one JSON line (the eval.jsonl record) after a human summary on stderr.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { StaqInputError } from "../errors.ts";
import { parseDecimal } from "../io/decimal.ts";
import { parseJsonText } from "../io/json.ts";
import { StaQ } from "../node/staq.ts";
import { UsageError, integerFlag, parseCommandArgs, type Command, type CommandIO } from "./command.ts";
import { loadMinatar } from "./minatar-module.ts";
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
                     a MinAtar run's game settings, when they were not upstream's (0.1 and
                     true: what the registered games use), for a run trained through the
                     library with its own env; the run's saved state names them. The game
                     is made with these, the other one upstream's, even where the run's differ
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

/** The environment a checkpoint names (undefined when it cannot be read: loading then says why). */
async function savedEnvName(path: string): Promise<string | undefined> {
  for (const dir of [path, `${path}.old`]) {
    const text = await readFile(join(dir, "state.json"), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    try {
      const env = (parseJsonText(text, "state.json") as { env?: unknown } | null)?.env;
      return typeof env === "string" ? env : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
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
  // A MinAtar run needs the GPL subpath loaded (it registers the names) before the agent is built.
  const envName = values.env ?? (await savedEnvName(path));
  const settings = minatarSettings(values);
  // Unknown (no readable state.json) is left to the load, which says what is wrong with the checkpoint.
  if (settings && envName !== undefined && !envName.startsWith("MinAtar/"))
    throw new UsageError(
      `--sticky-action-prob and --difficulty-ramping are MinAtar game settings; this run's environment is ${envName}`,
      evalCommand,
    );
  const minatar = envName?.startsWith("MinAtar/") ? await loadMinatar(envName) : undefined;
  const env = settings && minatar && envName ? () => minatar.makeMinatarEnvById(envName, settings) : values.env;
  // The trained policy alone: the replay buffer and Adam's moments are not read (nor needed).
  const policy = await StaQ.loadPolicy(path, env ? { env } : {}).catch((error: unknown) => {
    // The library's advice (pass env) has a command-line form for a MinAtar game's settings.
    if (minatar && error instanceof StaqInputError && /saved by a game with stickyActionProb/.test(error.message))
      throw new StaqInputError(
        `${error.message}. On the command line: --sticky-action-prob P --difficulty-ramping true|false, as the state names them`,
        { cause: error },
      );
    throw error;
  });
  try {
    const result = await policy.evaluate({ episodes, seed });
    io.stderr.write(
      `${policy.envName}${settings ? ` (stickyActionProb ${settings.stickyActionProb}, difficultyRamping ${settings.difficultyRamping})` : ""} after ${policy.globalStep} steps (${policy.iteration} iterations, stack of ${policy.stack.size}): ` +
        `mean greedy return ${result["eval/mean_return"].toFixed(2)} ± ${result["eval/std_return"].toFixed(2)} (min ${result["eval/min_return"]}, max ${result["eval/max_return"]}) over ${episodes} episodes\n`,
    );
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    policy.destroy();
  }
}

/** The MinAtar game settings the flags give (each defaults to upstream's), or undefined when neither is given. */
function minatarSettings(values: { "sticky-action-prob"?: string; "difficulty-ramping"?: string }) {
  const sticky = values["sticky-action-prob"];
  const ramping = values["difficulty-ramping"];
  if (sticky === undefined && ramping === undefined) return undefined;
  const stickyActionProb = sticky === undefined ? 0.1 : parseDecimal(sticky);
  if (!(stickyActionProb >= 0 && stickyActionProb <= 1))
    throw new UsageError(`--sticky-action-prob must be a number from 0 to 1; got ${JSON.stringify(sticky)}`, evalCommand);
  if (ramping !== undefined && ramping !== "true" && ramping !== "false")
    throw new UsageError(`--difficulty-ramping must be true or false; got ${JSON.stringify(ramping)}`, evalCommand);
  return { stickyActionProb, difficultyRamping: ramping !== "false" };
}

export const evalCommand: Command = {
  name: "eval",
  summary: "run greedy episodes of a trained agent from its checkpoint",
  help: HELP,
  run: evaluate,
};
