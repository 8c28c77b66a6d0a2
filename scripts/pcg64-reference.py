"""Writes test/fixtures/pcg64/draws.json: draws from numpy's default generator,
np.random.default_rng(seed) == Generator(PCG64(SeedSequence(seed))), for the port in
src/random/pcg64.ts (test/random/pcg64.test.ts replays them draw for draw).

Usage (numpy only): python3 scripts/pcg64-reference.py > test/fixtures/pcg64/draws.json

Every stream starts from a fresh generator, so each list checks one method on its own.
128-bit states are 32-digit hex strings and 64-bit draws decimal strings, as JSON numbers
cannot hold them exactly.
"""

import json

import numpy as np

SEEDS = [0, 1, 42, 12345, 2**32 - 1, 2**32, 2**40 + 7]
# integers(low, high) calls that exercise every branch of numpy's bounded draw (Lemire's method):
# a 32-bit range, a range of one value (no draw), the full 32-bit range (one raw 32-bit draw) and
# 64-bit ranges. The 32-bit draws use the generator's buffered upper half of a 64-bit output.
INTEGER_CALLS = [
    (-9999, 9999),
    (-9999, 9999),
    (0, 10),
    (5, 6),
    (0, 2**32),
    (0, 3),
    (0, 2**40),
    (-(2**52), 2**52),
    (0, 10),
]


def hex128(value):
    return f"{value:032x}"


def state_of(generator):
    s = generator.bit_generator.state
    return {
        "state": hex128(s["state"]["state"]),
        "inc": hex128(s["state"]["inc"]),
        "has_uint32": bool(s["has_uint32"]),
        "uinteger": int(s["uinteger"]),
    }


def stream(seed):
    fresh = lambda: np.random.default_rng(seed)
    integers = fresh()
    integer_draws = [[low, high, int(integers.integers(low, high))] for low, high in INTEGER_CALLS]
    mixed = fresh()
    # A double between 32-bit draws: random() takes a whole 64-bit output and leaves the buffer alone.
    mixed_draws = [
        ["integers", 0, 100, int(mixed.integers(0, 100))],
        ["random", float(mixed.random())],
        ["integers", 0, 100, int(mixed.integers(0, 100))],
        ["integers", 0, 100, int(mixed.integers(0, 100))],
    ]
    return {
        "seed": seed,
        "seed_sequence_pool": [int(w) for w in np.random.SeedSequence(seed).pool],
        "seed_sequence_words": [int(w) for w in np.random.SeedSequence(seed).generate_state(8)],
        "initial_state": state_of(fresh()),
        "random_raw": [str(int(x)) for x in fresh().bit_generator.random_raw(10)],
        "random": [float(x) for x in fresh().random(10)],
        "uniform": [[-1000.0, 1000.0, float(x)] for x in fresh().uniform(-1000.0, 1000.0, size=3)],
        # LunarLander's terrain draw: uniform(0, H/2, size=12) with H = 400/30.
        "uniform_terrain": [float(x) for x in fresh().uniform(0, 400 / 30 / 2, size=12)],
        "integers": integer_draws,
        "mixed": mixed_draws,
        "state_after_mixed": state_of(mixed),
    }


print(
    json.dumps(
        {
            "source": f"numpy {np.__version__}, np.random.default_rng(seed); scripts/pcg64-reference.py",
            "streams": [stream(seed) for seed in SEEDS],
        },
        indent=1,
    )
)
