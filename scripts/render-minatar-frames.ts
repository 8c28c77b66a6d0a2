// SPDX-License-Identifier: GPL-3.0-or-later
// Draws one frame of each MinAtar game into docs/minatar-frames.svg, side by side, and prints the
// same frames as text. Each frame comes from seed 0 and a fixed, repeated pattern of full-set
// actions (n l u r d f), picked per game so that the frame shows most of the game's objects and the
// episode is still running; the picture is the same on every run.
//
//   npx tsx scripts/render-minatar-frames.ts [--color | --no-color]
//
// Text is coloured when stdout is a terminal, unless a flag says otherwise.
import { writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { MINATAR_ACTIONS } from "../src/envs/minatar/game.ts";
import { makeMinatarEnv, type MinatarGameName } from "../src/envs/minatar/registration.ts";
import { renderMinatarSvgRow, renderMinatarText, type MinatarSvgFrame } from "../src/envs/minatar/render.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "docs", "minatar-frames.svg");
const SEED = 0;

/** The action pattern (repeated) and the number of steps, per game, in upstream's game order. */
const PLAN: Record<MinatarGameName, { actions: string; steps: number }> = {
  asterix: { actions: "rlrfdd", steps: 30 },
  breakout: { actions: "lffdrr", steps: 20 },
  freeway: { actions: "frulfd", steps: 20 },
  seaquest: { actions: "rnnrlf", steps: 30 },
  space_invaders: { actions: "nrrnrf", steps: 20 },
};

const args = process.argv.slice(2);
const color = args.includes("--color") ? true : args.includes("--no-color") ? false : process.stdout.isTTY === true;

const frames: MinatarSvgFrame[] = [];
for (const [game, plan] of Object.entries(PLAN) as [MinatarGameName, { actions: string; steps: number }][]) {
  const env = makeMinatarEnv(game);
  let { obs } = env.reset({ seed: SEED });
  for (let t = 0; t < plan.steps; t++) {
    const action = MINATAR_ACTIONS.indexOf(plan.actions[t % plan.actions.length] as (typeof MINATAR_ACTIONS)[number]);
    const step = env.step(action);
    obs = step.obs;
    if (step.terminated) throw new Error(`${env.name} ended at step ${t + 1}; pick another action pattern in PLAN`);
  }
  frames.push({ obs, channels: env.game.channels, title: env.name });
  console.log(`${env.name}: seed ${SEED}, ${plan.steps} steps of "${plan.actions}" repeated`);
  console.log(renderMinatarText(obs, env.game.channels, { color }));
  console.log();
}

writeFileSync(target, renderMinatarSvgRow(frames));
console.log(`wrote ${relative(root, target)}`);
