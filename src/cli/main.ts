#!/usr/bin/env node
/**
 * The `staq` command: dispatches to one module per subcommand and turns failures into exit codes:
 * 0 done; 1 failed (one line on stderr); 2 what was given is wrong: the command line (the
 * message and the usage on stderr), or an input file, an output path or an option value
 * (StaqFormatError, StaqInputError: one line saying what to fix; a path that cannot be read or
 * written is one, see fileError in src/node/files.ts); 128 + N a run stopped by signal N before
 * its end (130: Ctrl-C, 143: SIGTERM; `staq train`, whose checkpoint is then saved and `--resume`
 * continues it). STAQ_DEBUG=1 adds the stack trace to exits 1 and 2.
 */
import { filterDawnStartupWarnings } from "../node/create-gpu.ts";
import { runCommand, type Command, type CommandIO } from "./command.ts";
import { checkEnvCommand } from "./check-env-command.ts";
import { fitCommand } from "./fit-command.ts";
import { gpuCommand } from "./gpu-command.ts";
import { logitsCommand } from "./logits-command.ts";
import { tabularCommand } from "./tabular-command.ts";
import { trainCommand } from "./train-command.ts";
import { evalCommand } from "./eval-command.ts";
import { envsCommand } from "./envs-command.ts";
import { plotCommand } from "./plot-command.ts";
import { compareCommand } from "./compare-command.ts";
import { sweepCommand } from "./sweep-command.ts";

const COMMANDS: readonly Command[] = [
  trainCommand,
  evalCommand,
  plotCommand,
  compareCommand,
  sweepCommand,
  envsCommand,
  logitsCommand,
  fitCommand,
  tabularCommand,
  checkEnvCommand,
  gpuCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: staq <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  show this help, or a command's: staq help <command>`,
    "",
    "Run `staq <command> --help` for a command's options. Set STAQ_DEBUG=1 to see stack traces.",
    "",
  ].join("\n");
}

export async function main(argv: readonly string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  const find = (n: string | undefined) => COMMANDS.find((c) => c.name === n);
  if (name === undefined) {
    io.stderr.write(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    // `staq help CMD`, `staq -h CMD` and `staq --help CMD` alike; a word after CMD is a mistake.
    if (rest.length > 1) {
      io.stderr.write(`staq: ${name} takes one command name; got ${rest.map((r) => JSON.stringify(r)).join(" ")}\n\n${usage()}`);
      return 2;
    }
    if (rest.length === 1 && rest[0] !== "help") {
      const command = find(rest[0]);
      if (!command) {
        io.stderr.write(`staq: no command named ${JSON.stringify(rest[0])}\n\n${usage()}`);
        return 2;
      }
      io.stdout.write(command.help);
      return 0;
    }
    io.stdout.write(usage());
    return 0;
  }
  const command = find(name);
  if (!command) {
    io.stderr.write(`staq: unknown ${name.startsWith("-") ? "option" : "command"} ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return runCommand(command, rest, io);
}

// The CLI owns its process, so Dawn's two harmless start-up warnings may be kept off its stderr
// (src/node/dawn-stderr.ts says how, and why only here).
filterDawnStartupWarnings();
// A reader that stops early (`staq sweep --status | head`) closes the pipe: drop the rest of the
// output rather than crash with EPIPE; the command itself (a training run, say) carries on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}
// exitCode, not exit(): stdout may be a pipe still draining, and the process ends by itself once
// the command has destroyed the GPU device it used.
process.exitCode = await main(process.argv.slice(2));
