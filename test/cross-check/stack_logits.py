#!/usr/bin/env python3
"""Logits of a staq stack file, computed independently of staq ("another program").

Reads the safetensors file by hand (8-byte little-endian header length, JSON header, raw
little-endian float32 data; no safetensors or torch package) and evaluates the logits of docs/formats.md, "The stack file",

    xi(s) = correction * mean_e sum_i c[e, i] * MLP_{e,i}(s),

with ReLU hidden layers, a linear head and PyTorch's weight layout [out, in], in float64.

Usage: stack_logits.py STACK.safetensors STATES.json   (states JSON: {"states": [[...], ...]})
Prints {"logits": [[...], ...]} with every number as repr(float), which round-trips float64.
"""
import json
import sys

import numpy as np

from safetensors_file import read_f32_tensors


def read_safetensors(path):
    raw, metadata = read_f32_tensors(path)
    tensors = {name: np.frombuffer(data, dtype="<f4").reshape(shape).astype(np.float64) for name, (shape, data) in raw.items()}
    return tensors, metadata


def stack_logits(tensors, metadata, states):
    if metadata.get("format") != "staq-stack/1":
        raise ValueError(f"not a staq stack file: format {metadata.get('format')!r}")
    if metadata.get("activation") != "relu" or metadata.get("ensemble_reduce") != "mean":
        raise ValueError("this script knows only activation relu and ensemble_reduce mean")
    correction = float(metadata["correction"])
    coefficients = tensors["stack.coefficients"]  # [E, N]
    layers = 0
    while f"stack.layers.{layers}.weight" in tensors:
        layers += 1
    members, stored = coefficients.shape
    logits = None
    for e in range(members):
        for i in range(stored):
            x = states  # [batch, in]
            for l in range(layers):
                weight = tensors[f"stack.layers.{l}.weight"][e, i]  # [out, in]
                bias = tensors[f"stack.layers.{l}.bias"][e, i]  # [out]
                x = x @ weight.T + bias
                if l < layers - 1:
                    x = np.maximum(x, 0.0)
            term = coefficients[e, i] * x
            logits = term if logits is None else logits + term
    if logits is None:  # an empty stack: the uniform policy's logits
        head = tensors[f"stack.layers.{layers - 1}.weight"]
        return np.zeros((states.shape[0], head.shape[2]))
    return correction * logits / members


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tensors, metadata = read_safetensors(sys.argv[1])
    with open(sys.argv[2]) as f:
        # staq evaluates float32 states; round the same way so both programs see the same inputs.
        states = np.array(json.load(f)["states"], dtype=np.float32).astype(np.float64)
    logits = stack_logits(tensors, metadata, states)
    print(json.dumps({"logits": logits.tolist()}))


if __name__ == "__main__":
    main()
