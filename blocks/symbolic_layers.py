"""Symbolic stand-ins (see symbolic.py) for the padding, resizing and normalising layers.

FlopCounterMode counts none of them (no matrix multiply or convolution), so they only
shape, count parameters and refuse what torch refuses for the inputs the blocks give them.
"""
from __future__ import annotations

import math

from .symbolic import Module, SymbolicError, Tensor, _need_channels, _need_dims, _pair


class ZeroPad2d(Module):
    """Pads (left, right, top, bottom) of the last two axes."""

    def __init__(self, padding):
        self.pads = (padding,) * 4 if padding.__class__ is int else tuple(padding)
        if len(self.pads) != 4:
            raise SymbolicError("ZeroPad2d: padding must be an int or 4 values")

    def forward(self, x):
        left, right, top, bottom = self.pads
        h, w = x.shape[-2] + top + bottom, x.shape[-1] + left + right
        if h < 1 or w < 1:
            raise SymbolicError(f"the padded input would be {h}×{w}")
        return Tensor(x.shape[:-2] + (h, w))


class Upsample(Module):
    """To `size`, or ⌊n·scale⌋ along each axis (computed in double, as torch does)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        if (size is None) == (scale_factor is None):
            raise SymbolicError("only one of size or scale_factor should be defined")
        if align_corners is not None and mode == "nearest":
            raise SymbolicError("align_corners option can only be set with the interpolating "
                                "modes: linear | bilinear | bicubic | trilinear")
        self.size, self.scale, self.mode = size, scale_factor, mode

    def forward(self, x):
        _need_dims(x, (4,), f"upsample_{self.mode}2d")
        if self.size is not None:
            out = _pair(self.size)
        else:
            s = _pair(self.scale) if isinstance(self.scale, (tuple, list)) else (self.scale,) * 2
            out = tuple(int(float(n) * f) for n, f in zip(x.shape[2:], s))
        if min(out) < 1:  # torch's meta kernel returns an empty map, its CPU kernel refuses
            raise SymbolicError(f"Input and output sizes should be greater than 0, but got "
                                f"output ({out[0]}, {out[1]})")
        return Tensor(x.shape[:2] + tuple(out))


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        self.shape = ((normalized_shape,) if normalized_shape.__class__ is int
                      else tuple(normalized_shape))
        n = math.prod(self.shape)
        self._parameters((n + (n if bias else 0)) if elementwise_affine else 0)

    def forward(self, x):
        if x.shape[len(x.shape) - len(self.shape):] != self.shape:
            raise SymbolicError(f"Given normalized_shape={list(self.shape)}, expected input "
                                f"with shape [*, {', '.join(map(str, self.shape))}], but got "
                                f"input of size{list(x.shape)}")
        return x


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        if num_channels % num_groups:
            raise SymbolicError("num_channels must be divisible by num_groups")
        self.groups, self.c = num_groups, num_channels
        self._parameters(2 * num_channels if affine else 0)

    def forward(self, x):
        if len(x.shape) < 2:
            raise SymbolicError(f"Expected at least 2 dimensions for input tensor but "
                                f"received {len(x.shape)}")
        _need_channels(x, self.c, "group_norm")
        if x.shape[0] * self.c // self.groups * math.prod(x.shape[2:]) == 1:
            raise SymbolicError(f"Expected more than 1 value per channel when training, got "
                                f"input size {list(x.shape)}")
        return x


class InstanceNorm2d(Module):
    """Without running statistics it always normalises with the input's own: H·W > 1."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False):
        self.c = num_features
        self._parameters(2 * num_features if affine else 0)

    def forward(self, x):
        _need_dims(x, (3, 4), "InstanceNorm2d")
        if math.prod(x.shape[-2:]) == 1:
            raise SymbolicError(f"Expected more than 1 spatial element when training, got "
                                f"input size {list(x.shape)}")
        return x
