"""ResNet blocks (He et al. 2015; torchvision v1.5 layout)."""
import torch.nn as nn

from .common import ConvBNAct


def resnet_shortcut(in_channels, out_channels, stride, batch_norm, eps=1e-5, momentum=0.1):
    """Shortcut: identity, or a 1×1 conv (stride) + BN; without BN the conv has a bias and ReLU."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvBNAct(in_channels, out_channels, 1, stride, batch_norm=batch_norm,
                     activation="none" if batch_norm else "relu", eps=eps, momentum=momentum)


class Residual(nn.Module):
    """Basic block: conv3×3(stride)-BN-ReLU, conv3×3-BN, plus shortcut, then ReLU."""

    def __init__(self, in_channels, filters=64, stride=1, batch_norm=True, eps=1e-5,
                 momentum=0.1):
        super().__init__()
        bn = {"batch_norm": batch_norm, "eps": eps, "momentum": momentum}
        self.conv1 = ConvBNAct(in_channels, filters, 3, stride, 1, **bn)
        self.conv2 = ConvBNAct(filters, filters, 3, 1, 1, activation="none", **bn)
        self.shortcut = resnet_shortcut(in_channels, filters, stride, **bn)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 filters, 3×3 filters (stride), 1×1 filters·expansion, plus shortcut, then ReLU."""

    def __init__(self, in_channels, filters=64, stride=1, expansion=4, batch_norm=True,
                 eps=1e-5, momentum=0.1):
        super().__init__()
        out_channels = filters * expansion
        bn = {"batch_norm": batch_norm, "eps": eps, "momentum": momentum}
        self.conv1 = ConvBNAct(in_channels, filters, 1, **bn)
        self.conv2 = ConvBNAct(filters, filters, 3, stride, 1, **bn)
        self.conv3 = ConvBNAct(filters, out_channels, 1, activation="none", **bn)
        self.shortcut = resnet_shortcut(in_channels, out_channels, stride, **bn)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNetStem(nn.Module):
    """7×7 conv stride 2 pad 3 -BN-ReLU, then 3×3 max-pool stride 2 pad 1."""

    def __init__(self, in_channels, filters=64, eps=1e-5, momentum=0.1):
        super().__init__()
        self.conv = ConvBNAct(in_channels, filters, 7, stride=2, padding=3, eps=eps,
                              momentum=momentum)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(self.conv(x))
