"""Block families real models use beyond the seeds' classics: SqueezeNet's Fire, DenseNet's
transition, MobileNetV2/EfficientNet's inverted residual, spatial pyramid pooling, and the
resizing and normalising layers. Same registry, same helpers as catalogue.py."""
from __future__ import annotations

from . import checks as ck
from . import checks_families as fk
from .catalogue import BN_OPTIONS, act, block, count, no_args, params_args
from .spec import BOOL, CHOICE, FLOAT, KERNEL, LEVELS, MAX_SIZE, PADS, Param


def upsample_args(in_shapes, params):
    """scale_factor only when no size is set (it is unused then)."""
    args = params_args(in_shapes, params)
    if args["size"] is not None:
        del args["scale_factor"]
    return args


def shape_args(in_shapes, params):
    return {"shape": list(in_shapes[0]), **params}


def groupnorm_args(in_shapes, params):
    return {"num_channels": in_shapes[0][0], **params}


def instancenorm_args(in_shapes, params):
    return {"num_features": in_shapes[0][0], **params}


def eps(doc="added to the variance before dividing, for stability"):
    return Param("eps", FLOAT, 1e-5, doc, min=1e-12, max=1.0)


def affine(default):
    return Param("affine", BOOL, default, "learn a scale and a shift after normalising")


FAMILY_SPECS = [
    # Pooling
    block("SpatialPyramidPooling", "Pooling", "spp:SpatialPyramidPooling", (
        Param("levels", LEVELS, [1, 2, 4], "pyramid levels: each pools the map into l×l bins",
              max=16),
        Param("pool", CHOICE, "max", "max (SPP-net) or average pooling in each bin",
              choices=("max", "avg")),
    ), "Spatial pyramid pooling (SPP-net).",
        "Pools each channel into l×l bins for every level l (as adaptive pooling cuts them), "
        "flattened level by level: a [C·Σl²] vector for any H×W.",
        key_params=("levels", "pool"), check=ck.image_check("SpatialPyramidPooling"),
        args=params_args),

    # Resize & padding
    block("ZeroPad2d", "Resize & padding", "shaping:ZeroPadLayer", (
        Param("padding", PADS, 1, "zeros added: an int on every side, or [left, right, top, "
              "bottom]", max=64),
    ), "Zero padding.", "Adds rows and columns of zeros around each channel: "
        "[C, H + top + bottom, W + left + right].",
        key_params=("padding",), check=ck.image_check("ZeroPad2d"), args=params_args),
    block("Upsample", "Resize & padding", "shaping:UpsampleLayer", (
        Param("scale_factor", FLOAT, 2.0, "output ⌊H·scale⌋ × ⌊W·scale⌋ (when size is not set)",
              min=0.01, max=64.0),
        Param("size", KERNEL, None, "output size, int or [h, w] (empty: use scale_factor)",
              min=1, max=MAX_SIZE),
        Param("mode", CHOICE, "nearest", "nearest neighbour or bilinear interpolation",
              choices=("nearest", "bilinear")),
        Param("align_corners", BOOL, False, "bilinear only: corner pixels of input and output "
              "aligned"),
    ), "Upsampling (nearest / bilinear).",
        "Resizes each channel by scale_factor, or to size, by nearest-neighbour or bilinear "
        "interpolation (nn.Upsample).",
        key_params=("scale_factor", "mode"), check=fk.check_upsample, args=upsample_args),

    # Normalization & regularization
    block("LayerNorm", "Normalization & regularization", "norms:LayerNormLayer", (
        affine(True), eps(),
    ), "Layer normalization.",
        "Normalises each sample over all of its values ([C, H, W] or [F]), as "
        "nn.LayerNorm([C, H, W]); affine: a scale and shift per value.",
        key_params=("affine",), args=shape_args),
    block("GroupNorm", "Normalization & regularization", "norms:GroupNormLayer", (
        count("groups", 8, "number of channel groups; must divide C (the paper: 32)",
              hi=1024),
        affine(True), eps(),
    ), "Group normalization.",
        "Splits the channels into groups and normalises each group of each sample over its "
        "channels and H×W; affine: a scale and shift per channel.",
        key_params=("groups",), check=fk.check_groupnorm, args=groupnorm_args),
    block("InstanceNorm", "Normalization & regularization", "norms:InstanceNormLayer", (
        affine(False), eps(),
    ), "Instance normalization.",
        "Normalises each channel of each sample over H×W (no running statistics, as torch's "
        "InstanceNorm2d); affine: a scale and shift per channel.",
        key_params=("affine",), check=fk.check_instancenorm, args=instancenorm_args),

    # Mobile & compact
    block("Fire", "Mobile & compact", "squeezenet:Fire", (
        count("s1x1", 16, "squeeze: 1×1 conv filters"),
        count("e1x1", 64, "expand: 1×1 conv filters"),
        count("e3x3", 64, "expand: 3×3 conv filters"),
    ), "SqueezeNet Fire module.",
        "Squeeze 1×1 conv + ReLU, then expand 1×1 and 3×3 (padding 1) convs, each + ReLU, "
        "concatenated: e1x1 + e3x3 channels (torchvision's Fire).",
        key_params=("s1x1", "e1x1", "e3x3"), check=ck.image_check("Fire")),
    block("InvertedResidual", "Mobile & compact", "mobilenet:InvertedResidual", (
        count("filters", 16, "output channels of the linear 1×1 projection"),
        Param("expand_ratio", FLOAT, 6.0, "t: the 1×1 expansion widens to round(t·C) "
              "channels (none at 1)", min=1.0, max=16.0),
        count("stride", 1, "stride of the depthwise conv (the input is added back at 1 "
                           "when C == filters)", hi=2),
        count("kernel_size", 3, "depthwise kernel, odd (EfficientNet: 3 or 5)", hi=15),
        Param("se_ratio", FLOAT, 0.0, "squeeze-and-excitation to ⌊se_ratio·C⌋ channels of "
              "the input (0: none; EfficientNet: 0.25)", min=0.0, max=1.0),
        act(default="relu6", doc="activation after the expansion and the depthwise conv "
                                 "(MobileNetV2 relu6, EfficientNet silu)"),
        *BN_OPTIONS,
        Param("drop_path", FLOAT, 0.0, "stochastic depth while training: the chance that a "
              "sample skips the block (only when the input is added back)", min=0.0, max=0.9),
    ), "Inverted residual (MobileNetV2) / MBConv (EfficientNet).",
        "1×1 expand (×expand_ratio) → k×k depthwise (stride) → optional squeeze-and-"
        "excitation → linear 1×1 projection, each conv-BN; adds the input when stride 1 and "
        "C == filters (torchvision's InvertedResidual and MBConv).",
        key_params=("filters", "expand_ratio", "stride"), check=fk.check_inverted_residual),

    # Other blocks
    block("DenseTransition", "Other blocks", "densenet:DenseTransition", (
        Param("compression", FLOAT, 0.5, "θ: the 1×1 conv keeps ⌊θ·C⌋ channels",
              min=0.01, max=1.0),
        *BN_OPTIONS,
    ), "DenseNet transition layer.",
        "BN → ReLU → 1×1 conv (no bias) to ⌊compression·C⌋ channels → 2×2 average pool "
        "stride 2 (torchvision's _Transition).",
        key_params=("compression",), check=fk.check_transition),
    block("Identity", "Other blocks", "shaping:IdentityLayer", (), "Identity (no-op).",
          "Passes its input through unchanged: a placeholder or an explicit skip path.",
          args=no_args),
]
