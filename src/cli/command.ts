/**
 * What every `staq` subcommand is, and the errors the dispatcher turns into exit codes.
 */
import { constants as bufferConstants } from "node:buffer";
import { readFile, stat } from "node:fs/promises";
import type { Writable } from "node:stream";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { StaqError, StaqFormatError, StaqInputError } from "../errors.ts";
import { parseDecimal, parseInteger } from "../io/decimal.ts";
import { fileError } from "../node/files.ts";

export interface CommandIO {
  stdout: Pick<Writable, "write">;
  stderr: Pick<Writable, "write">;
}

export interface Command {
  name: string;
  /** One line, for the list of commands. */
  summary: string;
  /** The command's own help text (`staq help NAME`, `staq NAME --help`). */
  help: string;
  /** Runs the command on its arguments (after the command name). Throws to fail. */
  run(args: string[], io: CommandIO): Promise<void>;
}

/** A command line that cannot be run as written: exit code 2, with the usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show, if the mistake is within one. */
    readonly command?: Command,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The integer flag `--flag` of `command` (parseInteger: "1e3" is 1000), from `min` to `max`;
 * otherwise a UsageError saying the range, then `why`. Every count and seed flag reads through it.
 */
export function integerFlag(text: string, flag: string, command: Command, range: { min: number; max?: number; why?: string }): number {
  const { min, max = Number.MAX_SAFE_INTEGER, why = "" } = range;
  const value = parseInteger(text);
  if (!(value >= min && value <= max)) {
    // An integer past 2^53 is refused too (it has no exact value): say so, not just ">= 1".
    const beyondExact = max === Number.MAX_SAFE_INTEGER && Math.abs(parseDecimal(text)) > max;
    const bounds =
      max !== Number.MAX_SAFE_INTEGER
        ? `from ${min} to ${max}`
        : beyondExact
          ? `from ${min} to 2^53 - 1 (larger ones are not exact)`
          : `>= ${min}`;
    throw new UsageError(`--${flag} must be an integer ${bounds}${why}; got ${JSON.stringify(text)}`, command);
  }
  return value;
}

/**
 * The decimal flag `--flag` of `command` (parseDecimal: "1e-3", not "0x1" or "Infinity"), finite
 * and accepted by `valid`; otherwise a UsageError saying it must be `requirement`. Every real-valued
 * flag reads through it, except `staq train`'s config flags, which the config table parses
 * (parseFieldValue in src/agent/config.ts).
 */
export function numberFlag(
  text: string,
  flag: string,
  command: Command,
  range: { valid: (x: number) => boolean; requirement: string },
): number {
  const value = parseDecimal(text);
  if (!(Number.isFinite(value) && range.valid(value)))
    throw new UsageError(`--${flag} must be ${range.requirement}; got ${JSON.stringify(text)}`, command);
  return value;
}

/**
 * A run that stopped before its end because of a signal (Ctrl-C, SIGTERM): its checkpoint is saved
 * and `--resume` continues it. The exit code is the shell's for a process stopped by the signal,
 * 128 + its number (130 for Ctrl-C), so a script can tell it from a finished run (0) and a failure.
 */
export class RunInterrupted extends StaqError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof StaqError) return error.message;
  if (error instanceof Error) return `${error.message}${process.env.STAQ_DEBUG === "1" ? "" : " (set STAQ_DEBUG=1 for the stack trace)"}`;
  return String(error);
}

/**
 * Runs a command and turns its failure into the exit code and the message main.ts documents: 2
 * with the usage for a UsageError, 2 for a bad input or file, 128 + N for a run stopped by signal
 * N, 1 for anything else.
 */
export async function runCommand(command: Command, args: string[], io: CommandIO): Promise<number> {
  try {
    await command.run(args, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`staq ${command.name}: ${error.message}\n\n${(error.command ?? command).help}`);
      return 2;
    }
    io.stderr.write(`staq ${command.name}: ${describeFailure(error)}\n`);
    if (error instanceof RunInterrupted) return error.exitCode;
    // With STAQ_DEBUG=1 every failure shows where it came from, a bad input (exit 2) as well.
    if (process.env.STAQ_DEBUG === "1" && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    if (error instanceof StaqFormatError || error instanceof StaqInputError) return 2;
    return 1;
  }
}

/** True for the errors `util.parseArgs` throws for unknown options, missing values and the like. */
export function isParseArgsError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/**
 * `util.parseArgs` for a subcommand's arguments (strict, no positionals), with parse errors turned
 * into UsageErrors that show the command's usage.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  command: Command,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>["values"] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message, command);
    throw error;
  }
}

/**
 * Reads a command's input file as text; failing to read it is one line naming the file and why,
 * a StaqInputError (exit 2) when the path is at fault: missing, a directory, not readable.
 */
export async function readInputFile(path: string, what: string): Promise<string> {
  try {
    // A JavaScript string holds at most MAX_STRING_LENGTH characters (about 512 MiB): say so,
    // rather than "Cannot create a string longer than 0x1fffffe8 characters" after reading it all.
    const info = await stat(path);
    if (info.isFile() && info.size > bufferConstants.MAX_STRING_LENGTH) {
      throw new StaqInputError(
        `the ${what} file ${path} is ${info.size} bytes; a text input can have at most ${bufferConstants.MAX_STRING_LENGTH} bytes`,
      );
    }
    return await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof StaqInputError) throw error;
    throw fileError(`Could not read the ${what} file ${path}`, error);
  }
}
