"""MobileNetV2's inverted residual (Sandler et al. 2018, "MobileNetV2: Inverted Residuals
and Linear Bottlenecks") and, with its options, EfficientNet's MBConv (Tan & Le 2019).

The parameters come in torchvision's order for both (torchvision.models.mobilenetv2.
InvertedResidual and torchvision.models.efficientnet.MBConv): expand conv and BN, depthwise
conv and BN, squeeze-and-excitation fc1/fc2, projection conv and BN."""
import torch.nn as nn

from .common import ConvBNAct, make_activation


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: global average → 1×1 conv (bias) to `squeeze`
    channels → activation → 1×1 conv (bias) back → sigmoid, scaling the input's channels."""

    def __init__(self, channels, squeeze, activation="silu"):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = make_activation(activation)
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return self.scale_activation(scale) * x


class InvertedResidual(nn.Module):
    """1×1 expand conv to round(C·expand_ratio) channels (none at ratio 1) → k×k depthwise
    conv (stride) → squeeze-and-excitation to max(1, ⌊C·se_ratio⌋) (none at 0) → linear 1×1
    projection to `filters`; each conv-BN, the first two with the activation; the input is
    added when stride is 1 and C == filters. MobileNetV2: relu6, k 3, no SE; EfficientNet's
    MBConv: silu, k 3 or 5, se_ratio 0.25."""

    def __init__(self, in_channels, filters=16, expand_ratio=6.0, stride=1, kernel_size=3,
                 se_ratio=0.0, activation="relu6"):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"InvertedResidual: kernel_size must be odd, not {kernel_size}")
        hidden = round(in_channels * expand_ratio)  # torchvision: int(round(...))
        self.use_res_connect = stride == 1 and in_channels == filters
        self.expand = (ConvBNAct(in_channels, hidden, 1, activation=activation)
                       if expand_ratio != 1 else nn.Identity())
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size, stride, (kernel_size - 1) // 2,
                                   groups=hidden, activation=activation)
        self.se = (SqueezeExcitation(hidden, max(1, int(in_channels * se_ratio)), activation)
                   if se_ratio > 0 else nn.Identity())
        self.project = ConvBNAct(hidden, filters, 1, activation="none")

    def forward(self, x):
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return x + out if self.use_res_connect else out
