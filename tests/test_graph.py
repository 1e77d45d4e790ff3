"""The graph model: edits, refusals, live validation and its messages."""
import pytest

from app.graph import GraphError, NetGraph
from helpers import chain


def test_shapes_follow_every_edit():
    g, (inp, a, b) = chain(("VGGBlock", {"filters": 64}), ("VGGBlock", {"filters": 128}),
                           shape=(3, 64, 64))
    assert g.info[b].output_shape == (128, 16, 16)
    g.set_param(a, "filters", 32)
    assert g.info[a].output_shape == (32, 32, 32)
    assert g.info[b].params == 32 * 9 * 128 + 128 + 128 * 9 * 128 + 128
    g.set_param(inp, "shape", [3, 128, 128])
    assert g.info[b].output_shape == (128, 32, 32)


def test_cycle_is_refused_and_graph_unchanged():
    g, (inp, a, b) = chain(("Conv2d", {"filters": 8}), ("Conv2d", {"filters": 8}))
    add = g.add_node("Add")
    g.connect(b, add)
    before = g.to_dict()
    with pytest.raises(GraphError, match="cycle"):
        g.connect(add, a)
    assert g.to_dict() == before


def test_taken_port_and_single_input_refused():
    g, (inp, a) = chain(("Conv2d", {"filters": 8}))
    other = g.add_node("Conv2d", {"filters": 8})
    g.connect(inp, other)
    with pytest.raises(GraphError, match="already connected"):
        g.connect(other, a)
    with pytest.raises(GraphError, match="takes no incoming"):
        g.connect(a, inp)
    cat = g.add_node("Concat")
    g.connect(a, cat, 3)
    with pytest.raises(GraphError, match="input 4 .* already connected"):
        g.connect(other, cat, 3)


def test_concat_joins_in_port_order():
    g, (inp,) = chain()
    a = g.add_node("Conv2d", {"filters": 8})
    b = g.add_node("Conv2d", {"filters": 16})
    cat = g.add_node("Concat")
    g.connect(inp, a)
    g.connect(inp, b)
    g.connect(b, cat, 1)
    g.connect(a, cat, 0)
    assert [s for s, _ in g.inputs_of(cat)] == [a, b]
    assert g.info[cat].output_shape == (24, 32, 32)
    assert g.problems() == []


def test_channel_mismatch_names_the_node_and_fixes_in_one_step():
    g, (inp, a) = chain(("Conv2d", {"filters": 64}))
    b = g.add_node("Conv2d", {"filters": 128})
    g.connect(inp, b)
    add = g.add_node("Add")
    g.connect(a, add, 0)
    g.connect(b, add, 1)
    [p] = g.problems()
    assert p.node == add
    assert "input 2 has 128 channels but input 1 has 64" in p.message
    assert p.fix is not None and p.fix.port == 1
    new = g.apply_fix(p)
    assert g.type_of(new) == "Conv2d" and g.node(new)["params"]["kernel_size"] == 1
    assert g.problems() == []
    assert g.info[add].output_shape == (64, 32, 32)


def test_linear_on_feature_map_says_what_to_insert():
    g, ids = chain(("Conv2d", {"filters": 256}), ("Linear", {"units": 10}), shape=(3, 7, 7))
    [p] = g.problems()
    assert p.node == ids[2]
    assert "Linear needs a flat input but gets [256, 7, 7]" in p.message
    assert "Flatten or GlobalAvgPool" in p.message
    g.apply_fix(p)
    assert g.problems() == [] and g.info[ids[2]].output_shape == (10,)


def test_too_small_input_is_reported_on_the_block():
    g, ids = chain("VGGBlock", "VGGBlock", shape=(3, 2, 2))
    [p] = g.problems()
    assert p.node == ids[2]
    assert "too small" in p.message


def test_one_bad_node_does_not_hide_independent_shapes():
    g, (inp, a, bad, after) = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 4}),
                                   ("Linear", {"units": 2}))
    side = g.add_node("Conv2d", {"filters": 4})
    g.connect(a, side)
    assert g.info[side].output_shape == (4, 32, 32)
    assert g.info[a].output_shape == (8, 32, 32)
    assert g.info[after].output_shape is None and g.info[after].blocked
    assert [p.node for p in g.problems() if p.node != side] == [bad]


def test_unconnected_and_dangling_nodes_are_problems():
    g, ids = chain(("Conv2d", {"filters": 8}))
    lone = g.add_node("Conv2d", {"filters": 8})
    assert any(p.node == lone and "nothing is connected" in p.message for p in g.problems())
    g.connect(ids[0], lone)
    assert any("one output" in p.message for p in g.problems())
    g.remove_node(lone)
    assert g.problems() == []


def test_bad_param_refused_with_reason_and_not_applied():
    g, (inp, a) = chain(("Conv2d", {"filters": 8}))
    for value, reason in ((0, "at least 1"), ("64", "number"), (2.5, "whole")):
        with pytest.raises(GraphError, match=reason):
            g.set_param(a, "filters", value)
    with pytest.raises(GraphError, match="no parameter"):
        g.set_param(a, "filterz", 3)
    assert g.node(a)["params"]["filters"] == 8


def test_edit_revalidates_only_what_it_can_change():
    g, ids = chain(*[("Conv2d", {"filters": 8})] * 20)
    seen = []
    g.subscribe(lambda kind, payload: seen.append((kind, payload)))
    g.set_param(ids[10], "activation", "gelu")  # same shape: nothing downstream moves
    changed = [p for k, p in seen if k == "info_changed"]
    assert changed == [] or changed == [{ids[10]}]
    seen.clear()
    g.set_param(ids[10], "filters", 16)  # new channel count: the next node's params change
    [changed] = [p for k, p in seen if k == "info_changed"]
    assert changed == {ids[10], ids[11]}


def test_listeners_hear_edits():
    g = NetGraph()
    seen = []
    g.subscribe(lambda kind, payload: seen.append(kind))
    a = g.add_node("Input", {"shape": [1, 8, 8]})
    b = g.add_node("Flatten")
    g.connect(a, b)
    g.rename(b, "flat")
    g.move(b, (10, 20))
    g.remove_node(b)
    assert seen[:2] == ["node_added", "info_changed"]
    assert "edge_added" in seen and "node_changed" in seen and "node_moved" in seen
    assert seen[-2:] == ["edge_removed", "node_removed"] or "node_removed" in seen


def test_round_trip_through_dict():
    g, ids = chain(("VGGBlock", {"filters": 16}), "GlobalAvgPool", ("Linear", {"units": 10}))
    g.rename(ids[1], "first")
    h = NetGraph()
    h.load_dict(g.to_dict())
    assert h.to_dict() == g.to_dict()
    assert h.totals() == g.totals()
