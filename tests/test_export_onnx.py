"""ONNX export: one checked file per template, matching torch within 1e-4 in onnxruntime,
a dynamic batch axis, named inputs/outputs, the project name in the metadata, a chosen
opset, and failures that name the node and operator."""
import functools

import numpy as np
import pytest
import torch

from app.export import ExportError, export_onnx, load_weights, onnx_export, save_weights
from app.graph import NetGraph
from app.project import load_project
from blocks.layers import GlobalAvgPool
from helpers import chain
from resources import templates

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@torch.library.custom_op("netcanvas_test::unexportable", mutates_args=())
def unexportable(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3))


@unexportable.register_fake
def _(x):
    return x.new_empty(x.shape[:2])


@functools.cache
def template(name):
    return load_project(templates()[name])


def small_graph(name="small"):
    g, _ids = chain(("Conv2d", {"filters": 8, "batch_norm": True}), ("MaxPool2d", {}),
                   "GlobalAvgPool", ("Linear", {"units": 5}), shape=(3, 16, 16), name=name)
    return g


# All seven templates take ~45 s together on 2 idle cores (VGG-16, 553 MB, is the slowest).
@pytest.mark.parametrize("name", sorted(templates()))
def test_every_template_exports_and_matches_torch(name, tmp_path):
    g = template(name)
    report = export_onnx(g, tmp_path / f"{name}.onnx")
    assert report.path.exists() and report.max_abs_diff <= 1e-4
    assert not report.external_data and not list(tmp_path.glob("*.data"))
    assert report.exporter == "dynamo" and report.opset >= 18
    model = onnx.load(str(report.path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["project_name"] == g.name
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "input" and out.name == "logits"  # every template ends in a classifier
    batch = inp.type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.HasField("dim_value")  # a dynamic batch axis


def test_dynamic_batch_runs_any_batch_size(tmp_path):
    g = small_graph()
    torch.manual_seed(0)
    from app.compile import compile_graph
    model = compile_graph(g).eval()
    report = export_onnx(g, tmp_path / "s.onnx", model=model)
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    for batch in (1, 3, 7):
        x = torch.randn(batch, 3, 16, 16)
        (y,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            assert np.abs(y - model(x).numpy()).max() <= 1e-4


def test_output_name_is_output_for_a_feature_map(tmp_path):
    g, _ = chain(("Conv2d", {"filters": 4}), shape=(3, 8, 8))
    report = export_onnx(g, tmp_path / "fm.onnx")
    assert report.output_name == "output"
    assert onnx.load(str(report.path)).graph.output[0].name == "output"


@pytest.mark.parametrize("opset, exporter", [(18, "dynamo"), (13, "torchscript")])
def test_opset_can_be_chosen(opset, exporter, tmp_path):
    report = export_onnx(small_graph(), tmp_path / "o.onnx", opset=opset)
    assert report.opset == opset and report.exporter == exporter
    model = onnx.load(str(report.path))
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == opset
    assert {p.key: p.value for p in model.metadata_props}["project_name"] == "small"
    assert report.max_abs_diff <= 1e-4


def test_impossible_opset_is_refused(tmp_path):
    with pytest.raises(ExportError, match="opset must be"):
        export_onnx(small_graph(), tmp_path / "o.onnx", opset=3)
    assert not (tmp_path / "o.onnx").exists()


def test_failure_names_the_node_and_the_operator(tmp_path, monkeypatch):
    monkeypatch.setattr(GlobalAvgPool, "forward", lambda self, x: unexportable(x))
    g = small_graph()
    gap = next(n for n in g.nodes() if g.type_of(n) == "GlobalAvgPool")
    with pytest.raises(ExportError) as info:
        export_onnx(g, tmp_path / "f.onnx")
    message = str(info.value)
    assert f"node {gap} (GlobalAvgPool)" in message
    assert "netcanvas_test.unexportable" in message
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_untraceable_block_is_located_too(tmp_path, monkeypatch):
    def data_dependent(self, x):
        return x.mean(dim=(2, 3)) if x.sum() > 0 else x.amax(dim=(2, 3))
    monkeypatch.setattr(GlobalAvgPool, "forward", data_dependent)
    g = small_graph()
    gap = next(n for n in g.nodes() if g.type_of(n) == "GlobalAvgPool")
    with pytest.raises(ExportError, match=f"at node {gap} \\(GlobalAvgPool\\)"):
        export_onnx(g, tmp_path / "f.onnx")


def test_parity_failure_is_reported(tmp_path):
    with pytest.raises(ExportError, match="max abs diff"):
        export_onnx(small_graph(), tmp_path / "p.onnx", tolerance=-1.0)  # nothing can match
    assert not (tmp_path / "p.onnx").exists()


def test_external_data_beside_the_file_for_big_models(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)  # every model is "big"
    report = export_onnx(small_graph(), tmp_path / "big.onnx")
    assert report.external_data and (tmp_path / "big.onnx.data").exists()
    assert report.max_abs_diff <= 1e-4


def test_hostile_project_name_is_kept_as_data(tmp_path):
    name = '"; DROP TABLE x; --\n<script>\u202e'
    report = export_onnx(small_graph(name), tmp_path / "h.onnx")
    meta = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert meta["project_name"] == name


def test_trained_weights_are_what_gets_exported(tmp_path):
    g = small_graph()
    from app.compile import compile_graph
    trained = compile_graph(g)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.5)
    save_weights(trained, tmp_path / "w.safetensors")
    model = load_weights(g, tmp_path / "w.safetensors").eval()
    report = export_onnx(g, tmp_path / "t.onnx", model=model)
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 16, 16)
    (y,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        assert np.abs(y - trained.eval()(x).numpy()).max() <= 1e-4


def test_graph_with_problems_is_refused(tmp_path):
    g = NetGraph("broken")
    g.add_node("Linear")
    with pytest.raises(ExportError, match="problem"):
        export_onnx(g, tmp_path / "b.onnx")
