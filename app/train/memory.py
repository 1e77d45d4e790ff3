"""How much memory training takes, per node and in all, before anything runs.

Per node: its weights (float32 masters plus buffers such as BatchNorm's running
statistics), their gradients, the optimizer's state (SGD with momentum: one copy;
Adam/AdamW: two) and the activations autograd keeps for the backward pass at the chosen
batch size and precision (under mixed precision these include the half-precision copies of
the weights that autocast makes and keeps).

Activations are *measured*, not guessed: the model is built with fake tensors (shapes, no
data, no compute) and run forward once on a fake batch inside `saved_tensors_hooks`, which sees
every tensor autograd keeps; forward pre-hooks on the nodes' modules say whose it is (a
tensor kept by two nodes counts once, for the first). A block keeps its internals (conv →
BN → ReLU each save an input), so this is several times the sum of the nodes' outputs, by
a factor that depends on the blocks — no fixed factor would do.

The peak is not the sum of everything: gradients are created during the backward pass
while activations are freed (the trainer zeroes gradients with set_to_none). So we walk
the backward pass node by node, last to first: live = weights + optimizer state +
activations of the nodes not yet reached + gradients of the nodes done + the node's
working set (twice its largest kept tensor: the gradient flowing in and the one flowing
out). The optimizer step then adds temporaries: torch's foreach implementation (the
default on GPUs) makes them for all parameters at once — Adam's sqrt of its second moment,
and gradient + weight decay for SGD and Adam (AdamW decays in place) — while the
per-tensor one (CPUs) makes them one parameter at a time, so only the largest counts
(Adam's sqrt and its division by the bias correction live together). Checked against measured peaks of real CPU steps in
tests/test_train_memory.py; `benchmarks/train_memory_cuda.py` does it on a GPU.
Not included: the CUDA context (~0.3–0.5 GiB per process) and allocator fragmentation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from app.graph import NetGraph
from app.summary import fmt_bytes

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class NodeMemory:
    weights: int
    gradients: int
    optimizer: int
    activations: int
    working: int = 0  # the backward pass's transient through this node

    @property
    def total(self) -> int:
        """What the node holds at the start of the backward pass (working set aside)."""
        return self.weights + self.gradients + self.optimizer + self.activations


@dataclass(frozen=True)
class MemoryEstimate:
    batch_size: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    data: int = 0
    amp: bool = False
    precision: str = "fp32"
    peak: int = 0  # the highest point of a training step (see the module doc)
    nodes: dict[str, NodeMemory] = field(default_factory=dict, compare=False)

    @property
    def total(self) -> int:
        return self.peak + self.data

    def text(self) -> str:
        parts = [f"weights {fmt_bytes(self.weights)}", f"gradients {fmt_bytes(self.gradients)}",
                 f"optimizer {fmt_bytes(self.optimizer)}",
                 f"activations {fmt_bytes(self.activations)} at batch {self.batch_size}"
                 + (f" ({self.precision} mixed precision)" if self.amp else "")]
        if self.data:
            parts.append(f"data {fmt_bytes(self.data)}")
        return f"about {fmt_bytes(self.total)} at the peak ({', '.join(parts)})"

    def to_dict(self) -> dict:
        return {"total_bytes": self.total, "weights_bytes": self.weights,
                "gradients_bytes": self.gradients, "optimizer_bytes": self.optimizer,
                "activations_bytes": self.activations, "data_bytes": self.data,
                "batch_size": self.batch_size, "amp": self.amp, "precision": self.precision}

    def fits(self, gib: float) -> bool:
        return self.total <= gib * 2**30

    def fits_text(self, gib: float) -> str:
        """'Fits on a 16 GiB GPU (3 %)' — CUDA's own context (~0.3–0.5 GiB) not counted."""
        verdict = "Fits" if self.fits(gib) else "Does NOT fit"
        return f"{verdict} on a {gib:g} GiB GPU ({self.total / (gib * 2**30):.0%})"


def default_gpu_gib() -> float:
    """The first CUDA GPU's memory, else 16 GiB (a common card) to compare against."""
    if torch.cuda.is_available():
        return round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return 16.0


def optimizer_copies(optimizer: str, momentum: float = 0.9) -> int:
    if optimizer in ("adam", "adamw"):
        return 2
    return 1 if momentum else 0


def saved_activations(graph: NetGraph, batch_size: int, precision: str = "fp32",
                      device: str = "cpu") -> dict[str, tuple[int, int, int, int]]:
    """{node: (bytes kept for backward, bytes of its largest kept tensor, buffer bytes,
    its largest parameter's element count)} at this batch size.

    Measured under FakeTensorMode (tensors with shapes and dtypes but no data), inside the
    same torch.autocast a run uses, so that what mixed precision keeps in half precision —
    and the half copies of the weights it makes — is what autocast really decides."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from app.compile import compile_graph

    if device == "cuda" and not torch.cuda.is_available():
        device = "cpu"  # autocast's CPU policy is the nearest we can run without a GPU
    with FakeTensorMode(), torch.device(device):
        model = compile_graph(graph).train()
        shape = graph.info[graph.input_nodes()[0]].output_shape
        x = torch.empty((batch_size, *shape))
        return _kept_by_node(graph, model, x, PRECISIONS.get(precision))


def _kept_by_node(graph, model, x, half) -> dict[str, tuple[int, int, int, int]]:
    params = {id(p) for p in model.parameters()}
    seen: set[int] = set()
    keep: list[torch.Tensor] = []  # keeping tensors alive keeps their ids unique
    kept = {n: [0, 0, 0, 0] for n in model.node_names}
    current = [None]

    def pack(t: torch.Tensor):
        if id(t) not in params and id(t) not in seen and current[0] is not None:
            seen.add(id(t))
            keep.append(t)
            size = t.numel() * t.element_size()
            row = kept[current[0]]
            row[0] += size
            row[1] = max(row[1], size)
        return t

    for n, name in model.node_names.items():
        if graph.type_of(n) == "Input":  # the batch itself, in float32 as data arrives
            seen.add(id(x))
            kept[n][0] = kept[n][1] = x.numel() * x.element_size()
            continue
        module = getattr(model, name)
        module.register_forward_pre_hook(lambda m, a, n=n: current.__setitem__(0, n))
        kept[n][2] = sum(b.numel() * 4 for b in module.buffers() if b.is_floating_point())
        kept[n][3] = max((p.numel() for p in module.parameters() if p.requires_grad), default=0)
    amp = half not in (None, torch.float32)
    with torch.autocast(x.device.type, dtype=half if amp else None, enabled=amp), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return {n: tuple(v) for n, v in kept.items()}


def estimate_memory(graph: NetGraph, batch_size: int, optimizer: str = "adamw",
                    momentum: float = 0.9, amp: bool | str = False, data_bytes: int = 0,
                    weight_decay: float = 5e-4, device: str = "cuda") -> MemoryEstimate:
    """amp: False (fp32), True (bf16) or a precision name (fp32/bf16/fp16); device: where
    it trains ("cpu" steps one parameter at a time, GPUs all at once).
    Raises app.compile.CompileError when the graph has problems."""
    precision = amp if isinstance(amp, str) else ("bf16" if amp else "fp32")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    half = precision != "fp32"
    kept = saved_activations(graph, batch_size, precision, device)
    copies = optimizer_copies(optimizer, momentum)
    nodes = {}
    largest_param = 0
    for n in graph.topological_order():
        info = graph.info[n]
        act, largest, buffers, big = kept.get(n, (0, 0, 0, 0))
        largest_param = max(largest_param, big * 4)
        nodes[n] = NodeMemory(
            weights=info.params * 4 + buffers,
            gradients=info.trainable_params * 4,
            optimizer=info.trainable_params * 4 * copies,
            activations=act, working=2 * largest)
    total = {k: sum(getattr(m, k) for m in nodes.values())
             for k in ("weights", "gradients", "optimizer", "activations")}
    temps = (optimizer in ("adam", "adamw")) + (weight_decay > 0 and optimizer != "adamw")
    if device == "cpu":
        step = largest_param * (temps + (optimizer in ("adam", "adamw")))
    else:
        step = total["gradients"] * temps
    return MemoryEstimate(batch_size=batch_size, data=data_bytes, amp=half,
                          precision=precision, peak=_peak(list(nodes.values()), step),
                          nodes=nodes, **total)


def _peak(order: list[NodeMemory], step_temporaries: int) -> int:
    """The highest point of one training step, walking the backward pass (module doc)."""
    resident = sum(m.weights + m.optimizer for m in order)
    acts = sum(m.activations for m in order)
    grads = peak = 0
    for m in reversed(order):  # through node m: its gradients appear, then its inputs go
        grads += m.gradients
        peak = max(peak, resident + acts + grads + m.working)
        acts -= m.activations
    return max(peak, resident + grads + step_temporaries)


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

