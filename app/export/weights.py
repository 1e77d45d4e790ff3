"""Trained weights as safetensors: saved from a model, loaded into a graph's model.

Loading checks every name and shape against the graph's compiled model first and says
everything that does not fit (missing, unexpected, wrong shape with both shapes), naming
the node each tensor belongs to.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..graph import NetGraph
from ..project import atomic_write
from .errors import ExportError, compiled, output_path


class WeightsError(ExportError):
    """Weights that do not fit the model; `missing`, `unexpected` and `mismatched`
    ((name, file shape, model shape)) say exactly what."""

    def __init__(self, message: str, missing: list[str] = (), unexpected: list[str] = (),
                 mismatched: list[tuple[str, tuple, tuple]] = ()):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


def save_weights(model: nn.Module | NetGraph, path: str | os.PathLike,
                 metadata: dict[str, str] | None = None) -> Path:
    """Write the model's state_dict (a NetGraph: a freshly initialised model) to `path`."""
    from safetensors.torch import save
    name = None
    if isinstance(model, NetGraph):
        name = model.name
        model = compiled(model)
    p = output_path(path)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "producer": "NetCanvas"}
    if name is not None:
        meta["project"] = str(name)
    meta.update(metadata or {})
    try:  # safetensors writes by path: let it write the temporary file's bytes
        atomic_write(p, lambda f: f.write(save(state, metadata=meta)))
    except OSError as exc:
        raise ExportError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file (raises WeightsError when it is not one)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file")
    try:
        return load_file(str(p))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{p} is not a safetensors weights file ({exc})") from None


def check_weights(model: nn.Module, tensors: dict[str, torch.Tensor], where: str = "the file",
                  graph: NetGraph | None = None, model_name: str = "the model") -> None:
    """Raise WeightsError saying every tensor that does not fit `model`."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    mismatched = [(k, tuple(tensors[k].shape), tuple(v.shape)) for k, v in expected.items()
                  if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)]
    if not (missing or unexpected or mismatched):
        return
    owner = _owners(model, graph)
    lines = [f"the weights in {where} do not fit {model_name}:"]
    if missing:
        lines.append(f"  missing ({len(missing)}, in the model but not in the file):")
        lines += [f"    {k} {_fmt(expected[k].shape)}{owner(k)}" for k in missing]
    if unexpected:
        lines.append(f"  unexpected ({len(unexpected)}, in the file but not in the model):")
        lines += [f"    {k} {_fmt(tensors[k].shape)}" for k in unexpected]
    if mismatched:
        lines.append(f"  wrong shape ({len(mismatched)}):")
        lines += [f"    {k}: file {_fmt(f)}, model {_fmt(m)}{owner(k)}"
                  for k, f, m in mismatched]
    raise WeightsError("\n".join(lines), missing, unexpected, mismatched)


def load_weights(graph_or_model: NetGraph | nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a safetensors file into the graph's compiled model (or into `model`) after
    checking every name and shape; returns the model."""
    graph = graph_or_model if isinstance(graph_or_model, NetGraph) else None
    model = compiled(graph) if graph is not None else graph_or_model
    tensors = read_weights(path)
    name = f"the graph {graph.name!r}" if graph is not None else "the model"
    check_weights(model, tensors, str(path), graph, name)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise WeightsError(f"cannot load {path}: {exc}") from None
    return model


def _owners(model: nn.Module, graph: NetGraph | None):
    """name → " (node n5, Conv2d 'res_conv1')" for a state_dict key, when it is known."""
    by_attr = {}
    if graph is not None:
        for node, attr in getattr(model, "node_names", {}).items():
            d = graph.node(node) if node in graph.g else None
            if d is not None:
                label = f" {d['label']!r}" if d["label"] else ""
                by_attr[attr] = f" (node {node}, {d['type']}{label})"

    def owner(key: str) -> str:
        return by_attr.get(key.split(".", 1)[0], "")
    return owner


def _fmt(shape) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"
