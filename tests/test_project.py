"""Project files: every loader problem is found and located; saving is atomic."""
import json
import os

import pytest

from app.project import ProjectError, load_project, save_project
from helpers import chain


def write(tmp_path, data, name="p.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def good():
    return {"format": "netcanvas", "version": 1, "name": "t",
            "nodes": [{"id": "in", "type": "Input", "params": {"shape": [3, 32, 32]}},
                      {"id": "c", "type": "Conv2d", "params": {"filters": 8}, "pos": [1, 2]}],
            "edges": [{"source": "in", "target": "c"}]}


def problems_of(tmp_path, data):
    with pytest.raises(ProjectError) as e:
        load_project(write(tmp_path, data))
    return e.value.problems


def test_good_file_loads_with_defaults(tmp_path):
    g = load_project(write(tmp_path, good()))
    assert g.node("c")["params"]["kernel_size"] == 3
    assert g.inputs_of("c") == [("in", 0)]
    assert g.info["c"].output_shape == (8, 32, 32)


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["nodes"].append({"id": "x", "type": "Conv3d"}), "nodes[2] (x): unknown block type 'Conv3d'"),
    (lambda d: d["nodes"][1]["params"].update(size=3), "nodes[1] (c): Conv2d has no parameter 'size'"),
    (lambda d: d["nodes"][1]["params"].update(filters="8"), "nodes[1] (c): filters must be a number"),
    (lambda d: d["nodes"][1]["params"].update(filters=-1), "nodes[1] (c): filters must be at least 1"),
    (lambda d: d["edges"].append({"source": "c", "target": "ghost"}), "edges[1]: target 'ghost' is not a node"),
    (lambda d: d["nodes"].append({"id": "c", "type": "Flatten"}), "nodes[2]: duplicate id 'c'"),
    (lambda d: d["edges"].append({"source": "in", "target": "c", "port": 0}), "connected to c twice"),
    (lambda d: d.update(version=7), "newer NetCanvas"),
    (lambda d: d.update(format="keras"), '"format" must be "netcanvas"'),
    (lambda d: d["nodes"][1].update(pos="here"), '"pos" must be [x, y]'),
])
def test_each_loader_problem_is_reported_with_where(tmp_path, mutate, expected):
    d = good()
    mutate(d)
    assert any(expected in p for p in problems_of(tmp_path, d)), problems_of(tmp_path, d)


def test_two_edges_into_one_port(tmp_path):
    d = good()
    d["nodes"] += [{"id": "c2", "type": "Conv2d"}, {"id": "cat", "type": "Concat"}]
    d["edges"] += [{"source": "c", "target": "cat", "port": 0},
                   {"source": "c2", "target": "cat", "port": 0}]
    assert any("port 0 of cat already has an edge" in p for p in problems_of(tmp_path, d))


def test_cycle_in_file(tmp_path):
    d = good()
    d["nodes"].append({"id": "d", "type": "Conv2d"})
    d["nodes"].append({"id": "add", "type": "Add"})
    d["edges"] += [{"source": "c", "target": "add", "port": 0},
                   {"source": "add", "target": "d"}, {"source": "d", "target": "add", "port": 1}]
    assert any("cycle" in p for p in problems_of(tmp_path, d))


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    d = good()
    d["nodes"][1]["params"] = {"filters": 0, "stride": "x", "bogus": 1}
    assert len(problems_of(tmp_path, d)) == 3


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", '{"format": "netcanvas", "version": 1, "nodes": 5}',
                                  '{"a": NaN}', "\x00\x01\x02", "[" * 100000])
def test_garbage_never_raises_anything_but_project_error(tmp_path, text):
    with pytest.raises(ProjectError):
        load_project(write(tmp_path, text))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "nope.json")
    with pytest.raises(ProjectError, match="folder"):
        load_project(tmp_path)


def test_save_round_trip_and_atomicity(tmp_path, monkeypatch):
    g, ids = chain(("Conv2d", {"filters": 8}), "Flatten", name="Ünïcode \"name\"")
    g.rename(ids[1], "line\nbreak")
    p = tmp_path / "net.json"
    save_project(g, p)
    h = load_project(p)
    assert h.to_dict() == g.to_dict()
    original = p.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    g.set_param(ids[1], "filters", 16)
    with pytest.raises(OSError):
        save_project(g, p)
    assert p.read_bytes() == original  # the old file is intact
    assert [f.name for f in tmp_path.iterdir()] == ["net.json"]  # no temp file left behind


def test_saved_file_gets_the_usual_permissions_not_a_temp_files(tmp_path):
    g, _ = chain(("Conv2d", {"filters": 8}))
    p = tmp_path / "net.json"
    save_project(g, p)
    mask = os.umask(0o022)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
