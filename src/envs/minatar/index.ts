// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `staq/envs/minatar`: the MinAtar port (GPL-3.0; see README.md and LICENSE in this folder).
 * Each game is a factory over numpy's RandomState that reproduces upstream MinAtar exactly;
 * `MinatarEnv` wraps one as a staq `Env`. Importing this module registers "MinAtar/<Game>-v0"
 * (full action set) and "-v1" (minimal action set) for `makeEnv`.
 */
export { MINATAR_ACTIONS, type MinatarGame, type MinatarGameFactory, type MinatarGameOptions, type NumpyRandom } from "./game.ts";
export { breakout } from "./breakout.ts";
export { freeway } from "./freeway.ts";
export { seaquest } from "./seaquest.ts";
export { asterix } from "./asterix.ts";
export { spaceInvaders } from "./space-invaders.ts";
export { checkMinatarReference, setCells, type MinatarReferenceReport, type MinatarMismatch } from "./reference-check.ts";
export { MINATAR_UPSTREAM_SETTINGS, MinatarEnv, savedMinatarSettings, type MinatarEnvOptions } from "./minatar-env.ts";
export {
  MINATAR_GAMES,
  makeMinatarEnv,
  makeMinatarEnvById,
  minatarIdStem,
  minatarRegistrations,
  type MinatarGameName,
} from "./registration.ts";
export {
  MINATAR_EMPTY_COLOR,
  minatarPalette,
  minatarGlyphs,
  minatarCellChannels,
  renderMinatarText,
  renderMinatarSvg,
  renderMinatarSvgRow,
  type MinatarTextOptions,
  type MinatarSvgOptions,
  type MinatarSvgFrame,
} from "./render.ts";
