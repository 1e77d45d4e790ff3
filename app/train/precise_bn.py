"""Precise-BN: re-estimate BatchNorm's running statistics with the current weights.

BatchNorm keeps an exponential moving average of batch statistics (momentum 0.1). After
the few dozen steps a small data set gives per epoch, that average still mixes in
statistics from much earlier weights, so eval-mode accuracy can be far below the training
accuracy (every sample predicted as one class) although the network has learned. Before
each evaluation the loop runs a few training batches forward with the weights as they are
now and replaces the running mean/var by their plain average (BatchNorm's momentum=None
mode), as in Wu & Johnson, "Rethinking 'Batch' in BatchNorm" (2021). The checkpoint saved
after the evaluation therefore carries these statistics.
"""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def update_bn_stats(model: nn.Module, x: torch.Tensor, prep, device: torch.device,
                    adtype: torch.dtype | None, batches: int, batch_size: int,
                    seed: int = 0) -> dict[str, Any]:
    """Reset every BatchNorm's running stats and re-estimate them on `batches` batches of
    `x` (training inputs, not augmented: the statistics should describe what evaluation
    will see). Samples come from a private generator and dropout is off, so the training
    run's random stream, and with it the trained weights, are the same with and without
    precise-BN."""
    layers = batchnorm_layers(model)
    t0 = time.perf_counter()
    if not layers or batches < 1 or len(x) == 0:
        return {"layers": len(layers), "batches": 0, "samples": 0, "seconds": 0.0}
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    # batches of at least 2 samples: BatchNorm's batch variance is undefined for one
    bs = max(2, min(batch_size, n))
    order = torch.randperm(n, generator=gen)
    batches = min(batches, n // bs)  # each sample once at most; a short last batch dropped
    momenta = [m.momentum for m in layers]
    was_training = model.training
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # None: cumulative average over the batches seen since the reset
    # only the BatchNorms train: dropout stays off, so the statistics describe the network
    # that is evaluated, and it draws nothing from the random stream training uses next
    model.eval()
    for m in layers:
        m.train()
    seen = used = 0
    try:
        for b in range(batches):
            idx = order[b * bs:(b + 1) * bs]
            xb = prep(x[idx.to(x.device)].to(device, non_blocking=True), train=False)
            with torch.autocast(device.type, dtype=adtype, enabled=adtype is not None):
                model(xb)
            seen += len(idx)
            used += 1
    finally:
        for m, mom in zip(layers, momenta):
            m.momentum = mom
        model.train(was_training)
    return {"layers": len(layers), "batches": used, "samples": seen,
            "seconds": time.perf_counter() - t0}


def describe(info: dict[str, Any]) -> str:
    if not info["layers"]:
        return "precise-BN: no BatchNorm layers"
    return (f"precise-BN: re-estimated {info['layers']} BatchNorm layer(s) on "
            f"{info['batches']} batch(es), {info['samples']} samples "
            f"({info['seconds']:.2f} s)")
