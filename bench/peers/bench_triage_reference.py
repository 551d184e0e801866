#!/usr/bin/python3
"""Python peer of `excap bench triage`: the same model, frames and threads,
done the plain way — OpenCV decodes each frame in this thread, blanks it
outside the field of view, converts and resizes it as `excap pack` does, and
PyTorch eager runs the batch (torch.inference_mode, no folding).

The network mirrors model/backbone.cpp (ResNet family, any width and
dilation, including the "tiny" test backbone that torchvision cannot build)
and reuses the heads of bench/peers/bench_train_reference.py (model/heads.cpp).
Weights come from the run's checkpoint safetensors and load with strict=True,
which proves both sides run the same architecture.

Prints progress lines, then one JSON line: frames, wall_s, frames_per_s,
decode_s, infer_s, threads, torch, cv2 and probs (CD probabilities of the
first frames, which the C++ side compares with its own).
Run with Debian's /usr/bin/python3 (torch 1.13, python3-opencv).
"""
import argparse
import json
import math
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_reference import ClsBranch, CrossFusion, FCNHead, read_safetensors  # noqa: E402

# (bottleneck, blocks per stage, base width) as model/backbone.cpp make_backbone.
SPECS = {"resnet18": (False, [2, 2, 2, 2], 64), "resnet34": (False, [3, 4, 6, 3], 64),
         "resnet50": (True, [3, 4, 6, 3], 64), "resnet101": (True, [3, 4, 23, 3], 64),
         "tiny": (False, [1, 1, 1, 1], 8)}


def conv(cin, cout, k, stride=1, padding=0, dilation=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, bias=False)


class Block(nn.Module):
    def __init__(self, bottleneck, inplanes, planes, stride, dilation, downsample):
        super().__init__()
        out = planes * (4 if bottleneck else 1)
        self.bottleneck = bottleneck
        if bottleneck:
            self.conv1, self.bn1 = conv(inplanes, planes, 1), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3, stride, dilation, dilation), nn.BatchNorm2d(planes)
            self.conv3, self.bn3 = conv(planes, out, 1), nn.BatchNorm2d(out)
        else:
            self.conv1, self.bn1 = conv(inplanes, planes, 3, stride, dilation, dilation), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3, 1, dilation, dilation), nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(conv(inplanes, out, 1, stride), nn.BatchNorm2d(out)) if downsample else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.bottleneck:
            y = self.bn3(self.conv3(F.relu(y)))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, name, dilated):
        super().__init__()
        bottleneck, blocks, w = SPECS[name]
        exp = 4 if bottleneck else 1
        self.conv1, self.bn1 = conv(3, w, 7, 2, 3), nn.BatchNorm2d(w)
        inplanes, dilation = w, 1
        for i in range(4):
            planes, stride, prev = w << i, (1 if i == 0 else 2), dilation
            if dilated and i >= 2:  # replace_stride_with_dilation=[False, True, True]
                dilation *= stride
                stride = 1
            layer = [Block(bottleneck, inplanes, planes, stride, prev,
                           stride != 1 or inplanes != planes * exp)]
            inplanes = planes * exp
            layer += [Block(bottleneck, inplanes, planes, 1, dilation, False) for _ in range(1, blocks[i])]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))
        self.out_channels = inplanes

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class Net(nn.Module):
    """model/models.cpp SharedBackboneNet for the multi-task archs triage uses."""

    def __init__(self, cfg):
        super().__init__()
        if cfg["backbone"] not in SPECS:
            raise SystemExit("backbone %s is not mirrored here" % cfg["backbone"])
        default = 32 if cfg["backbone"] == "tiny" else 256
        c1 = cfg.get("cls_hidden", 0) or default
        c2 = cfg.get("seg_channels", 0) or default
        self.backbone = ResNet(cfg["backbone"], cfg.get("dilated", True))
        feat = self.backbone.out_channels
        self.cls_head = ClsBranch(feat, c1, cfg["num_cd"])
        self.seg_head = FCNHead(feat, c2, cfg["num_tissue"], cfg.get("seg_dropout", 0.1))
        self.fusion = CrossFusion(c1, c2, cfg.get("fusion_pool", "avg") == "max") if cfg["arch"] == "mtcsn" else None

    def forward(self, x):
        feat = self.backbone(x)
        x_cls = self.cls_head.hidden(feat)
        x_seg = self.seg_head.convs[0](feat)
        if self.fusion is not None:
            x_cls, x_seg = self.fusion(x_cls, x_seg)
        seg = F.interpolate(self.seg_head.logits(x_seg), size=x.shape[2:], mode="bilinear", align_corners=False)
        return self.cls_head.fc2(x_cls), seg


def frame_indices(total, video_fps, every, fps):
    """stage1/stage1.cpp clip_frame_indices over the whole video."""
    if every > 0:
        return list(range(0, total, every))
    if fps <= 0 or fps >= video_fps:
        return list(range(total))
    step, out, k = video_fps / fps, [], 0
    while True:
        i = int(math.floor(k * step + 0.5))  # llround for non-negative values
        if i >= total:
            return out
        out.append(i)
        k += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--video", required=True)
    ap.add_argument("--fov", required=True, help="8-bit mask PNG at the video size, 255 inside")
    ap.add_argument("--size", type=int, default=240)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--fps", type=float, default=0)
    ap.add_argument("--keep-probs", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    tensors, meta = read_safetensors(a.weights)
    cfg = json.loads(meta["excap_model_config"])
    net = Net(cfg)
    net.load_state_dict(tensors, strict=True)
    net.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    fov = cv2.imread(a.fov, cv2.IMREAD_GRAYSCALE)
    outside = fov == 0
    fov_small = torch.from_numpy(cv2.resize(fov, (a.size, a.size), interpolation=cv2.INTER_NEAREST) > 0)
    fov_pixels = max(1, int(fov_small.sum()))

    t_start = time.perf_counter()
    cap = cv2.VideoCapture(a.video)
    if not cap.isOpened():
        raise SystemExit("cannot open " + a.video)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    indices = frame_indices(total, cap.get(cv2.CAP_PROP_FPS), a.every, a.fps)
    if a.max_frames > 0:
        indices = indices[:a.max_frames]
    decode_s = infer_s = 0.0
    probs_out, shares_sum, done, pos, batch = [], 0, 0, 0, []

    def infer(frames):
        nonlocal infer_s, shares_sum
        t0 = time.perf_counter()
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255)
            cls, seg = net((x - mean) / std)
            p = torch.softmax(cls, 1)
            pred = seg.argmax(1)
            n, k = pred.shape[0], cfg["num_tissue"]
            sel = (pred + (torch.arange(n) * k).view(n, 1, 1))[fov_small.expand(n, -1, -1)]
            shares = torch.bincount(sel, minlength=n * k).view(n, k).double() / fov_pixels
            shares_sum = shares_sum + shares.sum(0)
        infer_s += time.perf_counter() - t0
        return p.tolist()

    for idx in indices:
        t0 = time.perf_counter()
        while pos < idx:
            if not cap.grab():
                break
            pos += 1
        ok, bgr = cap.read()
        if not ok:
            break
        pos += 1
        bgr[outside] = 0
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        shrink = bgr.shape[1] >= a.size and bgr.shape[0] >= a.size
        batch.append(cv2.resize(rgb, (a.size, a.size),
                                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
        decode_s += time.perf_counter() - t0
        if len(batch) == a.batch:
            p = infer(batch)
            done += len(batch)
            batch = []
            if len(probs_out) < a.keep_probs:
                probs_out += p[:a.keep_probs - len(probs_out)]
    if batch:
        p = infer(batch)
        done += len(batch)
        if len(probs_out) < a.keep_probs:
            probs_out += p[:a.keep_probs - len(probs_out)]
    wall = time.perf_counter() - t_start
    print(json.dumps({"frames": done, "wall_s": wall, "frames_per_s": done / wall if wall > 0 else 0,
                      "decode_s": decode_s, "infer_s": infer_s, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "cv2": cv2.__version__, "probs": probs_out}))


if __name__ == "__main__":
    main()
