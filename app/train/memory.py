"""How much memory a training run will take, before it starts.

weights + gradients (one copy each, float32) + optimizer state (SGD with momentum: one
copy; Adam/AdamW: two) + activations + the data set when it is kept on the device.

Activations are *measured*, not guessed: the model is built on the meta device (no memory,
no compute) and run forward once on a meta batch of the chosen size inside
`saved_tensors_hooks`, which sees every tensor autograd keeps for the backward pass — the
memory that grows with the batch. That is ~5.5× the sum of the nodes' output sizes
(`info[n].activation_bytes`) for the built-in example, because a block keeps its
internals (conv → BN → ReLU each save an input) — a fixed factor over the outputs would be
wrong by 2–3× one way or the other depending on the blocks. To that we add the backward
pass's transient peak, taken as twice the largest saved tensor (the gradient flowing in and
the one flowing out). With mixed precision, activations are measured with a half-precision
meta model and a half-precision copy of the weights is added. Not included: the CUDA
context (~0.3–0.5 GiB per process) and the allocator's fragmentation; the panel says
"about".
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from app.graph import NetGraph


@dataclass(frozen=True)
class MemoryEstimate:
    batch_size: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    data: int = 0
    amp: bool = False

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.data

    def text(self) -> str:
        parts = [f"weights {fmt_bytes(self.weights)}", f"gradients {fmt_bytes(self.gradients)}",
                 f"optimizer {fmt_bytes(self.optimizer)}",
                 f"activations {fmt_bytes(self.activations)} at batch {self.batch_size}"
                 + (" (mixed precision)" if self.amp else "")]
        if self.data:
            parts.append(f"data {fmt_bytes(self.data)}")
        return f"about {fmt_bytes(self.total)} ({', '.join(parts)})"

    def to_dict(self) -> dict:
        return {"total_bytes": self.total, "weights_bytes": self.weights,
                "gradients_bytes": self.gradients, "optimizer_bytes": self.optimizer,
                "activations_bytes": self.activations, "data_bytes": self.data,
                "batch_size": self.batch_size, "amp": self.amp}


def fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def optimizer_copies(optimizer: str, momentum: float = 0.9) -> int:
    if optimizer in ("adam", "adamw"):
        return 2
    return 1 if momentum else 0


def saved_activation_bytes(graph: NetGraph, batch_size: int, dtype=torch.float32) -> int:
    """Bytes autograd keeps for backward at this batch size, measured on the meta device."""
    from app.compile import compile_graph

    with torch.device("meta"):
        model = compile_graph(graph)
    model = model.to(dtype).train()
    params = {id(p) for p in model.parameters()}
    saved: dict[int, torch.Tensor] = {}

    def pack(t: torch.Tensor):
        if id(t) not in params:
            saved[id(t)] = t  # keeping t alive keeps ids unique
        return t

    shape = graph.info[graph.input_nodes()[0]].output_shape
    x = torch.empty((batch_size, *shape), device="meta", dtype=dtype)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    sizes = [t.numel() * t.element_size() for t in saved.values()]
    return sum(sizes) + 2 * max(sizes, default=0)


def estimate_memory(graph: NetGraph, batch_size: int, optimizer: str = "adamw",
                    momentum: float = 0.9, amp: bool = False, data_bytes: int = 0
                    ) -> MemoryEstimate:
    """Raises app.compile.CompileError when the graph has problems."""
    n_params = graph.totals()["total_params"]
    n_train = graph.totals()["trainable_params"]
    weights = n_params * 4
    act = saved_activation_bytes(graph, batch_size, torch.bfloat16 if amp else torch.float32)
    if amp:
        weights += n_params * 2  # autocast's half-precision copies of the weights
    return MemoryEstimate(batch_size=batch_size, weights=weights, gradients=n_train * 4,
                          optimizer=n_train * 4 * optimizer_copies(optimizer, momentum),
                          activations=act, data=data_bytes, amp=amp)


# What the allocators say when they run out: CUDA raises OutOfMemoryError, the CPU
# allocator a plain RuntimeError ("DefaultCPUAllocator: can't allocate memory: you tried
# to allocate …"), MPS "MPS backend out of memory", numpy and Python MemoryError.
_OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory",
              "failed to allocate", "not enough memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says some device ran out of memory (any device, any allocator)."""
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    if isinstance(exc, (oom, torch.cuda.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _OOM_WORDS)

