"""SqueezeNet's Fire module (Iandola et al. 2016, "SqueezeNet: AlexNet-level accuracy with
50x fewer parameters"), laid out as torchvision.models.squeezenet.Fire so that its
state_dict keys and parameter order are torchvision's."""
import torch
import torch.nn as nn


class Fire(nn.Module):
    """Squeeze 1×1 conv (s1x1 filters) + ReLU, then expand 1×1 (e1x1) and expand 3×3
    (e3x3, padding 1) convs, each + ReLU, concatenated: e1x1 + e3x3 channels."""

    def __init__(self, in_channels, s1x1=16, e1x1=64, e3x3=64):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, s1x1, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(s1x1, e1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(s1x1, e3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)
