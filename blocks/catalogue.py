"""The block specs, in palette order. BLOCKS.md is the reference for ids, params, defaults."""
from __future__ import annotations

from . import checks as ck
from .spec import (ACTIVATIONS, BOOL, CHOICE, FLOAT, INT, KERNEL, PADDING, PAIR, SHAPE,
                   BlockSpec, Param)

CATEGORIES = ("Input", "Convolution", "Pooling", "Resize & padding", "Dense", "Merge",
              "Normalization & regularization", "Activation", "VGG", "Inception",
              "Residual", "Inception-ResNet", "Mobile & compact", "Other blocks")


# --- module constructor arguments ----------------------------------------------------------

def _tupled(params):
    """params with lists as tuples; params itself (not a copy) when it holds no list."""
    if list not in map(type, params.values()):  # the usual case: nothing to convert
        return params
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def channels_args(in_shapes, params):
    """in_channels read off the input, then every param under its own name."""
    return {"in_channels": in_shapes[0][0], **_tupled(params)}


def params_args(in_shapes, params):
    args = _tupled(params)
    return dict(args) if args is params else args  # a new dict: callers may edit it


def no_args(in_shapes, params):
    return {}


def linear_args(in_shapes, params):
    return {"in_features": in_shapes[0][0], **params}


def batchnorm_args(in_shapes, params):
    return {"num_features": in_shapes[0][0], "flat": len(in_shapes[0]) == 1, **params}


def se_args(in_shapes, params):
    return {"channels": in_shapes[0][0], **params}


# --- checks shared by every spec --------------------------------------------------------------

def _with_arity(type_id, inputs, check):
    def checked(in_shapes, params):
        in_shapes = [tuple(s) for s in in_shapes]
        if inputs == "one" and len(in_shapes) != 1:
            return (f"{type_id} takes one input but has {len(in_shapes)} — "
                    f"connect exactly one block to it")
        if inputs == "none" and in_shapes:
            return f"{type_id} takes no inputs — remove the edges into it"
        if inputs == "many" and not in_shapes:
            return f"{type_id} needs at least one input — connect blocks to it"
        return check(in_shapes, params) if check else None
    checked.__name__ = f"check_{type_id}"
    return checked


def _builder(spec_box, module_args):
    def build(in_shapes, params):  # imports the module class (and torch) on first use
        return spec_box[0].module(**module_args(in_shapes, params))
    return build


def block(type_id, category, module, params, doc, builds, key_params=(), inputs="one",
          check=None, args=channels_args):
    """module: "file:Class" of the nn.Module inside blocks/, e.g. "layers:ConvLayer"."""
    assert category in CATEGORIES, category
    box = []
    spec = BlockSpec(
        type_id=type_id, category=category, doc=doc, params=tuple(params),
        build=_builder(box, args), inputs=inputs, check=_with_arity(type_id, inputs, check),
        key_params=tuple(key_params), builds=builds, module_path=module, module_args=args)
    box.append(spec)
    return spec


# --- params ----------------------------------------------------------------------------------

def count(name, default, doc, lo=1, hi=8192):
    return Param(name, INT, default, doc, min=lo, max=hi)


def act(name="activation", default="relu", doc="activation after the layer"):
    return Param(name, CHOICE, default, doc, choices=ACTIVATIONS)


def bn(default):
    return Param("batch_norm", BOOL, default, "BatchNorm after each conv (its convs lose the bias)")


# BatchNorm's own settings, on every block that has a BatchNorm (torch's names and defaults)
BN_OPTIONS = (
    Param("eps", FLOAT, 1e-5, "BatchNorm epsilon added to the variance (torch: 1e-5; "
          "torchvision's GoogLeNet / Inception-v3 and timm's Inception nets: 0.001)",
          min=1e-12, max=1.0),
    Param("momentum", FLOAT, 0.1, "BatchNorm running-statistics momentum (training only; "
          "torch: 0.1, TF ports: 0.003 or 0.01)", min=0.0, max=1.0),
)


BIAS = Param("bias", CHOICE, "auto", 'conv bias: "auto" has one only without BatchNorm; true / '
             'false force it (DenseNet transitions, pre-activation nets: false)',
             choices=("auto", True, False))


def kernel(default, doc="kernel size, int or [kh, kw]"):
    return Param("kernel_size", KERNEL, default, doc, min=1, max=31)


def stride(default=1, doc="step of the kernel"):
    return Param("stride", INT, default, doc, min=1, max=16)


POOL = (
    Param("pool_size", KERNEL, 2, "pooling window, int or [kh, kw]", min=1, max=31),
    Param("stride", PAIR, None, "step of the window, int or [sh, sw] (empty = pool_size)",
          min=1, max=31),
    Param("padding", PADDING, "valid", '"valid" (none), "same" ((k-1)//2 each side), or an '
          'int or [ph, pw] on each side (at most half the window)'),
    Param("ceil_mode", BOOL, False, "round the output size up instead of down (torchvision's "
          "GoogLeNet and SqueezeNet); the last window still starts inside the input"),
)
COUNT_INCLUDE_PAD = Param(
    "count_include_pad", BOOL, True, "average over the padding zeros too (torch's default); "
    "false divides by the input values under the window only (timm's Inception nets)")
IR_VARIANT = Param("variant", CHOICE, "v1", "branch widths of Inception-ResNet-v1 or v2",
                   choices=("v1", "v2"))
IR_SCALE = Param("scale", FLOAT, 0.1, "residual scaling: out = ReLU(x + scale·branch)",
                 min=0.0, max=1.0)
IR_RELU = Param("relu", BOOL, True, "ReLU after the residual add; false: x + scale·branch "
                "(the last block of timm / TF-slim Inception-ResNet-v2)")
BRANCH_ORDER = Param("branch_order", CHOICE, "paper",
                     'order of the concatenated branches: "paper", or "timm" as timm / TF-slim '
                     "(pool last; the v4 stem's 1×7 before its 7×1) so their weights map as is",
                     choices=("paper", "timm"))

_SPECS = [
    BlockSpec(type_id="Input", category="Input", doc="The network input.",
              params=(Param("shape", SHAPE, [3, 224, 224],
                            "per-sample shape [C, H, W] (or [F]), no batch dimension"),),
              build=None, inputs="none", key_params=("shape",),
              check=_with_arity("Input", "none", None),
              builds="A placeholder for the input tensor; one per graph."),

    # Convolution
    block("Conv2d", "Convolution", "layers:ConvLayer", (
        count("filters", 64, "number of output channels"),
        kernel(3),
        Param("stride", PAIR, 1, "step of the kernel, int or [sh, sw]", min=1, max=16),
        Param("padding", PADDING, "same", '"same" keeps H×W at stride 1, "valid" is none, '
              'or an int or [ph, pw] on each side'),
        Param("dilation", PAIR, 1, "spacing between kernel taps, int or [dh, dw]", min=1, max=16),
        count("groups", 1, "grouped conv: splits channels into groups (must divide both)"),
        act(),
        bn(False),
        *BN_OPTIONS,
        BIAS,
    ), "2-D convolution with optional BatchNorm and activation.",
        "Conv2d → (BatchNorm2d) → activation.",
        key_params=("filters", "kernel_size", "stride"), check=ck.check_conv2d),
    block("DepthwiseSeparableConv", "Convolution", "layers:DepthwiseSeparableConv", (
        count("filters", 64, "number of output channels"),
        kernel(3),
        stride(),
        bn(True),
        act(),
        *BN_OPTIONS,
        BIAS,
    ), "MobileNet-style depthwise separable convolution.",
        "Depthwise k×k conv (groups = C, same padding) then pointwise 1×1 conv, each "
        "conv-BN-activation.",
        key_params=("filters", "kernel_size", "stride"), check=ck.check_separable),
    block("ConvTranspose2d", "Convolution", "layers:TransposedConvLayer", (
        count("filters", 64, "number of output channels"),
        kernel(2),
        stride(2, "upsampling factor"),
        Param("padding", INT, 0, "rows/columns removed from each side of the output",
              min=0, max=64),
        act(),
        BIAS,
    ), "Transposed convolution for upsampling.",
        "ConvTranspose2d (with bias unless bias is false) → activation; output "
        "(H−1)·stride − 2·padding + k.",
        key_params=("filters", "kernel_size", "stride"), check=ck.check_transposed),

    # Pooling
    block("MaxPool2d", "Pooling", "layers:MaxPoolLayer", POOL, "Max pooling.",
          "MaxPool2d over pool_size windows.", key_params=("pool_size", "stride"),
          check=ck.pool_check("MaxPool2d"), args=params_args),
    block("AvgPool2d", "Pooling", "layers:AvgPoolLayer", (*POOL, COUNT_INCLUDE_PAD),
          "Average pooling.",
          "AvgPool2d over pool_size windows.", key_params=("pool_size", "stride"),
          check=ck.pool_check("AvgPool2d"), args=params_args),
    block("AdaptiveAvgPool2d", "Pooling", "layers:AdaptiveAvgPoolLayer", (
        Param("output_size", PAIR, 7, "output H×W, int or [h, w], whatever the input's size "
              "(torchvision VGG / AlexNet heads: 7 / 6)", min=1, max=1024),
    ), "Adaptive average pooling to a fixed size.",
        "AdaptiveAvgPool2d: [C, H, W] → [C, h, w], each output averaging its share of the "
        "input (windows differ in size when H is not a multiple of h).",
        key_params=("output_size",), check=ck.image_check("AdaptiveAvgPool2d"),
        args=params_args),
    block("GlobalAvgPool", "Pooling", "layers:GlobalAvgPool", (), "Global average pooling.",
          "Averages each channel over H and W: [C, H, W] → [C].",
          check=ck.image_check("GlobalAvgPool"), args=no_args),
    block("GlobalMaxPool", "Pooling", "layers:GlobalMaxPool", (), "Global max pooling.",
          "Takes each channel's maximum over H and W: [C, H, W] → [C].",
          check=ck.image_check("GlobalMaxPool"), args=no_args),

    # Dense
    block("Flatten", "Dense", "layers:FlattenLayer", (), "Flattens to a vector.",
          "Reshapes [C, H, W] to [C·H·W].", args=no_args),
    block("Linear", "Dense", "layers:LinearLayer", (
        count("units", 10, "number of output features", hi=65536),
        act(default="none"),
    ), "Fully connected layer.", "Linear (with bias) → activation; needs a flat input.",
        key_params=("units", "activation"), check=ck.check_linear, args=linear_args),

    # Merge
    block("Concat", "Merge", "layers:Concat", (), "Concatenate inputs on the channel axis.",
          "Joins its inputs on the channel axis in input-port order; H and W must match.",
          inputs="many", check=ck.check_concat, args=no_args),
    block("Add", "Merge", "layers:Add", (), "Element-wise sum.",
          "Adds inputs of identical shape element-wise.",
          inputs="many", check=ck.check_add, args=no_args),
    block("Multiply", "Merge", "layers:Multiply", (), "Element-wise product (channel gates).",
          "Multiplies its inputs element-wise, broadcasting as torch does: a [C] or "
          "[C, 1, 1] gate scales each channel of a [C, H, W] map.",
          inputs="many", check=ck.check_multiply, args=no_args),

    # Normalization & regularization
    block("Dropout", "Normalization & regularization", "layers:DropoutLayer", (
        Param("rate", FLOAT, 0.5, "fraction of values zeroed while training",
              min=0.0, max=0.99),
    ), "Dropout.", "Zeroes a random fraction `rate` of values while training.",
        key_params=("rate",), args=params_args),
    block("BatchNorm", "Normalization & regularization", "layers:BatchNormLayer", BN_OPTIONS,
          "Batch normalization.",
          "BatchNorm2d on a [C, H, W] input, BatchNorm1d on a flat [F] input.",
          key_params=("eps",), check=ck.check_batchnorm, args=batchnorm_args),

    # Activation
    block("Activation", "Activation", "layers:ActivationLayer", (
        Param("function", CHOICE, "relu", "the function (softmax is over channels)",
              choices=ACTIVATIONS[1:] + ("softmax",)),
    ), "An activation function.", "Applies the activation function element-wise.",
        key_params=("function",), args=params_args),

    # VGG
    block("VGGBlock", "VGG", "vgg:VGGBlock", (
        count("filters", 64, "channels of every conv"),
        count("convs", 2, "number of 3×3 convs before the pool", hi=64),
        bn(False),
        *BN_OPTIONS,
    ), "VGG block.", "convs × (3×3 conv, same, ReLU), then a 2×2 max-pool with stride 2.",
        key_params=("filters", "convs"), check=ck.check_vgg),

    # Inception
    block("NaiveInception", "Inception", "inception:NaiveInception", (
        count("f1", 64, "1×1 conv filters"),
        count("f3", 128, "3×3 conv filters"),
        count("f5", 32, "5×5 conv filters"),
    ), "Naive Inception module.",
        "Parallel 1×1, 3×3, 5×5 convs (same, ReLU) and a 3×3 max-pool (stride 1, same) of "
        "the input, concatenated: f1+f3+f5+C channels.",
        key_params=("f1", "f3", "f5"), check=ck.image_check("NaiveInception")),
    block("Inception", "Inception", "inception:Inception", (
        count("f1", 64, "1×1 branch filters"),
        count("f3_reduce", 96, "1×1 reduction before the 3×3"),
        count("f3", 128, "3×3 branch filters"),
        count("f5_reduce", 16, "1×1 reduction before the 5×5"),
        count("f5", 32, "5×5 branch filters"),
        count("pool_proj", 32, "1×1 projection after the 3×3 max-pool"),
        bn(False),
        *BN_OPTIONS,
    ), "GoogLeNet Inception module.",
        "Branches 1×1 · 1×1→3×3 · 1×1→5×5 · 3×3 max-pool→1×1, concatenated: "
        "f1+f3+f5+pool_proj channels.",
        key_params=("f1", "f3", "f5"), check=ck.image_check("Inception")),

    # Residual
    block("Residual", "Residual", "resnet:Residual", (
        count("filters", 64, "channels of both 3×3 convs"),
        stride(1, "stride of the first conv and the projection"),
        bn(True),
        *BN_OPTIONS,
    ), "ResNet basic block.",
        "conv3×3(stride)-BN-ReLU, conv3×3-BN, plus identity or 1×1 projection shortcut, "
        "then ReLU.",
        key_params=("filters", "stride"), check=ck.image_check("Residual")),
    block("Bottleneck", "Residual", "resnet:Bottleneck", (
        count("filters", 64, "width of the 1×1 and 3×3 convs"),
        stride(1, "stride of the 3×3 conv and the projection"),
        count("expansion", 4, "output channels = filters · expansion", hi=16),
        bn(True),
        *BN_OPTIONS,
    ), "ResNet bottleneck block.",
        "1×1, 3×3 (stride), 1×1 ×expansion convs with BN, plus identity or 1×1 projection "
        "shortcut, then ReLU.",
        key_params=("filters", "stride", "expansion"), check=ck.image_check("Bottleneck")),
    block("ResNetStem", "Residual", "resnet:ResNetStem", (
        count("filters", 64, "channels of the 7×7 conv"),
        *BN_OPTIONS,
    ), "ResNet stem.", "7×7 conv stride 2 -BN-ReLU, then 3×3 max-pool stride 2: H/4 × W/4.",
        key_params=("filters",), check=ck.image_check("ResNetStem")),

    # Inception-ResNet
    block("InceptionStem", "Inception-ResNet", "inception_resnet:InceptionStem", (
        Param("variant", CHOICE, "resnet_v1",
              "resnet_v1: Inception-ResNet-v1 stem (256 ch); v4: Inception-v4 / "
              "Inception-ResNet-v2 stem (384 ch)", choices=("resnet_v1", "v4")),
        *BN_OPTIONS,
        BRANCH_ORDER,
    ), "Inception-v4 / Inception-ResNet stem.",
        "Conv-BN-ReLU stem taking 299×299×3 to 35×35×256 (resnet_v1) or 35×35×384 (v4).",
        key_params=("variant",), check=ck.check_stem),
    block("InceptionResNetA", "Inception-ResNet", "inception_resnet:InceptionResNetA",
          (IR_VARIANT, IR_SCALE, IR_RELU, *BN_OPTIONS),
          "Inception-ResNet-A block (35×35).",
          "Branches 1×1 · 1×1→3×3 · 1×1→3×3→3×3, concat, linear 1×1 back to C, "
          "ReLU(x + scale·branch) (no ReLU with relu false).", key_params=("variant", "scale"),
          check=ck.image_check("InceptionResNetA")),
    block("InceptionResNetB", "Inception-ResNet", "inception_resnet:InceptionResNetB",
          (IR_VARIANT, IR_SCALE, IR_RELU, *BN_OPTIONS),
          "Inception-ResNet-B block (17×17).",
          "Branches 1×1 · 1×1→1×7→7×1, concat, linear 1×1 back to C, "
          "ReLU(x + scale·branch) (no ReLU with relu false).", key_params=("variant", "scale"),
          check=ck.image_check("InceptionResNetB")),
    block("InceptionResNetC", "Inception-ResNet", "inception_resnet:InceptionResNetC",
          (IR_VARIANT, IR_SCALE, IR_RELU, *BN_OPTIONS),
          "Inception-ResNet-C block (8×8).",
          "Branches 1×1 · 1×1→1×3→3×1, concat, linear 1×1 back to C, "
          "ReLU(x + scale·branch) (no ReLU with relu false).", key_params=("variant", "scale"),
          check=ck.image_check("InceptionResNetC")),
    block("ReductionA", "Inception-ResNet", "inception_resnet:ReductionA", (
        count("k", 192, "1×1 conv filters of the deep branch"),
        count("l", 224, "middle 3×3 conv filters of the deep branch"),
        count("m", 256, "last 3×3 stride-2 conv filters of the deep branch"),
        count("n", 384, "3×3 stride-2 conv filters of the short branch"),
        *BN_OPTIONS,
        BRANCH_ORDER,
    ), "Reduction-A (35×35 → 17×17).",
        "3×3 max-pool s2 · 3×3 n s2 · 1×1 k→3×3 l→3×3 m s2 (valid), concatenated: "
        "C+n+m channels.",
        key_params=("m", "n"), check=ck.reduction_check("ReductionA")),
    block("ReductionB", "Inception-ResNet", "inception_resnet:ReductionB", (
        Param("variant", CHOICE, "v4", "branch layout of Inception-v4, -ResNet-v1 or -ResNet-v2",
              choices=("v4", "resnet_v1", "resnet_v2")),
        *BN_OPTIONS,
        BRANCH_ORDER,
    ), "Reduction-B (17×17 → 8×8).",
        "3×3 max-pool s2 and conv branches ending in 3×3 s2 valid convs, concatenated.",
        key_params=("variant",), check=ck.reduction_check("ReductionB")),

    # Other blocks
    block("SqueezeExcite", "Other blocks", "misc:SqueezeExcite", (
        count("reduction", 16, "channel reduction ratio r of the hidden layer", hi=1024),
        Param("squeeze_channels", INT, None, "hidden width (empty = C // reduction; "
              "torchvision / timm compute it, e.g. 8-divisible)", min=1, max=8192),
        Param("bias", BOOL, False, "biases on both FC layers (torchvision and timm: true)"),
        act(doc="activation after the first FC (EfficientNet: silu)"),
        Param("gate", CHOICE, "sigmoid", "the gate's function (MobileNetV3: hardsigmoid)",
              choices=("sigmoid", "hardsigmoid")),
        Param("fc", CHOICE, "linear", 'FC layers as "linear" layers on the pooled [C], or '
              '"conv" 1×1 convs on the pooled [C, 1, 1] (torchvision / timm weight shapes)',
              choices=("linear", "conv")),
    ), "Squeeze-and-Excitation channel attention.",
        "GAP → FC C/r → ReLU → FC C → sigmoid, scaling each channel of the input (FCs, "
        "biases, activation and gate as set).",
        key_params=("reduction",), check=ck.check_se, args=se_args),
    block("DenseBlock", "Other blocks", "misc:DenseBlock", (
        count("growth_rate", 32, "channels each layer adds", hi=1024),
        count("layers", 4, "number of layers", hi=64),
        count("bn_size", 4, "width of each layer's 1×1 bottleneck, in multiples of "
                            "growth_rate", hi=16),
        Param("drop_rate", FLOAT, 0.0, "dropout after each layer while training",
              min=0.0, max=0.99),
        *BN_OPTIONS,
    ), "DenseNet dense block.",
        "Each layer BN-ReLU-1×1(bn_size·growth)-BN-ReLU-3×3(growth) on the concat of all "
        "earlier outputs: C + layers·growth channels.",
        key_params=("growth_rate", "layers"), check=ck.image_check("DenseBlock")),
]


def _family_specs() -> list[BlockSpec]:
    """The block families added for real models (SqueezeNet, DenseNet, MobileNet /
    EfficientNet, SPP) and the resizing/normalising layers; they use the helpers above."""
    from .catalogue_families import FAMILY_SPECS
    return FAMILY_SPECS


_SPECS += _family_specs()

SPECS: tuple[BlockSpec, ...] = tuple(
    sorted(_SPECS, key=lambda s: CATEGORIES.index(s.category)))  # stable: palette order
