#!/usr/bin/env python3
"""`staq fit` in PyTorch: the same training run, written independently of staq ("another framework").

Reads the network file by hand (8-byte little-endian header length, JSON header, raw
little-endian float32 data; no safetensors package): net.layers.{l}.weight [out, in] and
net.layers.{l}.bias [out], an MLP of nn.Linear layers with ReLU between them. Reads BATCH.json
{"obs": [[...]], "actions": [...], "targets": [...]}, then runs K steps of torch.optim.Adam
(no weight decay) on the full batch, all in float32, with the loss

    F.mse_loss(Q(obs).gather(1, actions), targets)  =  mean_b (Q(obs_b, actions_b) - targets_b)^2

and writes the trained weights under the same names (and __metadata__ format "staq-net/1").

Usage: fit_torch.py --net IN.safetensors --batch BATCH.json --steps K --lr LR
                    [--beta1 B1] [--beta2 B2] [--eps EPS] --out OUT.safetensors
Prints {"loss_first": ..., "loss_last": ...}: the loss before the first and before the last step.
"""
import argparse
import json
import re
import struct
import sys

import torch
from torch import nn
from torch.nn import functional as F

LAYER = re.compile(r"^net\.layers\.(\d+)\.(weight|bias)$")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    header.pop("__metadata__", None)
    start = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        raw = bytearray(data[start + begin : start + end])
        values = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
        tensors[name] = values.reshape(info["shape"]).clone()
    return tensors


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    chunks = []
    for name, tensor in tensors.items():
        raw = tensor.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the byte buffer starts 8-byte aligned, as the format's writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def network_from(tensors):
    layers = 1 + max(int(LAYER.match(name).group(1)) for name in tensors)
    modules = []
    for l in range(layers):
        weight = tensors[f"net.layers.{l}.weight"]
        bias = tensors[f"net.layers.{l}.bias"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        modules.append(linear)
        if l < layers - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules).to(torch.float32), layers


def adam(parameters, lr, beta1, beta2, eps):
    # The single-tensor loop (staq's kernel follows its order of operations); `foreach` is new in 1.12.
    try:
        return torch.optim.Adam(parameters, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=0.0, foreach=False)
    except TypeError:
        return torch.optim.Adam(parameters, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=0.0)


def main():
    if sys.byteorder != "little":
        sys.exit("fit_torch.py reads float32 data as little-endian and expects a little-endian machine")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--beta1", type=float, default=0.9)
    parser.add_argument("--beta2", type=float, default=0.999)
    parser.add_argument("--eps", type=float, default=1e-8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)  # one summation order, run after run
    net, layers = network_from(read_safetensors(args.net))
    with open(args.batch) as f:
        batch = json.load(f)
    obs = torch.tensor(batch["obs"], dtype=torch.float32)
    actions = torch.tensor(batch["actions"], dtype=torch.int64)
    targets = torch.tensor(batch["targets"], dtype=torch.float32)

    optimizer = adam(net.parameters(), args.lr, args.beta1, args.beta2, args.eps)
    losses = []
    for _ in range(args.steps):
        optimizer.zero_grad()
        q = net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = F.mse_loss(q, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    linears = [m for m in net if isinstance(m, nn.Linear)]
    tensors = {}
    for l, linear in enumerate(linears):
        tensors[f"net.layers.{l}.weight"] = linear.weight
        tensors[f"net.layers.{l}.bias"] = linear.bias
    metadata = {"format": "staq-net/1", "loss": "mse", "steps": str(args.steps), "lr": repr(args.lr), "producer": f"torch {torch.__version__}"}
    write_safetensors(args.out, tensors, metadata)
    print(json.dumps({"loss_first": losses[0], "loss_last": losses[-1]}))


if __name__ == "__main__":
    main()
