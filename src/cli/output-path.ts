/**
 * The check every command makes of a file it is told to write, before it spends any time: the
 * output must not be one of its inputs (written over, the input would be lost, and a second run
 * would read the output), must not be a directory, a pipe or a device (/dev/stdout: the write
 * renames a file over the path), and its directory (the link's target's, for a symbolic link,
 * which the write follows) must exist and take a new file: a file is made there and removed
 * again, since permission bits alone say nothing of a read-only mount or /proc, and root passes
 * every access() check. Each is the user's to fix, so each exits 2.
 */
import { realpath, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { StaqInputError } from "../errors.ts";
import { describeFsError, fileIdentity, linkTarget, specialFileKind, statIfThere, writeCheckPath } from "../node/files.ts";
import { UsageError, type Command } from "./command.ts";

/** A path as the user gave it, with the option (or description) it came from. */
export interface GivenPath {
  /** "--out", "--plot", or for inputs without an option of their own a description ("the run's eval.jsonl"). */
  option: string;
  path: string;
}

export interface OutputCheck {
  output: GivenPath;
  /** What is written, for the messages: "the chart". */
  what: string;
  /** A file name to suggest when the output is a directory: "curve.svg". */
  example: string;
  /** Every file the command reads (missing ones are skipped). */
  inputs: readonly GivenPath[];
  /** Whose usage to show when the output is an input (a mistake on the command line). */
  command: Command;
  /**
   * The ending the name must have, when the contents fix it (".svg": a chart is SVG text, and in
   * curve.png an image viewer would find no PNG, with nothing to say why). Any case.
   */
  extension?: string;
}

/**
 * Where `path` leads by its real path: links and `..` resolved as far as the path exists, and the
 * part not there yet (a file, or all of a directory that will be made) joined on as given.
 */
export async function realPathSoFar(path: string): Promise<string> {
  const absolute = resolve(path);
  const real = await realpath(absolute).catch(() => undefined);
  if (real !== undefined) return real;
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(await realPathSoFar(parent), basename(absolute));
}

/**
 * Where `path` leads (realPathSoFar), and the file's device and inode, which also tell two hard
 * links to one file apart from two files.
 */
async function identify(path: string): Promise<{ real: string; inode?: string }> {
  const absolute = resolve(path);
  const inode = await fileIdentity(absolute);
  // realpath fails on what has no path of its own (a pipe behind /dev/stdout): the inode tells it apart.
  if (inode !== undefined) return { real: await realpath(absolute).catch(() => absolute), inode };
  return { real: await realPathSoFar(absolute) };
}

/** Throws unless `check.output` can be written without harm (see the module comment). */
export async function checkOutputPath({ output, what, example, inputs, command, extension }: OutputCheck): Promise<void> {
  // "" would resolve to the working directory, and the write fail only at the end.
  if (output.path === "") throw new StaqInputError(`${output.option} needs a file's path for ${what}; got an empty one (e.g. ${example})`);
  // "out.svg/" names a directory: the write would make a file called out.svg, not what was meant.
  if (/[\\/]$/.test(output.path))
    throw new StaqInputError(
      `${output.option} ${output.path} ends in a slash, as a directory's name does; give a file name for ${what}, e.g. ${join(output.path, example)}`,
    );
  const unusable = (error: unknown) =>
    new StaqInputError(`cannot write ${what} to ${output.option} ${output.path}: ${describeFsError(error)}`);
  const target = await identify(output.path);
  for (const input of inputs) {
    const source = await identify(input.path);
    if (source.real === target.real || (source.inode !== undefined && source.inode === target.inode)) {
      const which = input.option.startsWith("-") ? `the ${input.option} file` : `${input.path}, ${input.option}`;
      throw new UsageError(
        `${output.option} ${output.path} is ${which}; write ${what} to another file, so the input stays as it was`,
        command,
      );
    }
  }

  // Not there yet (ENOENT, also a link whose target is not there yet) is fine; a name too long, a
  // loop of links or a forbidden directory on the way is not, and would fail only at the write.
  const info = await statIfThere(output.path).catch((error: unknown) => {
    throw unusable(error);
  });
  const kind = info && specialFileKind(info);
  if (kind !== undefined)
    throw new StaqInputError(
      `${output.option} ${output.path} is ${kind}, not a regular file; ${what} is written by replacing a file, so give a file's path, e.g. ${example}`,
    );
  if (info?.isDirectory()) {
    throw new StaqInputError(
      `${output.option} ${output.path} is a directory; give a file name for ${what}, e.g. ${join(output.path, example)}`,
    );
  }
  const written = await linkTarget(output.path).catch((error: unknown) => {
    throw unusable(error);
  });
  const through = written === resolve(output.path) ? "" : `, the target of the link ${output.path}`;
  const directory = dirname(written);
  const parent = await stat(directory).catch(() => undefined);
  if (parent === undefined)
    throw new StaqInputError(`the directory of ${output.option} ${output.path} (${directory}${through}) does not exist; create it first`);
  if (!parent.isDirectory())
    throw new StaqInputError(`the directory of ${output.option} ${output.path} (${directory}${through}) is a file, not a directory`);
  const probe = writeCheckPath(directory);
  try {
    await writeFile(probe, "", { flag: "wx" });
  } catch (error) {
    // The directory exists (checked above): ENOENT here is a file system that makes no files (/proc).
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? "no file can be created in it (ENOENT: a special file system, such as /proc?)"
        : describeFsError(error);
    throw new StaqInputError(
      `cannot write ${what} into ${directory} (the directory of ${output.option} ${output.path}${through}): ${reason}`,
    );
  } finally {
    await rm(probe, { force: true });
  }
  // Last, so that the messages above, which say more (a directory, an input), come first.
  if (extension !== undefined && !output.path.toLowerCase().endsWith(extension.toLowerCase()))
    throw new StaqInputError(
      `${output.option} ${output.path}: ${what} is written as ${extension.slice(1).toUpperCase()}, so its name must end in ${extension} (e.g. ${example})`,
    );
}
