"""Layers that pass, pad or resize a feature map: Identity, ZeroPad2d, Upsample."""
import torch.nn as nn


class IdentityLayer(nn.Identity):
    """Passes its input through unchanged (a placeholder, e.g. an explicit skip path)."""


class ZeroPadLayer(nn.ZeroPad2d):
    """Zero padding of a [C, H, W] map: an int on every side, or (left, right, top, bottom)."""

    def __init__(self, padding=1):
        super().__init__(padding)

    def forward(self, x):
        if x.dim() != 4:  # F.pad would pad the batch axis of a flat input
            raise ValueError(f"ZeroPad2d needs a [C, H, W] input, got {list(x.shape[1:])}")
        return super().forward(x)


class UpsampleLayer(nn.Upsample):
    """Nearest or bilinear resizing of a [C, H, W] map to `size` ([h, w] or an int) or, when
    size is None, by `scale_factor` (output ⌊H·scale⌋ × ⌊W·scale⌋)."""

    def __init__(self, scale_factor=2.0, size=None, mode="nearest", align_corners=False):
        if mode == "nearest" and align_corners:
            raise ValueError("Upsample: align_corners applies only to bilinear resizing")
        super().__init__(size=size, scale_factor=None if size is not None else scale_factor,
                         mode=mode, align_corners=align_corners if mode != "nearest" else None)
