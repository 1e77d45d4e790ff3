"""Inception-ResNet / Inception-v4 options against timm's own modules (issue 11 §1): the last
block without its ReLU, and the branch order of the reductions and of the v4 stem.

timm is not a dependency, so the reference classes below are timm's, copied from
huggingface/pytorch-image-models (timm/models/inception_v4.py and inception_resnet_v2.py)
with only the device/dtype plumbing left out and its ConvNormAct written out as the
Conv2d(bias=False) → BatchNorm2d(eps=0.001) → ReLU it builds there."""
import pytest
import torch
import torch.nn as nn
from test_catalogue_options import assert_same_as_reference, block

from blocks import REGISTRY


class ConvNormAct(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


conv_block = ConvNormAct


# ---- timm/models/inception_v4.py ----

class Mixed3a(nn.Module):
    def __init__(self):
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = conv_block(64, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat((self.maxpool(x), self.conv(x)), 1)


class Mixed4a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(
            conv_block(160, 64, kernel_size=1, stride=1),
            conv_block(64, 96, kernel_size=3, stride=1))
        self.branch1 = nn.Sequential(
            conv_block(160, 64, kernel_size=1, stride=1),
            conv_block(64, 64, kernel_size=(1, 7), stride=1, padding=(0, 3)),
            conv_block(64, 64, kernel_size=(7, 1), stride=1, padding=(3, 0)),
            conv_block(64, 96, kernel_size=(3, 3), stride=1))

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x)), 1)


class Mixed5a(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = conv_block(192, 192, kernel_size=3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.conv(x), self.maxpool(x)), 1)


class ReductionA(nn.Module):  # Inception-v4's (k, l, m, n) = (192, 224, 256, 384)
    def __init__(self):
        super().__init__()
        self.branch0 = conv_block(384, 384, kernel_size=3, stride=2)
        self.branch1 = nn.Sequential(
            conv_block(384, 192, kernel_size=1, stride=1),
            conv_block(192, 224, kernel_size=3, stride=1, padding=1),
            conv_block(224, 256, kernel_size=3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class ReductionB(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(
            conv_block(1024, 192, kernel_size=1, stride=1),
            conv_block(192, 192, kernel_size=3, stride=2))
        self.branch1 = nn.Sequential(
            conv_block(1024, 256, kernel_size=1, stride=1),
            conv_block(256, 256, kernel_size=(1, 7), stride=1, padding=(0, 3)),
            conv_block(256, 320, kernel_size=(7, 1), stride=1, padding=(3, 0)),
            conv_block(320, 320, kernel_size=3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


# ---- timm/models/inception_resnet_v2.py ----

class Mixed_7a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(
            conv_block(1088, 256, kernel_size=1, stride=1),
            conv_block(256, 384, kernel_size=3, stride=2))
        self.branch1 = nn.Sequential(
            conv_block(1088, 256, kernel_size=1, stride=1),
            conv_block(256, 288, kernel_size=3, stride=2))
        self.branch2 = nn.Sequential(
            conv_block(1088, 256, kernel_size=1, stride=1),
            conv_block(256, 288, kernel_size=3, stride=1, padding=1),
            conv_block(288, 320, kernel_size=3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x),
                          self.branch3(x)), 1)


class Block8(nn.Module):
    def __init__(self, scale=1.0, no_relu=False):
        super().__init__()
        self.scale = scale
        self.branch0 = conv_block(2080, 192, kernel_size=1, stride=1)
        self.branch1 = nn.Sequential(
            conv_block(2080, 192, kernel_size=1, stride=1),
            conv_block(192, 224, kernel_size=(1, 3), stride=1, padding=(0, 1)),
            conv_block(224, 256, kernel_size=(3, 1), stride=1, padding=(1, 0)))
        self.conv2d = nn.Conv2d(448, 2080, kernel_size=1, stride=1)
        self.relu = None if no_relu else nn.ReLU()

    def forward(self, x):
        x0 = self.branch0(x)
        x1 = self.branch1(x)
        out = torch.cat((x0, x1), 1)
        out = self.conv2d(out)
        out = out * self.scale + x
        if self.relu is not None:
            out = self.relu(out)
        return out


# ---- the tests ----

TIMM = {"eps": 0.001, "branch_order": "timm"}


def test_v4_stem_in_timm_order_is_timms_inception_v4_stem():
    torch.manual_seed(0)
    ref = nn.Sequential(conv_block(3, 32, kernel_size=3, stride=2),
                        conv_block(32, 32, kernel_size=3, stride=1),
                        conv_block(32, 64, kernel_size=3, stride=1, padding=1),
                        Mixed3a(), Mixed4a(), Mixed5a())
    assert_same_as_reference("InceptionStem", {"variant": "v4", **TIMM}, ref, (3, 75, 75),
                             exact_keys=False)


def test_v4_reductions_in_timm_order_are_timms():
    torch.manual_seed(0)
    assert_same_as_reference("ReductionA", TIMM, ReductionA(), (384, 9, 9), exact_keys=False)
    assert_same_as_reference("ReductionB", {"variant": "v4", **TIMM}, ReductionB(),
                             (1024, 9, 9), exact_keys=False)


def test_resnet_v2_reductions_in_timm_order_are_timms_mixed_6a_and_7a():
    torch.manual_seed(0)
    assert_same_as_reference("ReductionB", {"variant": "resnet_v2", **TIMM}, Mixed_7a(),
                             (1088, 7, 7), exact_keys=False)


@pytest.mark.parametrize("relu", [True, False])
def test_block8_with_and_without_its_relu_is_timms(relu):
    torch.manual_seed(0)
    params = {"variant": "v2", "scale": 0.2, "relu": relu, "eps": 0.001}
    assert_same_as_reference("InceptionResNetC", params, Block8(0.2, no_relu=not relu),
                             (2080, 5, 5), exact_keys=False)


def test_paper_order_stays_the_default_and_differs_from_timms():
    x = torch.randn(1, 16, 9, 9)
    for type_id in ("ReductionA", "ReductionB"):
        spec = REGISTRY[type_id]
        assert spec.defaults()["branch_order"] == "paper"
        params = {"k": 4, "l": 4, "m": 4, "n": 4} if type_id == "ReductionA" else {}
        paper, _ = block(type_id, params, (16, 9, 9))
        timm, stats = block(type_id, {**params, "branch_order": "timm"}, (16, 9, 9))
        timm.load_state_dict(paper.state_dict())
        with torch.no_grad():
            a, b = paper(x), timm(x)
        assert a.shape == b.shape and tuple(b.shape[1:]) == stats.output_shape
        assert torch.equal(a[:, :16], b[:, -16:])  # the pool moved from first to last
