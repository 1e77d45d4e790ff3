"""Python export: one self-contained file, same names and same outputs as the compiled model,
and no user string can change the code."""
import ast
import builtins
import functools
import importlib.util
import io
import keyword
import shutil
import subprocess
import sys
import tokenize

import pytest
import torch

from app.compile import compile_graph
from app.export import ExportError, export_python, network_class_name, python_source
from app.graph import NetGraph
from app.graph.grouping import expose, group
from app.project import load_project
from helpers import chain
from resources import templates

EVIL = '"""; import os; os.system("echo pwned") #\n'


@functools.cache
def template(name):
    return load_project(templates()[name])


def import_file(path, name="exported_net"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same_network(graph, path, batch=2):
    """The exported class takes the compiled model's state_dict and gives identical outputs."""
    module = import_file(path)
    torch.manual_seed(0)
    ref = compile_graph(graph).eval()
    exported = getattr(module, network_class_name(graph))().eval()
    assert list(exported.state_dict()) == list(ref.state_dict())
    exported.load_state_dict(ref.state_dict())  # strict: every name and shape fits
    x = torch.randn(batch, *graph.info[graph.input_nodes()[0]].output_shape)
    with torch.no_grad():
        diff = (ref(x) - exported(x)).abs().max().item()
    assert diff == 0.0
    return module


@pytest.mark.parametrize("name", sorted(templates()))
def test_every_template_round_trips_with_identical_outputs(name, tmp_path):
    g = template(name)
    path = export_python(g, tmp_path / f"{name}.py")
    big = g.info[g.input_nodes()[0]].output_shape[1] > 256
    assert_same_network(g, path, batch=1 if big else 2)
    source = path.read_text(encoding="utf-8")
    assert "import blocks" not in source and "from blocks" not in source and "app." not in source
    imports = {a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
               for a in node.names}
    assert imports <= {"sys", "torch"}


def test_file_runs_as_a_script_and_loads_weights(tmp_path):
    g = template("hybrid")
    path = export_python(g, tmp_path / "net.py")
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert "(1, 3, 32, 32) -> output (1, 10)" in run.stdout
    torch.save(compile_graph(g).state_dict(), tmp_path / "w.pt")
    run = subprocess.run([sys.executable, str(path), "w.pt"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr


def test_source_reads_like_hand_written_code():
    src = python_source(template("hybrid"))
    # SUPPORT helpers first, in dependency order, then the blocks, then the network
    order = [src.index(s) for s in ("def make_activation", "def conv_padding",
                                    "class ConvBNAct", "class VGGBlock", "class HybridCNNExample")]
    assert order == sorted(order)
    assert "        vgg1 = self.n2(n1)  # VGGBlock → 32×16×16" in src
    assert "        skip = self.n7(inception, res_conv2)  # Add → 128×8×8" in src
    assert "return classifier" in src
    # arguments equal to the class's defaults are left out, unless they are key parameters
    assert "self.n11 = DropoutLayer(rate=0.2)" in src
    assert ("self.n5 = ConvLayer(in_channels=128, filters=128, kernel_size=3, stride=1, "
            "batch_norm=True)" in src)
    assert "dilation=1" not in src.split("class HybridCNNExample")[1]


def hostile_graph():
    g = NetGraph(EVIL)
    prev = g.add_node("Input", {"shape": [3, 12, 12]}, label="input", node_id="x")
    nodes = [("class", "class"), ("__init__", "__init__"), ("1st", "x"), ('a"b\'c', "'''\\"),
             ("ид", "卷积 # noqa: F401\nnext line"), ("self", EVIL), ("n#1", "self"),
             ("n 2", "torch"), ("\u2028", "\x00\u202e"), ("sys", "sys"), ("q", "x")]
    for node_id, label in nodes:
        n = g.add_node("Conv2d", {"filters": 4}, label=label, node_id=node_id)
        g.connect(prev, n)
        prev = n
    n = g.add_node("GlobalAvgPool", node_id="None", label="None")
    g.connect(prev, n)
    assert not g.problems()
    return g


def test_hostile_names_change_nothing(tmp_path):
    g = hostile_graph()
    path = export_python(g, tmp_path / "evil.py")
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    # module level: docstring, imports, two constants, definitions, the __main__ block
    kinds = [type(s).__name__ for s in tree.body]
    assert set(kinds) <= {"Expr", "Import", "ImportFrom", "Assign", "FunctionDef", "ClassDef", "If"}
    assert kinds.count("Expr") == 1 and kinds.count("If") == 1
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system" for n in ast.walk(tree))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert imported <= {"sys", "torch", "nn", "load_file"}
    consts = {s.targets[0].id: ast.literal_eval(s.value) for s in tree.body
              if isinstance(s, ast.Assign)}
    assert consts["PROJECT_NAME"] == EVIL and consts["INPUT_SHAPE"] == (3, 12, 12)
    # a label's newline never ends a comment, and its '#' never starts a directive
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.COMMENT]
    assert any("\\x23 noqa: F401\\nnext line" in c for c in comments)
    for c in comments:
        assert c.count("#") == 1 and ("noqa" not in c or "\\x23 noqa" in c)
    # it runs (nothing echoed) and computes the same thing
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert "pwned" not in run.stdout.replace('os.system("echo pwned")', "")
    module = assert_same_network(g, path)
    assert module.PROJECT_NAME == EVIL


def test_forward_variables_are_unique_and_never_shadow_python():
    tree = ast.parse(python_source(hostile_graph()))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef)
               and n.name == network_class_name(hostile_graph()))
    forward = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "forward")
    names = [a.arg for a in forward.args.args[1:]]
    names += [t.id for s in forward.body if isinstance(s, ast.Assign) for t in s.targets]
    assert len(names) == len(set(names))
    for name in names:
        assert name.isidentifier() and not keyword.iskeyword(name)
        assert name not in dir(builtins) and name not in {"self", "x", "torch", "nn", "sys"}
    assert names[0] == "input_"


@pytest.mark.parametrize("name, expected", [
    ("ResNet-18", "ResNet18"), ("my net", "MyNet"), ("", "Network"), ("123", "Net123"),
    ("None", "NoneNet"), ("Inception", "InceptionNet"), ("Réseau à trous", "ReseauATrous"),
    ("网络", "Network"), (EVIL, "ImportOsOsSystemEchoPwned"), ("class", "Class"),
])
def test_network_class_name(name, expected):
    assert network_class_name(NetGraph(name)) == expected


def composite_graph():
    g, ids = chain(("Conv2d", {"filters": 8}), ("Conv2d", {"filters": 8}),
                   ("Residual", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 5}),
                   shape=(3, 16, 16), name="stages")
    first = group(g, ids[1:4], "Stage")
    expose(g, "Stage", ids[1], "filters")
    second = g.add_node("Stage", {"filters": 4}, label="repeated")
    g.disconnect(first, ids[4])
    g.connect(first, second)
    g.connect(second, ids[4])
    g.set_repeat(second, 3)
    assert not g.problems()
    return g


def test_composites_and_repeats_round_trip(tmp_path):
    g = composite_graph()
    path = export_python(g, tmp_path / "stages.py")
    source = path.read_text(encoding="utf-8")
    assert "class Stage(nn.Module)" in source and "class Stage2(nn.Module)" in source
    assert "nn.Sequential(*(Stage2() for _ in range(3)))" in source
    assert_same_network(g, path)


def ruff_command():
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    exe = shutil.which("ruff")
    return [exe] if exe else None


@pytest.mark.parametrize("make", [lambda: template("hybrid"), hostile_graph, composite_graph,
                                  lambda: template("inception_resnet_v2")],
                         ids=["hybrid", "hostile", "composite", "inception_resnet_v2"])
def test_generated_file_passes_ruff(make, tmp_path):
    cmd = ruff_command()
    if cmd is None:
        pytest.skip("ruff is not installed (pip install ruff) — cannot lint the generated file")
    path = export_python(make(), tmp_path / "net.py")
    # the installed ruff's default rules, then the classic default set (E4, E7, E9, F)
    for extra in ([], ["--select", "E4,E7,E9,F"]):
        run = subprocess.run([*cmd, "check", "--isolated", "--no-cache", *extra, str(path)],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_graph_with_problems_is_refused():
    g, _ids = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 3}))
    with pytest.raises(ExportError, match="problem"):
        python_source(g)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_python(template("hybrid"), tmp_path / "nope" / "net.py")
