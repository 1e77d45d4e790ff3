"""The training-memory estimate against torch.cuda.max_memory_allocated on a real GPU.

    python benchmarks/train_memory_cuda.py [--check] [--cases resnet18:64:adamw:bf16 ...]

For each case: a fresh model on the GPU, two training steps as the trainer takes them
(autocast in the chosen precision, a GradScaler for fp16, the trainer's optimizer with its
weight decay, gradients set to None), and the peak the CUDA allocator reports above what
was allocated before the model existed, next to `estimate_memory(…, device="cuda")`.
Channels-last is off: it changes no sizes, only layout. With --check the exit code is 1
when an estimate is more than 15 % off. Without a GPU it says so and exits 0 (CI has none).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.compile import compile_graph  # noqa: E402
from app.project import load_project  # noqa: E402
from app.summary import fmt_bytes  # noqa: E402
from app.train.config import TrainConfig  # noqa: E402
from app.train.loop import make_optimizer  # noqa: E402
from app.train.memory import PRECISIONS, estimate_memory  # noqa: E402
from resources import TEMPLATES_DIR  # noqa: E402

CASES = ["hybrid:256:adamw:fp32", "hybrid:256:sgd:bf16", "resnet18:64:adamw:fp32",
         "resnet18:64:adamw:bf16", "resnet18:64:sgd:fp16", "resnet50:32:adamw:bf16",
         "vgg16:16:sgd:fp32", "googlenet:32:adam:fp16", "inception_resnet_v1:8:adamw:bf16"]


def measure(graph, batch: int, optimizer: str, precision: str) -> int:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model = compile_graph(graph).cuda().train()
    config = TrainConfig(optimizer=optimizer)
    opt = make_optimizer(model, config)
    half = None if precision == "fp32" else PRECISIONS[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    shape = graph.info[graph.input_nodes()[0]].output_shape
    classes = graph.info[graph.output_nodes()[0]].output_shape[0]
    x = torch.randn(batch, *shape, device="cuda")
    y = torch.randint(0, classes, (batch,), device="cuda")
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=half, enabled=half is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del model, opt, x, y, loss
    return peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=CASES,
                    help="template:batch:optimizer:precision (default: a spread)")
    ap.add_argument("--check", action="store_true", help="exit 1 when an estimate is >15%% off")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to measure (the CPU check is "
              "tests/test_train_memory.py)")
        return 0
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    worst = 0.0
    for case in args.cases:
        name, batch, optimizer, precision = case.split(":")
        graph = load_project(TEMPLATES_DIR / f"{name}.json")
        est = estimate_memory(graph, int(batch), optimizer, amp=precision, device="cuda")
        peak = measure(graph, int(batch), optimizer, precision)
        off = est.total / peak - 1
        worst = max(worst, abs(off))
        print(f"{name:20s} batch {batch:>4s} {optimizer:5s} {precision}: estimate "
              f"{fmt_bytes(est.total):>10s}, measured {fmt_bytes(peak):>10s} ({off:+.1%})")
    return 1 if args.check and worst > 0.15 else 0


if __name__ == "__main__":
    sys.exit(main())
