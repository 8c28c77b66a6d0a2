#!/usr/bin/env python3
"""Record reference data from the real Gymnasium LunarLander-v3 (discrete, no wind).

The data is used to test staq's TypeScript port (src/envs/box2d/, src/random/pcg64.ts).
This script is ours. It imports an upstream Gymnasium and pybox2d (Box2D 2.3, float32),
which are NOT part of this repository and are never committed.

Output, written to test/fixtures/lunar-lander/ (or --out):

  reset.json         seeds 0..19: the observation from env.reset(seed=s); the terrain read from the
                     env (edge vertices as stored by Box2D in float32, and the float64 smooth_y the env
                     computed, taken from env.sky_polys); the numpy draws behind them (12 terrain
                     uniforms, the 2 initial-force uniforms, the 2 dispersion uniforms of the step
                     inside reset) and the first raw PCG64 outputs; the lander and leg body states
                     after reset; the lander's mass data.
  trajectories.json  seeds 0..9: the first 60 steps (or fewer if the episode ends) of the heuristic
                     controller gymnasium.envs.box2d.lunar_lander.heuristic(env.unwrapped, obs);
                     seeds 0..4: 40 steps of the open-loop action sequence OPEN_LOOP_PATTERN, repeated.
                     Per step: action, obs, reward, terminated, truncated.
  heuristic.json     seeds 0..99, full episodes of the heuristic under gymnasium.make("LunarLander-v3")
                     (TimeLimit 1000): return, length, how it ended; mean, std, median.
  random.json        seeds 0..99, full episodes where the action at every step is
                     int(np.random.default_rng(1000 + seed).integers(0, 4)) (one generator per
                     episode, one draw per step); return, length, how it ended; mean, std, median.

Number format: observations are float32; each is written as float(np.float32 value), i.e. the
shortest decimal that round-trips to the float64 equal to that float32, so Math.fround(x) === x in
JS. Rewards and returns are the env's float64 values. Returns are summed in float64 in step order.
std is the population standard deviation (ddof=0).

"How it ended" ("end"): "landed" = terminated with a final reward of exactly +100 (lander asleep),
"crashed" = terminated with exactly -100 (body contact or |x| >= 1), "truncated" = TimeLimit at 1000.

How to run (from the repository root):

    # UPSTREAM: a folder outside the repository holding Gymnasium's source (UPSTREAM/Gymnasium)
    # and the built Box2D package (UPSTREAM/site/Box2D, plus the pygame stand-in); see below
    export PYTHONPATH=$UPSTREAM/site:$UPSTREAM/Gymnasium
    python3 scripts/lunar-lander-reference.py \
        --gymnasium-commit 3f0476a8cc224dcce2167cc4b6971ae0f04d5cfc \
        --pybox2d-commit 09643321fd363f0850087d1bde8af3f4afd82163

Recorded with: CPython 3.11.7 (x86_64 Linux), numpy 2.4.6, Gymnasium 1.4.0
(Farama-Foundation/Gymnasium@3f0476a8cc224dcce2167cc4b6971ae0f04d5cfc), pybox2d 2.3.10
(pybox2d/pybox2d@09643321fd363f0850087d1bde8af3f4afd82163, built from source with SWIG 4.1.0 and
GCC 12.2.0, `python3 setup.py build_ext && python3 setup.py build`, default flags -O3, no -march).
Gymnasium's box2d package imports pygame at module level (car_racing.py); rendering is never used
here, so an import-only stand-in `pygame` module on PYTHONPATH is enough.

Building UPSTREAM (Debian 12; PyPI need not be reachable): `apt-get install swig`; extract
github.com/pybox2d/pybox2d to UPSTREAM/pybox2d and run `python3 setup.py build_ext && python3
setup.py build` there, then copy build/lib.*/Box2D to UPSTREAM/site/; extract Gymnasium's
`gymnasium/` package to UPSTREAM/Gymnasium/; make UPSTREAM/site/pygame/ an empty package with an
empty gfxdraw.py (import-only stand-in). Gymnasium also needs numpy, cloudpickle and
typing_extensions.

The script checks its own bookkeeping (asserts): the terrain and force replayed from
np.random.default_rng(seed) match the env, and the env's generator after reset is exactly 16
uniform draws into the stream.
"""

import argparse
import json
import math
import os
import platform
import sys

import numpy as np

import Box2D
import gymnasium
from gymnasium.envs.box2d.lunar_lander import heuristic

ENV_ID = "LunarLander-v3"
RESET_SEEDS = range(20)
HEURISTIC_TRAJ_SEEDS = range(10)
HEURISTIC_TRAJ_STEPS = 60
OPEN_LOOP_SEEDS = range(5)
OPEN_LOOP_STEPS = 40
# Open-loop actions: step t (0-based, counting agent steps after reset) takes
# OPEN_LOOP_PATTERN[t % len(OPEN_LOOP_PATTERN)].
OPEN_LOOP_PATTERN = [0, 2, 2, 1, 2, 2, 3, 2, 0, 1, 2, 3]
EPISODE_SEEDS = range(100)
RANDOM_ACTION_SEED_OFFSET = 1000

# Constants of lunar_lander.py, used only to replay the generator.
W = 600 / 30.0
H = 400 / 30.0
INITIAL_RANDOM = 1000.0


def f32(x):
    """float32 value as the exactly equal Python float."""
    return float(np.float32(x))


def f32list(a):
    return [f32(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def vec(v):
    return [f32(v[0]), f32(v[1])]


def versions(args):
    return {
        "gymnasium": gymnasium.__version__,
        "gymnasium_commit": args.gymnasium_commit,
        "pybox2d": Box2D.__version__,
        "pybox2d_commit": args.pybox2d_commit,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
    }


def end_kind(terminated, truncated, reward):
    if terminated:
        if reward == 100:
            return "landed"
        if reward == -100:
            return "crashed"
        raise AssertionError(f"terminated with reward {reward}")
    if truncated:
        return "truncated"
    raise AssertionError("episode neither terminated nor truncated")


def stats(values):
    a = np.asarray(values, dtype=np.float64)
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def body_state(b):
    return {
        "position": vec(b.position),
        "angle": f32(b.angle),
        "linearVelocity": vec(b.linearVelocity),
        "angularVelocity": f32(b.angularVelocity),
        "awake": bool(b.awake),
    }


def record_reset(env, args):
    u = env.unwrapped
    out = []
    for seed in RESET_SEEDS:
        obs, _ = env.reset(seed=seed)

        # Replay the generator the env seeded: Generator(PCG64(SeedSequence(seed))).
        rng = np.random.default_rng(seed)
        terrain = rng.uniform(0, H / 2, size=(12,))
        force = [rng.uniform(-INITIAL_RANDOM, INITIAL_RANDOM) for _ in range(2)]
        dispersion = [rng.uniform(-1.0, 1.0) for _ in range(2)]
        assert rng.bit_generator.state == u.np_random.bit_generator.state, seed
        raw = np.random.PCG64(np.random.SeedSequence(seed))
        first_u64 = [str(int(x)) for x in raw.random_raw(4)]

        # Terrain as the env built it.
        smooth_y = [float(poly[0][1]) for poly in u.sky_polys] + [float(u.sky_polys[-1][1][1])]
        edges = [f.shape.vertices for f in u.moon.fixtures]
        assert edges[0] == [(0.0, 0.0), (W, 0.0)], edges[0]
        edges = edges[1:]
        assert len(edges) == 10
        edge_y = [e[0][1] for e in edges] + [edges[-1][1][1]]
        for i in range(10):
            assert edges[i][0] == (f32(2 * i), f32(smooth_y[i])), (seed, i)
            assert edges[i][1] == (f32(2 * i + 2), f32(smooth_y[i + 1])), (seed, i)
        h = terrain.copy()
        h[3:8] = H / 4
        replayed = [float(0.33 * (h[i - 1] + h[i] + h[i + 1])) for i in range(11)]
        assert replayed == smooth_y, seed

        out.append(
            {
                "seed": seed,
                "obs": f32list(obs),
                "terrain": {
                    "smooth_y": smooth_y,
                    "edge_y_f32": [f32(y) for y in edge_y],
                    "chunk_x": [2.0 * i for i in range(11)],
                },
                "draws": {
                    "terrain_uniform_0_H2": [float(x) for x in terrain],
                    "initial_force": [float(x) for x in force],
                    "reset_step_dispersion_uniform_m1_1": [float(x) for x in dispersion],
                    "pcg64_first_u64": first_u64,
                },
                "lander": body_state(u.lander),
                "legs": [body_state(leg) for leg in u.legs],
                "game_over": bool(u.game_over),
                "prev_shaping": float(u.prev_shaping),
            }
        )
    md = u.lander.massData
    return {
        "description": "obs = env.reset(seed=s) for gymnasium.make('LunarLander-v3'); see "
        "scripts/lunar-lander-reference.py. smooth_y is float64 (from env.sky_polys); "
        "edge_y_f32 is what Box2D stores. draws replay np.random.default_rng(seed) in the env's "
        "order: 12 terrain uniform(0, H/2), 2 initial-force uniform(-1000, 1000) (x then y), "
        "2 dispersion uniform(-1, 1) of the step inside reset. pcg64_first_u64 are the first "
        "raw 64-bit outputs of PCG64(SeedSequence(seed)) as decimal strings.",
        "versions": versions(args),
        "lander_mass": {
            "mass": f32(md.mass),
            "localCenter": vec(md.center),
            # b2Body::GetInertia(): rotational inertia about the body origin (not the centre).
            "I_about_body_origin": f32(u.lander.inertia),
        },
        "leg_mass": f32(u.legs[0].massData.mass),
        "seeds": out,
    }


def run_steps(env, seed, policy, max_steps):
    obs, _ = env.reset(seed=seed)
    reset_obs = f32list(obs)
    steps = []
    for t in range(max_steps):
        action = int(policy(t, obs))
        obs, reward, terminated, truncated, _ = env.step(action)
        steps.append(
            {
                "t": t,
                "action": action,
                "obs": f32list(obs),
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            }
        )
        if terminated or truncated:
            break
    return {"seed": seed, "reset_obs": reset_obs, "steps": steps}


def record_trajectories(env, args):
    u = env.unwrapped
    heur = [
        run_steps(env, s, lambda t, o: heuristic(u, o), HEURISTIC_TRAJ_STEPS)
        for s in HEURISTIC_TRAJ_SEEDS
    ]
    open_loop = [
        run_steps(
            env,
            s,
            lambda t, o: OPEN_LOOP_PATTERN[t % len(OPEN_LOOP_PATTERN)],
            OPEN_LOOP_STEPS,
        )
        for s in OPEN_LOOP_SEEDS
    ]
    return {
        "description": "Per-step records after env.reset(seed). 'heuristic': action = "
        "gymnasium.envs.box2d.lunar_lander.heuristic(env.unwrapped, obs), first "
        f"{HEURISTIC_TRAJ_STEPS} steps. 'open_loop': action at step t = "
        "open_loop_pattern[t % len(open_loop_pattern)], "
        f"{OPEN_LOOP_STEPS} steps. Actions: 0 noop, 1 left engine, 2 main, 3 right engine.",
        "versions": versions(args),
        "open_loop_pattern": OPEN_LOOP_PATTERN,
        "heuristic": heur,
        "open_loop": open_loop,
    }


def run_episode(env, seed, policy):
    obs, _ = env.reset(seed=seed)
    total = 0.0
    n = 0
    counts = [0, 0, 0, 0]
    while True:
        action = int(policy(obs))
        counts[action] += 1
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        n += 1
        if terminated or truncated:
            return {
                "seed": seed,
                "return": total,
                "length": n,
                "end": end_kind(terminated, truncated, reward),
                "final_reward": float(reward),
                "action_counts": counts,
            }


def summarise(episodes):
    ends = {}
    for e in episodes:
        ends[e["end"]] = ends.get(e["end"], 0) + 1
    return {
        "return": stats([e["return"] for e in episodes]),
        "length": stats([e["length"] for e in episodes]),
        "ends": ends,
    }


def record_heuristic(env, args):
    u = env.unwrapped
    eps = [run_episode(env, s, lambda o: heuristic(u, o)) for s in EPISODE_SEEDS]
    return {
        "description": "Full episodes of the heuristic controller under "
        "gymnasium.make('LunarLander-v3') (TimeLimit 1000), env.reset(seed=s).",
        "versions": versions(args),
        "summary": summarise(eps),
        "episodes": eps,
    }


def record_random(env, args):
    eps = []
    for s in EPISODE_SEEDS:
        rng = np.random.default_rng(RANDOM_ACTION_SEED_OFFSET + s)
        eps.append(run_episode(env, s, lambda o: rng.integers(0, 4)))
    return {
        "description": "Full episodes with uniformly random actions: per episode "
        f"rng = np.random.default_rng({RANDOM_ACTION_SEED_OFFSET} + seed), action at every step "
        "= int(rng.integers(0, 4)); env.reset(seed=seed), TimeLimit 1000.",
        "versions": versions(args),
        "summary": summarise(eps),
        "episodes": eps,
    }


def dumps(obj, indent=0, width=300):
    """JSON with nesting, but any value whose compact form fits in `width` on one line."""
    compact = json.dumps(obj, separators=(", ", ": "), allow_nan=False)
    if len(compact) + indent <= width or not isinstance(obj, (dict, list)) or not obj:
        return compact
    pad = " " * (indent + 1)
    if isinstance(obj, list):
        items = [pad + dumps(v, indent + 1, width) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [
        pad + json.dumps(k) + ": " + dumps(v, indent + 1, width).lstrip()
        for k, v in obj.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(here, "..", "test", "fixtures", "lunar-lander"))
    p.add_argument("--gymnasium-commit", default=None)
    p.add_argument("--pybox2d-commit", default=None)
    args = p.parse_args()

    env = gymnasium.make(ENV_ID)
    assert env.spec.max_episode_steps == 1000
    u = env.unwrapped
    assert not u.continuous and not u.enable_wind and u.gravity == -10.0 and u.render_mode is None

    os.makedirs(args.out, exist_ok=True)
    jobs = [
        ("reset.json", record_reset),
        ("trajectories.json", record_trajectories),
        ("heuristic.json", record_heuristic),
        ("random.json", record_random),
    ]
    for name, fn in jobs:
        data = fn(env, args)
        path = os.path.join(args.out, name)
        with open(path, "w") as f:
            f.write(dumps(data) + "\n")
        line = f"{name}: {os.path.getsize(path)} bytes"
        if "summary" in data:
            r = data["summary"]["return"]
            line += f"; return mean {r['mean']:.3f} std {r['std']:.3f} median {r['median']:.3f}"
            line += f"; ends {data['summary']['ends']}"
        print(line, file=sys.stderr)
    env.close()


if __name__ == "__main__":
    main()
