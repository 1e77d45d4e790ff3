"""Composite blocks and repeats in the core: group, ungroup, edit inside, expose, files."""
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from app.compile import compile_graph
from app.graph import GraphError, NetGraph
from app.graph.grouping import expose, group, ungroup
from app.library import import_block, list_blocks, save_block
from app.project import ProjectError, load_project, save_project
from helpers import chain


def canonical(d):
    """A project dict with nodes and edges in a fixed order (ids and data unchanged)."""
    d = json.loads(json.dumps(d))
    d["nodes"].sort(key=lambda n: n["id"])
    d["edges"].sort(key=lambda e: (e["target"], e["port"]))
    return d


def stage_graph():
    g, ids = chain(("Conv2d", {"filters": 16}), ("Conv2d", {"filters": 16}),
                   ("Residual", {"filters": 16}), "GlobalAvgPool", ("Linear", {"units": 10}))
    return g, ids


def two_instances():
    g, ids = stage_graph()
    inst = group(g, ids[1:4], "Stage")
    expose(g, "Stage", ids[1], "filters")
    second = g.add_node("Stage", {"filters": 8})
    g.disconnect(inst, ids[4])
    g.connect(inst, second)
    g.connect(second, ids[4])
    return g, ids, inst, second


def check_parity(g):
    model = compile_graph(g).eval()
    x = torch.randn(2, *g.info[g.input_nodes()[0]].output_shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = model(x)
    t = g.totals()
    assert list(y.shape[1:]) == t["output_shape"]
    assert sum(p.numel() for p in model.parameters()) == t["total_params"]
    assert counter.get_total_flops() // 2 == 2 * t["total_macs"]
    return model


def test_group_then_ungroup_gives_back_the_same_graph():
    g, ids = stage_graph()
    before, totals = canonical(g.to_dict()), g.totals()
    inst = group(g, ids[1:4], "Stage")
    assert g.nodes() == [ids[0], ids[4], ids[5], inst] or len(g.nodes()) == 4
    assert g.info[inst].output_shape == (16, 32, 32)
    assert g.totals() == totals  # same network, drawn as one block
    ungroup(g, inst)
    assert canonical(g.to_dict()) == before
    assert not g.definitions


def test_group_refuses_two_outputs_and_inputs():
    g, ids = stage_graph()
    with pytest.raises(GraphError, match="Input"):
        group(g, ids[0:2], "Bad")
    side = g.add_node("Conv2d", {"filters": 4})
    g.connect(ids[1], side)
    with pytest.raises(GraphError, match="one output"):
        group(g, ids[1:3], "Bad")
    with pytest.raises(GraphError, match="single word"):
        group(g, ids[2:3], "two words")


def test_edit_inside_reaches_every_instance_and_exposed_params_differ():
    g, ids, a, b = two_instances()
    assert g.info[a].output_shape == (16, 32, 32)
    assert g.node(b)["params"]["filters"] == 8
    body = g.definitions["Stage"].body
    pa, pb = g.info[a].params, g.info[b].params
    body.set_param(ids[2], "kernel_size", 5)  # inside: every instance changes
    assert g.info[a].params > pa and g.info[b].params > pb
    body.set_param(ids[2], "filters", 24)  # the Residual inside now sees 24 channels
    assert g.info[a].output_shape == (16, 32, 32)
    check_parity(g)


def test_an_error_inside_is_reported_where_the_instance_does_not_fit():
    g, ids, a, b = two_instances()
    body = g.definitions["Stage"].body
    body.set_param(ids[3], "stride", 16)
    body.set_param(ids[2], "kernel_size", 31)
    body.set_param(ids[2], "padding", "valid")
    # a sees 32×32: 31×31 valid → 2×2, stride 16 → 1×1; b then sees 1×1, too small
    assert g.info[a].output_shape == (16, 1, 1)
    [p] = g.problems()
    assert p.node == b and f"inside it, {ids[2]}" in p.message


def test_repeat_with_a_stride_2_block():
    g, ids = chain(("Residual", {"filters": 32, "stride": 2}), "GlobalAvgPool",
                   ("Linear", {"units": 4}), shape=(3, 32, 32))
    one = g.info[ids[1]].params
    g.set_repeat(ids[1], 3)
    # the first copy goes 3 → 32 channels at 16×16, the others see [32, 16, 16] → 8 → 4
    assert g.info[ids[1]].output_shape == (32, 4, 4)
    h, hids = chain(*[("Residual", {"filters": 32, "stride": 2})] * 3, shape=(3, 32, 32))
    assert g.info[ids[1]].params == sum(h.info[n].params for n in hids[1:]) > one
    model = check_parity(g)
    assert len(model.get_submodule(model.node_names[ids[1]])) == 3  # independent copies
    with pytest.raises(GraphError):
        g.set_repeat(ids[1], 0)
    v, vids = chain(("VGGBlock", {"filters": 8}), shape=(3, 32, 32))
    v.set_repeat(vids[1], 5)  # 32 → 16 → 8 → 4 → 2 → 1
    assert v.info[vids[1]].output_shape == (8, 1, 1)
    v.set_repeat(vids[1], 6)  # the sixth copy gets 1×1: too small to pool
    [p] = v.problems()
    assert "repetition 6 of 6" in p.message and "too small" in p.message


def test_joins_cannot_repeat():
    g, ids = chain()
    add = g.add_node("Add")
    with pytest.raises(GraphError, match="cannot repeat"):
        g.set_repeat(add, 2)


def test_a_block_cannot_contain_itself():
    g, ids, a, b = two_instances()
    body = g.definitions["Stage"].body
    with pytest.raises(GraphError, match="cannot contain itself"):
        body.add_node("Stage")
    # indirectly: Outer contains Stage; Stage may not contain Outer
    outer = group(g, [a], "Outer")
    assert outer
    with pytest.raises(GraphError, match="cannot contain itself"):
        body.add_node("Outer")


def test_recursive_definition_in_a_file_is_refused(tmp_path):
    g, ids, a, b = two_instances()
    data = g.to_dict()
    data["definitions"][0]["nodes"].append({"id": "loop", "type": "Stage"})
    p = tmp_path / "loop.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="contains itself"):
        load_project(p)


def test_save_and_open_with_composites_and_repeats(tmp_path):
    g, ids, a, b = two_instances()
    g.set_repeat(b, 2)
    p = tmp_path / "c.json"
    save_project(g, p)
    data = json.loads(p.read_text())
    assert data["version"] == 2 and data["definitions"][0]["name"] == "Stage"
    h = load_project(p)
    assert canonical(h.to_dict()) == canonical(g.to_dict())
    assert h.totals() == g.totals()
    check_parity(h)
    # an edit inside the reopened project still reaches its instances
    h.definitions["Stage"].body.set_param(ids[2], "filters", 4)
    assert h.info[a].params != g.info[a].params


def test_v1_files_still_open_and_newer_versions_are_refused(tmp_path):
    g, _ = stage_graph()
    assert g.to_dict()["version"] == 1  # nothing v2 in it: stays readable by v1 readers
    p = tmp_path / "v3.json"
    p.write_text(json.dumps(dict(g.to_dict(), version=3)))
    with pytest.raises(ProjectError, match="newer NetCanvas"):
        load_project(p)


def test_library_round_trip(tmp_path):
    g, ids, a, b = two_instances()
    group(g, [a], "Outer")  # Outer contains Stage: both go to the library file
    path = save_block(g, "Outer", tmp_path)
    assert list_blocks(tmp_path) == {"Outer": path}
    (tmp_path / "junk.json").write_text("{not json")
    assert list(list_blocks(tmp_path)) == ["Outer"]  # unreadable files are skipped
    other, oids = chain(("Conv2d", {"filters": 16}))
    name = import_block(other, path)
    n = other.add_node(name)
    other.connect(oids[1], n)
    assert other.info[n].output_shape == (16, 32, 32)
    saved = tmp_path / "project.json"
    save_project(other, saved)
    path.unlink()  # the library is gone: the project carries its own copy
    reopened = load_project(saved)
    assert reopened.totals() == other.totals()
