"""GoogLeNet Inception modules (Szegedy et al. 2014)."""
import torch
import torch.nn as nn

from .common import ConvBNAct


class NaiveInception(nn.Module):
    """Parallel 1×1, 3×3 and 5×5 convs (same, ReLU) and a 3×3 max-pool of the input; concat."""

    def __init__(self, in_channels, f1=64, f3=128, f5=32):
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, f1, 1, batch_norm=False)
        self.conv3 = ConvBNAct(in_channels, f3, 3, padding=1, batch_norm=False)
        self.conv5 = ConvBNAct(in_channels, f5, 5, padding=2, batch_norm=False)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        return torch.cat([self.conv1(x), self.conv3(x), self.conv5(x), self.pool(x)], dim=1)


class Inception(nn.Module):
    """GoogLeNet module: 1×1 · 1×1→3×3 · 1×1→5×5 · 3×3 max-pool→1×1; concat."""

    def __init__(self, in_channels, f1=64, f3_reduce=96, f3=128, f5_reduce=16, f5=32,
                 pool_proj=32, batch_norm=False, eps=1e-5, momentum=0.1):
        super().__init__()
        bn = {"batch_norm": batch_norm, "eps": eps, "momentum": momentum}
        self.branch1 = ConvBNAct(in_channels, f1, 1, **bn)
        self.branch3 = nn.Sequential(ConvBNAct(in_channels, f3_reduce, 1, **bn),
                                     ConvBNAct(f3_reduce, f3, 3, padding=1, **bn))
        self.branch5 = nn.Sequential(ConvBNAct(in_channels, f5_reduce, 1, **bn),
                                     ConvBNAct(f5_reduce, f5, 5, padding=2, **bn))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         ConvBNAct(in_channels, pool_proj, 1, **bn))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x),
                          self.branch_pool(x)], dim=1)
