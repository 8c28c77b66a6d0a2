/**
 * The GPL-3.0 MinAtar port, loaded at run time through the package's `staq/envs/minatar` export
 * and never imported statically, so nothing else in staq includes it. Loading it also registers
 * the "MinAtar/<Game>-v0/-v1" names for makeEnv.
 */
import { StaqError } from "../errors.ts";
import { registerEnv, type EnvRegistration } from "../envs/registry.ts";
import type { Env } from "../envs/env.ts";

/** A MinAtar game's settings (MinatarGameOptions, which lives behind the GPL subpath). */
export interface MinatarSettings {
  stickyActionProb: number;
  difficultyRamping: boolean;
}

/** The part of `staq/envs/minatar` the commands use. */
export interface MinatarModule {
  MINATAR_GAMES: Record<string, unknown>;
  minatarRegistrations(): EnvRegistration[];
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
 * The module, its environments registered in this registry (the module registers them in its own
 * copy of the registry, which is another one when this code runs from source rather than from the
 * built package); `why` says what needed it, for the error when it cannot be loaded. From source,
 * the module's error classes are the built package's too, so a MinAtar refusal is not an
 * `instanceof` the CLI's StaqInputError there (exit 1, not 2): tests of such refusals run the built
 * CLI (runBuiltStaq).
 */
export async function loadMinatar(why: string): Promise<MinatarModule> {
  try {
    // A variable specifier: resolved at run time through the package's exports, never bundled in.
    const specifier: string = MINATAR_SUBPATH;
    const minatar = (await import(specifier)) as MinatarModule;
    for (const registration of minatar.minatarRegistrations()) registerEnv(registration);
    return minatar;
  } catch (error) {
    throw new StaqError(
      `${why} need${why.endsWith("s") ? "" : "s"} ${MINATAR_SUBPATH}, which could not be loaded (${(error as Error).message}); run \`npm run build\` in the staq folder first`,
    );
  }
}
