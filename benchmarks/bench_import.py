"""Importing torchvision models: how long `import_module` takes beside what it is made of.

Run: python benchmarks/bench_import.py [--models resnet50,densenet121,...] [--size 224]
For each model (built once, eval mode): the import (trace module by module, recognise,
build the project, compile it with the source's weights and check its output), and, as the
baseline measured in the same run on the same machine, one forward pass of the model on a
batch of 1 and torch.fx.symbolic_trace of the whole model. CPU time (this process) and wall
time; the ratio import / forward says what the import costs in units of the model's own
work, which carries across machines better than seconds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def clocked(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,densenet121,mobilenet_v2,inception_v3")
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    import torch
    from helpers import import_torchvision

    from app.importers.torch_import import import_module
    tv = import_torchvision()
    print(f"{'model':16} {'import cpu/wall s':>18} {'forward cpu/wall s':>19} "
          f"{'fx trace s':>10} {'import/forward (cpu)':>21}")
    for name in args.models.split(","):
        kwargs = {"aux_logits": False, "init_weights": True} \
            if name in ("inception_v3", "googlenet") else {}
        size = 299 if name == "inception_v3" and args.size == 224 else args.size
        torch.manual_seed(0)
        model = getattr(tv.models, name)(**kwargs).eval()
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            model(x)  # warm-up: allocator, kernels
            runs = sorted(clocked(lambda m=model, x=x: m(x))[1:] for _ in range(3))
            f_cpu, f_wall = runs[1]  # the median of three
        _, t_cpu, _ = clocked(lambda m=model: torch.fx.symbolic_trace(m))
        result, i_cpu, i_wall = clocked(
            lambda m=model, n=name, s=size: import_module(m, n, [3, s, s]))
        print(f"{name:16} {i_cpu:8.2f} /{i_wall:7.2f}   {f_cpu:8.3f} /{f_wall:7.3f}  "
              f"{t_cpu:9.3f}  {i_cpu / f_cpu:20.1f}")
        print(f"  {result.notes[0]}")


if __name__ == "__main__":
    main()
