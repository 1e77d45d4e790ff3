"""Precise-BN: validation accuracy you can trust after 1 and 3 epochs.

Run: python benchmarks/bench_precise_bn.py [--epochs 1 3] [--device cpu|cuda|auto]

For each network (the built-in hybrid example, and a plain VGG net with BatchNorm:
3 VGG blocks 32/64/128, global average pool, Linear 10) and each run length (a 1-epoch run,
a 3-epoch run: what a user who trains for that long sees) it trains twice on the built-in
digits with the app's defaults and the same seed: with precise-BN (the default) and with
--no-precise-bn, the baseline. Precise-BN draws its batches from a private generator, so
both runs train exactly the same weights (checked: the runs' training losses must match);
only the BatchNorm statistics used for evaluation differ.

Prints, per run: "train acc", the final weights' accuracy on the training set with
BatchNorm on per-batch statistics as in training (dropout off, no augmentation) — what the
network has learned; the validation accuracy of the baseline and with precise-BN, and their
gaps to the train accuracy (target: precise-BN's gap much smaller than the baseline's); and
the seconds precise-BN took in the last epoch against that epoch's training seconds.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from app.graph import NetGraph
from app.project import load_project
from app.train import TrainConfig, load_dataset, train
from app.train.data import BatchPrep
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


def run(graph, ds, epochs: int, precise: bool, device: str):
    rows: list[dict] = []
    config = TrainConfig(epochs=epochs, device=device, seed=0, precise_bn=precise)
    result = train(graph, config, dataset=ds,
                   callback=lambda e, d: rows.append(d) if e == "epoch_end" else None)
    return rows, result.model


@torch.no_grad()
def learned_accuracy(model, ds, batch_size: int = 64) -> float:
    """Training-set accuracy with BatchNorm on batch statistics (as training sees it),
    dropout off: independent of the running statistics being compared."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    device = next(model.parameters()).device
    prep = BatchPrep(ds, device)
    x, y = ds.train.x, ds.train.y
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))
    correct = total = 0
    for i in range(0, len(y) - batch_size + 1, batch_size):
        idx = order[i:i + batch_size]
        out = model(prep(x[idx].to(device), train=False))
        correct += int((out.argmax(1).cpu() == y[idx]).sum())
        total += len(idx)
    return correct / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    nets = [("hybrid example", load_project(EXAMPLE)), ("VGG-BN", vgg_bn())]
    ds = load_dataset("digits", (3, 32, 32), seed=0)
    print(f"digits: {len(ds.train)} train / {len(ds.val)} val samples, seed 0, app defaults")
    print(f"{'network':<16}{'epochs':>7}{'train acc':>11}{'val (no pBN)':>14}"
          f"{'val (pBN)':>11}{'gap no pBN':>12}{'gap pBN':>9}{'pBN s / epoch s':>17}")
    ok = True
    for name, graph in nets:
        for epochs in args.epochs:
            base, _ = run(graph, ds, epochs, False, args.device)
            pbn, model = run(graph, ds, epochs, True, args.device)
            same = all(abs(b["train_loss"] - p["train_loss"]) < 1e-6 for b, p in zip(base, pbn))
            ok &= same
            acc = learned_accuracy(model, ds)
            b, p = base[-1], pbn[-1]
            print(f"{name:<16}{epochs:>7}{acc:>10.1%}" + (" " if same else "!")
                  + f"{b['val_acc']:>13.1%}{p['val_acc']:>11.1%}"
                  f"{acc - b['val_acc']:>+12.1%}{acc - p['val_acc']:>+9.1%}"
                  f"{p['precise_bn']['seconds']:>8.2f} / {p['train_seconds']:.1f}", flush=True)
    if not ok:
        print("! the two runs trained different weights (training losses differ)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
