"""What one node computes: output shape, parameters, MACs, activation size.

The numbers come from `blocks.rules`, which runs the block's own nn.Module class on
shapes with closed-form rules per primitive layer (FlopCounterMode's conventions, MACs =
its FLOPs ÷ 2) — no torch import, microseconds per block. tests/test_rules.py proves them
equal to the real module measured on the meta device (`oracle.py`), so the editor cannot
disagree with the model. Results are cached by (type, params, input shapes): a graph
repeats the same block configuration a lot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks import get_spec
from blocks.rules import block_numbers
from blocks.spec import CheckError, Fix, Shape


@dataclass(frozen=True)
class NodeStats:
    output_shape: Shape | None
    params: int = 0
    trainable_params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    error: str | None = None
    fix: Fix | None = None


_CACHE: dict[tuple, NodeStats] = {}
_CACHE_SIZE = 65536


def freeze(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def node_stats(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats:
    """Shape, size and cost of one block for the given input shapes (cached)."""
    # The params' items as they come (a node's params are always in its spec's order, so
    # sorting them bought nothing but time); a list value is unhashable and takes the
    # slower frozen form.
    key = (type_id, tuple(params.items()), tuple(in_shapes))
    try:
        hit = _CACHE.get(key)
    except TypeError:
        key = (type_id, freeze(params), tuple(in_shapes))
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    stats = _measure(type_id, params, in_shapes)
    if len(_CACHE) >= _CACHE_SIZE:  # a dict keeps insertion order: drop the oldest
        del _CACHE[next(iter(_CACHE))]
    _CACHE[key] = stats
    return stats


def clear_cache() -> None:
    """Forget every measured block and composite instance, and every checked set of
    params (benchmarks start cold)."""
    from blocks.spec import clear_resolved

    from .composite import clear_instance_cache
    _CACHE.clear()
    clear_instance_cache()
    clear_resolved()


def checked(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats | None:
    """The block's own check() as a NodeStats error, or None when it accepts the inputs."""
    spec = get_spec(type_id)
    problem = spec.check(in_shapes, params) if spec.check is not None else None
    if isinstance(problem, CheckError):
        return NodeStats(None, error=problem.message, fix=problem.fix)
    if problem:
        return NodeStats(None, error=problem)
    return None


def _measure(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats:
    spec = get_spec(type_id)
    if spec.check is not None and spec.check(in_shapes, params):
        return checked(type_id, params, in_shapes)  # (again, for its message and fix)
    try:
        n = block_numbers(spec, in_shapes, params)
    except Exception as exc:  # noqa: BLE001 - what torch would say, when our checks did not foresee it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return NodeStats(None, error=f"{type_id}: cannot be built for input "
                                     f"{fmt_shapes(in_shapes)}: {reason}")
    return NodeStats(n.output_shape, n.params, n.trainable_params, n.macs,
                     n.activation_bytes)


def fmt_shapes(shapes: list[Shape]) -> str:
    return ", ".join(fmt_shape(s) for s in shapes)


def fmt_shape(shape: Shape | None) -> str:
    return "?" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"
