"""Whole modules that are one catalogue block, checked by construction (see recognise.py).

A proposer reads a module's structure (its conv weights, strides, BatchNorms, activations)
and proposes the block's parameters; the candidate must take the module's tensors in
registration order and compute what the module computes on random weights and a random
input. The table grows with the catalogue.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from blocks import REGISTRY, get_spec

from .fragment import Node
from .primitives import pshape
from .recognise import try_block

PROBE_SIZE = 12  # H and W of the random input a candidate block is checked on (the whole
# network is checked on the full input afterwards; this only decides the recognition)


def probe(m: nn.Module, x: torch.Tensor) -> tuple | None:
    """(tensors in registration order, inputs, output) of a copy of m with random weights
    and BatchNorm statistics, on a random input the size of a small crop of x (or of x when
    m needs more). Random rather than the real weights and activations: a branch whose real
    activations happen to be nearly zero (dead ReLUs, a fresh initialisation) would make
    a different block look equal."""
    gen = torch.Generator().manual_seed(1234)
    twin = copy.deepcopy(m).eval()
    with torch.no_grad():
        for sub in twin.modules():
            sub._forward_hooks.clear()
        for name, t in twin.state_dict().items():
            if not t.is_floating_point():
                continue
            if "running_var" in name:
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.dim() >= 2:
                t.copy_(torch.randn(t.shape, generator=gen) / (t[0].numel() ** 0.5))
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5 + ("weight" in name))
    src = list(twin.state_dict().values())
    crop = list(x.shape[:2]) + [min(PROBE_SIZE, d) for d in x.shape[2:]]
    for shape in (crop, list(x.shape)):
        inp = torch.randn(shape, generator=gen)
        try:
            with torch.no_grad():
                return src, (inp,), twin(inp)
        except Exception:  # noqa: BLE001, S112 - too small for it: try the real size
            continue
    return None


# --- whole modules that are one catalogue block ----------------------------------------------

def _convs(m: nn.Module) -> list[torch.Tensor]:
    return [p for p in m.parameters() if p.dim() == 4]


def _has_bn(m: nn.Module) -> bool:
    return any(isinstance(c, nn.modules.batchnorm._BatchNorm) for c in m.modules())


def _stride(m: nn.Module) -> int:
    """The block's stride as its convs say (not from the shapes: at a 1×1 input a stride-2
    block gives the same shape as a stride-1 one, and only the first is right elsewhere)."""
    return max((c.stride[0] for c in m.modules() if isinstance(c, nn.Conv2d)), default=1)


def _residual(m, x, y):
    return [{"filters": y.shape[1], "stride": _stride(m), "batch_norm": _has_bn(m)}]


def _bottleneck(m, x, y):
    c = _convs(m)
    if not c or y.shape[1] % c[0].shape[0]:
        return []
    return [{"filters": c[0].shape[0], "stride": _stride(m),
             "expansion": y.shape[1] // c[0].shape[0], "batch_norm": _has_bn(m)}]


def _dense(m, x, y):
    c = _convs(m)
    layers = len([w for w in c if w.shape[-1] == 3])
    if not layers or (y.shape[1] - x.shape[1]) % layers:
        return []
    growth = (y.shape[1] - x.shape[1]) // layers
    drops = {float(getattr(c, "drop_rate", getattr(c, "p", 0.0)) or 0.0)
             for c in m.modules() if hasattr(c, "drop_rate") or isinstance(c, nn.Dropout)}
    bn_size = c[0].shape[0] // growth if c and growth and c[0].shape[0] % growth == 0 else 4
    return [{"growth_rate": growth, "layers": layers, "bn_size": bn_size,
             "drop_rate": max(drops, default=0.0)}]


def _inception(m, x, y):
    c = _convs(m)
    if len(c) != 6:
        return []
    f1, r3, f3, r5, f5, pp = (w.shape[0] for w in c)
    return [{"f1": f1, "f3_reduce": r3, "f3": f3, "f5_reduce": r5, "f5": f5, "pool_proj": pp,
             "batch_norm": _has_bn(m)}]


def _fire(m, x, y):
    c = _convs(m)
    if len(c) != 3:
        return []
    return [{"s1x1": c[0].shape[0], "e1x1": c[1].shape[0], "e3x3": c[2].shape[0]}]


_ACTIVATION_NAMES = {nn.ReLU6: "relu6", nn.SiLU: "silu", nn.ReLU: "relu",
                     nn.Hardswish: "hardswish", nn.GELU: "gelu"}


def _inverted_residual(m, x, y):
    depthwise = [w for w in _convs(m) if w.shape[1] == 1 and w.shape[-1] > 1]
    if len(depthwise) != 1:
        return []
    hidden, k = depthwise[0].shape[0], depthwise[0].shape[-1]
    acts = [_ACTIVATION_NAMES[type(c)] for c in m.modules() if type(c) in _ACTIVATION_NAMES]
    # EfficientNet's MBConv: a squeeze-excitation (two 1×1 convs with biases on the pooled
    # map) and stochastic depth (torchvision.ops.StochasticDepth, its rate `p`)
    se = [p for p in m.parameters() if p.dim() == 4 and p.shape[-2:] == (1, 1)
          and p.shape[0] != y.shape[1] and p.shape[1] == hidden]
    se_ratio = se[0].shape[0] / x.shape[1] if se else 0.0
    drop = max((float(getattr(c, "p", 0.0)) for c in m.modules()
                if type(c).__name__ == "StochasticDepth"), default=0.0)
    return [{"filters": y.shape[1], "expand_ratio": hidden / x.shape[1],
             "stride": _stride(m), "kernel_size": k, "activation": a, "se_ratio": se_ratio,
             "drop_path": drop}
            for a in dict.fromkeys(acts or ["relu6"])]


def _squeeze_excite(m, x, y):
    w = [p for p in m.parameters() if p.dim() in (2, 4)]
    if len(w) != 2 or (w[0].dim() == 4 and w[0].shape[-2:] != (1, 1)):
        return []
    kinds = [type(c) for c in m.modules()]
    acts = [_ACTIVATION_NAMES[k] for k in kinds if k in _ACTIVATION_NAMES] or ["relu"]
    gate = "hardsigmoid" if nn.Hardsigmoid in kinds else "sigmoid"
    return [{"reduction": max(1, x.shape[1] // w[0].shape[0]),
             "squeeze_channels": w[0].shape[0],
             "bias": any(p.dim() == 1 for p in m.parameters()), "activation": acts[0],
             "gate": gate, "fc": "conv" if w[0].dim() == 4 else "linear"}]


def _transition(m, x, y):
    return [{"compression": y.shape[1] / x.shape[1]}]


BLOCKS: list[tuple[str, Callable[[nn.Module, Any, Any], list[dict]]]] = [
    ("Residual", _residual),
    ("Bottleneck", _bottleneck),
    ("DenseBlock", _dense),
    ("DenseTransition", _transition),
    ("Inception", _inception),
    ("Fire", _fire),
    ("InvertedResidual", _inverted_residual),
    ("SqueezeExcite", _squeeze_excite),
]


def _module_bn(m: nn.Module, type_id: str) -> dict:
    """eps and momentum of m's first BatchNorm, for a block that takes them."""
    bn = next((c for c in m.modules() if isinstance(c, nn.modules.batchnorm._BatchNorm)), None)
    spec = REGISTRY[type_id]
    if bn is None or "eps" not in spec.param_map:
        return {}
    return {"eps": bn.eps, "momentum": 0.1 if bn.momentum is None else bn.momentum}


def match_module(m: nn.Module, ins: list, y) -> Node | None:
    """The catalogue block `m` is, checked by construction; None when there is none."""
    if len(ins) != 1 or not isinstance(y, torch.Tensor) or ins[0].value.dim() != 4 \
            or y.dim() != 4:
        return None
    x = ins[0].value
    n_params = sum(p.numel() for p in m.parameters())
    src = list(m.state_dict(keep_vars=True).values())
    checked = None
    for type_id, propose in BLOCKS:
        if type_id not in REGISTRY:
            continue
        for params in propose(m, x, y):
            params = {**_module_bn(m, type_id), **params}
            shapes = [pshape(x)]
            if try_block(type_id, params, shapes, src, None, n_params) is None:
                continue
            checked = checked or probe(m, x)
            if checked is None or try_block(type_id, params, shapes, checked[0],
                                            checked[1:]) is None:
                continue
            w = try_block(type_id, params, shapes, src, None, n_params)
            if w is not None:
                return Node(type_id, get_spec(type_id).resolve(params)[0], list(ins), y,
                            weights=w)
    return None


