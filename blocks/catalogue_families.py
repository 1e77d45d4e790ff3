"""Block families real models use beyond the seeds' classics: SqueezeNet's Fire, DenseNet's
transition, MobileNetV2/EfficientNet's inverted residual, spatial pyramid pooling, and the
resizing and normalising layers. Same registry, same helpers as catalogue.py."""
from __future__ import annotations

from . import checks as ck
from . import checks_families as fk
from .catalogue import block, count
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

    # Other blocks
    block("DenseTransition", "Other blocks", "densenet:DenseTransition", (
        Param("compression", FLOAT, 0.5, "θ: the 1×1 conv keeps ⌊θ·C⌋ channels",
              min=0.01, max=1.0),
    ), "DenseNet transition layer.",
        "BN → ReLU → 1×1 conv (no bias) to ⌊compression·C⌋ channels → 2×2 average pool "
        "stride 2 (torchvision's _Transition).",
        key_params=("compression",), check=fk.check_transition),
]
