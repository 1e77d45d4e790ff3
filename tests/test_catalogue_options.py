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
from blocks import REGISTRY
from helpers import chain

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
