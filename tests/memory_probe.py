"""Measured memory of a real training step, by code that knows nothing of our estimate.

A TorchDispatchMode sees every tensor torch creates (forward, autograd's backward, the
optimizer); torch's own StorageWeakRef says when its storage is really freed (autograd keeps
saved tensors in C++, out of Python's sight). The live total after each operation gives the
peak, like torch.cuda.max_memory_allocated does on a GPU.
"""
from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakMemory(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.now = self.peak = 0

    def track(self, t) -> None:
        if isinstance(t, torch.Tensor) and t.device.type == "cpu":
            s = t.untyped_storage()
            if s._cdata not in self.live:
                self.live[s._cdata] = (StorageWeakRef(s), s.nbytes())
                self.now += s.nbytes()

    def sweep(self) -> None:
        if self.now <= self.peak:  # frees only lower it: no new peak possible
            return
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.now -= self.live.pop(key)[1]
        self.peak = max(self.peak, self.now)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            self.track(t)
        self.sweep()
        return out


def measured_training_peak(model: torch.nn.Module, make_optimizer, x, y, steps: int = 2,
                           autocast_dtype=None) -> int:
    """Peak bytes of live tensors over `steps` real forward + backward + optimizer steps,
    counting the model's weights and buffers and the batch from the start."""
    loss_fn = torch.nn.CrossEntropyLoss()
    probe = PeakMemory()
    with probe:
        for t in [*model.parameters(), *model.buffers(), x, y]:
            probe.track(t)
        optimizer = make_optimizer(model)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16,
                                enabled=autocast_dtype is not None):
                loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    return probe.peak
