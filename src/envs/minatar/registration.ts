// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The five MinAtar games by name, and their registry entries under upstream's Gymnasium ids:
 * "MinAtar/Breakout-v0" (full action set) and "MinAtar/Breakout-v1" (minimal action set), and so on.
 * Importing `staq/envs/minatar` registers them, so `makeEnv("MinAtar/Breakout-v1")` works after it.
 */
import { StaqInputError } from "../../errors.ts";
import { registerEnv, type EnvRegistration } from "../registry.ts";
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

/** The registry entries of the ten MinAtar environments (five games × two action sets). */
export function minatarRegistrations(): EnvRegistration[] {
  const registrations: EnvRegistration[] = [];
  for (const game of Object.keys(MINATAR_GAMES) as MinatarGameName[]) {
    for (const [version, actionSet] of [
      ["v0", "full"],
      ["v1", "minimal"],
    ] as const) {
      const name = `MinAtar/${minatarIdStem(game)}-${version}`;
      const probe = makeMinatarEnv(game, { actionSet });
      registrations.push({
        name,
        description: `MinAtar ${game}: ${DESCRIPTIONS[game]}; 10×10×${probe.observationShape[2]} frame, ${probe.actionCount} actions (${actionSet} set)`,
        make: () => makeMinatarEnv(game, { actionSet, name }),
      });
    }
  }
  return registrations;
}

for (const registration of minatarRegistrations()) registerEnv(registration);
