"""What a training run is asked to do: one dataclass, plain values only.

The same `TrainConfig` drives the CLI, the panel and the exported script; it goes into
every checkpoint as a dict (`asdict`), so it holds only numbers, strings, bools and None.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    # data
    data: str = "digits"            # "digits", an image folder, or a .npz file
    val_data: str | None = None     # a separate validation folder / .npz (else split)
    val_fraction: float = 0.2       # the stratified split when val_data is None
    augment: bool = False           # random crop with padding + horizontal flip, per batch
    flip: bool = True               # the flip half of `augment` (off for digits, text…)
    crop_padding: int | None = None  # None: H // 8
    normalize: bool = True          # per-channel mean/std of the training set
    # optimisation
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "adamw"
    momentum: float = 0.9           # SGD only
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    step_size: int = 2              # "step": decay every step_size epochs …
    gamma: float = 0.1              # … by this factor
    warmup_fraction: float = 0.3    # "onecycle": share of the steps spent warming up
    label_smoothing: float = 0.0
    seed: int = 0
    max_steps: int | None = None    # stop after this many optimizer steps (smoke runs)
    precise_bn: bool = True         # re-estimate BatchNorm stats before each evaluation
    precise_bn_batches: int = 16    # … on this many training batches
    # machine
    device: str = "auto"
    amp: bool = True                # CUDA only: bf16 where supported, else fp16 + GradScaler
    channels_last: bool = True      # CUDA only
    # output
    out_dir: str | None = None      # where last.pt / best.pt go; None: no checkpoints

    def problems(self) -> list[str]:
        """Every value that cannot work, in words; empty when the config is usable."""
        p = []
        if self.epochs < 1:
            p.append(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 1:
            p.append(f"batch size must be at least 1, not {self.batch_size}")
        if not (self.lr > 0 and self.lr < float("inf")):
            p.append(f"the learning rate must be a positive number, not {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            p.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            p.append(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.device not in DEVICES:
            p.append(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if not 0 < self.val_fraction < 1:
            p.append(f"the validation fraction must be between 0 and 1, not {self.val_fraction}")
        if self.weight_decay < 0:
            p.append("weight decay cannot be negative")
        if not 0 <= self.label_smoothing < 1:
            p.append("label smoothing must be in [0, 1)")
        if self.step_size < 1:
            p.append("the step schedule's step size must be at least 1 epoch")
        if not 0 < self.warmup_fraction < 1:
            p.append("the one-cycle warm-up fraction must be between 0 and 1")
        if self.max_steps is not None and self.max_steps < 1:
            p.append("max steps must be at least 1")
        if self.precise_bn_batches < 1:
            p.append("precise-BN needs at least 1 batch")
        if self.crop_padding is not None and self.crop_padding < 0:
            p.append("crop padding cannot be negative")
        return p

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Known fields only (a checkpoint from a newer version may have more)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
