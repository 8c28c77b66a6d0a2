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
import numbers
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
    if not hasattr(module, attribute):
        if registered_with_gymnasium(env_id):
            return None  # Gymnasium's `module:EnvName` (an unversioned id the module registered on import)
        raise BridgeError("bad-env", f"module {module_name!r} has no attribute {attribute!r}, so {env_id!r} names no factory; "
                          f"{callables_of(module)}")
    factory = getattr(module, attribute)
    if not callable(factory):
        raise BridgeError("bad-env", f"{module_name}.{attribute} is of type {type(factory).__name__}, not a callable, so {env_id!r} "
                          f"cannot build the env; {callables_of(module)}")
    return factory


def registered_with_gymnasium(env_id):
    """Whether Gymnasium, when importable, knows env_id (a module may register ids on import)."""
    try:
        import gymnasium
    except ImportError:
        return False
    return env_id in gymnasium.registry or env_id.rpartition(":")[2] in gymnasium.registry


def callables_of(module):
    """The public callables of a module, for an error that says what could have been meant."""
    names = sorted(name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name, None)))
    shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
    return f"its callable attributes: {shown}" if names else "it has no public callable attributes"


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
    paths = list(spec.get("path") or [])
    # The caller's working directory right after the explicit paths, ahead of the standard library,
    # as `python3 -c` has it: a factory's module often lives there, and last it would be shadowed by
    # any stdlib module of the same name (./test.py by the `test` package).
    sys.path[0:0] = paths + [os.getcwd()]
    factory = factory_of(env_id)
    if factory is not None:
        envs = [factory(**kwargs) for _ in range(count)]
        refuse_aliases(envs, spec.get("name") or env_id)
        return [TimeLimit(env, limit) for env in envs] if limit else envs
    gymnasium = import_gymnasium()
    extra = {"max_episode_steps": limit} if limit else {}
    try:
        return [gymnasium.make(env_id, **extra, **kwargs) for _ in range(count)]
    except gymnasium.error.Error as error:
        raise BridgeError("bad-env", f"gymnasium.make({env_id!r}) failed: {type(error).__name__}: {error}") from error


def refuse_aliases(envs, name):
    """Every copy its own object: copies sharing one env would step it N times per step, their episodes mixed."""
    seen = {}
    for i, env in enumerate(envs):
        keys = {id(env)}
        unwrapped = getattr(env, "unwrapped", None)
        if unwrapped is not None:
            keys.add(id(unwrapped))
        for key in keys:
            if key in seen:
                raise BridgeError("bad-env", f"{name}: the factory returned the same environment object twice (copies {seen[key]} and {i}); "
                                  "it must build a new copy on every call")
        for key in keys:
            seen[key] = i


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
    if np.any(np.isnan(low)) or np.any(np.isnan(high)):
        raise BridgeError("space", f"{name}: the Box action space {space} has NaN bounds; fix the env's action_space")
    if np.any(low > high):
        raise BridgeError("space", f"{name}: the Box action space {space} has a low bound above its high bound; fix the env's action_space")
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
    if int(np.prod(shape)) < 1:
        raise BridgeError("space", f"{name} has the observation space {obs_space} of shape {tuple(shape)}, which holds no values; "
                          "staq needs at least one observation value")
    if hasattr(act_space, "n") and not getattr(act_space, "shape", None):
        if discretise:
            # Refused rather than ignored: the option says the user expects a Box, so this is likely the wrong env.
            raise BridgeError("space", f"{name}: discretise-box applies to Box action spaces, but this env's action space is "
                              f"{act_space}, already discrete; drop the option")
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

    def place(self, target, row, obs, i=None):
        """Copy i's observation, flattened into target[row] (row = i unless given)."""
        i = row if i is None else i
        try:
            flat = np.asarray(obs, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as error:
            raise BridgeError("space", f"{self.name}: copy {i} returned an observation that is not an array of numbers: "
                              f"{short(obs)} ({error})") from error
        if flat.size != self.size:
            raise BridgeError("space", f"{self.name}: copy {i} returned an observation of {flat.size} values; "
                              f"its observation space says {self.size} ({self.spec['observationShape']})")
        target[row] = flat

    def reset(self, seeds):
        for i, env in enumerate(self.envs):
            result = env.reset() if seeds is None else env.reset(seed=int(seeds[i]))
            self.place(self.obs, i, self.reset_obs(i, result))
        return self.obs

    def reset_obs(self, i, result):
        """The observation of Gymnasium's `(obs, info)`; the old Gym API's bare observation is refused by name."""
        if isinstance(result, tuple) and len(result) == 2 and result[0] is not None:
            return result[0]
        if isinstance(result, tuple) and len(result) == 2:
            raise BridgeError("space", f"{self.name}: copy {i}'s reset() returned the observation None (with info {short(result[1])}); "
                              "it must return an array observation")
        raise BridgeError("space", f"{self.name}: copy {i}'s reset() returned {short(result)}, not Gymnasium's (observation, info); "
                          "this looks like the old Gym API (reset() returning the observation alone): update the env "
                          "or wrap it to return (obs, info)")

    def step_result(self, i, result):
        """Gymnasium's 5-tuple, its reward a real number and its flags booleans, or a BridgeError saying what is wrong."""
        if not (isinstance(result, tuple) and len(result) == 5):
            size = f"{len(result)} values" if isinstance(result, tuple) else short(result)
            raise BridgeError("space", f"{self.name}: copy {i}'s step() returned {size}, not Gymnasium's (obs, reward, terminated, "
                              "truncated, info); 4 values is the old Gym API (done instead of terminated and truncated): update the env")
        obs, reward, term, trunc, _ = result
        if not is_real(reward):
            raise BridgeError("space", f"{self.name}: copy {i}'s step() returned the reward {short(reward)}; it must be a single real number")
        for flag, what in ((term, "terminated"), (trunc, "truncated")):
            if not isinstance(flag, (bool, np.bool_)) and not (isinstance(flag, numbers.Integral) and flag in (0, 1)):
                raise BridgeError("space", f"{self.name}: copy {i}'s step() returned {what} = {short(flag)}; it must be a bool")
        return obs, float(reward), bool(term), bool(trunc)

    def action(self, a):
        return self.table[a] if self.table is not None else self.start + int(a)

    def step(self, actions):
        """rewards, terminated, truncated and the final observations of the episodes that ended."""
        rewards = np.zeros(self.count, dtype=np.float64)
        terminated = np.zeros(self.count, dtype=np.uint8)
        truncated = np.zeros(self.count, dtype=np.uint8)
        finals = []
        for i, env in enumerate(self.envs):
            obs, reward, term, trunc = self.step_result(i, env.step(self.action(actions[i])))
            rewards[i] = reward
            if term or trunc:
                terminated[i], truncated[i] = term, trunc
                final = np.empty((1, self.size), dtype=np.float32)
                self.place(final, 0, obs, i)
                finals.append(final)
                obs = self.reset_obs(i, env.reset())
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


def is_real(value):
    """A single real number: Python's or numpy's (a 0-d array too), not a string, None or a sequence."""
    if isinstance(value, numbers.Real):
        return True
    if value is None or isinstance(value, (str, bytes)):
        return False
    try:
        array = np.asarray(value)
    except Exception:  # an object numpy cannot read is no number either
        return False
    return array.ndim == 0 and array.dtype.kind in "biuf"


def short(value, chars=80):
    """repr(value), cut to `chars` characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= chars else text[:chars] + "..."


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
