"""The parts of a training run around the loop: the device and its precision, the
learning-rate schedule, the optimizer, the check that data and network fit, and the
messages that end a run (NaN, out of memory). Split from loop.py, which keeps the loop
itself and re-exports these."""
from __future__ import annotations

import math

import torch
from torch import nn

from app.graph import NetGraph, fmt_shape

from .config import TrainConfig
from .data_limits import DataError


class TrainError(RuntimeError):
    """The run cannot start (or go on); the message says what to change."""


# ---- devices and precision -------------------------------------------------------------

def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """"auto": CUDA when present, else Apple MPS, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"CUDA was asked for, but this PyTorch ({torch.__version__}) sees no "
                         f"CUDA GPU — choose device auto or cpu")
    if name == "mps" and not mps_available():
        raise TrainError("Apple MPS was asked for, but it is not available here — choose "
                         "device auto or cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise TrainError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)


def amp_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """bf16 on GPUs that support it, else fp16 (with a GradScaler); None: no autocast."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


# ---- learning rate ---------------------------------------------------------------------

def lr_at(config: TrainConfig, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """The learning rate for optimizer step `step` (0-based); a pure function of the step,
    so a resumed run continues the schedule exactly and no scheduler state is saved."""
    base = config.lr
    total = max(1, total_steps)
    t = min(step, total - 1) / max(1, total - 1)
    s = config.schedule
    if s == "constant":
        return base
    if s == "step":
        return base * config.gamma ** (step // (config.step_size * max(1, steps_per_epoch)))
    if s == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * t))
    if s == "onecycle":  # as torch's OneCycleLR: lr/25 → lr (cosine), then → lr/(25·1e4)
        start, end = base / 25, base / 25 / 1e4
        w = config.warmup_fraction
        if t < w:
            return start + (base - start) * 0.5 * (1 - math.cos(math.pi * t / w))
        return end + (base - end) * 0.5 * (1 + math.cos(math.pi * (t - w) / (1 - w)))
    raise TrainError(f"unknown schedule {s!r}")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Weight decay on weights (2-D and up) only, not on biases and norm scales."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise TrainError("the network has no trainable parameters — add a Conv2d or Linear")
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    raise TrainError(f"unknown optimizer {config.optimizer!r}")


# ---- checks ----------------------------------------------------------------------------

def check_fit(graph: NetGraph, num_classes: int, sample_shape: tuple[int, ...]) -> None:
    """The network's Input must take the samples and its output must be [num_classes]."""
    in_shape = tuple(graph.info[graph.input_nodes()[0]].output_shape)
    if tuple(sample_shape) != in_shape:
        raise DataError(f"the data's samples are {list(sample_shape)} but the network's Input "
                        f"is {list(in_shape)}")
    out = graph.output_nodes()[0]
    out_shape = tuple(graph.info[out].output_shape)
    if out_shape == (num_classes,):
        return
    where = _last_linear(graph)
    if len(out_shape) == 1:
        raise TrainError(f"the network outputs {fmt_shape(out_shape)} but the dataset has "
                         f"{num_classes} classes — set the last Linear's units to {num_classes}"
                         + (f" ({where})" if where else ""))
    raise TrainError(f"the network outputs {fmt_shape(out_shape)}, but training needs one score "
                     f"per class, [{num_classes}] — end the network with GlobalAvgPool (or "
                     f"Flatten) and a Linear with {num_classes} units")


def _last_linear(graph: NetGraph) -> str | None:
    for n in reversed(graph.topological_order()):
        if graph.type_of(n) == "Linear":
            label = graph.node(n)["label"]
            return f"{n} ({label})" if label else n
    return None


def nan_message(value: float, step: int, epoch: int, batch: int, lr: float,
                 last_path: str | None) -> str:
    what = "NaN" if math.isnan(value) else ("infinite" if math.isinf(value) else "not finite")
    return (f"the loss became {what} at step {step} (epoch {epoch}, batch {batch}) — the run "
            f"stopped; lower the learning rate (it was {lr:.3g}) or add BatchNorm"
            + (f"; the last checkpoint ({last_path}) is kept" if last_path else ""))


def oom_message(device: torch.device, bs: int, epoch: int, batch: int, adtype, last_path,
                 evaluating: bool = False) -> str:
    what = "the GPU" if device.type == "cuda" else device.type.upper()
    where = (f"evaluating after epoch {epoch}" if evaluating
             else f"epoch {epoch}, batch {batch}")
    hints = [f"try batch size {max(1, bs // 2)}"]
    if device.type == "cuda" and adtype is None:
        hints.append("turn mixed precision on")
    return (f"{what} ran out of memory at batch size {bs} ({where}) — "
            + " or ".join(hints) + "; nothing else was lost"
            + (f", the last checkpoint ({last_path}) is kept" if last_path else ""))
