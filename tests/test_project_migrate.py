"""A project saved before the catalogue took one of its block names still opens: the user's
block is renamed ("Fire" → "Fire (mine)"), every use of it follows, the user is told once,
and what does not collide cleanly is refused as before."""
import json
import subprocess
import sys

import pytest
import torch

from app.cli import main
from app.compile import compile_graph
from app.library import list_blocks, read_block
from app.project import ProjectError, load_project, save_project


def old_project(fire="Fire", upsample="Upsample"):
    """A user's file from before Fire and Upsample were catalogue blocks: their own "Fire"
    holds their own "Upsample", and both are used at the top (Upsample repeated, with an
    exposed parameter set)."""
    return {
        "format": "netcanvas", "version": 2, "name": "mine",
        "definitions": [
            {"name": upsample, "color": "#3366cc", "doc": "my widening conv",
             "inputs": ["i"],
             "exposed": [{"name": "width", "node": "c", "param": "filters"}],
             "nodes": [{"id": "i", "type": "Input", "params": {"shape": [3, 8, 8]}},
                       {"id": "c", "type": "Conv2d", "params": {"filters": 6}}],
             "edges": [{"source": "i", "target": "c"}]},
            {"name": fire, "inputs": ["i"],
             "nodes": [{"id": "i", "type": "Input", "params": {"shape": [3, 8, 8]}},
                       {"id": "sq", "type": "Conv2d", "params": {"filters": 4, "kernel_size": 1}},
                       {"id": "up", "type": upsample, "params": {"width": 10}}],
             "edges": [{"source": "i", "target": "sq"}, {"source": "sq", "target": "up"}]},
        ],
        "nodes": [{"id": "in", "type": "Input", "params": {"shape": [3, 16, 16]}},
                  {"id": "f", "type": fire, "params": {}},
                  {"id": "u", "type": upsample, "params": {"width": 12}, "repeat": 2},
                  {"id": "gap", "type": "GlobalAvgPool", "params": {}},
                  {"id": "fc", "type": "Linear", "params": {"units": 5}}],
        "edges": [{"source": "in", "target": "f"}, {"source": "f", "target": "u"},
                  {"source": "u", "target": "gap"}, {"source": "gap", "target": "fc"}],
    }


def write(tmp_path, data, name="old.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


def numbers(g):
    return g.totals(), {n: (i.output_shape, i.params, i.macs) for n, i in g.info.items()}


def test_colliding_blocks_are_renamed_and_measure_the_same(tmp_path):
    g = load_project(write(tmp_path, old_project()))
    same = load_project(write(tmp_path, old_project("MyFire", "MyUpsample"), "same.json"))
    assert set(g.definitions) == {"Fire (mine)", "Upsample (mine)"}
    assert g.type_of("f") == "Fire (mine)" and g.type_of("u") == "Upsample (mine)"
    inner = g.definitions["Fire (mine)"].body
    assert inner.type_of("up") == "Upsample (mine)"  # a use inside another block follows
    assert g.node("u")["params"] == {"width": 12} and g.node("u")["repeat"] == 2
    assert g.definitions["Upsample (mine)"].doc == "my widening conv"
    assert not g.problems() and not same.problems()
    assert numbers(g) == numbers(same)
    assert g.totals()["output_shape"] == [5]
    # the numbers are the module's: the compiled network has exactly those parameters
    model = compile_graph(g)
    assert sum(p.numel() for p in model.parameters()) == g.totals()["total_params"]
    assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 5)
    [note] = g.load_notes
    assert "\n" not in note
    assert "Fire → “Fire (mine)”" in note and "Upsample → “Upsample (mine)”" in note
    assert not same.load_notes  # nothing renamed, nothing said


def test_save_writes_the_new_names_and_reopens_unchanged(tmp_path):
    g = load_project(write(tmp_path, old_project()))
    saved = tmp_path / "saved.json"
    save_project(g, saved)
    data = json.loads(saved.read_text())
    assert [d["name"] for d in data["definitions"]] == ["Upsample (mine)", "Fire (mine)"]
    assert "Fire" not in saved.read_text().replace("Fire (mine)", "")
    h = load_project(saved)
    assert not h.load_notes  # renamed once; the saved file is up to date
    assert h.to_dict() == g.to_dict() and numbers(h) == numbers(g)
    save_project(h, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == saved.read_text()


def test_a_taken_new_name_gets_a_number(tmp_path):
    data = old_project()
    data["definitions"].append(dict(data["definitions"][0], name="Upsample (mine)"))
    g = load_project(write(tmp_path, data))
    assert {"Upsample (mine)", "Upsample (mine 2)", "Fire (mine)"} == set(g.definitions)
    assert g.type_of("u") == "Upsample (mine 2)"  # "Upsample" meant the user's first one
    assert "Upsample → “Upsample (mine 2)”" in g.load_notes[0]


def test_the_callers_dict_is_left_alone():
    from app.project import project_from_dict
    data = old_project()
    before = json.dumps(data)
    project_from_dict(data)
    assert json.dumps(data) == before


@pytest.mark.parametrize("mutate, expected", [
    # two blocks of one catalogue name: which one a node meant is unknowable
    (lambda d: d["definitions"].append(dict(d["definitions"][1])),
     "the name 'Fire' is already taken"),
    # a broken definition of a colliding name is still broken, and says where
    (lambda d: d["definitions"][1].update(inputs="i"), "definitions[1] (Fire (mine)): \"inputs\""),
    (lambda d: d["definitions"][1].update(nodes={"i": 1}), "\"nodes\" must be a list"),
    (lambda d: d["nodes"].append({"id": "x", "type": ["Fire"]}), "\"type\" must be a block name"),
    (lambda d: d.update(version=1), '"definitions" need "version": 2'),
])
def test_what_does_not_collide_cleanly_is_refused_as_before(tmp_path, mutate, expected):
    data = old_project()
    mutate(data)
    with pytest.raises(ProjectError) as e:
        load_project(write(tmp_path, data))
    assert any(expected in p for p in e.value.problems), e.value.problems


@pytest.mark.parametrize("junk", [
    {"definitions": [{"name": "Fire", "nodes": "x"}, 3, None, {"name": ["Fire"]}]},
    {"definitions": [{"name": "Fire"}], "nodes": {"a": 1}},
    {"definitions": [{"name": "Fire", "nodes": [1, {"type": {}}, {"type": "Fire"}]}]},
    {"definitions": "Fire"},
])
def test_junk_around_a_colliding_name_gets_messages_not_tracebacks(tmp_path, junk):
    data = dict({"format": "netcanvas", "version": 2, "nodes": []}, **junk)
    with pytest.raises(ProjectError) as e:
        load_project(write(tmp_path, data))
    assert e.value.problems and all(isinstance(p, str) for p in e.value.problems)


def test_cli_validate_opens_it_and_says_what_was_renamed(tmp_path, capsys):
    p = write(tmp_path, old_project())
    assert main(["validate", str(p)]) == 0
    out, err = capsys.readouterr()
    assert "valid" in out and "[5]" in out
    assert err.count("\n") == 1 and "Fire → “Fire (mine)”" in err and str(p) in err
    r = subprocess.run([sys.executable, "-m", "app", "validate", str(p)], capture_output=True,
                       text=True, encoding="utf-8", timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "Upsample (mine)" in r.stderr and "valid" in r.stdout


def test_a_library_block_of_a_colliding_name_stays_in_the_library(tmp_path):
    defs = old_project()["definitions"]
    path = tmp_path / "Fire.json"
    path.write_text(json.dumps({"format": "netcanvas-block", "version": 2, "block": "Fire",
                                "definitions": defs}))
    assert list_blocks(tmp_path) == {"Fire (mine)": path}
    data = read_block(path)
    assert [d["name"] for d in data["definitions"]] == ["Upsample (mine)", "Fire (mine)"]
    assert data["definitions"][1]["nodes"][2]["type"] == "Upsample (mine)"
