"""Precise-BN: validation accuracy you can trust after 1 and 3 epochs.

Run: python benchmarks/bench_precise_bn.py [--epochs 3] [--device cpu|cuda|auto]

For each network (the built-in hybrid example, and a plain VGG net with BatchNorm:
3 VGG blocks 32/64/128, global average pool, Linear 10) it trains twice on the built-in
digits with the app's defaults and the same seed: once with precise-BN (the default) and
once with --no-precise-bn, the baseline. Precise-BN draws its batches from a private
generator, so both runs train exactly the same weights (the train accuracies printed must
match); only the BatchNorm statistics used for evaluation differ. Prints, after epoch 1 and
the last epoch, train accuracy and validation accuracy with and without, and the gap
train − val (target: precise-BN's gap much smaller than the baseline's), plus the seconds
precise-BN adds per epoch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.graph import NetGraph
from app.project import load_project
from app.train import TrainConfig, load_dataset, train
from resources import EXAMPLE


def vgg_bn() -> NetGraph:
    g = NetGraph("VGG-BN")
    prev = g.add_node("Input", {"shape": [3, 32, 32]})
    for filters in (32, 64, 128):
        n = g.add_node("VGGBlock", {"filters": filters, "convs": 2, "batch_norm": True})
        g.connect(prev, n)
        prev = n
    for t, p in (("GlobalAvgPool", {}), ("Linear", {"units": 10})):
        n = g.add_node(t, p)
        g.connect(prev, n)
        prev = n
    return g


def run(graph, ds, epochs: int, precise: bool, device: str) -> list[dict]:
    rows: list[dict] = []
    config = TrainConfig(epochs=epochs, device=device, seed=0, precise_bn=precise)
    train(graph, config, dataset=ds,
          callback=lambda e, d: rows.append(d) if e == "epoch_end" else None)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    nets = [("hybrid example", load_project(EXAMPLE)), ("VGG-BN", vgg_bn())]
    ds = load_dataset("digits", (3, 32, 32), seed=0)
    print(f"digits: {len(ds.train)} train / {len(ds.val)} val samples, "
          f"{args.epochs} epoch(s), seed 0, app defaults")
    print(f"{'network':<16}{'epoch':>6}{'train acc':>11}{'val (no pBN)':>14}"
          f"{'val (pBN)':>11}{'gap no pBN':>12}{'gap pBN':>9}{'pBN s':>7}")
    ok = True
    for name, graph in nets:
        base = run(graph, ds, args.epochs, False, args.device)
        pbn = run(graph, ds, args.epochs, True, args.device)
        for i in sorted({0, args.epochs - 1}):
            b, p = base[i], pbn[i]
            same = abs(b["train_acc"] - p["train_acc"]) < 1e-9
            ok &= same
            print(f"{name:<16}{p['epoch']:>6}{p['train_acc']:>10.1%}"
                  + (" " if same else "!") + f"{b['val_acc']:>13.1%}{p['val_acc']:>11.1%}"
                  f"{b['train_acc'] - b['val_acc']:>+12.1%}{p['train_acc'] - p['val_acc']:>+9.1%}"
                  f"{p['precise_bn']['seconds']:>7.2f}")
    if not ok:
        print("! the two runs trained different weights (train accuracy differs)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
