#!/usr/bin/env python3
"""Writes a random MDP as another program would, for `staq tabular` to read, and numpy's own Q*_tau.

Usage: write_mdp.py OUT.json S A GAMMA SEED TAU

- OUT.json: {"P": [S][A][S], "R": [S][A], "gamma": g}; each row P[s][a] is a Dirichlet(1, ..., 1)
  draw, R[s][a] is uniform in [0, 1), all from numpy's own generator (default_rng(SEED)).
- OUT.qstar.json (next to it, OUT without .json): {"q_star": [S][A]}, Q*_tau of the entropy-regularised MDP
      Q(s,a) = R(s,a) + gamma * sum_s' P(s'|s,a) * tau * logsumexp_a' Q(s',a') / tau
  solved by soft value iteration in float64 until the change is below 1e-14 (or stops shrinking).
Shares no code with staq.
"""
import json
import sys

import numpy as np


def soft_value_iteration(P, R, gamma, tau):
    q = np.zeros_like(R)
    for _ in range(100_000):
        # V(s) = tau * log sum_a exp(Q(s,a)/tau), with the max subtracted for stability.
        m = q.max(axis=1)
        v = m + tau * np.log(np.exp((q - m[:, None]) / tau).sum(axis=1))
        new = R + gamma * P @ v  # P is [S, A, S]: (P @ v)[s, a] = sum_s' P[s, a, s'] v[s']
        change = np.abs(new - q).max()
        q = new
        # 1e-14 absolute, or a few ulps of |Q| once rounding keeps the change from going lower.
        if change < 1e-14 or change <= 8 * np.finfo(float).eps * max(1.0, np.abs(q).max()):
            return q
    raise SystemExit("soft value iteration did not converge")


def main():
    if len(sys.argv) != 7:
        raise SystemExit(__doc__)
    out, S, A, gamma, seed, tau = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))  # [S, A, S], each row on the simplex
    R = rng.uniform(0.0, 1.0, size=(S, A))
    with open(out, "w") as f:
        # repr-exact float64 numbers: json writes the shortest round-tripping decimal.
        json.dump({"P": P.tolist(), "R": R.tolist(), "gamma": gamma}, f)
    q_star = soft_value_iteration(P, R, gamma, tau)
    stem = out[: -len(".json")] if out.endswith(".json") else out
    with open(stem + ".qstar.json", "w") as f:
        json.dump({"q_star": q_star.tolist()}, f)


if __name__ == "__main__":
    main()
