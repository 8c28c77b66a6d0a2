#!/usr/bin/env python3
"""The PyTorch-on-the-CPU baseline of the trainer benchmark (bench/train.ts).

One gradient step of E ensemble members, written the ordinary PyTorch way: per member an MLP
inputs I -> W -> W -> A (nn.Linear layers, ReLU hidden, linear head) and a target network (a copy,
never updated while timing), on one fixed batch of random data (like the GPU trainer's `train(K)`
on an uploaded batch: no sampling):

    with torch.no_grad():
        y = r + gamma * (1 - done) * mean_e target_e(s')[a']          # [B]
    loss = sum_e mse(online_e(s)[a], y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()           # Adam, lr 1e-4

float32, on the CPU, with torch.set_num_threads(--threads). Steps/s is K / (time of K steps), the
median over --repeats runs after --warmup steps (a config may set its own "steps" K and "warmup").
The JSON also says which BLAS the process loaded (from /proc/self/maps, after a matmul: Debian's
python3-torch calls libblas.so.3, which is the reference BLAS unless an optimised one such as
OpenBLAS is installed) and torch's parallel_info().

Output: one JSON object on stdout; progress goes to stderr.

Usage:
    python3 bench/pytorch_train.py --configs '[{"width":64,"batch":64,"ensemble":1}]' --threads 2 --steps 200
"""
import argparse
import json
import os
import re
import sys
import time

import torch


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def loaded_blas():
    """The BLAS/LAPACK libraries mapped into this process (after torch has run a matmul)."""
    paths = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and re.search(r"blas|lapack|mkl|atlas|blis", os.path.basename(fields[-1]), re.I):
                    paths.add(fields[-1])
    except OSError:
        return {"libraries": [], "name": None}
    libraries = sorted({os.path.realpath(p) for p in paths})
    joined = " ".join(libraries).lower()
    if "openblas" in joined:
        name = "OpenBLAS"
    elif "mkl" in joined:
        name = "MKL"
    elif "blis" in joined:
        name = "BLIS"
    elif "atlas" in joined:
        name = "ATLAS"
    elif re.search(r"/blas/libblas\.so", joined):
        name = "reference BLAS (netlib)"
    elif libraries:
        name = "unknown (" + ", ".join(os.path.basename(p) for p in libraries) + ")"
    else:
        name = None
    return {"libraries": libraries, "name": name}


def build_info():
    show = torch.__config__.show()
    settings = dict(re.findall(r"(BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=([^,\s]*)", show))
    return {"blasInfo": settings.get("BLAS_INFO"), "lapackInfo": settings.get("LAPACK_INFO"), "mkldnn": settings.get("USE_MKLDNN")}


def mlp(inputs, width, actions, depth=2):
    layers = []
    size = inputs
    for _ in range(depth):
        layers += [torch.nn.Linear(size, width), torch.nn.ReLU()]
        size = width
    layers.append(torch.nn.Linear(size, actions))
    return torch.nn.Sequential(*layers)


def bench_config(config, args):
    torch.manual_seed(args.seed)
    e, b, w, i, a = config["ensemble"], config["batch"], config["width"], config["inputs"], config["actions"]
    online = [mlp(i, w, a) for _ in range(e)]
    target = [mlp(i, w, a) for _ in range(e)]
    for net, copy in zip(online, target):
        copy.load_state_dict(net.state_dict())
        copy.requires_grad_(False)
    parameters = [p for net in online for p in net.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=args.lr)

    g = torch.Generator().manual_seed(args.seed)
    states = 4 * torch.rand(b, i, generator=g) - 2
    next_states = 4 * torch.rand(b, i, generator=g) - 2
    actions = torch.randint(0, a, (b, 1), generator=g)
    next_actions = torch.randint(0, a, (b, 1), generator=g)
    rewards = torch.ones(b)
    done = (torch.rand(b, generator=g) < 0.02).float()
    gamma = args.gamma

    def step():
        with torch.no_grad():
            next_q = torch.stack([net(next_states).gather(1, next_actions).squeeze(1) for net in target]).mean(0)
            y = rewards + gamma * (1 - done) * next_q
        loss = sum(torch.nn.functional.mse_loss(net(states).gather(1, actions).squeeze(1), y) for net in online)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    steps, warmup = config.get("steps", args.steps), config.get("warmup", args.warmup)
    for _ in range(warmup):
        step()
    samples = []
    loss = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(steps):
            loss = step()
        samples.append((time.perf_counter() - started) * 1000 / steps)
    samples.sort()
    median = samples[len(samples) // 2] if len(samples) % 2 else 0.5 * (samples[len(samples) // 2 - 1] + samples[len(samples) // 2])
    return {
        "config": config,
        "steps": steps,
        "warmup": warmup,
        "repeats": args.repeats,
        "msPerStep": {"median": median, "min": samples[0], "max": samples[-1], "samples": samples},
        "stepsPerSecond": 1000 / median,
        "finalLoss": float(loss.item()) if loss is not None else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", required=True, help="JSON list of {width, batch, ensemble[, inputs=4, actions=2, steps, warmup]}")
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads(N): the threads staq gets")
    parser.add_argument("--steps", type=int, default=200, help="K: gradient steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of K steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads < 1 or args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        raise SystemExit("pytorch_train.py: --threads, --steps and --repeats must be positive, --warmup non-negative")

    configs = json.loads(args.configs)
    if not isinstance(configs, list):
        raise SystemExit("pytorch_train.py: --configs must be a JSON list")
    for c in configs:
        c.setdefault("inputs", 4)
        c.setdefault("actions", 2)
        bad = [k for k in ("width", "batch", "ensemble", "inputs", "actions") if not (isinstance(c.get(k), int) and c[k] >= 1)]
        if bad:
            raise SystemExit(f"pytorch_train.py: config {json.dumps(c)} needs positive integers for {bad}")
        if not (isinstance(c.get("steps", 1), int) and c.get("steps", 1) >= 1 and isinstance(c.get("warmup", 0), int) and c.get("warmup", 0) >= 0):
            raise SystemExit(f"pytorch_train.py: config {json.dumps(c)}: steps must be a positive integer, warmup a non-negative one")

    torch.set_num_threads(args.threads)
    torch.randn(64, 64) @ torch.randn(64, 64)  # loads the BLAS, so that /proc/self/maps shows it
    result = {
        "torch": torch.__version__,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "interopThreads": torch.get_num_interop_threads(),
        "blas": loaded_blas(),
        "build": build_info(),
        "parallelInfo": torch.__config__.parallel_info(),
        "precision": "float32",
        "step": "per member nn.Sequential MLP (ReLU hidden, linear head) and a target copy; "
        "y = r + gamma*(1-done)*mean_e target_e(s')[a'] (no grad); loss = sum_e MSE(Q_e(s)[a], y); Adam",
        "lr": args.lr,
        "gamma": args.gamma,
        "configs": [],
    }
    for c in configs:
        log(f"pytorch train: 2x{c['width']} b{c['batch']} E{c['ensemble']} ({c['inputs']} inputs, {c['actions']} actions), {args.threads} threads")
        result["configs"].append(bench_config(c, args))
        log(f"  {result['configs'][-1]['stepsPerSecond']:.1f} steps/s")
    # The BLAS once more: a library loaded lazily by the training would show up only now.
    result["blas"] = loaded_blas()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
