/**
 * The GPL-3.0 MinAtar port (the package's `staq/envs/minatar` export), loaded at run time and
 * never imported statically, so nothing else in staq includes it. Loading it also registers the
 * "MinAtar/<Game>-v0/-v1" names for makeEnv.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { StaqError } from "../errors.ts";
import type { Env } from "../envs/env.ts";

/** A MinAtar game's settings (MinatarGameOptions, which lives behind the GPL subpath). */
export interface MinatarSettings {
  stickyActionProb: number;
  difficultyRamping: boolean;
}

/** The part of `staq/envs/minatar` the commands use. */
export interface MinatarModule {
  MINATAR_GAMES: Record<string, unknown>;
  makeMinatarEnvById(id: string, settings: MinatarSettings): Env;
  MINATAR_UPSTREAM_SETTINGS: MinatarSettings;
  savedMinatarSettings(states: readonly unknown[]): MinatarSettings | undefined;
  checkMinatarReference(
    json: unknown,
    factory: unknown,
  ): {
    env: string;
    episodes: number;
    steps: number;
    mismatch?: { episode: number; seed: number; step: number; field: string; expected: unknown; got: unknown };
  };
}

export const MINATAR_SUBPATH = "staq/envs/minatar";

/**
 * The port's entry file beside this module: dist/envs/minatar/index.js in the built package (the
 * file the subpath export names), src/envs/minatar/index.ts from the sources (tsx, the tests). Not
 * the package name: from the sources that resolves to dist/, a second copy of staq whose error
 * classes and environment registry are not these, so its refusals would not be the StaqInputError
 * the CLI turns into exit 2.
 */
export const MINATAR_ENTRY = new URL(`../envs/minatar/index${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * The module, its environments registered; `why` says what needed it, for the error when it
 * cannot be loaded.
 */
export async function loadMinatar(why: string): Promise<MinatarModule> {
  try {
    // A variable specifier: resolved at run time, never bundled in.
    const specifier: string = MINATAR_ENTRY.href;
    return (await import(specifier)) as MinatarModule;
  } catch (error) {
    throw new StaqError(
      `${why} need${why.endsWith("s") ? "" : "s"} ${MINATAR_SUBPATH}, which could not be loaded (${(error as Error).message}); run \`npm run build\` in the staq folder first`,
    );
  }
}
