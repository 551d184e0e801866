#!/usr/bin/python3
"""PyTorch (Python) peer of `excap bench parity`: trains the same network as
ExCap's trainer, from the same initial weights, on the same packed frames, in
the same batch order, with the same SGD, poly schedule and losses, and writes
its final weights as safetensors so both sides are scored by one evaluator.

The network is bench_train_reference.py's (same parameter names; the C++ side's
weights load with strict=True). The recipe mirrors trainer/train.cpp,
trainer/data.cpp and model/losses.cpp:
  lr(it) = (lr - min_lr) * (1 - it/iters)^power + min_lr, set before step `it`;
  SGD(momentum, weight_decay on every parameter, dampening 0, no Nesterov);
  images uint8 NHWC -> float /255 -> ImageNet mean/std, no augmentation;
  loss = CE_cls + alpha * MSE(X_cls after fusion, before) + CE_seg, both CEs the
  mean over targets != ignore_index.

Prints one JSON object on its last line: steps, seconds, last loss, and its own
test scores (mIoU, accuracy) when --test is given. Run with /usr/bin/python3.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_reference import DTYPES, SPECS, SharedNet, read_safetensors  # noqa: E402

NAMES = {np.dtype(v): k for k, v in DTYPES.items()}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def write_safetensors(path, tensors, meta):
    """8-byte LE header length, JSON header padded to 8 bytes, raw data in name order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu()
        # ascontiguousarray makes a 0-d array 1-d: the shape comes from the tensor.
        arr = np.ascontiguousarray(t.numpy())
        blob = arr.tobytes()
        header[name] = {"dtype": NAMES[arr.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = meta
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(tmp, path)


def normalise(nhwc_uint8):
    return (nhwc_uint8.permute(0, 3, 1, 2).float().div(255.0) - MEAN) / STD


def masked_ce(logits, target, ignore):
    total = F.cross_entropy(logits, target, ignore_index=ignore, reduction="sum")
    return total / (target != ignore).sum().clamp_min(1).to(total.dtype)


def losses(out, cd, mask, alpha, ignore):
    total = 0
    if "cls" in out:
        total = total + masked_ce(out["cls"], cd, ignore)
        if "before" in out:
            total = total + alpha * F.mse_loss(out["after"], out["before"])
    if "seg" in out:
        total = total + masked_ce(out["seg"], mask, ignore)
    return total


def poly_lr(base, low, power, it, iters):
    progress = min(max(it / max(1, iters), 0.0), 1.0)
    return (base - low) * math.pow(1.0 - progress, power) + low


def train(net, data, order, rc, ignore):
    opt = torch.optim.SGD(net.parameters(), lr=rc["lr"], momentum=rc["momentum"],
                          weight_decay=rc["weight_decay"])
    images, masks, cd = data["images"], data["masks"].long(), data["cd"].long()
    iters = order.shape[0]
    net.train()
    loss = float("nan")
    for it in range(iters):
        lr = poly_lr(rc["lr"], rc["min_lr"], rc["poly_power"], it, rc["schedule_iters"])
        for g in opt.param_groups:
            g["lr"] = lr
        rows = order[it]
        out = net(normalise(images[rows]))
        total = losses(out, cd[rows], masks[rows], rc["alpha"], ignore)
        opt.zero_grad()
        total.backward()
        opt.step()
        loss = float(total)
    return loss


@torch.no_grad()
def evaluate(net, data, num_tissue, ignore, batch=8):
    """CD accuracy and mIoU (mmsegmentation: areas summed over the subset, ignore dropped,
    NaN classes left out of the mean) at the packed size."""
    net.eval()
    n = data["images"].shape[0]
    inter = np.zeros(num_tissue)
    union = np.zeros(num_tissue)
    correct = 0
    for s in range(0, n, batch):
        out = net(normalise(data["images"][s:s + batch]))
        if "cls" in out:
            correct += int((out["cls"].argmax(1) == data["cd"][s:s + batch].long()).sum())
        if "seg" not in out:
            continue
        pred = out["seg"].argmax(1).numpy()
        label = data["masks"][s:s + batch].numpy().astype(np.int64)
        keep = label != ignore
        p, t = pred[keep], label[keep]
        for c in range(num_tissue):
            inter[c] += np.sum((p == c) & (t == c))
            union[c] += np.sum((p == c) | (t == c))
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return {"mIoU": float(np.nanmean(iou)), "accuracy": correct / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="initial weights written by ExCap")
    ap.add_argument("--order", required=True, help="batch rows, I64 [iters, batch] (tensor 'rows')")
    ap.add_argument("--train", required=True, help="packed train subset")
    ap.add_argument("--test", help="packed test subset to score the final weights on")
    ap.add_argument("--recipe", required=True, help="JSON: lr, momentum, weight_decay, ...")
    ap.add_argument("--out", required=True, help="final weights (safetensors)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rc = json.loads(args.recipe)
    tensors, meta = read_safetensors(args.weights)
    cfg = json.loads(meta["excap_model_config"])
    if cfg["backbone"] not in SPECS or cfg["arch"] not in ("mtcsn", "hard_share", "cls", "seg_fcn"):
        raise SystemExit("parity peer supports resnet backbones and mtcsn/hard_share/cls/seg_fcn")
    net = SharedNet(cfg)
    net.load_state_dict(tensors, strict=True)
    order = read_safetensors(args.order)[0]["rows"]
    data, pmeta = read_safetensors(args.train)
    ignore = int(pmeta.get("ignore_index", "255"))
    t0 = time.perf_counter()
    loss = train(net, data, order, rc, ignore)
    seconds = time.perf_counter() - t0
    # num_batches_tracked as the 0-d tensor ExCap's model holds (this peer's reader gives it as [1];
    # a file written with [1] would not load into ExCap's model).
    final = {k: v.reshape(() if k.endswith("num_batches_tracked") else v.shape)
             for k, v in net.state_dict().items()}
    write_safetensors(args.out, final, {"format": "pt", "excap_model_config": json.dumps(cfg)})
    result = {"steps": int(order.shape[0]), "seconds": seconds, "loss": loss,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    if args.test:
        result.update(evaluate(net, read_safetensors(args.test)[0], cfg["num_tissue"], ignore))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
