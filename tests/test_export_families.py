"""One network holding every block type of blocks/catalogue_families.py exports to Python
(a file that runs, lints clean and computes the same function) and to ONNX (checked by
onnxruntime against torch, app/export/parity.py)."""
import subprocess
import sys

import pytest
from helpers import chain
from test_export_python import assert_same_network, ruff_command

from app.export import export_onnx, export_python, python_source
from blocks.catalogue_families import FAMILY_SPECS

LAYERS = [
    ("Conv2d", {"filters": 16, "batch_norm": True}),
    ("Fire", {"s1x1": 4, "e1x1": 8, "e3x3": 8}),
    ("DenseBlock", {"layers": 2, "growth_rate": 4, "bn_size": 2, "drop_rate": 0.1}),
    ("DenseTransition", {}),
    ("InvertedResidual", {"filters": 12, "stride": 2}),
    ("InvertedResidual", {"filters": 12, "kernel_size": 5, "se_ratio": 0.25,
                          "activation": "silu"}),
    "GlobalAvgPool",
    ("Linear", {"units": 5}),
]


def family_graph():
    g, _ids = chain(*LAYERS, shape=(3, 32, 32), name="families")
    assert not g.problems(), g.problems()
    return g


def test_the_network_holds_every_family_type():
    used = {layer[0] if isinstance(layer, tuple) else layer for layer in LAYERS}
    assert {s.type_id for s in FAMILY_SPECS} <= used


def test_python_export_runs_and_computes_the_same(tmp_path):
    g = family_graph()
    path = export_python(g, tmp_path / "families.py")
    assert_same_network(g, path)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert "-> output (1, 5)" in run.stdout
    source = path.read_text(encoding="utf-8")
    assert "class Fire(nn.Module):" in source
    assert "DenseTransition(in_channels=" in source
    cmd = ruff_command()
    if cmd is not None:
        lint = subprocess.run([*cmd, "check", "--isolated", "--no-cache", str(path)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_onnx_export_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    g = family_graph()
    report = export_onnx(g, tmp_path / "families.onnx")
    assert report.path.exists() and report.max_abs_diff <= 1e-4


def test_exported_source_names_the_paper_arguments():
    src = python_source(family_graph())
    assert "Fire(in_channels=16, s1x1=4, e1x1=8, e3x3=8)" in src
