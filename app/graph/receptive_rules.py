"""Receptive-field recipes, one per block type in blocks/, keyed by type_id.

Each recipe restates what the block's module builds (blocks/*.py) as kernels, strides,
left paddings and dilations, and joins its branches like a graph join. A recipe sees its
inputs' fields and a Context (params, input and output shapes, warn). A test checks that
every REGISTRY type has one, so a new block cannot be forgotten, and the oracle test
checks each against the gradient support of the module itself.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from blocks.spec import pair

from .receptive import START, Axis, Context, Field, join

Rule = Callable[[list[Field], Context], Field]


def _same(k: int, d: int = 1) -> int:
    """Left padding of "same" (blocks.common.conv_padding / pool_padding): d(k−1)//2."""
    return d * (k - 1) // 2


def _padding(value, k: tuple[int, int], d=1) -> tuple[int, int]:
    """Left padding (h, w) of a conv/pool; value and d are each an int or [h, w]."""
    if value == "valid":
        return 0, 0
    if value == "same":
        dh, dw = pair(d)
        return _same(k[0], dh), _same(k[1], dw)
    return pair(value)


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
    return fields[0].layer(k, s, _padding(p["padding"], k))  # ints or [h, w] pairs


def adaptive_pool(fields, ctx):
    """Output unit i of n → out averages input units [floor(i·n/out), ceil((i+1)·n/out)):
    a pool with k = s = n/out when out divides n; otherwise the windows differ in size
    and step by n/out on average, and we report the largest (with a warning)."""
    f, hw = fields[0], ctx.in_hw()
    axes, uneven = [], False
    for ax, n, o in zip((f.h, f.w), hw, pair(ctx.params["output_size"])):
        if o == 1:
            axes.append(ax.whole(n))
        elif n % o == 0:
            axes.append(ax.layer(n // o, n // o, 0))
        else:
            uneven = True
            k = max(-(-(i + 1) * n // o) - i * n // o for i in range(o))
            axes.append(Axis(ax.r + (k - 1) * ax.j, ax.j * Fraction(n, o), ax.u))
    if uneven:
        ctx.warn("AdaptiveAvgPool2d: the input is not a multiple of the output size, so "
                 "the windows differ in size; shown: the largest")
    return Field(*axes)


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


def zero_pad(fields, ctx):
    p = ctx.params["padding"]
    left, _, top, _ = (p,) * 4 if isinstance(p, int) else p
    return fields[0].layer(1, 1, (top, left))


def upsample(fields, ctx):
    """Nearest by a whole factor: output unit o sees input unit ⌊o/s⌋ (exact). Otherwise
    the source position moves by in/out per unit and bilinear mixes two neighbours, so
    fields differ from unit to unit: shown, the two taps' field at the average step."""
    p, f = ctx.params, fields[0]
    s = p["scale_factor"]
    if p["mode"] == "nearest" and p["size"] is None and float(s).is_integer():
        return Field(f.h.transposed(int(s), int(s), 0), f.w.transposed(int(s), int(s), 0))
    ctx.warn(f"Upsample ({p['mode']}): neighbouring units see different fields; shown: "
             f"the field at the average step")
    axes = []
    for ax, n_in, n_out in zip((f.h, f.w), ctx.in_hw(), ctx.out_hw):
        ratio = Fraction(n_in, n_out)
        if p["mode"] == "nearest":
            axes.append(Axis(ax.r, ax.j * ratio, ax.u))
        else:  # two taps, centred on the source position (o + ½)·ratio − ½
            axes.append(Axis(ax.r + ax.j, ax.j * ratio, ax.u + (ratio / 2 - 1) * ax.j))
    return Field(*axes)


def normalised(fields, ctx):
    """LayerNorm/GroupNorm/InstanceNorm: every value is divided by statistics of the whole
    map, so each unit sees its own field and the whole input's."""
    hw = ctx.in_hw()
    if hw is None:
        return fields[0]
    x = fields[0]
    return join([x, x.whole(hw)], ctx.out_hw, ctx.warn)


RULES: dict[str, Rule] = {
    "Input": network_input,
    "Conv2d": conv2d,
    "DepthwiseSeparableConv": separable,
    "ConvTranspose2d": transposed,
    "MaxPool2d": pool,
    "AvgPool2d": pool,
    "AdaptiveAvgPool2d": adaptive_pool,
    "GlobalAvgPool": whole,
    "GlobalMaxPool": whole,
    "Flatten": whole,
    "Linear": pointwise,
    "Concat": merge,
    "Add": merge,
    "Multiply": merge,
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
    "Identity": pointwise,
    "ZeroPad2d": zero_pad,
    "Upsample": upsample,
    "LayerNorm": normalised,
    "GroupNorm": normalised,
    "InstanceNorm": normalised,
    "SpatialPyramidPooling": whole,
}
