#!/usr/bin/env python3
"""The PyTorch-on-the-CPU baseline of the trainer benchmark (bench/train.ts).

One gradient step of E ensemble members, written the ordinary PyTorch way: per member a Q-network
(an MLP inputs I -> W -> W -> A by default: nn.Linear layers, ReLU hidden, linear head; a config's
"hidden" list replaces [W, W]) and a target network (a copy, never updated while timing), on one
fixed batch of random data (like the GPU trainer's `train(K)` on an uploaded batch: no sampling):

    with torch.no_grad():
        y = r + gamma * (1 - done) * mean_e target_e(s')[a']          # [B]
    loss = sum_e mse(online_e(s)[a], y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()           # Adam, lr 1e-4

A config with "conv": {"inputShape": [H, Wd, C], "filters": F, "kernel": [kh, kw], "stride", "padding"}
puts an nn.Conv2d(C, F, (kh, kw)) + ReLU in front (src/stack/conv.ts; the StaQ paper's MinAtar
network: 10x10xC, F = 16, 3x3, hidden [128]): the state, an image flattened [H][Wd][C], is read as
view(B, H, Wd, C).permute(0, 3, 1, 2) (NCHW) and the conv output enters the dense layers through
flatten(1).

float32, on the CPU, with torch.set_num_threads(--threads). Steps/s is K / (time of K steps), the
median over --repeats runs after --warmup steps (a config may set its own "steps" K and "warmup").
The JSON also says which BLAS the process loaded (from /proc/self/maps, after a matmul: Debian's
python3-torch calls libblas.so.3, which is the reference BLAS unless an optimised one such as
OpenBLAS is installed) and torch's parallel_info().

--check FILE runs the same step once in float64 on the networks and batch a JSON file gives and
prints its targets y, loss, gradients and updated parameters (for the tests, which compare them with
staq's float64 reference, src/train/reference.ts). The file: {"config": {...}, "online": [[{"weight":
[flat], "bias": [flat]} per layer] per member], "target": (the same), "states": [flat B*I],
"nextStates", "actions": [B], "nextActions": [B], "rewards": [B], "done": [B]}; weights flat in
PyTorch's row-major layout (a Conv2d weight [F, C, kh, kw], an nn.Linear weight [out, in]).

Output: one JSON object on stdout; progress goes to stderr.

Usage:
    python3 bench/pytorch_train.py --configs '[{"width":64,"batch":64,"ensemble":1}]' --threads 2 --steps 200
    python3 bench/pytorch_train.py --configs '[{"width":128,"hidden":[128],"batch":256,"ensemble":2,"inputs":400,"actions":3,
        "conv":{"inputShape":[10,10,4],"filters":16}}]' --threads 2 --steps 20
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


class HwcToNchw(torch.nn.Module):
    """States [B, H*W*C], flattened [H][W][C] (MinAtar's observation), as images [B, C, H, W]."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.view(x.shape[0], *self.shape).permute(0, 3, 1, 2)


def conv_output_size(conv):
    """F * H' * W': the conv layer's outputs, the first dense layer's inputs."""
    height, width, _ = conv["inputShape"]
    kh, kw = conv.get("kernel", [3, 3])
    stride, padding = conv.get("stride", 1), conv.get("padding", 0)
    return conv["filters"] * ((height + 2 * padding - kh) // stride + 1) * ((width + 2 * padding - kw) // stride + 1)


def check_conv_config(c, script):
    """Exits with a message naming `script` unless a config's optional "conv" is a conv layer over its inputs."""
    conv = c.get("conv")
    if conv is None:
        return
    ints = lambda v, n, low: isinstance(v, list) and len(v) == n and all(isinstance(k, int) and k >= low for k in v)
    if not (
        isinstance(conv, dict)
        and ints(conv.get("inputShape"), 3, 1)
        and isinstance(conv.get("filters"), int)
        and conv["filters"] >= 1
        and ints(conv.get("kernel", [1, 1]), 2, 1)
        and isinstance(conv.get("stride", 1), int)
        and conv.get("stride", 1) >= 1
        and isinstance(conv.get("padding", 0), int)
        and conv.get("padding", 0) >= 0
    ):
        raise SystemExit(f"{script}: config {json.dumps(c)}: conv must be {{inputShape: [H, W, C], filters, kernel?: [kh, kw], stride?, padding?}} of positive integers")
    height, width, channels = conv["inputShape"]
    if height * width * channels != c["inputs"]:
        raise SystemExit(f"{script}: config {json.dumps(c)}: conv inputShape has {height * width * channels} values, inputs is {c['inputs']}")
    if conv_output_size(conv) < 1:
        raise SystemExit(f"{script}: config {json.dumps(c)}: the kernel does not fit the image")


def network(config):
    """The Q-network of a config: [conv + ReLU + flatten(1)], ReLU hidden layers, a linear head."""
    layers = []
    size = config["inputs"]
    conv = config.get("conv")
    if conv:
        channels = conv["inputShape"][2]
        kernel = tuple(conv.get("kernel", [3, 3]))
        layers += [
            HwcToNchw(conv["inputShape"]),
            torch.nn.Conv2d(channels, conv["filters"], kernel, stride=conv.get("stride", 1), padding=conv.get("padding", 0)),
            torch.nn.ReLU(),
            torch.nn.Flatten(1),
        ]
        size = conv_output_size(conv)
    for width in config.get("hidden", [config["width"], config["width"]]):
        layers += [torch.nn.Linear(size, width), torch.nn.ReLU()]
        size = width
    layers.append(torch.nn.Linear(size, config["actions"]))
    return torch.nn.Sequential(*layers)


def networks(config, ensemble):
    """E online networks and their target copies (no gradients), and Adam over the online ones."""
    online = [network(config) for _ in range(ensemble)]
    target = [network(config) for _ in range(ensemble)]
    for net, copy in zip(online, target):
        copy.load_state_dict(net.state_dict())
        copy.requires_grad_(False)
    return online, target


def make_step(online, target, optimizer, batch, gamma):
    """One gradient step on a fixed batch (states, next_states, actions [B,1], next_actions [B,1], rewards, done); returns the loss and y."""
    states, next_states, actions, next_actions, rewards, done = batch

    def step():
        with torch.no_grad():
            next_q = torch.stack([net(next_states).gather(1, next_actions).squeeze(1) for net in target]).mean(0)
            y = rewards + gamma * (1 - done) * next_q
        loss = sum(torch.nn.functional.mse_loss(net(states).gather(1, actions).squeeze(1), y) for net in online)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss, y

    return step


def bench_config(config, args):
    torch.manual_seed(args.seed)
    e, b, i, a = config["ensemble"], config["batch"], config["inputs"], config["actions"]
    online, target = networks(config, e)
    parameters = [p for net in online for p in net.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=args.lr)

    g = torch.Generator().manual_seed(args.seed)
    states = 4 * torch.rand(b, i, generator=g) - 2
    next_states = 4 * torch.rand(b, i, generator=g) - 2
    actions = torch.randint(0, a, (b, 1), generator=g)
    next_actions = torch.randint(0, a, (b, 1), generator=g)
    rewards = torch.ones(b)
    done = (torch.rand(b, generator=g) < 0.02).float()
    step = make_step(online, target, optimizer, (states, next_states, actions, next_actions, rewards, done), args.gamma)

    steps, warmup = config.get("steps", args.steps), config.get("warmup", args.warmup)
    for _ in range(warmup):
        step()
    samples = []
    loss = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(steps):
            loss, _ = step()
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


def check_step(path, args):
    """The timed step, once, in float64 on the networks and batch of a JSON file (see the module doc)."""
    with open(path) as f:
        data = json.load(f)
    config = data["config"]
    validate_config(config)
    e = len(data["online"])
    if e < 1 or len(data["target"]) != e:
        raise SystemExit("pytorch_train.py: --check needs as many target networks as online ones (at least one)")
    online, target = networks(config, e)
    for nets, given in ((online, data["online"]), (target, data["target"])):
        for net, layers in zip(nets, given):
            net.double()
            parameters = list(net.parameters())
            if len(parameters) != 2 * len(layers):
                raise SystemExit(f"pytorch_train.py: --check: the network has {len(parameters) // 2} layers, the file gives {len(layers)}")
            with torch.no_grad():
                for k, layer in enumerate(layers):
                    for p, values in ((parameters[2 * k], layer["weight"]), (parameters[2 * k + 1], layer["bias"])):
                        if len(values) != p.numel():
                            raise SystemExit(f"pytorch_train.py: --check: layer {k} needs {p.numel()} values for a {tuple(p.shape)} parameter; got {len(values)}")
                        p.copy_(torch.tensor(values, dtype=torch.float64).view_as(p))
    optimizer = torch.optim.Adam([p for net in online for p in net.parameters()], lr=args.lr)
    b, i = len(data["actions"]), config["inputs"]
    f64 = lambda key: torch.tensor(data[key], dtype=torch.float64)
    batch = (
        f64("states").view(b, i),
        f64("nextStates").view(b, i),
        torch.tensor(data["actions"], dtype=torch.int64).view(b, 1),
        torch.tensor(data["nextActions"], dtype=torch.int64).view(b, 1),
        f64("rewards"),
        f64("done"),
    )
    loss, y = make_step(online, target, optimizer, batch, args.gamma)()
    flat = lambda tensors: torch.cat([t.detach().flatten() for t in tensors]).tolist()
    return {
        "loss": float(loss.item()),
        "targets": y.tolist(),
        "members": [{"grads": flat(p.grad for p in net.parameters()), "params": flat(net.parameters())} for net in online],
    }


def validate_config(c):
    c.setdefault("inputs", 4)
    c.setdefault("actions", 2)
    bad = [k for k in ("width", "batch", "ensemble", "inputs", "actions") if not (isinstance(c.get(k), int) and c[k] >= 1)]
    if bad:
        raise SystemExit(f"pytorch_train.py: config {json.dumps(c)} needs positive integers for {bad}")
    if not (isinstance(c.get("steps", 1), int) and c.get("steps", 1) >= 1 and isinstance(c.get("warmup", 0), int) and c.get("warmup", 0) >= 0):
        raise SystemExit(f"pytorch_train.py: config {json.dumps(c)}: steps must be a positive integer, warmup a non-negative one")
    if "hidden" in c and not (isinstance(c["hidden"], list) and all(isinstance(w, int) and w >= 1 for w in c["hidden"])):
        raise SystemExit(f"pytorch_train.py: config {json.dumps(c)}: hidden must be a list of positive integers")
    check_conv_config(c, "pytorch_train.py")


def describe(c):
    hidden = c.get("hidden", [c["width"], c["width"]])
    net = "x".join(map(str, hidden)) if len(set(hidden)) != 1 else f"{len(hidden)}x{hidden[0]}"
    conv = c.get("conv")
    if conv:
        net = f"conv {'x'.join(map(str, conv['inputShape']))}->{conv['filters']} + {net}"
    return f"{net} b{c['batch']} E{c['ensemble']}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="[]", help="JSON list of {width, batch, ensemble[, inputs=4, actions=2, hidden, conv, steps, warmup]}")
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads(N): the threads staq gets")
    parser.add_argument("--steps", type=int, default=200, help="K: gradient steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of K steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", metavar="FILE", help="one float64 step on the networks and batch of FILE (see the module doc)")
    args = parser.parse_args()
    if args.threads < 1 or args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        raise SystemExit("pytorch_train.py: --threads, --steps and --repeats must be positive, --warmup non-negative")

    configs = json.loads(args.configs)
    if not isinstance(configs, list):
        raise SystemExit("pytorch_train.py: --configs must be a JSON list")
    for c in configs:
        validate_config(c)

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
        "step": "per member nn.Sequential Q-network ([HWC->NCHW, Conv2d, ReLU, flatten(1)], ReLU hidden, linear head) and a target copy; "
        "y = r + gamma*(1-done)*mean_e target_e(s')[a'] (no grad); loss = sum_e MSE(Q_e(s)[a], y); Adam",
        "lr": args.lr,
        "gamma": args.gamma,
        "configs": [],
    }
    if args.check:
        result["check"] = check_step(args.check, args)
    for c in configs:
        log(f"pytorch train: {describe(c)} ({c['inputs']} inputs, {c['actions']} actions), {args.threads} threads")
        result["configs"].append(bench_config(c, args))
        log(f"  {result['configs'][-1]['stepsPerSecond']:.1f} steps/s")
    # The BLAS once more: a library loaded lazily by the training would show up only now.
    result["blas"] = loaded_blas()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
