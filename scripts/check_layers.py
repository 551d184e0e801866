#!/usr/bin/env python3
"""Checks the include direction between the source folders (docs/architecture.md).

Each tracked .cpp/.h may include project headers ("folder/x.h") only from the
folders its layer may depend on, and <torch/...>, <imgui.h>, <GL/...> or
<GLFW/...> only where the table below allows. Prints file:line for every
violation and exits 1 when there is one.

  check_layers.py [ROOT]     check the tree at ROOT (default: this repository)
  check_layers.py --self-test
"""
import os
import re
import subprocess
import sys
import tempfile

TORCH = "<torch>"  # <torch/...>, <ATen/...>, <c10/...>
GUI = "<gui>"  # <imgui*.h>, <GL/...>, <GLFW/...>

_BASE = ["common", "store", "media", "metrics"]
_STAGES = _BASE + ["stage1", "curation", "exchange", "report", "sample"]
_TORCH_SIDE = ["model", "trainer", "triage"]

# Layer -> what it may include besides itself. The single source of the rule.
ALLOWED = {
    "common": [],
    "store": ["common"],
    # excap_validate (store/validate.cpp) is its own target above media: it reads frames and masks.
    "store/validate": ["common", "store", "media"],
    "media": ["common"],
    "metrics": ["common"],
    "model": ["common", TORCH],
    "trainer": ["common", "store", "metrics", "model", TORCH],
    "trainer/pack": ["common", "store", "metrics", "model", TORCH, "media", "curation"],
    # excap_final_mask (trainer/final_mask.cpp): eval reads final masks at their own size.
    "trainer/final_mask": ["common", "store", "metrics", "trainer", "media"],
    "report": ["common", "store", "metrics", "trainer", "media", "curation"],
    "stage1": ["common", "store", "media"],
    "curation": ["common", "store", "media", "metrics"],
    "exchange": ["common", "store", "media", "curation"],
    "sample": ["common", "store", "media", "metrics", "stage1", "curation", "exchange"],
    "sample/demo": _STAGES + _TORCH_SIDE + [TORCH],
    "triage": ["common", "store", "media", "stage1", "model", "trainer", "report", TORCH],
    # experiment: trains and evaluates through trainer (no LibTorch headers), writes through report.
    "experiment": ["common", "store", "media", "metrics", "model", "trainer", "report"],
    "bench": _STAGES + _TORCH_SIDE + [TORCH],
    "annotator/core": _STAGES + _TORCH_SIDE,
    "annotator/ui": _STAGES + _TORCH_SIDE + ["annotator/core", GUI],
    "annotator/app": _STAGES + _TORCH_SIDE + ["annotator/core", "annotator/ui", GUI],
    "cli": _STAGES + _TORCH_SIDE + ["bench", "experiment", TORCH],
    "tests": _STAGES + _TORCH_SIDE + ["bench", "experiment", "cli", "annotator/core", "annotator/ui",
                                      "annotator/app", TORCH],
}

# Includes the rule forbids that the tree has today; printed on every run so they stay visible.
KNOWN_VIOLATIONS: dict = {}

# Layers whose name is a file stem inside a folder: they widen one file's rule.
_FILE_LAYERS = {"trainer/pack", "trainer/final_mask", "sample/demo", "store/validate"}
_FOLDERS = sorted({k for k in ALLOWED if k not in _FILE_LAYERS and k != "tests"} | {"annotator"})
_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    """The layer a source file belongs to, or None for files outside the table."""
    parts = path.split("/")
    if parts[0] == "tests":
        return "tests"
    if parts[0] == "annotator":
        return "/".join(parts[:2]) if len(parts) > 2 else None
    stem = parts[0] + "/" + os.path.splitext(parts[-1])[0] if len(parts) == 2 else None
    if stem in _FILE_LAYERS:
        return stem
    return parts[0] if parts[0] in ALLOWED else None


def target_of(bracket, name):
    """What an include refers to: a layer, TORCH, GUI, or None (anything else)."""
    first = name.split("/")[0]
    if bracket == "<":
        if first in ("torch", "ATen", "c10"):
            return TORCH
        if first in ("GL", "GLFW") or re.match(r"imgui\w*\.h$", name):
            return GUI
        return None
    if first == "annotator":
        return "/".join(name.split("/")[:2])
    return first if first in _FOLDERS and "/" in name else None


def tracked_sources(root):
    """The tracked C++ files (git), or every C++ file when ROOT is no git checkout."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "*.cpp", "*.h", "*.hpp"],
                             capture_output=True, text=True, check=True).stdout
        if out.strip():
            return sorted(out.split())
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for base, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        found += [os.path.relpath(os.path.join(base, f), root) for f in files
                  if f.endswith((".cpp", ".h", ".hpp"))]
    return sorted(p.replace(os.sep, "/") for p in found)


def own_folder(layer):
    return layer.split("/")[0] if layer in _FILE_LAYERS else layer


def check(root):
    """Returns (violations, notes) as printable 'file:line: ...' strings."""
    violations, notes = [], []
    for path in tracked_sources(root):
        layer = layer_of(path)
        if layer is None:
            violations.append(f"{path}:1: folder not in the layer table of check_layers.py")
            continue
        allowed = set(ALLOWED[layer]) | {own_folder(layer)}
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = _INCLUDE.match(line)
                target = target_of(*m.groups()) if m else None
                if target is None or target in allowed:
                    continue
                spelled = m.group(1) + m.group(2) + (">" if m.group(1) == "<" else '"')
                text = f"{path}:{number}: {layer} may not include {spelled}"
                if (path, target) in KNOWN_VIOLATIONS:
                    notes.append(f"{text} (known: {KNOWN_VIOLATIONS[(path, target)]})")
                else:
                    violations.append(text)
    return violations, notes


def self_test():
    """A generated tree with allowed includes, forbidden ones and an unknown folder."""
    files = {
        "common/a.h": '#include "store/b.h"\n',
        "store/b.h": '#include "common/a.h"\n',
        "trainer/pack.cpp": '#include "curation/split.h"\n',
        "trainer/train.cpp": '#include "curation/split.h"\n',
        "misc/x.cpp": "",
        "annotator/core/d.h": "#include <imgui.h>\n",
        "media/v.cpp": "#include <torch/torch.h>\n#include <vector>\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
        violations, _ = check(root)
    expected = ["annotator/core/d.h:1:", "common/a.h:1:", "media/v.cpp:1:", "misc/x.cpp:1:",
                "trainer/train.cpp:1:"]
    got = [v.split(" ")[0] for v in violations]
    if got != expected:
        print(f"self-test failed: expected {expected}, got {violations}")
        return 1
    print("check_layers self-test: ok")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    violations, notes = check(os.path.abspath(root))
    for n in notes:
        print(f"note: {n}")
    for v in violations:
        print(v)
    if violations:
        print(f"check_layers: {len(violations)} include(s) against the dependency direction")
        return 1
    print("check_layers: include direction ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
