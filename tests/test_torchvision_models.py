"""Whole torchvision networks drawn with the catalogue's new blocks: MobileNetV2 and
EfficientNet-B0 (InvertedResidual), DenseNet-121 (DenseBlock, DenseTransition) and
SqueezeNet 1.1 (Fire) have torchvision's parameter count and MACs (FlopCounterMode) at
224×224, and with torchvision's weights copied in order they compute the same logits in eval
mode."""
import pytest
import torch
from helpers import chain, import_torchvision
from torch.utils.flop_counter import FlopCounterMode

from app.compile import compile_graph

tv = import_torchvision()


def mobilenet_v2_layers():
    """torchvision.models.mobilenet_v2's features and classifier, block by block."""
    layers = [("Conv2d", {"filters": 32, "stride": 2, "batch_norm": True, "activation": "relu6"})]
    c = 32
    for t, filters, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            layers.append(("InvertedResidual", {"filters": filters, "expand_ratio": float(t),
                                                "stride": s if i == 0 else 1}))
        c = filters
    assert c == 320
    return layers + [("Conv2d", {"filters": 1280, "kernel_size": 1, "batch_norm": True,
                                 "activation": "relu6"}),
                     "GlobalAvgPool", ("Dropout", {"rate": 0.2}), ("Linear", {"units": 1000})]


def efficientnet_b0_layers():
    """torchvision.models.efficientnet_b0: SiLU, SE 0.25, torch's BatchNorm defaults (only
    b5..b7 use eps 0.001, momentum 0.01)."""
    bn = {"batch_norm": True, "activation": "silu"}
    layers = [("Conv2d", {"filters": 32, "stride": 2, **bn})]
    for t, k, s, filters, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2),
                                (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                                (6, 3, 1, 320, 1)]:
        for i in range(n):
            layers.append(("InvertedResidual", {
                "filters": filters, "expand_ratio": float(t), "kernel_size": k,
                "stride": s if i == 0 else 1, "se_ratio": 0.25, "activation": "silu"}))
    return layers + [("Conv2d", {"filters": 1280, "kernel_size": 1, **bn}), "GlobalAvgPool",
                     ("Dropout", {"rate": 0.2}), ("Linear", {"units": 1000})]


def densenet121_layers():
    """torchvision.models.densenet121: blocks of 6, 12, 24, 16 layers (growth 32, bn_size 4)
    joined by transitions that halve the channels, then BN, ReLU, pool and the classifier."""
    layers = [("Conv2d", {"filters": 64, "kernel_size": 7, "stride": 2, "padding": 3,
                          "batch_norm": True}),
              ("MaxPool2d", {"pool_size": 3, "stride": 2, "padding": 1})]
    for i, n in enumerate((6, 12, 24, 16)):
        layers.append(("DenseBlock", {"layers": n, "growth_rate": 32, "bn_size": 4}))
        if i < 3:
            layers.append(("DenseTransition", {"compression": 0.5}))
    return layers + ["BatchNorm", ("Activation", {"function": "relu"}), "GlobalAvgPool",
                     ("Linear", {"units": 1000})]


def squeezenet1_1_layers():
    """torchvision.models.squeezenet1_1: Fire modules between ceil-mode max-pools, and a
    1×1 conv classifier averaged over the map."""
    pool = ("MaxPool2d", {"pool_size": 3, "stride": 2, "ceil_mode": True})
    fires = [(16, 64), (16, 64), pool, (32, 128), (32, 128), pool, (48, 192), (48, 192),
             (64, 256), (64, 256)]
    return [("Conv2d", {"filters": 64, "stride": 2, "padding": "valid"}), pool,
            *[f if f is pool else ("Fire", {"s1x1": f[0], "e1x1": f[1], "e3x3": f[1]})
              for f in fires],
            ("Dropout", {"rate": 0.5}), ("Conv2d", {"filters": 1000, "kernel_size": 1}),
            "GlobalAvgPool"]


def trained_like(model):
    """BatchNorm statistics and affine parameters away from their identity initialisation."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(1 + 0.1 * torch.randn(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
    return model.eval()


def macs(model, x):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name, layers", [("mobilenet_v2", mobilenet_v2_layers),
                                          ("efficientnet_b0", efficientnet_b0_layers),
                                          ("densenet121", densenet121_layers),
                                          ("squeezenet1_1", squeezenet1_1_layers)])
def test_drawn_network_is_torchvisions(name, layers):
    torch.manual_seed(0)
    ref = trained_like(getattr(tv.models, name)())
    g, ids = chain(*layers(), shape=(3, 224, 224), name=name)
    assert not g.problems(), g.problems()
    ours = compile_graph(g).eval()
    theirs = list(ref.state_dict().values())
    assert [tuple(t.shape) for t in ours.state_dict().values()] == \
        [tuple(t.shape) for t in theirs]
    ours.load_state_dict(dict(zip(ours.state_dict(), theirs)))
    x = torch.randn(2, 3, 112, 112, generator=torch.Generator().manual_seed(1))  # any size
    with torch.no_grad():
        want, got = ref(x), ours(x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * max(1.0, want.abs().max().item()))
    n_params = sum(p.numel() for p in ref.parameters())
    assert sum(g.info[n].params for n in ids[1:]) == n_params
    meta = torch.empty(1, 3, 224, 224, device="meta")  # the MACs at the drawn size, weightless
    assert sum(g.info[n].macs for n in ids[1:]) == macs(ref.to("meta"), meta) == \
        macs(ours.to("meta"), meta)
