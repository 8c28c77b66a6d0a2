#!/usr/bin/env python3
"""Steps per second of the upstream Python environments that staq ports, single env, on this machine.

bench/envs.ts runs this beside its own measurement so that the ratio port/upstream compares two
figures taken on the same machine in the same run. It imports the upstream sources from a folder
given on the command line (staq does not ship or commit them):

    git -C <MinAtar clone> archive HEAD minatar | tar -x -C DIR
    git -C <Gymnasium clone> archive HEAD gymnasium | tar -x -C DIR
    git -C <MinAtar clone> rev-parse --short HEAD > DIR/minatar.commit        (optional, recorded)
    git -C <Gymnasium clone> rev-parse --short HEAD > DIR/gymnasium.commit    (optional, recorded)
    python3 bench/upstream-env-throughput.py --src DIR [--seconds 2] [--rounds 1] [--only NAMES]

It needs numpy only. MinAtar's `minatar.environment.Environment` imports with numpy alone (missing
matplotlib/seaborn is a logged warning, silenced here). Gymnasium also imports cloudpickle and
typing_extensions; its optional `farama_notifications` import is inside a try/except upstream, so no
stub is needed. Envs whose package is absent from DIR (or fails to import) are reported under
"unavailable" with the reason, and bench/envs.ts falls back to the reference figures for them.

What is measured, per env (kept equal to what bench/envs.ts measures for the port):
- Gymnasium classic control: the env class behind `gymnasium.make(id)` wrapped in `TimeLimit` with the
  registered limit only; that is staq's `makeEnv(id)` (env + time limit). `gymnasium.make`'s other
  wrappers (OrderEnforcing, PassiveEnvChecker) are left out, which makes upstream a little faster and
  the comparison stricter.
- MinAtar: `Environment(game)` (sticky actions 0.1, difficulty ramping, full action set); one step is
  `act(a)` then `state()`, which is what upstream's Gymnasium wrapper `minatar.gym.BaseEnv.step` does,
  and what staq's MinatarEnv.step returns (an observation every step).
- Random actions from a seeded numpy RandomState, drawn before timing (a ring of 65536 Python ints) so
  the generator is not measured; reset (unseeded) whenever the episode ends, inside the timed loop.
- Each round runs whole chunks of 1024 steps until `--seconds` have passed; steps/s = steps / time. The
  figure under each env's key is the median over `--rounds` rounds (all rounds are under "samples").

Prints one JSON object in the shape of the project's reference file upstream-throughput.json:
  {"what", "machine", "date", "gymnasium": {"commit", "<id>": steps/s, ...},
   "minatar": {"commit", "<game>": steps/s, ...}, "samples": {...}, "unavailable": {...}}
"""
import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time

# Gymnasium's envs: classic control, and LunarLander (box2d), which also needs pybox2d (`import Box2D`)
# on the path, and pygame or a stand-in (Gymnasium's box2d package imports car_racing, which imports it).
CLASSIC = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"]
MINATAR = ["breakout", "asterix", "freeway", "seaquest", "space_invaders"]
RING = 65536  # actions precomputed per env; a power of two so the index is a mask
CHUNK = 1024  # steps between clock reads


def minatar_id(game):
    """staq's registry name for a MinAtar game: space_invaders -> MinAtar/SpaceInvaders-v0."""
    return "MinAtar/" + "".join(part.capitalize() for part in game.split("_")) + "-v0"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, help="folder holding the extracted minatar/ and gymnasium/ packages")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per round (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per env; the median is reported (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the action generator and of the first reset")
    parser.add_argument("--only", default="", help="comma-separated env names as staq's registry spells them "
                        "(CartPole-v1, MinAtar/Breakout-v0, ...); default all eight")
    return parser.parse_args()


def commit_of(src, package):
    """The upstream commit, from DIR/<package>.commit or from git when DIR is a checkout; else 'unknown'."""
    try:
        with open(os.path.join(src, package + ".commit")) as f:
            return f.read().strip() or "unknown"
    except OSError:
        pass
    try:
        out = subprocess.run(["git", "-C", os.path.join(src, package), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def time_rounds(step, reset, seconds, rounds):
    """Steps per second of `rounds` rounds of `seconds` each. step(i) returns True when the episode ended."""
    # A short untimed run first: imports, caches and the first reset's allocations are not measured.
    reset()
    warm_until = time.perf_counter() + min(0.2, seconds / 4)
    i = 0
    while time.perf_counter() < warm_until:
        for _ in range(CHUNK):
            if step(i):
                reset()
            i += 1
    rates = []
    for _ in range(rounds):
        steps = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(CHUNK):
                if step(i):
                    reset()
                i += 1
            steps += CHUNK
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(steps / (now - start))
    return rates


def actions_ring(numpy, seed, count):
    return numpy.random.RandomState(seed).randint(count, size=RING).tolist()


def measure_classic(env_id, numpy, args):
    import gymnasium
    from gymnasium.wrappers import TimeLimit

    made = gymnasium.make(env_id)
    env = TimeLimit(made.unwrapped, max_episode_steps=made.spec.max_episode_steps)
    actions = actions_ring(numpy, args.seed, env.action_space.n)
    env.reset(seed=args.seed)
    mask = RING - 1
    env_step = env.step

    def step(i):
        _, _, terminated, truncated, _ = env_step(actions[i & mask])
        return terminated or truncated

    return time_rounds(step, env.reset, args.seconds, args.rounds)


def measure_minatar(game, numpy, args):
    from minatar.environment import Environment

    env = Environment(game)
    env.seed(args.seed)
    actions = actions_ring(numpy, args.seed, env.num_actions())
    mask = RING - 1
    act, state = env.act, env.state

    def step(i):
        _, terminal = act(actions[i & mask])
        state()
        return terminal

    return time_rounds(step, env.reset, args.seconds, args.rounds)


def main():
    args = parse_args()
    if args.seconds <= 0 or args.rounds < 1:
        sys.exit("--seconds must be > 0 and --rounds >= 1")
    src = os.path.abspath(args.src)
    sys.path.insert(0, src)
    logging.disable(logging.WARNING)  # MinAtar logs that matplotlib/seaborn are missing (rendering only)
    import numpy

    wanted = [name for name in args.only.split(",") if name] or CLASSIC + [minatar_id(g) for g in MINATAR]
    known = set(CLASSIC) | {minatar_id(g) for g in MINATAR}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        sys.exit(f"unknown env name(s) {unknown}; known: {sorted(known)}")

    report = {
        "what": "steps per second of the upstream Python environments, single env, random actions "
                f"(precomputed), auto-reset, median of {args.rounds} round(s) of {args.seconds:g} s; "
                "Gymnasium: env + TimeLimit; MinAtar: Environment.act then .state() per step",
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {numpy.__version__}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "gymnasium": {"commit": commit_of(src, "gymnasium")},
        "minatar": {"commit": commit_of(src, "minatar")},
        "samples": {},
        "unavailable": {},
    }
    for name in wanted:
        classic = name in CLASSIC
        game = None if classic else next(g for g in MINATAR if minatar_id(g) == name)
        try:
            rates = measure_classic(name, numpy, args) if classic else measure_minatar(game, numpy, args)
        except Exception as error:  # a package missing from --src, or one of its imports
            report["unavailable"][name] = f"{type(error).__name__}: {error}"
            continue
        section, key = ("gymnasium", name) if classic else ("minatar", game)
        report[section][key] = round(statistics.median(rates))
        report["samples"][name] = [round(rate) for rate in rates]
    if "gymnasium" in sys.modules:  # imported by a classic-control measurement above
        report["gymnasium"]["version"] = sys.modules["gymnasium"].__version__
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
