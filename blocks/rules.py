"""A block's numbers without torch: its own nn.Module class, run on shapes.

The block classes (blocks/common.py, layers.py, resnet.py, …) are the one description of
what is inside each block. Here their compiled code is executed a second time, in a
namespace where `import torch` and `import torch.nn as nn` give `blocks.symbolic` — shapes
and closed-form rules instead of tensors — so constructing and calling a class yields the output shape, the parameter
count and the MACs the real module has, in microseconds and with no torch imported.
The same source, unchanged, is what `spec.build` imports and what the Python exporter
copies, so the numbers, the model and the exported file cannot drift apart.
"""
from __future__ import annotations

import builtins
import importlib.machinery
import math
from pathlib import Path
from typing import Any

from . import symbolic
from .catalogue import SPECS
from .spec import BlockSpec, Shape

# The block modules: the shared helpers first (classes elsewhere subclass ConvBNAct), then
# every module a spec names, so that a new family of blocks is picked up by itself.
SOURCES = tuple(dict.fromkeys(["common"] + [s.module_path.partition(":")[0] for s in SPECS
                                            if s.module_path]))

BYTES_PER_VALUE = 4  # activations are reported as float32

_NAMESPACE: dict[str, Any] = {}


class _Siblings:
    """`from .common import ConvBNAct` inside the symbolic namespace: every block module's
    names already live there."""

    def __init__(self, ns: dict[str, Any]):
        self._ns = ns

    def __getattr__(self, name: str):
        try:
            return self._ns[name]
        except KeyError:
            raise AttributeError(name) from None


def namespace() -> dict[str, Any]:
    """The block classes and helpers, defined over blocks.symbolic (built once)."""
    if not _NAMESPACE:
        ns: dict[str, Any] = {"__name__": "blocks.symbolic_blocks"}
        siblings = _Siblings(ns)

        def imports(name, globals=None, locals=None, fromlist=(), level=0):
            # torch and torch.nn are the symbolic ones; a sibling module is this namespace
            if level == 0 and name.partition(".")[0] == "torch":
                return symbolic.torch
            if level == 1:
                return siblings
            return builtins.__import__(name, globals, locals, fromlist, level)

        ns["__builtins__"] = dict(vars(builtins), __import__=imports)
        here = Path(__file__).parent
        for name in SOURCES:
            # the module's own compiled code, from the same __pycache__ the import uses
            loader = importlib.machinery.SourceFileLoader(f"{__package__}.{name}",
                                                          str(here / f"{name}.py"))
            exec(loader.get_code(loader.name), ns)  # noqa: S102 - our own block modules
        _NAMESPACE.update(ns)
    return _NAMESPACE


class Numbers:
    """What one block computes for one input: shape, parameters, MACs."""
    __slots__ = ("output_shape", "params", "trainable_params", "macs")

    def __init__(self, output_shape: Shape, params: int, macs: int):
        self.output_shape = output_shape
        self.params = params
        self.trainable_params = params  # no block freezes a parameter
        self.macs = macs

    @property
    def activation_bytes(self) -> int:
        return math.prod(self.output_shape) * BYTES_PER_VALUE


def block_numbers(spec: BlockSpec, in_shapes: list[Shape], params: dict[str, Any]) -> Numbers:
    """Numbers of one built-in block; raises (like building it in torch would) when the
    module refuses these inputs. Call spec.check first for a friendlier message."""
    cls = _CLASSES.get(spec.type_id)
    if cls is None:
        cls = _CLASSES[spec.type_id] = namespace()[spec.module_name]
    local = symbolic._local  # symbolic.counting(), without a context manager's cost
    saved = getattr(local, "tally", None)
    t = local.tally = symbolic.Tally()
    try:
        module = cls(**spec.module_args(in_shapes, params))
        if len(in_shapes) == 1:
            out = module(symbolic.Tensor((1, *in_shapes[0])))
        else:
            out = module(*[symbolic.Tensor((1, *s)) for s in in_shapes])
    finally:
        local.tally = saved
    return Numbers(out.shape[1:], t.params, t.macs)


_CLASSES: dict[str, type] = {}  # type id → its class over blocks.symbolic
