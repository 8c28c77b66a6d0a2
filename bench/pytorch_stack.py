#!/usr/bin/env python3
"""The PyTorch baseline of the stack benchmark (bench/stack.ts).

The workload of docs/formats.md, "The stack file" (its logits), written the way the StaQ authors' PyTorch code writes it: E ensemble
members x M snapshots, each an MLP inputs I -> W -> W -> A (ReLU hidden, linear head; a config's
"hidden" list replaces [W, W]). Per layer the N = E*M snapshots' weights are one stacked tensor
[N, in, out] (nn.Linear's weight [out, in], transposed) with biases [N, 1, out]; the states X [B, I]
are broadcast over the snapshots:

    h = relu(torch.matmul(X, W1) + b1)          # [N, B, W]   (batched GEMM over snapshots)
    h = relu(torch.matmul(h, W2) + b2)          # [N, B, W]
    q = torch.matmul(h, W3) + b3                # [N, B, A]
    logits = (q * coef).view(E, M, B, A).sum(1).mean(0)   # coef [N, 1, 1] = correction * c[e, i]

FLOPs per evaluation: 2 * E * M * B * (I*W + W*W + W*A) (multiply-adds of the three layers).

A config with "conv": {"inputShape": [H, Wd, C], "filters": F, "kernel": [kh, kw], "stride", "padding"}
is a conv network (src/stack/conv.ts; the StaQ paper's MinAtar network is 10x10xC, F = 16, 3x3,
then hidden [128]): the state is an image flattened [H][Wd][C], read as NCHW by
view(B, H, Wd, C).permute(0, 3, 1, 2). The authors' formulation runs the N snapshots' Conv2d
layers as one grouped convolution over the input repeated N times along the channels:

    x = X.view(B, H, Wd, C).permute(0, 3, 1, 2).repeat(1, N, 1, 1)          # [B, N*C, H, Wd]
    y = relu(F.conv2d(x, Wc [N*F, C, kh, kw], bc [N*F], stride, padding, groups=N))  # [B, N*F, H', W']
    h = y.view(B, N, F*H'*W').transpose(0, 1)        # [N, B, F*H'*W']: flatten(1) order per snapshot
    ... then the batched dense layers and the sums above.

Its FLOPs add the convolution's multiply-adds: 2 * E * M * B * (H'*W' * C*kh*kw * F + sum of the
dense layers' in*out). Conv networks are evaluated in chunks of the batch so that one chunk's
repeated input and conv output stay under --max-chunk-bytes (the N-fold copies are large: at
N = 600 and B = 4096 the conv output alone is 10 GB); the JSON says how many chunks a config took.

float32 throughout, with TF32 switched off (torch.backends.cuda.matmul.allow_tf32 = False,
torch.backends.cudnn.allow_tf32 = False): the numbers are FP32 numbers, comparable with the WGSL
kernel's f32 arithmetic. `--gemm N` also times torch.matmul of two N x N float32 matrices (cuBLAS
on a GPU): the FP32 GEMM ceiling of the device. `--threads N` sets torch.set_num_threads(N) (the
cores staq gets, on the CPU); the JSON says which BLAS the process loaded (bench/pytorch_train.py's
probe: Debian's python3-torch runs on the reference BLAS unless OpenBLAS is installed).

Output: one JSON object on stdout; progress goes to stderr.

Usage:
    python3 bench/pytorch_stack.py --configs '[{"memory":100,"batch":256,"width":64,"inputs":4,"ensemble":1,"actions":6}]' \
        --device auto --seconds 1 --gemm 4096 --check
    python3 bench/pytorch_stack.py --configs '[{"memory":300,"batch":1,"width":128,"hidden":[128],"inputs":400,"ensemble":2,
        "actions":3,"conv":{"inputShape":[10,10,4],"filters":16}}]' --device cpu --threads 2
    python3 bench/pytorch_stack.py --inputs stack.json --dump-logits   # logits of given weights/states
"""
import argparse
import json
import math
import sys
import time

import torch

# The BLAS probe is the trainer baseline's (the two scripts travel together: scripts/bundle.ts).
# No bytecode cache: importing it would otherwise leave a __pycache__ folder in bench/ (or a bundle).
sys.dont_write_bytecode = True
from pytorch_train import build_info, check_conv_config, loaded_blas  # noqa: E402

CHECK_TOLERANCE_FLOAT64 = 1e-9  # stacked float64 vs loop float64, relative to 1 + max |logit|
CHECK_TOLERANCE_FLOAT32 = 1e-4  # stacked float32 vs loop float64, relative to 1 + max |logit|
DUMP_LIMIT = 1_000_000  # largest E*M*B*(parameters) --dump-logits accepts (it is for small checks)
DEFAULT_MAX_CHUNK_BYTES = 1 << 30  # a conv network's repeated input + conv output per batch chunk


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
# The network of a config


class Conv:
    """A conv layer's geometry (src/stack/conv.ts's convGeometry), defaults resolved."""

    def __init__(self, spec):
        self.height, self.width, self.channels = spec["inputShape"]
        self.filters = spec["filters"]
        self.kh, self.kw = spec.get("kernel", [3, 3])
        self.stride = spec.get("stride", 1)
        self.padding = spec.get("padding", 0)
        self.out_height = (self.height + 2 * self.padding - self.kh) // self.stride + 1
        self.out_width = (self.width + 2 * self.padding - self.kw) // self.stride + 1
        self.positions = self.out_height * self.out_width
        self.patch = self.channels * self.kh * self.kw

    def image(self, x):
        """States [B, H*W*C], flattened [H][W][C] (MinAtar's observation), as NCHW [B, C, H, W]."""
        return x.view(x.shape[0], self.height, self.width, self.channels).permute(0, 3, 1, 2)


def conv_of(config):
    return Conv(config["conv"]) if config.get("conv") else None


def hidden_of(config):
    return list(config.get("hidden", [config["width"], config["width"]]))


def dense_widths(config):
    """[in, hidden..., actions] of the dense layers (after the conv layer, if any)."""
    conv = conv_of(config)
    first = conv.filters * conv.positions if conv else config["inputs"]
    return [first, *hidden_of(config), config["actions"]]


def macs_per_state(config):
    """Multiply-adds of one state through one snapshot: the conv's at every output position, then the dense layers."""
    conv = conv_of(config)
    widths = dense_widths(config)
    dense = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return dense + (conv.positions * conv.patch * conv.filters if conv else 0)


def flops_of(c):
    return 2 * c["ensemble"] * c["memory"] * c["batch"] * macs_per_state(c)


# ---------------------------------------------------------------------------------------------
# The stacked computation (the baseline itself)


def stacked_logits(x, layers, coef, ensemble, memory, correction=1.0, conv=None):
    """x [B, I]; layers: [(weight [N, in, out], bias [N, 1, out])]; coef [N, 1, 1].

    With `conv` (a Conv), layers[0] is (weight [N*F, C, kh, kw], bias [N*F]): the N snapshots'
    Conv2d layers, run as one grouped convolution over the image repeated N times."""
    h = x
    dense = layers
    if conv is not None:
        weight, bias = layers[0]
        n = weight.shape[0] // conv.filters
        repeated = conv.image(x).repeat(1, n, 1, 1)  # [B, N*C, H, W]: group k reads channels k*C..k*C+C-1, the image
        y = torch.relu(torch.nn.functional.conv2d(repeated, weight, bias, stride=conv.stride, padding=conv.padding, groups=n))
        h = y.view(x.shape[0], n, conv.filters * conv.positions).transpose(0, 1)  # [N, B, F*H'*W'] in flatten(1) order
        dense = layers[1:]
    for weight, bias in dense[:-1]:
        h = torch.relu(torch.matmul(h, weight) + bias)  # X broadcast over the N snapshots
    weight, bias = dense[-1]
    q = torch.matmul(h, weight) + bias  # [N, B, A]
    batch, actions = q.shape[1], q.shape[2]
    logits = (q * coef).view(ensemble, memory, batch, actions).sum(1).mean(0)
    if correction != 1.0:
        logits = logits * correction
    return logits


def chunk_rows(conv, n, batch, max_bytes, element_bytes=4):
    """States per chunk of a conv network's batch: the repeated input [b, N*C, H, W] and the conv
    output [b, N*F, H', W'] (and its transposed copy) of one chunk within max_bytes."""
    if conv is None:
        return batch
    per_state = element_bytes * n * (conv.channels * conv.height * conv.width + 2 * conv.filters * conv.positions)
    return max(1, min(batch, max_bytes // per_state))


def chunked_logits(x, layers, coef, ensemble, memory, conv, rows):
    """stacked_logits over the batch in chunks of `rows` states (rows >= batch: one call)."""
    if rows >= x.shape[0]:
        return stacked_logits(x, layers, coef, ensemble, memory, conv=conv)
    return torch.cat([stacked_logits(x[k : k + rows], layers, coef, ensemble, memory, conv=conv) for k in range(0, x.shape[0], rows)])


def uniform(shape, scale, generator):
    return (torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale


def random_stack(config, device, dtype, generator):
    e, m, b = config["ensemble"], config["memory"], config["batch"]
    n = e * m
    conv = conv_of(config)
    widths = dense_widths(config)
    layers = []
    if conv is not None:
        s = 1 / math.sqrt(conv.patch)
        layers.append((uniform((n * conv.filters, conv.channels, conv.kh, conv.kw), s, generator), uniform((n * conv.filters,), s, generator)))
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        s = 1 / math.sqrt(fan_in)
        layers.append((uniform((n, fan_in, fan_out), s, generator), uniform((n, 1, fan_out), s, generator)))
    layers = [(w.to(device=device, dtype=dtype), bias.to(device=device, dtype=dtype)) for w, bias in layers]
    coef = torch.rand(n, 1, 1, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
    x = (uniform((b, config["inputs"]), 2, generator)).to(device=device, dtype=dtype)
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


def bench_config(config, device, seconds, generator, max_chunk_bytes):
    x, layers, coef = random_stack(config, device, torch.float32, generator)
    e, m = config["ensemble"], config["memory"]
    conv = conv_of(config)
    rows = chunk_rows(conv, e * m, config["batch"], max_chunk_bytes)

    def run():
        chunked_logits(x, layers, coef, e, m, conv, rows)

    timing = time_it(run, device, seconds)
    flops = flops_of(config)
    return {
        "config": config,
        "ms": timing,
        "flops": flops,
        "gflops": flops / (timing["median"] * 1e-3) / 1e9,
        "chunks": math.ceil(config["batch"] / rows),
    }


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
# --check: the stacked computation against a per-snapshot loop of nn.Conv2d / nn.Linear in float64


def loop_logits(x, networks, coef, ensemble, memory, correction=1.0, conv=None):
    """networks[e][i]: list of modules (an nn.Conv2d first for a conv network, then nn.Linear); coef [E, M] (float64)."""
    total = None
    for e in range(ensemble):
        for i in range(memory):
            modules = networks[e][i]
            h = x
            if conv is not None:
                h = torch.relu(modules[0](conv.image(x))).flatten(1)  # PyTorch's own flatten order
                modules = modules[1:]
            for linear in modules[:-1]:
                h = torch.relu(linear(h))
            q = modules[-1](h)
            term = coef[e][i] * q
            total = term if total is None else total + term
    return correction * total / ensemble


def small_config(config):
    """The config --check runs: the same network kind, shrunk so that the loop stays fast."""
    small = {
        "memory": min(config["memory"], 7),
        "batch": min(config["batch"], 9),
        "width": min(config["width"], 16),
        "inputs": config["inputs"],
        "ensemble": min(config["ensemble"], 3),
        "actions": min(config["actions"], 6),
    }
    if "hidden" in config:
        small["hidden"] = [min(w, 16) for w in config["hidden"]]
    if config.get("conv"):
        # The image and kernel as given (they set the patch indexing under test), fewer filters.
        small["conv"] = {**config["conv"], "filters": min(config["conv"]["filters"], 8)}
    else:
        small["inputs"] = min(config["inputs"], 8)
    return small


def check_config(config, device, generator):
    small = small_config(config)
    e, m = small["ensemble"], small["memory"]
    conv = conv_of(small)
    x64, layers64, coef64 = random_stack(small, device, torch.float64, generator)
    networks = [[[] for _ in range(m)] for _ in range(e)]
    with torch.no_grad():
        for index, (weight, bias) in enumerate(layers64):
            for e_ in range(e):
                for i in range(m):
                    n = e_ * m + i
                    if conv is not None and index == 0:
                        module = torch.nn.Conv2d(
                            conv.channels, conv.filters, (conv.kh, conv.kw), stride=conv.stride, padding=conv.padding, dtype=torch.float64, device=device
                        )
                        module.weight.copy_(weight[n * conv.filters : (n + 1) * conv.filters])
                        module.bias.copy_(bias[n * conv.filters : (n + 1) * conv.filters])
                    else:
                        module = torch.nn.Linear(weight.shape[1], weight.shape[2], dtype=torch.float64, device=device)
                        module.weight.copy_(weight[n].T)  # nn.Linear stores [out, in]
                        module.bias.copy_(bias[n, 0])
                    networks[e_][i].append(module)
        expected = loop_logits(x64, networks, coef64.view(e, m), e, m, conv=conv)
        got64 = stacked_logits(x64, layers64, coef64, e, m, conv=conv)
        layers32 = [(w.float(), b.float()) for w, b in layers64]
        got32 = stacked_logits(x64.float(), layers32, coef64.float(), e, m, conv=conv).double()
        # Chunked as the timed runs may be: the same numbers, chunk by chunk.
        got_chunked = chunked_logits(x64, layers64, coef64, e, m, conv, max(1, small["batch"] // 2))
    scale = 1 + expected.abs().max().item()
    err64 = max((got64 - expected).abs().max().item(), (got_chunked - expected).abs().max().item())
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
#  "coefficients": [[c x M] x E], "correction": 1.0, "states": [[... I] x B], "conv": {...}?}
# weights in PyTorch's nn.Linear layout ([out, in]); any number of hidden layers. With "conv"
# (src/stack/conv.ts's ConvSpec), layers[0] is the Conv2d weight [F, C, kh, kw] read as
# [F][C*kh*kw] (the same numbers, row-major), and the states are images flattened [H][W][C].


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
    conv = Conv(data["conv"]) if data.get("conv") else None
    if conv is not None and states.shape[1] != conv.height * conv.width * conv.channels:
        raise SystemExit(f"pytorch_stack.py: conv inputShape {data['conv']['inputShape']} needs {conv.height * conv.width * conv.channels} values per state; got {states.shape[1]}")
    depth = len(snapshots[0][0]["layers"])
    parameters = sum(len(layer["weight"]) * (len(layer["weight"][0]) + 1) for layer in snapshots[0][0]["layers"])
    if e * m * states.shape[0] * parameters > DUMP_LIMIT:
        raise SystemExit(f"pytorch_stack.py: --dump-logits is for small stacks (E*M*B*parameters <= {DUMP_LIMIT})")
    layers = []
    for l in range(depth):
        weight = torch.tensor([s["layers"][l]["weight"] for member in snapshots for s in member], dtype=torch.float32, device=device)
        if conv is not None and l == 0:
            # [N, F, C*kh*kw] -> the grouped convolution's [N*F, C, kh, kw]
            weight = weight.reshape(e * m * conv.filters, conv.channels, conv.kh, conv.kw)
            bias = torch.tensor([b for member in snapshots for s in member for b in s["layers"][0]["bias"]], dtype=torch.float32, device=device)
            layers.append((weight, bias))
            continue
        bias = torch.tensor([[s["layers"][l]["bias"]] for member in snapshots for s in member], dtype=torch.float32, device=device)
        layers.append((weight.transpose(1, 2).contiguous(), bias))  # nn.Linear weight [out, in] -> stacked [N, in, out]
    correction = float(data.get("correction", 1.0))
    # correction folded into the coefficients in float64, then rounded to float32 once.
    coef = torch.tensor([[[correction * c]] for row in data["coefficients"] for c in row], dtype=torch.float64).to(device=device, dtype=torch.float32)
    with torch.no_grad():
        logits = stacked_logits(states, layers, coef, e, m, conv=conv)
    return {"ensemble": e, "memory": m, "batch": states.shape[0], "logits": logits.cpu().double().tolist()}


# ---------------------------------------------------------------------------------------------


def validate_config(c):
    c.setdefault("actions", 18)  # bench/stack.ts's ACTIONS
    missing = [k for k in ("memory", "batch", "width", "inputs", "ensemble", "actions") if not (isinstance(c.get(k), int) and c[k] >= 1)]
    if missing:
        raise SystemExit(f"pytorch_stack.py: config {json.dumps(c)} needs positive integers for {missing}")
    if "hidden" in c and not (isinstance(c["hidden"], list) and all(isinstance(w, int) and w >= 1 for w in c["hidden"])):
        raise SystemExit(f"pytorch_stack.py: config {json.dumps(c)}: hidden must be a list of positive integers")
    check_conv_config(c, "pytorch_stack.py")


def describe(c):
    conv = c.get("conv")
    net = f"conv {'x'.join(map(str, conv['inputShape']))}->{conv['filters']} hidden {hidden_of(c)}" if conv else f"W={c['width']} I={c['inputs']}"
    return f"M={c['memory']} B={c['batch']} {net} E={c['ensemble']} A={c['actions']}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="[]", help="JSON list of {memory, batch, width, inputs, ensemble, actions, hidden?, conv?}")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--seconds", type=float, default=1.0, help="measured time per configuration")
    parser.add_argument("--gemm", type=int, default=0, help="also time torch.matmul of N x N float32 matrices (0: skip)")
    parser.add_argument("--check", action="store_true", help="verify the stacked computation against a loop of nn.Conv2d/nn.Linear in float64")
    parser.add_argument("--inputs", help="JSON file of weights, coefficients, correction and states (for --dump-logits)")
    parser.add_argument("--dump-logits", action="store_true", help="print the float32 stacked logits of --inputs")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads(N) (0: torch's default)")
    parser.add_argument("--max-chunk-bytes", type=int, default=DEFAULT_MAX_CHUNK_BYTES, help="a conv network's intermediates per batch chunk")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads < 0 or args.max_chunk_bytes < 1:
        raise SystemExit("pytorch_stack.py: --threads must be non-negative, --max-chunk-bytes positive")

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    configs = json.loads(args.configs)
    if not isinstance(configs, list):
        raise SystemExit("pytorch_stack.py: --configs must be a JSON list")
    for c in configs:
        validate_config(c)

    result = {
        "torch": torch.__version__,
        "device": device.type,
        "deviceName": device_name(device),
        "threads": torch.get_num_threads(),
        "tf32": False,
        "precision": "float32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False, cudnn.allow_tf32 = False): FP32, not TF32",
        "ops": "per layer torch.matmul(X [B,I] or H [N,B,in], W [N,in,out]) + b [N,1,out], relu; (Q * coef [N,1,1]).view(E,M,B,A).sum(1).mean(0); N = E*M",
        "convOps": "X.view(B,H,W,C).permute(0,3,1,2).repeat(1,N,1,1); relu(F.conv2d(., Wc [N*F,C,kh,kw], bc [N*F], groups=N)); "
        ".view(B,N,F*H'*W').transpose(0,1); then the dense layers as in ops; batch chunks within maxChunkBytes",
        "flops": "2*E*M*B*(I*W + W*W + W*A); a conv network adds H'*W'*C*kh*kw*F, its first dense layer has F*H'*W' inputs",
        "maxChunkBytes": args.max_chunk_bytes,
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
            log(f"pytorch stack: {describe(c)} on {device}")
            result["configs"].append(bench_config(c, device, args.seconds, generator, args.max_chunk_bytes))
            log(f"  median {result['configs'][-1]['ms']['median']:.4g} ms, {result['configs'][-1]['gflops']:.4g} GFLOP/s")
        if args.gemm > 0:
            log(f"pytorch gemm: {args.gemm}^3 float32 on {device}")
            result["gemm"] = bench_gemm(args.gemm, device, args.seconds, generator)
            log(f"  median {result['gemm']['ms']['median']:.4g} ms, {result['gemm']['gflops']:.4g} GFLOP/s")
    if device.type == "cpu":
        # After the products: the BLAS is loaded lazily. On the CPU it decides the dense layers' speed.
        result["blas"] = loaded_blas()
        result["build"] = build_info()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
