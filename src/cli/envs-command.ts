/**
 * `staq envs`: what can be trained — every registered environment with its observation shape,
 * action count, time limit and the preset `staq train` uses for it by default.
 */
import { defaultPreset } from "../agent/presets.ts";
import { makeEnv, registeredEnvs } from "../envs/registry.ts";
import { parseCommandArgs, type Command, type CommandIO } from "./command.ts";
import { loadMinatar } from "./minatar-module.ts";

const HELP = `Usage: staq envs [--json]

Lists the environments \`staq train --env NAME\` accepts: name, observation shape, actions, time
limit, default preset and a description. The MinAtar games (GPL-3.0) come from staq/envs/minatar.
Your own environments: implement the Env interface and register it with registerEnv, or pass a
function that builds it to StaQ.create({ env }) (docs/environments.md, examples/custom-env.ts). A Gymnasium environment runs
through Python as gym:<id> (gym:CartPole-v1; docs/gym-bridge.md); it is not listed here.

Options:
  --json       one JSON array instead of a table
  -h, --help   show this help
`;

const OPTIONS = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

async function listEnvs(args: string[], io: CommandIO): Promise<void> {
  const values = parseCommandArgs(args, OPTIONS, envsCommand);
  if (values.help) {
    io.stdout.write(HELP);
    return;
  }
  let note = "";
  await loadMinatar("the MinAtar games").catch((error: Error) => {
    note = `(MinAtar not listed: ${error.message})\n`;
  });
  const rows = registeredEnvs().map((registration) => {
    const env = makeEnv(registration.name);
    return {
      name: registration.name,
      observationShape: [...env.observationShape],
      actions: env.actionCount,
      timeLimit: registration.maxEpisodeSteps ?? null,
      preset: defaultPreset(registration.name),
      description: registration.description,
    };
  });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 1)}\n`);
    // On stderr: stdout stays one JSON document, and a missing MinAtar build is still said.
    io.stderr.write(note);
    return;
  }
  const table = [
    ["name", "obs", "actions", "limit", "default preset", "description"],
    ...rows.map((r) => [
      r.name,
      r.observationShape.join("×"),
      String(r.actions),
      r.timeLimit === null ? "none" : String(r.timeLimit),
      r.preset,
      r.description,
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  io.stdout.write(table.map((row) => row.map((cell, c) => (c === 5 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n") + "\n" + note);
}

export const envsCommand: Command = {
  name: "envs",
  summary: "list the environments staq can train on",
  help: HELP,
  run: listEnvs,
};
