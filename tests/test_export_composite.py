"""Exports understand composite blocks and repeats (issue 6)."""
import importlib.util

import onnx
import torch

from app.compile import compile_graph
from app.export import export_diagram, export_onnx, python_source
from test_composite import two_instances


def composite_project():
    g, ids, a, b = two_instances()
    g.set_repeat(b, 2)
    return g, a, b


def test_python_export_of_a_composite_project_matches_the_compiled_model(tmp_path):
    g, a, b = composite_project()
    src = python_source(g)
    assert "class Stage(nn.Module)" in src
    path = tmp_path / "net.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("net_mod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    compiled = compile_graph(g).eval()
    net = getattr(mod, "Test")().eval()
    net.load_state_dict(compiled.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(net(x), compiled(x))


def test_onnx_nodes_carry_the_composite_they_belong_to(tmp_path):
    g, a, b = composite_project()
    report = export_onnx(g, tmp_path / "net.onnx")
    assert report.max_abs_diff <= 1e-4
    tags = {p.value for n in onnx.load(str(report.path)).graph.node
            for p in n.metadata_props if p.key == "netcanvas.composite"}
    assert tags == {f"{a}:Stage", f"{b}[0]:Stage", f"{b}[1]:Stage"}


def test_diagram_draws_composites_collapsed_or_expanded(tmp_path):
    g, a, b = composite_project()
    small = export_diagram(g, tmp_path / "c.svg").read_text()
    big = export_diagram(g, tmp_path / "e.svg", expanded=True).read_text()
    assert "Stage" in small and "Stage ×2" in big
    assert len(big) > len(small)
