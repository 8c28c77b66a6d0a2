"""Reads a safetensors file by hand, for the cross-check scripts (standard library only).

The format (docs/formats.md): an 8-byte little-endian header length, a JSON header, then raw
little-endian data. Debian's python3-torch has no safetensors package, and the numpy check needs
no torch, so the scripts read it themselves; staq's files hold F32 tensors only.
"""
import json
import struct


def read_f32_tensors(path):
    """Returns ({name: (shape, raw little-endian float32 bytes)}, {metadata key: value})."""
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
        tensors[name] = (tuple(info["shape"]), data[start + begin : start + end])
    return tensors, metadata


def read_safetensors_torch(path):
    """({name: float32 torch tensor of its shape}, metadata)."""
    import torch

    raw, metadata = read_f32_tensors(path)
    tensors = {}
    for name, (shape, data) in raw.items():
        values = torch.frombuffer(bytearray(data), dtype=torch.float32) if data else torch.zeros(0)
        tensors[name] = values.reshape(shape)
    return tensors, metadata
