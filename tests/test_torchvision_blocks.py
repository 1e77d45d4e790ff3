"""The blocks copied from torchvision compute torchvision's function: its module is built,
its (randomised) weights and BatchNorm statistics are copied into ours parameter by
parameter (the shapes must line up in order), and in eval mode the outputs and the MACs
FlopCounterMode counts are the same; the editor's torch-free numbers agree too."""
import pytest
import torch
from helpers import import_torchvision
from torch.utils.flop_counter import FlopCounterMode

from app.graph.analysis import node_stats
from blocks import REGISTRY

tv = import_torchvision()


def randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BatchNorm statistics like a trained net's, so eval mode is not
    an identity on the normalisation."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=gen) * 0.3)
    return module.eval()


def copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """src's parameters and buffers into dst, in order; every shape must match."""
    theirs, ours = list(src.state_dict().values()), dst.state_dict()
    assert [tuple(t.shape) for t in theirs] == [tuple(t.shape) for t in ours.values()]
    dst.load_state_dict(dict(zip(ours, theirs)))


def macs(module, x) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


def assert_same_function(type_id, params, in_shape, reference, same_keys=False):
    """Our block (from the registry) against torchvision's module `reference`."""
    spec = REGISTRY[type_id]
    params, problems = spec.resolve(params)
    assert not problems
    ours = spec.build([in_shape], params).eval()
    randomised(reference)
    if same_keys:
        assert list(ours.state_dict()) == list(reference.state_dict())
    copy_weights(reference, ours)
    x = torch.randn(2, *in_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * max(1.0, want.abs().max().item()))
    stats = node_stats(type_id, params, [in_shape])
    assert stats.output_shape == tuple(want.shape[1:])
    assert stats.params == sum(p.numel() for p in reference.parameters())
    assert stats.macs * 2 == macs(ours, x) == macs(reference, x)  # batch of 2


@pytest.mark.parametrize("cfg, in_shape", [
    ((16, 64, 64), (96, 27, 27)),  # squeezenet1_1 fire2
    ((64, 256, 256), (512, 13, 13)),  # fire9
    ((3, 5, 7), (4, 6, 9)),
])
def test_fire_is_torchvisions(cfg, in_shape):
    s, e1, e3 = cfg
    ref = tv.models.squeezenet.Fire(in_shape[0], s, e1, e3)
    assert_same_function("Fire", {"s1x1": s, "e1x1": e1, "e3x3": e3}, in_shape, ref,
                         same_keys=True)


@pytest.mark.parametrize("in_shape", [(256, 56, 56), (512, 28, 28), (7, 9, 11)])
def test_dense_transition_is_torchvisions(in_shape):
    ref = tv.models.densenet._Transition(in_shape[0], in_shape[0] // 2)
    assert_same_function("DenseTransition", {}, in_shape, ref, same_keys=True)


@pytest.mark.parametrize("layers, growth, bn_size, in_shape", [
    (6, 32, 4, (64, 14, 14)),  # densenet121's first block, smaller map
    (3, 48, 4, (96, 7, 7)),  # densenet161's growth
    (2, 5, 2, (3, 8, 9)),
])
def test_dense_block_is_torchvisions(layers, growth, bn_size, in_shape):
    ref = tv.models.densenet._DenseBlock(layers, in_shape[0], bn_size, growth, drop_rate=0.0)
    params = {"layers": layers, "growth_rate": growth, "bn_size": bn_size}
    assert_same_function("DenseBlock", params, in_shape, ref)


def test_dense_block_drop_rate_drops_in_training_only():
    spec = REGISTRY["DenseBlock"]
    params, _ = spec.resolve({"layers": 2, "growth_rate": 4, "drop_rate": 0.5})
    block = spec.build([(4, 6, 6)], params)
    x = torch.randn(2, 4, 6, 6)
    new = block(x)[:, 4:]  # the layers' features (the input passes through)
    assert (new == 0).float().mean() > 0.3  # about half dropped (the layers end in a conv)
    block.eval()
    assert (block(x)[:, 4:] == 0).float().mean() < 0.3
    assert block.state_dict().keys() == spec.build([(4, 6, 6)], {**params, "drop_rate": 0.0}
                                                   ).state_dict().keys()


@pytest.mark.parametrize("inp, oup, stride, t, in_hw", [
    (32, 16, 1, 1, 14),  # MobileNetV2's first block: no expansion
    (16, 24, 2, 6, 15),
    (24, 24, 1, 6, 14),  # the input is added
    (64, 96, 1, 6, 7),
    (5, 5, 1, 2.5, 6),  # round(12.5) = 12, as torchvision rounds
])
def test_inverted_residual_is_mobilenet_v2s(inp, oup, stride, t, in_hw):
    ref = tv.models.mobilenetv2.InvertedResidual(inp, oup, stride, t)
    params = {"filters": oup, "stride": stride, "expand_ratio": float(t)}
    assert_same_function("InvertedResidual", params, (inp, in_hw, in_hw), ref)


@pytest.mark.parametrize("t, k, stride, inp, oup, in_hw", [
    (1, 3, 1, 32, 16, 14),  # EfficientNet-B0's stages
    (6, 3, 2, 16, 24, 15),
    (6, 5, 2, 24, 40, 14),
    (6, 5, 1, 40, 40, 7),  # the input is added
    (6, 3, 1, 192, 320, 4),
])
def test_inverted_residual_with_options_is_efficientnets_mbconv(t, k, stride, inp, oup, in_hw):
    from torchvision.models.efficientnet import MBConv, MBConvConfig
    ref = MBConv(MBConvConfig(t, k, stride, inp, oup, 1), 0.0, torch.nn.BatchNorm2d)
    params = {"filters": oup, "stride": stride, "expand_ratio": float(t), "kernel_size": k,
              "se_ratio": 0.25, "activation": "silu"}
    assert_same_function("InvertedResidual", params, (inp, in_hw, in_hw), ref)


def test_inverted_residual_refuses_an_even_kernel_at_the_node():
    from app.graph.analysis import node_stats
    p, _ = REGISTRY["InvertedResidual"].resolve({"kernel_size": 4})
    err = node_stats("InvertedResidual", p, [(16, 8, 8)]).error
    assert err.startswith("InvertedResidual: kernel_size 4 is even")
