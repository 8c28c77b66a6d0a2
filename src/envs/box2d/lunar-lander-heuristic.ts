/**
 * Gymnasium's hand-written LunarLander controller (`heuristic` in lunar_lander.py, the discrete
 * branch): point the lander towards the pad's centre, hold a height proportional to the horizontal
 * offset, and once a leg touches only brake the fall. It lands most episodes (Gymnasium's own
 * test: a return above 100 for one seed; about 237 on average over 1000 episodes, with a minority
 * of crashes), which makes it a baseline and a check on the physics port.
 *
 * Upstream computes on the float32 observation with Python-float constants, and under numpy ≥ 2
 * (NEP 50) such arithmetic stays in float32: every operation below is rounded to float32
 * (Math.fround), so the action is numpy 2's on the same observation, also at the thresholds.
 */

const f = Math.fround;

/** The action (0 nothing, 1 left engine, 2 main engine, 3 right engine) the heuristic takes on `obs`. */
export function lunarLanderHeuristic(obs: ArrayLike<number>): number {
  const s = Array.from({ length: 8 }, (_, i) => f(obs[i]));
  // The angle should point towards the centre; more than 0.4 rad (22°) is bad.
  let angleTarg = f(f(s[0] * f(0.5)) + f(s[2] * f(1.0)));
  if (angleTarg > f(0.4)) angleTarg = f(0.4);
  if (angleTarg < f(-0.4)) angleTarg = f(-0.4);
  // The target height is proportional to the horizontal offset.
  const hoverTarg = f(f(0.55) * Math.abs(s[0]));

  let angleTodo = f(f(f(angleTarg - s[4]) * f(0.5)) - f(s[5] * f(1.0)));
  let hoverTodo = f(f(f(hoverTarg - s[1]) * f(0.5)) - f(s[3] * f(0.5)));
  if (s[6] !== 0 || s[7] !== 0) {
    // A leg has contact: only reduce the fall speed.
    angleTodo = 0;
    hoverTodo = f(-s[3] * f(0.5));
  }

  if (hoverTodo > Math.abs(angleTodo) && hoverTodo > f(0.05)) return 2;
  if (angleTodo < f(-0.05)) return 3;
  if (angleTodo > f(+0.05)) return 1;
  return 0;
}
