"""DenseNet's transition layer (Huang et al. 2017, "Densely Connected Convolutional
Networks"), laid out as torchvision.models.densenet._Transition so that its state_dict keys
and parameter order are torchvision's. The dense block itself is blocks.misc.DenseBlock."""
import torch.nn as nn


class DenseTransition(nn.Module):
    """BN → ReLU → 1×1 conv (no bias) to ⌊compression·C⌋ channels → 2×2 average pool,
    stride 2 (DenseNet-BC's compression θ = 0.5 halves the channels)."""

    def __init__(self, in_channels, compression=0.5):
        super().__init__()
        out_channels = int(in_channels * compression)
        if out_channels < 1:
            raise ValueError(f"DenseTransition: compression {compression} of {in_channels} "
                             f"channels leaves none")
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))
