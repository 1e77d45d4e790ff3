"""Inception-v4 / Inception-ResNet-v1/v2 modules (Szegedy et al. 2016).

Every conv is conv-BN-ReLU except the 1×1 "linear" conv that closes a residual block. The
residual blocks end in ReLU(x + scale·branch) (relu=False: x + scale·branch, the last block
of timm / TF-slim Inception-ResNet-v2); branch_order="timm" concatenates the reductions'
branches (and orders the v4 stem's 1×7 / 7×1) as timm / TF-slim do, so their weights map
one to one; the paper's order is the default."""
import torch
import torch.nn as nn

from .common import ConvBNAct


class InceptionStem(nn.Module):
    """Stem of Inception-ResNet-v1 ("resnet_v1", → 256 channels) or of Inception-v4 and
    Inception-ResNet-v2 ("v4", → 384 channels); 299×299 → 35×35. branch_order "timm" puts
    the v4 stem's 1×7 before its 7×1, as timm / TF-slim (the paper has 7×1 first)."""

    def __init__(self, in_channels, variant="resnet_v1", eps=1e-5, momentum=0.1,
                 branch_order="paper"):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        if variant not in ("resnet_v1", "v4"):
            raise ValueError(f"unknown InceptionStem variant {variant!r}")
        self.variant = variant
        self.stem = nn.Sequential(ConvBNAct(in_channels, 32, 3, stride=2, **bn),
                                  ConvBNAct(32, 32, 3, **bn),
                                  ConvBNAct(32, 64, 3, padding=1, **bn))
        if variant == "resnet_v1":
            self.tail = nn.Sequential(nn.MaxPool2d(3, stride=2),
                                      ConvBNAct(64, 80, 1, **bn),
                                      ConvBNAct(80, 192, 3, **bn),
                                      ConvBNAct(192, 256, 3, stride=2, **bn))
        else:
            self.pool1 = nn.MaxPool2d(3, stride=2)
            self.conv1 = ConvBNAct(64, 96, 3, stride=2, **bn)
            self.branch_a = nn.Sequential(ConvBNAct(160, 64, 1, **bn), ConvBNAct(64, 96, 3, **bn))
            tall = ConvBNAct(64, 64, (7, 1), padding=(3, 0), **bn)
            wide = ConvBNAct(64, 64, (1, 7), padding=(0, 3), **bn)
            self.branch_b = nn.Sequential(ConvBNAct(160, 64, 1, **bn),
                                          *((wide, tall) if branch_order == "timm"
                                            else (tall, wide)),
                                          ConvBNAct(64, 96, 3, **bn))
            self.conv2 = ConvBNAct(192, 192, 3, stride=2, **bn)
            self.pool2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        x = self.stem(x)
        if self.variant == "resnet_v1":
            return self.tail(x)
        x = torch.cat([self.pool1(x), self.conv1(x)], dim=1)
        x = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)
        return torch.cat([self.conv2(x), self.pool2(x)], dim=1)


class InceptionResNetA(nn.Module):
    """35×35 block: 1×1 · 1×1→3×3 · 1×1→3×3→3×3; concat; linear 1×1 back to C;
    ReLU(x + scale·branch)."""

    def __init__(self, in_channels, variant="v1", scale=0.1, eps=1e-5, momentum=0.1,
                 relu=True):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        w1, w2 = {"v1": (32, 32), "v2": (48, 64)}[variant]
        self.scale = scale
        self.branch0 = ConvBNAct(in_channels, 32, 1, **bn)
        self.branch1 = nn.Sequential(ConvBNAct(in_channels, 32, 1, **bn),
                                     ConvBNAct(32, 32, 3, padding=1, **bn))
        self.branch2 = nn.Sequential(ConvBNAct(in_channels, 32, 1, **bn),
                                     ConvBNAct(32, w1, 3, padding=1, **bn),
                                     ConvBNAct(w1, w2, 3, padding=1, **bn))
        self.up = nn.Conv2d(64 + w2, in_channels, 1)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x):
        branch = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], dim=1)
        return self.relu(x + self.scale * self.up(branch))


class InceptionResNetB(nn.Module):
    """17×17 block: 1×1 · 1×1→1×7→7×1; concat; linear 1×1 back to C; ReLU(x + scale·branch)."""

    def __init__(self, in_channels, variant="v1", scale=0.1, eps=1e-5, momentum=0.1,
                 relu=True):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        w0, w1, w2, w3 = {"v1": (128, 128, 128, 128), "v2": (192, 128, 160, 192)}[variant]
        self.scale = scale
        self.branch0 = ConvBNAct(in_channels, w0, 1, **bn)
        self.branch1 = nn.Sequential(ConvBNAct(in_channels, w1, 1, **bn),
                                     ConvBNAct(w1, w2, (1, 7), padding=(0, 3), **bn),
                                     ConvBNAct(w2, w3, (7, 1), padding=(3, 0), **bn))
        self.up = nn.Conv2d(w0 + w3, in_channels, 1)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x):
        branch = torch.cat([self.branch0(x), self.branch1(x)], dim=1)
        return self.relu(x + self.scale * self.up(branch))


class InceptionResNetC(nn.Module):
    """8×8 block: 1×1 · 1×1→1×3→3×1; concat; linear 1×1 back to C; ReLU(x + scale·branch)."""

    def __init__(self, in_channels, variant="v1", scale=0.1, eps=1e-5, momentum=0.1,
                 relu=True):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        w1, w2 = {"v1": (192, 192), "v2": (224, 256)}[variant]
        self.scale = scale
        self.branch0 = ConvBNAct(in_channels, 192, 1, **bn)
        self.branch1 = nn.Sequential(ConvBNAct(in_channels, 192, 1, **bn),
                                     ConvBNAct(192, w1, (1, 3), padding=(0, 1), **bn),
                                     ConvBNAct(w1, w2, (3, 1), padding=(1, 0), **bn))
        self.up = nn.Conv2d(192 + w2, in_channels, 1)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x):
        branch = torch.cat([self.branch0(x), self.branch1(x)], dim=1)
        return self.relu(x + self.scale * self.up(branch))


class ReductionA(nn.Module):
    """35→17: 3×3 max-pool s2 · 3×3 n s2 · 1×1 k→3×3 l→3×3 m s2 (valid); concat."""

    def __init__(self, in_channels, k=192, l=224, m=256, n=384, eps=1e-5, momentum=0.1,
                 branch_order="paper"):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        self.pool_last = branch_order == "timm"  # timm: conv n · deep · pool
        self.pool = nn.MaxPool2d(3, stride=2)
        self.branch1 = ConvBNAct(in_channels, n, 3, stride=2, **bn)
        self.branch2 = nn.Sequential(ConvBNAct(in_channels, k, 1, **bn),
                                     ConvBNAct(k, l, 3, padding=1, **bn),
                                     ConvBNAct(l, m, 3, stride=2, **bn))

    def forward(self, x):
        if self.pool_last:
            return torch.cat([self.branch1(x), self.branch2(x), self.pool(x)], dim=1)
        return torch.cat([self.pool(x), self.branch1(x), self.branch2(x)], dim=1)


class ReductionB(nn.Module):
    """17→8: 3×3 max-pool s2 and conv branches that each end in a 3×3 s2 valid conv; concat."""

    def __init__(self, in_channels, variant="v4", eps=1e-5, momentum=0.1,
                 branch_order="paper"):
        super().__init__()
        bn = {"eps": eps, "momentum": momentum}
        self.pool_last = branch_order == "timm"  # timm: the conv branches, then the pool
        self.pool = nn.MaxPool2d(3, stride=2)
        if variant == "v4":
            branches = [
                [ConvBNAct(in_channels, 192, 1, **bn), ConvBNAct(192, 192, 3, stride=2, **bn)],
                [ConvBNAct(in_channels, 256, 1, **bn),
                 ConvBNAct(256, 256, (1, 7), padding=(0, 3), **bn),
                 ConvBNAct(256, 320, (7, 1), padding=(3, 0), **bn),
                 ConvBNAct(320, 320, 3, stride=2, **bn)],
            ]
        elif variant in ("resnet_v1", "resnet_v2"):
            w1, w2, w3 = (256, 256, 256) if variant == "resnet_v1" else (288, 288, 320)
            branches = [
                [ConvBNAct(in_channels, 256, 1, **bn), ConvBNAct(256, 384, 3, stride=2, **bn)],
                [ConvBNAct(in_channels, 256, 1, **bn), ConvBNAct(256, w1, 3, stride=2, **bn)],
                [ConvBNAct(in_channels, 256, 1, **bn), ConvBNAct(256, w2, 3, padding=1, **bn),
                 ConvBNAct(w2, w3, 3, stride=2, **bn)],
            ]
        else:
            raise ValueError(f"unknown ReductionB variant {variant!r}")
        self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)

    def forward(self, x):
        if self.pool_last:
            return torch.cat([b(x) for b in self.branches] + [self.pool(x)], dim=1)
        return torch.cat([self.pool(x)] + [b(x) for b in self.branches], dim=1)
