#!/usr/bin/python3
"""Converts a PyTorch state dict (.pth/.pt) to safetensors, for `excap weights import`.

LibTorch's C++ pickle loader cannot read a state dict's OrderedDict, so the
conversion runs on Debian's python3-torch. Keys are kept as they are; the C++
side strips "module." and remaps torchvision's legacy DenseNet names.

usage: convert_pth.py IN.pth OUT.safetensors
exit status: 0 ok, 2 bad usage or input, 3 torch missing.
"""
import json
import os
import struct
import sys

# safetensors dtype names (https://github.com/huggingface/safetensors)
_DTYPES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
    "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64",
}


def tensor_bytes(t):
    import torch
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the 2-byte words
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: torch.Tensor} as safetensors (names sorted, header padded to 8 bytes)."""
    header, blobs, pos = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name]
        dtype = _DTYPES.get(str(t.dtype).replace("torch.", ""))
        if dtype is None:
            raise ValueError(f"tensor {name}: dtype {t.dtype} has no safetensors name")
        b = tensor_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("convert_pth.py: python3 cannot import torch (Debian: apt install python3-torch)", file=sys.stderr)
        return 3
    src, dst = argv[1], argv[2]
    try:
        try:
            obj = torch.load(src, map_location="cpu", weights_only=True)
        except TypeError:  # torch < 1.13 has no weights_only
            obj = torch.load(src, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any load failure is reported the same way
        print(f"{src}: cannot load as a PyTorch file: {e}", file=sys.stderr)
        return 2
    # Checkpoints often wrap the state dict.
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        print(f"{src}: holds a {type(obj).__name__}, not a state dict", file=sys.stderr)
        return 2
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    skipped = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not tensors:
        print(f"{src}: no tensors in the state dict", file=sys.stderr)
        return 2
    try:
        write_safetensors(dst, tensors, {"format": "pt", "converted_from": os.path.basename(src)})
    except (OSError, ValueError) as e:
        print(f"{dst}: {e}", file=sys.stderr)
        return 2
    print(f"converted {len(tensors)} tensors" + (f" (skipped non-tensor entries: {', '.join(skipped)})" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
