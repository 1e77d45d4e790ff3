"""netcanvas diff: what changed between two projects, matched by id, then by structure."""
import json

import pytest
from helpers import chain

from app.cli import main
from app.diff import diff_projects
from app.graph import NetGraph
from app.graph.grouping import expose, group
from app.project import load_project, project_from_dict, save_project
from app.summary import summary_dict
from resources import EXAMPLE, templates

INCEPTION3 = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / \
    "resnet18-inception3.json"


def run(*args, capsys):
    code = main(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_file_against_itself_is_the_same(capsys):
    code, out, _ = run(EXAMPLE, EXAMPLE, capsys=capsys)
    assert code == 0 and "the same network" in out


def test_resnet18_against_inception_stage_3(capsys):
    code, out, _ = run(templates()["resnet18"], INCEPTION3, "--json", capsys=capsys)
    d = json.loads(out)
    assert code == 1 and d["same"] is False
    assert [n["id"] for n in d["removed"]] == ["n7", "n8"]
    assert [(n["id"], n["type"]) for n in d["added"]] == [
        ("n13", "MaxPool2d"), ("n14", "Inception"), ("n15", "Inception")]
    assert ["n6", "n7", 0] in d["edges_removed"] and ["n15", "n9", 0] in d["edges_added"]
    # totals agree with each file's own summary
    a = summary_dict(load_project(templates()["resnet18"]))
    b = summary_dict(load_project(INCEPTION3))
    t = d["totals"]
    assert t["total_params"] == {"old": a["total_params"], "new": b["total_params"],
                                 "delta": b["total_params"] - a["total_params"]}
    assert t["total_macs"]["delta"] == b["total_macs"] - a["total_macs"] < 0
    # what the network sees downstream changes: the receptive field of the last stage
    numbers = {n["id"]: n for n in d["numbers"]}
    assert numbers["n10"]["receptive_field"] == [[435, 435], [467, 467]]
    code, out, _ = run(templates()["resnet18"], INCEPTION3, capsys=capsys)
    assert "- n7 Residual" in out and "+ n14 Inception" in out and "total params: 11,689,512 → " in out


def renumbered(g: NetGraph, prefix="x"):
    """The same project with every node id changed (and the order of nodes shuffled)."""
    d = g.to_dict()
    ids = {n["id"]: f"{prefix}{i}" for i, n in enumerate(reversed(d["nodes"]))}
    for n in d["nodes"]:
        n["id"] = ids[n["id"]]
    for e in d["edges"]:
        e["source"], e["target"] = ids[e["source"]], ids[e["target"]]
    d["nodes"].reverse()
    return project_from_dict(d), ids


def test_nodes_are_matched_by_structure_when_ids_differ():
    a = load_project(EXAMPLE)
    b, ids = renumbered(a)
    p = diff_projects(a, b)
    assert p.same and p.graph.renamed == ids
    conv = next(n for n in a.topological_order() if a.type_of(n) == "Conv2d")
    b.set_param(ids[conv], "filters", 96)
    p = diff_projects(a, b)
    assert not p.graph.added and not p.graph.removed
    assert p.graph.changed == {ids[conv]: {"params": {"filters": [128, 96]}}}
    assert p.graph.numbers[ids[conv]]["params"][1] < p.graph.numbers[ids[conv]]["params"][0]


def test_param_label_repeat_and_edge_changes(tmp_path, capsys):
    g, ids = chain(("Conv2d", {"filters": 8}), ("Conv2d", {"filters": 8}), "GlobalAvgPool")
    save_project(g, tmp_path / "a.json")
    g.set_param(ids[1], "kernel_size", 5)
    g.rename(ids[2], "second")
    g.set_repeat(ids[2], 3)
    g.disconnect(ids[2], ids[3])
    g.connect(ids[1], ids[3])  # the second conv is now a dead end
    save_project(g, tmp_path / "b.json")
    code, out, _ = run(tmp_path / "a.json", tmp_path / "b.json", "--json", capsys=capsys)
    d = json.loads(out)
    assert code == 1
    changed = {c["id"]: c for c in d["changed"]}
    assert changed[ids[1]]["params"] == {"kernel_size": [3, 5]}
    assert changed[ids[2]]["label"] == ["", "second"] and changed[ids[2]]["repeat"] == [1, 3]
    assert d["edges_removed"] == [[ids[2], ids[3], 0]]
    assert d["edges_added"] == [[ids[1], ids[3], 0]]


def composite_project():
    g, ids = chain(("Conv2d", {"filters": 8}), ("Residual", {"filters": 8}),
                   ("Conv2d", {"filters": 8}), ("Residual", {"filters": 8}),
                   "GlobalAvgPool", ("Linear", {"units": 10}))
    first = group(g, ids[1:3], "Stage")
    expose(g, "Stage", ids[1], "filters")
    second = group(g, ids[3:5], "Stage2")
    return g, first, second


def test_a_change_inside_a_block_is_reported_once_with_its_instances(tmp_path, capsys):
    g, first, _ = composite_project()
    save_project(g, tmp_path / "a.json")
    third = g.add_node("Stage", {"filters": 8})
    out_node = g.output_nodes()[0]
    src = g.inputs_of(out_node)[0][0]
    g.disconnect(src, out_node)
    g.connect(src, third)
    g.connect(third, out_node)
    body = g.definitions["Stage"].body
    res = next(n for n in body.nodes() if body.type_of(n) == "Residual")
    body.set_param(res, "batch_norm", False)
    save_project(g, tmp_path / "b.json")
    code, out, _ = run(tmp_path / "a.json", tmp_path / "b.json", "--json", capsys=capsys)
    d = json.loads(out)
    assert code == 1
    stage = d["definitions"]["Stage"]
    assert stage["status"] == "changed" and stage["used_by"] == [first, third]
    assert stage["changed"] == [{"id": res, "params": {"batch_norm": [True, False]}}]
    assert "Stage2" not in d["definitions"]  # untouched blocks are not listed
    assert [n["id"] for n in d["added"]] == [third]
    assert first in {n["id"] for n in d["numbers"]}  # its params changed with the body
    code, out, _ = run(tmp_path / "a.json", tmp_path / "b.json", capsys=capsys)
    assert out.count("block Stage changed") == 1 and "used by 2 node(s)" in out


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_unreadable_file_exits_2_with_a_message(tmp_path, json_flag, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    code, out, err = run(EXAMPLE, bad, *json_flag, capsys=capsys)
    assert code == 2 and "bad.json" in err and "Traceback" not in err
    if json_flag:
        assert "error" in json.loads(out)


def test_a_long_renumbered_chain_is_matched_quickly():
    import time
    g, _ = chain(*[("Conv2d", {"filters": 4})] * 200, shape=(3, 8, 8))
    b, ids = renumbered(g)
    t0 = time.perf_counter()
    p = diff_projects(g, b)
    assert p.same and p.graph.renamed == ids
    assert time.perf_counter() - t0 < 5  # rounds × edges, not rounds × nodes²


def test_an_id_on_a_block_of_another_type_is_removed_and_added():
    a, ids = chain(("Conv2d", {"filters": 4}), "GlobalAvgPool")
    b, _ = chain(("MaxPool2d", {"pool_size": 2}), "GlobalAvgPool")
    p = diff_projects(a, b).graph
    assert p.removed == [ids[1]] and p.added == [ids[1]] and not p.changed
    assert p.edges_added == [(ids[0], ids[1], 0), (ids[1], ids[2], 0)]


@pytest.mark.parametrize("name", sorted(templates()))
def test_every_template_matches_its_renumbered_copy_and_diffs_symmetrically(name):
    a = load_project(templates()[name])
    b, ids = renumbered(a)
    p = diff_projects(a, b)
    assert p.same and p.graph.renamed == ids
    smaller, _ = chain(("Conv2d", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 10}),
                       shape=a.info[a.input_nodes()[0]].output_shape)
    there, back = diff_projects(a, smaller).graph, diff_projects(smaller, a).graph
    assert sorted(there.removed) == sorted(back.added)
    assert sorted(there.added) == sorted(back.removed)
