"""`netcanvas import`: issue 11's done-means end to end, the user's own files, and refusals
that name the module and the op in one line (never a traceback)."""
import json
import textwrap

import numpy as np
import pytest
import torch
from helpers import import_torchvision

from app.cli import main
from app.importers import ImportRefused, import_source

tv = import_torchvision()  # in sys.modules: `torchvision.models:resnet50` imports it from there


def test_resnet50_import_summary_and_onnx_export_give_torchvisions_model(tmp_path, capsys):
    """The issue's done-means: import → summary says 25,557,032 parameters → the ONNX export
    with the imported weights computes what torchvision's resnet50 computes."""
    import onnxruntime as ort
    project, weights, onnx_file = (tmp_path / "r50.json", tmp_path / "r50.safetensors",
                                   tmp_path / "r50.onnx")
    torch.manual_seed(0)  # the import builds resnet50() with torch's generator: seeded
    assert main(["import", "torchvision.models:resnet50", "-o", str(project),
                 "--weights", str(weights)]) == 0
    assert "checked" in capsys.readouterr().out
    assert main(["summary", str(project), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_params"] == 25_557_032
    assert summary["output_shape"] == [1000]
    assert main(["export", str(project), "--to", "onnx", "--weights", str(weights),
                 "-o", str(onnx_file)]) == 0
    torch.manual_seed(0)
    reference = tv.models.resnet50().eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = reference(x).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


MY_NET = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


class MyNet(nn.Module):
    def __init__(self, width=8, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.Sequential(Block(width), Block(width), Block(width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.pool(self.blocks(self.stem(x))).flatten(1))


class Rolled(MyNet):
    def forward(self, x):
        return self.head(self.pool(torch.roll(self.blocks(self.stem(x)), 1, 2)).flatten(1))


class Branchy(MyNet):
    def forward(self, x):
        if x.mean() > 0:
            x = -x
        return super().forward(x)


class TwoInputs(MyNet):
    def forward(self, x, y):
        return super().forward(x + y)


class TwoHeads(MyNet):
    def forward(self, x):
        y = super().forward(x)
        return y, y


def broken():
    raise ValueError("no such width")
"""


@pytest.fixture()
def my_file(tmp_path):
    path = tmp_path / "my_net.py"
    path.write_text(textwrap.dedent(MY_NET), encoding="utf-8")
    return path


def test_users_own_file_with_kwargs_and_shape(my_file, tmp_path, capsys):
    out = tmp_path / "mine.json"
    assert main(["import", f"{my_file}:MyNet", "-o", str(out), "--input-shape", "3,16,16",
                 "--kwargs", '{"width": 12, "classes": 5}']) == 0
    data = json.loads(out.read_text())
    assert data["nodes"][0]["params"]["shape"] == [3, 16, 16]
    # the three identical residual blocks: one composite repeated ×3
    block = next(n for n in data["nodes"] if n.get("repeat") == 3)
    body = next(d for d in data["definitions"] if d["name"] == block["type"])
    assert [n["type"] for n in body["nodes"]] == ["Input", "Conv2d", "Add", "Activation"]
    assert main(["summary", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["output_shape"] == [5]


@pytest.mark.parametrize("name, words", [
    ("Rolled", ["the model (Rolled)", "torch.roll", "supported"]),
    ("Branchy", ["Branchy", "control flow"]),
    ("TwoHeads", ["the model (TwoHeads)", "tuple", "one input and one output"]),
    ("TwoInputs", ["the model (TwoInputs)", "2 inputs (x, y)", "one input and one output"]),
    ("broken", ["broken()", "ValueError", "no such width"]),
])
def test_refusals_name_the_module_and_the_op(my_file, name, words):
    with pytest.raises(ImportRefused) as err:
        import_source(f"{my_file}:{name}", input_shape=[3, 16, 16])
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    for w in words:
        assert w in message, (w, message)


def test_an_unsupported_layer_deep_inside_names_its_path():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Sequential(
        torch.nn.ReLU(), torch.nn.Sequential(torch.nn.PixelShuffle(2))))
    from app.importers.torch_import import import_module
    with pytest.raises(ImportRefused, match=r"^1\.1\.0 \(PixelShuffle\): nn\.PixelShuffle "
                                            r"has no NetCanvas equivalent — supported: "):
        import_module(model, "m", [3, 16, 16])


@pytest.mark.parametrize("argv, code, words", [
    (["no.such.module:net"], 2, ["cannot import no.such.module"]),
    (["missing.onnx"], 2, ["missing.onnx"]),
    (["torchvision.models:no_such_net"], 2, ["no 'no_such_net'"]),
    (["torchvision.models:resnet18", "--input-shape", "3,x,4"], 2, ["--input-shape"]),
    (["torchvision.models:resnet18", "--kwargs", "[1]"], 2, ["JSON object"]),
    (["torchvision.models:resnet18", "--kwargs", '{"depth": 3}'], 1,
     ["resnet18(depth=3) raised TypeError"]),
    (["torchvision.models:resnet18", "--input-shape", "1,32,32"], 1,
     ["raised RuntimeError", "--input-shape"]),
])
def test_cli_errors_are_one_line_with_the_exit_code(tmp_path, capsys, argv, code, words):
    out = tmp_path / "x.json"
    assert main(["import", *argv, "-o", str(out)]) == code
    err = capsys.readouterr().err
    assert err.startswith("netcanvas import: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err
    assert not out.exists()


class Layers(torch.nn.Module):
    """Layers from the newer catalogue entries, each in a setting torch allows."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.pad = nn.ZeroPad2d((1, 1, 2, 2))
        self.conv = nn.Conv2d(3, 8, 3, bias=False)  # neither bias nor BatchNorm
        self.gn = nn.GroupNorm(4, 8)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.ln = nn.LayerNorm([8, 20, 16])
        self.bn = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
        self.act = nn.Hardswish()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.ln(self.inorm(self.up(self.gn(self.conv(self.pad(x))))))
        x = torch.nn.functional.interpolate(self.bn(x), scale_factor=0.5, mode="nearest")
        return self.fc(torch.nn.functional.relu6(self.act(x)).mean((2, 3)))


def test_layers_beyond_torchvisions_come_in_exactly():
    from app.compile import compile_graph
    from app.importers.torch_import import import_module
    from app.project import project_from_dict
    torch.manual_seed(0)
    model = Layers().eval()
    result = import_module(model, "layers", [3, 8, 8])
    types = [n["type"] for n in result.project["nodes"]]
    assert types == ["Input", "ZeroPad2d", "Conv2d", "GroupNorm", "Upsample", "InstanceNorm",
                     "LayerNorm", "BatchNorm", "Upsample", "Activation", "Activation",
                     "GlobalAvgPool", "Linear"]
    ours = compile_graph(project_from_dict(result.project))
    ours.load_state_dict(result.weights)
    ours.eval()
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert (ours(x) - model(x)).abs().max() <= 1e-5


class Gated(torch.nn.Module):
    """A torchvision SqueezeExcitation, then a gate drawn by hand (Linear layers on the pooled
    vector, broadcast back with [:, :, None, None])."""

    def __init__(self):
        super().__init__()
        from torchvision.ops.misc import SqueezeExcitation
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.se = SqueezeExcitation(16, 4)
        self.fc1, self.fc2 = torch.nn.Linear(16, 4), torch.nn.Linear(4, 16)

    def forward(self, x):
        x = self.se(self.conv(x))
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return (x * gate[:, :, None, None]).mean((2, 3))


def test_squeeze_excitation_and_a_hand_drawn_gate():
    from app.compile import compile_graph
    from app.importers.torch_import import import_module
    from app.project import project_from_dict
    torch.manual_seed(0)
    model = Gated().eval()
    result = import_module(model, "gated", [3, 8, 8])
    nodes = result.project["nodes"]
    assert [n["type"] for n in nodes] == ["Input", "Conv2d", "SqueezeExcite", "GlobalAvgPool",
                                          "Linear", "Linear", "Multiply", "GlobalAvgPool"]
    se = nodes[2]["params"]
    assert (se["squeeze_channels"], se["bias"], se["fc"]) == (4, True, "conv")
    ours = compile_graph(project_from_dict(result.project))
    ours.load_state_dict(result.weights)
    ours.eval()
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert (ours(x) - model(x)).abs().max() <= 1e-5


def test_the_command_imports_onnx_files_too(tmp_path, capsys):
    """SOURCE ending in .onnx goes to the ONNX importer (data, never run) through the same
    command: a small exported network comes back with its numbers."""
    from helpers import chain

    from app.export import export_onnx
    g, _ = chain(("Conv2d", {"filters": 8}), "GlobalAvgPool",  # (the exporter folds BN)
                 ("Linear", {"units": 4}), shape=(3, 16, 16))
    export_onnx(g, tmp_path / "small.onnx")
    out = tmp_path / "small.json"
    assert main(["import", str(tmp_path / "small.onnx"), "-o", str(out),
                 "--weights", str(tmp_path / "small.safetensors")]) == 0
    capsys.readouterr()
    assert main(["summary", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_params"] == g.totals()["total_params"]
    assert summary["output_shape"] == [4]


def test_without_weights_option_the_weights_go_where_the_editor_finds_them(tmp_path, capsys):
    """`netcanvas import X -o net.json` writes net.weights.safetensors beside it, and opening
    net.json (what the editor does on File ▸ Open) attaches every tensor to its node."""
    from helpers import chain

    from app.export import export_onnx
    from app.project import load_project
    from app.weights_store import load_sidecar
    g, _ = chain(("Conv2d", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 4}),
                 shape=(3, 16, 16))
    export_onnx(g, tmp_path / "small.onnx")
    out = tmp_path / "net.json"
    assert main(["import", str(tmp_path / "small.onnx"), "-o", str(out)]) == 0
    assert "net.weights.safetensors" in capsys.readouterr().out
    graph = load_project(out)
    attached, message = load_sidecar(graph, out)
    assert message is None
    have, total = attached.coverage(graph)
    assert have == total == 4  # conv weight and bias, linear weight and bias

    # Written elsewhere with --weights, the command says how the editor would find them.
    assert main(["import", str(tmp_path / "small.onnx"), "-o", str(tmp_path / "b.json"),
                 "--weights", str(tmp_path / "elsewhere.safetensors")]) == 0
    said = capsys.readouterr().out
    assert "elsewhere.safetensors" in said and "b.weights.safetensors" in said
    assert not (tmp_path / "b.weights.safetensors").exists()
