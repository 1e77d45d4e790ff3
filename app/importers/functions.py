"""torch functions and tensor methods → catalogue nodes (the modules' table is primitives.py).

Each entry gets the traced call's arguments (nodes for tensors, plain values otherwise) and
the example output, and returns a node, an input passed through, or a refusal.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from blocks import REGISTRY

from .fragment import Node, Port, refuse
from .primitives import (
    ACTIVATION_FUNCTIONS,
    ACTIVATION_METHODS,
    activation,
    adaptive,
    dropout,
    flatten,
    pool,
    upsample,
)
from .primitives import need as _need

# --- functions and methods -------------------------------------------------------------------

def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _tensors(*vals) -> bool:
    return all(isinstance(v, (Node, Port)) for v in vals)


def add(where, args, kwargs, out):
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if not _tensors(a, b) or kwargs.get("alpha", 1) != 1 or a.value.shape != b.value.shape:
        raise refuse(where, "addition of a constant or of tensors of different shapes",
                     "element-wise + of two tensors of the same shape")
    return Node("Add", {}, [a, b], out, where=where)


def mul(where, args, kwargs, out):
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if not _tensors(a, b):
        raise refuse(where, "multiplication by a constant",
                     "element-wise × of two tensors (a channel gate)")
    _need("Multiply" in REGISTRY, where, "element-wise multiplication")
    return Node("Multiply", {}, [a, b], out, where=where)


def cat(where, args, kwargs, out):
    xs = _arg(args, kwargs, 0, "tensors")
    dim = _arg(args, kwargs, 1, "dim", 0)
    if not isinstance(xs, (list, tuple)) or not _tensors(*xs):
        raise refuse(where, "torch.cat of something that is not a list of tensors")
    rank = out.dim()
    if dim % rank != 1 or any(isinstance(x, Node) and x.squeezed for x in xs):
        raise refuse(where, f"torch.cat on dim {dim}", "concatenation on the channel axis (dim 1)")
    return Node("Concat", {}, list(xs), out, where=where)


def mean(where, args, kwargs, out):
    dims = _arg(args, kwargs, 1, "dim")
    keep = _arg(args, kwargs, 2, "keepdim", False)
    x = args[0]
    if x.value.dim() == 4 and dims is not None and \
            sorted(d % 4 for d in (dims if isinstance(dims, (list, tuple)) else [dims])) == [2, 3]:
        return Node("GlobalAvgPool", {}, [x], out, squeezed=bool(keep), where=where)
    raise refuse(where, f"mean over {dims}", "the mean over H and W (global average pool)")


def _pool_fn(kind):
    def make(where, args, kwargs, out):
        names = (["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
                 if kind == "max" else
                 ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                  "divisor_override"])
        defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                    "return_indices": False, "count_include_pad": True,
                    "divisor_override": None}
        v = {n: _arg(args, kwargs, i + 1, n, defaults.get(n)) for i, n in enumerate(names)}
        if v.get("return_indices"):
            raise refuse(where, "max pooling that returns indices")
        extra = ({"dilation": v["dilation"]} if kind == "max" else
                 {"count_include_pad": v["count_include_pad"],
                  "divisor_override": v["divisor_override"]})
        return pool(kind, where, [args[0]], out, v["kernel_size"], v["stride"], v["padding"],
                    ceil_mode=v["ceil_mode"], **extra)
    return make


def _activation_fn(name):
    def make(where, args, kwargs, out):
        slope = _arg(args, kwargs, 1, "negative_slope", 0.01) if name == "leaky_relu" else None
        if name == "gelu" and kwargs.get("approximate", "none") != "none":
            return activation("gelu_tanh", where, [args[0]], out)
        return activation(name, where, [args[0]], out, slope)
    return make


def _reshape(where, args, kwargs, out):
    return flatten(where, [args[0]], out)


def _flatten_fn(where, args, kwargs, out):
    start = _arg(args, kwargs, 1, "start_dim", 0)
    end = _arg(args, kwargs, 2, "end_dim", -1)
    if start != 1 or end != -1:
        raise refuse(where, f"flatten from dim {start} to {end}", "torch.flatten(x, 1)")
    return flatten(where, [args[0]], out)


def _adaptive_fn(kind):
    return lambda where, args, kwargs, out: adaptive(
        kind, where, [args[0]], out, _arg(args, kwargs, 1, "output_size"))


def _dropout_fn(where, args, kwargs, out):
    return dropout(_arg(args, kwargs, 1, "p", 0.5), where, [args[0]], out)


def _interpolate(where, args, kwargs, out):
    names = ["size", "scale_factor", "mode", "align_corners"]
    defaults = {"mode": "nearest"}
    v = {n: _arg(args, kwargs, i + 1, n, defaults.get(n)) for i, n in enumerate(names)}
    if kwargs.get("antialias") or kwargs.get("recompute_scale_factor"):
        raise refuse(where, "interpolate with antialias or recomputed scale factors")
    return upsample(where, [args[0]], out, v["size"], v["scale_factor"], v["mode"],
                    v["align_corners"])


FUNCTIONS: dict[Any, Callable] = {
    operator.add: add, operator.iadd: add, torch.add: add,
    operator.mul: mul, operator.imul: mul, torch.mul: mul,
    torch.cat: cat, torch.concat: cat, torch.concatenate: cat,
    torch.flatten: _flatten_fn, torch.mean: mean,
    F.adaptive_avg_pool2d: _adaptive_fn("avg"), F.adaptive_max_pool2d: _adaptive_fn("max"),
    F.avg_pool2d: _pool_fn("avg"), F.max_pool2d: _pool_fn("max"),
    F.dropout: _dropout_fn,
    F.interpolate: _interpolate,
}
for _fn, _name in ACTIVATION_FUNCTIONS.items():
    FUNCTIONS[_fn] = _activation_fn(_name)

METHODS: dict[str, Callable] = {
    "add": add, "add_": add, "mul": mul, "mul_": mul, "flatten": _flatten_fn, "view": _reshape, "reshape": _reshape,
    "mean": mean, "contiguous": lambda where, args, kwargs, out: args[0],
}
for _m, _name in ACTIVATION_METHODS.items():
    METHODS[_m] = _activation_fn(_name)

# Python-valued steps (sizes, shapes) that only feed reshapes: evaluated, not drawn.
VALUE_FUNCTIONS = {getattr, operator.getitem, len, operator.floordiv, operator.mul}
VALUE_METHODS = {"size", "dim"}


