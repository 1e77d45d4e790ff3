"""Block families real models use beyond the seeds' classics: SqueezeNet's Fire, DenseNet's
transition, MobileNetV2/EfficientNet's inverted residual, spatial pyramid pooling, and the
resizing and normalising layers. Same registry, same helpers as catalogue.py."""
from __future__ import annotations

from . import checks as ck
from . import checks_families as fk
from .catalogue import act, block, count
from .spec import FLOAT, Param

FAMILY_SPECS = [
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
    ), "Inverted residual (MobileNetV2) / MBConv (EfficientNet).",
        "1×1 expand (×expand_ratio) → k×k depthwise (stride) → optional squeeze-and-"
        "excitation → linear 1×1 projection, each conv-BN; adds the input when stride 1 and "
        "C == filters (torchvision's InvertedResidual and MBConv).",
        key_params=("filters", "expand_ratio", "stride"), check=fk.check_inverted_residual),

    # Other blocks
    block("DenseTransition", "Other blocks", "densenet:DenseTransition", (
        Param("compression", FLOAT, 0.5, "θ: the 1×1 conv keeps ⌊θ·C⌋ channels",
              min=0.01, max=1.0),
    ), "DenseNet transition layer.",
        "BN → ReLU → 1×1 conv (no bias) to ⌊compression·C⌋ channels → 2×2 average pool "
        "stride 2 (torchvision's _Transition).",
        key_params=("compression",), check=fk.check_transition),
]
