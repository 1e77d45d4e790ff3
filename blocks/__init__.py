"""The NetCanvas block catalogue: every block type, its params, and the module it builds.

The rest of the app reads only REGISTRY / CATEGORIES / get_spec. Importing the catalogue
imports no torch: specs, checks and the numbers (`blocks.rules`) are torch-free, and the
nn.Module classes are imported only to build or export (`spec.module`, `SUPPORT`).
"""
from __future__ import annotations

from .catalogue import CATEGORIES, SPECS
from .spec import BlockSpec, CheckError, Fix, Param

REGISTRY: dict[str, BlockSpec] = {s.type_id: s for s in SPECS}


def __getattr__(name: str):
    # Module-level helpers the block classes use; an exporter copies their source (in this
    # order) ahead of the classes. Classes may also use each other (ConvLayer < ConvBNAct).
    # Looked up lazily because they are torch code.
    if name == "SUPPORT":
        from .common import ConvBNAct, conv_padding, make_activation, pool_padding
        from .resnet import resnet_shortcut
        return (make_activation, conv_padding, pool_padding, ConvBNAct, resnet_shortcut)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_spec(type_id: str) -> BlockSpec:
    try:
        return REGISTRY[type_id]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise KeyError(f"unknown block type {type_id!r} (known types: {known})") from None


__all__ = ["REGISTRY", "CATEGORIES", "SUPPORT", "get_spec", "BlockSpec", "CheckError", "Fix",
           "Param"]
