"""Trained weights as safetensors: round trip, and every misfit named with its shapes."""
import pytest
import torch

from app.compile import compile_graph
from app.export import ExportError, WeightsError, load_weights, save_weights
from helpers import chain

pytest.importorskip("safetensors")


def graph(filters=8, units=5, extra=False):
    layers = [("Conv2d", {"filters": filters, "batch_norm": True})]
    if extra:
        layers.append(("Conv2d", {"filters": filters}))
    layers += ["GlobalAvgPool", ("Linear", {"units": units})]
    g, _ids = chain(*layers, shape=(3, 8, 8))
    return g


def test_round_trip_keeps_every_tensor(tmp_path):
    g = graph()
    model = compile_graph(g)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    path = save_weights(model, tmp_path / "w.safetensors")
    loaded = load_weights(g, path)
    want, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(want[k], got[k]) for k in want)
    # into an existing model as well
    other = compile_graph(g)
    assert load_weights(other, path) is other
    assert torch.equal(other.state_dict()[next(iter(want))], want[next(iter(want))])


def test_a_graph_saves_fresh_weights(tmp_path):
    g = graph()
    path = save_weights(g, tmp_path / "fresh.safetensors")
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(compile_graph(g).state_dict())
        assert f.metadata()["project"] == "test"


def test_misfits_are_all_named_with_both_shapes(tmp_path):
    path = save_weights(compile_graph(graph(filters=8, units=5)), tmp_path / "w.safetensors")
    target = graph(filters=16, units=5, extra=True)
    with pytest.raises(WeightsError) as info:
        load_weights(target, path)
    err = info.value
    conv = target.topological_order()[1]
    extra = target.topological_order()[2]
    assert (f"{conv}.conv.weight", (8, 3, 3, 3), (16, 3, 3, 3)) in err.mismatched
    assert f"{extra}.conv.weight" in err.missing and f"{extra}.conv.bias" in err.missing
    # the Linear sits one node later in the target, so its tensors are unexpected there
    assert any(k.endswith(".linear.weight") for k in err.unexpected)
    message = str(err)
    assert "wrong shape" in message and "file [8, 3, 3, 3], model [16, 3, 3, 3]" in message
    assert f"(node {conv}, Conv2d)" in message and "missing" in message
    assert "unexpected" in message
    assert isinstance(err, ExportError) and isinstance(err, ValueError)


def test_not_a_weights_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not safetensors")
    with pytest.raises(WeightsError, match="not a safetensors"):
        load_weights(graph(), bad)
    with pytest.raises(WeightsError, match="no such"):
        load_weights(graph(), tmp_path / "missing.safetensors")
