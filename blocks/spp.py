"""Spatial pyramid pooling (He et al. 2014, "Spatial Pyramid Pooling in Deep Convolutional
Networks for Visual Recognition"): a fixed-length vector from a map of any size."""
import torch
import torch.nn as nn


def pyramid_bins(n, bins):
    """(start, end) of each of `bins` windows over n positions, cut as torch's adaptive
    pooling cuts them: bin i covers ⌊i·n/bins⌋ up to ⌈(i+1)·n/bins⌉ (never empty)."""
    return [((i * n) // bins, -(-(i + 1) * n // bins)) for i in range(bins)]


class SpatialPyramidPooling(nn.Module):
    """Each channel max-pooled (or averaged) into l×l bins for every level l, each level
    flattened like nn.AdaptiveMaxPool2d(l)'s [C, l, l] output and the levels concatenated:
    C·Σl² values for any H×W. The bins are cut here rather than by nn.AdaptiveMaxPool2d,
    which ONNX cannot express when l does not divide H or W."""

    def __init__(self, levels=(1, 2, 4), pool="max"):
        super().__init__()
        self.levels = tuple(levels)
        self.pool = pool

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"SpatialPyramidPooling needs a [C, H, W] input, got "
                             f"{list(x.shape[1:])}")
        h, w = x.shape[2], x.shape[3]
        out = []
        for level in self.levels:
            cells = []
            for top, bottom in pyramid_bins(h, level):
                for left, right in pyramid_bins(w, level):
                    cell = x[:, :, top:bottom, left:right]
                    value = cell.amax(dim=(2, 3)) if self.pool == "max" else cell.mean(dim=(2, 3))
                    cells.append(value[:, :, None])
            out.append(torch.flatten(torch.cat(cells, dim=2), 1))
        return torch.cat(out, dim=1)
