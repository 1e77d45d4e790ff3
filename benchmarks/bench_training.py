"""Training throughput: the app's loop against a minimal hand-written PyTorch loop.

Run: python benchmarks/bench_training.py [--device cpu|cuda|auto] [--amp|--no-amp]
                                         [--batch-size N] [--epochs N] [--repeats N]

Both train the same compiled network (the built-in example unless --project) on the same
data tensors (digits at the Input's size, kept on the device), with the same optimizer
(AdamW), batch size, precision and memory layout. The app's loop is `app.train.train` with
augmentation and normalisation off, exactly as the CLI and the panel run it (its running
metrics, NaN checks, cancel checks and progress events included); its throughput is its
own train-phase timing (validation excluded, as the minimal loop has none). The first
epoch of each run is a warm-up and not counted; the runs alternate, and the best of
--repeats is kept for each, so that a noisy neighbour hurts both alike.
Prints samples/s for each and the ratio app / minimal (target: ≥ 0.95).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F

from app.compile import compile_graph
from app.project import load_project
from app.train import TrainConfig, load_dataset, train
from app.train.loop import amp_dtype, pick_device
from resources import EXAMPLE


def app_loop(graph, ds, args) -> float:
    rows = []
    config = TrainConfig(epochs=args.epochs + 1, batch_size=args.batch_size, lr=1e-3,
                         optimizer="adamw", schedule="constant", weight_decay=5e-4,
                         normalize=False, augment=False, device=args.device, amp=args.amp,
                         channels_last=args.channels_last, seed=0)
    train(graph, config, dataset=ds,
          callback=lambda e, d: rows.append(d) if e == "epoch_end" else None)
    timed = rows[1:]
    samples = sum(r["samples_per_s"] * r["train_seconds"] for r in timed)
    return samples / sum(r["train_seconds"] for r in timed)


def minimal_loop(graph, ds, args) -> float:
    device = pick_device(args.device)
    adtype = amp_dtype(device, args.amp)
    cl = args.channels_last and device.type == "cuda"
    torch.manual_seed(0)
    model = compile_graph(graph).to(device)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=adtype == torch.float16)
    x, y = ds.train.x.to(device), ds.train.y.to(device)
    n, bs = len(y), args.batch_size
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    seconds = samples = 0
    for epoch in range(args.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device)
        count = 0
        for i in range(0, n - (n % bs == 1), bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            with torch.autocast(device.type, dtype=adtype, enabled=adtype is not None):
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            count += len(idx)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if epoch:  # the first epoch is a warm-up
            seconds += time.perf_counter() - t0
            samples += count
    return samples / seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", default=str(EXAMPLE))
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="CUDA mixed precision for both loops (default on)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="CUDA channels-last for both loops (default on)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    graph = load_project(args.project)
    shape = graph.info[graph.input_nodes()[0]].output_shape
    ds = load_dataset("digits", shape, seed=0)
    device = pick_device(args.device)
    print(f"{graph.name}: {len(ds.train)} samples/epoch, batch {args.batch_size}, "
          f"device {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                if device.type == "cuda" else
                                f" ({torch.get_num_threads()} threads)")
          + f", amp {amp_dtype(device, args.amp)}, torch {torch.__version__}")
    app_best = minimal_best = 0.0
    for r in range(args.repeats):
        a = app_loop(graph, ds, args)
        m = minimal_loop(graph, ds, args)
        print(f"  run {r + 1}: app {a:,.0f} samples/s, minimal {m:,.0f} samples/s")
        app_best, minimal_best = max(app_best, a), max(minimal_best, m)
    ratio = app_best / minimal_best
    print(f"app loop      {app_best:,.0f} samples/s")
    print(f"minimal loop  {minimal_best:,.0f} samples/s")
    print(f"ratio         {ratio:.3f} (target ≥ 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
