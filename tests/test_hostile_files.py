"""Hostile project files (issue 12): every value's type checked before use, special files,
text UTF-8 cannot encode, files that would freeze or explode. Each reproducer is small."""
import json
import os
import time

import pytest

from app.graph import GraphError
from app.graph.cost import MAX_MODULES, MAX_NESTING, block_count, nesting_depth
from app.project import ProjectError, load_project, project_from_dict
from app.summary import summary_dict, summary_text


def base(**extra):
    d = {"format": "netcanvas", "version": 2, "name": "t",
         "nodes": [{"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
                   {"id": "c", "type": "Conv2d", "params": {"filters": 4}}],
         "edges": [{"source": "in", "target": "c"}]}
    d.update(extra)
    return d


def stage(**changes):
    """A v2 project with one block definition; `changes` replace fields of the definition."""
    d = {"name": "Stage", "inputs": ["x"],
         "exposed": [{"name": "width", "node": "c", "param": "filters"}],
         "nodes": [{"id": "x", "type": "Input", "params": {"shape": [3, 8, 8]}},
                   {"id": "c", "type": "Conv2d", "params": {"filters": 4}}],
         "edges": [{"source": "x", "target": "c"}]}
    d.update(changes)
    return base(definitions=[d], nodes=[
        {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
        {"id": "s", "type": "Stage", "params": {"width": 8}}],
        edges=[{"source": "in", "target": "s"}])


def refusal(data) -> str:
    with pytest.raises(ProjectError) as e:
        project_from_dict(data)
    return "\n".join(e.value.problems)


@pytest.mark.parametrize("data, expected", [
    ({"format": "netcanvas", "version": 1, "nodes": [{"id": "i", "type": []}]},
     "nodes[0] (i): \"type\" must be a block name, not []"),
    (base(nodes=[{"id": ["x"], "type": "Input"}]), "nodes[0]: \"id\" must be a non-empty string"),
    (base(nodes=[{"id": "i", "type": "Input"}, {"id": "c", "type": "Conv2d",
                                                "params": {"filters": 10 ** 400}}]),
     "filters must be at most"),
    (stage(inputs=5), "definitions[0] (Stage): \"inputs\" must be a list of node ids, not 5"),
    (stage(nodes=5), "definitions[0] (Stage): \"nodes\" must be a list, not 5"),
    (stage(inputs=[["x"]]), "\"inputs\" must be a list of node ids"),
    (stage(exposed=[{"name": "w", "node": ["c"], "param": "filters"}]), "exposed[0] must be"),
    (stage(exposed=[{"name": "w", "node": "c", "param": "size"}]), "Conv2d has no parameter 'size'"),
    (stage(exposed=[{"name": "w", "node": "c", "param": "padding"},
                    {"name": "w", "node": "c", "param": "filters"}]),
     "one name can only set parameters of one kind"),
    (base(nodes=[{"id": "i", "type": "Input"}, {"id": "c", "type": "Conv2dd"}], edges=[]),
     "unknown block type 'Conv2dd' — did you mean Conv2d?"),
    (base(nodes=[{"id": "i", "type": "Input"}, {"id": "c", "type": "conv2d"}], edges=[]),
     "did you mean Conv2d?"),
    (base(definitions=5), "\"definitions\" must be a list, not 5"),
    (base(nodes=[{"id": "i", "type": "Input", "label": 7}]), "\"label\" must be a string, not 7"),
    (base(edges=[{"source": ["in"], "target": "c"}]), "edges[0]: source ['in'] is not a node"),
    (base(edges=[{"source": "in", "target": "c", "port": 10 ** 30}]), "31-digit number"),
])
def test_wrong_types_are_refused_with_where_they_are(data, expected):
    assert expected in refusal(data)


def test_exposed_parameter_of_an_inner_block_must_exist():
    data = stage()
    outer = {"name": "Outer", "inputs": ["x"],
             "exposed": [{"name": "w", "node": "s", "param": "nope"}],
             "nodes": [{"id": "x", "type": "Input", "params": {"shape": [3, 8, 8]}},
                       {"id": "s", "type": "Stage"}],
             "edges": [{"source": "x", "target": "s"}]}
    data["definitions"].append(outer)
    assert "block Stage has no parameter 'nope' (it has: width)" in refusal(data)


def test_one_name_bound_to_two_parameters_takes_the_tighter_range():
    """stride=8000 must not get through because the name was first bound to filters."""
    data = stage(exposed=[{"name": "k", "node": "c", "param": "filters"},
                          {"name": "k", "node": "c2", "param": "stride"}])
    body = data["definitions"][0]
    body["nodes"].append({"id": "c2", "type": "Conv2d", "params": {"filters": 4}})
    body["edges"].append({"source": "c", "target": "c2"})
    data["nodes"][1]["params"] = {"k": 8000}
    assert "k must be at most 16, not 8000" in refusal(data)
    data["nodes"][1]["params"] = {"k": 2}
    g = project_from_dict(data)
    assert g.info["s"].output_shape == (4, 4, 4)  # stride 2 on c2: 8×8 → 4×4


def test_missing_edges_is_an_empty_list_everywhere():
    data = {"format": "netcanvas", "version": 1, "nodes": [{"id": "i", "type": "Input"}]}
    g = project_from_dict(data)
    assert g.nodes() == ["i"] and g.edges() == []
    data = stage()
    del data["definitions"][0]["edges"], data["definitions"][0]["exposed"]
    data["nodes"][1]["params"] = {}
    assert "inside" in " ".join(p.message for p in project_from_dict(data).problems())


def test_lone_surrogates_are_refused_at_load_with_where(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(base()).replace('"c"}]', '"c", "label": "\\ud800"}]', 1)
                 .replace('"filters": 4}}', '"filters": 4}, "label": "\\ud800x"}'))
    with pytest.raises(ProjectError) as e:
        load_project(p)
    assert "nodes[1].label: text that is not valid Unicode" in str(e.value)
    str(e.value).encode("utf-8")  # the message itself can be printed


def test_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(base()).encode())
    assert load_project(p).info["c"].output_shape == (4, 8, 8)


def test_only_regular_files_are_read(tmp_path):
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    t = time.perf_counter()
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project(fifo)  # would block forever if it were opened
    assert time.perf_counter() - t < 5


def test_the_read_stops_at_the_limit_whatever_stat_says(tmp_path, monkeypatch):
    from app import project
    p = tmp_path / "big.json"
    p.write_text(json.dumps(base()) + " " * 5000)
    monkeypatch.setattr(project, "MAX_FILE_BYTES", 1000)
    real_stat = os.stat

    class Liar:  # a file system that reports 0 bytes, as /proc and some devices do
        def __init__(self, st):
            self.st_mode, self.st_size = st.st_mode, 0

    monkeypatch.setattr(project.os, "stat", lambda path: Liar(real_stat(path)))
    with pytest.raises(ProjectError, match="larger than"):
        load_project(p)


def test_chain_listed_target_first_loads_in_linear_time():
    n = 10_000
    nodes = [{"id": "n0", "type": "Input", "params": {"shape": [4]}}] + [
        {"id": f"n{i}", "type": "Dropout"} for i in range(1, n)]
    edges = [{"source": f"n{i - 1}", "target": f"n{i}"} for i in range(n - 1, 0, -1)]
    t = time.perf_counter()
    g = project_from_dict({"format": "netcanvas", "version": 1, "nodes": nodes, "edges": edges})
    assert time.perf_counter() - t < 30  # minutes before: a path search per edge
    assert not g.problems() and g.info[f"n{n - 1}"].output_shape == (4,)
    edges[-1] = {"source": f"n{n - 1}", "target": "n1"}  # closes a 9,999-node loop
    t = time.perf_counter()
    assert "(9,999 nodes)" in refusal(
        {"format": "netcanvas", "version": 1, "nodes": nodes, "edges": edges})
    assert time.perf_counter() - t < 10


def nested(depth: int) -> dict:
    defs = [{"name": "B0", "inputs": ["x"],
             "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                       {"id": "l", "type": "Dropout"}], "edges": [{"source": "x", "target": "l"}]}]
    for i in range(1, depth):
        defs.append({"name": f"B{i}", "inputs": ["x"],
                     "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                               {"id": "l", "type": f"B{i - 1}"}],
                     "edges": [{"source": "x", "target": "l"}]})
    return {"format": "netcanvas", "version": 2, "definitions": defs,
            "nodes": [{"id": "i", "type": "Input", "params": {"shape": [4]}},
                      {"id": "b", "type": f"B{depth - 1}"}],
            "edges": [{"source": "i", "target": "b"}]}


def test_nesting_has_a_documented_limit_with_a_message():
    g = project_from_dict(nested(MAX_NESTING))
    assert not g.problems() and g.info["b"].output_shape == (4,)
    summary_text(g)  # the nested summary walks every level
    # the limit is one a model can have: it compiles and runs (torch's forward recurses once
    # per level, so much deeper would exhaust Python's stack)
    import torch

    from app.compile import compile_graph
    assert tuple(compile_graph(g)(torch.zeros(2, 4)).shape) == (2, 4)
    t = time.perf_counter()
    msg = refusal(nested(300))  # was a RecursionError
    assert "nested 300 deep (B299 ▸ B298" in msg and f"at most {MAX_NESTING} levels" in msg
    assert time.perf_counter() - t < 10


def test_a_repeat_tower_is_refused_before_anything_is_built():
    """747 bytes asking for 64⁴ modules: refused at load, with the numbers."""
    defs = [{"name": "T0", "inputs": ["x"],
             "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                       {"id": "l", "type": "Dropout", "repeat": 64}],
             "edges": [{"source": "x", "target": "l"}]}]
    for i in range(1, 4):
        defs.append({"name": f"T{i}", "inputs": ["x"],
                     "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                               {"id": "l", "type": f"T{i - 1}", "repeat": 64}],
                     "edges": [{"source": "x", "target": "l"}]})
    data = {"format": "netcanvas", "version": 2, "definitions": defs,
            "nodes": [{"id": "i", "type": "Input", "params": {"shape": [4]}},
                      {"id": "b", "type": "T3"}], "edges": [{"source": "i", "target": "b"}]}
    assert len(json.dumps(data)) < 1500
    t = time.perf_counter()
    msg = refusal(data)
    assert "would build 16,777,216 modules" in msg and f"at most {MAX_MODULES:,}" in msg
    assert time.perf_counter() - t < 5


def test_block_count_and_depth_are_iterative_and_multiply_repeats():
    bodies = {f"B{i}": [(f"B{i - 1}", 2)] for i in range(1, 5000)}
    bodies["B0"] = [("Conv2d", 3), ("Input", 1)]
    assert block_count([("B2", 1)], bodies) == 2 * 2 * 3
    assert nesting_depth([("B4999", 1)], bodies)[0] == 5000  # no RecursionError


def test_editor_repeat_that_would_explode_is_refused():
    g = project_from_dict(stage())
    body = g.definitions["Stage"].body
    body.set_repeat("c", 64)
    for _ in range(30):
        body.add_node("Conv2d", {"filters": 4}, repeat=64)  # 31 × 64 = 1,984 per Stage
    with pytest.raises(GraphError, match=r"build 126,976 modules .* limit is 100,000"):
        g.set_repeat("s", 64)
    assert g.node("s")["repeat"] == 1
    g.set_repeat("s", 50)  # 99,200: within the limit
    with pytest.raises(GraphError, match="limit is 100,000"):
        body.add_node("Conv2d", {"filters": 4}, repeat=64)  # every use multiplies it


def test_editor_refuses_text_utf8_cannot_encode():
    g = project_from_dict(base())
    with pytest.raises(GraphError, match="not valid Unicode"):
        g.rename("c", "bad \ud800")
    with pytest.raises(GraphError, match="not valid Unicode"):
        g.add_node("Dropout", label="\udfff")
    assert g.node("c")["label"] == ""


def test_summary_of_a_nested_block_shows_this_instance():
    """Inner rows follow the instance's exposed values, not the block as drawn."""
    data = stage()
    outer = {"name": "Outer", "inputs": ["x"],
             "exposed": [{"name": "w", "node": "s", "param": "width"}],
             "nodes": [{"id": "x", "type": "Input", "params": {"shape": [3, 8, 8]}},
                       {"id": "s", "type": "Stage", "params": {"width": 4}}],
             "edges": [{"source": "x", "target": "s"}]}
    data["definitions"].append(outer)
    data["nodes"][1] = {"id": "o", "type": "Outer", "params": {"w": 32}}
    data["edges"] = [{"source": "in", "target": "o"}]
    rows = summary_dict(project_from_dict(data))["nodes"]
    inner_conv = rows[1]["children"][0]["children"][0]
    assert inner_conv["output_shape"] == [32, 8, 8]  # as drawn, Stage's conv has 4 filters


def test_a_block_name_cannot_write_outside_the_library(tmp_path):
    from app.library import read_block, save_block
    data = stage()
    data["definitions"][0]["name"] = "../../escape"
    data["nodes"][1]["type"] = "../../escape"
    g = project_from_dict(data)
    lib = tmp_path / "a" / "b" / "lib"
    path = save_block(g, "../../escape", folder=lib)
    assert path.parent == lib and read_block(path)["block"] == "../../escape"
    assert [p.name for p in tmp_path.rglob("*.json")] == [path.name]


def test_a_thousand_blocks_load_in_linear_time():
    """Each block added at load used to re-check every block (20 s for 1,000)."""
    defs = []
    for i in range(1000):
        inner = [{"id": "m", "type": f"B{i - 1}"}] if i % 10 else []
        defs.append({"name": f"B{i}", "inputs": ["x"],
                     "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                               {"id": "l", "type": "Dropout"}] + inner,
                     "edges": [{"source": "x", "target": "l"}]
                     + ([{"source": "l", "target": "m"}] if inner else [])})
    data = {"format": "netcanvas", "version": 2, "definitions": defs,
            "nodes": [{"id": "i", "type": "Input", "params": {"shape": [4]}},
                      {"id": "b", "type": "B999"}], "edges": [{"source": "i", "target": "b"}]}
    t = time.perf_counter()
    g = project_from_dict(data)
    assert time.perf_counter() - t < 8
    assert not g.problems() and g.info["b"].output_shape == (4,)
    data["definitions"].append(dict(defs[0], name="B1000"))
    assert "\"definitions\": 1001 blocks; at most 1000" in refusal(data)


def test_a_tiny_repeat_past_the_limits_stops_measuring_early():
    """223 bytes: 64 × a 64-layer DenseBlock took a minute to measure all copies."""
    data = {"format": "netcanvas", "version": 2,
            "nodes": [{"id": "i", "type": "Input", "params": {"shape": [3, 64, 64]}},
                      {"id": "d", "type": "DenseBlock", "repeat": 64,
                       "params": {"growth_rate": 1024, "layers": 64}}],
            "edges": [{"source": "i", "target": "d"}]}
    t = time.perf_counter()
    g = project_from_dict(data)
    assert time.perf_counter() - t < 30
    (problem,) = g.problems()
    assert problem.node == "d" and problem.message.startswith(
        "DenseBlock ×64: the first copy already has 10,877,075,840 parameters")
    assert "the limits are 2,147,483,648" in problem.message


def test_grouping_past_the_nesting_limit_is_refused():
    from app.graph import grouping
    g = project_from_dict(nested(MAX_NESTING))
    with pytest.raises(GraphError, match=f"nest blocks {MAX_NESTING + 1} deep; the limit is "
                                         f"{MAX_NESTING} levels"):
        grouping.group(g, ["b"], "Deeper", "#123456")
