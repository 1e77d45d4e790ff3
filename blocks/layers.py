"""Primitive layers: one module per primitive block type."""
import torch
import torch.nn as nn

from .common import ConvBNAct, conv_padding, make_activation, pool_padding


class ConvLayer(ConvBNAct):
    """Conv2d block: conv (padding "same", "valid" or int) → optional BatchNorm → activation."""

    def __init__(self, in_channels, filters=64, kernel_size=3, stride=1, padding="same",
                 dilation=1, groups=1, activation="relu", batch_norm=False, eps=1e-5,
                 momentum=0.1, bias="auto"):
        super().__init__(in_channels, filters, kernel_size, stride,
                         conv_padding(kernel_size, stride, dilation, padding),
                         dilation, groups, batch_norm, activation, eps, momentum, bias)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise k×k conv (groups=C, same padding) then pointwise 1×1, each conv-BN-act."""

    def __init__(self, in_channels, filters=64, kernel_size=3, stride=1, batch_norm=True,
                 activation="relu", eps=1e-5, momentum=0.1, bias="auto"):
        super().__init__()
        bn = {"batch_norm": batch_norm, "activation": activation, "eps": eps,
              "momentum": momentum, "bias": bias}
        self.depthwise = ConvBNAct(in_channels, in_channels, kernel_size, stride,
                                   conv_padding(kernel_size, stride), groups=in_channels, **bn)
        self.pointwise = ConvBNAct(in_channels, filters, 1, **bn)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class TransposedConvLayer(nn.Module):
    """ConvTranspose2d (with a bias unless bias=False) → activation, for upsampling."""

    def __init__(self, in_channels, filters=64, kernel_size=2, stride=2, padding=0,
                 activation="relu", bias="auto"):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, filters, kernel_size, stride=stride,
                                       padding=padding, bias=bias is not False)
        self.act = make_activation(activation)

    def forward(self, x):
        return self.act(self.conv(x))


class MaxPoolLayer(nn.MaxPool2d):
    """Max-pool; stride None means stride = pool_size."""

    def __init__(self, pool_size=2, stride=None, padding="valid", ceil_mode=False):
        super().__init__(pool_size, stride, pool_padding(pool_size, padding),
                         ceil_mode=ceil_mode)


class AvgPoolLayer(nn.AvgPool2d):
    """Average-pool; stride None means stride = pool_size."""

    def __init__(self, pool_size=2, stride=None, padding="valid", ceil_mode=False,
                 count_include_pad=True):
        super().__init__(pool_size, stride, pool_padding(pool_size, padding),
                         ceil_mode=ceil_mode, count_include_pad=count_include_pad)


class AdaptiveAvgPoolLayer(nn.AdaptiveAvgPool2d):
    """Average-pool to a fixed output_size (h, w) whatever the input's H×W (VGG's head:
    7×7); window i along an axis of n covers [floor(i·n/out), ceil((i+1)·n/out))."""

    def __init__(self, output_size=7):
        super().__init__(output_size)

    def forward(self, x):
        if x.dim() != 4:  # torch would take a flat [N, F] as one [C, H, W] sample
            raise ValueError(f"AdaptiveAvgPool2d needs a [C, H, W] input, got "
                             f"{list(x.shape[1:])}")
        return super().forward(x)


class GlobalAvgPool(nn.Module):
    """[C, H, W] → [C] by averaging over H and W."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


class GlobalMaxPool(nn.Module):
    """[C, H, W] → [C] by the maximum over H and W."""

    def forward(self, x):
        return x.amax(dim=(2, 3))


class FlattenLayer(nn.Module):
    """[C, H, W] → [C·H·W]."""

    def forward(self, x):
        return torch.flatten(x, 1)


class LinearLayer(nn.Module):
    """Fully connected layer on a flat input → activation."""

    def __init__(self, in_features, units=10, activation="none"):
        super().__init__()
        self.linear = nn.Linear(in_features, units)
        self.act = make_activation(activation)

    def forward(self, x):
        if x.dim() != 2:
            raise ValueError(f"Linear needs a flat input, got {list(x.shape[1:])}")
        return self.act(self.linear(x))


class DropoutLayer(nn.Dropout):
    """Dropout with probability `rate`."""

    def __init__(self, rate=0.5):
        super().__init__(p=rate)


class BatchNormLayer(nn.Module):
    """BatchNorm2d for a [C, H, W] input, BatchNorm1d for a flat [F] input."""

    def __init__(self, num_features, flat=False, eps=1e-5, momentum=0.1):
        super().__init__()
        norm = nn.BatchNorm1d if flat else nn.BatchNorm2d
        self.bn = norm(num_features, eps=eps, momentum=momentum)

    def forward(self, x):
        return self.bn(x)


class ActivationLayer(nn.Module):
    """A standalone activation function (softmax is over the channel axis)."""

    def __init__(self, function="relu"):
        super().__init__()
        self.act = make_activation(function)

    def forward(self, x):
        return self.act(x)


class Concat(nn.Module):
    """Joins its inputs on the channel axis, in input-port order."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Multiply(nn.Module):
    """Element-wise product with broadcasting: a [C] or [C, 1, 1] input (a gate) scales each
    channel of a [C, H, W] one; inputs of identical shape multiply element by element."""

    def forward(self, *xs):
        image = any(x.dim() == 4 for x in xs)
        out = None
        for x in xs:
            if image and x.dim() == 2:
                x = x[:, :, None, None]  # [N, C] → [N, C, 1, 1]
            out = x if out is None else out * x
        return out


class Add(nn.Module):
    """Element-wise sum of inputs of identical shape."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            if x.shape != out.shape:
                raise ValueError(f"Add needs inputs of identical shape, got "
                                 f"{list(out.shape[1:])} and {list(x.shape[1:])}")
            out = out + x
        return out
