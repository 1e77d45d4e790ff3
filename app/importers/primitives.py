"""torch primitives → catalogue nodes: one table for nn modules, one for functions/methods.

Each entry turns one call seen in a traced forward into a catalogue node (or passes its input
through, for no-ops like Identity or Dropout(0)). Options the catalogue cannot express are
refused here with the module path and what is supported, never approximated: an import is
exact or it does not happen. The tables grow with the catalogue (`fits` asks the catalogue
whether a parameter value is expressible, so a new option is used as soon as it exists).
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from blocks import REGISTRY

from .fragment import Node, Port, refuse

SUPPORTED = ("supported: Conv2d, BatchNorm1d/2d, Linear, ReLU/LeakyReLU/GELU/SiLU/Sigmoid/Tanh, "
             "Max/AvgPool2d, AdaptiveAvg/MaxPool2d to 1×1, Flatten/view to flat, Dropout, "
             "Identity, + of two tensors, torch.cat on channels, and modules built of these")

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


def _need(ok: bool, where: str, what: str) -> None:
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
        _need(False, where, f"Conv2d dilation {tuple(m.dilation)}")
    ok, p["stride"] = fits("Conv2d", "stride", _one_or_pair(m.stride))
    _need(ok, where, f"Conv2d stride {tuple(m.stride)}")
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
    _need(ok, where, f"activation {name}")
    return Node("Activation", {"function": name}, ins, out, where=where)


def pool(kind: str, where, ins, out, kernel, stride, padding, dilation=1, ceil_mode=False,
         count_include_pad=True, divisor_override=None) -> Node:
    type_id = "MaxPool2d" if kind == "max" else "AvgPool2d"
    if dilation not in (1, (1, 1)) or divisor_override is not None:
        raise refuse(where, f"{type_id} with dilation or divisor_override",
                     "plain pooling windows only")
    p: dict[str, Any] = {"pool_size": _one_or_pair(kernel)}
    stride = kernel if stride in (None, [], ()) else stride
    ok, p["stride"] = fits(type_id, "stride", _one_or_pair(stride))
    _need(ok, where, f"{type_id} stride {stride}")
    ok, p["padding"] = fits(type_id, "padding", _one_or_pair(padding))
    _need(ok, where, f"{type_id} padding {padding}")
    if ceil_mode:
        ok, p["ceil_mode"] = fits(type_id, "ceil_mode", True)
        _need(ok, where, f"{type_id} ceil_mode=True")
    if kind == "avg" and not count_include_pad:
        ok, p["count_include_pad"] = fits(type_id, "count_include_pad", False)
        _need(ok, where, "AvgPool2d count_include_pad=False")
    return Node(type_id, p, ins, out, where=where)


def adaptive(kind: str, where, ins, out, size) -> Node | Any:
    x = ins[0].value
    size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(size))
    if size == (1, 1):
        return Node("GlobalAvgPool" if kind == "avg" else "GlobalMaxPool", {}, ins, out,
                    squeezed=True, where=where)
    if size == tuple(x.shape[2:]):  # VGG's 7×7 pool on a 7×7 map: nothing to do here
        return ins[0]
    raise refuse(where, f"adaptive pooling to {size} from {tuple(x.shape[2:])}",
                 "adaptive pooling to 1×1 (global) or to the size it already has")


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
    _need(ok, where, f"Dropout rate {p}")
    return Node("Dropout", {"rate": v}, ins, out, where=where)


def flatten(where, ins, out) -> Node | Any:
    src = ins[0]
    if isinstance(src, Node) and src.squeezed or src.value.dim() == 2:
        return src  # already [C] in the project
    if out.dim() != 2 or out.shape[0] != src.value.shape[0]:
        raise refuse(where, f"reshape to {tuple(out.shape)}",
                     "flattening to [N, features] only")
    return Node("Flatten", {}, ins, out, where=where)


MODULES: dict[type, Callable] = {
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


FUNCTIONS: dict[Any, Callable] = {
    operator.add: add, operator.iadd: add, torch.add: add,
    torch.cat: cat, torch.concat: cat, torch.concatenate: cat,
    torch.flatten: _flatten_fn, torch.mean: mean,
    F.adaptive_avg_pool2d: _adaptive_fn("avg"), F.adaptive_max_pool2d: _adaptive_fn("max"),
    F.avg_pool2d: _pool_fn("avg"), F.max_pool2d: _pool_fn("max"),
    F.dropout: _dropout_fn,
}
for _fn, _name in ACTIVATION_FUNCTIONS.items():
    FUNCTIONS[_fn] = _activation_fn(_name)

METHODS: dict[str, Callable] = {
    "add": add, "add_": add, "flatten": _flatten_fn, "view": _reshape, "reshape": _reshape,
    "mean": mean, "contiguous": lambda where, args, kwargs, out: args[0],
}
for _m, _name in ACTIVATION_METHODS.items():
    METHODS[_m] = _activation_fn(_name)

# Python-valued steps (sizes, shapes) that only feed reshapes: evaluated, not drawn.
VALUE_FUNCTIONS = {getattr, operator.getitem, len, operator.floordiv, operator.mul}
VALUE_METHODS = {"size", "dim"}


def is_nn_builtin(m: nn.Module) -> bool:
    """A torch.nn class (not a container): its forward is a primitive, never traced."""
    return type(m).__module__.startswith("torch.nn.modules") and not isinstance(
        m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))


def function_name(target) -> str:
    if isinstance(target, str):
        return f"tensor method .{target}()"
    mod = getattr(target, "__module__", "") or ""
    return f"{mod + '.' if mod else ''}{getattr(target, '__name__', repr(target))}"
