"""ONNX operators that pool, reshape, join or pad: pooling, global pooling, Flatten and
Reshape to flat, Gemm / MatMul (+ Add), Add, Concat, Mul, Pad, Resize."""
from __future__ import annotations

import math

import numpy as np

from blocks import REGISTRY

from .onnx_graph import Converter, Value, allow, has_param, image, short
from .onnx_ops_layers import _activation, _pads, _pair_param

_FLATTENERS = ("Flatten", "Reshape", "Squeeze")


# ---- pooling --------------------------------------------------------------------------------

def op_pool(c: Converter, node):
    avg = node.op_type == "AveragePool"
    allowed = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}
    a = allow(c, node, allowed | ({"count_include_pad"} if avg else {"storage_order"}))
    c.check_outputs(1)
    v = image(c, c.tensor_in(node.input[0]))
    type_id = "AvgPool2d" if avg else "MaxPool2d"
    kernel = tuple(a["kernel_shape"]) if "kernel_shape" in a else None
    if kernel is None or len(kernel) != 2:
        raise c.refuse("a pool that is not 2-D; NetCanvas imports 2-D pooling")
    strides = tuple(a.get("strides", (1, 1)))
    if tuple(a.get("dilations", (1, 1))) != (1, 1):
        raise c.refuse("a dilated pool; NetCanvas's pools are not dilated")
    pads = _pads(c, a, kernel, strides, (1, 1), v.shape[1:])
    t, left, b, r = pads
    if not any(pads):
        padding = "valid"
    elif (t, left) == (b, r) and t == left and has_param(type_id, "padding", t):
        padding = t
    elif (t, left) == (b, r) and has_param(type_id, "padding", [t, left]):
        padding = [t, left]
    else:
        raise c.refuse(f"pads (top, left, bottom, right) = {tuple(pads)} cannot be expressed "
                       f"by {type_id}'s padding")
    params = {"pool_size": kernel[0] if kernel[0] == kernel[1] else list(kernel),
              "stride": _pair_param(c, type_id, "stride", strides), "padding": padding}
    floor = tuple((n + p0 + p1 - k) // s + 1 for n, p0, p1, k, s in
                  zip(v.shape[1:], pads[:2], pads[2:], kernel, strides))
    out = c.expected(node.output[0])
    if a.get("ceil_mode", 0) and out is None:
        raise c.refuse("ceil_mode=1 on a map whose size ONNX does not infer")
    out = out or (v.shape[0], *floor)
    if a.get("ceil_mode", 0) and out[1:] != floor:
        if not has_param(type_id, "ceil_mode", True):
            raise c.refuse("ceil_mode=1 changes its output size, and this catalogue's "
                           f"{type_id} has no ceil_mode")
        params["ceil_mode"] = True
    if avg and any(pads) and not a.get("count_include_pad", 0):
        if not has_param(type_id, "count_include_pad", False):
            raise c.refuse("an average pool that does not count its padding "
                           "(count_include_pad=0); this catalogue's AvgPool2d counts it")
        params["count_include_pad"] = False
    c.emit(type_id, params, [v.node], out)


def _global(c: Converter, node, kind: str, keepdims: bool):
    """Global pooling: [C] when only flattening ops read it (or keepdims=0); [C, 1, 1]
    (AdaptiveAvgPool2d(1)) otherwise."""
    v = image(c, c.tensor_in(node.input[0]))
    readers = c.readers_of(node.output[0])
    if not keepdims or all(r is not None and r.op_type in _FLATTENERS for r in readers):
        nid = c.emit("GlobalAvgPool" if kind == "avg" else "GlobalMaxPool", {}, [v.node],
                     (v.shape[0],))
        c.nodes[nid].expect = (v.shape[0],)  # ONNX keeps [C, 1, 1]; only flattening reads it
        return
    if kind == "avg" and has_param("AdaptiveAvgPool2d", "output_size", 1):
        c.emit("AdaptiveAvgPool2d", {"output_size": 1}, [v.node], (v.shape[0], 1, 1))
        return
    raise c.refuse("global pooling whose [C, 1, 1] output is used as an image; NetCanvas "
                   "imports it when a Flatten or Reshape to flat reads it")


def op_global_avg(c: Converter, node):
    allow(c, node, set())
    _global(c, node, "avg", True)


def op_global_max(c: Converter, node):
    allow(c, node, set())
    _global(c, node, "max", True)


def op_reduce(c: Converter, node):
    a = allow(c, node, {"axes", "keepdims", "noop_with_empty_axes"})
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = c.const(node.input[1], "axes").tolist()
    if axes is None or sorted(x % 4 for x in axes) != [2, 3]:
        raise c.refuse(f"it reduces over axes {axes}; NetCanvas imports a mean or max over H "
                       f"and W (axes 2, 3) as global pooling")
    _global(c, node, "avg" if node.op_type == "ReduceMean" else "max",
            bool(a.get("keepdims", 1)))


# ---- to flat --------------------------------------------------------------------------------

def _flatten_to(c: Converter, v: Value):
    if len(v.shape) == 1:
        c.values[c.node.output[0]] = v
        if c.head.get(v.node) == c.node.input[0]:
            c.head[v.node] = c.node.output[0]
        return
    c.emit("Flatten", {}, [v.node], (math.prod(v.shape),))


def op_flatten(c: Converter, node):
    a = allow(c, node, {"axis"})
    v = c.tensor_in(node.input[0])
    if a.get("axis", 1) not in (1, -len(v.shape)):
        raise c.refuse(f"Flatten at axis {a.get('axis')}; NetCanvas flattens everything after "
                       f"the batch (axis 1)")
    _flatten_to(c, v)


BATCH = -(2 ** 40) - 7  # stands for the batch size in a shape read off the network's values


def op_shape(c: Converter, node):
    """The shape of a network tensor as a constant, its batch size a placeholder: what
    TorchScript writes for x.view(x.size(0), -1). A Reshape takes the placeholder as "the
    batch"; anything else it reaches is refused or caught by the onnxruntime check."""
    a = allow(c, node, {"start", "end"})
    v = c.tensor_in(node.input[0])
    full = c.m.shapes.get(node.input[0])
    if (full is None or None in full) and c.nodes[v.node].type not in (
            "GlobalAvgPool", "GlobalMaxPool"):  # those keep [C, 1, 1] in ONNX, [C] here
        full = (1, *v.shape)
    if full is None or None in full:
        raise c.refuse("the shape of its input is not known")
    dims = np.array([BATCH, *full[1:]], np.int64)
    c.values[node.output[0]] = Value(const=dims[a.get("start", 0):a.get("end", len(dims))])


def op_reshape(c: Converter, node):
    a = allow(c, node, {"allowzero"})
    v = c.tensor_in(node.input[0])
    target = [int(x) for x in c.const(node.input[1], "target shape").reshape(-1)]
    n = math.prod(v.shape)
    ok = len(target) == 2 and (
        (target[0] == -1 and target[1] == n) or (target[0] == BATCH and target[1] in (-1, n))
        or (target[0] == 0 and not a.get("allowzero", 0) and target[1] in (-1, n))
        or (target[0] == 1 and c.m.batch_fixed and target[1] in (-1, n)))
    if not ok:
        shown = ", ".join("batch" if t == BATCH else str(t) for t in target)
        raise c.refuse(f"a Reshape to [{shown}]; NetCanvas imports a Reshape that flattens "
                       f"each sample (to [batch, {n}])")
    _flatten_to(c, v)


def op_squeeze(c: Converter, node):
    allow(c, node, set())
    v = c.tensor_in(node.input[0])
    axes = c.const(node.input[1], "axes").reshape(-1).tolist() if len(node.input) > 1 else None
    if axes is None or sorted(x % 4 for x in axes) != [2, 3] or (
            len(v.shape) == 3 and v.shape[1:] != (1, 1)):
        raise c.refuse(f"a Squeeze of axes {axes}; NetCanvas imports only the squeeze of a "
                       f"[C, 1, 1] map to [C]")
    _flatten_to(c, v)


# ---- fully connected ------------------------------------------------------------------------

def op_gemm(c: Converter, node):
    a = allow(c, node, {"alpha", "beta", "transA", "transB"})
    if a.get("transA", 0):
        raise c.refuse("Gemm with transA=1; NetCanvas imports x·Wᵀ + b with x [batch, F]")
    v = c.tensor_in(node.input[0], rank=1)
    w = c.const(node.input[1], "weight").astype(np.float32)
    if w.ndim != 2:
        raise c.refuse(f"its weight is {list(w.shape)}, not a matrix")
    w = w if a.get("transB", 0) else w.T
    w = w * np.float32(a.get("alpha", 1.0)) if a.get("alpha", 1.0) != 1.0 else w
    tensors = {"linear.weight": np.ascontiguousarray(w)}
    bias = c.const(node.input[2], "bias", required=False) if len(node.input) > 2 else None
    if bias is not None:
        b = _vector(c, bias, w.shape[0], "bias") * np.float32(a.get("beta", 1.0))
        tensors["linear.bias"] = b
    c.emit("Linear", {"units": int(w.shape[0]), "activation": "none"}, [v.node],
           (int(w.shape[0]),), tensors)


def op_matmul(c: Converter, node):
    allow(c, node, set())
    v = c.tensor_in(node.input[0], rank=1)
    w = c.const(node.input[1], "weight").astype(np.float32)
    if w.ndim != 2:
        raise c.refuse(f"a MatMul with a {list(w.shape)} constant; NetCanvas imports x·W "
                       f"with x [batch, F] and W a matrix")
    c.emit("Linear", {"units": int(w.shape[1]), "activation": "none"}, [v.node],
           (int(w.shape[1]),), {"linear.weight": np.ascontiguousarray(w.T)})


def _vector(c: Converter, arr, n: int, what: str):
    a = np.asarray(arr, np.float32)
    if a.size == 1:
        return np.full(n, a.reshape(-1)[0], np.float32)
    if a.size != n or a.shape[-1] != n:
        raise c.refuse(f"its {what} is {list(a.shape)}, which does not fit {n} outputs")
    return a.reshape(-1).copy()


# ---- joins ----------------------------------------------------------------------------------

def op_add(c: Converter, node):
    allow(c, node, set())
    x, y = (c.value(n) for n in node.input)
    if x.const is not None or y.const is not None:
        return _add_constant(c, node, *((y, x, 1) if x.const is not None else (x, y, 0)))
    x, y = c.tensor_in(node.input[0]), c.tensor_in(node.input[1])
    if x.shape != y.shape:
        raise c.refuse(f"it adds {list(x.shape)} and {list(y.shape)} (broadcasting); "
                       f"NetCanvas's Add takes inputs of one shape")
    for v, name, other in ((x, node.input[0], y), (y, node.input[1], x)):
        p = c.fusable(v, ("Add",), name)
        if p is not None and other.node not in p.inputs:  # (a + b) + c: one Add, a, b, c
            p.inputs.append(other.node)
            c.set_output(p.id, v.shape)
            return
    c.emit("Add", {}, [x.node, y.node], x.shape)


def _add_constant(c: Converter, node, v: Value, k: Value, port: int):
    name = node.input[port]
    c.tensor_in(name)
    p = c.fusable(v, ("Linear",), name)
    if p is not None and "linear.bias" not in p.tensors and p.params["activation"] == "none":
        p.tensors["linear.bias"] = _vector(c, k.const, p.params["units"], "added constant")
        c.set_output(p.id, v.shape)
        return
    p = c.fusable(v, ("Conv2d",), name)
    if p is not None and "conv.bias" not in p.tensors and not p.params["batch_norm"] \
            and p.params["activation"] == "none" and k.const.size == v.shape[0] \
            and k.const.squeeze().ndim <= 1:
        p.tensors["conv.bias"] = k.const.astype(np.float32).reshape(-1)
        p.params.pop("bias", None)
        c.set_output(p.id, v.shape)
        return
    raise c.refuse("it adds a constant to the network's values; NetCanvas imports a constant "
                   "Add only as the bias of the Linear (MatMul) or Conv right before it")


def op_concat(c: Converter, node):
    a = allow(c, node, {"axis"})
    vs = [c.tensor_in(n) for n in node.input]
    rank = len(vs[0].shape)
    if a.get("axis") not in (1, -rank):  # the channel axis of [batch, C, …]
        raise c.refuse(f"Concat on axis {a.get('axis')}; NetCanvas joins on the channel axis "
                       f"(axis 1)")
    shape = (sum(v.shape[0] for v in vs), *vs[0].shape[1:])
    c.emit("Concat", {}, [v.node for v in vs], shape)


def op_mul(c: Converter, node):
    allow(c, node, set())
    x, y = (c.value(n) for n in node.input)
    for s, other in ((x, node.input[1]), (y, node.input[0])):
        if s.sigmoid_of is not None and s.sigmoid_of == other:
            return _activation(c, node, "silu", "x·sigmoid(x) (SiLU)", {s.sigmoid_node}, other)
    x, y = c.tensor_in(node.input[0]), c.tensor_in(node.input[1])
    if len(x.shape) == 3 and len(y.shape) == 3 and "Multiply" in REGISTRY:
        big, gate = (x, y) if y.shape[1:] == (1, 1) else (y, x)
        if gate.shape[1:] == (1, 1) and gate.shape[0] == big.shape[0] or x.shape == y.shape:
            c.emit("Multiply", {}, [big.node, gate.node], big.shape)
            return
    gate = ("or as a channel gate ([C, H, W] · [C, 1, 1])" if "Multiply" in REGISTRY else
            "(a channel gate needs a Multiply block, which this catalogue does not have)")
    raise c.refuse(f"it multiplies {list(x.shape)} by {list(y.shape)}; NetCanvas imports Mul "
                   f"as SiLU (x·sigmoid(x)) {gate}")


# ---- padding and resizing -------------------------------------------------------------------

def op_pad(c: Converter, node):
    a = allow(c, node, {"mode"})
    mode = a.get("mode", b"constant")
    if mode not in (b"constant", "constant"):
        raise c.refuse(f"Pad mode {short(mode)}; NetCanvas imports zero padding")
    v = image(c, c.tensor_in(node.input[0]))
    pads = [int(p) for p in c.const(node.input[1], "pads").reshape(-1)]
    fill = c.const(node.input[2], "fill value", required=False) if len(node.input) > 2 else None
    if len(node.input) > 3 and node.input[3]:
        axes = [int(x) % 4 for x in c.const(node.input[3], "axes").reshape(-1)]
        full = [0] * 8
        for j, ax in enumerate(axes):
            full[ax], full[ax + 4] = pads[j], pads[j + len(axes)]
        pads = full
    if fill is not None and np.any(fill != 0):
        raise c.refuse(f"Pad with the value {short(fill.tolist())}; NetCanvas imports zero padding")
    if len(pads) != 8 or any(pads[k] for k in (0, 1, 4, 5)) or any(p < 0 for p in pads):
        raise c.refuse(f"pads {pads}: NetCanvas imports non-negative padding of H and W")
    t, left, b, r = pads[2], pads[3], pads[6], pads[7]
    readers = c.readers_of(node.output[0])
    if all(rd is not None and rd.op_type == "Conv" for rd in readers):
        c.values[node.output[0]] = Value(v.node, v.shape, pad=(t, left, b, r))
        return
    from .onnx_ops_layers import _zero_pad
    out = _zero_pad(c, v, (t, left, b, r))
    c.values[node.output[0]] = out
    c.head[out.node] = node.output[0]


def op_resize(c: Converter, node):
    """Resize as torch exports nn.Upsample: nearest (asymmetric, floor) or bilinear
    (pytorch_half_pixel / half_pixel, or align_corners), by scales or to sizes."""
    a = allow(c, node, {"mode", "coordinate_transformation_mode", "nearest_mode",
                        "cubic_coeff_a", "exclude_outside", "extrapolation_value", "antialias",
                        "axes", "keep_aspect_ratio_policy"})
    if "Upsample" not in REGISTRY:
        raise c.refuse("Resize needs the catalogue's Upsample, which this NetCanvas lacks")
    v = image(c, c.tensor_in(node.input[0]))
    def get(k, default):
        value = a.get(k, default)
        return value.decode(errors="replace") if isinstance(value, bytes) else value
    mode, ctm = get("mode", "nearest"), get("coordinate_transformation_mode", "half_pixel")
    if a.get("antialias", 0) or a.get("exclude_outside", 0) or \
            get("keep_aspect_ratio_policy", "stretch") != "stretch" or \
            ("axes" in a and sorted(x % 4 for x in a["axes"]) != [2, 3]):
        raise c.refuse("Resize with antialias, exclude_outside, axes or an aspect-ratio "
                       "policy; NetCanvas imports plain nearest or bilinear resizing")
    if mode == "nearest" and ctm == "asymmetric" and get("nearest_mode",
                                                         "round_prefer_floor") == "floor":
        params = {"mode": "nearest", "align_corners": False}
    elif mode == "linear" and ctm in ("pytorch_half_pixel", "half_pixel", "align_corners"):
        params = {"mode": "bilinear", "align_corners": ctm == "align_corners"}
    else:
        raise c.refuse(f"Resize mode {mode!r} with coordinates {ctm!r}; NetCanvas imports "
                       f"nearest (asymmetric, floor) and bilinear (half_pixel or "
                       f"align_corners) resizing, as torch exports nn.Upsample")
    scales = c.const(node.input[2], "scales", required=False) if len(node.input) > 2 else None
    scales = None if scales is None or scales.size == 0 else [float(x) for x in scales.reshape(-1)]
    if scales is not None and len(scales) == 2:
        scales = [1.0, 1.0, *scales]
    sizes = c.const(node.input[3], "sizes", required=False) if len(node.input) > 3 else None
    out = c.expected(node.output[0])
    if out is None and sizes is not None and sizes.size in (2, 4):
        out = (v.shape[0], *(int(x) for x in sizes.reshape(-1)[-2:]))
    elif out is None and scales is not None and len(scales) == 4:
        out = (v.shape[0], *(math.floor(n * s) for n, s in zip(v.shape[1:], scales[2:])))
    if out is None or out[0] != v.shape[0] or (scales is not None and scales[:2] != [1.0, 1.0]):
        raise c.refuse("its output size is not known, or it resizes the channels")
    if scales is not None and scales[2] == scales[3] and scales[:2] == [1.0, 1.0] and \
            has_param("Upsample", "scale_factor", scales[2]):
        params["scale_factor"] = scales[2]  # torch computes with the scale, as ONNX does
    else:
        params["size"] = list(out[1:]) if out[1] != out[2] else out[1]
        if scales is not None and any(abs(o / n - s) > 1e-9 for o, n, s in
                                      zip(out[1:], v.shape[1:], scales[2:])):
            raise c.refuse(f"Resize by scales {scales[2:]} that are not output/input; "
                           f"NetCanvas's Upsample computes with one or the other")
    c.emit("Upsample", params, [v.node], out)
