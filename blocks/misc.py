"""Other blocks: Squeeze-and-Excitation and a DenseNet dense block."""
import torch
import torch.nn as nn


class SqueezeExcite(nn.Module):
    """GAP → Linear C/r → ReLU → Linear C → sigmoid → scale the channels."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"SqueezeExcite: reduction {reduction} is larger than the "
                             f"{channels} channels")
        self.fc = nn.Sequential(nn.Linear(channels, hidden, bias=False), nn.ReLU(),
                                nn.Linear(hidden, channels, bias=False), nn.Sigmoid())

    def forward(self, x):
        scale = self.fc(x.mean(dim=(2, 3)))
        return x * scale[:, :, None, None]


class DenseBlock(nn.Module):
    """Each layer: BN-ReLU-1×1(bn_size·growth)-BN-ReLU-3×3(growth) on the concat of all
    before (torchvision's _DenseLayer, bn_size 4), then dropout when drop_rate > 0."""

    def __init__(self, in_channels, growth_rate=32, layers=4, bn_size=4, drop_rate=0.0):
        super().__init__()
        self.layers = nn.ModuleList()
        width = bn_size * growth_rate
        for i in range(layers):
            c = in_channels + i * growth_rate
            layer = [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, width, 1, bias=False),
                     nn.BatchNorm2d(width), nn.ReLU(),
                     nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)]
            if drop_rate > 0:  # after the parameters: their indices stay the same
                layer.append(nn.Dropout(drop_rate))
            self.layers.append(nn.Sequential(*layer))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)
