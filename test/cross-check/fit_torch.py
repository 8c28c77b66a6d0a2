#!/usr/bin/env python3
"""`staq fit` in PyTorch: the same training run, written independently of staq ("another framework").

Reads the network file by hand (8-byte little-endian header length, JSON header, raw
little-endian float32 data; no safetensors package): net.layers.{l}.weight [out, in] and
net.layers.{l}.bias [out], an MLP of nn.Linear layers with ReLU between them. A 4-D
net.layers.0.weight [out, in, kh, kw] is an nn.Conv2d (stride 1, no padding) over the state read
as the image of __metadata__ "input_shape" = "H,W,C" (obs.view(B, H, W, C).permute(0, 3, 1, 2)),
followed by ReLU and nn.Flatten before the linear layers. Reads BATCH.json
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

from safetensors_file import read_safetensors_torch

LAYER = re.compile(r"^net\.layers\.(\d+)\.(weight|bias)$")


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


class Image(nn.Module):
    """The state [B, H*W*C], an image flattened [H][W][C] row-major, as PyTorch's [B, C, H, W]."""

    def __init__(self, height, width, channels):
        super().__init__()
        self.shape = (height, width, channels)

    def forward(self, obs):
        return obs.view(obs.shape[0], *self.shape).permute(0, 3, 1, 2)


def network_from(tensors, metadata):
    layers = 1 + max(int(LAYER.match(name).group(1)) for name in tensors)
    modules = []
    for l in range(layers):
        weight = tensors[f"net.layers.{l}.weight"]
        bias = tensors[f"net.layers.{l}.bias"]
        if weight.dim() == 4:  # Conv2d's [out, in, kh, kw]: the file format means stride 1, no padding
            height, width, channels = (int(v) for v in metadata["input_shape"].split(","))
            modules.append(Image(height, width, channels))
            layer = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=1, padding=0)
        else:
            layer = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        modules.append(layer)
        if l < layers - 1:
            modules.append(nn.ReLU())
        if weight.dim() == 4:
            modules.append(nn.Flatten())  # [B, out * H' * W'], the order of the next layer's inputs
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
    tensors, source_metadata = read_safetensors_torch(args.net)
    net, layers = network_from(tensors, source_metadata)
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

    trained = [m for m in net if isinstance(m, (nn.Linear, nn.Conv2d))]
    tensors = {}
    for l, layer in enumerate(trained):
        tensors[f"net.layers.{l}.weight"] = layer.weight
        tensors[f"net.layers.{l}.bias"] = layer.bias
    metadata = {"format": "staq-net/1", "loss": "mse", "steps": str(args.steps), "lr": repr(args.lr), "producer": f"torch {torch.__version__}"}
    if "input_shape" in source_metadata:  # a conv network's image shape, as the input file gave it
        metadata["input_shape"] = source_metadata["input_shape"]
    write_safetensors(args.out, tensors, metadata)
    print(json.dumps({"loss_first": losses[0], "loss_last": losses[-1]}))


if __name__ == "__main__":
    main()
