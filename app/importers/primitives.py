"""torch primitives → catalogue nodes: one table for nn modules, one for functions/methods.

Each entry turns one call seen in a traced forward into a catalogue node (or passes its input
through, for no-ops like Identity or Dropout(0)). Options the catalogue cannot express are
refused here with the module path and what is supported, never approximated: an import is
exact or it does not happen. The tables grow with the catalogue (`fits` asks the catalogue
whether a parameter value is expressible, so a new option is used as soon as it exists).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import REGISTRY

from .fragment import Node, refuse

SUPPORTED = ("supported: Conv2d, BatchNorm1d/2d, Layer/Group/InstanceNorm, Linear, "
             "ReLU/ReLU6/LeakyReLU/GELU/SiLU/Sigmoid/Tanh/Hardswish/Hardsigmoid, Max/AvgPool2d, "
             "AdaptiveAvg/MaxPool2d to 1×1, ZeroPad2d, Upsample, Flatten/view to flat, "
             "Dropout, Identity, + of two tensors, torch.cat on channels, and modules built "
             "of these")

ACTIVATION_MODULES = {nn.ReLU: "relu", nn.GELU: "gelu", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
                      nn.Tanh: "tanh", nn.LeakyReLU: "leaky_relu", nn.ReLU6: "relu6",
                      nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid"}
ACTIVATION_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.gelu: "gelu", F.silu: "silu",
                        torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh",
                        F.tanh: "tanh", F.leaky_relu: "leaky_relu", F.relu6: "relu6",
                        F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
                        torch.relu_: "relu"}
ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}


def fits(type_id: str, name: str, value: Any) -> tuple[bool, Any]:
    """(True, normalised value) when the catalogue's `type_id` takes `value` for `name`."""
    spec = REGISTRY.get(type_id)
    p = spec.param_map.get(name) if spec else None
    if p is None:
        return False, None
    v, err = p.check(value)
    return err is None, v


def pshape(value) -> tuple[int, ...]:
    """The project's per-sample shape of an example tensor (a squeezed pool's is [C])."""
    return tuple(value.shape[1:])


def _one_or_pair(v) -> Any:
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    return v[0] if v[0] == v[1] else [v[0], v[1]]


def need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise refuse(where, what, "the catalogue has no such option yet")


# --- nn modules -----------------------------------------------------------------------------

def conv2d(m: nn.Conv2d, where, ins, out) -> Node:
    if m.padding_mode != "zeros":
        raise refuse(where, f"Conv2d padding_mode {m.padding_mode!r}", "only zero padding")
    p = {"filters": m.out_channels, "kernel_size": _one_or_pair(m.kernel_size),
         "dilation": m.dilation[0], "groups": m.groups, "activation": "none",
         "batch_norm": False}
    if m.dilation[0] != m.dilation[1]:
        need(False, where, f"Conv2d dilation {tuple(m.dilation)}")
    ok, p["stride"] = fits("Conv2d", "stride", _one_or_pair(m.stride))
    need(ok, where, f"Conv2d stride {tuple(m.stride)}")
    p["padding"] = conv_padding(m, where)
    w = {"conv.weight": m.weight}
    if m.bias is not None:
        w["conv.bias"] = m.bias
    return Node("Conv2d", p, ins, out, weights=w, where=where,
                extra={"bias": m.bias is not None})


def conv_padding(m: nn.Conv2d, where: str):
    pad = m.padding
    if pad == "valid":
        return 0
    kh, kw = m.kernel_size
    same = (m.dilation[0] * (kh - 1) // 2, m.dilation[1] * (kw - 1) // 2)
    if pad == "same":
        if kh % 2 and kw % 2:
            return "same"
        pad = None
    elif pad[0] == pad[1]:
        ok, v = fits("Conv2d", "padding", pad[0])
        if ok:
            return v
    elif tuple(pad) == same and kh % 2 and kw % 2:
        return "same"
    else:
        ok, v = fits("Conv2d", "padding", list(pad))
        if ok:
            return v
    raise refuse(where, f"Conv2d padding {m.padding!r} with kernel {tuple(m.kernel_size)}",
                 "padding must be symmetric, or 'same' for odd kernels")


def batchnorm(m, where, ins, out) -> Node:
    if not (m.affine and m.track_running_stats):
        raise refuse(where, "BatchNorm without affine weights or running statistics",
                     "only the default BatchNorm (affine, tracked statistics)")
    w = {f"bn.{k}": v for k, v in m.state_dict(keep_vars=True).items()}
    return Node("BatchNorm", {}, ins, out, weights=w, where=where,
                extra={"eps": m.eps, "momentum": m.momentum})


def activation(name: str, where: str, ins, out, slope: float | None = None) -> Node:
    if slope is not None and slope != 0.01:
        raise refuse(where, f"LeakyReLU with negative_slope {slope}", "only the default 0.01")
    ok, _ = fits("Activation", "function", name)
    need(ok, where, f"activation {name}")
    return Node("Activation", {"function": name}, ins, out, where=where)


def pool(kind: str, where, ins, out, kernel, stride, padding, dilation=1, ceil_mode=False,
         count_include_pad=True, divisor_override=None) -> Node:
    type_id = "MaxPool2d" if kind == "max" else "AvgPool2d"
    if dilation not in (1, (1, 1)) or divisor_override is not None:
        raise refuse(where, f"{type_id} with dilation or divisor_override",
                     "plain pooling windows only")
    p: dict[str, Any] = {"pool_size": _one_or_pair(kernel)}
    if ceil_mode and kind == "max" and _ceil_changes_nothing(ins[0].value, out, kernel, stride,
                                                             padding):
        ceil_mode = False  # the same map either way; keeps the plain default
    stride = kernel if stride in (None, [], ()) else stride
    ok, p["stride"] = fits(type_id, "stride", _one_or_pair(stride))
    need(ok, where, f"{type_id} stride {stride}")
    ok, p["padding"] = fits(type_id, "padding", _one_or_pair(padding))
    need(ok, where, f"{type_id} padding {padding}")
    if ceil_mode:
        ok, p["ceil_mode"] = fits(type_id, "ceil_mode", True)
        need(ok, where, f"{type_id} ceil_mode=True")
    if kind == "avg" and not count_include_pad:
        ok, p["count_include_pad"] = fits(type_id, "count_include_pad", False)
        need(ok, where, "AvgPool2d count_include_pad=False")
    return Node(type_id, p, ins, out, where=where)


def _ceil_changes_nothing(x, out, kernel, stride, padding) -> bool:
    """False always: ceil_mode is kept as the source says (an exact copy at every input
    size), this hook only documents that the choice was considered."""
    return False


def adaptive(kind: str, where, ins, out, size) -> Node | Any:
    x = ins[0].value
    size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(size))
    if size == (1, 1):
        return Node("GlobalAvgPool" if kind == "avg" else "GlobalMaxPool", {}, ins, out,
                    squeezed=True, where=where)
    if kind == "avg":  # VGG's head: the same at any input size
        ok, v = fits("AdaptiveAvgPool2d", "output_size", _one_or_pair(size))
        if ok:
            return Node("AdaptiveAvgPool2d", {"output_size": v}, ins, out, where=where)
    raise refuse(where, f"adaptive {kind} pooling to {size}",
                 "adaptive average pooling to any size, adaptive max pooling to 1×1 (global)")


def linear(m: nn.Linear, where, ins, out) -> Node:
    if m.bias is None:
        raise refuse(where, "Linear without bias", "Linear layers with a bias")
    if ins[0].value.dim() != 2:
        raise refuse(where, f"Linear on a {ins[0].value.dim()}-D tensor",
                     "Linear on a flat [N, F] input (flatten first)")
    return Node("Linear", {"units": m.out_features, "activation": "none"}, ins, out,
                weights={"linear.weight": m.weight, "linear.bias": m.bias}, where=where)


def dropout(p: float, where, ins, out) -> Node | Any:
    if p == 0:
        return ins[0]
    ok, v = fits("Dropout", "rate", float(p))
    need(ok, where, f"Dropout rate {p}")
    return Node("Dropout", {"rate": v}, ins, out, where=where)


def flatten(where, ins, out) -> Node | Any:
    src = ins[0]
    if isinstance(src, Node) and src.squeezed or src.value.dim() == 2:
        return src  # already [C] in the project
    if out.dim() != 2 or out.shape[0] != src.value.shape[0]:
        raise refuse(where, f"reshape to {tuple(out.shape)}",
                     "flattening to [N, features] only")
    return Node("Flatten", {}, ins, out, where=where)


def _by_order(type_id: str, params: dict, m: nn.Module, where: str, ins, out) -> Node:
    """A layer whose weights the catalogue module holds in the same order as torch's."""
    from .recognise import try_block
    ok = all(fits(type_id, k, v)[0] for k, v in params.items())
    need(ok, where, f"{type_id} with {params}")
    src = list(m.state_dict(keep_vars=True).values())
    w = try_block(type_id, params, [pshape(i.value) for i in ins], src)
    if w is None:
        raise refuse(where, f"{type(m).__name__} as configured ({params})",
                     f"NetCanvas's {type_id} covers the usual settings only")
    return Node(type_id, params, ins, out, weights=w, where=where)


def zero_pad(m, where, ins, out) -> Node:
    left, right, top, bottom = m.padding
    pad = left if left == right == top == bottom else [left, right, top, bottom]
    ok, v = fits("ZeroPad2d", "padding", pad)
    need(ok, where, f"ZeroPad2d padding {m.padding}")
    return Node("ZeroPad2d", {"padding": v}, ins, out, where=where)


def upsample(where, ins, out, size, scale, mode, align_corners) -> Node:
    if mode not in ("nearest", "bilinear"):
        raise refuse(where, f"Upsample mode {mode!r}", "nearest or bilinear")
    p: dict[str, Any] = {"mode": mode, "align_corners": bool(align_corners)}
    if size is not None:
        p["size"] = _one_or_pair(size)
    else:
        scale = tuple(scale) if isinstance(scale, (tuple, list)) else (scale, scale)
        if scale[0] != scale[1]:
            need(False, where, f"Upsample scale {scale}")
        p["scale_factor"] = float(scale[0])
    for k, v in p.items():
        ok, p[k] = fits("Upsample", k, v)
        need(ok, where, f"Upsample {k}={v!r}")
    return Node("Upsample", p, ins, out, where=where)


def layer_norm(m: nn.LayerNorm, where, ins, out) -> Node:
    if tuple(m.normalized_shape) != tuple(pshape(ins[0].value)):
        raise refuse(where, f"LayerNorm over {tuple(m.normalized_shape)} of a "
                            f"{tuple(pshape(ins[0].value))} input",
                     "LayerNorm over the whole per-sample shape")
    if m.elementwise_affine and m.bias is None:
        raise refuse(where, "LayerNorm without bias")
    return _by_order("LayerNorm", {"affine": m.elementwise_affine, "eps": m.eps}, m, where,
                     ins, out)


def group_norm(m: nn.GroupNorm, where, ins, out) -> Node:
    return _by_order("GroupNorm", {"groups": m.num_groups, "affine": m.affine, "eps": m.eps},
                     m, where, ins, out)


def instance_norm(m: nn.InstanceNorm2d, where, ins, out) -> Node:
    if m.track_running_stats:
        raise refuse(where, "InstanceNorm2d with running statistics",
                     "InstanceNorm2d as torch makes it by default")
    return _by_order("InstanceNorm", {"affine": m.affine, "eps": m.eps}, m, where, ins, out)


MODULES: dict[type, Callable] = {
    nn.ZeroPad2d: zero_pad,
    nn.Upsample: lambda m, w, i, o: upsample(w, i, o, m.size, m.scale_factor, m.mode,
                                             m.align_corners),
    nn.LayerNorm: layer_norm,
    nn.GroupNorm: group_norm,
    nn.InstanceNorm2d: instance_norm,
    nn.Conv2d: conv2d,
    nn.BatchNorm2d: batchnorm,
    nn.BatchNorm1d: batchnorm,
    nn.Linear: linear,
    nn.MaxPool2d: lambda m, w, i, o: pool("max", w, i, o, m.kernel_size, m.stride, m.padding,
                                          m.dilation, m.ceil_mode),
    nn.AvgPool2d: lambda m, w, i, o: pool("avg", w, i, o, m.kernel_size, m.stride, m.padding,
                                          1, m.ceil_mode, m.count_include_pad,
                                          m.divisor_override),
    nn.AdaptiveAvgPool2d: lambda m, w, i, o: adaptive("avg", w, i, o, m.output_size),
    nn.AdaptiveMaxPool2d: lambda m, w, i, o: adaptive("max", w, i, o, m.output_size),
    nn.Flatten: lambda m, w, i, o: flatten(w, i, o),
    nn.Dropout: lambda m, w, i, o: dropout(m.p, w, i, o),
    nn.Identity: lambda m, w, i, o: i[0],
    nn.LeakyReLU: lambda m, w, i, o: activation("leaky_relu", w, i, o, m.negative_slope),
    nn.GELU: lambda m, w, i, o: activation("gelu", w, i, o) if m.approximate == "none"
    else activation("gelu_tanh", w, i, o),
    nn.Softmax: lambda m, w, i, o: activation("softmax", w, i, o) if m.dim in (1, -3)
    and i[0].value.dim() == 4 or m.dim in (1, -1) and i[0].value.dim() == 2
    else activation(f"softmax over dim {m.dim}", w, i, o),
}
for _cls, _name in ACTIVATION_MODULES.items():
    MODULES.setdefault(_cls, lambda m, w, i, o, _n=_name: activation(_n, w, i, o))


def is_nn_builtin(m: nn.Module) -> bool:
    """A torch.nn class (not a container): its forward is a primitive, never traced."""
    return type(m).__module__.startswith("torch.nn.modules") and not isinstance(
        m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))


def function_name(target) -> str:
    if isinstance(target, str):
        return f"tensor method .{target}()"
    mod = getattr(target, "__module__", "") or ""
    return f"{mod + '.' if mod else ''}{getattr(target, '__name__', repr(target))}"
