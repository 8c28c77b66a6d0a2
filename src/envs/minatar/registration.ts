// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The five MinAtar games by name, and their registry entries under upstream's Gymnasium ids:
 * "MinAtar/Breakout-v0" (full action set) and "MinAtar/Breakout-v1" (minimal action set), and so on.
 * Importing `staq/envs/minatar` registers them, so `makeEnv("MinAtar/Breakout-v1")` works after it.
 */
import { StaqInputError } from "../../errors.ts";
import { registerEnv, type EnvRegistration } from "../registry.ts";
import { checkOptionKeys } from "../../io/option-keys.ts";
import { asterix } from "./asterix.ts";
import { breakout } from "./breakout.ts";
import { freeway } from "./freeway.ts";
import type { MinatarGameFactory } from "./game.ts";
import { MinatarEnv, type MinatarEnvOptions } from "./minatar-env.ts";
import { seaquest } from "./seaquest.ts";
import { spaceInvaders } from "./space-invaders.ts";

/** The games under upstream's module names. */
export const MINATAR_GAMES = {
  asterix,
  breakout,
  freeway,
  seaquest,
  space_invaders: spaceInvaders,
} as const satisfies Record<string, MinatarGameFactory>;

export type MinatarGameName = keyof typeof MINATAR_GAMES;

const DESCRIPTIONS: Record<MinatarGameName, string> = {
  asterix: "collect gold, dodge enemies",
  breakout: "bounce the ball into the bricks",
  freeway: "cross the road through traffic",
  seaquest: "rescue divers, shoot enemies, surface for air",
  space_invaders: "shoot the descending aliens",
};

/** Upstream's Gymnasium id stem: "space_invaders" → "SpaceInvaders". */
export function minatarIdStem(game: MinatarGameName): string {
  return game
    .split("_")
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join("");
}

/** A MinAtar environment for a game by its upstream module name. */
export function makeMinatarEnv(game: MinatarGameName, options: MinatarEnvOptions = {}): MinatarEnv {
  // Object.hasOwn: a plain lookup would find "constructor" or "toString" on Object.prototype.
  const factory: MinatarGameFactory | undefined = Object.hasOwn(MINATAR_GAMES, game) ? MINATAR_GAMES[game] : undefined;
  if (!factory) throw new StaqInputError(`no MinAtar game named ${JSON.stringify(game)}; known: ${Object.keys(MINATAR_GAMES).join(", ")}`);
  const version = (options.actionSet ?? "full") === "full" ? "v0" : "v1";
  return new MinatarEnv(factory, { name: `MinAtar/${minatarIdStem(game)}-${version}`, ...options });
}

/** The ten registered ids (five games × two action sets): "MinAtar/Breakout-v0" is the full set, -v1 the minimal. */
function minatarIds(): { id: string; game: MinatarGameName; actionSet: "full" | "minimal" }[] {
  return (Object.keys(MINATAR_GAMES) as MinatarGameName[]).flatMap((game) =>
    (["full", "minimal"] as const).map((actionSet) => ({
      id: `MinAtar/${minatarIdStem(game)}-${actionSet === "full" ? "v0" : "v1"}`,
      game,
      actionSet,
    })),
  );
}

/**
 * The environment a registered id names ("MinAtar/Breakout-v1"), made with other game settings
 * than the registered ones (`staq eval` of a run whose game had no sticky actions, say).
 */
export function makeMinatarEnvById(
  id: string,
  settings: Pick<MinatarEnvOptions, "stickyActionProb" | "difficultyRamping"> = {},
): MinatarEnv {
  const ids = minatarIds();
  const entry = ids.find((candidate) => candidate.id === id);
  if (!entry)
    throw new StaqInputError(`no MinAtar environment named ${JSON.stringify(id)}; known: ${ids.map((known) => known.id).join(", ")}`);
  // The action set and name come from the id; a misspelt setting would otherwise be upstream's default, silently.
  checkOptionKeys(settings, ["stickyActionProb", "difficultyRamping"], "makeMinatarEnvById");
  return makeMinatarEnv(entry.game, { ...settings, actionSet: entry.actionSet, name: id });
}

/** The registry entries of the ten MinAtar environments. */
export function minatarRegistrations(): EnvRegistration[] {
  return minatarIds().map(({ id, game, actionSet }) => {
    const probe = makeMinatarEnv(game, { actionSet });
    return {
      name: id,
      description: `MinAtar ${game}: ${DESCRIPTIONS[game]}; 10×10×${probe.observationShape[2]} frame, ${probe.actionCount} actions (${actionSet} set)`,
      make: () => makeMinatarEnv(game, { actionSet, name: id }),
    };
  });
}

for (const registration of minatarRegistrations()) registerEnv(registration);
