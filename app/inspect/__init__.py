"""Look inside a trained network: feature maps and Grad-CAM for one sample. GUI-free.

`core` does the maths on tensors, `render` turns results into Pillow images (the CLI saves
them, the editor's dialogs show them), `command` is `netcanvas inspect`.
"""
from .core import (
    InspectError,
    Inspector,
    feature_maps,
    grad_cam,
    load_image,
    load_inspector,
)

__all__ = ["InspectError", "Inspector", "feature_maps", "grad_cam", "load_image",
           "load_inspector"]
