/**
 * `staq eval --checkpoint DIR [--episodes 10] [--seed S] [--env NAME]`: greedy episodes of a
 * trained agent, printed as one JSON line (the eval.jsonl record) after a human summary on stderr.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
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
  -h, --help         show this help
`;

const OPTIONS = {
  checkpoint: { type: "string" },
  episodes: { type: "string" },
  seed: { type: "string" },
  env: { type: "string" },
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
  if (envName?.startsWith("MinAtar/")) await loadMinatar(envName);
  // The trained policy alone: the replay buffer and Adam's moments are not read (nor needed).
  const policy = await StaQ.loadPolicy(path, values.env ? { env: values.env } : {});
  try {
    const result = await policy.evaluate({ episodes, seed });
    io.stderr.write(
      `${policy.envName} after ${policy.globalStep} steps (${policy.iteration} iterations, stack of ${policy.stack.size}): ` +
        `mean greedy return ${result["eval/mean_return"].toFixed(2)} ± ${result["eval/std_return"].toFixed(2)} (min ${result["eval/min_return"]}, max ${result["eval/max_return"]}) over ${episodes} episodes\n`,
    );
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    policy.destroy();
  }
}

export const evalCommand: Command = {
  name: "eval",
  summary: "run greedy episodes of a trained agent from its checkpoint",
  help: HELP,
  run: evaluate,
};
