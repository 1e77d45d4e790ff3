"""Receptive-field recipes, one per block type in blocks/, keyed by type_id.

Each recipe restates what the block's module builds (blocks/*.py) as kernels, strides,
left paddings and dilations, and joins its branches like a graph join. A recipe sees its
inputs' fields and a Context (params, input and output shapes, warn). A test checks that
every REGISTRY type has one, so a new block cannot be forgotten, and the oracle test
checks each against the gradient support of the module itself.
"""
from __future__ import annotations

from collections.abc import Callable

from blocks.spec import pair

from .receptive import START, Context, Field, join

Rule = Callable[[list[Field], Context], Field]


def _same(k: int, d: int = 1) -> int:
    """Left padding of "same" (blocks.common.conv_padding / pool_padding): d(k−1)//2."""
    return d * (k - 1) // 2


def _padding(value, k: tuple[int, int], d: int = 1) -> tuple[int, int]:
    if value == "valid":
        return 0, 0
    if value == "same":
        return _same(k[0], d), _same(k[1], d)
    return value, value


def network_input(fields, ctx):
    """Each input pixel sees itself."""
    return Field(START, START)


def pointwise(fields, ctx):
    """Sees exactly what its input sees (BatchNorm, activations, Dropout, Linear on a
    vector that is already global)."""
    return fields[0]


def whole(fields, ctx):
    """Global pool / Flatten: the one output unit sees every input unit."""
    hw = ctx.in_hw()
    return fields[0] if hw is None else fields[0].whole(hw)


def merge(fields, ctx):
    return fields[0] if len(fields) == 1 else join(fields, ctx.out_hw, ctx.warn)


def conv2d(fields, ctx):
    p = ctx.params
    k, d = pair(p["kernel_size"]), p["dilation"]
    return fields[0].layer(k, p["stride"], _padding(p["padding"], k, d), d)


def separable(fields, ctx):
    p = ctx.params
    k = pair(p["kernel_size"])
    return fields[0].layer(k, p["stride"], _padding("same", k))  # then a 1×1


def transposed(fields, ctx):
    p = ctx.params
    k, s = pair(p["kernel_size"]), p["stride"]
    f = fields[0]
    if s > 1 or k != (1, 1):
        ctx.warn("ConvTranspose2d: upsampling gives neighbouring units different fields; "
                 "shown: the largest")
    return Field(f.h.transposed(k[0], s, p["padding"]), f.w.transposed(k[1], s, p["padding"]))


def pool(fields, ctx):
    p = ctx.params
    k = pair(p["pool_size"])
    s = p["stride"] if p["stride"] is not None else k
    return fields[0].layer(k, s, _padding(p["padding"], k))


def vgg(fields, ctx):
    return fields[0].chain(*[(3, 1, 1)] * ctx.params["convs"], (2, 2, 0))


def branches(x: Field, ctx: Context, *paths: tuple) -> Field:
    """The union of several chains applied to x (an Inception-style concat or a residual
    add inside one block); paths are tuples of chain() layers."""
    return join([x.chain(*path) for path in paths], None, ctx.warn, "block's branches")


def naive_inception(fields, ctx):
    return branches(fields[0], ctx, (1,), ((3, 1, 1),), ((5, 1, 2),), ((3, 1, 1),))


def inception(fields, ctx):
    return branches(fields[0], ctx, (1,), (1, (3, 1, 1)), (1, (5, 1, 2)), ((3, 1, 1), 1))


def residual(fields, ctx):
    s = ctx.params["stride"]
    return branches(fields[0], ctx, ((3, s, 1), (3, 1, 1)), ((1, s, 0),))


def bottleneck(fields, ctx):
    s = ctx.params["stride"]
    return branches(fields[0], ctx, (1, (3, s, 1), 1), ((1, s, 0),))


def resnet_stem(fields, ctx):
    return fields[0].chain((7, 2, 3), (3, 2, 1))


def inception_stem(fields, ctx):
    x = fields[0].chain((3, 2, 0), 3, (3, 1, 1))
    if ctx.params["variant"] == "resnet_v1":
        return x.chain((3, 2, 0), 1, 3, (3, 2, 0))
    x = branches(x, ctx, ((3, 2, 0),), ((3, 2, 0),))
    x = branches(x, ctx, (1, 3), (1, ((7, 1), 1, (3, 0)), ((1, 7), 1, (0, 3)), 3))
    return branches(x, ctx, ((3, 2, 0),), ((3, 2, 0),))


def ir_a(fields, ctx):
    return branches(fields[0], ctx, (), (1,), (1, (3, 1, 1)), (1, (3, 1, 1), (3, 1, 1)))


def ir_b(fields, ctx):
    return branches(fields[0], ctx, (), (1,), (1, ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))))


def ir_c(fields, ctx):
    return branches(fields[0], ctx, (), (1,), (1, ((1, 3), 1, (0, 1)), ((3, 1), 1, (1, 0))))


def reduction_a(fields, ctx):
    return branches(fields[0], ctx, ((3, 2, 0),), ((3, 2, 0),), (1, (3, 1, 1), (3, 2, 0)))


def reduction_b(fields, ctx):
    if ctx.params["variant"] == "v4":
        deep = (1, ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0)), (3, 2, 0))
    else:
        deep = (1, (3, 1, 1), (3, 2, 0))
    return branches(fields[0], ctx, ((3, 2, 0),), (1, (3, 2, 0)), deep)


def squeeze_excite(fields, ctx):
    """x · sigmoid(MLP(GAP(x))): each unit sees its own field and the whole input."""
    x = fields[0]
    return join([x, x.whole(ctx.in_hw())], ctx.out_hw, ctx.warn)


def dense_block(fields, ctx):
    """Layer i sees the concat of x and every earlier layer; each adds a 1×1 and a 3×3."""
    feats = [fields[0]]
    for _ in range(ctx.params["layers"]):
        inp = join(feats, None, ctx.warn, "block's branches") if len(feats) > 1 else feats[0]
        feats.append(inp.chain(1, (3, 1, 1)))
    return join(feats, None, ctx.warn, "block's branches")


def fire(fields, ctx):
    """Squeeze 1×1, then expand 1×1 ‖ expand 3×3 (padding 1), concatenated."""
    return branches(fields[0].chain(1), ctx, (1,), ((3, 1, 1),))


def dense_transition(fields, ctx):
    return fields[0].chain(1, (2, 2, 0))


def inverted_residual(fields, ctx):
    """1×1 → k×k depthwise (stride, (k−1)/2 padding) → [SE: every unit sees the whole map]
    → 1×1, plus the input when the block adds it."""
    p = ctx.params
    k, s = p["kernel_size"], p["stride"]
    x = fields[0].chain((k, s, (k - 1) // 2))
    if p["se_ratio"] > 0:
        x = join([x, x.whole(ctx.out_hw)], ctx.out_hw, ctx.warn)
    if s == 1 and ctx.in_shapes[0][0] == p["filters"]:
        x = join([x, fields[0]], ctx.out_hw, ctx.warn, "block's branches")
    return x


RULES: dict[str, Rule] = {
    "Input": network_input,
    "Conv2d": conv2d,
    "DepthwiseSeparableConv": separable,
    "ConvTranspose2d": transposed,
    "MaxPool2d": pool,
    "AvgPool2d": pool,
    "GlobalAvgPool": whole,
    "GlobalMaxPool": whole,
    "Flatten": whole,
    "Linear": pointwise,
    "Concat": merge,
    "Add": merge,
    "Dropout": pointwise,
    "BatchNorm": pointwise,
    "Activation": pointwise,
    "VGGBlock": vgg,
    "NaiveInception": naive_inception,
    "Inception": inception,
    "Residual": residual,
    "Bottleneck": bottleneck,
    "ResNetStem": resnet_stem,
    "InceptionStem": inception_stem,
    "InceptionResNetA": ir_a,
    "InceptionResNetB": ir_b,
    "InceptionResNetC": ir_c,
    "ReductionA": reduction_a,
    "ReductionB": reduction_b,
    "SqueezeExcite": squeeze_excite,
    "DenseBlock": dense_block,
    "Fire": fire,
    "DenseTransition": dense_transition,
    "InvertedResidual": inverted_residual,
}
