"""The catalogue options real models need (issue 11 §1), each against code nobody here wrote:
torch's own functions and torchvision's modules (same parameter shapes, same MACs under
FlopCounterMode, same outputs with the same weights), onnxruntime for the ONNX export, and
the exported Python file for readable, runnable code."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from app.compile import compile_graph
from app.export import export_onnx, export_python, network_class_name
from app.graph.analysis import node_stats
from blocks import REGISTRY
from helpers import chain, import_torchvision

torch.set_num_threads(2)


def macs(module, x):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


def same_as_exported(graph, tmp_path, x):
    """The exported file's network, loaded with the compiled model's weights, gives the
    compiled model's outputs on x."""
    import importlib.util
    path = export_python(graph, tmp_path / "net.py")
    spec = importlib.util.spec_from_file_location("exported_options_net", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, network_class_name(graph))().eval()
    model = compile_graph(graph).eval()
    net.load_state_dict(model.state_dict())
    with torch.no_grad():
        return torch.equal(net(x), model(x))


def randomise_batchnorm(module):
    """Running statistics far from 0/1 and a tiny variance, so that eps shows in the output."""
    g = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1e-3)


def block(type_id, params, shape):
    """Our block's module for one input shape, and its editor numbers (checked first)."""
    spec = REGISTRY[type_id]
    params, problems = spec.resolve(params)
    assert not problems, problems
    assert spec.check([shape], params) is None
    stats = node_stats(type_id, params, [shape])
    return spec.build([shape], params).eval(), stats


def assert_same_as_reference(type_id, params, reference, shape, exact_keys=True):
    """Our block with these params is the reference module: same parameter shapes (in
    order), the editor's parameter count and MACs equal to FlopCounterMode's count of the
    reference, and the reference's outputs once its weights are copied over."""
    ours, stats = block(type_id, params, shape)
    reference = reference.eval()
    randomise_batchnorm(reference)
    theirs_sd, ours_sd = reference.state_dict(), ours.state_dict()
    if exact_keys:
        assert list(ours_sd) == list(theirs_sd)
    assert [v.shape for v in ours_sd.values()] == [v.shape for v in theirs_sd.values()]
    ours.load_state_dict(dict(zip(ours_sd, theirs_sd.values())))
    x = torch.randn(2, *shape)
    assert stats.params == sum(p.numel() for p in reference.parameters())
    assert stats.macs == macs(reference, x[:1])
    with torch.no_grad():
        expected = reference(x)
        assert tuple(expected.shape[1:]) == stats.output_shape
        torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
    return ours


# --- activations ---------------------------------------------------------------------------

TORCH_ACTIVATIONS = {"relu6": F.relu6, "hardswish": F.hardswish,
                     "hardsigmoid": F.hardsigmoid, "silu": F.silu, "gelu": F.gelu}


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_new_activations_compute_torchs_function_on_the_activation_block_and_a_conv(name):
    x = torch.randn(2, 3, 8, 8) * 4  # reaches both bends of relu6 / hard* (at ±3 and 6)
    g, _ = chain(("Activation", {"function": name}), shape=(3, 8, 8))
    with torch.no_grad():
        assert torch.equal(compile_graph(g).eval()(x), TORCH_ACTIVATIONS[name](x))
    g, _ = chain(("Conv2d", {"filters": 4, "activation": name}), shape=(3, 8, 8))
    model = compile_graph(g).eval()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        assert torch.equal(model(x), TORCH_ACTIVATIONS[name](conv(x)))


def test_every_block_with_an_activation_choice_offers_the_new_ones():
    for spec in REGISTRY.values():
        for p in spec.params:
            if p.name in ("activation", "function"):
                assert {"relu6", "hardswish", "hardsigmoid"} <= set(p.choices), spec.type_id


def test_new_activations_export_to_onnx_and_python(tmp_path):
    g, _ = chain(("Conv2d", {"filters": 4, "activation": "relu6"}),
                 ("Conv2d", {"filters": 4, "activation": "hardswish", "batch_norm": True}),
                 ("Activation", {"function": "hardsigmoid"}), shape=(3, 8, 8), name="acts")
    report = export_onnx(g, tmp_path / "acts.onnx")
    assert report.max_abs_diff <= 1e-5
    x = torch.randn(2, 3, 8, 8) * 4
    assert same_as_exported(g, tmp_path, x)


# --- BatchNorm eps and momentum --------------------------------------------------------------

def test_googlenet_basic_conv_is_a_conv2d_with_eps_0_001():
    import_torchvision()
    from torchvision.models.googlenet import BasicConv2d
    ref = BasicConv2d(16, 24, kernel_size=3, padding=1)  # eps=0.001
    assert_same_as_reference("Conv2d", {"filters": 24, "batch_norm": True, "eps": 0.001},
                             ref, (16, 12, 12))


def test_eps_changes_the_output_and_momentum_the_running_statistics():
    """Not just stored: each block's BatchNorms take the given eps and momentum."""
    for type_id, shape in [("Conv2d", (4, 8, 8)), ("BatchNorm", (4, 8, 8)), ("BatchNorm", (6,)),
                           ("Residual", (4, 8, 8)), ("InceptionResNetA", (8, 9, 9)),
                           ("DenseBlock", (4, 8, 8)), ("Inception", (4, 8, 8)),
                           ("DepthwiseSeparableConv", (4, 8, 8)), ("ReductionB", (8, 9, 9))]:
        params = {"batch_norm": True} if "batch_norm" in REGISTRY[type_id].param_map else {}
        ours, _ = block(type_id, {**params, "eps": 0.25, "momentum": 0.75}, shape)
        norms = [m for m in ours.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert norms and all((m.eps, m.momentum) == (0.25, 0.75) for m in norms), type_id


def test_every_block_with_a_batchnorm_takes_eps_and_momentum():
    for type_id, spec in REGISTRY.items():
        if type_id == "Input":
            continue
        params, _ = spec.resolve({"batch_norm": True} if "batch_norm" in spec.param_map else {})
        shape = next((s for s in [(32, 40, 40), (3, 75, 75), (32,)]
                      if spec.check([s], params) is None), None)
        assert shape is not None, f"{type_id}: no test shape fits its defaults"
        ours, _ = block(type_id, params, shape)
        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in ours.modules())
        assert has_bn == ("momentum" in spec.param_map), type_id
        assert not has_bn or "eps" in spec.param_map, type_id  # Layer/Group/InstanceNorm: eps too


def test_impossible_eps_and_momentum_are_refused_with_a_message():
    spec = REGISTRY["Conv2d"]
    _, problems = spec.resolve({"eps": 0})
    assert problems == ["eps must be at least 1e-12, not 0"]
    _, problems = spec.resolve({"momentum": 1.5})
    assert problems == ["momentum must be at most 1, not 1.5"]


def test_mobilenet_v2_conv_bn_relu6_is_a_conv2d():
    import_torchvision()
    from torchvision.models.mobilenetv2 import InvertedResidual
    from torchvision.ops import Conv2dNormActivation
    ref = Conv2dNormActivation(8, 16, kernel_size=3, stride=2, activation_layer=torch.nn.ReLU6)
    assert_same_as_reference("Conv2d", {"filters": 16, "stride": 2, "batch_norm": True,
                                        "activation": "relu6"}, ref, (8, 13, 13),
                             exact_keys=False)
    depthwise = InvertedResidual(16, 16, 1, expand_ratio=1).conv[0]  # 3×3, groups=C
    assert_same_as_reference("Conv2d", {"filters": 16, "groups": 16, "batch_norm": True,
                                        "activation": "relu6"}, depthwise, (16, 9, 9),
                             exact_keys=False)


# --- conv bias independent of batch_norm ----------------------------------------------------

def test_bias_auto_keeps_todays_rule_and_true_false_force_it():
    def has_bias(params):
        ours, stats = block("Conv2d", {"filters": 4, **params}, (3, 8, 8))
        return ours.conv.bias is not None, stats.params
    assert has_bias({}) == (True, 4 * 27 + 4)
    assert has_bias({"batch_norm": True}) == (False, 4 * 27 + 8)
    assert has_bias({"bias": False}) == (False, 4 * 27)
    assert has_bias({"batch_norm": True, "bias": True}) == (True, 4 * 27 + 4 + 8)
    ours, _ = block("ConvTranspose2d", {"filters": 4, "bias": False}, (3, 8, 8))
    assert ours.conv.bias is None
    ours, _ = block("DepthwiseSeparableConv", {"filters": 4, "bias": True}, (3, 8, 8))
    assert ours.depthwise.conv.bias is not None and ours.pointwise.conv.bias is not None
    _, problems = REGISTRY["Conv2d"].resolve({"bias": 1})
    assert problems == ["bias must be one of auto, True, False, not 1"]


def test_densenet_transition_drawn_with_a_conv_without_bias_or_batchnorm(tmp_path):
    """BatchNorm → ReLU → 1×1 Conv2d(bias false, no BatchNorm) → 2×2 AvgPool is torchvision's
    _Transition: same weights, same parameter count and MACs, same outputs; and the same
    once exported to Python and to ONNX."""
    import_torchvision()
    from torchvision.models.densenet import _Transition
    ref = _Transition(16, 8).eval()
    randomise_batchnorm(ref)
    g, ids = chain("BatchNorm", ("Activation", {"function": "relu"}),
                   ("Conv2d", {"filters": 8, "kernel_size": 1, "activation": "none",
                               "bias": False}),
                   ("AvgPool2d", {"pool_size": 2}), shape=(16, 10, 10), name="transition")
    model = compile_graph(g).eval()
    assert [v.shape for v in model.state_dict().values()] == \
        [v.shape for v in ref.state_dict().values()]
    model.load_state_dict(dict(zip(model.state_dict(), ref.state_dict().values())))
    x = torch.randn(2, 16, 10, 10)
    totals = g.totals()
    assert totals["total_params"] == sum(p.numel() for p in ref.parameters())
    assert totals["total_macs"] == macs(ref, x[:1])
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
    assert same_as_exported(g, tmp_path, x)
    assert export_onnx(g, tmp_path / "t.onnx").max_abs_diff <= 1e-5


# --- stride / padding / dilation as [h, w] pairs --------------------------------------------

def test_conv2d_takes_stride_padding_and_dilation_pairs_like_torch():
    ref = torch.nn.Sequential()
    ref.conv = torch.nn.Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 3), dilation=(1, 2))
    ref.bn = torch.nn.Identity()
    ref.act = torch.nn.ReLU()
    assert_same_as_reference("Conv2d", {"filters": 6, "kernel_size": [3, 5], "stride": [2, 1],
                                        "padding": [1, 3], "dilation": [1, 2]}, ref, (4, 11, 13))
    # "same" with a stride pair pads d(k−1)//2 on each side, as at an int stride
    ref.conv = torch.nn.Conv2d(4, 6, 3, stride=(1, 2), padding=(1, 1))
    assert_same_as_reference("Conv2d", {"filters": 6, "stride": [1, 2]}, ref, (4, 11, 13))


@pytest.mark.parametrize("type_id, cls", [("MaxPool2d", torch.nn.MaxPool2d),
                                          ("AvgPool2d", torch.nn.AvgPool2d)])
def test_pools_take_stride_and_padding_pairs_like_torch(type_id, cls):
    ref = cls((3, 2), stride=(1, 2), padding=(1, 0))
    assert_same_as_reference(type_id, {"pool_size": [3, 2], "stride": [1, 2],
                                       "padding": [1, 0]}, ref, (3, 9, 9))


def test_impossible_pairs_get_a_message_naming_the_axis_sizes():
    conv, pool = REGISTRY["Conv2d"], REGISTRY["MaxPool2d"]
    assert conv.resolve({"stride": [1, 0]})[1] == ["stride must be in 1..16, not [1, 0]"]
    assert conv.resolve({"padding": [1, "same"]})[1] == [
        'padding must be "same", "valid", a whole number 0..64 or [h, w] of them, '
        "not [1, 'same']"]
    params, _ = conv.resolve({"kernel_size": 5, "padding": [2, 0], "stride": [1, 2]})
    assert conv.check([(3, 8, 4)], params) == (
        'Conv2d: input 8×4 padded by 2×0 (12×4) is smaller than the 5×5 kernel — use padding '
        '"same", more padding or a larger input')
    params, _ = pool.resolve({"pool_size": [3, 2], "padding": [1, 2]})
    assert pool.check([(3, 8, 8)], params) == (
        'MaxPool2d: padding [1, 2] is more than half the 3×2 pool — use padding of at most '
        '1 or "same"')


def test_pairs_export_to_python_and_onnx(tmp_path):
    g, _ = chain(("Conv2d", {"filters": 4, "kernel_size": [1, 7], "stride": [2, 1],
                             "padding": [0, 3], "dilation": [1, 2]}),
                 ("MaxPool2d", {"pool_size": [3, 2], "stride": [1, 2], "padding": [1, 0]}),
                 shape=(3, 16, 16), name="pairs")
    x = torch.randn(2, 3, 16, 16)
    assert same_as_exported(g, tmp_path, x)
    source = (tmp_path / "net.py").read_text()
    assert "stride=(2, 1)" in source and "padding=(0, 3)" in source
    assert export_onnx(g, tmp_path / "pairs.onnx").max_abs_diff <= 1e-5


def test_inspector_reads_pairs_for_strides_and_paddings():
    from app.ui.fields import Unreadable, parse_text
    from blocks.spec import PADDING, PAIR
    assert parse_text(PAIR, "2, 1") == [2, 1] and parse_text(PAIR, "2") == 2
    assert parse_text(PADDING, "0, 3") == [0, 3] and parse_text(PADDING, "same") == "same"
    assert isinstance(parse_text(PADDING, "1, 2, 3"), Unreadable)


def test_pool_stride_field_takes_auto_a_number_or_a_pair(qtbot):
    from app.ui.fields import ParamEditor
    editor = ParamEditor(REGISTRY["MaxPool2d"].param_map["stride"])
    qtbot.addWidget(editor)
    sent = []
    editor.edited.connect(lambda name, value: sent.append((name, value)))
    for text in ("", "auto", "2", "2, 1"):
        editor.widget.setText(text)
        editor.widget.editingFinished.emit()
    assert sent == [("stride", None), ("stride", None), ("stride", 2), ("stride", [2, 1])]
    assert editor.check([2, 1]) == ([2, 1], None)


# --- pooling ceil_mode and count_include_pad ------------------------------------------------

def test_googlenet_and_squeezenet_ceil_mode_pools():
    """torchvision's GoogLeNet and SqueezeNet 1.1 max-pools round up: 112 → 56 → 28 → 14 → 7
    with ceil_mode, not 55 … (their parameter counts already matched; their shapes did not)."""
    tv = import_torchvision()
    googlenet = tv.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    squeezenet = tv.models.squeezenet1_1(weights=None)
    for ref, shape in [(googlenet.maxpool1, (8, 112, 112)), (googlenet.maxpool2, (8, 56, 56)),
                       (squeezenet.features[2], (8, 111, 111)),
                       (squeezenet.features[2], (8, 54, 54))]:
        assert (ref.kernel_size, ref.stride, ref.padding, ref.ceil_mode) == (3, 2, 0, True)
        assert_same_as_reference("MaxPool2d", {"pool_size": 3, "stride": 2, "ceil_mode": True},
                                 ref, shape)
    _, stats = block("MaxPool2d", {"pool_size": 3, "stride": 2, "ceil_mode": True}, (8, 112, 112))
    assert stats.output_shape == (8, 56, 56)
    _, stats = block("MaxPool2d", {"pool_size": 3, "stride": 2}, (8, 112, 112))
    assert stats.output_shape == (8, 55, 55)


def test_ceil_mode_lets_a_pool_take_an_input_smaller_than_its_window_as_torch_does():
    params, _ = REGISTRY["MaxPool2d"].resolve({"pool_size": 3, "stride": 2, "ceil_mode": True})
    assert REGISTRY["MaxPool2d"].check([(4, 2, 2)], params) is None
    assert node_stats("MaxPool2d", params, [(4, 2, 2)]).output_shape == (4, 1, 1)
    params["ceil_mode"] = False
    assert "smaller than the 3×3 pool" in REGISTRY["MaxPool2d"].check([(4, 2, 2)], params)


def test_average_pool_without_the_padding_zeros_as_timm_inception():
    """timm's Inception-v4 / -ResNet-v2 branch pool: AvgPool2d(3, 1, 1, count_include_pad=False)."""
    ref = torch.nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    ours = assert_same_as_reference("AvgPool2d", {"pool_size": 3, "stride": 1, "padding": 1,
                                                  "count_include_pad": False}, ref, (4, 7, 7))
    x = torch.ones(1, 4, 7, 7)
    assert torch.equal(ours(x), x)  # the corners average 4 ones, not 4 ones and 5 zeros
    ours, _ = block("AvgPool2d", {"pool_size": 3, "stride": 1, "padding": 1}, (4, 7, 7))
    assert ours(x)[0, 0, 0, 0].item() == pytest.approx(4 / 9)


def test_pool_options_export_to_python_and_onnx(tmp_path):
    g, _ = chain(("MaxPool2d", {"pool_size": 3, "stride": 2, "ceil_mode": True}),
                 ("AvgPool2d", {"pool_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                "count_include_pad": False}), shape=(3, 16, 16), name="pools")
    x = torch.randn(2, 3, 16, 16)
    assert same_as_exported(g, tmp_path, x)
    assert "count_include_pad=False" in (tmp_path / "net.py").read_text()
    assert export_onnx(g, tmp_path / "pools.onnx").max_abs_diff <= 1e-5


# --- adaptive average pooling to a fixed size -----------------------------------------------

def test_vgg_head_is_exact_at_any_input_size(tmp_path):
    """torchvision VGG's avgpool (AdaptiveAvgPool2d((7, 7))) then flatten and a Linear, at an
    input that is not 7×7 and not a multiple of it: same numbers and outputs as torch."""
    tv = import_torchvision()
    with torch.device("meta"):
        vgg_pool = tv.models.vgg11().avgpool
    assert vgg_pool.output_size == (7, 7)
    ref = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(vgg_pool.output_size),
                              torch.nn.Flatten(1), torch.nn.Linear(16 * 49, 10))
    g, ids = chain(("AdaptiveAvgPool2d", {"output_size": [7, 7]}), "Flatten",
                   ("Linear", {"units": 10}), shape=(16, 13, 10), name="vgg head")
    assert g.info[ids[1]].output_shape == (16, 7, 7)
    model = compile_graph(g).eval()
    model.load_state_dict(dict(zip(model.state_dict(), ref.state_dict().values())))
    x = torch.randn(2, 16, 13, 10)
    assert (g.totals()["total_params"], g.totals()["total_macs"]) == (
        sum(p.numel() for p in ref.parameters()), macs(ref, x[:1]))
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
    assert same_as_exported(g, tmp_path, x)
    assert export_onnx(g, tmp_path / "head.onnx").max_abs_diff <= 1e-5


def test_adaptive_pool_refuses_a_flat_input_and_takes_a_small_one():
    spec = REGISTRY["AdaptiveAvgPool2d"]
    params, _ = spec.resolve({"output_size": [2, 3]})
    assert "needs a [C, H, W] input" in spec.check([(8,)], params)
    assert node_stats("AdaptiveAvgPool2d", params, [(4, 1, 1)]).output_shape == (4, 2, 3)
    assert spec.resolve({"output_size": 0})[1] == ["output_size must be in 1..1024, not 0"]


def test_adaptive_pool_field_exact_when_even_and_the_largest_window_when_not():
    from app.graph.receptive import receptive_fields
    g, ids = chain(("AdaptiveAvgPool2d", {"output_size": [7, 7]}), shape=(1, 14, 13))
    nf = receptive_fields(g)[ids[1]]
    # 14 → 7: windows of 2, stride 2; 13 → 7: windows [floor(13i/7), ceil(13(i+1)/7)) of
    # 2 or 3 pixels, the largest 3, 13/7 apart on average
    assert nf.receptive_field == [2, 3] and nf.effective_stride[0] == 2
    assert nf.warning and "largest" in nf.warning


# --- SqueezeExcite with biases, and a channel Multiply to draw gates by hand ---------------

@pytest.mark.parametrize("gate, activation", [("sigmoid", "relu"), ("hardsigmoid", "relu"),
                                              ("sigmoid", "silu")])
def test_squeeze_excite_is_torchvisions_squeeze_excitation(gate, activation):
    """torchvision.ops.SqueezeExcitation (ResNet-style SE, MobileNetV3 with hardsigmoid,
    EfficientNet with SiLU); timm's SEModule has the same layers: fc1/fc2 1×1 convs with
    bias, x.mean((2, 3), keepdim=True), act, gate."""
    import_torchvision()
    from torchvision.ops import SqueezeExcitation
    acts = {"relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "sigmoid": torch.nn.Sigmoid,
            "hardsigmoid": torch.nn.Hardsigmoid}
    ref = SqueezeExcitation(24, 8, activation=acts[activation], scale_activation=acts[gate])
    assert_same_as_reference("SqueezeExcite", {"squeeze_channels": 8, "bias": True,
                                               "fc": "conv", "gate": gate,
                                               "activation": activation},
                             ref, (24, 7, 9), exact_keys=False)


def test_squeeze_excite_defaults_are_unchanged():
    ours, stats = block("SqueezeExcite", {}, (64, 8, 8))
    assert list(ours.state_dict()) == ["fc.0.weight", "fc.2.weight"]
    assert stats.params == 2 * 64 * 4 and stats.macs == 2 * 64 * 4
    _, stats = block("SqueezeExcite", {"bias": True, "squeeze_channels": 5}, (64, 8, 8))
    assert stats.params == 2 * 64 * 5 + 5 + 64


def test_squeeze_excitation_drawn_by_hand_with_multiply(tmp_path):
    """x → AdaptiveAvgPool2d(1) → 1×1 Conv2d(relu) → 1×1 Conv2d(hardsigmoid) → Multiply(x, ·)
    is torchvision's MobileNetV3 SqueezeExcitation: weights, numbers, outputs, exports."""
    import_torchvision()
    from torchvision.ops import SqueezeExcitation
    ref = SqueezeExcitation(16, 8, scale_activation=torch.nn.Hardsigmoid).eval()
    from app.graph import NetGraph
    g = NetGraph("hand-drawn SE")
    x = g.add_node("Input", {"shape": [16, 9, 9]})
    pool = g.add_node("AdaptiveAvgPool2d", {"output_size": 1})
    fc1 = g.add_node("Conv2d", {"filters": 8, "kernel_size": 1})
    fc2 = g.add_node("Conv2d", {"filters": 16, "kernel_size": 1, "activation": "hardsigmoid"})
    mul = g.add_node("Multiply")
    for a, b in ((x, pool), (pool, fc1), (fc1, fc2), (x, mul), (fc2, mul)):
        g.connect(a, b)
    assert g.problems() == [] and g.info[mul].output_shape == (16, 9, 9)
    model = compile_graph(g).eval()
    model.load_state_dict(dict(zip(model.state_dict(), ref.state_dict().values())))
    inp = torch.randn(2, 16, 9, 9)
    totals = g.totals()
    assert (totals["total_params"], totals["total_macs"]) == (
        sum(p.numel() for p in ref.parameters()), macs(ref, inp[:1]))
    with torch.no_grad():
        torch.testing.assert_close(model(inp), ref(inp), rtol=1e-5, atol=1e-5)
    assert same_as_exported(g, tmp_path, inp)
    assert export_onnx(g, tmp_path / "se.onnx").max_abs_diff <= 1e-5
    from test_receptive import check_against_oracle
    assert check_against_oracle(g) >= 1


def test_multiply_broadcasts_a_gate_and_refuses_what_does_not_fit():
    check = REGISTRY["Multiply"].check
    assert node_stats("Multiply", {}, [(8, 5, 5), (8,)]).output_shape == (8, 5, 5)
    assert node_stats("Multiply", {}, [(8, 1, 1), (8, 5, 5)]).output_shape == (8, 5, 5)
    assert node_stats("Multiply", {}, [(8, 5, 5), (8, 5, 5)]).output_shape == (8, 5, 5)
    assert check([(8, 5, 5), (4,)], {}) == (
        "Multiply: input 2 is [4] and does not broadcast with [8, 5, 5] — multiply by the "
        "same shape, or by a gate of 8 channels ([8] or [8, 1, 1])")
    assert check([(8, 5, 5), (8, 4, 4)], {}) is not None
    x, gate = torch.randn(2, 8, 5, 5), torch.rand(2, 8)
    ours, _ = block("Multiply", {}, (8, 5, 5))
    assert torch.equal(ours(x, gate), x * gate[:, :, None, None])


# --- every new option at once, through both exporters --------------------------------------

def options_graph():
    from app.graph import NetGraph
    g = NetGraph("every new option")
    x = g.add_node("Input", {"shape": [3, 23, 20]})
    layers = [
        ("Conv2d", {"filters": 16, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2],
                    "dilation": [1, 2], "batch_norm": True, "bias": True, "eps": 0.001,
                    "momentum": 0.01, "activation": "hardswish"}),
        ("SqueezeExcite", {"squeeze_channels": 8, "bias": True, "fc": "conv",
                           "gate": "hardsigmoid"}),
        ("MaxPool2d", {"pool_size": 3, "stride": [2, 1], "ceil_mode": True}),
        ("AvgPool2d", {"pool_size": 3, "stride": 1, "padding": [1, 0],
                       "count_include_pad": False}),
        ("InceptionResNetC", {"relu": False, "eps": 0.001}),
        ("ReductionA", {"k": 8, "l": 8, "m": 8, "n": 8, "branch_order": "timm"}),
    ]
    prev = x
    for t, p in layers:
        n = g.add_node(t, p)
        g.connect(prev, n)
        prev = n
    gate = g.add_node("GlobalAvgPool")
    fc = g.add_node("Linear", {"units": g.info[prev].output_shape[0], "activation": "sigmoid"})
    mul = g.add_node("Multiply")
    head = [g.add_node("AdaptiveAvgPool2d", {"output_size": [2, 3]}), g.add_node("Flatten"),
            g.add_node("Linear", {"units": 5})]
    for a, b in ((prev, gate), (gate, fc), (prev, mul), (fc, mul), (mul, head[0]),
                 (head[0], head[1]), (head[1], head[2])):
        g.connect(a, b)
    assert g.problems() == [], g.problems()
    return g


def test_every_new_option_exports_to_a_clean_python_file_and_to_onnx(tmp_path):
    import subprocess
    import sys

    from test_export_python import ruff_command
    g = options_graph()
    x = torch.randn(2, 3, 23, 20)
    assert same_as_exported(g, tmp_path, x)
    source = (tmp_path / "net.py").read_text()
    for text in ("eps=0.001", "momentum=0.01", "bias=True", "ceil_mode=True",
                 "count_include_pad=False", "branch_order='timm'", "relu=False",
                 "fc='conv'", "output_size=(2, 3)", "stride=(2, 1)"):
        assert text in source, text
    cmd = ruff_command()
    if cmd is not None:
        for extra in ([], ["--select", "E4,E7,E9,F"]):
            run = subprocess.run([*cmd, "check", "--isolated", "--no-cache", *extra,
                                  str(tmp_path / "net.py")], capture_output=True, text=True,
                                 timeout=120, check=False)
            assert run.returncode == 0, run.stdout + run.stderr
    run = subprocess.run([sys.executable, str(tmp_path / "net.py")], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert export_onnx(g, tmp_path / "all.onnx").max_abs_diff <= 1e-4


def test_a_block_exposing_one_stride_for_a_conv2d_and_a_residual_still_loads():
    """Conv2d's stride became a pair; a composite that binds one exposed `stride` to it and
    to a Residual's (int) stride, as files did before, still loads and takes an int."""
    from app.graph.grouping import expose
    from app.project import dumps_project, project_from_dict
    body = {"name": "Down", "inputs": ["x"],
            "exposed": [{"name": "stride", "node": "c", "param": "stride"},
                        {"name": "stride", "node": "r", "param": "stride"}],
            "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4, 16, 16]}},
                      {"id": "c", "type": "Conv2d", "params": {"filters": 4}},
                      {"id": "r", "type": "Residual", "params": {"filters": 4}}],
            "edges": [{"source": "x", "target": "c"}, {"source": "c", "target": "r"}]}
    data = {"format": "netcanvas", "version": 2, "name": "down", "definitions": [body],
            "nodes": [{"id": "in", "type": "Input", "params": {"shape": [4, 16, 16]}},
                      {"id": "d", "type": "Down", "params": {"stride": 2}}],
            "edges": [{"source": "in", "target": "d"}]}
    g = project_from_dict(data)
    assert g.problems() == [] and g.info["d"].output_shape == (4, 4, 4)
    assert g.definitions["Down"].param_map["stride"].kind == "int"
    g = project_from_dict(__import__("json").loads(dumps_project(g)))
    assert g.info["d"].output_shape == (4, 4, 4)
    expose(g, "Down", "c", "dilation", "stride")  # a pair and an int: one int sets both


def test_bias_field_offers_auto_true_false_and_sends_booleans(qtbot):
    from app.ui.fields import ParamEditor
    editor = ParamEditor(REGISTRY["Conv2d"].param_map["bias"])
    qtbot.addWidget(editor)
    combo = editor.widget
    assert [combo.itemText(i) for i in range(combo.count())] == ["auto", "true", "false"]
    editor.set_value(False)
    assert combo.currentText() == "false"
    editor.set_value("auto")
    assert combo.currentText() == "auto"
    sent = []
    editor.edited.connect(lambda name, value: sent.append(value))
    combo.activated.emit(1)
    assert sent == [True] and type(sent[0]) is bool
    assert editor.check(sent[0]) == (True, None)
