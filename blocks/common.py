"""Helpers shared by the block modules (plain torch; exporters copy these verbatim)."""
import torch.nn as nn


def make_activation(name):
    """An activation module by name; "softmax" is over the channel axis (dim=1)."""
    if name == "none":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU()
    if name == "gelu":
        return nn.GELU()
    if name == "silu":
        return nn.SiLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu6":
        return nn.ReLU6()
    if name == "hardswish":
        return nn.Hardswish()
    if name == "hardsigmoid":
        return nn.Hardsigmoid()
    if name == "softmax":
        return nn.Softmax(dim=1)
    raise ValueError(f"unknown activation {name!r}")


def conv_padding(kernel_size, stride=1, dilation=1, padding="same"):
    """Torch padding for a conv: "same" is torch's "same" at stride 1 and
    dilation*(k-1)//2 on each side at stride > 1; "valid" is 0; an int is used as is."""
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    if stride == 1:
        return "same"
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)


def pool_padding(pool_size, padding="valid"):
    """Torch padding for a pool: "same" pads (k-1)//2 on each side, "valid" is 0."""
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    kh, kw = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    return ((kh - 1) // 2, (kw - 1) // 2)


class ConvBNAct(nn.Module):
    """Conv2d → BatchNorm2d → activation; the conv has a bias only without BatchNorm."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, batch_norm=True, activation="relu"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, dilation=dilation, groups=groups,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.act = make_activation(activation)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))
