#!/usr/bin/python3
"""PyTorch (Python) peer of `excap bench train`: the same network, the same
input size, batch, threads, optimiser and losses, timed the same way.

The network is rebuilt here (torchvision's ResNet layout and names) and mirrors
model/backbone.cpp, model/heads.cpp and model/models.cpp (shared backbone, cls branch fc1/fc2, FCN
head convs.0/convs.1/conv_seg, cross fusion m). The C++ side hands over its
freshly initialised weights as safetensors; loading them with strict=True
proves both programs train the same architecture (same names and shapes).

Prints one JSON object: it_s, images_s, step_ms, peak_rss_mb, params, ...
Run with Debian's /usr/bin/python3 (torch 1.13).
"""
import argparse
import json
import resource
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "F16": np.float16, "BOOL": np.bool_}


def read_safetensors(path):
    """Minimal safetensors reader (8-byte LE header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[base + b:base + e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, k, d=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=0 if k == 1 else d * (k // 2), dilation=d, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class ClsBranch(nn.Module):
    def __init__(self, cin, hidden, n):
        super().__init__()
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, n)

    def hidden(self, f):
        return F.relu(self.fc1(f.mean((2, 3))))


class FCNHead(nn.Module):
    def __init__(self, cin, ch, n, p):
        super().__init__()
        self.convs = nn.ModuleList([ConvBNReLU(cin, ch, 3), ConvBNReLU(ch, ch, 3)])
        self.dropout = nn.Dropout2d(p)
        self.conv_seg = nn.Conv2d(ch, n, 1)

    def logits(self, x):
        return self.conv_seg(self.dropout(self.convs[1](x)))


class CrossFusion(nn.Module):
    def __init__(self, c1, c2, max_pool):
        super().__init__()
        self.m = nn.Conv2d(c2, c1, 1, bias=False)
        self.max_pool = max_pool

    def forward(self, x_cls, x_seg):
        c1, c2 = self.m.weight.shape[:2]
        to_cls = self.m(x_seg)
        pooled = to_cls.amax((2, 3)) if self.max_pool else to_cls.mean((2, 3))
        to_seg = x_cls @ self.m.weight.view(c1, c2)
        return x_cls + pooled, x_seg + to_seg.view(-1, c2, 1, 1)


SPECS = {  # bottleneck, blocks per stage, base width (model/backbone.cpp)
    "resnet18": (False, [2, 2, 2, 2], 64), "resnet34": (False, [3, 4, 6, 3], 64),
    "resnet50": (True, [3, 4, 6, 3], 64), "resnet101": (True, [3, 4, 23, 3], 64),
    "tiny": (False, [1, 1, 1, 1], 8),
}


def conv(cin, cout, k, stride=1, pad=0, dil=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dil, bias=False)


class Block(nn.Module):
    """torchvision BasicBlock/Bottleneck (v1.5); basic blocks dilate both 3x3
    convs as mmsegmentation does (torchvision refuses dilation there)."""

    def __init__(self, bottleneck, cin, planes, stride, dil, downsample):
        super().__init__()
        self.bottleneck = bottleneck
        out = planes * (4 if bottleneck else 1)
        if bottleneck:
            self.conv1, self.bn1 = conv(cin, planes, 1), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3, stride, dil, dil), nn.BatchNorm2d(planes)
            self.conv3, self.bn3 = conv(planes, out, 1), nn.BatchNorm2d(out)
        else:
            self.conv1, self.bn1 = conv(cin, planes, 3, stride, dil, dil), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3, 1, dil, dil), nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(conv(cin, out, 1, stride), nn.BatchNorm2d(out)) if downsample else None

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.bottleneck:
            y = self.bn3(self.conv3(F.relu(y)))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Backbone(nn.Module):
    """ResNet with torchvision's names, replace_stride_with_dilation=[F, T, T] when dilated."""

    def __init__(self, name, dilated):
        super().__init__()
        bottleneck, blocks, w = SPECS[name]
        exp = 4 if bottleneck else 1
        self.conv1, self.bn1 = conv(3, w, 7, 2, 3), nn.BatchNorm2d(w)
        cin, dil = w, 1
        for i in range(4):
            planes, stride, prev = w << i, (1 if i == 0 else 2), dil
            if dilated and i >= 2:
                dil, stride = dil * stride, 1
            layer = [Block(bottleneck, cin, planes, stride, prev, stride != 1 or cin != planes * exp)]
            cin = planes * exp
            layer += [Block(bottleneck, cin, planes, 1, dil, False) for _ in range(1, blocks[i])]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))
        self.out_channels = cin

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class SharedNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        arch = cfg["arch"]
        self.backbone = Backbone(cfg["backbone"], cfg.get("dilated", True))
        feat = self.backbone.out_channels
        default = 32 if cfg["backbone"] == "tiny" else 256  # model/config.h
        c1 = cfg.get("cls_hidden", 0) or default
        c2 = cfg.get("seg_channels", 0) or default
        self.cls_head = ClsBranch(feat, c1, cfg["num_cd"]) if arch in ("mtcsn", "hard_share", "cls") else None
        self.seg_head = FCNHead(feat, c2, cfg["num_tissue"], cfg.get("seg_dropout", 0.1)) \
            if arch in ("mtcsn", "hard_share", "seg_fcn") else None
        self.fusion = CrossFusion(c1, c2, cfg.get("fusion_pool", "avg") == "max") if arch == "mtcsn" else None

    def forward(self, x):
        feat = self.backbone(x)
        out = {}
        x_cls = self.cls_head.hidden(feat) if self.cls_head is not None else None
        x_seg = self.seg_head.convs[0](feat) if self.seg_head is not None else None
        if self.fusion is not None:
            out["before"] = x_cls
            x_cls, x_seg = self.fusion(x_cls, x_seg)
            out["after"] = x_cls
        if self.cls_head is not None:
            out["cls"] = self.cls_head.fc2(x_cls)
        if self.seg_head is not None:
            out["seg"] = F.interpolate(self.seg_head.logits(x_seg), size=x.shape[2:], mode="bilinear",
                                       align_corners=False)
        return out


def losses(out, cd, mask, alpha):
    total = 0
    if "cls" in out:
        total = total + F.cross_entropy(out["cls"], cd, ignore_index=255)
        if "before" in out:
            total = total + alpha * F.mse_loss(out["after"], out["before"])
    if "seg" in out:
        total = total + F.cross_entropy(out["seg"], mask, ignore_index=255)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="the C++ model's initial weights (safetensors)")
    ap.add_argument("--size", type=int, default=240)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tensors, meta = read_safetensors(args.weights)
    cfg = json.loads(meta["excap_model_config"])
    if cfg["backbone"] not in SPECS or cfg["arch"] not in ("mtcsn", "hard_share", "cls", "seg_fcn"):
        raise SystemExit("python peer supports resnet backbones and mtcsn/hard_share/cls/seg_fcn only")
    torch.manual_seed(0)
    net = SharedNet(cfg)
    net.load_state_dict(tensors, strict=True)  # same names and shapes as the C++ model
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=g)
    cd = torch.randint(0, cfg["num_cd"], (args.batch,), generator=g)
    mask = torch.randint(0, cfg["num_tissue"], (args.batch, args.size, args.size), generator=g)
    net.train()

    def step():
        out = net(x)
        loss = losses(out, cd, mask, 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    dt = time.perf_counter() - t0
    it_s = args.iters / dt
    print(json.dumps({"it_s": it_s, "images_s": it_s * args.batch, "step_ms": 1000 * dt / args.iters,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "params": params, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
