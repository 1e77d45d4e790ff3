"""VGG block (Simonyan & Zisserman 2014)."""
import torch.nn as nn

from .common import ConvBNAct


class VGGBlock(nn.Module):
    """`convs` × (3×3 conv, same padding, ReLU), then a 2×2 max-pool with stride 2."""

    def __init__(self, in_channels, filters=64, convs=2, batch_norm=False, eps=1e-5,
                 momentum=0.1):
        super().__init__()
        layers = []
        for i in range(convs):
            layers.append(ConvBNAct(in_channels if i == 0 else filters, filters, 3,
                                    padding=1, batch_norm=batch_norm, eps=eps,
                                    momentum=momentum))
        self.convs = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(2, stride=2)

    def forward(self, x):
        return self.pool(self.convs(x))
