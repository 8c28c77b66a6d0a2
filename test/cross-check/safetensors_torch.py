"""Reads a safetensors file into float32 torch tensors by hand, for the cross-check scripts.

The format (docs/formats.md): an 8-byte little-endian header length, a JSON header, then raw
little-endian data. Debian's python3-torch has no safetensors package, so the scripts read it
themselves; staq's files hold F32 tensors only.
"""
import json
import struct

import torch


def read_safetensors(path):
    """Returns ({name: float32 tensor of its shape}, {metadata key: value})."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    start = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        raw = bytearray(data[start + begin : start + end])
        values = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
        tensors[name] = values.reshape(info["shape"])
    return tensors, metadata
