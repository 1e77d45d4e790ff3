"""What one node computes, measured on the very module the compiler builds.

Each node's block is built on the meta device (no memory, no init) and run on a meta
tensor under torch's FlopCounterMode, so shapes, parameter counts and MACs come from the
same code that trains — the editor can never disagree with the model. Results are cached
by (type, params, input shapes): a graph repeats the same block configuration a lot.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from blocks import get_spec
from blocks.spec import CheckError, Fix, Shape

BYTES_PER_VALUE = 4  # activations are reported as float32


@dataclass(frozen=True)
class NodeStats:
    output_shape: Shape | None
    params: int = 0
    trainable_params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    error: str | None = None
    fix: Fix | None = None


_CACHE: OrderedDict[tuple, NodeStats] = OrderedDict()
_CACHE_SIZE = 8192


def freeze(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def node_stats(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats:
    """Shape, size and cost of one block for the given input shapes (cached)."""
    key = (type_id, freeze(params), tuple(in_shapes))
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    stats = _measure(type_id, params, in_shapes)
    _CACHE[key] = stats
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return stats


def clear_cache() -> None:
    _CACHE.clear()


def _measure(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats:
    spec = get_spec(type_id)
    if spec.check is not None:
        problem = spec.check(in_shapes, params)
        if isinstance(problem, CheckError):
            return NodeStats(None, error=problem.message, fix=problem.fix)
        if problem:
            return NodeStats(None, error=problem)
    try:
        with torch.device("meta"):
            module = spec.build(in_shapes, params)
        module.eval()
        xs = [torch.empty((1, *s), device="meta") for s in in_shapes]
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            out = module(*xs)
    except Exception as exc:  # torch's own words, when our checks did not foresee it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return NodeStats(None, error=f"{type_id}: cannot be built for input "
                                     f"{_fmt(in_shapes)}: {reason}")
    shape = tuple(int(d) for d in out.shape[1:])
    n_params = sum(p.numel() for p in module.parameters())
    n_train = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return NodeStats(
        output_shape=shape,
        params=n_params,
        trainable_params=n_train,
        macs=counter.get_total_flops() // 2,
        activation_bytes=math.prod(shape) * BYTES_PER_VALUE,
    )


def _fmt(shapes: list[Shape]) -> str:
    return ", ".join(fmt_shape(s) for s in shapes)


def fmt_shape(shape: Shape | None) -> str:
    return "?" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"
