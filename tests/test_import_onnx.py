"""ONNX import (issue 11): real torchvision models exported by torch.onnx, imported, and
checked against code nobody here wrote — torchvision's own model (parameters, outputs),
FlopCounterMode (MACs) and onnxruntime on the original file; then exported again and run
in onnxruntime. Small hand-built graphs check single mappings (hostile files:
test_import_onnx_hostile.py)."""
import warnings

import numpy as np
import onnx
import pytest
import torch
from helpers import import_torchvision
from onnx import helper
from onnx_models import close, folding_model, ort_run, save, tiny_model
from torch.utils.flop_counter import FlopCounterMode

from app.compile import compile_graph
from app.importers import ImportRefused, import_source
from app.importers.onnx_import import import_onnx
from app.project import project_from_dict

SIZE = 64  # small inputs keep the output comparisons quick


def _randomise(model):
    """Non-trivial BatchNorm statistics and a louder classifier, so outputs are O(1) and a
    wrong mapping cannot hide in near-zero numbers."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(20)
                m.bias.copy_(torch.randn(m.out_features, generator=g))
    return model.eval()


def _export(model, path, dynamo: bool):
    x = torch.randn(1, 3, SIZE, SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:  # the current exporter: folds each BatchNorm into its conv
            torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False,
                              input_names=["input"], output_names=["logits"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},))
        else:  # TorchScript exporter without constant folding: BatchNorm stays
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                              do_constant_folding=False, input_names=["input"],
                              output_names=["logits"],
                              dynamic_axes={"input": {0: "b"}, "logits": {0: "b"}})
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tv = import_torchvision()
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    kwargs = {"googlenet": {"aux_logits": False, "init_weights": True}}
    for name in ("resnet18", "mobilenet_v2", "googlenet", "mobilenet_v3_small"):
        torch.manual_seed(0)
        model = _randomise(getattr(tv.models, name)(**kwargs.get(name, {})))
        out[name] = (model, _export(model, folder / f"{name}.onnx", dynamo=False))
    out["resnet18-dynamo"] = (out["resnet18"][0],
                              _export(out["resnet18"][0], folder / "r18-dynamo.onnx", True))
    return out


@pytest.fixture(scope="module")
def imported(models):
    return {k: import_source(str(path)) for k, (_, path) in models.items()}


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet", "mobilenet_v3_small"])
def test_numbers_equal_torchvision(models, imported, name):
    model, _ = models[name]
    graph = project_from_dict(imported[name].project)
    totals = graph.totals()
    assert totals["total_params"] == sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = model(torch.randn(1, 3, SIZE, SIZE))
    assert totals["total_macs"] == counter.get_total_flops() // 2
    assert list(totals["output_shape"]) == list(y.shape[1:])
    # conv→bn→relu came in as one Conv2d each; only a ReLU after an Add stands alone
    project = imported[name].project
    types = [n["type"] for d in [project, *project["definitions"]] for n in d["nodes"]]
    assert "BatchNorm" not in types and types.count("Activation") <= types.count("Add")


def test_module_scopes_become_composites_and_repeats(imported):
    """ResNet-18 opens as a stem, four stages and a head, not 40 loose nodes: the stages
    are composite blocks, layer1's two identical BasicBlocks one node ×2."""
    for name in ("resnet18", "resnet18-dynamo"):
        top = imported[name].project["nodes"]
        labels = [n.get("label") for n in top]
        assert labels == ["input", labels[1], "maxpool", "layer1", "layer2", "layer3",
                          "layer4", "avgpool", "fc"]
        assert top[3]["repeat"] == 2
        defs = {d["name"]: d for d in imported[name].project["definitions"]}
        assert top[3]["type"] in defs and top[4]["type"] in defs
        block = defs[top[3]["type"]]
        assert sorted(n["type"] for n in block["nodes"]) == [
            "Activation", "Add", "Conv2d", "Conv2d", "Input"]
    assert "BasicBlock" in imported["resnet18-dynamo"].project["nodes"][3]["type"]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet", "mobilenet_v3_small",
                                  "resnet18-dynamo"])
def test_imported_weights_compute_the_original(models, imported, name):
    model, path = models[name]
    result = imported[name]
    compiled = compile_graph(project_from_dict(result.project))
    compiled.load_state_dict(result.weights, strict=True)
    compiled.eval()
    x = torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        got = compiled(x).numpy()
        reference = model(x).numpy()
    assert np.abs(reference).max() > 1.0  # a real signal, not near-zero outputs
    assert close(ort_run(str(path), x), got)
    assert close(reference, got)
    assert "matches onnxruntime" in result.notes[0]


def test_grouping_that_changes_the_network_is_dropped(models, monkeypatch):
    """If the composites made from the scopes did not give the same network, the flat
    import is returned and a note says why (here: a grouping that loses the head)."""
    from app.importers import onnx_group
    real = onnx_group.Grouper.project

    def broken(self, name):
        data, chains = real(self, name)
        data["nodes"].pop()  # the head is lost: another network
        kept = {n["id"] for n in data["nodes"]}
        data["edges"] = [e for e in data["edges"] if e["target"] in kept]
        return data, chains

    monkeypatch.setattr(onnx_group.Grouper, "project", broken)
    result = import_onnx(models["resnet18"][1])
    assert "definitions" not in result.project
    assert any(n.startswith("kept flat:") for n in result.notes)
    assert len(result.project["nodes"]) == 40


def test_dynamo_export_folds_batchnorm_and_says_what_was_added(imported):
    result = imported["resnet18-dynamo"]
    assert "BatchNorm" not in {n["type"] for n in result.project["nodes"]}
    convs = [n for n in result.project["nodes"] if n["type"] == "Conv2d"]
    assert convs and all(not n["params"]["batch_norm"] for n in convs)


def test_reexport_to_onnx_matches_the_original(models, imported, tmp_path):
    from app.export.onnx_export import export_onnx
    _, path = models["resnet18"]
    result = imported["resnet18"]
    graph = project_from_dict(result.project)
    compiled = compile_graph(graph)
    compiled.load_state_dict(result.weights, strict=True)
    report = export_onnx(graph, tmp_path / "again.onnx", model=compiled)
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(9))
    assert close(ort_run(str(path), x), ort_run(str(report.path), x))


class Zoo(torch.nn.Module):
    """Layers beyond the classic nets: asymmetric padding, ZeroPad2d, SiLU (x·sigmoid(x)),
    LeakyReLU, Hardswish, a branch and Concat, a BatchNorm after an Add (not foldable into a
    conv), bilinear Upsample, ConvTranspose, padded AvgPool, Linear + Tanh, Softmax."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=(1, 2)), nn.BatchNorm2d(8)
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, bias=False)
        self.conv3, self.conv4 = nn.Conv2d(8, 4, 1), nn.Conv2d(12, 12, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(12, eps=1e-3)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.deconv = nn.ConvTranspose2d(12, 4, 2, stride=2)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        F = torch.nn.functional
        x = F.silu(self.bn1(self.conv1(x)))
        x = F.leaky_relu(self.conv2(self.pad(x)))
        x = torch.cat([F.hardswish(self.conv3(x)), self.pool(x)], 1)
        x = F.relu(self.bn2(self.conv4(x) + x))
        x = self.avg(self.deconv(self.up(x)))
        return torch.softmax(torch.tanh(self.fc(x.mean((2, 3)))), 1)


@pytest.mark.parametrize("dynamo", [False, True])
def test_less_common_layers(tmp_path, dynamo):
    model = _randomise(Zoo())
    path = tmp_path / "zoo.onnx"
    x = torch.randn(1, 3, 12, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"dynamo": True} if dynamo else {"dynamo": False, "opset_version": 17,
                                               "do_constant_folding": False}
        torch.onnx.export(model, (x,), str(path), input_names=["input"], **kw)
    result = import_onnx(path)
    graph = project_from_dict(result.project)
    types = {n["type"] for d in [result.project, *result.project.get("definitions", [])]
             for n in d["nodes"]}
    assert {"ZeroPad2d", "Upsample", "ConvTranspose2d", "AvgPool2d", "Concat",
            "BatchNorm"} <= types
    if not dynamo:  # BatchNorm kept as in the model: the same parameters
        assert graph.totals()["total_params"] == sum(p.numel() for p in model.parameters())
    bn = [n for n in result.project["nodes"] if n["type"] == "BatchNorm"]
    assert len(bn) == 1 and bn[0]["params"]["eps"] == pytest.approx(1e-3)
    compiled = compile_graph(graph)
    compiled.load_state_dict(result.weights)
    with torch.no_grad():
        assert close(model(x).numpy(), compiled.eval()(x).numpy())


class ViewNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).view(x.size(0), -1))


def test_view_by_the_batch_size_is_a_flatten(tmp_path):
    """TorchScript writes x.view(x.size(0), -1) as Shape → Gather → Concat → Reshape."""
    model, path = ViewNet().eval(), tmp_path / "view.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 8, 8),), str(path), dynamo=False,
                          opset_version=17, input_names=["x"], dynamic_axes={"x": {0: "b"}})
    assert "Shape" in {n.op_type for n in onnx.load(str(path)).graph.node}
    result = import_onnx(path)
    assert [n["type"] for n in result.project["nodes"]] == ["Input", "Conv2d", "Flatten", "Linear"]
    compiled = compile_graph(project_from_dict(result.project))
    compiled.load_state_dict(result.weights)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert close(model(x).numpy(), compiled.eval()(x).numpy())


# ---- small hand-built models ------------------------------------------------------------------

def test_tiny_model_imports_and_matches(tmp_path):
    path = save(tiny_model(), tmp_path / "tiny.onnx")
    result = import_onnx(path)
    types = [n["type"] for n in result.project["nodes"]]
    assert types == ["Input", "Conv2d", "GlobalAvgPool", "Linear"]
    assert result.project["nodes"][1]["params"]["activation"] == "relu"
    xs = [n["pos"][0] for n in result.project["nodes"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # laid out left to right
    compiled = compile_graph(project_from_dict(result.project))
    compiled.load_state_dict(result.weights)
    x = torch.randn(2, 3, 8, 8)
    assert close(ort_run(path, x), compiled.eval()(x).detach().numpy())


def test_matmul_add_relu_is_one_linear(tmp_path):
    rng = np.random.default_rng(1)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((6, 4)).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")]
    ops = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
           helper.make_node("Relu", ["a"], ["y"])]
    path = save(tiny_model(ops=ops, inits=inits, input_dims=("N", 6)), tmp_path / "mlp.onnx")
    result = import_onnx(path)
    assert [(n["type"], n["params"]) for n in result.project["nodes"][1:]] == [
        ("Linear", {"units": 4, "activation": "relu"})]
    compiled = compile_graph(project_from_dict(result.project))
    compiled.load_state_dict(result.weights)
    x = torch.randn(3, 6)
    assert close(ort_run(path, x), compiled.eval()(x).detach().numpy())


def test_same_upper_padding_becomes_zero_padding(tmp_path):
    """auto_pad=SAME_UPPER at stride 2 pads one more row/column after than before: not
    symmetric, so a ZeroPad2d goes in front of an unpadded Conv2d."""
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    ops = [helper.make_node("Conv", ["x", "w"], ["y"], name="c", auto_pad="SAME_UPPER",
                            strides=[2, 2], kernel_shape=[3, 3])]
    path = save(tiny_model(ops=ops, inits=[onnx.numpy_helper.from_array(w, "w")], out_rank=4),
                 tmp_path / "same.onnx")
    nodes = import_onnx(path).project["nodes"]
    assert [n["type"] for n in nodes] == ["Input", "ZeroPad2d", "Conv2d"]
    assert nodes[1]["params"]["padding"] == [0, 1, 0, 1] and nodes[2]["params"]["padding"] == 0


def test_dynamic_image_size_needs_input_shape(tmp_path):
    path = save(tiny_model(input_dims=("N", 3, "H", "W")), tmp_path / "dyn.onnx")
    with pytest.raises(ImportRefused, match=r"dynamic sizes; give them with --input-shape"):
        import_onnx(path)
    result = import_source(path, input_shape=[3, 16, 12])
    assert result.project["nodes"][0]["params"]["shape"] == [3, 16, 12]


def test_folded_constants_feed_a_reshape(tmp_path):
    result = import_onnx(save(folding_model(), tmp_path / "fold.onnx"))
    assert [n["type"] for n in result.project["nodes"]] == [
        "Input", "Conv2d", "GlobalAvgPool", "Linear"]
