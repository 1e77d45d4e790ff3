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
    wrong = structure_problem(data)
    if wrong:
        raise CheckpointError(f"{path}: not a usable checkpoint: {wrong}")
    return data


def structure_problem(data: dict[str, Any]) -> str | None:
    """What in a checkpoint has the wrong type (a file is user input, even ours), or None:
    checked before resuming uses any of it."""
    from .config import TrainConfig

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    def tensors(v):
        return isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, torch.Tensor)
                                           for k, t in v.items())
    if not tensors(data.get("model")):
        return "\"model\" must map names to tensors"
    for key in ("epoch", "step"):
        if key in data and not (is_int(data[key]) and data[key] >= 0):
            return f"\"{key}\" must be a whole number ≥ 0"
    if not is_int(data.get("epoch")):
        return "\"epoch\" is missing"
    for key in ("optimizer", "scaler", "config"):
        if key in data and not isinstance(data[key], dict):
            return f"\"{key}\" must be a dictionary"
    classes = data.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return "\"classes\" must be a list of names"
    if not isinstance(data.get("history", []), list):
        return "\"history\" must be a list"
    norm = data.get("normalization")
    if norm is not None and not (isinstance(norm, dict) and all(
            isinstance(norm.get(k), list) and all(isinstance(x, float) for x in norm[k])
            for k in ("mean", "std"))):
        return "\"normalization\" must hold lists of numbers mean and std"
    rng = data.get("rng")
    if rng is not None and not (isinstance(rng, dict) and isinstance(rng.get("cpu"), torch.Tensor)
                                and rng["cpu"].dtype == torch.uint8):
        return "\"rng\" must hold the generator's state"
    defaults = TrainConfig().to_dict()
    for k, v in (data.get("config") or {}).items():
        d = defaults.get(k)
        if k in defaults and d is not None and v is not None and not (
                type(v) is type(d) or (isinstance(d, float) and is_int(v))):
            return f"the setting {k!r} must be of type {type(d).__name__}, not {v!r}"[:200]
    return None


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

