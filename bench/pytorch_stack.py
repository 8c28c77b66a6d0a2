#!/usr/bin/env python3
"""The PyTorch baseline of the stack benchmark (bench/stack.ts).

The workload of docs/formats.md, "The stack file" (its logits), written the way the StaQ authors' PyTorch code writes it: E ensemble
members x M snapshots, each an MLP inputs I -> W -> W -> A (ReLU hidden, linear head). Per layer
the N = E*M snapshots' weights are one stacked tensor [N, in, out] (nn.Linear's weight [out, in],
transposed) with biases [N, 1, out]; the states X [B, I] are broadcast over the snapshots:

    h = relu(torch.matmul(X, W1) + b1)          # [N, B, W]   (batched GEMM over snapshots)
    h = relu(torch.matmul(h, W2) + b2)          # [N, B, W]
    q = torch.matmul(h, W3) + b3                # [N, B, A]
    logits = (q * coef).view(E, M, B, A).sum(1).mean(0)   # coef [N, 1, 1] = correction * c[e, i]

FLOPs per evaluation: 2 * E * M * B * (I*W + W*W + W*A) (multiply-adds of the three layers).

float32 throughout, with TF32 switched off (torch.backends.cuda.matmul.allow_tf32 = False,
torch.backends.cudnn.allow_tf32 = False): the numbers are FP32 numbers, comparable with the WGSL
kernel's f32 arithmetic. `--gemm N` also times torch.matmul of two N x N float32 matrices (cuBLAS
on a GPU): the FP32 GEMM ceiling of the device.

Output: one JSON object on stdout; progress goes to stderr.

Usage:
    python3 bench/pytorch_stack.py --configs '[{"memory":100,"batch":256,"width":64,"inputs":4,"ensemble":1,"actions":6}]' \
        --device auto --seconds 1 --gemm 4096 --check
    python3 bench/pytorch_stack.py --inputs stack.json --dump-logits   # logits of given weights/states
"""
import argparse
import json
import math
import sys
import time

import torch

CHECK_TOLERANCE_FLOAT64 = 1e-9  # stacked float64 vs loop float64, relative to 1 + max |logit|
CHECK_TOLERANCE_FLOAT32 = 1e-4  # stacked float32 vs loop float64, relative to 1 + max |logit|
DUMP_LIMIT = 1_000_000  # largest E*M*B*(parameters) --dump-logits accepts (it is for small checks)


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def pick_device(name):
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("pytorch_stack.py: --device cuda but torch.cuda.is_available() is False")
    return torch.device(name)


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------
# The stacked computation (the baseline itself)


def stacked_logits(x, layers, coef, ensemble, memory, correction=1.0):
    """x [B, I]; layers: [(weight [N, in, out], bias [N, 1, out])]; coef [N, 1, 1]."""
    h = x
    for weight, bias in layers[:-1]:
        h = torch.relu(torch.matmul(h, weight) + bias)  # X broadcast over the N snapshots
    weight, bias = layers[-1]
    q = torch.matmul(h, weight) + bias  # [N, B, A]
    batch, actions = q.shape[1], q.shape[2]
    logits = (q * coef).view(ensemble, memory, batch, actions).sum(1).mean(0)
    if correction != 1.0:
        logits = logits * correction
    return logits


def random_stack(config, device, dtype, generator):
    e, m, b = config["ensemble"], config["memory"], config["batch"]
    widths = [config["inputs"], config["width"], config["width"], config["actions"]]
    n = e * m
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        s = 1 / math.sqrt(fan_in)
        w = (torch.rand(n, fan_in, fan_out, generator=generator, dtype=torch.float64) * 2 - 1) * s
        bias = (torch.rand(n, 1, fan_out, generator=generator, dtype=torch.float64) * 2 - 1) * s
        layers.append((w.to(device=device, dtype=dtype), bias.to(device=device, dtype=dtype)))
    coef = torch.rand(n, 1, 1, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
    x = ((torch.rand(b, config["inputs"], generator=generator, dtype=torch.float64) * 2 - 1) * 2).to(device=device, dtype=dtype)
    return x, layers, coef


# ---------------------------------------------------------------------------------------------
# Timing


def quantile(sorted_samples, q):
    return sorted_samples[min(len(sorted_samples) - 1, int(math.floor(q * len(sorted_samples))))]


def time_it(run, device, seconds, min_runs=5, max_runs=100_000):
    """Milliseconds per call of run(): warm-up, then repeated single-call samples until `seconds`
    of measured time (at least min_runs). CUDA events on a GPU, perf_counter on the CPU."""
    warm_start = time.perf_counter()
    warmups = 0
    while warmups < 3 or (time.perf_counter() - warm_start < min(0.2 * seconds, 1.0) and warmups < 50):
        run()
        synchronize(device)
        warmups += 1
    samples = []
    total = 0.0
    while len(samples) < max_runs and (len(samples) < min_runs or total < seconds * 1000):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            synchronize(device)
            start.record()
            run()
            end.record()
            end.synchronize()
            ms = start.elapsed_time(end)
        else:
            t0 = time.perf_counter()
            run()
            ms = (time.perf_counter() - t0) * 1000
        samples.append(ms)
        total += ms
    samples.sort()
    return {"median": quantile(samples, 0.5), "p10": quantile(samples, 0.1), "p90": quantile(samples, 0.9), "runs": len(samples)}


def flops_of(c):
    return 2 * c["ensemble"] * c["memory"] * c["batch"] * (c["inputs"] * c["width"] + c["width"] * c["width"] + c["width"] * c["actions"])


def bench_config(config, device, seconds, generator):
    x, layers, coef = random_stack(config, device, torch.float32, generator)
    e, m = config["ensemble"], config["memory"]

    def run():
        stacked_logits(x, layers, coef, e, m)

    timing = time_it(run, device, seconds)
    flops = flops_of(config)
    return {"config": config, "ms": timing, "flops": flops, "gflops": flops / (timing["median"] * 1e-3) / 1e9}


def bench_gemm(n, device, seconds, generator):
    a = torch.rand(n, n, generator=generator).to(device)
    b = torch.rand(n, n, generator=generator).to(device)
    out = torch.empty(n, n, device=device)

    def run():
        torch.matmul(a, b, out=out)

    timing = time_it(run, device, seconds)
    flops = 2 * n**3
    return {"n": n, "ms": timing, "flops": flops, "gflops": flops / (timing["median"] * 1e-3) / 1e9, "op": "torch.matmul float32 (TF32 off)"}


# ---------------------------------------------------------------------------------------------
# --check: the stacked computation against a per-snapshot loop of nn.Linear layers in float64


def loop_logits(x, linears, coef, ensemble, memory, correction=1.0):
    """linears[e][i]: list of nn.Linear; coef [E, M] (float64)."""
    total = None
    for e in range(ensemble):
        for i in range(memory):
            h = x
            for linear in linears[e][i][:-1]:
                h = torch.relu(linear(h))
            q = linears[e][i][-1](h)
            term = coef[e][i] * q
            total = term if total is None else total + term
    return correction * total / ensemble


def check_config(config, device, generator):
    small = {
        "memory": min(config["memory"], 7),
        "batch": min(config["batch"], 9),
        "width": min(config["width"], 16),
        "inputs": min(config["inputs"], 8),
        "ensemble": min(config["ensemble"], 3),
        "actions": min(config["actions"], 6),
    }
    e, m = small["ensemble"], small["memory"]
    x64, layers64, coef64 = random_stack(small, device, torch.float64, generator)
    linears = [[[] for _ in range(m)] for _ in range(e)]
    with torch.no_grad():
        for weight, bias in layers64:
            for e_ in range(e):
                for i in range(m):
                    n = e_ * m + i
                    linear = torch.nn.Linear(weight.shape[1], weight.shape[2], dtype=torch.float64, device=device)
                    linear.weight.copy_(weight[n].T)  # nn.Linear stores [out, in]
                    linear.bias.copy_(bias[n, 0])
                    linears[e_][i].append(linear)
        expected = loop_logits(x64, linears, coef64.view(e, m), e, m)
        got64 = stacked_logits(x64, layers64, coef64, e, m)
        layers32 = [(w.float(), b.float()) for w, b in layers64]
        got32 = stacked_logits(x64.float(), layers32, coef64.float(), e, m).double()
    scale = 1 + expected.abs().max().item()
    err64 = (got64 - expected).abs().max().item()
    err32 = (got32 - expected).abs().max().item()
    return {
        "config": small,
        "scale": scale,
        "float64": {"maxError": err64, "tolerance": CHECK_TOLERANCE_FLOAT64 * scale, "ok": err64 <= CHECK_TOLERANCE_FLOAT64 * scale},
        "float32": {"maxError": err32, "tolerance": CHECK_TOLERANCE_FLOAT32 * scale, "ok": err32 <= CHECK_TOLERANCE_FLOAT32 * scale},
    }


# ---------------------------------------------------------------------------------------------
# --dump-logits: the stacked float32 computation on weights and states given in a JSON file
#
# {"snapshots": [[{"layers": [{"weight": [[...in] ...out], "bias": [...out]}, ...]} x M] x E],
#  "coefficients": [[c x M] x E], "correction": 1.0, "states": [[... I] x B]}
# weights in PyTorch's nn.Linear layout ([out, in]); any number of hidden layers.


def dump_logits(path, device):
    with open(path) as f:
        data = json.load(f)
    snapshots = data["snapshots"]
    e, m = len(snapshots), len(snapshots[0])
    if any(len(member) != m for member in snapshots):
        raise SystemExit("pytorch_stack.py: every ensemble member needs the same number of snapshots")
    states = torch.tensor(data["states"], dtype=torch.float32, device=device)
    if states.dim() != 2:
        raise SystemExit("pytorch_stack.py: states must be [batch][inputs]")
    depth = len(snapshots[0][0]["layers"])
    parameters = sum(len(layer["weight"]) * (len(layer["weight"][0]) + 1) for layer in snapshots[0][0]["layers"])
    if e * m * states.shape[0] * parameters > DUMP_LIMIT:
        raise SystemExit(f"pytorch_stack.py: --dump-logits is for small stacks (E*M*B*parameters <= {DUMP_LIMIT})")
    layers = []
    for l in range(depth):
        # nn.Linear weight [out, in] -> stacked [N, in, out]
        weight = torch.tensor([s["layers"][l]["weight"] for member in snapshots for s in member], dtype=torch.float32, device=device)
        bias = torch.tensor([[s["layers"][l]["bias"]] for member in snapshots for s in member], dtype=torch.float32, device=device)
        layers.append((weight.transpose(1, 2).contiguous(), bias))
    correction = float(data.get("correction", 1.0))
    # correction folded into the coefficients in float64, then rounded to float32 once.
    coef = torch.tensor([[[correction * c]] for row in data["coefficients"] for c in row], dtype=torch.float64).to(device=device, dtype=torch.float32)
    with torch.no_grad():
        logits = stacked_logits(states, layers, coef, e, m)
    return {"ensemble": e, "memory": m, "batch": states.shape[0], "logits": logits.cpu().double().tolist()}


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="[]", help="JSON list of {memory, batch, width, inputs, ensemble, actions}")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--seconds", type=float, default=1.0, help="measured time per configuration")
    parser.add_argument("--gemm", type=int, default=0, help="also time torch.matmul of N x N float32 matrices (0: skip)")
    parser.add_argument("--check", action="store_true", help="verify the stacked computation against a loop of nn.Linear in float64")
    parser.add_argument("--inputs", help="JSON file of weights, coefficients, correction and states (for --dump-logits)")
    parser.add_argument("--dump-logits", action="store_true", help="print the float32 stacked logits of --inputs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = pick_device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    configs = json.loads(args.configs)
    if not isinstance(configs, list):
        raise SystemExit("pytorch_stack.py: --configs must be a JSON list")
    for c in configs:
        c.setdefault("actions", 18)  # bench/stack.ts's ACTIONS
        missing = [k for k in ("memory", "batch", "width", "inputs", "ensemble", "actions") if not (isinstance(c.get(k), int) and c[k] >= 1)]
        if missing:
            raise SystemExit(f"pytorch_stack.py: config {json.dumps(c)} needs positive integers for {missing}")

    result = {
        "torch": torch.__version__,
        "device": device.type,
        "deviceName": device_name(device),
        "tf32": False,
        "precision": "float32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False, cudnn.allow_tf32 = False): FP32, not TF32",
        "ops": "per layer torch.matmul(X [B,I] or H [N,B,in], W [N,in,out]) + b [N,1,out], relu; (Q * coef [N,1,1]).view(E,M,B,A).sum(1).mean(0); N = E*M",
        "flops": "2*E*M*B*(I*W + W*W + W*A)",
        "configs": [],
        "gemm": None,
    }
    if args.dump_logits:
        if not args.inputs:
            raise SystemExit("pytorch_stack.py: --dump-logits needs --inputs FILE")
        result["dump"] = dump_logits(args.inputs, device)
    if args.check:
        check_configs = configs or [{"memory": 3, "batch": 5, "width": 8, "inputs": 4, "ensemble": 2, "actions": 3}]
        result["check"] = [check_config(c, device, generator) for c in check_configs]
        for c in result["check"]:
            log(f"check {c['config']}: float64 max error {c['float64']['maxError']:.3g} (tol {c['float64']['tolerance']:.3g}), "
                f"float32 max error {c['float32']['maxError']:.3g} (tol {c['float32']['tolerance']:.3g})")
    with torch.no_grad():
        for c in configs:
            log(f"pytorch stack: M={c['memory']} B={c['batch']} W={c['width']} I={c['inputs']} E={c['ensemble']} A={c['actions']} on {device}")
            result["configs"].append(bench_config(c, device, args.seconds, generator))
            log(f"  median {result['configs'][-1]['ms']['median']:.4g} ms, {result['configs'][-1]['gflops']:.4g} GFLOP/s")
        if args.gemm > 0:
            log(f"pytorch gemm: {args.gemm}^3 float32 on {device}")
            result["gemm"] = bench_gemm(args.gemm, device, args.seconds, generator)
            log(f"  median {result['gemm']['ms']['median']:.4g} ms, {result['gemm']['gflops']:.4g} GFLOP/s")
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
