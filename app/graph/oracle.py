"""The meta-device measurement: the oracle the torch-free rules are tested against.

Builds a block with the real torch module on PyTorch's meta device (no memory, no
weights) and runs it under torch.utils.flop_counter.FlopCounterMode — code nobody here
wrote counts the MACs. The editor does not use it (it needs torch, ~2 s to import, and
FlopCounterMode pulls in sympy); tests/test_rules.py and benchmarks/bench_validation.py do.
"""
from __future__ import annotations

import math
from typing import Any

from blocks import get_spec
from blocks.rules import BYTES_PER_VALUE
from blocks.spec import Shape

from .analysis import NodeStats, checked, fmt_shapes


def meta_stats(type_id: str, params: dict[str, Any], in_shapes: list[Shape]) -> NodeStats:
    """Like analysis.node_stats, but measured by torch on the module the compiler builds."""
    problem = checked(type_id, params, in_shapes)
    if problem is not None:
        return problem
    try:
        shape, n_params, n_train, macs = meta_numbers(type_id, params, in_shapes)
    except Exception as exc:  # noqa: BLE001 - torch's own words, when our checks did not foresee it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return NodeStats(None, error=f"{type_id}: cannot be built for input "
                                     f"{fmt_shapes(in_shapes)}: {reason}")
    return NodeStats(shape, n_params, n_train, macs, math.prod(shape) * BYTES_PER_VALUE)


def meta_numbers(type_id: str, params: dict[str, Any], in_shapes: list[Shape]):
    """(output shape, params, trainable params, MACs) of the real module; raises as torch does."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    spec = get_spec(type_id)
    with torch.device("meta"):
        module = spec.build(in_shapes, params)
    module.eval()
    xs = [torch.empty((1, *s), device="meta") for s in in_shapes]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = module(*xs)
    shape = tuple(int(d) for d in out.shape[1:])
    n_params = sum(p.numel() for p in module.parameters())
    n_train = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return shape, n_params, n_train, counter.get_total_flops() // 2
