"""ONNX operators with weights or activations: constants, Conv, ConvTranspose,
BatchNormalization and the activation functions (the table is in onnx_ops.py)."""
from __future__ import annotations

import math

import numpy as np

from blocks import REGISTRY

from .onnx_graph import (
    Converter,
    Value,
    activation_names,
    allow,
    has_param,
    image,
    label_of,
    scope_of,
)

BN_EPS = 1e-5  # what the catalogue's BatchNorm2d uses when it has no eps option


# ---- constants and pass-throughs ------------------------------------------------------------

def op_constant(c: Converter, node):
    a = allow(c, node, {"value", "value_float", "value_floats", "value_int", "value_ints"})
    if "value" in a:
        from .onnx_load import check_tensor_size
        check_tensor_size(a["value"], c.where())
        arr = c.array(a["value"])
    elif a:
        k, v = next(iter(a.items()))
        arr = np.array(v, dtype=np.float32 if "float" in k else np.int64)
    else:
        raise c.refuse("it has no value")
    c.values[node.output[0]] = Value(const=arr)


def op_identity(c: Converter, node):
    allow(c, node, set())
    v = c.value(node.input[0])
    c.values[node.output[0]] = v
    if v.node is not None and c.head.get(v.node) == node.input[0]:
        c.head[v.node] = node.output[0]  # the node's output is now known by this name


def op_cast(c: Converter, node):
    import onnx
    a = allow(c, node, {"to", "saturate"})
    v = c.value(node.input[0])
    if v.const is not None:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(a["to"])
        c.values[node.output[0]] = Value(const=v.const.astype(dtype))
    elif a["to"] == onnx.TensorProto.FLOAT:
        op_identity_like(c, node, v)
    else:
        raise c.refuse("it casts the network's values to another type; NetCanvas computes "
                       "in float32 throughout")


def op_identity_like(c: Converter, node, v: Value):
    c.values[node.output[0]] = v
    if v.node is not None and c.head.get(v.node) == node.input[0]:
        c.head[v.node] = node.output[0]


def op_dropout(c: Converter, node):
    allow(c, node, {"seed"})
    c.check_outputs(1)
    v = c.tensor_in(node.input[0])
    ratio = c.const(node.input[1], "ratio", required=False) if len(node.input) > 1 else None
    rate = float(ratio) if ratio is not None else 0.5
    c.emit("Dropout", {"rate": round(rate, 6)}, [v.node], v.shape)


# ---- activations ----------------------------------------------------------------------------

def _activation(c: Converter, node, name: str, onnx_text: str, also: set[int] = frozenset(),
                source: str | None = None):
    source = source or node.input[0]
    v = c.tensor_in(source)
    target = c.fusable(v, ("Conv2d", "Linear", "ConvTranspose2d"), source, also)
    if target is not None and target.params.get("activation") == "none" and \
            has_param(target.type, "activation", name):
        target.params["activation"] = name
        c.set_output(target.id, v.shape)
        return
    if name not in activation_names():
        raise c.refuse(f"{onnx_text} has no NetCanvas activation (the catalogue has "
                       f"{', '.join(activation_names())})")
    c.emit("Activation", {"function": name}, [v.node], v.shape)


def _simple(name: str):
    def op(c: Converter, node):
        allow(c, node, set())
        _activation(c, node, name, node.op_type)
    return op


def op_sigmoid(c: Converter, node):
    allow(c, node, set())
    x = node.input[0]
    readers = c.readers_of(node.output[0])
    if len(readers) == 1 and readers[0] is not None and readers[0].op_type == "Mul" \
            and x in readers[0].input and node.output[0] in readers[0].input:
        c.values[node.output[0]] = Value(sigmoid_of=x, sigmoid_node=c.i)  # x·sigmoid(x): SiLU, at the Mul
        return
    _activation(c, node, "sigmoid", "Sigmoid")


def op_clip(c: Converter, node):
    allow(c, node, set())
    lo = c.const(node.input[1], "minimum", required=False) if len(node.input) > 1 else None
    hi = c.const(node.input[2], "maximum", required=False) if len(node.input) > 2 else None
    lo = None if lo is None else float(lo)
    hi = None if hi is None or math.isinf(float(hi)) else float(hi)
    if lo == 0.0 and hi == 6.0:
        _activation(c, node, "relu6", "Clip(0, 6) (ReLU6)")
    elif lo == 0.0 and hi is None:
        _activation(c, node, "relu", "Clip(0, ∞)")
    else:
        raise c.refuse(f"Clip({lo}, {hi}) is not supported; NetCanvas imports Clip(0, 6) as "
                       f"ReLU6 and Clip(0, ∞) as ReLU")


def op_leaky_relu(c: Converter, node):
    a = allow(c, node, {"alpha"})
    alpha = a.get("alpha", 0.01)
    if abs(alpha - 0.01) > 1e-7:
        raise c.refuse(f"LeakyRelu with slope {alpha:g}; the catalogue's leaky_relu has "
                       f"slope 0.01")
    _activation(c, node, "leaky_relu", "LeakyRelu")


def op_hard_sigmoid(c: Converter, node):
    a = allow(c, node, {"alpha", "beta"})
    if abs(a.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(a.get("beta", 0.5) - 0.5) > 1e-6:
        raise c.refuse(f"HardSigmoid(alpha={a.get('alpha', 0.2):g}, beta={a.get('beta', 0.5):g}); "
                       f"NetCanvas's hardsigmoid is torch's: alpha=1/6, beta=0.5")
    _activation(c, node, "hardsigmoid", "HardSigmoid")


def op_gelu(c: Converter, node):
    a = allow(c, node, {"approximate"})
    if a.get("approximate", b"none") not in (b"none", "none"):
        raise c.refuse("Gelu with the tanh approximation; NetCanvas's gelu is the exact one")
    _activation(c, node, "gelu", "Gelu")


def op_softmax(c: Converter, node):
    a = allow(c, node, {"axis"})
    v = c.tensor_in(node.input[0])
    axis = a.get("axis", -1)
    if axis not in (1, 1 - len(v.shape) - 1):
        raise c.refuse(f"Softmax over axis {axis}; NetCanvas's softmax is over the channels "
                       f"(axis 1)")
    c.emit("Activation", {"function": "softmax"}, [v.node], v.shape)


# ---- layers with weights --------------------------------------------------------------------

def _pads(c: Converter, a: dict, kernel, strides, dilations, in_hw) -> list[int]:
    """[top, left, bottom, right] from pads or auto_pad."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "NOTSET":
        p = list(a.get("pads", [0, 0, 0, 0]))
        if len(p) != 4:
            raise c.refuse(f"pads {p} are not those of a 2-D layer")
        return p
    if auto == "VALID":
        return [0, 0, 0, 0]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for k, s, d, n in zip(kernel, strides, dilations, in_hw):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            out.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        return [out[0][0], out[1][0], out[0][1], out[1][1]]
    raise c.refuse(f"auto_pad={auto!r} is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)")


def _pair_param(c: Converter, type_id: str, name: str, hw: tuple[int, int]):
    value = hw[0] if hw[0] == hw[1] else list(hw)
    if not has_param(type_id, name, value):
        raise c.refuse(f"{name} {list(hw)} cannot be expressed by {type_id}'s {name} "
                       f"parameter")
    return value


def _conv_padding(c: Converter, type_id: str, pads, kernel, stride, dilation):
    """The `padding` value for [top, left, bottom, right], or None when not symmetric."""
    t, left, b, r = pads
    if (t, left) != (b, r):
        return None
    if t == left and has_param(type_id, "padding", t):
        return t
    if has_param(type_id, "padding", [t, left]):
        return [t, left]
    same = all((d * (k - 1)) % 2 == 0 or s > 1 for k, s, d in zip(kernel, stride, dilation))
    if same and (t, left) == tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation)):
        return "same"
    return None


def _zero_pad(c: Converter, v: Value, pads) -> Value:
    """A ZeroPad2d node in front (for padding a layer cannot express on its own)."""
    if not any(pads):
        return v
    if "ZeroPad2d" not in REGISTRY:
        raise c.refuse(f"its padding (top, left, bottom, right) = {tuple(pads)} is not "
                       f"symmetric, and this catalogue has no ZeroPad2d to put in front")
    t, left, b, r = pads
    p = {"padding": [left, r, t, b]} if has_param("ZeroPad2d", "padding", [left, r, t, b]) \
        else None
    if p is None:
        raise c.refuse(f"ZeroPad2d cannot take the padding {tuple(pads)}")
    shape = (v.shape[0], v.shape[1] + t + b, v.shape[2] + left + r)
    node = c.add("ZeroPad2d", p, [v.node], f"{label_of(c.node)} pad", c.where(),
                 scope_of(c.node))
    c.nodes[node].expect = c.nodes[node].shape = shape
    return Value(node, shape)



def op_conv(c: Converter, node):
    a = allow(c, node, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
    v, extra = c.tensor_in(node.input[0], rank=3, padded=True)
    w = c.const(node.input[1], "weight").astype(np.float32)
    b = c.const(node.input[2], "bias", required=False) if len(node.input) > 2 else None
    if w.ndim != 4:
        raise c.refuse(f"a {w.ndim - 2}-D convolution; NetCanvas imports 2-D ones")
    kernel = tuple(int(k) for k in a.get("kernel_shape", w.shape[2:]))
    strides = tuple(a.get("strides", (1, 1)))
    dil = tuple(a.get("dilations", (1, 1)))
    pads = _pads(c, a, kernel, strides, dil, v.shape[1:])
    pads = [p + e for p, e in zip(pads, extra)]
    stride = _pair_param(c, "Conv2d", "stride", strides)
    dilation = _pair_param(c, "Conv2d", "dilation", dil)
    padding = _conv_padding(c, "Conv2d", pads, kernel, strides, dil)
    if padding is None:
        v = _zero_pad(c, v, pads)
        padding, pads = 0, [0, 0, 0, 0]
    params = {"filters": int(w.shape[0]), "kernel_size": kernel[0] if kernel[0] == kernel[1]
              else list(kernel), "stride": stride, "padding": padding, "dilation": dilation,
              "groups": int(a.get("group", 1)), "activation": "none", "batch_norm": False}
    tensors = {"conv.weight": w}
    if b is not None:
        tensors["conv.bias"] = b.astype(np.float32).reshape(-1)
    elif has_param("Conv2d", "bias"):
        params["bias"] = False
    hw = tuple((n + p0 + p1 - d * (k - 1) - 1) // st + 1 for n, p0, p1, d, k, st in
               zip(v.shape[1:], pads[:2], pads[2:], dil, kernel, strides))
    c.emit("Conv2d", params, [v.node], (int(w.shape[0]), *hw), tensors)


def op_conv_transpose(c: Converter, node):
    a = allow(c, node, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                         "output_padding"})
    v = image(c, c.tensor_in(node.input[0], rank=3))
    w = c.const(node.input[1], "weight").astype(np.float32)
    b = c.const(node.input[2], "bias", required=False) if len(node.input) > 2 else None
    if w.ndim != 4:
        raise c.refuse(f"a {w.ndim - 2}-D transposed convolution; NetCanvas imports 2-D ones")
    if a.get("group", 1) != 1 or tuple(a.get("dilations", (1, 1))) != (1, 1):
        raise c.refuse("a grouped or dilated transposed convolution; NetCanvas's "
                       "ConvTranspose2d has groups 1 and dilation 1")
    if any(a.get("output_padding", ())):
        raise c.refuse("output_padding is not supported by NetCanvas's ConvTranspose2d")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise c.refuse("auto_pad is not supported on ConvTranspose; NetCanvas takes explicit "
                       "pads")
    kernel = tuple(int(k) for k in a.get("kernel_shape", w.shape[2:]))
    t, left, bo, r = a.get("pads", (0, 0, 0, 0))
    if not t == left == bo == r:
        raise c.refuse(f"pads {[t, left, bo, r]}: NetCanvas's ConvTranspose2d takes the "
                       f"same padding on every side")
    params = {"filters": int(w.shape[1]), "kernel_size": kernel[0] if kernel[0] == kernel[1]
              else list(kernel), "stride": _pair_param(c, "ConvTranspose2d", "stride",
                                                       tuple(a.get("strides", (1, 1)))),
              "padding": int(t), "activation": "none"}
    tensors = {"deconv.weight": w}
    if b is not None:
        tensors["deconv.bias"] = b.astype(np.float32).reshape(-1)
    elif has_param("ConvTranspose2d", "bias", False):
        params["bias"] = False
    else:
        tensors["deconv.bias"] = np.zeros(w.shape[1], np.float32)
        c.notes.append(f"{c.where()} has no bias; its ConvTranspose2d gets a zero bias "
                       f"({w.shape[1]} more parameters than the file)")
    st = tuple(a.get("strides", (1, 1)))
    hw = tuple((n - 1) * s_ - 2 * t + k for n, s_, k in zip(v.shape[1:], st, kernel))
    c.emit("ConvTranspose2d", params, [v.node], (int(w.shape[1]), *hw), tensors)


def op_batch_norm(c: Converter, node):
    a = allow(c, node, {"epsilon", "momentum", "training_mode"})
    if a.get("training_mode", 0):
        raise c.refuse("a BatchNormalization in training mode; NetCanvas imports inference "
                       "graphs (export the model in eval mode)")
    c.check_outputs(1)
    v = c.tensor_in(node.input[0])
    gamma, beta, mean, var = (c.const(node.input[k], what).astype(np.float32) for k, what in
                              ((1, "scale"), (2, "bias"), (3, "running mean"), (4, "running var")))
    eps = float(a.get("epsilon", 1e-5))
    momentum = 1.0 - float(a.get("momentum", 0.9))  # ONNX keeps 1 - torch's momentum
    target = c.fusable(v, ("Conv2d",), node.input[0])
    if target is not None and (target.params["batch_norm"] or target.params["activation"]
                               != "none"):
        target = None
    if target is not None:
        target.params["batch_norm"] = True
        if "conv.bias" in target.tensors and has_param("Conv2d", "bias", True):
            target.params["bias"] = True  # kept, as in the file
        else:
            bias = target.tensors.pop("conv.bias", None)
            if bias is not None:  # conv + b then BN: the same as BN with its mean moved by b
                mean = mean - bias
            target.params.pop("bias", None)
        nid = target.id
    else:
        if len(v.shape) not in (1, 3):
            raise c.refuse(f"BatchNormalization of a {list(v.shape)} input; NetCanvas "
                           f"normalises [C, H, W] or [F]")
        nid = c.emit("BatchNorm", {}, [v.node], v.shape)
    p = c.nodes[nid]
    var = _bn_options(c, p, eps, momentum, var)
    p.tensors.update({"bn.weight": gamma, "bn.bias": beta, "bn.running_mean": mean,
                      "bn.running_var": var})
    c.set_output(nid, v.shape)


def _bn_options(c: Converter, p, eps: float, momentum: float, var):
    """Set eps/momentum where the catalogue has them; otherwise fold eps into the running
    variance (exact: (x - m) / sqrt((v + eps - 1e-5) + 1e-5)) and say so."""
    for name in ("eps", "bn_eps"):
        if has_param(p.type, name, eps):
            p.params[name] = eps
            break
    else:
        if abs(eps - BN_EPS) > 1e-12:
            var = (var.astype(np.float64) + (eps - BN_EPS)).astype(np.float32)
            c.notes.append(f"{p.where}: BatchNorm eps {eps:g} is folded into the running "
                           f"variance (this catalogue's BatchNorm has eps 1e-5)")
    for name in ("momentum", "bn_momentum"):
        if has_param(p.type, name, round(momentum, 6)):
            p.params[name] = round(momentum, 6)
            break
    return var

