#!/usr/bin/env python3
"""staq's Gymnasium worker: N copies of one Python environment, stepped in a batch for staq.

staq (src/envs/gym/) starts this file as `python3 staq_gym_worker.py` and talks to it over stdin and
stdout in length-prefixed binary frames; stderr is left for Python's own messages (tracebacks,
warnings), and staq keeps its tail for the errors it reports. It needs numpy, and Gymnasium only for
a registered Gymnasium id: an id of the form `module.path:factory` builds each copy with
`factory(**kwargs)` and never imports Gymnasium.

Every frame is `u32 length` (little-endian, the bytes that follow it), `u8 type`, then the payload;
all numbers are little-endian. docs/gym-bridge.md has the table of messages; in short:

  request (staq -> worker)                   reply (worker -> staq)
  1 HELLO    JSON spec, once                 129 SPEC     JSON: the spaces
  2 RESET    u8 seeded, [u64 seed] x N       130 OBS      f32 [N x size]
  3 STEP     i32 action x N                  131 STEPPED  u32 ended, u32 0, f64 rewards [N],
                                                          f32 obs [N x size], f32 final obs [ended x size],
                                                          u8 terminated [N], u8 truncated [N]
  4 GET_ATTR utf-8 attribute name            132 ATTR     u32 values per copy, u32 0, f64 [N x values]
  5 CLOSE    (empty)                         (none: the worker exits)
                                             255 ERROR    JSON {kind, message, traceback}

A copy whose episode ends in a step is reset at once, without a seed (its generator continues), and
the step returns the new episode's first observation, the finished episode's last one going to the
"final observation" block: staq's vector env does exactly this (same-step auto-reset). The worker
exits when stdin closes, so it never outlives staq.

`python3 staq_gym_worker.py --bench --env ID --count N` steps the same batch in Python alone, with
random actions, and prints its steps per second as JSON: bench/envs.ts compares the bridge with it.
"""
import importlib
import json
import os
import struct
import sys
import time
import traceback

HELLO, RESET, STEP, GET_ATTR, CLOSE = 1, 2, 3, 4, 5
SPEC, OBS, STEPPED, ATTR, ERROR = 129, 130, 131, 132, 255
PROTOCOL_VERSION = 1
HEADER = struct.Struct("<IB")


class BridgeError(Exception):
    """A problem staq reports as the user's to fix (a bad id, a space it cannot step); `kind` sorts it."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def read_exact(stream, count):
    """`count` bytes from stream, or None at end of file (staq went away)."""
    chunks = []
    while count > 0:
        chunk = stream.read(count)
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def write_frame(out, kind, payload=b""):
    out.write(HEADER.pack(len(payload) + 1, kind))
    out.write(payload)
    out.flush()


def write_error(out, kind, message, trace=""):
    write_frame(out, ERROR, json.dumps({"kind": kind, "message": message, "traceback": trace}).encode())


try:
    import numpy as np
except ImportError as error:  # reported through the protocol, so staq can say what to install
    _out = os.fdopen(1, "wb")
    write_error(_out, "missing-numpy", f"numpy is not importable in {sys.executable}: {error}")
    sys.exit(1)


def import_gymnasium():
    try:
        import gymnasium
    except ImportError as error:
        raise BridgeError("missing-gymnasium", f"gymnasium is not importable in {sys.executable}: {error}") from error
    return gymnasium


def factory_of(env_id):
    """The callable named by `module.path:factory`, or None when env_id is not of that form.

    Gymnasium's own `module:EnvName-v0` form (import the module, then make its registered id) is
    told apart by the attribute: only a callable attribute of the module is a factory.
    """
    if ":" not in env_id:
        return None
    module_name, _, attribute = env_id.rpartition(":")
    if not attribute.isidentifier():
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BridgeError("bad-env", f"cannot import module {module_name!r} for {env_id!r}: {error} "
                          f"(sys.path: {', '.join(sys.path[:6])}{', ...' if len(sys.path) > 6 else ''})") from error
    factory = getattr(module, attribute, None)
    return factory if callable(factory) else None


class TimeLimit:
    """A step limit for a factory's env (Gymnasium's ids get theirs from gymnasium.make)."""

    def __init__(self, env, limit):
        self.env, self.limit, self.elapsed = env, limit, 0
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.unwrapped = getattr(env, "unwrapped", env)

    def reset(self, **kwargs):
        self.elapsed = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed += 1
        return obs, reward, terminated, truncated or self.elapsed >= self.limit, info


def make_copies(spec):
    env_id, count, kwargs = spec["env"], spec["count"], spec.get("kwargs") or {}
    limit = spec.get("maxEpisodeSteps")
    for directory in reversed(spec.get("path") or []):
        sys.path.insert(0, directory)
    # The caller's working directory, as `python3 -c` would have it: a factory's module often lives there.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    factory = factory_of(env_id)
    if factory is not None:
        envs = [factory(**kwargs) for _ in range(count)]
        return [TimeLimit(env, limit) for env in envs] if limit else envs
    gymnasium = import_gymnasium()
    extra = {"max_episode_steps": limit} if limit else {}
    try:
        return [gymnasium.make(env_id, **extra, **kwargs) for _ in range(count)]
    except gymnasium.error.Error as error:
        raise BridgeError("bad-env", f"gymnasium.make({env_id!r}) failed: {type(error).__name__}: {error}") from error


def discrete_actions(space, name):
    """Discrete(n, start): staq's action a is start + a."""
    n = int(space.n)
    if n < 1:
        raise BridgeError("space", f"{name}: Discrete action space with n = {n}")
    return {"kind": "discrete", "n": n, "start": int(getattr(space, "start", 0))}, None


def box_actions(space, name, discretise):
    """Box(low, high): the paper's 2d + 1 actions, as a table of action arrays.

    Index 0 is neutral, the midpoint of the bounds in every dimension (zero force or torque for the
    usual symmetric bounds: the paper's "do nothing"); index 1 + 2j moves dimension j alone to its
    low bound, 2 + 2j to its high bound, every other dimension staying neutral.
    """
    low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
    description = {"kind": "box", "shape": list(space.shape), "low": low.reshape(-1).tolist(), "high": high.reshape(-1).tolist()}
    if not discretise:
        raise BridgeError("space", f"{name} has a Box action space {space}; staq steps discrete actions only: "
                          f"ask for its discretisation into 2d + 1 actions (the name {name},discretise-box, or the option discretiseBox: true)")
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise BridgeError("space", f"{name}: the Box action space {space} has infinite bounds, so it has no low, high or neutral action to discretise to")
    dims = low.size
    neutral = (low + high) / 2
    table = np.repeat(neutral.reshape(1, -1), 2 * dims + 1, axis=0)
    for j in range(dims):
        table[1 + 2 * j, j] = low.reshape(-1)[j]
        table[2 + 2 * j, j] = high.reshape(-1)[j]
    dtype = getattr(space, "dtype", np.float32)
    actions = [row.reshape(space.shape).astype(dtype) for row in table]
    description["n"] = len(actions)
    return description, actions


def read_spaces(envs, name, discretise):
    """What staq needs of the copies' spaces, read by duck typing; every copy must agree."""
    first = envs[0]
    obs_space, act_space = first.observation_space, first.action_space
    shape = getattr(obs_space, "shape", None)
    if not shape:
        raise BridgeError("space", f"{name} has the observation space {obs_space}; staq needs an array observation (a Box): "
                          "wrap the env, e.g. in gymnasium.wrappers.FlattenObservation, in a module.path:factory of yours")
    if hasattr(act_space, "n") and not getattr(act_space, "shape", None):
        action, table = discrete_actions(act_space, name)
    elif hasattr(act_space, "low") and hasattr(act_space, "high"):
        action, table = box_actions(act_space, name, discretise)
    else:
        raise BridgeError("space", f"{name} has the action space {act_space}; staq steps Discrete action spaces, "
                          "and Box ones discretised (discretise-box)")
    for i, env in enumerate(envs[1:], start=1):
        if tuple(getattr(env.observation_space, "shape", ())) != tuple(shape) or str(env.action_space) != str(act_space):
            raise BridgeError("space", f"{name}: copy {i} has spaces {env.observation_space} / {env.action_space}; "
                              f"copy 0 has {obs_space} / {act_space}; every copy must be the same env")
    spec = {
        "version": PROTOCOL_VERSION,
        "observationShape": [int(n) for n in shape],
        "observationDtype": str(getattr(obs_space, "dtype", "float32")),
        "actionCount": action["n"],
        "action": action,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    return spec, table


class Copies:
    """N copies stepped as one batch, with same-step auto-reset (as staq's createVectorEnv)."""

    def __init__(self, spec):
        self.name = spec.get("name") or spec["env"]
        self.envs = make_copies(spec)
        self.count = len(self.envs)
        self.spec, self.table = read_spaces(self.envs, self.name, bool(spec.get("discretiseBox")))
        self.size = int(np.prod(self.spec["observationShape"]))
        self.start = self.spec["action"].get("start", 0)
        self.obs = np.zeros((self.count, self.size), dtype=np.float32)

    def place(self, target, i, obs):
        flat = np.asarray(obs, dtype=np.float32).reshape(-1)
        if flat.size != self.size:
            raise BridgeError("space", f"{self.name}: copy {i} returned an observation of {flat.size} values; "
                              f"its observation space says {self.size} ({self.spec['observationShape']})")
        target[i] = flat

    def reset(self, seeds):
        for i, env in enumerate(self.envs):
            obs, _ = env.reset() if seeds is None else env.reset(seed=int(seeds[i]))
            self.place(self.obs, i, obs)
        return self.obs

    def action(self, a):
        return self.table[a] if self.table is not None else self.start + int(a)

    def step(self, actions):
        """rewards, terminated, truncated and the final observations of the episodes that ended."""
        rewards = np.zeros(self.count, dtype=np.float64)
        terminated = np.zeros(self.count, dtype=np.uint8)
        truncated = np.zeros(self.count, dtype=np.uint8)
        finals = []
        for i, env in enumerate(self.envs):
            obs, reward, term, trunc, _ = env.step(self.action(actions[i]))
            rewards[i] = float(reward)
            if term or trunc:
                terminated[i], truncated[i] = bool(term), bool(trunc)
                final = np.empty((1, self.size), dtype=np.float32)
                self.place(final, 0, obs)
                finals.append(final)
                obs, _ = env.reset()
            self.place(self.obs, i, obs)
        return rewards, terminated, truncated, finals

    def get_attr(self, name):
        values = [np.asarray(getattr(getattr(env, "unwrapped", env), name), dtype=np.float64).reshape(-1) for env in self.envs]
        if len({v.size for v in values}) != 1:
            raise BridgeError("attr", f"{self.name}: attribute {name!r} has different sizes across the copies")
        return values

    def close(self):
        for env in self.envs:
            try:
                env.close()
            except Exception:  # closing is best effort: the process exits next
                pass


def serve(inp, out):
    copies = None
    while True:
        header = read_exact(inp, HEADER.size)
        if header is None:
            break  # staq closed the pipe (or died): exit quietly
        length, kind = HEADER.unpack(header)
        payload = read_exact(inp, length - 1)
        if payload is None:
            break
        try:
            if kind == HELLO:
                spec = json.loads(payload)
                if spec.get("version") != PROTOCOL_VERSION:
                    raise BridgeError("protocol", f"staq speaks protocol {spec.get('version')}; this worker speaks {PROTOCOL_VERSION}")
                copies = Copies(spec)
                write_frame(out, SPEC, json.dumps(copies.spec).encode())
                continue
            if kind == CLOSE:
                break
            if copies is None:
                raise BridgeError("protocol", f"message {kind} before HELLO")
            if kind == RESET:
                seeds = np.frombuffer(payload, dtype="<u8", offset=1) if payload[0] else None
                write_frame(out, OBS, copies.reset(seeds).tobytes())
            elif kind == STEP:
                actions = np.frombuffer(payload, dtype="<i4")
                rewards, terminated, truncated, finals = copies.step(actions)
                out_parts = [struct.pack("<II", len(finals), 0), rewards.tobytes(), copies.obs.tobytes()]
                out_parts += [final.tobytes() for final in finals]
                out_parts += [terminated.tobytes(), truncated.tobytes()]
                write_frame(out, STEPPED, b"".join(out_parts))
            elif kind == GET_ATTR:
                values = copies.get_attr(payload.decode())
                write_frame(out, ATTR, struct.pack("<II", values[0].size, 0) + b"".join(v.astype("<f8").tobytes() for v in values))
            else:
                raise BridgeError("protocol", f"unknown message type {kind}")
        except BridgeError as error:
            write_error(out, error.kind, str(error), traceback.format_exc())
            if copies is None:
                break
        except Exception as error:  # the env's own exception: staq shows its traceback
            write_error(out, "exception", f"{type(error).__name__}: {error}", traceback.format_exc())
            if copies is None:
                break
    if copies is not None:
        copies.close()


def bench(argv):
    """Steps/s of the same batch in Python alone: random actions (drawn before timing), auto-reset."""
    import argparse
    parser = argparse.ArgumentParser(description="the batch of a bridge, stepped in Python alone")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--env", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--discretise-box", action="store_true")
    args = parser.parse_args(argv)
    copies = Copies({"env": args.env, "count": args.count, "discretiseBox": args.discretise_box})
    ring = np.random.RandomState(args.seed).randint(0, copies.spec["actionCount"], size=(4096, args.count)).astype("<i4")
    copies.reset([args.seed + i for i in range(args.count)])
    samples, cursor = [], 0
    for _ in range(args.rounds):
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            for _ in range(max(1, 256 // args.count)):
                copies.step(ring[cursor & 4095])
                cursor += 1
                steps += args.count
        samples.append(steps / (time.perf_counter() - started))
    print(json.dumps({"env": args.env, "count": args.count, "samples": samples}))


def main():
    if "--bench" in sys.argv[1:]:
        bench(sys.argv[1:])
        return
    # The frames go to a private copy of stdout; fd 1 and sys.stdout become stderr, so that an env
    # that prints cannot corrupt the protocol.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        serve(sys.stdin.buffer, out)
    except BrokenPipeError:
        pass  # staq went away mid-reply


if __name__ == "__main__":
    main()
