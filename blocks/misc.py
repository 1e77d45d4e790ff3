"""Other blocks: Squeeze-and-Excitation and a DenseNet dense block."""
import torch
import torch.nn as nn

from .common import make_activation


class SqueezeExcite(nn.Module):
    """GAP → FC C→hidden → activation → FC hidden→C → gate → scale the channels.

    hidden is squeeze_channels, else C // reduction. The two FCs are Linear layers, or with
    fc="conv" 1×1 convs on the pooled [C, 1, 1] map (torchvision's SqueezeExcitation and
    timm's SEModule: there with bias=True, and gate hardsigmoid in MobileNetV3)."""

    def __init__(self, channels, reduction=16, squeeze_channels=None, bias=False,
                 activation="relu", gate="sigmoid", fc="linear"):
        super().__init__()
        hidden = squeeze_channels or channels // reduction
        if hidden < 1:
            raise ValueError(f"SqueezeExcite: reduction {reduction} is larger than the "
                             f"{channels} channels")
        self.conv = fc == "conv"
        if self.conv:
            squeeze = nn.Conv2d(channels, hidden, 1, bias=bias)
            excite = nn.Conv2d(hidden, channels, 1, bias=bias)
        else:
            squeeze = nn.Linear(channels, hidden, bias=bias)
            excite = nn.Linear(hidden, channels, bias=bias)
        self.fc = nn.Sequential(squeeze, make_activation(activation), excite,
                                make_activation(gate))

    def forward(self, x):
        if self.conv:
            return x * self.fc(x.mean(dim=(2, 3), keepdim=True))
        scale = self.fc(x.mean(dim=(2, 3)))
        return x * scale[:, :, None, None]


class DenseBlock(nn.Module):
    """Each layer: BN-ReLU-1×1(bn_size·growth)-BN-ReLU-3×3(growth) on the concat of all
    before (torchvision's _DenseLayer, bn_size 4), then dropout when drop_rate > 0."""

    def __init__(self, in_channels, growth_rate=32, layers=4, bn_size=4, drop_rate=0.0,
                 eps=1e-5, momentum=0.1):
        super().__init__()
        self.layers = nn.ModuleList()
        width = bn_size * growth_rate
        for i in range(layers):
            c = in_channels + i * growth_rate
            layer = [nn.BatchNorm2d(c, eps=eps, momentum=momentum), nn.ReLU(),
                     nn.Conv2d(c, width, 1, bias=False),
                     nn.BatchNorm2d(width, eps=eps, momentum=momentum), nn.ReLU(),
                     nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)]
            if drop_rate > 0:  # after the parameters: their indices stay the same
                layer.append(nn.Dropout(drop_rate))
            self.layers.append(nn.Sequential(*layer))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)
