"""Checkpoints that `torch.load(path, weights_only=True)` reads: tensors and plain data only.

A checkpoint is a dict: format/version, epoch (completed epochs), step, the model's,
optimizer's and grad scaler's state dicts, the TrainConfig as a dict, the graph as the
project dict (so the file alone can rebuild the network), the class names, the
normalisation, the history of epoch metrics, the best validation accuracy so far and the
random generators' states. It is written to a temporary file and renamed over the old one,
so a crash or a cancel mid-write never leaves a broken `last.pt`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from app.project import atomic_write

FORMAT = "netcanvas-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The file is not a checkpoint this version can use; the message says why."""


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
    return atomic_write(path, lambda f: torch.save(data, f))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint safely (weights_only: no code is ever unpickled)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({_reason(exc)})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a NetCanvas training checkpoint")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {data.get('version')!r}; this "
                              f"NetCanvas reads version {VERSION}")
    return data


def _reason(exc: BaseException) -> str:
    """Why torch.load refused, without torch's advice to load with weights_only=False:
    that would run whatever code the file carries, which NetCanvas never does."""
    text = str(exc)
    if "weights_only" in text or "Unsupported global" in text or "pickle" in text.lower():
        return ("it holds Python objects besides tensors and plain data; NetCanvas only "
                "loads checkpoints it can read without running code from the file, so it "
                "will not open this one")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:200]

