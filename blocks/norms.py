"""Normalisations that need no batch statistics (the seed's comparison with BatchNorm):
LayerNorm over the whole per-sample shape, GroupNorm and InstanceNorm over [C, H, W]."""
import torch.nn as nn


class LayerNormLayer(nn.LayerNorm):
    """LayerNorm over every value of a sample ([C, H, W] or [F]), as nn.LayerNorm([C, H, W]);
    affine: a learned scale and shift per value."""

    def __init__(self, shape, affine=True, eps=1e-5):
        super().__init__(list(shape), eps=eps, elementwise_affine=affine)


class GroupNormLayer(nn.GroupNorm):
    """GroupNorm (Wu & He 2018): the channels split into `groups`, each normalised over its
    channels and H×W; affine: a learned scale and shift per channel."""

    def __init__(self, num_channels, groups=8, affine=True, eps=1e-5):
        super().__init__(groups, num_channels, eps=eps, affine=affine)


class InstanceNormLayer(nn.InstanceNorm2d):
    """InstanceNorm: each channel of each sample normalised over H×W (style transfer);
    affine: a learned scale and shift per channel. No running statistics, as torch's default."""

    def __init__(self, num_features, affine=False, eps=1e-5):
        super().__init__(num_features, eps=eps, affine=affine)
