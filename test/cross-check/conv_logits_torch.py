#!/usr/bin/env python3
"""Logits of a staq stack file with a conv first layer, computed with PyTorch as a user would.

Reads the safetensors file by hand (8-byte little-endian header length, JSON header, raw
little-endian float32 data; no safetensors package, which Debian's python3-torch lacks) and
evaluates docs/formats.md, "The stack file", in float64:

    xi(s) = correction * mean_e sum_i c[e, i] * Q_{e,i}(s)

where each snapshot's Q is, with H, W, C from __metadata__ "input_shape",

    x = obs.view(B, H, W, C).permute(0, 3, 1, 2)      # the state is the image [H][W][C] row-major
    x = relu(conv2d(x, weight_0, bias_0)).flatten(1)   # weight_0 [out, in, kh, kw]: stride 1, no padding
    x = relu(linear(x, weight_l, bias_l)) ...          # the dense layers, [out, in]
    q = linear(x, weight_head, bias_head)

one snapshot at a time, with torch.nn.functional's own conv2d, flatten and linear (nothing of
staq's layout assumed beyond the file format).

Usage: conv_logits_torch.py STACK.safetensors STATES.json   (states JSON: {"states": [[...], ...]})
Prints {"logits": [[...], ...]} with every number as repr(float), which round-trips float64.
"""
import json
import sys

import torch
from torch.nn import functional as F

from safetensors_file import read_safetensors_torch


def snapshot_q(tensors, layers, e, i, image):
    """Q values [B, actions] of snapshot i of member e for the states as images [B, C, H, W]."""
    x = image
    for l in range(layers):
        weight = tensors[f"stack.layers.{l}.weight"][e, i]
        bias = tensors[f"stack.layers.{l}.bias"][e, i]
        if weight.dim() == 4:  # PyTorch's Conv2d weight [out, in, kh, kw]; the format means stride 1, no padding
            x = F.conv2d(x, weight, bias, stride=1, padding=0)
        else:
            x = F.linear(x, weight, bias)
        if l < layers - 1:
            x = torch.relu(x)
        if weight.dim() == 4:
            x = x.flatten(1)  # [B, out * H' * W'], the order the next layer's inputs are in
    return x


def stack_logits(tensors, metadata, states):
    if metadata.get("format") != "staq-stack/1":
        raise ValueError(f"not a staq stack file: format {metadata.get('format')!r}")
    if metadata.get("activation") != "relu" or metadata.get("ensemble_reduce") != "mean":
        raise ValueError("this script knows only activation relu and ensemble_reduce mean")
    if tensors["stack.layers.0.weight"].dim() != 6:
        raise ValueError("this script is for stacks whose first layer is a conv (a 6-D stack.layers.0.weight)")
    height, width, channels = (int(v) for v in metadata["input_shape"].split(","))
    c = tensors["stack.coefficients"]  # [E, N]
    members, stored = c.shape
    layers = 0
    while f"stack.layers.{layers}.weight" in tensors:
        layers += 1
    obs = torch.tensor(states, dtype=torch.float32).double()  # staq sees float32 states
    batch = obs.shape[0]
    image = obs.view(batch, height, width, channels).permute(0, 3, 1, 2)  # [B, C, H, W]
    actions = tensors[f"stack.layers.{layers - 1}.weight"].shape[2]
    total = torch.zeros(batch, actions, dtype=torch.float64)  # an empty stack: the uniform policy's 0
    for e in range(members):
        for i in range(stored):
            total += c[e, i] * snapshot_q(tensors, layers, e, i, image)
    return float(metadata["correction"]) * total / members


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if sys.byteorder != "little":
        sys.exit("conv_logits_torch.py reads float32 data as little-endian and expects a little-endian machine")
    torch.set_num_threads(1)
    tensors, metadata = read_safetensors_torch(sys.argv[1])
    tensors = {name: tensor.double() for name, tensor in tensors.items()}
    with open(sys.argv[2]) as f:
        states = json.load(f)["states"]
    logits = stack_logits(tensors, metadata, states)
    print(json.dumps({"logits": logits.tolist()}))


if __name__ == "__main__":
    main()
