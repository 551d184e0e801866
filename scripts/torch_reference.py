#!/usr/bin/python3
"""Reference outputs of torchvision backbones, for the C++ parity tests.

For each model: randomly initialised weights (BN statistics and affine
parameters randomised too, so eval mode is not an identity) written to
OUT/<name>.safetensors under torchvision's names, and OUT/<name>_io.safetensors
holding a random input, torchvision's eval-mode output ("features": the map
before global pooling, with DenseNet's final ReLU; "logits": the 1000-way
classifier output), and metadata: the parameter count and conv+linear MACs
(forward hooks) at the test size.

usage: torch_reference.py OUT_DIR [--size 64] [--models resnet18,resnet50,densenet121,resnet50_dilated]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_pth import write_safetensors  # noqa: E402


def build(name):
    import torchvision
    if name == "resnet50_dilated":
        return torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    return getattr(torchvision.models, name)(weights=None)


def features(model, name, x):
    import torch
    import torch.nn.functional as F
    if name.startswith("densenet"):
        return F.relu(model.features(x))
    m = model
    y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        y = layer(y)
    return y


def conv_linear_macs(model, size):
    import torch
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += out[0].numel() * (mod.in_channels // mod.groups) * k
        else:
            total[0] += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--models", default="resnet18,resnet50,densenet121,resnet50_dilated")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    for i, name in enumerate(args.models.split(",")):
        torch.manual_seed(1234 + i)
        model = build(name)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.num_batches_tracked.fill_(7)
        model.eval()
        x = torch.randn(2, 3, args.size, args.size)
        with torch.no_grad():
            feats = features(model, name, x)
            logits = model(x)
        write_safetensors(os.path.join(args.out, name + ".safetensors"), model.state_dict(), {"format": "pt"})
        meta = {
            "params": sum(p.numel() for p in model.parameters()),
            "params_without_classifier": sum(p.numel() for n, p in model.named_parameters()
                                             if not n.startswith(("fc.", "classifier."))),
            "macs_at_size": conv_linear_macs(model, args.size),
        }
        write_safetensors(os.path.join(args.out, name + "_io.safetensors"),
                          {"input": x, "features": feats, "logits": logits}, meta)
        print(name, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
